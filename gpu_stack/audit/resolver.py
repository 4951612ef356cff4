"""The audit resolver: a topological walk along defining equations.

Kept simple on purpose: it is the audit. Every value it returns has a trace
of where it came from (an assignment, an override of an equation, a
constant, or an equation), and every root it could not find is named.
Algebraic loops are reported, not solved (that is `solve`'s job).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from gpu_stack.errors import UnitError
from gpu_stack.model.expressions import FLOAT_OPS, dimension, evaluate, variables
from gpu_stack.audit.graph import ordered_components, upstream, variable_graph
from gpu_stack.model.registry import Registry
from gpu_stack.core import Assignment

__all__ = ["TraceStep", "Resolution", "resolve", "check_constraints", "ConstraintCheck"]


@dataclass(frozen=True)
class TraceStep:
    """One hop of a trace: a variable's value and where it came from."""

    id: str
    value: float
    unit: str
    source: str                  # assign | override | constant | equation
    equation: str | None = None  # the equation used (or cut, for an override)
    origin: str | None = None    # the scenario or 'command line' behind an assignment


@dataclass(frozen=True)
class ConstraintCheck:
    id: str
    expr: str
    status: str                  # ok | violated | unresolved
    lhs: float | None = None
    rhs: float | None = None
    kind: str = "constraint"     # constraint | validity
    unit: str = ""               # a declared unit to show lhs and rhs in ("" = SI base units)


@dataclass
class Resolution:
    """Everything one audit walk found."""

    values: dict[str, float] = field(default_factory=dict)          # declared units
    steps: dict[str, TraceStep] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)                  # topological
    missing: set[str] = field(default_factory=set)                  # unassigned roots reached
    errors: dict[str, str] = field(default_factory=dict)            # variable -> message
    blocked: dict[str, set[str]] = field(default_factory=dict)       # variable -> missing roots behind it
    loops: list[list[str]] = field(default_factory=list)
    checks: list[ConstraintCheck] = field(default_factory=list)
    registry: Registry | None = None

    def status(self, ident: str) -> str:
        if ident in self.values:
            return "ok"
        if ident in self.errors:
            return "error"
        return "missing"

    def trace(self, ident: str) -> list[TraceStep]:
        """The steps behind one variable, dependencies first."""
        assert self.registry is not None
        needed = upstream(self.registry, [ident], self._selection, cut=self._cut)
        return [self.steps[v] for v in self.order if v in needed and v in self.steps]

    def missing_for(self, ident: str) -> list[str]:
        return sorted(self.blocked.get(ident, set()))

    _selection: Mapping[str, str] | None = None
    _cut: frozenset[str] = frozenset()


