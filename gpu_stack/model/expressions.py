"""Safe expressions: tokenize, parse, check dimensions, evaluate.

The grammar (docs/file-formats.md) is small and parsed here by recursive descent, so
nothing from a file ever reaches `eval` or `ast.parse` (and IDs such as
`fab.yield.die`, which hold a Python keyword, need no mangling)::

    comparison := sum [ ('<' | '<=' | '>' | '>=' | '==' | '!=') sum ]
    sum        := product { ('+' | '-') product }
    product    := unary { ('*' | '/') unary }
    unary      := ('-' | '+') unary | power
    power      := atom [ '**' unary ]              (right-associative)
    atom       := NUMBER [ '[' unit ']' ] | FUNCTION '(' args ')' | ID | '(' sum ')'

Comparisons are allowed only at the top of a constraint or validity and as
the first argument of `if_else`. Values are evaluated in pint's root units,
so an equation never needs a hand-written conversion factor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from gpu_stack.errors import ExpressionError, UnitError
from gpu_stack.model.limits import MAX_EXPRESSION_CHARS, MAX_NESTING, NUMBER

__all__ = [
    "Node", "Num", "Var", "Unary", "Binary", "Call", "Compare",
    "FUNCTIONS", "parse_expression", "parse_condition", "parse_equation",
    "variables", "dimension", "evaluate", "FLOAT_OPS", "tree_depth",
]

# name -> (min args, max args)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "exp": (1, 1), "log": (1, 1), "log10": (1, 1), "sqrt": (1, 1),
    "sin": (1, 1), "cos": (1, 1), "tan": (1, 1),
    "min": (2, 64), "max": (2, 64), "abs": (1, 1),
    "floor": (1, 1), "ceil": (1, 1), "if_else": (3, 3),
}
COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")


@dataclass(frozen=True)
class Num:
    value: float
    unit: str | None = None


@dataclass(frozen=True)
class Var:
    id: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Node"
    right: "Node"


Node = Num | Var | Unary | Binary | Call | Compare

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>{NUMBER})
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<unit>\[[^\[\]]*\])
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/(),<>=])
    """.replace("{NUMBER}", NUMBER),
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int  # 1-based


