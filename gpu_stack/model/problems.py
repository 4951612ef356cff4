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
from gpu_stack.model.entries import ProblemFile
from gpu_stack.model.loader import read_toml, validate_file
from gpu_stack.model.paths import builtin_problems
from gpu_stack.model.registry import Registry
from gpu_stack.core import Assignment, Scenario
from gpu_stack.model.limits import check_name_length, file_exists, read_number, require_finite
from gpu_stack.model.scenarios import (cut_off_assignments, load_scenario, merge,
                                       parse_assign_options, parse_value, refuse_conflict)

__all__ = ["FreeSpec", "Objective", "ProblemConstraint", "Problem", "load_problem", "inline_problem", "parse_free_option",
           "describe_problems"]

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
    notes: list[str] = field(default_factory=list)      # where command-line flags replaced the file's entries
    warnings: list[str] = field(default_factory=list)   # e.g. a changed input an earlier override cuts off

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
            return require_finite(value, f"free '{ident}' {key}", file=where, line=line)
        if isinstance(value, str):
            try:
                number, unit = registry.units.quantity(value)
                converted = registry.units.convert(number, unit, variable.unit)
            except UnitError as exc:
                raise UnitError(f"free '{ident}' {key} = {value!r}: {exc.message}", file=where, line=line) from None
            return require_finite(converted, f"free '{ident}' {key} = {value!r} (in {variable.unit})",
                                  file=where, line=line)
        raise ProblemError(f"free '{ident}': {key} must be a number or a quantity", file=where, line=line)

    spec = FreeSpec(read("min"), read("max"), bool(raw.get("integer", False)), read("start"))
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        raise ProblemError(f"free '{ident}': min {spec.min:g} > max {spec.max:g}", file=where, line=line)
    return spec


def parse_free_option(registry: Registry, text: str, flag: str = "--free") -> tuple[str, FreeSpec]:
    """Read `ID` or `ID=MIN:MAX` (either side may be empty; numbers in the declared unit or quantities)."""
    ident, sep, bounds = text.partition("=")
    ident = ident.strip()
    spec: Any = True
    if sep:
        low, colon, high = bounds.partition(":")
        if not colon:
            raise ProblemError(f"{flag} {text!r}: write ID or ID=MIN:MAX (either side may be empty)")
        spec = {k: v.strip() for k, v in (("min", low), ("max", high)) if v.strip()}
        spec = {k: (number if (number := read_number(v, f"{flag} {text}")) is not None else v)
                for k, v in spec.items()}
    return ident, _free_spec(registry, ident, spec, None, None)


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


def describe_problems() -> list[dict[str, str]]:
    """The shipped problem files, as `solve NAME` finds them: {"id": NAME, "description"}, read from each file."""
    described = []
    for path in sorted(builtin_problems().glob("*.toml")):
        data, _text = read_toml(path)
        described.append({"id": path.stem, "description": " ".join(str(data.get("description", "")).split())})
    return described


def load_problem(registry: Registry, path: str | Path) -> Problem:
    """Read a problem file (scenario paths relative to it)."""
    check_name_length(str(path), "problem")
    path = Path(path)
    if not file_exists(path):
        named = builtin_problems() / (str(path).removeprefix("problems.") + ".toml")
        if file_exists(named):
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
    contents = validate_file(ProblemFile, data, text, path, ProblemError)
    scenarios = [load_scenario(registry, ref, relative_to=path.parent) for ref in contents.scenarios]
    extra = [parse_value(registry, ident, raw, origin=path.stem, where=where, line=_line(text, ident))
             for ident, raw in contents.assign.items()]
    assign, select = merge(scenarios, extra, dict(contents.select))
    try:
        registry.select(select)
    except UnknownIdError as exc:
        raise ProblemError(exc.message, file=where, hint=exc.hint) from None
    warnings = [w for s in scenarios for w in s.warnings]
    warnings += cut_off_assignments(registry, [*(s.assign for s in scenarios), {a.id: a for a in extra}], select)
    problem = Problem(name=path.stem, description=contents.description, path=path,
                      scenarios=scenarios, assign=assign, select=select, warnings=list(dict.fromkeys(warnings)))
    for ident, raw in contents.target.items():
        problem.targets[ident] = _target(registry, ident, raw, where, _line(text, ident))
    for ident, free in contents.free.items():
        problem.free[ident] = _free_spec(registry, ident, free.model_dump(exclude_unset=True), where,
                                         _line(text, ident))
    if contents.objective is not None:
        problem.objective = _objective(registry, contents.objective.model_dump(exclude_none=True), where,
                                       _line(text, "objective"))
    for index, item in enumerate(contents.constraint, start=1):
        ident = item.id or f"problem.constraint[{index}]"
        problem.constraints.append(_constraint(registry, ident, item.expr, where, _line(text, item.expr)))
    problem.outputs = list(contents.outputs) or [o for s in scenarios for o in s.outputs]
    for ident in problem.outputs:
        registry.require_variable(ident)
    return problem


