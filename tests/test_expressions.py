"""Safe expressions: the grammar, dimensions, and that nothing can execute code."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_stack.errors import ExpressionError, UnitError
from gpu_stack.model.expressions import (FLOAT_OPS, Binary, Call, Num, Unary, Var, dimension, evaluate,
                                   parse_condition, parse_equation, parse_expression, variables)


def test_precedence_and_associativity():
    # -2**2 is -(2**2) and 2**3**2 is 2**(3**2), as in Python and most math texts
    assert parse_expression("-2**2") == Unary("-", Binary("**", Num(2.0), Num(2.0)))
    assert evaluate(parse_expression("2**3**2"), lambda _: 0, FLOAT_OPS, None) == 512
    assert evaluate(parse_expression("1 - 2 - 3"), lambda _: 0, FLOAT_OPS, None) == -4
    assert evaluate(parse_expression("8 / 4 / 2"), lambda _: 0, FLOAT_OPS, None) == 1


def test_ids_holding_keywords():
    # `yield` is a Python keyword: the parser never goes through Python's
    lhs, rhs = parse_equation("fab.yield.die = exp(-fab.die.area * fab.yield.defect_density)")
    assert lhs == Var("fab.yield.die")
    assert variables(rhs) == ["fab.die.area", "fab.yield.defect_density"]


def test_functions_and_if_else():
    node = parse_expression("if_else(a.x < 2, max(a.x, 1, 0.5), min(a.x, 3))")
    assert isinstance(node, Call) and node.name == "if_else"
    values = {"a.x": 1.5}
    assert evaluate(node, values.__getitem__, FLOAT_OPS, None) == 1.5
    values["a.x"] = 2.5
    assert evaluate(node, values.__getitem__, FLOAT_OPS, None) == 2.5
    assert evaluate(parse_expression("ceil(7 / 2) + floor(7 / 2) + abs(-1)"), lambda _: 0, FLOAT_OPS, None) == 8


@pytest.mark.parametrize("text, needle", [
    ("__import__('os')", "unexpected character"),
    ("os.system(1)", "function 'os.system' is not allowed"),
    ("eval(1)", "function 'eval' is not allowed"),
    ("a.b.__class__", "not a valid ID"),
    ("a.b[0]", "brackets may only give the unit"),
    ("lambda: 1", "unexpected character ':'"),
    ("x if y else z", "unexpected 'if'"),
    ("1 [m] [s]", "unexpected '[s]'"),
    ("max(1)", "takes 2 or more arguments"),
    ("if_else(1, 2, 3)", "needs a comparison"),
    ("a.b < 2", "unexpected '<'"),
    ("exp", "needs arguments"),
    ("(1 + 2", "expected ')'"),
    ("", "empty expression"),
    ("1e", "unexpected"),
])
def test_forbidden_or_broken(text, needle):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert needle in str(info.value)


def test_conditions_and_equations():
    assert parse_condition("gpu.power.total <= gpu.tdp").op == "<="
    with pytest.raises(ExpressionError, match="not a comparison"):
        parse_condition("gpu.tdp")
    with pytest.raises(ExpressionError, match="exactly one '='"):
        parse_equation("a.b = c.d = e.f")
    with pytest.raises(ExpressionError, match="exactly one '='"):
        parse_equation("a.b <= c.d")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcxyz._()[]+-*/<=>,0123456789 eE'\"\\:;!@#$%^&`~{}|?", max_size=40))
def test_parser_only_raises_expression_errors(text):
    """Whatever the text, parsing returns a tree or raises ExpressionError: nothing else runs."""
    try:
        parse_expression(text)
    except ExpressionError:
        pass


def test_dimension_checks(registry):
    dims = registry.dims.__getitem__
    units = registry.units
    assert dimension(parse_expression("gpu.tdp * training.t_step"), dims, units) == units.dimensionality("J")
    assert dimension(parse_expression("6 [FLOP/token] * arch.params_total_dense"), dims, units) == \
        units.dimensionality("FLOP/token")
    with pytest.raises(UnitError, match="mixes"):
        dimension(parse_expression("gpu.tdp + training.t_step"), dims, units)
    with pytest.raises(UnitError, match="must be dimensionless"):
        dimension(parse_expression("exp(gpu.tdp)"), dims, units)
    with pytest.raises(UnitError, match="variable power"):
        dimension(parse_expression("gpu.tdp ** par.n_gpus"), dims, units)
    assert dimension(parse_expression("sqrt(gpu.tdp ** 2)"), dims, units) == units.dimensionality("W")


def test_magnitudes_follow_declared_units(registry):
    # 1 [hour] in root units is 3600 s: no hand-written factor anywhere
    value = evaluate(parse_expression("2 [hour] + 60 [s]"), lambda _: 0, FLOAT_OPS, registry.units)
    assert value == 7260
    assert math.isclose(evaluate(parse_expression("1 [kWh]"), lambda _: 0, FLOAT_OPS, registry.units), 3.6e6)


def test_if_else_evaluates_only_the_branch_taken():
    # the untaken branch divides by zero: with numbers it must not be evaluated
    node = parse_expression("if_else(a.n < 2, 0, 1 / (a.n - 1))")
    assert evaluate(node, {"a.n": 1.0}.__getitem__, FLOAT_OPS, None) == 0
    assert evaluate(node, {"a.n": 3.0}.__getitem__, FLOAT_OPS, None) == 0.5
