"""The trade-off front of two objectives, by ε-constraint re-solves.

Both objectives are variable IDs and both are minimized, under the problem's
own free variables, bounds and constraints (its objective is replaced):

1. the two anchors: `first` minimized alone, then `second` minimized alone;
2. ε runs evenly from the second objective's minimum (its anchor) to its value
   at the first's optimum; at each ε, `first` is minimized with
   `pareto.epsilon: second <= ε` added.

Every point reports its status (an ε below what the constraints allow is
`infeasible`, and said so), the free variables, the active constraints with
the ε-constraint's shadow price as the local trade-off rate d first / d second,
and the relative slack of each of the problem's constraints. The front is the
distinct, non-dominated answers, by increasing second objective. Each point
is a solve of the problem as `solve` answers it (IPOPT, or bonmin for integer
free variables, which gives no multipliers).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from gpu_stack.errors import InputError, ProblemError
from gpu_stack.model.expressions import parse_condition, parse_expression
from gpu_stack.model.problems import Objective, Problem, ProblemConstraint
from gpu_stack.model.registry import Registry
from gpu_stack.reports import ParetoPoint, ParetoReport, SweepColumn

__all__ = ["EPSILON_ID", "MAX_PARETO_POINTS", "pareto_front", "split_objectives"]

EPSILON_ID = "pareto.epsilon"
MAX_PARETO_POINTS = 1000   # ε-constraint solves in one front (each is a full optimization)
_NUDGE = 1e-9              # the lowest ε sits this far (relative) above the second objective's minimum


def split_objectives(text: str) -> tuple[str, str]:
    """`A,B` → (A, B): two distinct variable IDs."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"--objectives {text!r}: give two variable IDs, A,B",
                         hint="e.g. --objectives econ.run.total_cost,training.wallclock")
    if parts[0] == parts[1]:
        raise InputError(f"--objectives {text!r}: the two objectives are the same", hint="give two different IDs")
    return parts[0], parts[1]


def pareto_front(registry: Registry, problem: Problem, first: str, second: str, points: int = 11, *,
                 progress: Callable[[int, int], None] | None = None) -> ParetoReport:
    """Minimize `first` subject to `second <= ε` for `points` values of ε across the front.

    Raises
    ------
    InputError : an objective that is not a variable, fewer than 2 points, a problem without free variables.
    ProblemError : an anchor that does not solve (the problem is infeasible, unbounded …): there is no front.
    """
    from gpu_stack.solver.blocks import constraint_function
    from gpu_stack.solver.solve import prepare, solve_prepared

    for ident in (first, second):
        registry.require_variable(ident)
    if not 2 <= points <= MAX_PARETO_POINTS:
        raise InputError(f"--points {points}: give from 2 to {MAX_PARETO_POINTS} points")
    if not problem.free:
        raise InputError(f"{problem.name} frees no variable: there is nothing to trade",
                         hint="a pareto problem needs [free] variables (or --free ID=MIN:MAX)")
    notes = [f"the objectives replace the problem's own ({problem.objective.sense} {problem.objective.text})"] \
        if problem.objective is not None else []
    units = registry.variables
    total = points + 2
    done = 0

    def solve(epsilon: float | None, objective: str) -> ParetoPoint:
        nonlocal done
        constraints = list(problem.constraints)
        if epsilon is not None:
            text = f"{second} <= {float(epsilon)!r}" + ("" if units[second].unit == "1" else f" [{units[second].unit}]")
            constraints.append(ProblemConstraint(EPSILON_ID, text, parse_condition(text)))
        posed = dataclasses.replace(problem, objective=Objective("minimize", objective, parse_expression(objective)),
                                    constraints=constraints, outputs=list(dict.fromkeys([first, second])))
        prepared = prepare(registry, posed)
        solution = solve_prepared(prepared)
        done += 1
        if progress is not None:
            progress(done, total)
        answered = solution.status == "ok"
        slack: dict[str, float] = {}
        if answered and constraints:
            formulation = prepared.formulation
            own = {c.id for c in constraints}
            rows = [row for row in formulation.constraints if row.id in own]
            if rows:
                values = np.array(constraint_function(formulation, rows)(solution.x, formulation.param_values())).ravel()
                slack = {row.id: float(max(0.0, -value)) for row, value in zip(rows, values)}
        multiplier = solution.multipliers.get(EPSILON_ID) if answered else None
        return ParetoPoint(
            epsilon=epsilon, status=solution.status,  # type: ignore[arg-type]
            first=_finite(solution.value(first)) if answered else None,
            second=_finite(solution.value(second)) if answered else None,
            free={v: float(solution.value(v)) for v in solution.free} if answered else {},
            active_constraints=solution.active_constraints if answered else [],
            trade_off=multiplier,
            slack=slack, message=solution.message)

    anchors = [solve(None, first), solve(None, second)]
    for anchor, name in zip(anchors, (first, second)):
        if anchor.status != "ok":
            raise ProblemError(f"minimizing {name} alone in {problem.name} ends {anchor.status}: {anchor.message}; "
                               "there is no front to trace", hint="solve the problem alone to see why")
    low = anchors[1].second
    high = anchors[0].second
    assert low is not None and high is not None
    if high < low:   # the first's optimum cannot beat the second's own minimum: only rounding puts it there
        high = low
    nudge = _NUDGE * max(abs(low), abs(high), 1e-300)
    epsilons = np.linspace(low + nudge, max(high, low + nudge), points)
    results = [solve(float(epsilon), first) for epsilon in epsilons]
    return ParetoReport(problem=problem.name,
                        first=SweepColumn(id=first, unit=units[first].unit, role="objective"),
                        second=SweepColumn(id=second, unit=units[second].unit, role="objective"),
                        free_units={v: units[v].unit for v in problem.free}, anchors=anchors, points=results,
                        front=_front(results), notes=notes, warnings=list(problem.warnings))


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _front(points: list[ParetoPoint]) -> list[int]:
    """Indices of the distinct, non-dominated ok points, by increasing second objective."""
    answered = [(p.second, p.first, i) for i, p in enumerate(points)
                if p.status == "ok" and p.first is not None and p.second is not None]
    front: list[int] = []
    best_first = math.inf
    for second, first, index in sorted(answered):
        # same point again (integer decisions repeat answers across ε) or dominated by one with less second
        if first < best_first - 1e-9 * max(abs(first), abs(best_first) if math.isfinite(best_first) else 0.0):
            front.append(index)
            best_first = first
    return front
