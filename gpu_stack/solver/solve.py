"""Solve, invert or optimize a problem: the entry point and its status words.

A problem is prepared once per shape (`prepare`: formulation, structure and
their diagnosis, cached), then answered with compiled functions:

* without an objective: the block solve (`blocks`) — full Newton steps
  first, damped ones if those fail;
* with an objective: the NLP (`nlp`), reduced to the free variables when the
  forward model can be embedded.

Outputs of the scenarios are evaluated by a compiled forward function of the
solution, not by the audit resolver. Answers come back as a light
`Solution` (numpy arrays in declared units); `Solution.report()` builds the
`SolveResult` the CLI prints. Status words: ok, infeasible, unbounded,
underdetermined, overdetermined, failed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from gpu_stack.core import Assignment
from gpu_stack.errors import ProblemError
from gpu_stack.model.problems import Problem
from gpu_stack.model.registry import Registry
from gpu_stack.reports import SolveResult, StructureItem, ValueItem
from gpu_stack.solver.blocks import RESIDUAL_TOL, CompiledBlocks, bound_arrays, compile_blocks, constraint_function, diagnose
from gpu_stack.solver.cache import cache_for
from gpu_stack.solver.formulation import Formulation, formulate, is_integral, over_message, structure_item, \
    structure_of, under_message, unreached_free
from gpu_stack.solver.nlp import IPOPT_TOL, CompiledNLP, compile_nlp, elastic_conflicts, objective_unit, run_nlp
from gpu_stack.solver.silence import quiet_stdout
from gpu_stack.solver.structure import Structure

__all__ = ["Prepared", "Solution", "prepare", "solve_prepared", "solve_problem", "forward_blocks"]


@dataclass
class Prepared:
    """A problem's formulation and structure, ready to be answered (the values may change)."""

    formulation: Formulation
    structure: Structure
    item: StructureItem
    optimizing: bool
    signatures: dict[str, tuple] = field(default_factory=dict)   # compiled-function keys, by kind
    unreached: dict[str, str] = field(default_factory=dict)   # free variable → why nothing asked depends on it

    @property
    def registry(self) -> Registry:
        return self.formulation.registry

    def refusal(self) -> tuple[str, str] | None:
        """(status, message) when the question cannot be answered as posed, else None."""
        if self.item.conflicts or self.structure.over_equations:
            return "overdetermined", over_message(self.formulation, self.item)
        if self.unreached:
            return "underdetermined", "under-determined: " + "; ".join(
                f"free variable {v} would take an arbitrary value: {why}" for v, why in self.unreached.items()) + \
                " (drop it from --free, or ask something that depends on it)"
        if self.item.under_variables:
            return "underdetermined", under_message(self.item)
        return None


@dataclass
class Solution:
    """An answer in declared units, cheap to build; `report()` gives the CLI's `SolveResult`."""

    status: str
    message: str
    unknowns: list[str] = field(default_factory=list)
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    free: list[str] = field(default_factory=list)
    objective: float | None = None
    objective_unit: str | None = None
    active_constraints: list[str] = field(default_factory=list)
    multipliers: dict[str, float] = field(default_factory=dict)
    multiplier_units: dict[str, str] = field(default_factory=dict)
    solver: str = ""
    iterations: int | None = None
    residual_max: float | None = None
    conflicting_constraints: list[str] = field(default_factory=list)
    outputs: dict[str, float] = field(default_factory=dict)
    problem: str = ""
    structure: StructureItem | None = None
    registry: Registry | None = field(default=None, repr=False)

    def unit(self, ident: str) -> str:
        """The declared unit of a variable of the answer."""
        assert self.registry is not None
        return self.registry.variables[ident].unit

    def value(self, ident: str) -> float:
        """The solved value of one variable (an unknown or an output), in its declared unit."""
        if ident in self.outputs:
            return self.outputs[ident]
        return float(self.x[self.unknowns.index(ident)])

    def report(self) -> SolveResult:
        """The documented `solve --json` shape."""
        answered = self.status == "ok"  # a failed point is never passed on as an answer
        values = {v: ValueItem(value=float(value), unit=self.unit(v))
                  for v, value in zip(self.unknowns, self.x)} if answered else {}
        return SolveResult(
            status=self.status, values=values, free={v: values[v] for v in self.free if v in values},
            objective=self.objective, objective_unit=self.objective_unit,
            active_constraints=self.active_constraints, multipliers=self.multipliers,
            multiplier_units=self.multiplier_units, message=self.message, problem=self.problem, solver=self.solver,
            iterations=self.iterations, residual_max=self.residual_max,
            conflicting_constraints=self.conflicting_constraints, structure=self.structure,
            outputs={o: ValueItem(value=value, unit=self.unit(o)) for o, value in self.outputs.items()})


