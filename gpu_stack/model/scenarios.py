"""Scenarios: named sets of assignments, each value with a unit and a provenance.

A scenario file (docs/file-formats.md) holds `kind`, `description`, `extends`,
`outputs`, `[assign]` and `[select]`. Extended scenarios are applied first,
in order, and later values win. Values are converted to each variable's
declared unit here, once, so the rest of the engine works in declared units.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from gpu_stack.core import Assignment, Question, Scenario
from gpu_stack.errors import ScenarioError, UnitError, UnknownIdError
from gpu_stack.model.limits import check_name_length, file_exists, read_number, require_finite
from gpu_stack.model.entries import ScenarioFile
from gpu_stack.model.loader import line_index, line_of, read_toml, validate_file
from gpu_stack.model.paths import builtin_scenarios
from gpu_stack.model.registry import Registry
from gpu_stack.model.uncertain import check_correlated, merge_correlations, parse_uncertain, without

__all__ = ["find_scenario", "load_scenario", "parse_value", "parse_assign_option", "parse_assign_options", "refuse_conflict",
           "merge", "list_scenarios", "describe_scenarios", "cut_off_assignments", "compose"]

ScenarioKind = Literal["synthetic", "cited", "measured", "calibrated"]
_KINDS = ("synthetic", "cited", "measured", "calibrated")
_KEYS = {"kind", "description", "extends", "outputs", "assign", "select", "uncertain", "name", "calibration"}


def parse_value(registry: Registry, ident: str, raw: Any, *, origin: str, where: str | None = None,
                line: int | None = None) -> Assignment:
    """Read one assigned value: a bare number (declared unit), a quantity string, or a table."""
    if ident not in registry.variables:
        hint = "constants cannot be assigned" if ident in registry.constants else registry.suggest(ident)
        raise UnknownIdError(f"assigns unknown variable '{ident}'", file=where, line=line, hint=hint)
    variable = registry.variables[ident]
    source = None
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "source", "unit", "note"}
        if unknown or "value" not in raw:
            raise ScenarioError(f"'{ident}': a table value needs 'value' (and may have 'source', 'note'); "
                                f"got keys {sorted(raw)}", file=where, line=line)
        source = raw.get("source")
        value_raw = raw["value"]
        if "unit" in raw and isinstance(value_raw, (int, float)):
            value_raw = f"{value_raw} {raw['unit']}"
        raw = value_raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ScenarioError(f"'{ident}': value must be a number or a quantity string such as '500 W'",
                            file=where, line=line)
    if isinstance(raw, (int, float)):
        value, unit = float(raw), variable.unit
    else:
        try:
            number, unit = registry.units.quantity(raw)
            value = registry.units.convert(number, unit, variable.unit)
        except UnitError as exc:
            raise UnitError(f"'{ident}' = {raw!r}: {exc.message} (declared unit of '{ident}' is "
                            f"'{variable.unit}')", file=where, line=line, hint=exc.hint) from None
    require_finite(value, f"'{ident}' = {raw!r} (in {variable.unit})" if isinstance(raw, str) else f"'{ident}'",
                   file=where, line=line)
    if variable.integer:
        whole = round(value)
        if abs(value - whole) > 1e-9 * max(1.0, abs(value)):
            raise ScenarioError(f"'{ident}' = {value:g} is not a whole number, and '{ident}' is an integer "
                                "variable", file=where, line=line, hint="give a whole number")
        value = float(whole)   # a unit conversion may leave 7.999999999999999
    if variable.min is not None and value < variable.min or variable.max is not None and value > variable.max:
        bounds = f"[{variable.min if variable.min is not None else '-inf'}, " \
                 f"{variable.max if variable.max is not None else 'inf'}]"
        raise ScenarioError(f"'{ident}' = {value:g} {variable.unit} is outside its domain {bounds}",
                            file=where, line=line, hint="check the value and its unit")
    return Assignment(ident, value, variable.unit, str(raw), origin, source)


def parse_assign_option(registry: Registry, text: str) -> Assignment:
    """Read a command-line `ID=VALUE` (VALUE a bare number or a quantity)."""
    ident, sep, value = text.partition("=")
    if not sep or not ident.strip() or not value.strip():
        raise ScenarioError(f"--assign {text!r}: write ID=VALUE, e.g. par.n_gpus=8 or 'gpu.tdp=700 W'")
    value = value.strip()
    number = read_number(value, f"--assign {text}")
    return parse_value(registry, ident.strip(), value if number is None else number, origin="command line")


def parse_assign_options(registry: Registry, texts: Iterable[str]) -> list[Assignment]:
    """Read every `--assign ID=VALUE`; the same ID twice must give the same value."""
    parsed: dict[str, tuple[Assignment, str]] = {}
    for text in texts:
        item = parse_assign_option(registry, text)
        earlier = parsed.get(item.id)
        refuse_conflict("--assign", item.id, (earlier[0].value, earlier[1]) if earlier else None, item.value, text)
        parsed[item.id] = (item, text)
    return [item for item, _text in parsed.values()]


def refuse_conflict(flag: str, ident: str, earlier: tuple[Any, str] | None, value: Any, text: str) -> None:
    """Refuse a flag given twice for one ID with two different values: a contradiction, not 'later wins'.

    `earlier` is (value, flag text) of the first time the ID was given, or None.
    """
    if earlier is not None and earlier[0] != value:
        raise ScenarioError(f"'{flag} {earlier[1]}' and '{flag} {text}' give {ident} two different values",
                            hint=f"give {flag} {ident} once")


def _search_folders(registry: Registry | None) -> list[Path]:
    folders = [builtin_scenarios()]
    if registry is not None:
        for layer in reversed(registry.layers):
            sibling = layer.parent / "scenarios"
            if sibling.is_dir() and sibling.resolve() != builtin_scenarios().resolve():
                folders.insert(0, sibling)
    return folders


def list_scenarios(registry: Registry | None = None) -> list[str]:
    """Names of the scenarios that `--preset NAME` can find."""
    names = set()
    for folder in _search_folders(registry):
        for path in folder.rglob("*.toml"):
            names.add(".".join(path.relative_to(folder).with_suffix("").parts))
    return sorted(names)


def describe_scenarios(registry: Registry | None = None) -> list[dict[str, str]]:
    """Every scenario `--preset NAME` can find: {"id": NAME, "kind", "description"}, read from its file only."""
    described = []
    for name in list_scenarios(registry):
        data, _text = read_toml(find_scenario(name, registry))
        described.append({"id": name, "kind": str(data.get("kind", "")),
                          "description": " ".join(str(data.get("description", "")).split())})
    return described


def find_scenario(ref: str, registry: Registry | None = None, *, relative_to: Path | None = None) -> Path:
    """Turn NAME, scenarios.NAME or a path into a scenario file path."""
    check_name_length(ref, "scenario")
    candidates: list[Path] = []
    as_path = Path(ref)
    if relative_to is not None:
        candidates += [relative_to / as_path, relative_to / as_path.with_name(as_path.name + ".toml")]
    candidates.append(as_path)
    if not ref.endswith(".toml"):
        names = [ref.removeprefix("scenarios.")] if ref.startswith("scenarios.") else [ref]
        for folder in _search_folders(registry):
            for name in names:
                candidates.append(folder.joinpath(*name.split(".")).with_suffix(".toml"))
    for candidate in candidates:
        if file_exists(candidate):
            return candidate
    known = list_scenarios(registry)
    import difflib
    close = difflib.get_close_matches(ref.removeprefix("scenarios."), known, n=3, cutoff=0.6)
    hint = ("did you mean " + " or ".join(close) + "?") if close else \
        ("known scenarios: " + ", ".join(known) if known else "no scenarios found")
    raise ScenarioError(f"unknown scenario '{ref}'", file=str(relative_to) if relative_to else None, hint=hint)


def load_scenario(registry: Registry, ref: str, *, relative_to: Path | None = None,
                  _chain: tuple[Path, ...] = ()) -> Scenario:
    """Load and compose one scenario (its `extends` applied first)."""
    path = find_scenario(ref, registry, relative_to=relative_to).resolve()
    if path in _chain:
        cycle = " -> ".join(p.stem for p in (*_chain, path))
        raise ScenarioError(f"scenarios extend each other in a cycle: {cycle}", file=path)
    data, text = read_toml(path)
    unknown = set(data) - _KEYS
    if unknown:
        raise ScenarioError(f"unknown key(s) {sorted(unknown)}", file=path,
                            hint="a scenario holds kind, description, extends, outputs, [assign], [select], "
                                 "[uncertain] (and [calibration] when kind = \"calibrated\")")
    kind = data.get("kind")
    if kind not in _KINDS:
        raise ScenarioError(f"kind must be one of {', '.join(_KINDS)} (got {kind!r})", file=path,
                            line=line_of(text, "kind", str(kind)) if kind else None)
    contents = validate_file(ScenarioFile, data, text, path, ScenarioError)
    if (contents.calibration is not None) != (kind == "calibrated"):
        raise ScenarioError("a [calibration] table goes with kind = \"calibrated\", and only there", file=path,
                            hint="calibrated packs are written by 'gpu-stack calibrate --out'; do not mark a "
                                 "hand-set value as calibrated")
    name = _scenario_name(path)
    scenario = Scenario(name=name, path=path, kind=kind, description=contents.description,
                        outputs=[], extends=list(contents.extends))
    outputs: list[str] = []
    layers: list[dict[str, Assignment]] = []
    for parent_ref in contents.extends:
        parent = load_scenario(registry, parent_ref, relative_to=path.parent, _chain=(*_chain, path))
        scenario.assign.update(parent.assign)
        scenario.select.update(parent.select)
        scenario.uncertain.update(parent.uncertain)
        scenario.correlations = merge_correlations(scenario.correlations, parent.correlations)
        scenario.warnings += [w for w in parent.warnings if w not in scenario.warnings]
        layers.append(parent.assign)
        outputs = parent.outputs or outputs
    assign_lines = line_index(_ASSIGN_LINE, text)
    own = {ident: parse_value(registry, ident, raw, origin=name, where=str(path),
                              line=assign_lines.get(ident) or _assign_line(text, ident))
           for ident, raw in contents.assign.items()}
    scenario.assign.update(own)
    uncertain, correlation = parse_uncertain(registry, contents.uncertain, path=path, text=text, origin=name,
                                             assigned=scenario.assign)
    scenario.uncertain.update(uncertain)
    if correlation is not None:
        check_correlated(correlation, scenario.uncertain, path=path, text=text)
        scenario.correlations = merge_correlations(scenario.correlations, [correlation])
    select = dict(contents.select)
    try:
        registry.select({**scenario.select, **select})
    except UnknownIdError as exc:
        raise ScenarioError(exc.message, file=path, hint=exc.hint) from None
    scenario.select.update(select)
    for warning in cut_off_assignments(registry, [*layers, own], scenario.select):
        if warning not in scenario.warnings:
            scenario.warnings.append(warning)
    own_outputs = contents.outputs
    if own_outputs is not None:
        for ident in own_outputs:
            if ident not in registry.variables:
                raise UnknownIdError(f"output '{ident}' is not a variable", file=path,
                                     line=_assign_line(text, ident), hint=registry.suggest(ident))
        outputs = list(own_outputs)
    scenario.outputs = outputs
    return scenario


def merge(scenarios: Iterable[Scenario], extra: Iterable[Assignment] = (),
          select: dict[str, str] | None = None) -> tuple[dict[str, Assignment], dict[str, str]]:
    """Assignments and selection of several presets (later wins), then extra ones."""
    assign: dict[str, Assignment] = {}
    chosen: dict[str, str] = {}
    for scenario in scenarios:
        assign.update(scenario.assign)
        chosen.update(scenario.select)
    for item in extra:
        assign[item.id] = item
    chosen.update(select or {})
    return assign, chosen


# How far up a cut equation a changed input is reported: its own inputs (1) and
# their inputs (2). Farther inputs meet an override through chains that carry
# modelling choices of their own (a calibrated stall share, a cost method's
# zero storage capex), and warning there would be noise.
_NEAR = 2


def cut_off_assignments(registry: Registry, layers: Sequence[Mapping[str, Assignment]],
                        select: Mapping[str, str] | None = None) -> list[str]:
    """Warnings for changed inputs that an override from the same pack keeps from mattering.

    Layers are applied in order (extended packs, then a scenario's own
    [assign]; presets, then --assign). A pack that assigns a variable its
    active equation would define (an override) cuts that equation, and the
    value it gives agrees with the pack's own inputs. When a later layer
    changes one of those inputs near the cut equation (at most two equations
    up) and leaves the override standing, the new value never reaches the
    overridden variable — e.g. a new `arch.n_layers` on top of a workload
    pack that gives both the shape and `arch.params_total_dense`. Inputs
    assigned for the first time, and overrides from another pack than the
    changed input's, are not reported: packs fill in each other's gaps that
    way, and a pack's own choices (kernels at peak efficiency) are meant to
    hold whatever the inputs.

    Parameters
    ----------
    registry : Registry
    layers : sequence of {ID: Assignment}
        Assignments of each layer, earliest first.
    select : {group: equation ID}, optional
        The selection of alternatives in force (decides which equation an
        override cuts).

    Returns
    -------
    list of str
        One warning per overridden variable, naming it, the pack that
        overrides it, the cut equation and the changed inputs; empty when
        every change counts.
    """
    defining = registry.defining_equations(select)
    assigned = {ident for layer in layers for ident in layer}
    earlier: dict[str, Assignment] = {}
    warnings: list[str] = []
    for layer in layers:
        changed = {ident for ident, item in layer.items() if ident in earlier and earlier[ident].value != item.value}
        for ident, override in earlier.items():
            equation = defining.get(ident)
            if equation is None or ident in layer or not changed:
                continue
            cut_off = sorted(x for x in _assigned_upstream(defining, equation.inputs, assigned, _NEAR) & changed
                             if earlier[x].origin == override.origin)
            if cut_off:
                setters = ", ".join(sorted({layer[x].origin for x in cut_off}))
                several = len(cut_off) > 1
                warnings.append(
                    f"{', '.join(cut_off)} (set by {setters}) cannot change {ident}: {override.origin}, which gave "
                    f"{'their' if several else 'its'} old value{'s' if several else ''}, also assigns {ident}, "
                    f"cutting {equation.id}; remove that assignment (or assign {ident} too) for the new "
                    f"value{'s' if several else ''} to count")
        earlier.update(layer)
    return warnings


def _assigned_upstream(defining: Mapping[str, Any], inputs: Iterable[str], assigned: set[str],
                       depth: int) -> set[str]:
    """Assigned variables within `depth` equations up from `inputs` (the walk stops at each one it meets)."""
    reached: set[str] = set()
    frontier, seen = set(inputs), set()
    for _ in range(depth):
        upper: set[str] = set()
        for ident in frontier - seen:
            seen.add(ident)
            if ident in assigned:
                reached.add(ident)
            elif ident in defining:
                upper.update(defining[ident].inputs)
        frontier = upper
    return reached


def _scenario_name(path: Path) -> str:
    for folder in [builtin_scenarios()]:
        try:
            return ".".join(path.relative_to(folder.resolve()).with_suffix("").parts)
        except ValueError:
            continue
    return path.stem


_ASSIGN_LINE = re.compile(r"^\s*[\"']([^\"']+)[\"']\s*=", re.M)


def _assign_line(text: str, ident: str) -> int | None:
    """Line of `"ident" =`, else of the first quoted mention of ident (an output in a list)."""
    match = re.search(r"^\s*[\"']" + re.escape(ident) + r"[\"']\s*=", text, re.M)
    if match is None:
        match = re.search(r"[\"']" + re.escape(ident) + r"[\"']", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def compose(registry: Registry, presets: Iterable[str] = (), assign: Iterable[str] = (),
            select: Iterable[str] = ()) -> Question:
    """Load `--preset`s (later wins), then `--assign ID=VALUE` and `--select GROUP=EQ`."""
    scenarios = [load_scenario(registry, ref, relative_to=None) for ref in presets]
    extra = parse_assign_options(registry, assign)
    chosen: dict[str, str] = {}
    for text in select:
        group, sep, equation = text.partition("=")
        if not sep or not group.strip() or not equation.strip():
            raise ScenarioError(f"--select {text!r}: write GROUP=EQUATION, e.g. "
                                "arch.flops_per_token=arch.eq.flops_per_token_attention")
        group, equation = group.strip(), equation.strip()
        refuse_conflict("--select", group, (chosen[group], f"{group}={chosen[group]}") if group in chosen else None,
                        equation, text)
        chosen[group] = equation
    assignments, selection = merge(scenarios, extra, chosen)
    registry.select(selection)
    warnings = [w for s in scenarios for w in s.warnings]
    warnings += cut_off_assignments(registry, [*(s.assign for s in scenarios), {a.id: a for a in extra}], selection)
    # an --assign pins an uncertain input at its value; correlation blocks keep only what is still uncertain
    pinned = {item.id for item in extra}
    uncertain = {ident: u for s in scenarios for ident, u in s.uncertain.items()}
    uncertain = {ident: u for ident, u in uncertain.items() if ident not in pinned}
    correlations = without(merge_correlations([], (c for s in scenarios for c in s.correlations)), pinned)
    return Question(scenarios, assignments, selection, list(dict.fromkeys(warnings)), uncertain, correlations)
