"""What any input may cost: the size, depth and number limits of docs/file-formats.md.

Every value, unit string, expression and file that enters the engine passes
one of these checks before any real work is done on it, so a hostile or
broken input is refused at once with a message (an `InputError`, exit 2)
instead of hanging, exhausting memory, or reaching Python's recursion limit.
The numbers are generous: the shipped registry's deepest expression nests 10
levels and its largest file is under 100 kB.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from gpu_stack.errors import InputError

__all__ = [
    "MAX_FILE_BYTES", "MAX_EXPRESSION_CHARS", "MAX_NESTING", "MAX_UNIT_CHARS", "MAX_UNIT_EXPONENT",
    "MAX_NAME_CHARS", "MAX_PATH_CHARS", "NUMBER", "read_number", "require_finite", "check_file_size", "check_name_length",
    "file_exists",
]

MAX_FILE_BYTES = 5_000_000        # one TOML file or units.txt
MAX_EXPRESSION_CHARS = 10_000     # one equation, constraint, validity or objective
MAX_NESTING = 64                  # levels of an expression tree (parentheses, calls, powers, signs, chains)
MAX_UNIT_CHARS = 200              # one unit string
MAX_UNIT_EXPONENT = 12            # |exponent| in a unit string: m**3, 1/cm^2
MAX_NAME_CHARS = 255              # one file or folder name in a path given on the command line
MAX_PATH_CHARS = 4096             # a whole path given on the command line

# A plain decimal or scientific literal, ASCII digits only: Python's float() also reads
# Unicode digits ('١٢٣') and words ('nan', 'inf', 'infinity'), which no input may use.
NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_SIGNED_NUMBER = re.compile(r"[-+]?" + NUMBER)


def require_finite(value: float, what: str, **where: object) -> float:
    """`value` as a float, or an `InputError` naming `what` when it is NaN or infinite.

    `where` takes the `InputError` location fields (file, line, item).
    """
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{what} is not a finite number ({value!r})", **where,  # type: ignore[arg-type]
                         hint="write a finite number; 1e308 is the largest a value may be")
    return value


def read_number(text: str, what: str) -> float | None:
    """The number a command-line value spells (ASCII digits, optional sign and exponent), else None.

    NaN, infinity and Unicode digits are not numbers here; a literal too large
    for a float ('1e999') is refused with an `InputError` naming `what` (the flag).
    """
    stripped = text.strip()
    if not _SIGNED_NUMBER.fullmatch(stripped):
        return None
    return require_finite(float(stripped), f"{what}: {stripped}")


def check_file_size(path: Path) -> None:
    """Refuse a file larger than `MAX_FILE_BYTES` before reading it."""
    try:
        size = path.stat().st_size
    except OSError:
        return   # the read that follows reports a missing or unreadable file
    if size > MAX_FILE_BYTES:
        raise InputError(f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", file=path,
                         hint="split it into several files")


def check_name_length(text: str, what: str) -> None:
    """Refuse a name or path the file system would refuse less clearly ('File name too long'):
    a part between slashes longer than `MAX_NAME_CHARS`, or more than `MAX_PATH_CHARS` in all."""
    longest = max((len(part) for part in re.split(r"[/\\]", text)), default=0)
    if longest > MAX_NAME_CHARS or len(text) > MAX_PATH_CHARS:
        limit = f"{MAX_NAME_CHARS} per name between slashes, {MAX_PATH_CHARS} in all"
        raise InputError(f"{what} '{text[:40]}…' is too long ({len(text)} characters; the limit is {limit})",
                         hint="give a shorter name or path")


def file_exists(path: Path) -> bool:
    """Whether `path` is a file; a path the system cannot even look up (too long, bad bytes) is not."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