def _problem_shape(registry: Registry, problem: Problem) -> tuple:
    """What fixes a question's formulation: everything but the assigned and target values."""
    return (tuple(sorted(registry.select(problem.select).items())), tuple(sorted(problem.assign)),
            tuple(problem.targets), tuple(sorted(problem.free.items())),
            (problem.objective.sense, problem.objective.text) if problem.objective else None,
            tuple(c.text for c in problem.constraints), tuple(problem.outputs))


def prepare(registry: Registry, problem: Problem) -> Prepared:
    """Formulation and structure of a problem, reused across calls of the same shape.

    A repeated question (new values, same shape) keeps the cone, the matching and the
    compiled functions; only the parameter values change, and the last solution is the
    starting point.
    """
    optimizing = problem.objective is not None

    def build() -> Prepared:
        formulation = formulate(registry, problem)
        structure = structure_of(formulation)
        return Prepared(formulation, structure, structure_item(formulation, structure, optimizing=optimizing),
                        optimizing, unreached=unreached_free(formulation))

    prepared = cache_for(registry).get(("shape", _problem_shape(registry, problem)), build)
    if prepared.formulation.problem is not problem:
        fixed = {k: a.value for k, a in problem.assign.items() if k not in problem.free}
        prepared.formulation = dataclasses.replace(prepared.formulation, problem=problem, fixed=fixed)
    return prepared


def _signature(prepared: Prepared, kind: str) -> tuple:
    """Everything a compiled function of this question depends on, values of scales and bounds included
    (worked out once per prepared shape: it reads every unknown)."""
    signature = prepared.signatures.get(kind)
    if signature is None:
        signature = prepared.signatures[kind] = _signature_of(prepared.formulation, kind)
    return signature


def _signature_of(formulation: Formulation, kind: str) -> tuple:
    problem = formulation.problem
    lower, upper, slack = bound_arrays(formulation)
    return (kind, tuple(sorted(formulation.selection.items())), tuple(formulation.unknowns),
            tuple(formulation.params), tuple(formulation.equations),
            tuple(sorted((k, formulation.integer.get(k, False)) for k in problem.free)),
            (problem.objective.sense, problem.objective.text) if problem.objective else None,
            tuple((r.id, r.text) for r in formulation.constraints),
            tuple(f"{formulation.scale[v]:.12g}" for v in formulation.unknowns),
            tuple(f"{value:.12g}" for value in (*lower, *upper)))


def forward_blocks(prepared: Prepared, *, line_search: bool = False) -> CompiledBlocks:
    """The compiled block solve of a square question (memory, then disk, then built)."""
    formulation = prepared.formulation
    cache = cache_for(prepared.registry)
    key = _signature(prepared, "blocks-damped" if line_search else "blocks")

    def build() -> tuple[dict, dict]:
        compiled = compile_blocks(formulation, prepared.structure, line_search=line_search)
        return ({"solve": compiled.function},
                {"newton_blocks": compiled.newton_blocks, "symbolic": compiled.symbolic})

    def load() -> CompiledBlocks:
        functions, meta = cache.functions(prepared.registry, key, build)
        return CompiledBlocks(functions["solve"], None, meta["newton_blocks"], meta["symbolic"])

    return cache.get(("compiled", key), load)


def _compiled_nlp(prepared: Prepared) -> CompiledNLP:
    return cache_for(prepared.registry).get(_signature(prepared, "nlp"),
                                            lambda: compile_nlp(prepared.formulation))


def solve_prepared(prepared: Prepared, *, outputs: bool = True) -> Solution:
    """Answer a prepared problem with its current values."""
    formulation = prepared.formulation
    registry = prepared.registry
    problem = formulation.problem
    solution = Solution(status="ok", message="", problem=problem.name, structure=prepared.item, registry=registry)
    refused = prepared.refusal()
    if refused is not None:
        solution.status, solution.message = refused
        return solution
    p = formulation.param_values()
    solution.free = [v for v in problem.free if v in formulation.unknowns]
    if prepared.optimizing:
        _optimize(prepared, p, solution)
    else:
        _solve_square(prepared, p, solution)
        if solution.status == "ok":
            _integer_inverse(prepared, solution)
    notes = formulation.rounding_notes()
    if notes:
        solution.message += ("; " if solution.message else "") + "; ".join(notes)
    if solution.status == "ok":
        formulation.start.update(zip(formulation.unknowns, solution.x.tolist()))  # warm start next time
        if outputs and problem.outputs:
            solution.outputs = _outputs(prepared, solution)
    return solution


