"""A folder of work already done: results pickled under the hash of everything they were built from.

Starting a command used to spend most of its time redoing the same work:
importing pint and parsing its definition files, reading and validating
every registry file, parsing and unit-checking every equation. Each of those
results is a pure function of some input files (and of the code that read
them), so it is kept here under a fingerprint of those inputs and read back
when they have not changed. A changed input gives a new fingerprint: nothing
is ever invalidated by hand, and a stale entry is never read.

The folder is `$GPU_STACK_CACHE_DIR` if set (`off` or empty: no cache at
all), else `$XDG_CACHE_HOME/gpu_stack`, else `~/.cache/gpu_stack` — the
folder the solver keeps its compiled functions in too. Caching is best
effort: a folder that cannot be created or written, or an entry that cannot
be read back, only means the work is done again — never an error. A few
recent entries of each kind are kept; older ones are deleted.

Entries are pickles. Like Python's own `__pycache__` and pint's cache, they
trust whoever can write to the folder (by default, only you).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Iterator

__all__ = ["cache_folder", "fingerprint", "read", "write"]

ENVIRONMENT_VARIABLE = "GPU_STACK_CACHE_DIR"
KEEP_PER_KIND = 4


def cache_folder() -> Path | None:
    """Where cached work lives: `$GPU_STACK_CACHE_DIR`, else `$XDG_CACHE_HOME/gpu_stack`, else
    `~/.cache/gpu_stack`; None when caching is off (`GPU_STACK_CACHE_DIR=off`, or empty)."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gpu_stack"


def fingerprint(*parts: str | bytes) -> str:
    """A hex digest of the parts, each length-prefixed so that no two different lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _path(kind: str, key: str) -> Path | None:
    folder = cache_folder()
    return folder / f"{kind}-{key}.pickle" if folder is not None else None


def read(kind: str, key: str) -> Any | None:
    """The entry stored under (kind, key), or None when there is none or it cannot be read back."""
    path = _path(kind, key)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        with _collector_paused():
            return pickle.loads(data)
    except Exception:  # truncated, from another version of a class, unreadable: do the work again
        return None


def write(kind: str, key: str, value: Any) -> None:
    """Store `value` under (kind, key), atomically; on any failure, store nothing."""
    path = _path(kind, key)
    if path is None:
        return
    try:
        with _collector_paused():
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # something in it cannot be pickled: not worth keeping
        return
    try:
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)   # readers see the old entry or the new one, never half of one
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(path.parent, kind)
    except OSError:  # read-only, full, not a folder …: run without the cache
        return


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection meanwhile.

    (Un)pickling a registry allocates tens of thousands of objects that all
    live on; the collector would rescan them again and again and find nothing
    (two thirds of the time of a load, 60 % of a dump).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _prune(folder: Path, kind: str) -> None:
    """Keep the most recently written entries of a kind."""
    entries = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP_PER_KIND:]:
        old.unlink(missing_ok=True)
