"""Frozen pydantic models of what the TOML files hold.

They validate themselves and know nothing of the registry (pint's habit:
parse → definitions → registry). Unknown keys are refused, so a typo such as
`unti = "W"` is caught where it is written.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ID_PATTERN", "Origin", "Reference", "Variable", "Constant", "Equation",
    "Constraint", "ref_key",
]

ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")

Boundary = Literal["scenario", "primitive", "debt"]


def ref_key(ref: str) -> str:
    """The bibliography key of a citation: 'narayanan2021:§5.1' -> 'narayanan2021'."""
    return ref.split(":", 1)[0].strip()


class Origin(BaseModel):
    """Where an entry was written: file and 1-based line."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file + (f":{self.line}" if self.line else "")


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    origin: Origin | None = None


def _check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a dotted ID (letters, digits, '_', at least one '.')"
        )
    if any(part.startswith("__") for part in value.split(".")):
        raise ValueError(f"{value!r}: no ID segment may start with '__'")
    return value


class Reference(_Entry):
    """One bibliography entry of references.toml."""

    key: str
    title: str
    authors: str = ""
    year: int | None = None
    url: str = ""
    kind: Literal["paper", "datasheet", "textbook", "standard", "dataset", "measurement", "website", "report"]
    locations: dict[str, str] = Field(default_factory=dict)
    note: str = ""
    replace: bool = False


class Variable(_Entry):
    """A quantity of the model: an ID, a unit, a description, references."""

    id: str
    unit: str
    description: str
    refs: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    nominal: float | None = None
    boundary: Boundary | None = None
    integer: bool = False
    replace: bool = False

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))


class Constant(_Entry):
    """A universal physical constant (CODATA), ID prefix `const.`."""

    id: str
    value: str
    description: str = ""
    refs: list[str] = Field(default_factory=list)
    replace: bool = False

    @field_validator("id")
    @classmethod
    def _const_prefix(cls, value: str) -> str:
        _check_id(value)
        if not value.startswith("const."):
            raise ValueError(f"constant {value!r} must start with 'const.'")
        return value


class Equation(_Entry):
    """An acausal relation `lhs = rhs`; defines lhs when it is one variable."""

    id: str
    eq: str
    refs: list[str] = Field(default_factory=list)
    description: str = ""
    group: str | None = None
    default: bool = False
    valid: str | None = None
    replace: bool = False

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))


class Constraint(_Entry):
    """An inequality checked by the audit resolver and enforced by the optimizer."""

    id: str
    expr: str
    refs: list[str] = Field(default_factory=list)
    description: str = ""
    replace: bool = False

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))