def _solve_square(prepared: Prepared, p: list[float], solution: Solution) -> None:
    formulation = prepared.formulation
    x0 = [formulation.start[v] for v in formulation.unknowns]
    for line_search in (False, True):  # full Newton steps first, damped ones if they fail
        compiled = forward_blocks(prepared, line_search=line_search)
        if compiled.newton_blocks:  # CasADi's rootfinder may warn on stderr
            with quiet_stdout():
                x, residual_max, bound_violation = compiled.fast(p, x0)
        else:
            x, residual_max, bound_violation = compiled.fast(p, x0)
        residual_max, bound_violation = float(residual_max[0]), float(bound_violation[0])
        if compiled.accepted(residual_max, bound_violation) or not compiled.newton_blocks:
            break
    solution.unknowns = formulation.unknowns
    solution.x = x
    solution.solver = "newton" if compiled.newton_blocks else "explicit"
    solution.residual_max = residual_max if np.isfinite(residual_max) else None
    if not compiled.accepted(residual_max, bound_violation):
        solution.status = "failed"
        solution.message = diagnose(formulation, solution.x, p, compiled.residuals) or \
            f"did not converge (largest scaled residual {residual_max:.3g})"
        return
    violated = _violated_problem_constraints(prepared, solution.x, p)
    if violated:
        solution.status = "infeasible"
        solution.conflicting_constraints = violated
        solution.message = (f"the equations hold at a unique point, but it violates {', '.join(violated)}; "
                            "free another input, or add an objective to trade the constraint off")
        return
    loops = len(compiled.newton_blocks)
    solution.message = (f"solved {len(formulation.equations)} equations in {len(prepared.structure.blocks)} blocks"
                        + (f" ({loops} by Newton)" if loops else ""))


def _integer_inverse(prepared: Prepared, solution: Solution) -> None:
    """Refuse an inverse's answer that puts an integer free variable at a fraction.

    The equations with targets have (locally) one solution; when an integer free variable
    comes out fractional there, no integer meets the targets. The status becomes
    `infeasible`, and the message names the neighbouring integers and what the targets
    come out as at each (a forward solve), so the nearest integer answer can be chosen.
    """
    formulation = prepared.formulation
    integers = [v for v in solution.free if formulation.integer.get(v)]
    fractional = {v: solution.value(v) for v in integers if not is_integral(solution.value(v))}
    if not fractional:
        return
    solution.status = "infeasible"
    placed = ", ".join(f"{v} at {value:.6g}" for v, value in fractional.items())
    units = prepared.registry.variables
    wanted = ", ".join(f"{t} = {_quantity(x, units[t].unit, 6)}" for t, x in formulation.problem.targets.items())
    message = f"the targets ({wanted}) are not reachable at an integer: the equations put {placed}"
    continuous = [v for v in solution.free if v not in fractional]
    if len(fractional) == 1 and not continuous:
        (v, value), = fractional.items()
        low, high = formulation.bounds(v)
        results = []
        for neighbour in (math.floor(value), math.ceil(value)):
            if (low is not None and neighbour < low) or (high is not None and neighbour > high):
                results.append(f"{v} = {neighbour} is outside its bounds")
                continue
            reached = _targets_at(prepared, {v: float(neighbour)})
            shown = ", ".join(f"{t} = {_quantity(x, units[t].unit, 6)}" for t, x in reached.items())
            results.append(f"{v} = {neighbour} gives {shown or 'no forward answer'}")
        message += "; nearest: " + "; ".join(results)
    else:
        message += " (nearest integers: " + ", ".join(
            f"{v} = {math.floor(value)} or {math.ceil(value)}" for v, value in fractional.items()) + ")"
    solution.message = message + "; assign one of them, or loosen a target (or add an objective to trade it off)"


