"""Structural analysis → CasADi solve: simultaneous systems, inverse queries, optimization.

A problem is *formulated* (its cone, unknowns, equations and parameters),
*analysed* (matching and Dulmage–Mendelsohn, `structure.py`) and then

* without an objective: solved block by block in block-triangular order —
  explicit blocks are evaluated, algebraic loops and inverted equations go
  to CasADi's Newton rootfinder — inside one CasADi function of the
  parameters, built once per question shape and reused;
* with an objective: handed whole to IPOPT (bonmin when a free variable is
  an integer), variables scaled by their nominal values.

Every answer is checked by recomputing all residuals and bounds; a solve
that did not converge is reported as `failed` with the worst residual and
its equation, never returned as an answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ctypes
import io
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

import casadi as ca
import networkx as nx
import numpy as np

from gpu_stack.solver.symbolic import defining_value, residual, to_casadi
from gpu_stack.core import Assignment
from gpu_stack.errors import ProblemError
from gpu_stack.model.expressions import Compare, Var, Num, variables
from gpu_stack.audit.graph import upstream
from gpu_stack.model.problems import FreeSpec, Problem
from gpu_stack.model.registry import Registry
from gpu_stack.reports import SolveResult, StructureItem, ValueItem
from gpu_stack.audit.resolver import resolve
from gpu_stack.solver.structure import Structure, analyse, covers

__all__ = ["Formulation", "formulate", "solve_problem", "quiet_stdout", "compile_forward"]

RESIDUAL_TOL = 1e-8       # scaled residual accepted as converged
BOUND_TOL = 1e-9          # relative slack on min/max
TARGET_PREFIX = "target:"
# IPOPT and bonmin read |bound| >= 1e19 as "none"; bonmin can loop on true infinities
INFINITY = 1e20


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout and stderr (IPOPT's banner, bonmin's log, CasADi's
    per-iteration warnings) for the duration; failures are reported by the
    residual check instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real file descriptors (embedded use)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    sink = io.StringIO()  # CasADi routes IPOPT's printing through Python's sys.stdout
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        _flush_c_streams()  # C stdio buffers hold IPOPT's banner until flushed
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


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
            if ident.startswith(TARGET_PREFIX):
                values.append(self.problem.targets[ident[len(TARGET_PREFIX):]])
            else:
                values.append(self.fixed[ident])
        return values

    def bounds(self, ident: str) -> tuple[float | None, float | None]:
        variable = self.registry.variables[ident]
        low, high = variable.min, variable.max
        spec = self.problem.free.get(ident)
        if spec is not None:
            low = spec.min if spec.min is not None else low
            high = spec.max if spec.max is not None else high
        return low, high


def formulate(registry: Registry, problem: Problem) -> Formulation:
    """Work out the cone, unknowns, equations and parameters of a problem."""
    selection = registry.select(problem.select)
    freed = set(problem.free)
    both = sorted(freed & set(problem.targets))
    if both:
        raise ProblemError(f"'{both[0]}' is both a target and free",
                           hint="a target holds an output; free the input it stands for instead")
    fixed = {k: a.value for k, a in problem.assign.items() if k not in freed}
    seeds = problem.seeds or list(problem.outputs)
    if not seeds:
        raise ProblemError("nothing to solve", hint="give --target/--free, an objective, or scenarios with outputs")
    cut = set(fixed) | freed
    cone = upstream(registry, seeds, selection, cut=cut)
    order = {v: i for i, v in enumerate(registry.variables)}
    unknowns = sorted((v for v in cone if v not in fixed), key=order.__getitem__)
    unknown_set = set(unknowns)
    defining = registry.defining_equations(selection)
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
        key = TARGET_PREFIX + target
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
    params = sorted(used_fixed, key=order.__getitem__) + [TARGET_PREFIX + t for t in problem.targets]
    formulation = Formulation(registry, problem, selection, fixed, unknowns, equations, incidence, explicit,
                              params, rows, conflicts)
    _starting_point(formulation)
    return formulation


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
        variable = registry.variables[v]
        spec = problem.free.get(v, FreeSpec())
        low, high = formulation.bounds(v)
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
        if low is not None:
            guess = max(guess, low)
        if high is not None:
            guess = min(guess, high)
        integer = spec.integer or (v in problem.free and variable.integer)
        formulation.integer[v] = integer
        if integer:
            guess = float(round(guess))
        formulation.start[v] = float(guess)
        magnitude = abs(guess) if guess else abs(variable.nominal or 0) or 1.0
        formulation.scale[v] = 1.0 if integer else magnitude


# ------------------------------------------------------------------ structure


def structure_of(formulation: Formulation) -> Structure:
    """Match and decompose a formulated question (defining directions preferred)."""
    return analyse(formulation.equations, formulation.unknowns, formulation.incidence, formulation.explicit)


def _structure_item(formulation: Formulation, structure: Structure, *, optimizing: bool) -> StructureItem:
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
    involved = [e[len(TARGET_PREFIX):] for e in structure.over_equations if e.startswith(TARGET_PREFIX)]
    conflicts = list(formulation.conflicts) + [f"target '{t}'" for t in involved]
    return StructureItem(
        equations=len(formulation.equations), unknowns=len(formulation.unknowns), blocks=len(structure.blocks),
        loops=[sorted(b.variables) for b in structure.blocks if len(b.variables) > 1],
        under_variables=under, over_equations=structure.over_equations,
        missing_roots=[v for v in missing if v in under_set], unpinned_free=unpinned, conflicts=conflicts,
    )


def _over_message(formulation: Formulation, item: StructureItem) -> str:
    registry = formulation.registry
    equations = [e for e in item.over_equations if not e.startswith(TARGET_PREFIX)]
    held = [e[len(TARGET_PREFIX):] for e in item.over_equations if e.startswith(TARGET_PREFIX)]
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


def _under_message(item: StructureItem) -> str:
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


# ------------------------------------------------------------------ block solve


@dataclass
class CompiledBlocks:
    """One CasADi function: parameters and starting point → every unknown."""

    function: ca.Function
    residuals: ca.Function       # (unknowns, params) → scaled residuals of every equation
    newton_blocks: list[list[str]]


def _residual_scale(formulation: Formulation, equation_id: str) -> float:
    registry = formulation.registry
    if equation_id.startswith(TARGET_PREFIX):
        target = equation_id[len(TARGET_PREFIX):]
        value = abs(formulation.problem.targets[target]) or formulation.scale.get(target, 1.0)
        return value * registry.factors[target]
    v = formulation.explicit.get(equation_id)
    if v is not None:
        return formulation.scale[v] * registry.factors[v]
    equation = registry.equations[equation_id]
    values = {**formulation.fixed, **formulation.start}
    lhs = abs(float(to_casadi(registry, equation.lhs, lambda u: values[u])))
    rhs = abs(float(to_casadi(registry, equation.rhs, lambda u: values[u])))
    return max(lhs, rhs) or 1.0


def _residual_expr(formulation: Formulation, equation_id: str, symbol_of: Any) -> Any:
    registry = formulation.registry
    if equation_id.startswith(TARGET_PREFIX):
        target = equation_id[len(TARGET_PREFIX):]
        return (symbol_of(target) - symbol_of(equation_id)) * registry.factors[target]
    return residual(registry, registry.equations[equation_id], symbol_of)


def compile_blocks(formulation: Formulation, structure: Structure, *, line_search: bool = False) -> CompiledBlocks:
    """Build the block-triangular solve as one CasADi function.

    Newton takes full steps by default (fast, and right for near-linear blocks);
    `line_search=True` builds the damped variant that `solve_problem` falls back on.
    """
    registry = formulation.registry
    P = ca.MX.sym("p", len(formulation.params))
    X0 = ca.MX.sym("x0", len(formulation.unknowns))
    p_parts = ca.vertsplit(P) if formulation.params else []
    x0_parts = ca.vertsplit(X0) if formulation.unknowns else []
    known: dict[str, Any] = dict(zip(formulation.params, p_parts))
    start_of = dict(zip(formulation.unknowns, x0_parts))
    newton_blocks: list[list[str]] = []
    scales = {e: _residual_scale(formulation, e) for e in formulation.equations}
    for index, block in enumerate(structure.blocks):
        if len(block.equations) == 1:
            equation = registry.equations.get(block.equations[0])
            v = block.variables[0]
            if equation is not None and equation.defines == v and v not in equation.inputs:
                known[v] = defining_value(registry, equation, known.__getitem__)
                continue
        newton_blocks.append(list(block.variables))
        outside = _block_inputs(formulation, block)
        q = ca.SX.sym(f"q{index}", len(outside))
        local: dict[str, Any] = dict(zip(outside, ca.vertsplit(q) if outside else []))
        torn = _tearing(formulation, block)
        # Tearing: when the block is an inverted explicit chain (free inputs in, targets out),
        # Newton iterates on the free inputs only and the chain is evaluated inside.
        unknowns = torn[0] if torn else list(block.variables)
        z = ca.SX.sym(f"z{index}", len(unknowns))
        for v, part in zip(unknowns, ca.vertsplit(z)):
            local[v] = part * formulation.scale[v]
        residual_equations = list(block.equations)
        if torn:
            _, residual_equations, order = torn
            for e in order:
                equation = registry.equations[e]
                local[equation.defines] = defining_value(registry, equation, local.__getitem__)
        res = [_residual_expr(formulation, e, local.__getitem__) / scales[e] for e in residual_equations]
        g = ca.Function(f"block{index}", [z, q], [ca.vertcat(*res)])
        finder = ca.rootfinder(f"newton{index}", "newton", g,
                               {"abstol": 1e-12, "max_iter": 100, "error_on_fail": False,
                                "line_search": line_search})
        z0 = ca.vertcat(*[start_of[v] / formulation.scale[v] for v in unknowns])
        q_values = ca.vertcat(*[known[name] for name in outside]) if outside else ca.DM()
        solution = finder(z0, q_values)
        chain = ca.Function(f"chain{index}", [z, q], [ca.vertcat(*[local[v] for v in block.variables])])
        values = chain(solution, q_values)
        for i, v in enumerate(block.variables):
            known[v] = values[i]
    outputs = ca.vertcat(*[known[v] for v in formulation.unknowns]) if formulation.unknowns else ca.MX()
    function = ca.Function("solve", [P, X0], [outputs], ["p", "x0"], ["x"])
    return CompiledBlocks(function, _residual_function(formulation, scales), newton_blocks)


def _block_inputs(formulation: Formulation, block: Any) -> list[str]:
    """Known names a block reads: variables solved earlier, parameters, target values."""
    registry = formulation.registry
    inside = set(block.variables)
    outside: dict[str, None] = {}
    for e in block.equations:
        names = [e, e[len(TARGET_PREFIX):]] if e.startswith(TARGET_PREFIX) else registry.equations[e].variables
        for name in names:
            if name not in inside:
                outside.setdefault(name, None)
    return list(outside)


def _tearing(formulation: Formulation, block: Any) -> tuple[list[str], list[str], list[str]] | None:
    """(tear variables, residual equations, explicit order) when a block can be torn, else None.

    A block can be torn when its free variables match its target equations one to one and
    every other equation defines its own variable explicitly, without a cycle among them.
    """
    registry = formulation.registry
    tears = [v for v in block.variables if v in formulation.problem.free]
    targets = [e for e in block.equations if e.startswith(TARGET_PREFIX)]
    if not tears or len(tears) != len(targets):
        return None
    others = [e for e in block.equations if not e.startswith(TARGET_PREFIX)]
    produced: dict[str, str] = {}
    for e in others:
        equation = registry.equations.get(e)
        v = formulation.explicit.get(e)
        if equation is None or equation.defines != v or v not in block.variables or v in tears \
                or v in equation.inputs:
            return None
        produced[v] = e
    if set(produced) | set(tears) != set(block.variables):
        return None
    graph = nx.DiGraph()
    graph.add_nodes_from(others)
    for e in others:
        for u in registry.equations[e].inputs:
            if u in produced:
                graph.add_edge(produced[u], e)
    try:
        order = list(nx.topological_sort(graph))
    except nx.NetworkXUnfeasible:
        return None
    return tears, targets, order


def _residual_function(formulation: Formulation, scales: dict[str, float]) -> ca.Function:
    X = ca.SX.sym("x", len(formulation.unknowns))
    P = ca.SX.sym("p", len(formulation.params))
    symbols = dict(zip(formulation.unknowns, ca.vertsplit(X) if formulation.unknowns else []))
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    res = [_residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in formulation.equations]
    return ca.Function("residuals", [X, P], [ca.vertcat(*res) if res else ca.SX()])


def _check(formulation: Formulation, x: np.ndarray, p: list[float], residuals: ca.Function) -> str | None:
    """A message when the point is not a converged solution within bounds, else None."""
    registry = formulation.registry
    defined_by = {v: e for e, v in formulation.explicit.items()}
    for v, value in zip(formulation.unknowns, x):
        if not math.isfinite(value):
            where = f" in equation '{defined_by[v]}'" if v in defined_by else ""
            return (f"did not converge: '{v}' came out as {value}{where} (residual not finite: a division by zero, "
                    "a value outside a function's domain, or a Newton step that diverged)")
    if formulation.equations:
        r = np.array(residuals(x, p)).ravel()
        worst = int(np.argmax(np.abs(r)))
        if not np.isfinite(r).all() or abs(r[worst]) > RESIDUAL_TOL:
            return (f"did not converge: worst scaled residual {abs(r[worst]):.3g} in equation "
                    f"'{formulation.equations[worst]}'")
    for v, value in zip(formulation.unknowns, x):
        low, high = formulation.bounds(v)
        # relative to the variable's own magnitude, so a round-off -1e-51 on a bound of 0 passes
        span = BOUND_TOL * max(abs(value), formulation.scale.get(v, 0.0), abs(low or 0.0), abs(high or 0.0))
        if low is not None and value < low - span or high is not None and value > high + span:
            unit = registry.variables[v].unit
            return (f"'{v}' = {value:.6g} {unit} is outside its domain "
                    f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]")
    return None


# ------------------------------------------------------------------ optimization


@dataclass
class CompiledNLP:
    solver: ca.Function
    name: str
    n_equalities: int
    rows: list[ConstraintRow]
    row_scales: list[float]
    objective_scale: float
    objective_sign: float
    residuals: ca.Function
    scale: dict[str, float]      # variable scaling baked into the NLP


def compile_nlp(formulation: Formulation) -> CompiledNLP:
    """The whole question as one NLP for IPOPT (or bonmin with integers)."""
    registry, problem = formulation.registry, formulation.problem
    assert problem.objective is not None
    Z = ca.SX.sym("z", len(formulation.unknowns))
    P = ca.SX.sym("p", len(formulation.params))
    symbols: dict[str, Any] = {v: z * formulation.scale[v]
                               for v, z in zip(formulation.unknowns, ca.vertsplit(Z) if formulation.unknowns else [])}
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    scales = {e: _residual_scale(formulation, e) for e in formulation.equations}
    g = [_residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in formulation.equations]
    values = {**formulation.fixed, **formulation.start}
    row_scales = []
    for row in formulation.constraints:
        lhs = to_casadi(registry, row.node.left, symbols.__getitem__)
        rhs = to_casadi(registry, row.node.right, symbols.__getitem__)
        lhs0 = abs(float(to_casadi(registry, row.node.left, values.__getitem__)))
        rhs0 = abs(float(to_casadi(registry, row.node.right, values.__getitem__)))
        scale = max(lhs0, rhs0) or 1.0
        row_scales.append(scale)
        g.append(((rhs - lhs) if row.node.op in (">", ">=") else (lhs - rhs)) / scale)
    objective = to_casadi(registry, problem.objective.node, symbols.__getitem__)
    objective0 = abs(float(to_casadi(registry, problem.objective.node, values.__getitem__)))
    objective_scale = objective0 if objective0 > 0 and math.isfinite(objective0) else 1.0
    sign = 1.0 if problem.objective.sense == "minimize" else -1.0
    nlp = {"x": Z, "p": P, "f": sign * objective / objective_scale, "g": ca.vertcat(*g) if g else ca.SX()}
    discrete = [formulation.integer[v] for v in formulation.unknowns]
    if any(discrete):
        name = "bonmin"
        options = {"discrete": discrete, "print_time": False, "bonmin.bb_log_level": 0,
                   "bonmin.nlp_log_level": 0, "bonmin.algorithm": "B-BB", "bonmin.node_limit": 20000,
                   "bonmin.time_limit": 60.0}
    else:
        name = "ipopt"
        options = {"print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes", "ipopt.tol": 1e-12,
                   "ipopt.constr_viol_tol": 1e-10, "ipopt.max_iter": 500,
                   "ipopt.bound_relax_factor": 0.0}
    solver = ca.nlpsol("optimize", name, nlp, options)
    return CompiledNLP(solver, name, len(formulation.equations), formulation.constraints, row_scales, objective_scale, sign,
                       _residual_function(formulation, scales), dict(formulation.scale))


def _nlp_bounds(formulation: Formulation, scales: dict[str, float]) -> tuple[list[float], list[float]]:
    lower, upper = [], []
    for v in formulation.unknowns:
        low, high = formulation.bounds(v)
        scale = scales[v]
        lower.append(-INFINITY if low is None else low / scale)
        upper.append(INFINITY if high is None else high / scale)
    return lower, upper


def _g_bounds(compiled: CompiledNLP) -> tuple[list[float], list[float]]:
    lbg = [0.0] * compiled.n_equalities
    ubg = [0.0] * compiled.n_equalities
    for row in compiled.rows:
        lbg.append(0.0 if row.node.op == "==" else -INFINITY)
        ubg.append(0.0)
    return lbg, ubg


def _elastic(formulation: Formulation, compiled: CompiledNLP, p: list[float], x0: list[float]) -> list[str]:
    """Which inequalities cannot hold together: minimize their total violation."""
    registry = formulation.registry
    n = len(formulation.unknowns)
    m = len(compiled.rows)
    if m == 0:
        return []
    Z = ca.SX.sym("z", n)
    S = ca.SX.sym("s", m)
    P = ca.SX.sym("p", len(formulation.params))
    symbols: dict[str, Any] = {v: z * formulation.scale[v] for v, z in zip(formulation.unknowns, ca.vertsplit(Z))}
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    scales = {e: _residual_scale(formulation, e) for e in formulation.equations}
    g = [_residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in formulation.equations]
    for i, (row, scale) in enumerate(zip(compiled.rows, compiled.row_scales)):
        lhs = to_casadi(registry, row.node.left, symbols.__getitem__)
        rhs = to_casadi(registry, row.node.right, symbols.__getitem__)
        g.append(((rhs - lhs) if row.node.op in (">", ">=") else (lhs - rhs)) / scale - S[i])
    nlp = {"x": ca.vertcat(Z, S), "p": P, "f": ca.sum1(S), "g": ca.vertcat(*g)}
    solver = ca.nlpsol("elastic", "ipopt", nlp, {"print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes"})
    lbx, ubx = _nlp_bounds(formulation, formulation.scale)
    lbg = [0.0] * len(formulation.equations) + [-INFINITY] * m
    ubg = [0.0] * (len(formulation.equations) + m)
    with quiet_stdout():
        result = solver(x0=list(x0) + [0.0] * m, p=p, lbx=lbx + [0.0] * m, ubx=ubx + [INFINITY] * m, lbg=lbg, ubg=ubg)
    slack = np.array(result["x"]).ravel()[n:]
    return [row.id for row, s in zip(compiled.rows, slack) if s > 1e-6]


# ------------------------------------------------------------------ entry point


def _cache(registry: Registry) -> dict:
    return registry.__dict__.setdefault("_solve_cache", {})


def _signature(formulation: Formulation, kind: str) -> tuple:
    problem = formulation.problem
    return (kind, tuple(sorted(formulation.selection.items())), tuple(formulation.unknowns), tuple(formulation.params),
            tuple(formulation.equations), tuple(sorted((k, formulation.integer.get(k, False)) for k in problem.free)),
            (problem.objective.sense, problem.objective.text) if problem.objective else None,
            tuple((r.id, r.text) for r in formulation.constraints))


def _values(formulation: Formulation, x: np.ndarray) -> dict[str, ValueItem]:
    registry = formulation.registry
    return {v: ValueItem(value=float(value), unit=registry.variables[v].unit)
            for v, value in zip(formulation.unknowns, x)}


def solve_problem(registry: Registry, problem: Problem) -> SolveResult:
    """Solve, invert or optimize a problem; the status says how it ended."""
    optimizing = problem.objective is not None
    formulation, structure, item = _analysed(registry, problem, optimizing)
    result = SolveResult(status="ok", problem=problem.name, structure=item)
    if item.conflicts or structure.over_equations:
        result.status = "overdetermined"
        result.message = _over_message(formulation, item)
        return result
    if item.under_variables:
        result.status = "underdetermined"
        result.message = _under_message(item)
        return result
    p = formulation.param_values()
    x0 = [formulation.start[v] for v in formulation.unknowns]
    cache = _cache(registry)
    if not optimizing:
        for line_search in (False, True):  # full Newton steps first, damped ones if they fail
            key = _signature(formulation, "blocks" if not line_search else "blocks-damped")
            compiled = cache.get(key)
            if compiled is None:
                compiled = cache[key] = compile_blocks(formulation, structure, line_search=line_search)
            with quiet_stdout():
                x = np.array(compiled.function(p, x0)).ravel()
            problem_text = _check(formulation, x, p, compiled.residuals)
            if not problem_text or not compiled.newton_blocks:
                break
        result.solver = "newton" if compiled.newton_blocks else "explicit"
        result.residual_max = _max_residual(compiled.residuals, formulation, x, p)
        if problem_text:
            result.status = "failed"
            result.message = problem_text
            return result
        _fill(result, formulation, x)
        formulation.start.update(zip(formulation.unknowns, (float(v) for v in x)))  # warm start next time
        loops = len(compiled.newton_blocks)
        result.message = (f"solved {len(formulation.equations)} equations in {len(structure.blocks)} blocks"
                          + (f" ({loops} by Newton)" if loops else ""))
        return result
    key = _signature(formulation, "nlp")
    compiled_nlp = cache.get(key)
    if compiled_nlp is None:
        compiled_nlp = cache[key] = compile_nlp(formulation)
    scales = compiled_nlp.scale
    lbx, ubx = _nlp_bounds(formulation, scales)
    lbg, ubg = _g_bounds(compiled_nlp)
    z0 = [formulation.start[v] / scales[v] for v in formulation.unknowns]
    with quiet_stdout():
        out = compiled_nlp.solver(x0=z0, p=p, lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg)
    stats = compiled_nlp.solver.stats()
    result.solver = compiled_nlp.name
    result.iterations = stats.get("iter_count")
    z = np.array(out["x"]).ravel()
    x = z * np.array([scales[v] for v in formulation.unknowns])
    status_text = str(stats.get("return_status", ""))
    result.residual_max = _max_residual(compiled_nlp.residuals, formulation, x, p)
    g_values = np.array(out["g"]).ravel()[compiled_nlp.n_equalities:]
    violated = [row.id for row, value in zip(compiled_nlp.rows, g_values)
                if (value > 1e-7 or (row.node.op == "==" and abs(value) > 1e-7))]
    if not stats.get("success") or violated:
        infeasible = "Infeasible" in status_text or "infeasible" in status_text or violated
        if infeasible:
            conflicting = _elastic(formulation, compiled_nlp, p, [formulation.start[v] / formulation.scale[v]
                                                                  for v in formulation.unknowns]) or violated
            result.status = "infeasible"
            result.conflicting_constraints = conflicting
            result.message = (f"{compiled_nlp.name}: {status_text or 'constraints violated'}; "
                              + (f"these constraints cannot hold together: {', '.join(conflicting)}" if conflicting
                                 else "the targets cannot be met within the bounds of the free variables"))
        else:
            result.status = "failed"
            result.message = f"{compiled_nlp.name} stopped: {status_text}"
        return result
    problem_text = _check(formulation, x, p, compiled_nlp.residuals)
    if problem_text:
        result.status = "failed"
        result.message = f"{compiled_nlp.name} reported {status_text}, but {problem_text}"
        return result
    _fill(result, formulation, x)
    objective = float(out["f"]) * compiled_nlp.objective_scale * compiled_nlp.objective_sign
    obj_unit, obj_factor = _objective_unit(formulation)
    result.objective = objective / obj_factor
    result.objective_unit = obj_unit
    lam = np.array(out["lam_g"]).ravel()[compiled_nlp.n_equalities:]
    for row, value, multiplier, scale in zip(compiled_nlp.rows, g_values, lam, compiled_nlp.row_scales):
        if abs(value) <= 1e-6 and abs(multiplier) > 1e-9:
            result.active_constraints.append(row.id)
            direction = 1.0 if row.node.op in (">", ">=") else -1.0
            shadow = compiled_nlp.objective_sign * compiled_nlp.objective_scale * direction * float(multiplier) \
                * row.unit_factor / (scale * obj_factor)
            result.multipliers[row.id] = shadow
            result.multiplier_units[row.id] = f"{obj_unit} per {row.unit}"
    result.message = f"{compiled_nlp.name}: {status_text}" + \
        (f" after {result.iterations} iterations" if result.iterations else "")
    return result


def _problem_shape(registry: Registry, problem: Problem) -> tuple:
    """What fixes a question's formulation: everything but the assigned and target values."""
    return (tuple(sorted(registry.select(problem.select).items())), tuple(sorted(problem.assign)),
            tuple(problem.targets), tuple(sorted(problem.free.items())),
            (problem.objective.sense, problem.objective.text) if problem.objective else None,
            tuple(c.text for c in problem.constraints), tuple(problem.outputs))


