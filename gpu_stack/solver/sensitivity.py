"""Sensitivity: exact derivatives of a target with respect to every assigned input.

The target is solved as a CasADi function of the assigned values (block
solve, loops included), then differentiated by algorithmic differentiation;
the elasticity d ln(target) / d ln(input) = (d target / d input) · input / target.
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from gpu_stack.core import Question, is_target_key
from gpu_stack.errors import ProblemError
from gpu_stack.model.problems import Problem
from gpu_stack.model.registry import Registry
from gpu_stack.reports import SensitivityReport, SensitivityRoot
from gpu_stack.solver.blocks import CompiledBlocks, diagnose
from gpu_stack.solver.cache import cache_for
from gpu_stack.solver.silence import quiet_stdout
from gpu_stack.solver.solve import forward_blocks, prepare, square_or_raise

__all__ = ["sensitivity"]


def sensitivity(registry: Registry, target: str, question: Question) -> SensitivityReport:
    """Derivative and elasticity of `target` for every assigned variable in its cone, sorted by |elasticity|."""
    registry.require_variable(target)
    problem = Problem(name="sensitivity", scenarios=question.scenarios, assign=question.assign,
                      select=question.select, outputs=[target])
    prepared = prepare(registry, problem)
    square_or_raise(prepared)
    formulation = prepared.formulation
    compiled = forward_blocks(prepared)
    p_values = formulation.param_values()
    x0 = [formulation.start[v] for v in formulation.unknowns]
    with quiet_stdout():
        x, residual_max, bound_violation = compiled.function(p_values, x0)
    if not compiled.accepted(float(residual_max), float(bound_violation)):
        message = diagnose(formulation, np.array(x).ravel(), p_values, compiled.residuals)
        raise ProblemError(f"cannot differentiate '{target}': {message}")
    index = formulation.unknowns.index(target)
    gradient = cache_for(registry).get(("gradient", id(compiled.function), index),
                                       lambda: _gradient(compiled, len(formulation.params), x0, index))
    with quiet_stdout():
        value, jac = gradient(p_values)
    value = float(value)
    jac = np.array(jac).ravel()
    defining = registry.defining_equations(formulation.selection)
    roots = []
    for ident, derivative, p in zip(formulation.params, jac, p_values):
        if is_target_key(ident):
            continue
        elasticity = float(derivative) * p / value if value != 0 else 0.0  # ln undefined at 0: report 0
        roots.append(SensitivityRoot(id=ident, value=p, unit=registry.variables[ident].unit,
                                     derivative=float(derivative), elasticity=elasticity,
                                     source="override" if ident in defining else "assign"))
    roots.sort(key=lambda r: (-abs(r.elasticity), r.id))
    return SensitivityReport(target=target, value=value, unit=registry.variables[target].unit, roots=roots,
                             presets=question.preset_names)


def _gradient(compiled: CompiledBlocks, n_params: int, x0: list[float], index: int) -> ca.Function:
    """p → (target, d target / d p), through the whole block solve (Newton blocks included)."""
    P = ca.MX.sym("p", n_params)
    x = compiled.function(P, ca.DM(x0))[0]
    return ca.Function("gradient", [P], [x[index], ca.jacobian(x[index], P)])