def _targets_at(prepared: Prepared, values: dict[str, float]) -> dict[str, float]:
    """The problem's targeted variables, computed forward with `values` assigned (those a forward solve reaches)."""
    problem = prepared.formulation.problem
    registry = prepared.registry
    assign = dict(problem.assign)
    for v, value in values.items():
        assign[v] = Assignment(v, value, registry.variables[v].unit, f"{value:g}", "solve")
    forward = prepare(registry, Problem(name=f"{problem.name} at integers", assign=assign, select=problem.select,
                                        outputs=list(problem.targets)))
    answer = solve_prepared(forward, outputs=False)
    if answer.status != "ok":
        return {}
    known = dict(zip(answer.unknowns, answer.x.tolist()))
    return {t: known[t] for t in problem.targets if t in known}


def _violated_problem_constraints(prepared: Prepared, x: np.ndarray, p: list[float]) -> list[str]:
    """The problem's own constraints (not the registry's) that a square solve's answer violates."""
    formulation = prepared.formulation
    own = {c.id for c in formulation.problem.constraints}
    rows = [row for row in formulation.constraints if row.id in own]
    if not rows:
        return []
    function = cache_for(prepared.registry).get(_signature(prepared, "rows"),
                                               lambda: constraint_function(formulation, rows))
    values = np.array(function(x, p)).ravel()
    return [row.id for row, value in zip(rows, values) if value > 1e-9]


def _optimize(prepared: Prepared, p: list[float], solution: Solution) -> None:
    formulation = prepared.formulation
    compiled, out = run_nlp(_compiled_nlp(prepared), formulation, p)
    stats = out["stats"]
    solution.solver = compiled.name
    solution.iterations = stats.get("iter_count")
    solution.unknowns = formulation.unknowns
    solution.x = np.array(compiled.unknowns(out["z"], p)).ravel()
    status_text = str(stats.get("return_status", ""))
    r = np.array(compiled.residuals(solution.x, p)).ravel()
    finite = bool(np.isfinite(r).all())
    solution.residual_max = (float(np.max(np.abs(r))) if r.size else 0.0) if finite else None
    rows = out["g"][compiled.n_equalities:]
    acceptable = status_text == "Solved_To_Acceptable_Level"
    # IPOPT's acceptable level allows a constraint violation of 1e-2: such a point is held to the strict one
    row_tol = 1e-9 if acceptable else 1e-7
    violated = [row.id for row, value in zip(compiled.rows, rows)
                if not value <= row_tol or (row.equality and abs(value) > row_tol)]
    runaway = _runaway(compiled, formulation, out, p, status_text=status_text, violated=bool(violated))
    if runaway is not None and (not violated or status_text == "Diverging_Iterates"):
        solution.status, solution.message = runaway
        return
    shortfall = f"{compiled.name} only reached its acceptable tolerance ({status_text}), not the strict one"
    if acceptable and violated:
        solution.status = "failed"
        solution.message = f"{shortfall}: {', '.join(violated)} do(es) not hold at the strict tolerance"
        return
    if not stats.get("success") or violated:
        if "infeasible" in status_text.lower() or violated:
            conflicting = elastic_conflicts(compiled, formulation, p) or violated
            solution.status = "infeasible"
            solution.conflicting_constraints = conflicting
            solution.message = (f"{compiled.name}: {status_text or 'constraints violated'}; "
                                + (f"these constraints cannot hold together: {', '.join(conflicting)}" if conflicting
                                   else "the targets cannot be met within the bounds of the free variables"))
        else:
            solution.status = "failed"
            solution.message = f"{compiled.name} stopped: {status_text}"
        return
    problem_text = None if compiled.accepts(solution.x, r) else diagnose(formulation, solution.x, p,
                                                                          compiled.residuals)
    if problem_text:
        solution.status = "failed"
        solution.message = f"{shortfall}: {problem_text}" if acceptable else \
            f"{compiled.name} reported {status_text}, but {problem_text}"
        return
    objective = out["f"] * compiled.objective_scale * compiled.objective_sign
    unit, factor = objective_unit(formulation)
    solution.objective = objective / factor
    solution.objective_unit = unit
    for row, value, multiplier in zip(compiled.rows, rows, out["lam_g"][compiled.n_equalities:]):
        if abs(value) <= 1e-6 and abs(multiplier) > 1e-9:
            solution.active_constraints.append(row.id)
            shadow = compiled.objective_sign * compiled.objective_scale * row.direction * float(multiplier) \
                * row.unit_factor / (row.scale * factor)
            solution.multipliers[row.id] = shadow
            solution.multiplier_units[row.id] = f"{unit} per {row.unit}"
    solution.message = f"{compiled.name}: {status_text}" + \
        (f" after {solution.iterations} iterations" if solution.iterations else "")
    if acceptable:
        solution.message += (f" (only its acceptable tolerance, so optimality is not proven to {IPOPT_TOL:g}; "
                             f"the point re-checks at the strict tolerances: residuals ≤ {RESIDUAL_TOL:g}, "
                             f"bounds and constraints hold)")
    flat = _flat_directions(compiled, formulation, out, p)
    if flat:
        solution.message += (f"; the objective does not change with {', '.join(flat)} near the answer (a 0.1% step "
                             "leaves it within 1e-10): that value is one of many that do as well")


