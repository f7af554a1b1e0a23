#!/usr/bin/env python3
"""Hand-written helpers against the libraries that could replace them: same results? how fast?

Usage: python benchmarks/library_compare.py [--db FIXTURES.db] [--upto 20000]

Needs `num2words`, `snowballstemmer` and `filelock` importable (they are not dependencies of qa-analyser; for
example `pip install --target /tmp/libs num2words snowballstemmer` and `PYTHONPATH=/tmp/libs`).

- number words: `normalize.number_to_words` (British English), `number_to_words_es`,
  `number_to_words_fr` against `num2words(n, lang=...)` (en_GB, es, fr), compared as the matcher
  sees them (split on spaces, hyphens and commas, accents folded), for every n in 0..--upto, every
  997th up to 10 million, and a few up to 10^12;
- stemmer: `normalize.stem` against Snowball's English stemmer, over the words the matcher stems
  (every canonical token of the scripts in scripts_library and of the stored transcripts of --db,
  by default the seed database that benchmarks/make_big_db.py makes).
- run lock: `store.lock.hold` against `filelock.FileLock` (both an flock on the same kind of file):
  what a second process is told while the lock is held, the file's mode, time per acquire+release.

Prints the share of agreeing values, examples of disagreement, and microseconds per call.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_analyser.normalize import (fold_accents, normalize_words, number_to_words, number_to_words_es,  # noqa: E402
                                   number_to_words_fr, stem)


def per_call_us(fn, args: list) -> float:
    started = time.perf_counter()
    for a in args:
        fn(a)
    return (time.perf_counter() - started) / len(args) * 1e6


def compare_numbers(upto: int) -> None:
    from num2words import num2words

    values = list(range(upto + 1)) + list(range(upto + 1, 10**7, 997))
    values += [10**7 + 1, 123_456_789, 10**9, 2_000_000_005, 999_999_999_999]
    ours = {"en": number_to_words, "es": number_to_words_es, "fr": number_to_words_fr}
    for lang, fn in ours.items():
        lib_lang = "en_GB" if lang == "en" else lang
        theirs = lambda n, lib_lang=lib_lang: [w for w in re.split(r"[\s,-]+", fold_accents(num2words(n, lang=lib_lang))) if w]
        differ = [(n, fn(n), theirs(n)) for n in values if fn(n) != theirs(n)]
        share = 1 - len(differ) / len(values)
        sample = values[:: max(1, len(values) // 5000)]
        print(f"numbers {lang}: {share:7.2%} of {len(values)} values agree; "
              f"ours {per_call_us(fn, sample):6.1f} us, num2words {per_call_us(theirs, sample):6.1f} us per value")
        for n, a, b in differ[:4]:
            print(f"    {n}: ours {' '.join(a)!r}  num2words {' '.join(b)!r}")


def vocabulary(db: Path) -> list[str]:
    texts = [p.read_text() for p in (ROOT / "scripts_library").glob("*.y*ml")]
    if db.exists():
        with sqlite3.connect(db) as c:
            texts += [r[0] for r in c.execute("SELECT text FROM words")]
    words = {t.text for text in texts for t in normalize_words(text.split())}
    return sorted(w for w in words if w.isalpha())


def compare_stems(db: Path) -> None:
    import snowballstemmer

    snowball = snowballstemmer.stemmer("english")
    words = vocabulary(db)
    differ = [(w, stem(w), snowball.stemWord(w)) for w in words if stem(w) != snowball.stemWord(w)]
    print(f"stems en: {1 - len(differ) / len(words):7.2%} of {len(words)} distinct words agree; "
          f"ours {per_call_us(stem, words * 20):5.2f} us, snowball {per_call_us(snowball.stemWord, words * 20):5.2f} us per word")
    print("    " + ", ".join(f"{w}: {a}/{b}" for w, a, b in differ[:12]))
    # what matters to the matcher: which words share a key
    ours_groups = {frozenset(w for w in words if stem(w) == k) for k in {stem(w) for w in words}}
    theirs_groups = {frozenset(w for w in words if snowball.stemWord(w) == k) for k in {snowball.stemWord(w) for w in words}}
    print(f"    words grouped alike by both: {sum(len(g) for g in ours_groups & theirs_groups) / len(words):.2%}")


def compare_locks() -> None:
    import os
    import subprocess
    import tempfile

    import filelock

    from qa_analyser.errors import LockedError
    from qa_analyser.store.lock import hold

    tmp = Path(tempfile.mkdtemp(prefix="qa-lock-compare-"))
    db = tmp / "qa.db"
    holder_code = ("import sys, time; sys.path[:0] = {path!r}; {body}; print('held', flush=True); time.sleep(30)")
    for name, body, contend in [
        ("store.lock.hold", f"from qa_analyser.store.lock import hold; h = hold({str(db)!r}); h.__enter__()",
         lambda: hold(db).__enter__()),
        ("filelock.FileLock", f"import filelock; lock = filelock.FileLock({str(db) + '.flock'!r}); lock.acquire()",
         lambda: filelock.FileLock(f"{db}.flock").acquire(timeout=0)),
    ]:
        child = subprocess.Popen([sys.executable, "-c", holder_code.format(path=sys.path, body=body)],
                                 stdout=subprocess.PIPE, text=True)
        child.stdout.readline()
        try:
            contend()
            told = "acquired (!)"
        except (LockedError, filelock.Timeout) as e:
            told = str(e)
        finally:
            child.kill()
            child.wait()
        lock_file = Path(f"{db}.lock") if name.startswith("store") else Path(f"{db}.flock")
        mode = oct(os.stat(lock_file).st_mode & 0o777)
        print(f"lock {name}: file mode {mode}; a second process is told: {told}")
    started = time.perf_counter()
    for _ in range(2000):
        with hold(db):
            pass
    ours = (time.perf_counter() - started) / 2000 * 1e6
    lock = filelock.FileLock(f"{db}.flock")
    started = time.perf_counter()
    for _ in range(2000):
        with lock:
            pass
    theirs = (time.perf_counter() - started) / 2000 * 1e6
    print(f"lock: acquire+release ours {ours:.0f} us, filelock {theirs:.0f} us (filelock {filelock.__version__})")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path.home() / ".cache" / "qa-analyser" / "bench-fixtures.db")
    ap.add_argument("--upto", type=int, default=20_000)
    args = ap.parse_args()
    compare_numbers(args.upto)
    compare_stems(args.db)
    compare_locks()
    return 0


if __name__ == "__main__":
    sys.exit(main())
