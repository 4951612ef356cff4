"""A question's shape: its cone, unknowns, equations, parameters and starting point.

`formulate` turns a `Problem` into a `Formulation`: the upstream cone of what
is asked (targets, free variables, objective, constraints, else the
scenarios' outputs) through active, non-cut equations; the unknowns in it;
the equations that relate them (defining equations, implicit ones, and one
`target:ID` equation per target); the fixed values the equations read
(parameters); the constraint rows; and starting guesses and scales.
`analyse_formulation` matches and decomposes it (`structure`) and explains
an under- or over-determined question in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gpu_stack.audit.graph import reachable, upstream, variable_graph
from gpu_stack.audit.resolver import resolve
from gpu_stack.core import is_target_key, target_key, target_of
from gpu_stack.errors import ProblemError
from gpu_stack.model.expressions import Compare, Num, Var, variables
from gpu_stack.model.problems import FreeSpec, Problem
from gpu_stack.model.registry import Registry
from gpu_stack.reports import StructureItem
from gpu_stack.solver.structure import Structure, analyse, covers

__all__ = ["ConstraintRow", "Formulation", "formulate", "is_integral", "unreached_free", "structure_of", "structure_item", "over_message",
           "under_message"]

@dataclass
class ConstraintRow:
    """An inequality (or equality) handed to the optimizer: (lhs - rhs) sense 0."""

    id: str
    text: str
    node: Compare
    unit: str | None = None        # the unit a multiplier is expressed per
    unit_factor: float = 1.0


@dataclass
class Formulation:
    """The shape of a question: cone, unknowns, equations, parameters."""

    registry: Registry
    problem: Problem
    selection: dict[str, str]
    fixed: dict[str, float]                     # declared units, assignments that stay
    unknowns: list[str]
    equations: list[str]                        # registry equation IDs and 'target:ID'
    incidence: dict[str, list[str]]
    explicit: dict[str, str]
    params: list[str]                           # fixed variable IDs and 'target:ID' values
    constraints: list[ConstraintRow] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    start: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    integer: dict[str, bool] = field(default_factory=dict)

    def param_values(self) -> list[float]:
        values = []
        for ident in self.params:
            if is_target_key(ident):
                values.append(self.problem.targets[target_of(ident)])
            else:
                values.append(self.fixed[ident])
        return values

    def bounds(self, ident: str) -> tuple[float | None, float | None]:
        """(min, max) of an unknown in its declared unit; an integer free variable's are rounded inward."""
        low, high = self._given_bounds(ident)
        if self.integer.get(ident):
            low = None if low is None else float(math.ceil(low - _INTEGRAL * max(1.0, abs(low))))
            high = None if high is None else float(math.floor(high + _INTEGRAL * max(1.0, abs(high))))
        return low, high

    def _given_bounds(self, ident: str) -> tuple[float | None, float | None]:
        variable = self.registry.variables[ident]
        low, high = variable.min, variable.max
        spec = self.problem.free.get(ident)
        if spec is not None:
            low = spec.min if spec.min is not None else low
            high = spec.max if spec.max is not None else high
        return low, high

    def rounding_notes(self) -> list[str]:
        """One phrase per integer free variable whose given bounds were fractional (rounded inward)."""
        notes = []
        for ident in self.problem.free:
            if not self.integer.get(ident):
                continue
            given, rounded = self._given_bounds(ident), self.bounds(ident)
            if given != rounded:
                notes.append(f"the integer {ident}'s bounds {_interval(*given)} were rounded inward to "
                             f"{_interval(*rounded)}")
        return notes


_INTEGRAL = 1e-9     # relative distance to an integer that counts as that integer


def is_integral(value: float) -> bool:
    """Whether a value is an integer up to round-off (relative 1e-9)."""
    return abs(value - round(value)) <= _INTEGRAL * max(1.0, abs(value))


