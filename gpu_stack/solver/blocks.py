"""The block-triangular solve of a square question, as one CasADi function.

Blocks come in the order `structure` found: a block of one equation that
defines its own variable explicitly is evaluated symbolically; any other
block (an algebraic loop, or an equation used backwards) goes to CasADi's
Newton rootfinder. When every block is explicit the whole function is built
in SX (scalar graphs, the fastest to evaluate); a Newton block needs MX.

The function also returns what the answer is checked with — every scaled
residual's largest magnitude and the largest bound violation — so a warm
call checks itself inside the compiled code: CasADi's rootfinder can return
an unconverged point silently, and that is never passed on as an answer.
"""

from __future__ import annotations

import graphlib
import math
from dataclasses import dataclass
from typing import Any

import casadi as ca
import numpy as np

from gpu_stack.core import is_target_key, target_of
from gpu_stack.solver.fastcall import FastCall
from gpu_stack.solver.formulation import Formulation
from gpu_stack.solver.structure import Block, Structure
from gpu_stack.solver.symbolic import defining_value, residual, to_casadi

__all__ = ["RESIDUAL_TOL", "BOUND_TOL", "CompiledBlocks", "compile_blocks", "residual_scales", "residual_expr",
           "residual_function", "constraint_function", "bound_arrays", "diagnose"]

RESIDUAL_TOL = 1e-8       # scaled residual accepted as converged
BOUND_TOL = 1e-9          # relative slack on min/max
_NO_BOUND = 1e300         # stands for "no bound" inside compiled functions (inf - inf would be NaN)
_FINITE = 1e308           # |value| below this is finite; NaN and inf fail the comparison


@dataclass
class CompiledBlocks:
    """The solve of a square question.

    `function(p, x0) -> (x, residual_max, bound_violation)`: every unknown
    in declared units, the largest scaled residual (NaN-safe: NaN or inf
    when any residual is not finite) and the largest relative bound
    violation (≤ 0 when every unknown is within its min/max).
    """

    function: ca.Function
    residuals: ca.Function | None  # (unknowns, params) → every scaled residual; built by `diagnose` when needed
    newton_blocks: list[list[str]]
    symbolic: str                # "SX" or "MX"

    def __post_init__(self) -> None:
        self.fast = FastCall(self.function)

    def accepted(self, residual_max: float, bound_violation: float) -> bool:
        """Whether a call's own check says the point is a converged answer within bounds."""
        return residual_max <= RESIDUAL_TOL and bound_violation <= 0.0


def residual_scales(formulation: Formulation) -> dict[str, float]:
    """A typical magnitude (base units) of each equation, dividing its residual."""
    registry = formulation.registry
    values = {**formulation.fixed, **formulation.start}
    scales: dict[str, float] = {}
    for equation_id in formulation.equations:
        if is_target_key(equation_id):
            target = target_of(equation_id)
            value = abs(formulation.problem.targets[target]) or formulation.scale.get(target, 1.0)
            scales[equation_id] = value * registry.factors[target]
            continue
        v = formulation.explicit.get(equation_id)
        if v is not None:
            scales[equation_id] = formulation.scale[v] * registry.factors[v]
            continue
        equation = registry.equations[equation_id]
        lhs = abs(float(to_casadi(registry, equation.lhs, values.__getitem__)))
        rhs = abs(float(to_casadi(registry, equation.rhs, values.__getitem__)))
        scales[equation_id] = max(lhs, rhs) or 1.0
    return scales


def residual_expr(formulation: Formulation, equation_id: str, symbol_of: Any) -> Any:
    """`lhs - rhs` of an equation (or `value - target` of a target), in base units."""
    registry = formulation.registry
    if is_target_key(equation_id):
        target = target_of(equation_id)
        return (symbol_of(target) - symbol_of(equation_id)) * registry.factors[target]
    return residual(registry, registry.equations[equation_id], symbol_of)


def residual_function(formulation: Formulation, scales: dict[str, float]) -> ca.Function:
    """(unknowns, params) → every equation's scaled residual."""
    X = ca.SX.sym("x", len(formulation.unknowns))
    P = ca.SX.sym("p", len(formulation.params))
    symbols = dict(zip(formulation.unknowns, ca.vertsplit(X) if formulation.unknowns else []))
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    res = [residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in formulation.equations]
    return ca.Function("residuals", [X, P], [ca.vertcat(*res) if res else ca.SX(0, 1)])


