"""Registry expressions → CasADi symbolic expressions.

Symbols carry values in each variable's *declared* unit; the unit factors
to SI base units are folded into the expressions, so an equation's residual
is `lhs - rhs` in base units and every variable keeps its own unit.
"""

from __future__ import annotations

from typing import Any, Callable

import casadi as ca

from gpu_stack.model.expressions import Node, evaluate
from gpu_stack.model.registry import CompiledEquation, Registry

__all__ = ["CASADI_OPS", "to_casadi", "residual", "defining_value"]


def _pow(base: Any, exponent: Any) -> Any:
    return base**exponent


CASADI_OPS: dict[str, Callable[..., Any]] = {
    "exp": ca.exp, "log": ca.log, "log10": ca.log10, "sqrt": ca.sqrt,
    "sin": ca.sin, "cos": ca.cos, "tan": ca.tan,
    "min": ca.fmin, "max": ca.fmax, "abs": ca.fabs,
    "floor": ca.floor, "ceil": ca.ceil, "if_else": ca.if_else, "pow": _pow,
}


def to_casadi(registry: Registry, node: Node, symbol_of: Callable[[str], Any]) -> Any:
    """A CasADi expression (base units) of a registry expression.

    `symbol_of(id)` returns the symbol (or expression) of a variable in its
    declared unit; constants are folded in as numbers.
    """

    def value_of(ident: str) -> Any:
        if ident in registry.constants:
            return registry.constant_values[ident] * registry.factors[ident]
        factor = registry.factors[ident]
        # a CasADi product costs tens of microseconds from Python: most units are SI already
        return symbol_of(ident) if factor == 1.0 else symbol_of(ident) * factor

    return evaluate(node, value_of, CASADI_OPS, registry.units)


def residual(registry: Registry, equation: CompiledEquation, symbol_of: Callable[[str], Any]) -> Any:
    """`lhs - rhs` of an equation, in base units."""
    return to_casadi(registry, equation.lhs, symbol_of) - to_casadi(registry, equation.rhs, symbol_of)


def defining_value(registry: Registry, equation: CompiledEquation, symbol_of: Callable[[str], Any]) -> Any:
    """The value an explicit equation gives its variable, in the variable's declared unit."""
    assert equation.defines is not None
    factor = registry.factors[equation.defines]
    value = to_casadi(registry, equation.rhs, symbol_of)
    return value if factor == 1.0 else value / factor