def resolve(registry: Registry, targets: Iterable[str], assignments: Mapping[str, Assignment] | None = None,
            selection: Mapping[str, str] | None = None) -> Resolution:
    """Resolve targets forward from assignments and constants.

    Parameters
    ----------
    registry : Registry
    targets : IDs of variables to compute.
    assignments : values in declared units; an assignment to a defined
        variable cuts its equation (an override).
    selection : group -> equation, for alternatives.

    Returns
    -------
    Resolution
        values, trace steps, missing roots, errors and loops.
    """
    assignments = dict(assignments or {})
    targets = list(targets)
    for target in targets:
        registry.require_variable(target)
    chosen = registry.select(selection)
    defining = registry.defining_equations(chosen)
    cut = frozenset(assignments)
    cone = upstream(registry, targets, chosen, cut=cut)
    graph = variable_graph(registry, chosen)

    def feeds(ident: str) -> list[str]:
        """Variables of the cone computed from `ident` (an assigned variable is computed from nothing)."""
        return [v for v in graph.successors(ident) if v in cone and v not in cut]

    result = Resolution(registry=registry)
    result._selection = chosen
    result._cut = cut

    # Components in a stable topological order (ties: smallest ID first), so traces
    # read the same in every run.
    components = ordered_components(sorted(cone), feeds)
    looped: set[str] = set()
    for members in components:
        if len(members) == 1 and members[0] not in feeds(members[0]):
            continue
        result.loops.append(members)
        equations = sorted({defining[v].id for v in members if v in defining})
        for v in members:
            result.errors[v] = (f"'{v}' is in an algebraic loop ({', '.join(members)}) through "
                                f"{', '.join(equations)}: the audit resolver cannot order it; use 'gpu-stack solve'")
        looped.update(members)
    order = [v for members in components for v in members]

    implicit_only = {v for e in registry.active_equations(chosen) if e.defines is None for v in e.variables}

    def root_value(ident: str) -> float:
        return result.values[ident] * registry.factors[ident]

    for ident in order:
        if ident in looped:
            continue
        if ident in assignments:
            item = assignments[ident]
            overridden = defining.get(ident)
            result.values[ident] = item.value
            result.steps[ident] = TraceStep(ident, item.value, item.unit,
                                            "override" if overridden else "assign",
                                            overridden.id if overridden else None, item.origin)
            result.order.append(ident)
            continue
        equation = defining.get(ident)
        if equation is None:
            if ident in implicit_only:
                result.errors[ident] = f"'{ident}' appears only in equations that define nothing; use 'gpu-stack solve'"
            else:
                result.missing.add(ident)
                result.blocked[ident] = {ident}
            continue
        blocked: set[str] = set()
        failed = [v for v in equation.inputs if v in result.errors]
        for v in equation.inputs:
            blocked |= result.blocked.get(v, set())
        if failed:
            result.errors[ident] = f"'{ident}' cannot be computed: {failed[0]} failed ({result.errors[failed[0]]})" \
                if not result.errors[failed[0]].startswith(f"'{ident}'") else result.errors[failed[0]]
            result.blocked[ident] = blocked
            continue
        if blocked:
            result.blocked[ident] = blocked
            continue
        for const in _constants_of(registry, equation):
            if const not in result.steps:
                value = registry.constant_values[const]
                result.values[const] = value
                result.steps[const] = TraceStep(const, value, registry.constant_units[const], "constant")
                result.order.append(const)
        try:
            raw = evaluate(equation.rhs, root_value, FLOAT_OPS, registry.units) / registry.factors[ident]
            value = float(raw)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError) as exc:
            result.errors[ident] = f"equation '{equation.id}' failed for '{ident}': {_math_message(exc)}"
            continue
        if not math.isfinite(value):
            result.errors[ident] = f"equation '{equation.id}' gave {value} for '{ident}'"
            continue
        result.values[ident] = value
        result.steps[ident] = TraceStep(ident, value, registry.variables[ident].unit, "equation", equation.id)
        result.order.append(ident)
        if equation.valid is not None:
            result.checks.append(_check(registry, equation.id, equation.model.valid or "", equation.valid,
                                        root_value, result, kind="validity"))
    return result


def _constants_of(registry: Registry, equation) -> list[str]:
    return [v for v in variables(equation.rhs) if v in registry.constants]


def _math_message(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, OverflowError):
        return "overflow"
    return f"math domain error ({exc})"


def _check(registry: Registry, ident: str, text: str, condition, value_of, result: Resolution,
           kind: str) -> ConstraintCheck:
    needed = [v for v in variables(condition) if v in registry.variables]
    if any(v not in result.values for v in needed):
        return ConstraintCheck(ident, text, "unresolved", kind=kind)
    for v in variables(condition):
        if v in registry.constants and v not in result.values:
            result.values[v] = registry.constant_values[v]
    lhs = evaluate(condition.left, value_of, FLOAT_OPS, registry.units)
    rhs = evaluate(condition.right, value_of, FLOAT_OPS, registry.units)
    holds = evaluate(condition, value_of, FLOAT_OPS, registry.units)
    return ConstraintCheck(ident, text, "ok" if holds else "violated", float(lhs), float(rhs), kind,
                           _display_unit(registry, condition.left))


def _display_unit(registry: Registry, side) -> str:
    """The declared unit of the first variable of `side` whose dimension is the side's own ("" when none):
    the unit a reader expects the two sides in (GB for a memory check, not bits)."""
    def dims_of(ident: str):
        entry = registry.variables.get(ident) or registry.constants.get(ident)
        return registry.units.dimensionality(entry.unit)

    try:
        side_dims = dimension(side, dims_of, registry.units)
    except UnitError:  # a side the registry's unit check accepted should not get here; it only costs the nicer unit
        return ""
    for ident in variables(side):
        entry = registry.variables.get(ident)
        if entry is not None and registry.units.dimensionality(entry.unit) == side_dims:
            return entry.unit
    return ""


def check_constraints(registry: Registry, result: Resolution) -> list[ConstraintCheck]:
    """Evaluate the registry's constraints on resolved values (root units on both sides)."""

    def value_of(ident: str) -> float:
        if ident in registry.constants:
            return registry.constant_values[ident] * registry.factors[ident]
        return result.values[ident] * registry.factors[ident]

    return [_check(registry, c.id, c.model.expr, c.condition, value_of, result, "constraint")
            for c in registry.constraints.values()]
