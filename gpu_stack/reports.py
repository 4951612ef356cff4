"""Reports: the answers of each command as pydantic models.

`model_dump()` of each is the documented `--json` shape (DESIGN §7); the
CLI renders the same objects as tables. Values are plain numbers in each
variable's declared unit.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "TraceItem", "ConstraintItem", "ResolveReport", "TargetItem", "ScenarioReport", "StatsReport",
    "DebtRoot", "DebtFamily", "RootDebtReport", "VerifyProblem", "VerifyReport",
]


class TraceItem(BaseModel):
    id: str
    value: float
    unit: str
    source: Literal["assign", "equation", "constant", "override"]
    equation: str | None = None
    origin: str | None = None


class ConstraintItem(BaseModel):
    id: str
    expr: str
    kind: Literal["constraint", "validity"]
    status: Literal["ok", "violated", "unresolved"]
    lhs: float | None = None
    rhs: float | None = None


class ResolveReport(BaseModel):
    target: str
    status: Literal["ok", "missing", "error"]
    value: float | None
    unit: str
    trace: list[TraceItem] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    loops: list[list[str]] = Field(default_factory=list)
    constraints: list[ConstraintItem] = Field(default_factory=list)
    presets: list[str] = Field(default_factory=list)
    selection: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)   # about the question: a changed input an override cuts off


class TargetItem(BaseModel):
    id: str
    status: Literal["ok", "missing", "error"]
    value: float | None
    unit: str
    missing: list[str] = Field(default_factory=list)
    error: str | None = None


class ScenarioReport(BaseModel):
    scenario: str
    kind: str
    description: str
    status: Literal["ok", "missing", "error"]
    assignment_count: int
    target_count: int
    ok_count: int
    error_count: int
    missing_count: int
    targets: list[TargetItem]
    warnings: list[str] = Field(default_factory=list)   # about the question: a changed input an override cuts off


class StatsReport(BaseModel):
    variables: int
    constants: int
    equations: int
    constraints: int
    roots: int
    leaves: int
    families: int
    equations_unit_checked: int
    equations_with_refs: int
    variables_with_refs: int
    equations_reaching_headline: int
    groups: int
    loops: int
    references: int
    roots_by_boundary: dict[str, int]


class DebtRoot(BaseModel):
    id: str
    weight: int
    boundary: str
    unit: str
    description: str
    assigned: bool | None = None


class DebtFamily(BaseModel):
    family: str
    total_weight: int
    root_count: int
    top_roots: list[DebtRoot]


class RootDebtReport(BaseModel):
    total_roots: int
    families: list[DebtFamily]
    roots: list[DebtRoot]
    boundaries: list[str]
    presets: list[str] = Field(default_factory=list)


class VerifyProblem(BaseModel):
    severity: Literal["error", "warning"]
    check: str
    message: str


class VerifyReport(BaseModel):
    profile: Literal["fast", "full"]
    status: Literal["ok", "problems"]
    error_count: int
    warning_count: int
    problems: list[VerifyProblem]
    checked: dict[str, Any]


class ValueItem(BaseModel):
    value: float
    unit: str


class StructureItem(BaseModel):
    equations: int
    unknowns: int
    blocks: int
    loops: list[list[str]] = Field(default_factory=list)       # unknowns of blocks solved by Newton (size > 1)
    under_variables: list[str] = Field(default_factory=list)
    over_equations: list[str] = Field(default_factory=list)
    missing_roots: list[str] = Field(default_factory=list)
    unpinned_free: list[str] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)         # targets / assignments involved in an over-determination


class SolveResult(BaseModel):
    status: Literal["ok", "infeasible", "underdetermined", "overdetermined", "failed"]
    values: dict[str, ValueItem] = Field(default_factory=dict)
    free: dict[str, ValueItem] = Field(default_factory=dict)
    objective: float | None = None
    objective_unit: str | None = None
    active_constraints: list[str] = Field(default_factory=list)
    multipliers: dict[str, float] = Field(default_factory=dict)
    multiplier_units: dict[str, str] = Field(default_factory=dict)
    message: str = ""
    problem: str = ""
    solver: str = ""
    iterations: int | None = None
    residual_max: float | None = None
    conflicting_constraints: list[str] = Field(default_factory=list)
    structure: StructureItem | None = None
    outputs: dict[str, ValueItem] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)      # where flags replaced a problem file's entries
    warnings: list[str] = Field(default_factory=list)   # about the question: a changed input an override cuts off


class SensitivityRoot(BaseModel):
    id: str
    value: float
    unit: str
    derivative: float
    elasticity: float
    source: Literal["assign", "override"]


class SensitivityReport(BaseModel):
    target: str
    value: float
    unit: str
    roots: list[SensitivityRoot]
    presets: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)   # about the question: a changed input an override cuts off
