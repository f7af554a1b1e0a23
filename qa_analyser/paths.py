"""File names as the library shows and stores them, and symbolic links that leave a folder.

A POSIX file name is bytes; Python hands names that are not UTF-8 over as text with surrogate
escapes ("caf\\udce9.wav"), which SQLite, a terminal or a log file refuse to encode. `display_path`
turns such a name into printable text ("caf\\xe9.wav"), so a message or a stored failure can name
the file; the original name is kept wherever the file has to be opened. Control characters (a
newline in a file name) are shown as \\xNN too, so a name cannot break a line of output.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["display_path", "leaves_folder"]

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A path as text that can always be printed and stored: bytes that are not UTF-8 show as \\xNN."""
    text = os.fsencode(path).decode("utf-8", errors="backslashreplace")
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def leaves_folder(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether `path`, once its symbolic links are followed, lies outside `folder`.

    A dangling link counts as leaving: what it would point to is not known to be inside.
    """
    try:
        target = Path(path).resolve(strict=True)
        root = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop of links
        return True
    return target != root and root not in target.parents
