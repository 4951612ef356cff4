"""One errors module: every error the engine raises on purpose.

Each error carries structured fields (file, line, id) and builds its message
from them, so the CLI can print one readable line and pick the exit code.
`InputError` and its subclasses mean *bad input* (exit 2); anything else that
escapes the library is a bug (exit 3).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "GpuStackError",
    "InputError",
    "ParseError",
    "ExpressionError",
    "UnitError",
    "RegistryError",
    "ScenarioError",
    "ProblemError",
    "UnknownIdError",
]


class GpuStackError(Exception):
    """Base class of every error gpu_stack raises on purpose."""


class InputError(GpuStackError, ValueError):
    """Bad input: a file, an ID or an option the user can fix.

    Parameters
    ----------
    message : str
        What is wrong, in one sentence.
    file : path, optional
        The file that holds the problem.
    line : int, optional
        1-based line in `file`.
    item : str, optional
        The ID (variable, equation, scenario …) concerned.
    hint : str, optional
        What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        item: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.item = item
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        parts = []
        if where:
            parts.append(where + ":")
        if self.item and self.item not in self.message:
            parts.append(f"{self.item}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return text


class ParseError(InputError):
    """A file that is not valid TOML, or a malformed entry."""


class ExpressionError(InputError):
    """An expression that does not parse or uses forbidden syntax."""


class UnitError(InputError):
    """An unknown unit, or a dimension that does not match."""


class RegistryError(InputError):
    """A registry that loaded but breaks a rule (duplicate ID, bad reference …)."""


class ScenarioError(InputError):
    """A scenario that cannot be found or applied."""


class ProblemError(InputError):
    """A problem file or inline question that cannot be posed."""


class UnknownIdError(InputError):
    """An ID that names nothing in the registry."""