def _tokenize(text: str) -> list[_Token]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression of {len(text):,} characters; the limit is {MAX_EXPRESSION_CHARS:,}",
                              hint="split it with intermediate variables")
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"unexpected character {text[position]!r} at column {position + 1} in {_shown(text)!r}",
                hint="expressions allow numbers, IDs, + - * / **, parentheses and "
                + ", ".join(FUNCTIONS),
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0   # levels entered: a parenthesis, a call, a sign, a power

    def _deeper(self) -> None:
        """Enter one level; refused past MAX_NESTING, long before Python's recursion limit."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _too_deep(self.text)

    # -- helpers -------------------------------------------------------
    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _error(self, message: str, token: _Token | None = None) -> ExpressionError:
        where = f" at column {token.column}" if token else " at the end"
        return ExpressionError(f"{message}{where} in {_shown(self.text)!r}")

    def _take(self, text: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text == text:
            self.index += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._take(text):
            token = self._peek()
            found = repr(token.text) if token else "nothing"
            raise self._error(f"expected {text!r}, found {found}", token)

    def finish(self, node: Node) -> Node:
        token = self._peek()
        if token is not None:
            raise self._error(f"unexpected {token.text!r}", token)
        if tree_depth(node) > MAX_NESTING:   # long chains of + - * / nest too: a+b+c is (a+b)+c
            raise _too_deep(self.text)
        return node

    # -- grammar -------------------------------------------------------
    def comparison(self) -> Node:
        left = self.sum()
        token = self._peek()
        if token is not None and token.kind == "op" and token.text in COMPARISONS:
            self.index += 1
            return Compare(token.text, left, self.sum())
        return left

    def sum(self) -> Node:
        node = self.product()
        while True:
            token = self._peek()
            if token is not None and token.kind == "op" and token.text in "+-":
                self.index += 1
                node = Binary(token.text, node, self.product())
            else:
                return node

    def product(self) -> Node:
        node = self.unary()
        while True:
            token = self._peek()
            if token is not None and token.kind == "op" and token.text in ("*", "/"):
                self.index += 1
                node = Binary(token.text, node, self.unary())
            else:
                return node

    def unary(self) -> Node:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text in "+-" and token.text:
            self.index += 1
            self._deeper()
            operand = self.unary()
            self.depth -= 1
            return operand if token.text == "+" else Unary("-", operand)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self._take("**"):
            self._deeper()
            exponent = self.unary()
            self.depth -= 1
            return Binary("**", base, exponent)
        return base

    def atom(self) -> Node:
        token = self._peek()
        if token is None:
            raise self._error("expression ends too early")
        self.index += 1
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise self._error(f"number {token.text} is too large to be a finite value", token)
            following = self._peek()
            if following is not None and following.kind == "unit":
                self.index += 1
                unit = following.text[1:-1].strip()
                if not unit:
                    raise self._error("empty unit brackets", following)
                return Num(value, unit)
            return Num(value)
        if token.kind == "name":
            following = self._peek()
            if following is not None and following.kind == "op" and following.text == "(":
                if token.text not in FUNCTIONS:
                    raise self._error(
                        f"function {token.text!r} is not allowed (allowed: {', '.join(FUNCTIONS)})",
                        token,
                    )
                self.index += 1
                self._deeper()
                node = self.call(token)
                self.depth -= 1
                return node
            if token.text in FUNCTIONS:
                raise self._error(f"function {token.text!r} needs arguments in parentheses", token)
            if following is not None and following.kind == "unit":
                raise self._error("brackets may only give the unit of a number literal", following)
            if any(part.startswith("__") for part in token.text.split(".")):
                raise self._error(f"{token.text!r} is not a valid ID (no segment may start with '__')", token)
            return Var(token.text)
        if token.kind == "op" and token.text == "(":
            self._deeper()
            node = self.sum()
            self._expect(")")
            self.depth -= 1
            return node
        if token.kind == "unit":
            raise self._error("brackets may only give the unit of a number literal", token)
        raise self._error(f"unexpected {token.text!r}", token)

    def call(self, name: _Token) -> Node:
        args: list[Node] = []
        if not self._take(")"):
            while True:
                # if_else takes a condition first; everything else plain sums
                if name.text == "if_else" and not args:
                    args.append(self.comparison())
                else:
                    args.append(self.sum())
                if self._take(")"):
                    break
                self._expect(",")
        low, high = FUNCTIONS[name.text]
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} or more"
            raise self._error(f"{name.text}() takes {expected} arguments, got {len(args)}", name)
        if name.text == "if_else" and not isinstance(args[0], Compare):
            raise self._error("if_else needs a comparison as its first argument", name)
        return Call(name.text, tuple(args))


def _shown(text: str) -> str:
    """An expression as a message quotes it: whole when short, its two ends when long."""
    return text if len(text) <= 200 else text[:120] + " … " + text[-60:]


def _too_deep(text: str) -> ExpressionError:
    return ExpressionError(f"expression nests more than {MAX_NESTING} levels deep in {_shown(text)!r}",
                           hint="parentheses, calls, signs, powers and each term of a long sum or product add a "
                           "level; split it with intermediate variables")


def tree_depth(node: Node) -> int:
    """Levels of an expression tree (a lone number or ID is 1), counted without recursion."""
    deepest = 0
    pending: list[tuple[Node, int]] = [(node, 1)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if isinstance(item, Unary):
            pending.append((item.operand, level + 1))
        elif isinstance(item, (Binary, Compare)):
            pending += [(item.left, level + 1), (item.right, level + 1)]
        elif isinstance(item, Call):
            pending += [(arg, level + 1) for arg in item.args]
    return deepest


def parse_expression(text: str) -> Node:
    """Parse an arithmetic expression (no comparison at the top).

    Examples
    --------
    >>> parse_expression("6 [FLOP/token] * arch.params_total_dense")
    Binary(op='*', left=Num(value=6.0, unit='FLOP/token'), right=Var(id='arch.params_total_dense'))
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    parser = _Parser(text)
    return parser.finish(parser.sum())


def parse_condition(text: str) -> Compare:
    """Parse `a <= b` (or <, >, >=, ==, !=): constraints and validity ranges."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty condition")
    parser = _Parser(text)
    node = parser.finish(parser.comparison())
    if not isinstance(node, Compare):
        raise ExpressionError(
            f"{_shown(text)!r} is not a comparison", hint="write it as 'lhs <= rhs' (or <, >, >=)"
        )
    return node


def parse_equation(text: str) -> tuple[Node, Node]:
    """Split `lhs = rhs` at its single '=' and parse both sides."""
    if not isinstance(text, str):
        raise ExpressionError("an equation must be a string 'lhs = rhs'")
    tokens = _tokenize(text)
    positions = [t.column for t in tokens if t.kind == "op" and t.text == "="]
    if len(positions) != 1:
        raise ExpressionError(
            f"an equation needs exactly one '=' (found {len(positions)}) in {_shown(text)!r}",
            hint="write 'lhs = rhs'; use <= or >= in a [[constraint]]",
        )
    cut = positions[0] - 1
    return parse_expression(text[:cut]), parse_expression(text[cut + 1:])


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents first."""
    yield node
    if isinstance(node, Unary):
        yield from walk(node.operand)
    elif isinstance(node, (Binary, Compare)):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)


def variables(node: Node) -> list[str]:
    """IDs referenced by an expression, in first-seen order, without repeats."""
    seen: dict[str, None] = {}
    for item in walk(node):
        if isinstance(item, Var):
            seen.setdefault(item.id, None)
    return list(seen)


# ---------------------------------------------------------------- dimensions

_BOOL = "<boolean>"


