"""Problems: what a solve is asked (docs/file-formats.md), from a file or from flags.

A problem names scenarios, assignments (overrides), targets (outputs held
at a value, all equations kept), free variables (inputs released to the
solver; freeing an assigned variable drops the assignment, whose value
becomes the starting guess), an optional objective and extra constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gpu_stack.errors import ExpressionError, ProblemError, UnitError, UnknownIdError
from gpu_stack.model.expressions import Compare, Node, dimension, parse_condition, parse_expression, variables
from gpu_stack.model.loader import read_toml
from gpu_stack.model.registry import Registry
from gpu_stack.core import Assignment, Scenario
from gpu_stack.model.scenarios import load_scenario, merge, parse_assign_option, parse_value

__all__ = ["FreeSpec", "Objective", "ProblemConstraint", "Problem", "load_problem", "inline_problem"]

_KEYS = {"description", "scenarios", "assign", "target", "free", "objective", "constraint", "select", "outputs"}


@dataclass(frozen=True)
class FreeSpec:
    """Bounds of a free variable, in its declared unit."""

    min: float | None = None
    max: float | None = None
    integer: bool = False
    start: float | None = None


@dataclass(frozen=True)
class Objective:
    sense: str            # minimize | maximize
    text: str
    node: Node


@dataclass(frozen=True)
class ProblemConstraint:
    id: str
    text: str
    node: Compare


@dataclass
class Problem:
    """A posed question: everything the solver needs."""

    name: str
    description: str = ""
    path: Path | None = None
    scenarios: list[Scenario] = field(default_factory=list)
    assign: dict[str, Assignment] = field(default_factory=dict)
    select: dict[str, str] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    free: dict[str, FreeSpec] = field(default_factory=dict)
    objective: Objective | None = None
    constraints: list[ProblemConstraint] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[str]:
        """Variables whose cone the solve covers."""
        seeds = [*self.targets, *self.free]
        if self.objective is not None:
            seeds += [v for v in variables(self.objective.node)]
        for constraint in self.constraints:
            seeds += variables(constraint.node)
        return list(dict.fromkeys(seeds))


def _bound(registry: Registry, ident: str, raw: Any, where: str | None, line: int | None) -> float:
    return parse_value(registry, ident, raw, origin="problem", where=where, line=line).value \
        if not isinstance(raw, (int, float)) else float(raw)


def _free_spec(registry: Registry, ident: str, raw: Any, where: str | None, line: int | None) -> FreeSpec:
    if ident not in registry.variables:
        raise UnknownIdError(f"frees unknown variable '{ident}'", file=where, line=line, hint=registry.suggest(ident))
    if raw is True or raw == {}:
        return FreeSpec()
    if not isinstance(raw, dict):
        raise ProblemError(f"free '{ident}': give a table {{ min = …, max = …, integer = true }} or true",
                           file=where, line=line)
    unknown = set(raw) - {"min", "max", "integer", "start"}
    if unknown:
        raise ProblemError(f"free '{ident}': unknown key(s) {sorted(unknown)}", file=where, line=line,
                           hint="allowed: min, max, integer, start")
    variable = registry.variables[ident]

    def read(key: str) -> float | None:
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                number, unit = registry.units.quantity(value)
                return registry.units.convert(number, unit, variable.unit)
            except UnitError as exc:
                raise UnitError(f"free '{ident}' {key} = {value!r}: {exc.message}", file=where, line=line) from None
        raise ProblemError(f"free '{ident}': {key} must be a number or a quantity", file=where, line=line)

    spec = FreeSpec(read("min"), read("max"), bool(raw.get("integer", False)), read("start"))
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        raise ProblemError(f"free '{ident}': min {spec.min:g} > max {spec.max:g}", file=where, line=line)
    return spec


def _check_expression(registry: Registry, node: Node, what: str, where: str | None, line: int | None) -> None:
    for ident in variables(node):
        if ident not in registry.variables and ident not in registry.constants:
            raise UnknownIdError(f"{what} uses unknown ID '{ident}'", file=where, line=line, hint=registry.suggest(ident))
    try:
        dimension(node, registry.dims.__getitem__, registry.units)
    except UnitError as exc:
        raise UnitError(f"{what} fails the unit check: {exc.message}", file=where, line=line) from None


def _objective(registry: Registry, data: Any, where: str | None, line: int | None) -> Objective:
    if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ("minimize", "maximize"):
        raise ProblemError("[objective] takes exactly one of minimize = \"…\" or maximize = \"…\"", file=where, line=line)
    sense, text = next(iter(data.items()))
    try:
        node = parse_expression(str(text))
    except ExpressionError as exc:
        raise ExpressionError(f"objective: {exc.message}", file=where, line=line) from None
    _check_expression(registry, node, "the objective", where, line)
    return Objective(sense, str(text), node)


def _constraint(registry: Registry, ident: str, text: str, where: str | None, line: int | None) -> ProblemConstraint:
    try:
        node = parse_condition(text)
    except ExpressionError as exc:
        raise ExpressionError(f"constraint '{ident}': {exc.message}", file=where, line=line, hint=exc.hint) from None
    _check_expression(registry, node, f"constraint '{ident}'", where, line)
    return ProblemConstraint(ident, text, node)


def _target(registry: Registry, ident: str, raw: Any, where: str | None, line: int | None) -> float:
    if ident not in registry.variables:
        raise UnknownIdError(f"targets unknown variable '{ident}'", file=where, line=line, hint=registry.suggest(ident))
    return parse_value(registry, ident, raw, origin="target", where=where, line=line).value


def load_problem(registry: Registry, path: str | Path) -> Problem:
    """Read a problem file (scenario paths relative to it)."""
    path = Path(path)
    if not path.is_file():
        from gpu_stack.model.paths import builtin_problems
        named = builtin_problems() / (str(path).removeprefix("problems.") + ".toml")
        if named.is_file():
            path = named
        else:
            raise ProblemError("problem file not found", file=path, hint="give a path to a .toml problem file")
    data, text = read_toml(path)
    where = str(path)
    unknown = set(data) - _KEYS
    if unknown:
        raise ProblemError(f"unknown key(s) {sorted(unknown)}", file=where,
                           hint="a problem holds description, scenarios, [assign], [select], [target], [free], "
                           "[objective], [[constraint]]")
    scenarios = [load_scenario(registry, ref, relative_to=path.parent) for ref in data.get("scenarios", [])]
    extra = [parse_value(registry, ident, raw, origin=path.stem, where=where, line=_line(text, ident))
             for ident, raw in data.get("assign", {}).items()]
    assign, select = merge(scenarios, extra, data.get("select", {}))
    try:
        registry.select(select)
    except UnknownIdError as exc:
        raise ProblemError(exc.message, file=where, hint=exc.hint) from None
    problem = Problem(name=path.stem, description=str(data.get("description", "")), path=path,
                      scenarios=scenarios, assign=assign, select=select)
    for ident, raw in data.get("target", {}).items():
        problem.targets[ident] = _target(registry, ident, raw, where, _line(text, ident))
    for ident, raw in data.get("free", {}).items():
        problem.free[ident] = _free_spec(registry, ident, raw, where, _line(text, ident))
    if "objective" in data:
        problem.objective = _objective(registry, data["objective"], where, _line(text, "objective"))
    constraints = data.get("constraint", [])
    if not isinstance(constraints, list):
        raise ProblemError("constraints are an array of tables: write [[constraint]]", file=where)
    for index, item in enumerate(constraints, start=1):
        if not isinstance(item, dict) or "expr" not in item:
            raise ProblemError(f"constraint {index} needs expr = \"lhs <= rhs\"", file=where)
        ident = str(item.get("id", f"problem.constraint[{index}]"))
        problem.constraints.append(_constraint(registry, ident, str(item["expr"]), where,
                                               _line(text, str(item["expr"]))))
    problem.outputs = list(data.get("outputs", [])) or [o for s in scenarios for o in s.outputs]
    for ident in problem.outputs:
        registry.require_variable(ident)
    return problem


def _line(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def inline_problem(registry: Registry, scenarios: Iterable[Scenario], assign: Iterable[str] = (),
                   select: dict[str, str] | None = None, targets: Iterable[str] = (), free: Iterable[str] = (),
                   minimize: str | None = None, maximize: str | None = None,
                   constraints: Iterable[str] = ()) -> Problem:
    """A problem from command-line flags: --target ID=VALUE, --free ID[=MIN:MAX], …"""
    scenarios = list(scenarios)
    extra = [parse_assign_option(registry, text) for text in assign]
    merged, chosen = merge(scenarios, extra, select)
    problem = Problem(name="command line", scenarios=scenarios, assign=merged, select=chosen)
    for text in targets:
        ident, sep, value = text.partition("=")
        if not sep:
            raise ProblemError(f"--target {text!r}: write ID=VALUE, e.g. 'econ.cost.per_token=2.5e-6 USD/token'")
        try:
            raw: Any = float(value)
        except ValueError:
            raw = value.strip()
        problem.targets[ident.strip()] = _target(registry, ident.strip(), raw, None, None)
    for text in free:
        ident, sep, bounds = text.partition("=")
        spec: Any = True
        if sep:
            low, colon, high = bounds.partition(":")
            if not colon:
                raise ProblemError(f"--free {text!r}: write ID or ID=MIN:MAX (either side may be empty)")
            spec = {k: v.strip() for k, v in (("min", low), ("max", high)) if v.strip()}
            spec = {k: (float(v) if _is_number(v) else v) for k, v in spec.items()}
        problem.free[ident.strip()] = _free_spec(registry, ident.strip(), spec, None, None)
    if minimize and maximize:
        raise ProblemError("give --minimize or --maximize, not both")
    if minimize or maximize:
        problem.objective = _objective(registry, {"minimize": minimize} if minimize else {"maximize": maximize},
                                       None, None)
    for index, text in enumerate(constraints, start=1):
        problem.constraints.append(_constraint(registry, f"problem.constraint[{index}]", text, None, None))
    problem.outputs = [o for s in scenarios for o in s.outputs]
    return problem


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