def constraint_function(formulation: Formulation, rows: list) -> ca.Function:
    """(unknowns, params) → each constraint row as a relative violation (≤ 0 when it holds)."""
    registry = formulation.registry
    X = ca.SX.sym("x", len(formulation.unknowns))
    P = ca.SX.sym("p", len(formulation.params))
    symbols = dict(zip(formulation.unknowns, ca.vertsplit(X) if formulation.unknowns else []))
    symbols.update(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    values = []
    for row in rows:
        lhs = to_casadi(registry, row.node.left, symbols.__getitem__)
        rhs = to_casadi(registry, row.node.right, symbols.__getitem__)
        difference = (rhs - lhs) if row.node.op in (">", ">=") else (lhs - rhs)
        if row.node.op == "==":
            difference = ca.fabs(difference)
        values.append(difference / ca.fmax(ca.fmax(ca.fabs(lhs), ca.fabs(rhs)), 1e-300))
    return ca.Function("constraint_rows", [X, P], [ca.vertcat(*values)])


def bound_arrays(formulation: Formulation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, slack) per unknown; a missing bound is ±1e300; slack is BOUND_TOL × a magnitude."""
    lower, upper, slack = [], [], []
    for v in formulation.unknowns:
        low, high = formulation.bounds(v)
        lower.append(-_NO_BOUND if low is None else low)
        upper.append(_NO_BOUND if high is None else high)
        slack.append(BOUND_TOL * max(formulation.scale.get(v, 0.0), abs(low or 0.0), abs(high or 0.0)))
    return np.array(lower), np.array(upper), np.array(slack)


def _checks(formulation: Formulation, x: Any, p: Any, scales: dict[str, float], equations: list[str]
            ) -> tuple[Any, Any]:
    """Symbolic (largest scaled residual of `equations`, largest bound violation) of a point.

    Only the equations solved by Newton need their residual: an explicit block's equation holds
    by construction, and a NaN or inf it produces shows in the unknowns themselves.
    """
    sym = type(x)
    symbols = dict(zip(formulation.unknowns, ca.vertsplit(x) if formulation.unknowns else []))
    symbols.update(zip(formulation.params, ca.vertsplit(p) if formulation.params else []))
    res = [residual_expr(formulation, e, symbols.__getitem__) / scales[e] for e in equations]
    if res:
        r = ca.vertcat(*res)
        # fmax ignores NaN: count non-finite residuals separately (a NaN compares false)
        bad = ca.sum1(1 - (ca.fabs(r) < _FINITE))
        residual_max = ca.if_else(bad > 0, sym(math.inf), ca.mmax(ca.fabs(r)))
    else:
        residual_max = sym(0.0)
    if formulation.unknowns:
        lower, upper, slack = bound_arrays(formulation)
        tolerance = ca.fmax(BOUND_TOL * ca.fabs(x), ca.DM(slack))
        violation = ca.fmax(ca.DM(lower) - x, x - ca.DM(upper)) - tolerance
        bad = ca.sum1(1 - (ca.fabs(x) < _FINITE))
        bound_violation = ca.if_else(bad > 0, sym(math.inf), ca.mmax(violation))
    else:
        bound_violation = sym(-1.0)
    return residual_max, bound_violation


def _explicit(formulation: Formulation, block: Block) -> bool:
    if len(block.equations) != 1:
        return False
    equation = formulation.registry.equations.get(block.equations[0])
    v = block.variables[0]
    return equation is not None and equation.defines == v and v not in equation.inputs


def compile_blocks(formulation: Formulation, structure: Structure, *, line_search: bool = False) -> CompiledBlocks:
    """Build the block-triangular solve as one CasADi function of (p, x0).

    Newton takes full steps by default (fast, and right for near-linear blocks);
    `line_search=True` builds the damped variant a failed solve falls back on.
    """
    registry = formulation.registry
    scales = residual_scales(formulation)
    explicit_only = all(_explicit(formulation, block) for block in structure.blocks)
    sym = ca.SX if explicit_only else ca.MX
    P = sym.sym("p", len(formulation.params))
    X0 = sym.sym("x0", len(formulation.unknowns))
    known: dict[str, Any] = dict(zip(formulation.params, ca.vertsplit(P) if formulation.params else []))
    start_of = dict(zip(formulation.unknowns, ca.vertsplit(X0) if formulation.unknowns else []))
    newton_blocks: list[list[str]] = []
    newton_equations: list[str] = []
    for index, block in enumerate(structure.blocks):
        if _explicit(formulation, block):
            equation = registry.equations[block.equations[0]]
            known[block.variables[0]] = defining_value(registry, equation, known.__getitem__)
            continue
        newton_blocks.append(list(block.variables))
        newton_equations.extend(block.equations)
        _newton_block(formulation, block, index, scales, known, start_of, line_search)
    x = ca.vertcat(*[known[v] for v in formulation.unknowns]) if formulation.unknowns else sym(0, 1)
    residual_max, bound_violation = _checks(formulation, x, P, scales, newton_equations)
    function = ca.Function("solve", [P, X0], [x, residual_max, bound_violation], ["p", "x0"],
                           ["x", "residual_max", "bound_violation"])
    return CompiledBlocks(function, None, newton_blocks, "SX" if explicit_only else "MX")


def _newton_block(formulation: Formulation, block: Block, index: int, scales: dict[str, float],
                  known: dict[str, Any], start_of: dict[str, Any], line_search: bool) -> None:
    """Solve one loop (or inverted equation) with a Newton rootfinder; its values join `known`."""
    registry = formulation.registry
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
    res = [residual_expr(formulation, e, local.__getitem__) / scales[e] for e in residual_equations]
    g = ca.Function(f"block{index}", [z, q], [ca.vertcat(*res)])
    finder = ca.rootfinder(f"newton{index}", "newton", g,
                           {"abstol": 1e-12, "max_iter": 100, "error_on_fail": False, "line_search": line_search})
    z0 = ca.vertcat(*[start_of[v] / formulation.scale[v] for v in unknowns])
    q_values = ca.vertcat(*[known[name] for name in outside]) if outside else ca.DM(0, 1)
    solution = finder(z0, q_values)
    chain = ca.Function(f"chain{index}", [z, q], [ca.vertcat(*[local[v] for v in block.variables])])
    values = chain(solution, q_values)
    for i, v in enumerate(block.variables):
        known[v] = values[i]


def _block_inputs(formulation: Formulation, block: Block) -> list[str]:
    """Known names a block reads: variables solved earlier, parameters, target values."""
    registry = formulation.registry
    inside = set(block.variables)
    outside: dict[str, None] = {}
    for e in block.equations:
        names = [e, target_of(e)] if is_target_key(e) else registry.equations[e].variables
        for name in names:
            if name not in inside:
                outside.setdefault(name, None)
    return list(outside)


def _tearing(formulation: Formulation, block: Block) -> tuple[list[str], list[str], list[str]] | None:
    """(tear variables, residual equations, explicit order) when a block can be torn, else None.

    A block can be torn when its free variables match its target equations one to one and
    every other equation defines its own variable explicitly, without a cycle among them.
    """
    registry = formulation.registry
    tears = [v for v in block.variables if v in formulation.problem.free]
    targets = [e for e in block.equations if is_target_key(e)]
    if not tears or len(tears) != len(targets):
        return None
    others = [e for e in block.equations if not is_target_key(e)]
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
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for e in others:
        sorter.add(e, *[produced[u] for u in registry.equations[e].inputs if u in produced])
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError:
        return None
    return tears, targets, order


def diagnose(formulation: Formulation, x: np.ndarray, p: list[float], residuals: ca.Function | None = None
             ) -> str | None:
    """Why a point is not a converged answer within bounds (a message), or None when it is.

    The compiled function already decided; this names the variable or equation, off the hot path
    (building the residual function of every equation when none is given).
    """
    registry = formulation.registry
    if residuals is None and formulation.equations:
        residuals = residual_function(formulation, residual_scales(formulation))
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
    lower, upper, slack = bound_arrays(formulation)
    for v, value, low, high, base in zip(formulation.unknowns, x, lower, upper, slack):
        # relative to the variable's own magnitude, so a round-off -1e-51 on a bound of 0 passes
        span = max(BOUND_TOL * abs(value), base)
        if value < low - span or value > high + span:
            unit = registry.variables[v].unit
            shown_low = "-inf" if low <= -_NO_BOUND else f"{low:g}"
            shown_high = "inf" if high >= _NO_BOUND else f"{high:g}"
            return f"'{v}' = {value:.6g} {unit} is outside its domain [{shown_low}, {shown_high}]"
    return None