def _interval(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


def formulate(registry: Registry, problem: Problem) -> Formulation:
    """Work out the cone, unknowns, equations and parameters of a problem."""
    selection = registry.select(problem.select)
    freed = set(problem.free)
    both = sorted(freed & set(problem.targets))
    if both:
        raise ProblemError(f"'{both[0]}' is both a target and free",
                           hint="a target holds an output; free the input it stands for instead")
    defining = registry.defining_equations(selection)
    for ident in problem.free:
        if ident in defining and ident not in problem.assign:
            raise ProblemError(_defined_free_message(registry, ident, defining, problem))
    fixed = {k: a.value for k, a in problem.assign.items() if k not in freed}
    seeds = problem.seeds or list(problem.outputs)
    if not seeds:
        raise ProblemError("nothing to solve", hint="give --target/--free, an objective, or scenarios with outputs")
    cut = set(fixed) | freed
    seeds = [*seeds, *_constraints_moved_by_the_decision(registry, selection, defining, freed, cut)]
    cone = upstream(registry, seeds, selection, cut=cut)
    order = {v: i for i, v in enumerate(registry.variables)}
    unknowns = sorted((v for v in cone if v not in fixed), key=order.__getitem__)
    unknown_set = set(unknowns)
    equations: list[str] = []
    incidence: dict[str, list[str]] = {}
    explicit: dict[str, str] = {}
    for v in unknowns:
        equation = defining.get(v)
        if equation is not None and v not in freed:
            equations.append(equation.id)
            incidence[equation.id] = [u for u in equation.variables if u in unknown_set]
            explicit[equation.id] = v
    for equation in registry.active_equations(selection):
        if equation.defines is None and any(u in cone for u in equation.variables):
            equations.append(equation.id)
            incidence[equation.id] = [u for u in equation.variables if u in unknown_set]
    conflicts = []
    for target in problem.targets:
        key = target_key(target)
        equations.append(key)
        incidence[key] = [target] if target in unknown_set else []
        if target in fixed:
            origin = problem.assign[target].origin
            conflicts.append(f"target '{target}' is also assigned (by {origin})")
    used_fixed = set()
    for e in equations:
        equation = registry.equations.get(e)
        if equation is not None:
            used_fixed |= {u for u in equation.variables if u in fixed}
    rows = _constraint_rows(registry, problem, cone, fixed, unknown_set)
    for row in rows:
        used_fixed |= {u for u in variables(row.node) if u in fixed}
    if problem.objective is not None:
        used_fixed |= {u for u in variables(problem.objective.node) if u in fixed}
    used_fixed |= {t for t in problem.targets if t in fixed}
    params = sorted(used_fixed, key=order.__getitem__) + [target_key(t) for t in problem.targets]
    formulation = Formulation(registry, problem, selection, fixed, unknowns, equations, incidence, explicit,
                              params, rows, conflicts)
    _starting_point(formulation)
    return formulation


def _defined_free_message(registry: Registry, ident: str, defining: dict, problem: Problem) -> str:
    """One paragraph: `ident` is computed, not an input; name the root inputs that can be freed instead."""
    equation = defining[ident]
    nearest: list[str] = []
    seen = {ident}
    frontier = [ident]
    while frontier and len(nearest) < 6:
        following: list[str] = []
        for v in frontier:
            source = defining.get(v)
            if source is None:
                continue
            for u in sorted(source.inputs):
                if u in seen or u in registry.constants:
                    continue
                seen.add(u)
                if u in problem.assign or u not in defining:
                    nearest.append(u)
                else:
                    following.append(u)
        frontier = following
    inputs = ", ".join(nearest[:6]) if nearest else "none (nothing upstream is an input)"
    return (f"'{ident}' is an output, computed by {equation.id} ({equation.model.eq}); it cannot be freed. "
            f"To hold it at a value, make it a target (--target {ident}=VALUE) and free one of the inputs it "
            f"stands on, nearest first: {inputs}.")


def _constraints_moved_by_the_decision(registry: Registry, selection: dict[str, str], defining: dict,
                                       freed: set[str], cut: set[str]) -> list[str]:
    """Variables of the registry constraints the free variables move, so those constraints join the question.

    A constraint such as mem.ineq.fits_in_hbm may lie outside the objective's cone (the memory chain
    does not feed the cost when the recomputed share is assigned) yet still depend on the decision
    (the data-parallel degree sets the micro-batches in flight): it binds the decision all the same.
    It joins only when every root behind it has a value, so a constraint the question cannot
    evaluate never makes it underdetermined.
    """
    graph = variable_graph(registry, selection)
    moved = reachable(freed, graph.successors, stop=cut - freed)
    seeds: list[str] = []
    for constraint in registry.constraints.values():
        if not moved & set(constraint.variables):
            continue
        behind = upstream(registry, constraint.variables, selection, cut=cut)
        if all(v in cut or v in defining or v in registry.constants for v in behind):
            seeds += constraint.variables
    return seeds


def _constraint_rows(registry: Registry, problem: Problem, cone: set[str], fixed: dict[str, float],
                     unknowns: set[str]) -> list[ConstraintRow]:
    rows = []
    known = cone | set(fixed)
    for constraint in registry.constraints.values():
        names = set(constraint.variables)
        if names <= known and names & unknowns:
            rows.append(_row(registry, constraint.id, constraint.model.expr, constraint.condition))
    for constraint in problem.constraints:
        rows.append(_row(registry, constraint.id, constraint.text, constraint.node))
    return rows


def _row(registry: Registry, ident: str, text: str, node: Compare) -> ConstraintRow:
    unit = None
    for side in (node.right, node.left):
        if isinstance(side, Var) and side.id in registry.variables:
            unit = registry.variables[side.id].unit
            break
        if isinstance(side, Num) and side.unit:
            unit = side.unit
            break
    factor = registry.units.factor(unit) if unit else 1.0
    return ConstraintRow(ident, text, node, unit or "SI base units", factor)


def _starting_point(formulation: Formulation) -> None:
    """Starting guesses: scenario values (dropped ones too), else nominal, else mid-bounds, else 1."""
    registry, problem = formulation.registry, formulation.problem
    audit = resolve(registry, formulation.unknowns, problem.assign, formulation.selection)
    for v in formulation.unknowns:
        spec = problem.free.get(v, FreeSpec())
        formulation.integer[v] = spec.integer or (v in problem.free and registry.variables[v].integer)
    for v in formulation.unknowns:
        variable = registry.variables[v]
        spec = problem.free.get(v, FreeSpec())
        low, high = formulation.bounds(v)
        if low is not None and high is not None and low > high:
            raise ProblemError(f"free '{v}': no integer lies in {_interval(*formulation._given_bounds(v))}",
                               hint="widen the bounds to hold an integer, or free it as a continuous variable")
        guess: float | None = spec.start
        if guess is None and v in problem.targets:
            guess = problem.targets[v]
        if guess is None and v in audit.values and math.isfinite(audit.values[v]):
            guess = audit.values[v]
        if guess is None and variable.nominal is not None:
            guess = variable.nominal
        if guess is None and low is not None and high is not None:
            guess = 0.5 * (low + high)
        if guess is None:
            guess = low if low is not None and low > 0 else (high if high is not None and high < 1 else 1.0)
        integer = formulation.integer[v]
        if integer:
            guess = float(round(guess))
        if low is not None:
            guess = max(guess, low)
        if high is not None:
            guess = min(guess, high)
        formulation.start[v] = float(guess)
        magnitude = abs(guess) if guess else abs(variable.nominal or 0) or 1.0
        formulation.scale[v] = 1.0 if integer else magnitude


def unreached_free(formulation: Formulation) -> dict[str, str]:
    """Free variables that nothing the question asks (targets, objective, its own constraints) depends on,
    each with why: a value the solver gave them would be arbitrary.

    Empty when the question asks nothing but outputs (the structure says what no equation pins then).
    """
    registry, problem = formulation.registry, formulation.problem
    asked = list(problem.targets)
    if problem.objective is not None:
        asked += variables(problem.objective.node)
    for constraint in problem.constraints:
        asked += variables(constraint.node)
    if not asked:
        return {}
    freed = set(problem.free)
    fixed = set(formulation.fixed)
    reached = upstream(registry, asked, formulation.selection, cut=fixed | freed)
    missed = [v for v in problem.free if v not in reached]
    if not missed:
        return {}
    without_assignments = upstream(registry, asked, formulation.selection, cut=freed)
    reasons: dict[str, str] = {}
    for v in missed:
        reason = f"nothing the question asks ({', '.join(dict.fromkeys(asked))}) depends on it"
        if v in without_assignments:
            cutters = [a for a in fixed if a in without_assignments and
                       v in upstream(registry, [a], formulation.selection, cut=(fixed | freed) - {a})]
            if cutters:
                shown = ", ".join(sorted(cutters)[:4]) + (" …" if len(cutters) > 4 else "")
                reason += (f": the assignment of {shown} cuts it off" if len(cutters) == 1
                           else f": the assignments of {shown} cut it off")
        reasons[v] = reason
    return reasons


# ------------------------------------------------------------------ structure


def structure_of(formulation: Formulation) -> Structure:
    """Match and decompose a formulated question (defining directions preferred)."""
    return analyse(formulation.equations, formulation.unknowns, formulation.incidence, formulation.explicit)


def structure_item(formulation: Formulation, structure: Structure, *, optimizing: bool) -> StructureItem:
    defined = {formulation.explicit[e] for e in formulation.equations if e in formulation.explicit}
    implicit_vars = {v for e in formulation.equations if e not in formulation.explicit for v in formulation.incidence[e]}
    missing = [v for v in formulation.unknowns if v not in defined and v not in formulation.problem.free
               and v not in implicit_vars and v not in formulation.problem.targets]
    if optimizing:
        under = covers(formulation.equations, [v for v in formulation.unknowns if v not in formulation.problem.free],
                       formulation.incidence)
        unpinned: list[str] = []
    else:
        under = structure.under_variables
        unpinned = [v for v in under if v in formulation.problem.free]
    under_set = set(under)
    involved = [target_of(e) for e in structure.over_equations if is_target_key(e)]
    conflicts = list(formulation.conflicts) + [f"target '{t}'" for t in involved]
    return StructureItem(
        equations=len(formulation.equations), unknowns=len(formulation.unknowns), blocks=len(structure.blocks),
        loops=[sorted(b.variables) for b in structure.blocks if len(b.variables) > 1],
        under_variables=under, over_equations=structure.over_equations,
        missing_roots=[v for v in missing if v in under_set], unpinned_free=unpinned, conflicts=conflicts,
    )


def over_message(formulation: Formulation, item: StructureItem) -> str:
    registry = formulation.registry
    equations = [e for e in item.over_equations if not is_target_key(e)]
    held = [target_of(e) for e in item.over_equations if is_target_key(e)]
    assigned = sorted({u for e in equations for u in registry.equations[e].variables if u in formulation.fixed})
    text = "over-determined: "
    if formulation.conflicts:
        text += "; ".join(formulation.conflicts) + ". "
    if held:
        text += f"target(s) {', '.join(held)} cannot move"
        if equations:
            text += f": equations {', '.join(equations)} already fix them"
        if assigned:
            text += f" from assigned {', '.join(assigned[:8])}{' …' if len(assigned) > 8 else ''}"
        text += "; free one of those inputs (--free ID) or drop a target"
    elif equations:
        text += f"equations {', '.join(equations)} conflict"
    return text


def under_message(item: StructureItem) -> str:
    parts = []
    if item.missing_roots:
        parts.append(f"roots still to be given: {', '.join(item.missing_roots)} (assign them, or use a --preset)")
    if item.unpinned_free:
        parts.append(f"free variables no equation pins: {', '.join(item.unpinned_free)} "
                     "(add a target per free variable, or an objective)")
    others = [v for v in item.under_variables if v not in item.missing_roots and v not in item.unpinned_free]
    if others and not parts:
        parts.append(f"not determined: {', '.join(others[:10])}")
    return "under-determined: " + "; ".join(parts)
