"""Optimization: a question with an objective, as one NLP for IPOPT (bonmin with integers).

Two formulations:

* **reduced** (the default when it applies): the decision variables are the
  free variables only; every other unknown is an explicit expression of
  them, because the question's equations, with the free variables known,
  are all explicit blocks. The forward model is embedded in the objective
  and constraints, so IPOPT sees a few variables and only the inequalities
  (the problem's and registry's constraints, and the min/max of the
  unknowns that the free variables move).
* **full**: every unknown is a decision variable and every equation an
  equality row — needed when a target is held or an algebraic loop (a
  Newton block) sits between the free variables and the objective.

Continuous variables are scaled by their starting magnitude (integers are not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import casadi as ca
import numpy as np

from gpu_stack.model.expressions import Var
from gpu_stack.solver.blocks import BOUND_TOL, RESIDUAL_TOL, bound_arrays, residual_expr, residual_function, \
    residual_scales
from gpu_stack.solver.formulation import Formulation
from gpu_stack.solver.silence import quiet_stdout
from gpu_stack.solver.structure import Structure, analyse
from gpu_stack.solver.symbolic import defining_value, to_casadi

__all__ = ["INFINITY", "IPOPT_TOL", "NLPRow", "CompiledNLP", "compile_nlp", "run_nlp", "elastic_conflicts"]

# IPOPT and bonmin read |bound| >= 1e19 as "none"; bonmin can loop on true infinities
INFINITY = 1e20
IPOPT_TOL = 1e-12   # IPOPT's (strict) convergence tolerance


@dataclass
class NLPRow:
    """One inequality (or equality) row `value sense 0`, value already scaled."""

    id: str
    equality: bool
    unit: str                      # the unit a multiplier is expressed per
    unit_factor: float             # that unit in base units
    scale: float                   # base-unit magnitude dividing the row
    direction: float               # +1 for `>=` rows (written rhs - lhs), -1 for `<=`
    domain: bool = False           # a variable's own min/max (reduced formulation), not a constraint


@dataclass
class CompiledNLP:
    """An NLP built once per question shape, and what reading its answer needs."""

    solver: ca.Function
    name: str                      # "ipopt" or "bonmin"
    reduced: bool
    decision: list[str]            # variables the NLP moves (free variables, or every unknown)
    scale: dict[str, float]        # scaling baked into the NLP, per decision variable
    n_equalities: int
    rows: list[NLPRow]
    objective_scale: float
    objective_sign: float
    unknowns: ca.Function          # (z, p) → every unknown of the formulation, declared units
    residuals: ca.Function         # (unknowns, p) → every equation's scaled residual
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray]   # lower, upper, slack of every unknown
    domain_rows: bool = True       # whether the min/max of computed unknowns are rows of this NLP
    pieces: tuple = ()             # (Z, P, equalities, row expressions): what the elastic re-solve is built from
    evaluate: ca.Function | None = None  # (z, p) → (scaled objective, rows): the NLP's own f and g at a point
    elastic: ca.Function | None = None   # the rows with a slack each, built when an answer is infeasible
    with_domains: Any = None       # () -> the same NLP with every domain row (built on first need)

    def accepts(self, x: np.ndarray, r: np.ndarray) -> bool:
        """Whether a point is converged (residuals) and within every min/max, vectorized."""
        if not (np.isfinite(x).all() and np.isfinite(r).all()):
            return False
        if r.size and np.max(np.abs(r)) > RESIDUAL_TOL:
            return False
        lower, upper, slack = self.bounds
        tolerance = np.maximum(BOUND_TOL * np.abs(x), slack)
        return bool(np.all(x >= lower - tolerance) and np.all(x <= upper + tolerance))

    def x_bounds(self, formulation: Formulation) -> tuple[list[float], list[float]]:
        """Scaled bounds of the decision variables."""
        lower, upper = [], []
        for v in self.decision:
            low, high = formulation.bounds(v)
            scale = self.scale[v]
            lower.append(-INFINITY if low is None else low / scale)
            upper.append(INFINITY if high is None else high / scale)
        return lower, upper

    def g_bounds(self) -> tuple[list[float], list[float]]:
        """Bounds of the rows: equalities at 0, inequalities ≤ 0."""
        lower = [0.0] * self.n_equalities + [0.0 if row.equality else -INFINITY for row in self.rows]
        return lower, [0.0] * (self.n_equalities + len(self.rows))


def _reducible(formulation: Formulation) -> Structure | None:
    """The forward structure with the free variables known, when every block of it is explicit."""
    if formulation.problem.targets:
        return None
    free = set(formulation.problem.free)
    rest = [v for v in formulation.unknowns if v not in free]
    structure = analyse(formulation.equations, rest, formulation.incidence, formulation.explicit)
    if structure.under_variables or structure.over_equations:
        return None
    registry = formulation.registry
    for block in structure.blocks:
        equation = registry.equations.get(block.equations[0])
        v = block.variables[0]
        if len(block.equations) != 1 or equation is None or equation.defines != v or v in equation.inputs:
            return None
    return structure


def compile_nlp(formulation: Formulation, *, domain_rows: bool = False) -> CompiledNLP:
    """Build the NLP of an optimization question (reduced when it can be, else full).

    A reduced NLP first leaves out the min/max of the computed unknowns (usually hundreds of
    inactive rows that slow IPOPT down); `run_nlp` re-solves with them when an answer breaks one.
    """
    registry, problem = formulation.registry, formulation.problem
    assert problem.objective is not None
    forward = _reducible(formulation)
    reduced = forward is not None
    decision = list(problem.free) if reduced else list(formulation.unknowns)
    decision = [v for v in formulation.unknowns if v in set(decision)]
    scale = {v: formulation.scale[v] for v in decision}  # integers are scaled by 1
    Z = ca.SX.sym("z", len(decision))
    P = ca.SX.sym("p", len(formulation.params))
    symbols: dict[str, Any] = {v: z * scale[v] for v, z in zip(decision, ca.vertsplit(Z) if decision else [])}
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    equalities: list[Any] = []
    if forward is not None:
        for block in forward.blocks:
            equation = registry.equations[block.equations[0]]
            symbols[block.variables[0]] = defining_value(registry, equation, symbols.__getitem__)
    else:
        scales = residual_scales(formulation)
        equalities = [residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in formulation.equations]
    values = {**formulation.fixed, **formulation.start}
    rows: list[NLPRow] = []
    row_exprs: list[Any] = []
    for row in formulation.constraints:
        lhs = to_casadi(registry, row.node.left, symbols.__getitem__)
        rhs = to_casadi(registry, row.node.right, symbols.__getitem__)
        lhs0 = abs(float(to_casadi(registry, row.node.left, values.__getitem__)))
        rhs0 = abs(float(to_casadi(registry, row.node.right, values.__getitem__)))
        row_scale = max(lhs0, rhs0) if math.isfinite(max(lhs0, rhs0)) and max(lhs0, rhs0) > 0 else 1.0
        greater = row.node.op in (">", ">=")
        rows.append(NLPRow(row.id, row.node.op == "==", row.unit or "SI base units", row.unit_factor, row_scale,
                           1.0 if greater else -1.0))
        row_exprs.append(((rhs - lhs) if greater else (lhs - rhs)) / row_scale)
    if reduced and domain_rows:
        # the min/max of unknowns the free variables move are rows now, not variable bounds
        z_dependent = ca.vertcat(*[symbols[v] for v in formulation.unknowns]) if formulation.unknowns else None
        for index, v in enumerate(formulation.unknowns):
            if v in scale:
                continue
            low, high = formulation.bounds(v)
            expr = symbols[v]
            if (low is None and high is None) or not ca.depends_on(z_dependent[index], Z):
                continue
            magnitude = formulation.scale.get(v) or 1.0
            unit = registry.variables[v].unit
            for bound, greater in ((low, True), (high, False)):
                if bound is None:
                    continue
                rows.append(NLPRow(f"{v} {'>=' if greater else '<='} {bound:g} {unit} (its domain)", False, unit,
                                   registry.factors[v], magnitude, 1.0 if greater else -1.0, domain=True))
                row_exprs.append(((bound - expr) if greater else (expr - bound)) / magnitude)
    objective = to_casadi(registry, problem.objective.node, symbols.__getitem__)
    objective0 = abs(float(to_casadi(registry, problem.objective.node, values.__getitem__)))
    objective_scale = objective0 if objective0 > 0 and math.isfinite(objective0) else 1.0
    sign = 1.0 if problem.objective.sense == "minimize" else -1.0
    g = ca.vertcat(*equalities, *row_exprs) if (equalities or row_exprs) else ca.SX(0, 1)
    nlp = {"x": Z, "p": P, "f": sign * objective / objective_scale, "g": g}
    discrete = [bool(formulation.integer.get(v)) for v in decision]
    if any(discrete):
        name = "bonmin"
        options: dict[str, Any] = {"discrete": discrete, "print_time": False, "bonmin.bb_log_level": 0,
                                   "bonmin.nlp_log_level": 0, "bonmin.algorithm": "B-BB",
                                   "bonmin.node_limit": 20000, "bonmin.time_limit": 60.0,
                                   # IPOPT's default bound relaxation (1e-8) puts an optimum at an integer bound a
                                   # hair outside it: fractional to bonmin, which then branches on it until its limits
                                   "bonmin.bound_relax_factor": 0.0}
    else:
        name = "ipopt"
        options = {"print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes", "ipopt.tol": IPOPT_TOL,
                   "ipopt.constr_viol_tol": 1e-10, "ipopt.max_iter": 500, "ipopt.bound_relax_factor": 0.0}
    solver = ca.nlpsol("optimize", name, nlp, options)
    all_unknowns = ca.vertcat(*[symbols[v] for v in formulation.unknowns]) if formulation.unknowns else ca.SX(0, 1)
    unknowns = ca.Function("unknowns", [Z, P], [all_unknowns], ["z", "p"], ["x"])
    compiled = CompiledNLP(solver, name, reduced, decision, scale, len(equalities), rows, objective_scale, sign,
                           unknowns, residual_function(formulation, residual_scales(formulation)),
                           bound_arrays(formulation))
    compiled.evaluate = ca.Function("evaluate", [Z, P], [nlp["f"], g], ["z", "p"], ["f", "g"])
    compiled.domain_rows = domain_rows or not reduced
    compiled.pieces = (Z, P, equalities, row_exprs)
    if not compiled.domain_rows:
        memo: list[CompiledNLP] = []

        def with_domains() -> CompiledNLP:
            if not memo:
                memo.append(compile_nlp(formulation, domain_rows=True))
            return memo[0]

        compiled.with_domains = with_domains
    return compiled


def _elastic_solver(Z: Any, P: Any, equalities: list[Any], row_exprs: list[Any]) -> ca.Function | None:
    """The same rows with a slack each; minimizing the slacks finds the rows that cannot hold together."""
    if not row_exprs:
        return None
    S = ca.SX.sym("s", len(row_exprs))
    g = ca.vertcat(*equalities, *[expr - S[i] for i, expr in enumerate(row_exprs)])
    nlp = {"x": ca.vertcat(Z, S), "p": P, "f": ca.sum1(S), "g": g}
    return ca.nlpsol("elastic", "ipopt", nlp, {"print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes"})


def run_nlp(compiled: CompiledNLP, formulation: Formulation, p: list[float]) -> tuple[CompiledNLP, dict[str, Any]]:
    """Call the NLP from the formulation's starting point: the NLP that answered, its raw answer and stats.

    When an NLP without domain rows does not end cleanly — outside a computed unknown's min/max,
    or anything but IPOPT's (or bonmin's) plain success — the NLP with every domain row answers
    instead, so a hard question is answered as if the rows had never been left out.
    """
    out = _call(compiled, formulation, p)
    if not compiled.domain_rows and compiled.with_domains is not None:
        x = np.array(compiled.unknowns(out["z"], p)).ravel()
        lower, upper, slack = compiled.bounds
        tolerance = np.maximum(BOUND_TOL * np.abs(x), slack)
        clean = bool(out["stats"].get("success")) and out["stats"].get("return_status") in (
            "Solve_Succeeded", "SUCCESS")
        if not (clean and np.isfinite(x).all() and np.all(x >= lower - tolerance) and np.all(x <= upper + tolerance)):
            compiled = compiled.with_domains()
            out = _call(compiled, formulation, p)
    return compiled, out


def _call(compiled: CompiledNLP, formulation: Formulation, p: list[float]) -> dict[str, Any]:
    lbx, ubx = compiled.x_bounds(formulation)
    lbg, ubg = compiled.g_bounds()
    z0 = [formulation.start[v] / compiled.scale[v] for v in compiled.decision]
    with quiet_stdout():
        out = compiled.solver(x0=z0, p=p, lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg)
    z = np.array(out["x"]).ravel()
    # bonmin's answer leaves g as NaN: the rows are evaluated here, so they are checked for every solver
    g = np.array(compiled.evaluate(z, p)[1]).ravel() if compiled.evaluate is not None else np.array(out["g"]).ravel()
    return {"z": z, "f": float(out["f"]), "g": g,
            "lam_g": np.array(out["lam_g"]).ravel(), "stats": compiled.solver.stats()}


def elastic_conflicts(compiled: CompiledNLP, formulation: Formulation, p: list[float]) -> list[str]:
    """Which rows cannot hold together: those left with slack when the total violation is minimized.

    Integer decisions are relaxed: a conflict found here holds for the continuous problem too.
    """
    if compiled.elastic is None:
        compiled.elastic = _elastic_solver(*compiled.pieces)
    if compiled.elastic is None:
        return []
    m = len(compiled.rows)
    lbx, ubx = compiled.x_bounds(formulation)
    lbg = [0.0] * compiled.n_equalities + [-INFINITY] * m
    ubg = [0.0] * (compiled.n_equalities + m)
    z0 = [formulation.start[v] / compiled.scale[v] for v in compiled.decision]
    with quiet_stdout():
        result = compiled.elastic(x0=z0 + [0.0] * m, p=p, lbx=lbx + [0.0] * m, ubx=ubx + [INFINITY] * m,
                                  lbg=lbg, ubg=ubg)
    slack = np.array(result["x"]).ravel()[len(compiled.decision):]
    violated = [row.id for row, s in zip(compiled.rows, slack) if s > 1e-6]
    if not violated:
        return []
    # the rows that hold, but only just, and push against the violated ones: they are in the conflict too
    rows = np.array(result["g"]).ravel()[compiled.n_equalities:]
    multipliers = np.array(result["lam_g"]).ravel()[compiled.n_equalities:]
    binding = [row.id for row, s, value, lam in zip(compiled.rows, slack, rows, multipliers)
               if not row.domain and s <= 1e-6 and abs(value) <= 1e-6 and abs(lam) > 1e-8]
    return violated + [ident for ident in binding if ident not in violated]


def objective_unit(formulation: Formulation) -> tuple[str, float]:
    """The objective's unit (a variable's declared unit, else SI base units) and its factor."""
    node = formulation.problem.objective.node  # type: ignore[union-attr]
    if isinstance(node, Var) and node.id in formulation.registry.variables:
        return formulation.registry.variables[node.id].unit, formulation.registry.factors[node.id]
    return "SI base units", 1.0
