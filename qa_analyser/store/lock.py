"""The run lock: an OS file lock (flock) on "<db>.lock", so that two runs never write one database.

The kernel releases an flock when its holder dies, however it dies: a killed run never blocks the
next, and there is no stale lock to delete. The file stays (deleting it would race with a new
holder); it holds the holder's pid and start time, for the message, and is created 0600.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import LockedError, StoreError
from ._rows import now

__all__ = ["hold", "process_alive"]


@contextlib.contextmanager
def hold(db_path: Path, on_acquired: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold `<db_path>.lock` for as long as the block runs; `LockedError` if another process holds it.
    `on_acquired` runs once the lock is held (the ledger marks dead runs as interrupted there)."""
    lock_path = Path(f"{db_path}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StoreError(f"cannot create lock file {lock_path}: {e.strerror or e}") from e
    try:
        if not _try_lock(fd):
            holder = _read_holder(fd)
            raise LockedError(
                f"{db_path} is being used by another `qa run` ({holder}); wait for it to finish "
                f"and try again (the lock in {lock_path.name} is freed as soon as that process ends)"
            )
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {now()}\n".encode(), 0)
            on_acquired()
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or cannot tell: leave it alone
    return True


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except (OSError, AttributeError):
        text = []
    if len(text) >= 2:
        return f"pid {text[0]}, started at {text[1]}"
    return "pid unknown"
