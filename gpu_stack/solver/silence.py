"""Keep C-level solver output (IPOPT's banner, bonmin's log, CasADi warnings) off the terminal.

IPOPT and bonmin write to the C stdout even at print level 0; `--json`
output must stay clean, and failures are reported by the residual check.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
from typing import Iterator

__all__ = ["quiet_stdout"]


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout and stderr (IPOPT's banner, bonmin's log, CasADi's
    per-iteration warnings) for the duration; failures are reported by the
    residual check instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real file descriptors (embedded use)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    sink = io.StringIO()  # CasADi routes IPOPT's printing through Python's sys.stdout
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        _flush_c_streams()  # C stdio buffers hold IPOPT's banner until flushed
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
