"""Frozen pydantic models of what the TOML files hold.

They validate themselves and know nothing of the registry (pint's habit:
parse → definitions → registry). Unknown keys are refused, so a typo such as
`unti = "W"` is caught where it is written.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = [
    "ID_PATTERN", "Origin", "Reference", "Variable", "Constant", "Equation",
    "Constraint", "ref_key", "ScenarioFile", "ProblemFile", "ObservationEntry", "ObservationsFile", "FreeTable", "ObjectiveTable", "ConstraintTable",
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
    # strict: TOML already gives every value its type, so nothing is coerced — `integer = "no"`
    # is an error, not True; allow_inf_nan=False: TOML's nan and inf are no values of a model
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, strict=True, allow_inf_nan=False)
    origin: Origin | None = None


def _check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
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


# ---------------------------------------------------------------- scenario and problem files
# Their values ([assign], [target]) are read by `scenarios.parse_value`, which knows each
# variable's unit and domain; these models check the shape of everything else, so a file
# with `extends = 5` or `free = 5` is refused with the key and the expected type.

NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, strict=True, allow_inf_nan=False)


def _listed(value: object) -> object:
    """`extends = "base"` is short for `extends = ["base"]`."""
    return [value] if isinstance(value, str) else value


class ScenarioFile(_File):
    """A scenario file (docs/file-formats.md): kind, description, extends, outputs, [assign], [select],
    [uncertain] (read by `gpu_stack.model.uncertain`)."""

    kind: str
    name: str | None = None
    description: str = ""
    extends: Annotated[list[NonEmptyText], BeforeValidator(_listed)] = Field(default_factory=list)
    outputs: list[NonEmptyText] | None = None
    assign: dict[str, Any] = Field(default_factory=dict)
    select: dict[str, NonEmptyText] = Field(default_factory=dict)
    calibration: dict[str, Any] | None = None   # kind = "calibrated" only: the data and fit `calibrate` wrote
    uncertain: dict[str, Any] = Field(default_factory=dict)


class ObservationEntry(_File):
    """One [[observation]] of an observations file: a quantity the model predicts and its observed value."""

    name: NonEmptyText
    quantity: NonEmptyText
    observed: Any          # a quantity string ("705.5 TFLOP/s") or a number in the quantity's declared unit
    source: NonEmptyText
    presets: list[NonEmptyText] = Field(default_factory=list)
    assign: dict[str, Any] = Field(default_factory=dict)


class ObservationsFile(_File):
    """An observations file for `gpu-stack calibrate` (docs/file-formats.md)."""

    description: str = ""
    presets: list[NonEmptyText] = Field(default_factory=list)
    assign: dict[str, Any] = Field(default_factory=dict)
    observation: list[ObservationEntry] = Field(min_length=1)


class FreeTable(_File):
    """One entry of a problem's [free]: bounds and start (numbers or quantities, read by
    `problems._free_spec` in the variable's unit), integer."""

    min: Any = None
    max: Any = None
    start: Any = None
    integer: bool = False


def _free_entry(value: object) -> object:
    """`ID = true` frees a variable with no bounds (false is refused: leave it out instead)."""
    return {} if value is True else value


class ObjectiveTable(_File):
    """A problem's [objective]: exactly one of minimize or maximize."""

    minimize: NonEmptyText | None = None
    maximize: NonEmptyText | None = None

    @model_validator(mode="after")
    def _one_sense(self) -> "ObjectiveTable":
        if (self.minimize is None) == (self.maximize is None):
            raise ValueError('takes exactly one of minimize = "…" or maximize = "…"')
        return self


class ConstraintTable(_File):
    """One [[constraint]] of a problem file."""

    id: NonEmptyText | None = None
    expr: NonEmptyText
    description: str = ""


class ProblemFile(_File):
    """A problem file (docs/file-formats.md)."""

    description: str = ""
    scenarios: list[NonEmptyText] = Field(default_factory=list)
    assign: dict[str, Any] = Field(default_factory=dict)
    select: dict[str, NonEmptyText] = Field(default_factory=dict)
    target: dict[str, Any] = Field(default_factory=dict)
    free: dict[str, Annotated[FreeTable, BeforeValidator(_free_entry)]] = Field(default_factory=dict)
    objective: ObjectiveTable | None = None
    constraint: list[ConstraintTable] = Field(default_factory=list)
    outputs: list[NonEmptyText] = Field(default_factory=list)