def _line(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def inline_problem(registry: Registry, scenarios: Iterable[Scenario], assign: Iterable[str] = (),
                   select: dict[str, str] | None = None, targets: Iterable[str] = (), free: Iterable[str] = (),
                   minimize: str | None = None, maximize: str | None = None,
                   constraints: Iterable[str] = (), *, base: Problem | None = None) -> Problem:
    """A problem from command-line flags: --target ID=VALUE, --free ID[=MIN:MAX], …

    With `base` (a loaded problem file) the flags go on top of the file:
    presets and --assign after the file's assignments, and every flag wins
    over the file's entry of the same ID — an --assign also drops the file's
    target or freeing of that variable, a --target or --free the other one,
    --minimize/--maximize the file's objective. Each replacement is
    recorded in `notes`; extra constraints are added.
    """
    scenarios = list(scenarios)
    extra = parse_assign_options(registry, assign)
    flag_assign, flag_select = merge(scenarios, extra, select)
    if base is None:
        problem = Problem(name="command line", scenarios=scenarios, assign=flag_assign, select=flag_select,
                          outputs=[o for s in scenarios for o in s.outputs])
        layers = [*(s.assign for s in scenarios), {a.id: a for a in extra}]
    else:
        problem = Problem(name=base.name, description=base.description, path=base.path,
                          scenarios=[*base.scenarios, *scenarios], assign={**base.assign, **flag_assign},
                          select={**base.select, **flag_select}, targets=dict(base.targets), free=dict(base.free),
                          objective=base.objective, constraints=list(base.constraints),
                          outputs=list(dict.fromkeys([*base.outputs, *(o for s in scenarios for o in s.outputs)])),
                          warnings=list(base.warnings))
        problem.notes += _replaced_assignments(base.assign, flag_assign)
        problem.notes += [f"--select {group}={equation} replaces the file's {base.select[group]}"
                          for group, equation in flag_select.items()
                          if group in base.select and base.select[group] != equation]
        registry.select(problem.select)
        layers = [base.assign, *(s.assign for s in scenarios), {a.id: a for a in extra}]
    from_file = {"targets": set(base.targets), "free": set(base.free)} if base else {"targets": set(), "free": set()}

    def replace(ident: str, flag: str) -> None:
        """Drop the file's target or freeing of `ident`: the flag decides what happens to it."""
        for kind, owned in from_file.items():
            if ident in owned:
                owned.discard(ident)
                entry = getattr(problem, kind).pop(ident)
                what = f"target {ident} = {entry:g} {registry.variables[ident].unit}" if kind == "targets" \
                    else f"freeing of {ident}"
                problem.notes.append(f"{flag} replaces the file's {what}")

    for item in extra:
        replace(item.id, f"--assign {item.id}={_quantity(item)}")
    flagged_targets: dict[str, tuple[float, str]] = {}
    for text in targets:
        ident, sep, value = text.partition("=")
        if not sep:
            raise ProblemError(f"--target {text!r}: write ID=VALUE, e.g. 'econ.cost.per_token=2.5e-6 USD/token'")
        ident = ident.strip()
        number = read_number(value, f"--target {text}")
        target = _target(registry, ident, value.strip() if number is None else number, None, None)
        refuse_conflict("--target", ident, flagged_targets.get(ident), target, text)
        flagged_targets[ident] = (target, text)
        replace(ident, f"--target {text.strip()}")
        problem.targets[ident] = target
    flagged_free: dict[str, tuple[FreeSpec, str]] = {}
    for text in free:
        ident, freed = parse_free_option(registry, text)
        refuse_conflict("--free", ident, flagged_free.get(ident), freed, text)
        flagged_free[ident] = (freed, text)
        replace(ident, f"--free {text.strip()}")
        problem.free[ident] = freed
    if minimize and maximize:
        raise ProblemError("give --minimize or --maximize, not both")
    if minimize or maximize:
        if problem.objective is not None:
            problem.notes.append(f"--{'minimize' if minimize else 'maximize'} replaces the file's objective "
                                 f"({problem.objective.sense} {problem.objective.text})")
        problem.objective = _objective(registry, {"minimize": minimize} if minimize else {"maximize": maximize},
                                       None, None)
    taken = {c.id for c in problem.constraints}
    index = len(problem.constraints)
    for text in constraints:
        index += 1
        while f"problem.constraint[{index}]" in taken:
            index += 1
        problem.constraints.append(_constraint(registry, f"problem.constraint[{index}]", text, None, None))
    problem.warnings = list(dict.fromkeys([*problem.warnings, *(w for s in scenarios for w in s.warnings),
                                           *cut_off_assignments(registry, layers, problem.select)]))
    return problem


def _replaced_assignments(before: dict[str, Assignment], after: dict[str, Assignment]) -> list[str]:
    """Notes for the file's assignments that flags changed, one per flag source (a preset, --assign)."""
    changed: dict[str, list[str]] = {}
    for ident, item in after.items():
        old = before.get(ident)
        if old is not None and old.value != item.value:
            changed.setdefault(item.origin, []).append(f"{ident} = {_quantity(item)} (file: {_quantity(old)})")
    notes = []
    for origin, items in changed.items():
        source = "--assign" if origin == "command line" else f"--preset (its pack {origin})"
        shown = "; ".join(items[:5]) + (f"; … ({len(items)} in all)" if len(items) > 5 else "")
        notes.append(f"{source} replaces the file's value{'s' if len(items) > 1 else ''}: {shown}")
    return notes


def _quantity(item: Assignment) -> str:
    """'64', '700 W': an assigned value in its declared unit, for a note."""
    unit = "" if item.unit in ("", "1", "dimensionless") else f" {item.unit}"
    return f"{item.value:g}{unit}"