def _analysed(registry: Registry, problem: Problem, optimizing: bool) -> tuple[Formulation, Structure, StructureItem]:
    """Formulation and structure of a problem, reused across calls of the same shape.

    A repeated question (new values, same shape) keeps the cone, the matching and the
    compiled functions; only the parameter values change, and the last solution is the
    starting point.
    """
    cache = _cache(registry)
    key = ("shape", _problem_shape(registry, problem))
    hit = cache.get(key)
    if hit is None:
        formulation = formulate(registry, problem)
        structure = structure_of(formulation)
        hit = cache[key] = (formulation, structure, _structure_item(formulation, structure, optimizing=optimizing))
        return hit
    formulation, structure, item = hit
    fixed = {k: a.value for k, a in problem.assign.items() if k not in problem.free}
    return dataclasses.replace(formulation, problem=problem, fixed=fixed), structure, item


def _objective_unit(formulation: Formulation) -> tuple[str, float]:
    node = formulation.problem.objective.node  # type: ignore[union-attr]
    if isinstance(node, Var) and node.id in formulation.registry.variables:
        unit = formulation.registry.variables[node.id].unit
        return unit, formulation.registry.factors[node.id]
    return "SI base units", 1.0


def _max_residual(residuals: ca.Function, formulation: Formulation, x: np.ndarray, p: list[float]) -> float | None:
    if not formulation.equations:
        return 0.0
    r = np.array(residuals(x, p)).ravel()
    return float(np.max(np.abs(r))) if np.isfinite(r).all() else None