def _flat_directions(compiled: CompiledNLP, formulation: Formulation, out: dict, p: list[float]) -> list[str]:
    """Continuous free variables the objective does not change with at the answer (reduced NLPs only).

    A 0.1% step either way that keeps every row and bound and leaves the scaled objective within
    1e-10 means the optimizer's value for that variable is arbitrary within a flat stretch.
    """
    if not compiled.reduced or compiled.evaluate is None:
        return []
    z = out["z"]
    here = float(compiled.evaluate(z, p)[0])
    lower, upper = compiled.x_bounds(formulation)
    flat = []
    for index, v in enumerate(compiled.decision):
        if formulation.integer.get(v) or z[index] == 0:
            continue
        for factor in (1.001, 0.999):
            point = z.copy()
            point[index] *= factor
            if not lower[index] <= point[index] <= upper[index]:
                continue
            f, g = compiled.evaluate(point, p)
            rows = np.array(g).ravel()[compiled.n_equalities:]
            if np.all(rows <= 1e-9) and abs(float(f) - here) <= 1e-10 * max(1.0, abs(here)):
                flat.append(v)
                break
    return flat


def _quantity(value: float, unit: str, digits: int = 4) -> str:
    """A number with its unit for a message (a dimensionless '1' is left out)."""
    return f"{value:.{digits}g}" + ("" if unit == "1" else f" {unit}")


_RUNAWAY = 1e6     # a free variable (or the objective) this many times its start has run off


def _runaway(compiled: CompiledNLP, formulation: Formulation, out: dict, p: list[float], *,
             status_text: str, violated: bool) -> tuple[str, str] | None:
    """(status, message) when the optimizer ran off towards infinity, else None.

    * A free variable that ended more than a million times its starting magnitude, on a side
      with no bound (or IPOPT's `Diverging_Iterates`), has run off. When the NLP is reduced (the
      free variables are its only decisions) the point is probed: if the objective is no worse
      ten times further out, with every row holding, the optimum lies at infinity (`unbounded`);
      if it is better ten times nearer the start, the optimizer stopped on the flat tail of the
      objective, not at an optimum (`failed`); otherwise it is a genuine, large optimum (None).
    * An optimizer that stopped short (iteration limit) with every row holding and the objective
      more than a million times its starting value is improving it without limit (`unbounded`).
    """
    registry, problem = formulation.registry, formulation.problem
    assert problem.objective is not None
    z = out["z"]
    diverging = status_text == "Diverging_Iterates"
    # (how far from its start, either way; variable; value; grown past _RUNAWAY on a side without a bound)
    moved: list[tuple[float, str, float, bool]] = []
    for index, v in enumerate(compiled.decision):
        if v not in problem.free:
            continue
        value = float(z[index]) * compiled.scale[v]
        reference = max(abs(formulation.start[v]), abs(registry.variables[v].nominal or 0.0), 1e-300)
        low, high = formulation.bounds(v)
        open_side = (value > 0 and high is None) or (value < 0 and low is None) or not np.isfinite(value)
        ratio = abs(value) / reference if np.isfinite(value) else math.inf
        moved.append((max(ratio, 1.0 / ratio if ratio > 0 else math.inf), v, value, open_side and ratio > _RUNAWAY))
    asked = f"{problem.objective.sense} {problem.objective.text}"
    runaway = [m for m in moved if m[3]]
    if runaway:
        ratio, v, value, _ = max(runaway)
    elif (not violated and status_text in ("Maximum_Iterations_Exceeded", "Diverging_Iterates")
          and moved and abs(out["f"]) > _RUNAWAY):
        ratio, v, value, _ = max(moved)
        unit = registry.variables[v].unit
        return "unbounded", (f"unbounded: the objective ({asked}) keeps improving without limit: {compiled.name} "
                             f"stopped ({status_text}) at {abs(out['f']):.2g} × its starting value, with {v} at "
                             f"{_quantity(value, unit)} ({ratio:.2g} × away from its start {_quantity(formulation.start[v], unit)}"
                             f"); bound {v} (--free {v}=MIN:MAX) or add a constraint that does")
    elif diverging and moved:
        ratio, v, value, _ = max(moved)
    else:
        return None
    unit = registry.variables[v].unit
    start = formulation.start[v]
    if compiled.reduced and not diverging and compiled.evaluate is not None and np.isfinite(value):
        here = float(compiled.evaluate(z, p)[0])
        tolerance = 1e-9 * max(1.0, abs(here))

        def probe(factor: float) -> float | None:
            """The objective with `v` scaled by `factor`, None when a row fails there."""
            point = z.copy()
            point[compiled.decision.index(v)] *= factor
            f, g = compiled.evaluate(point, p)
            rows = np.array(g).ravel()[compiled.n_equalities:]
            return float(f) if np.all(rows <= 1e-7) and np.isfinite(float(f)) else None

        further, nearer = probe(10.0), probe(0.1)
        if further is None or further > here + tolerance:
            if nearer is not None and nearer < here - tolerance:
                return "failed", (f"{compiled.name} stopped ({status_text}) on the flat tail of the objective "
                                  f"({asked}), not at an optimum: {v} = {_quantity(value, unit)}, {ratio:.2g} × its start "
                                  f"{_quantity(start, unit)}, and the objective is better ten times nearer; bound {v} "
                                  f"(--free {v}=MIN:MAX) or start it elsewhere")
            return None     # a genuine optimum, only a large one
    direction = "grows" if value > 0 else "falls"
    where = (f"{compiled.name} stopped at {_quantity(value, unit)}, {ratio:.2g} × its start {_quantity(start, unit)}"
             if np.isfinite(value) else f"{compiled.name} reports {status_text}")
    return "unbounded", (f"unbounded: the objective ({asked}) keeps improving as {v} {direction} without limit "
                         f"({where}; it has no {'max' if value > 0 else 'min'}); bound it (--free {v}=MIN:MAX) "
                         "or add a constraint that does")