def dimension(node: Node, dims_of: Callable[[str], Any], units: Any) -> Any:
    """Dimensionality of an expression; raises `UnitError` on a mismatch.

    `dims_of(id)` gives a variable's dimensionality; `units` is the
    `UnitSystem` that reads unit literals.
    """
    from gpu_stack.model.units import format_dims

    dimensionless = units.dimensionality("dimensionless")

    def need_dimensionless(what: str, dims: Any) -> None:
        if dims != dimensionless:
            raise UnitError(f"{what} must be dimensionless, got {format_dims(dims)}")

    def same(what: str, a: Any, b: Any) -> Any:
        if a == _BOOL or b == _BOOL:
            raise UnitError(f"a comparison cannot be used as a number in {what}")
        if a != b:
            raise UnitError(f"{what} mixes {format_dims(a)} with {format_dims(b)}")
        return a

    def visit(item: Node) -> Any:
        if isinstance(item, Num):
            return units.dimensionality(item.unit) if item.unit else dimensionless
        if isinstance(item, Var):
            return dims_of(item.id)
        if isinstance(item, Unary):
            return visit(item.operand)
        if isinstance(item, Compare):
            same(f"comparison '{item.op}'", visit(item.left), visit(item.right))
            return _BOOL
        if isinstance(item, Binary):
            left, right = visit(item.left), visit(item.right)
            if item.op in "+-":
                return same(f"'{item.op}'", left, right)
            if left == _BOOL or right == _BOOL:
                raise UnitError("a comparison cannot be used as a number")
            if item.op == "*":
                return left * right
            if item.op == "/":
                return left / right
            need_dimensionless("an exponent", right)
            if left == dimensionless:
                return left
            exponent = constant_value(item.right, units)
            if exponent is None:
                raise UnitError(
                    f"{format_dims(left)} raised to a variable power: the exponent must be a number"
                )
            return left**exponent
        assert isinstance(item, Call)
        args = [visit(a) for a in item.args]
        name = item.name
        if name in ("exp", "log", "log10", "sin", "cos", "tan", "floor", "ceil"):
            need_dimensionless(f"the argument of {name}()", args[0])
            return dimensionless
        if name == "sqrt":
            return args[0] ** 0.5
        if name == "abs":
            return args[0]
        if name in ("min", "max"):
            result = args[0]
            for other in args[1:]:
                result = same(f"{name}()", result, other)
            return result
        # if_else
        if args[0] != _BOOL:
            raise UnitError("if_else needs a comparison first")
        return same("if_else()", args[1], args[2])

    return visit(node)


def constant_value(node: Node, units: Any) -> float | None:
    """The value of an expression without variables (root units), else None."""
    if any(isinstance(item, Var) for item in walk(node)):
        return None
    return float(evaluate(node, lambda _id: 0.0, FLOAT_OPS, units))


# ---------------------------------------------------------------- evaluation


def _float_pow(base: float, exponent: float) -> float:
    return math.pow(base, exponent)


def _float_if_else(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


FLOAT_OPS: dict[str, Callable[..., Any]] = {
    "exp": math.exp, "log": math.log, "log10": math.log10, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "min": min, "max": max, "abs": abs,
    "floor": lambda x: float(math.floor(x)), "ceil": lambda x: float(math.ceil(x)),
    "if_else": _float_if_else, "pow": _float_pow,
}


def evaluate(node: Node, value_of: Callable[[str], Any], ops: dict[str, Callable[..., Any]], units: Any) -> Any:
    """Evaluate in root units; `value_of(id)` must return root-unit values.

    `ops` supplies the functions (floats: `FLOAT_OPS`; CasADi: its own
    table), so one walker serves the audit resolver and the solver.
    """

    def visit(item: Node) -> Any:
        if isinstance(item, Num):
            return item.value * units.factor(item.unit) if item.unit else item.value
        if isinstance(item, Var):
            return value_of(item.id)
        if isinstance(item, Unary):
            return -visit(item.operand)
        if isinstance(item, Binary):
            left, right = visit(item.left), visit(item.right)
            if item.op == "+":
                return left + right
            if item.op == "-":
                return left - right
            if item.op == "*":
                return left * right
            if item.op == "/":
                return left / right
            return ops["pow"](left, right)
        if isinstance(item, Compare):
            left, right = visit(item.left), visit(item.right)
            return {
                "<": lambda: left < right, "<=": lambda: left <= right,
                ">": lambda: left > right, ">=": lambda: left >= right,
                "==": lambda: left == right, "!=": lambda: left != right,
            }[item.op]()
        assert isinstance(item, Call)
        if item.name == "if_else":
            condition = visit(item.args[0])
            try:  # a number: evaluate only the branch taken
                taken = bool(condition)
            except Exception:  # a symbolic condition (CasADi) keeps both branches
                return ops["if_else"](condition, visit(item.args[1]), visit(item.args[2]))
            return visit(item.args[1]) if taken else visit(item.args[2])
        values = [visit(a) for a in item.args]
        if item.name in ("min", "max") and len(values) > 2:
            result = values[0]
            for value in values[1:]:
                result = ops[item.name](result, value)
            return result
        return ops[item.name](*values)

    return visit(node)
