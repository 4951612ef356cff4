"""Sensitivity: exact derivatives of a target with respect to every assigned input.

The target is solved as a CasADi function of the assigned values (block
solve, loops included), then differentiated by algorithmic differentiation;
the elasticity d ln(target) / d ln(input) = (d target / d input) · input / target.
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from gpu_stack.errors import ProblemError
from gpu_stack.model.problems import Problem
from gpu_stack.model.registry import Registry
from gpu_stack.reports import SensitivityReport, SensitivityRoot
from gpu_stack.core import Question
from gpu_stack.solver.solve import _check, compile_forward, quiet_stdout

__all__ = ["sensitivity"]


def sensitivity(registry: Registry, target: str, question: Question) -> SensitivityReport:
    """Derivative and elasticity of `target` for every assigned variable in its cone, sorted by |elasticity|."""
    registry.require_variable(target)
    problem = Problem(name="sensitivity", scenarios=question.scenarios, assign=question.assign,
                      select=question.select, outputs=[target])
    formulation, compiled = compile_forward(registry, problem)
    params = [p for p in formulation.params if not p.startswith("target:")]
    p_values = formulation.param_values()
    x0 = [formulation.start[v] for v in formulation.unknowns]
    P = ca.MX.sym("p", len(formulation.params))
    x = compiled.function(P, ca.DM(x0))
    index = formulation.unknowns.index(target)
    value_expr = x[index]
    gradient = ca.Function("gradient", [P], [value_expr, ca.jacobian(value_expr, P)])
    with quiet_stdout():
        solution = np.array(compiled.function(p_values, x0)).ravel()
        value, jac = gradient(p_values)
    problem_text = _check(formulation, solution, p_values, compiled.residuals)
    if problem_text:
        raise ProblemError(f"cannot differentiate '{target}': {problem_text}")
    value = float(value)
    jac = np.array(jac).ravel()
    defining = registry.defining_equations(formulation.selection)
    roots = []
    for ident, derivative, p in zip(params, jac, p_values):
        elasticity = float(derivative) * p / value if value != 0 else 0.0  # ln undefined at 0: report 0
        roots.append(SensitivityRoot(id=ident, value=p, unit=registry.variables[ident].unit,
                                     derivative=float(derivative), elasticity=elasticity,
                                     source="override" if ident in defining else "assign"))
    roots.sort(key=lambda r: (-abs(r.elasticity), r.id))
    return SensitivityReport(target=target, value=value, unit=registry.variables[target].unit, roots=roots,
                             presets=question.preset_names)
