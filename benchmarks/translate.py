"""Registry equations → plain expression strings, for the other engines.

The strings are the formulas the gpu_stack engine evaluates: every variable
is carried in its declared unit and multiplied by its factor to SI base
units where it is read; a defining equation `v = rhs` divides the base-unit
right side by v's own factor. Unit literals and constants are folded in as
numbers. The walk is `gpu_stack.expressions.evaluate` itself, fed with a
string-building value type instead of floats or CasADi symbols, so the
operator tree is exactly the engine's.

Two dialects: "python" (math.* names, for a generated pure-Python function)
and "openmdao" (the names ExecComp understands).
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from typing import Any, Callable

from gpu_stack.model.expressions import Node, evaluate

__all__ = ["Code", "Translator", "ForwardModel", "forward_model", "ForwardProgram", "forward_program"]


def _num(value: float) -> str:
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _wrap(value: Any) -> "Code":
    return value if isinstance(value, Code) else Code(_num(value))


class Code:
    """A piece of expression source; arithmetic builds parenthesised source."""

    __slots__ = ("src",)

    def __init__(self, src: str) -> None:
        self.src = src

    def _bin(self, op: str, other: Any, reverse: bool = False) -> "Code":
        a, b = (_wrap(other), self) if reverse else (self, _wrap(other))
        return Code(f"({a.src} {op} {b.src})")

    def __add__(self, o: Any) -> "Code": return self._bin("+", o)
    def __radd__(self, o: Any) -> "Code": return self._bin("+", o, True)
    def __sub__(self, o: Any) -> "Code": return self._bin("-", o)
    def __rsub__(self, o: Any) -> "Code": return self._bin("-", o, True)
    def __mul__(self, o: Any) -> "Code": return self._bin("*", o)
    def __rmul__(self, o: Any) -> "Code": return self._bin("*", o, True)
    def __truediv__(self, o: Any) -> "Code": return self._bin("/", o)
    def __rtruediv__(self, o: Any) -> "Code": return self._bin("/", o, True)
    def __neg__(self) -> "Code": return Code(f"(-{self.src})")
    def __lt__(self, o: Any) -> "Code": return self._bin("<", o)  # type: ignore[override]
    def __le__(self, o: Any) -> "Code": return self._bin("<=", o)  # type: ignore[override]
    def __gt__(self, o: Any) -> "Code": return self._bin(">", o)  # type: ignore[override]
    def __ge__(self, o: Any) -> "Code": return self._bin(">=", o)  # type: ignore[override]
    def __eq__(self, o: Any) -> "Code": return self._bin("==", o)  # type: ignore[override]
    def __ne__(self, o: Any) -> "Code": return self._bin("!=", o)  # type: ignore[override]
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        # `evaluate` takes one branch of if_else when the condition is a number; source is not one,
        # so refusing a truth value makes it keep both branches and call the dialect's if_else
        raise TypeError("a piece of source has no truth value")


def _call(name: str) -> Callable[..., Code]:
    def make(*args: Any) -> Code:
        return Code(f"{name}({', '.join(_wrap(a).src for a in args)})")
    return make


def _pow(base: Any, exponent: Any) -> Code:
    return Code(f"({_wrap(base).src} ** {_wrap(exponent).src})")


def _ops(dialect: str) -> dict[str, Callable[..., Any]]:
    if dialect == "python":
        names = {"exp": "exp", "log": "log", "log10": "log10", "sqrt": "sqrt", "sin": "sin", "cos": "cos",
                 "tan": "tan", "min": "min", "max": "max", "abs": "abs", "floor": "floor", "ceil": "ceil"}
        if_else = lambda c, a, b: Code(f"({_wrap(a).src} if {_wrap(c).src} else {_wrap(b).src})")  # noqa: E731
    elif dialect == "openmdao":
        names = {"exp": "exp", "log": "log", "log10": "log10", "sqrt": "sqrt", "sin": "sin", "cos": "cos",
                 "tan": "tan", "min": "minimum", "max": "maximum", "abs": "abs", "floor": "floor", "ceil": "ceil"}
        if_else = lambda c, a, b: Code(f"where({_wrap(c).src}, {_wrap(a).src}, {_wrap(b).src})")  # noqa: E731
    else:
        raise ValueError(dialect)
    ops: dict[str, Callable[..., Any]] = {key: _call(value) for key, value in names.items()}
    ops["pow"] = _pow
    ops["if_else"] = if_else
    return ops


class Translator:
    """Names every variable (v0, v1, …) and turns registry nodes into source."""

    def __init__(self, registry: Any, dialect: str = "python") -> None:
        self.registry = registry
        self.ops = _ops(dialect)
        self.names: dict[str, str] = {}

    def name(self, ident: str) -> str:
        name = self.names.get(ident)
        if name is None:
            name = self.names[ident] = f"v{len(self.names)}"
        return name

    def value_of(self, ident: str) -> Any:
        registry = self.registry
        if ident in registry.constants:
            return registry.constant_values[ident] * registry.factors[ident]
        factor = registry.factors[ident]
        code = Code(self.name(ident))
        return code if factor == 1.0 else code * factor

    def expr(self, node: Node) -> str:
        """Base-unit source of an expression."""
        return _wrap(evaluate(node, self.value_of, self.ops, self.registry.units)).src

    def defining(self, equation: Any) -> str:
        """`v = …` source of a defining equation, v in its declared unit."""
        v = equation.defines
        rhs = _wrap(evaluate(equation.rhs, self.value_of, self.ops, self.registry.units))
        factor = self.registry.factors[v]
        if factor != 1.0:
            rhs = rhs / factor
        return f"{self.name(v)} = {rhs.src}"

    def residual(self, equation: Any) -> str:
        """`lhs - rhs` source in base units."""
        lhs = _wrap(evaluate(equation.lhs, self.value_of, self.ops, self.registry.units))
        rhs = _wrap(evaluate(equation.rhs, self.value_of, self.ops, self.registry.units))
        return (lhs - rhs).src


@dataclass
class ForwardModel:
    """A question as explicit assignments: inputs → (defining equations in order) → outputs.

    `order` lists (variable, equation) pairs, dependencies first: the
    upstream cone of `outputs` through the active defining equations,
    stopped at `inputs` (assigned or free variables).
    """

    registry: Any
    inputs: list[str]
    order: list[tuple[str, Any]]
    outputs: list[str]

    @property
    def computed(self) -> list[str]:
        return [v for v, _ in self.order]


def forward_model(registry: Any, selection: Any, inputs: list[str], outputs: list[str]) -> ForwardModel:
    defining = registry.defining_equations(selection)
    stop = set(inputs)
    needed: dict[str, Any] = {}
    used_inputs: set[str] = set()
    stack = [o for o in outputs if o not in stop]
    used_inputs |= {o for o in outputs if o in stop}
    while stack:
        v = stack.pop()
        if v in needed:
            continue
        equation = defining.get(v)
        if equation is None:
            raise ValueError(f"'{v}' is neither an input nor defined by an equation")
        needed[v] = equation
        for u in equation.inputs:
            if u in stop:
                used_inputs.add(u)
            elif u not in needed:
                stack.append(u)
    sorter = graphlib.TopologicalSorter({v: [u for u in e.inputs if u in needed] for v, e in needed.items()})
    order = [(v, needed[v]) for v in sorter.static_order()]
    return ForwardModel(registry, [v for v in inputs if v in used_inputs], order, list(outputs))


@dataclass
class ForwardProgram:
    """A generated straight-line Python function: `forward(p) -> [every computed variable]`."""

    model: ForwardModel
    source: str
    function: Callable[[Any], list[float]]
    index: dict[str, int] = field(default_factory=dict)   # computed variable -> position in the result


def forward_program(model: ForwardModel) -> ForwardProgram:
    translator = Translator(model.registry, "python")
    lines = ["def forward(p):"]
    for i, ident in enumerate(model.inputs):
        lines.append(f"    {translator.name(ident)} = p[{i}]")
    for _, equation in model.order:
        lines.append("    " + translator.defining(equation))
    lines.append("    return [" + ", ".join(translator.name(v) for v in model.computed) + "]")
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {}
    exec("from math import exp, log, log10, sqrt, sin, cos, tan, floor, ceil", namespace)  # noqa: S102
    exec(compile(source, "<forward>", "exec"), namespace)  # noqa: S102 - our own generated source
    return ForwardProgram(model, source, namespace["forward"], {v: i for i, v in enumerate(model.computed)})
