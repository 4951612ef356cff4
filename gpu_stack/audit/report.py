"""Audit answers: resolve targets under a question and shape the reports."""

from __future__ import annotations

from typing import Iterable

from gpu_stack.model.registry import Registry
from gpu_stack.reports import ConstraintItem, ResolveReport, ScenarioReport, TargetItem, TraceItem
from gpu_stack.audit.resolver import check_constraints, resolve
from gpu_stack.core import Question, Scenario

__all__ = ["resolve_report", "scenario_report"]


def resolve_report(registry: Registry, target: str, question: Question, *,
                   constraints: bool = False) -> ResolveReport:
    """Resolve one target and report value, trace, missing roots and checks.

    The target is a variable, or a constraint ID: then every variable of the inequality is
    resolved, the check of that constraint comes first in `constraints`, and the status is
    that of the least resolved of its variables.
    """
    constraint = registry.constraints.get(target)
    if constraint is None:
        registry.require_variable(target)
    needed = list(constraint.variables) if constraint else [target]
    resolution = resolve(registry, needed, question.assign, question.select)
    statuses = [resolution.status(ident) for ident in needed]
    status = next((s for s in ("error", "missing") if s in statuses), "ok")
    checks = [c for c in resolution.checks]
    if constraints or constraint:
        registry_checks = check_constraints(registry, resolution)
        if constraint and not constraints:
            registry_checks = [c for c in registry_checks if c.id == target]
        checks += sorted(registry_checks, key=lambda c: c.id != target)
    trace = [step for ident in needed for step in resolution.trace(ident)] if status == "ok" else \
        [resolution.steps[v] for v in resolution.order]
    return ResolveReport(
        target=target,
        kind="constraint" if constraint else "variable",
        status=status,
        value=None if constraint else resolution.values.get(target),
        unit="" if constraint else registry.variables[target].unit,
        trace=[TraceItem(**vars(step)) for step in dict.fromkeys(trace)],
        missing=sorted(resolution.missing) if status != "ok" else [],
        errors=sorted(set(resolution.errors.values())),
        loops=resolution.loops,
        constraints=[ConstraintItem(id=c.id, expr=c.expr, kind=c.kind, status=c.status, lhs=c.lhs, rhs=c.rhs,
                                    unit=c.unit)
                     for c in checks if constraints or c.id == target or c.status == "violated"],
        presets=question.preset_names,
        selection=question.select,
    )


def scenario_report(registry: Registry, scenario: Scenario, targets: Iterable[str] | None = None) -> ScenarioReport:
    """Resolve a scenario's outputs (or the given targets)."""
    outputs = list(targets) if targets is not None else list(scenario.outputs)
    resolution = resolve(registry, outputs, scenario.assign, scenario.select)
    items = []
    for ident in outputs:
        status = resolution.status(ident)
        items.append(TargetItem(
            id=ident, status=status, value=resolution.values.get(ident),
            unit=registry.variables[ident].unit,
            missing=resolution.missing_for(ident) if status == "missing" else [],
            error=resolution.errors.get(ident),
        ))
    ok = sum(i.status == "ok" for i in items)
    errors = sum(i.status == "error" for i in items)
    missing = sum(i.status == "missing" for i in items)
    overall = "error" if errors else "missing" if missing else "ok"
    return ScenarioReport(
        scenario=scenario.name, kind=scenario.kind, description=scenario.description, status=overall,
        assignment_count=len(scenario.assign), target_count=len(items), ok_count=ok, error_count=errors,
        missing_count=missing, targets=items,
    )