def _fill(result: SolveResult, formulation: Formulation, x: np.ndarray) -> None:
    values = _values(formulation, x)
    result.values = values
    result.free = {v: values[v] for v in formulation.problem.free if v in values}
    # outputs of the scenarios, evaluated at the solution by the audit resolver
    outputs = formulation.problem.outputs
    if outputs:
        assign = dict(formulation.problem.assign)
        for v in formulation.problem.free:
            assign[v] = Assignment(v, values[v].value, values[v].unit, "solve", "solve")
        rest = [o for o in outputs if o not in values]
        audit = resolve(formulation.registry, rest, assign, formulation.selection) if rest else None
        for o in outputs:
            if o in values:
                result.outputs[o] = values[o]
            elif audit is not None and o in audit.values:
                result.outputs[o] = ValueItem(value=audit.values[o], unit=formulation.registry.variables[o].unit)


def compile_forward(registry: Registry, problem: Problem) -> tuple[Formulation, CompiledBlocks]:
    """The block solve of a square problem, for derivatives (sensitivity)."""
    formulation = formulate(registry, problem)
    structure = structure_of(formulation)
    item = _structure_item(formulation, structure, optimizing=False)
    if item.conflicts or structure.over_equations:
        raise ProblemError(_over_message(formulation, item))
    if item.under_variables:
        raise ProblemError(_under_message(item), hint="assign the missing roots (or add a --preset)")
    key = _signature(formulation, "blocks")
    cache = _cache(registry)
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = compile_blocks(formulation, structure)
    return formulation, compiled