def _outputs(prepared: Prepared, solution: Solution) -> dict[str, float]:
    """The scenarios' outputs at the solution, from a compiled forward function (outputs it cannot reach are left out)."""
    formulation = prepared.formulation
    problem = formulation.problem
    known = dict(zip(solution.unknowns, solution.x.tolist()))
    values = {o: known[o] for o in problem.outputs if o in known}
    rest = [o for o in problem.outputs if o not in known]
    if not rest:
        return values
    registry = prepared.registry
    assign = dict(problem.assign)
    for v in problem.free:
        if v in known:
            assign[v] = Assignment(v, known[v], registry.variables[v].unit, "solve", "solve")
    reachable = _reachable_outputs(registry, rest, assign, formulation.selection)
    if not reachable:
        return values
    forward = prepare(registry, Problem(name=f"{problem.name} outputs", assign=assign, select=problem.select,
                                        outputs=reachable))
    answer = solve_prepared(forward, outputs=False)
    if answer.status == "ok":
        computed = dict(zip(answer.unknowns, answer.x.tolist()))
        values.update({o: computed[o] for o in reachable if o in computed})
    return {o: values[o] for o in problem.outputs if o in values}


def _reachable_outputs(registry: Registry, outputs: list[str], assign: dict[str, Assignment],
                       selection: dict[str, str]) -> list[str]:
    """Outputs whose cone has no missing root (checked once per shape)."""

    def build() -> list[str]:
        from gpu_stack.audit.graph import upstream
        defining = registry.defining_equations(selection)
        keep = []
        for o in outputs:
            cone = upstream(registry, [o], selection, cut=set(assign))
            if all(v in assign or v in defining for v in cone):
                keep.append(o)
        return keep

    key = ("reachable", tuple(outputs), tuple(sorted(assign)), tuple(sorted(selection.items())))
    return cache_for(registry).get(key, build)


def solve_problem(registry: Registry, problem: Problem) -> SolveResult:
    """Solve, invert or optimize a problem; the status says how it ended."""
    return solve_prepared(prepare(registry, problem)).report()


def square_or_raise(prepared: Prepared) -> None:
    """Raise the structural diagnosis of a question that must be square (sensitivity, evaluation)."""
    refused = prepared.refusal()
    if refused is not None:
        raise ProblemError(refused[1], hint="assign the missing roots (or add a --preset)"
                           if refused[0] == "underdetermined" else None)
