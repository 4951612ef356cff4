"""Observations files: measured or published values of model quantities, for `gpu-stack calibrate`.

An observations file (docs/file-formats.md) names the scenario packs its rows
run on (`presets`, and `[assign]` for every row), then one `[[observation]]`
per measured value: its `name`, the `quantity` ID the model predicts, the
`observed` value with its unit, its `source`, and optionally its own
`presets` and `[observation.assign]` (the shape or setting it was measured
at). Everything is read and checked here, in declared units, before any
solve.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from gpu_stack.core import Assignment
from gpu_stack.errors import ScenarioError, UnitError
from gpu_stack.model.entries import ObservationsFile
from gpu_stack.model.limits import file_exists
from gpu_stack.model.loader import read_text, read_toml, validate_file
from gpu_stack.model.paths import builtin_observations
from gpu_stack.model.registry import Registry
from gpu_stack.model.scenarios import find_scenario, load_scenario, parse_value

__all__ = ["Observation", "Observations", "find_observations", "load_observations"]


@dataclass(frozen=True)
class Observation:
    """One observed value of a model quantity, in the quantity's declared unit."""

    name: str
    quantity: str
    observed: float
    unit: str
    source: str
    presets: tuple[str, ...]                 # the scenario files of the file's presets, then the row's own
    assign: dict[str, Assignment] = field(default_factory=dict)   # the file's [assign], then the row's
    line: int | None = None


@dataclass(frozen=True)
class Observations:
    """A loaded observations file."""

    path: Path
    label: str                               # how reports and generated packs name the file
    sha256: str                              # of the file's bytes: a generated pack records which data it fits
    description: str
    presets: tuple[str, ...]                 # as the file names them
    preset_files: tuple[str, ...]            # the scenario files they name
    rows: tuple[Observation, ...]


def find_observations(ref: str) -> Path:
    """A path, or the NAME of a shipped observations file (observations/NAME.toml)."""
    for candidate in (Path(ref), builtin_observations() / ref, builtin_observations() / f"{ref}.toml"):
        if file_exists(candidate):
            return candidate
    shipped = sorted(p.stem for p in builtin_observations().glob("*.toml")) if builtin_observations().is_dir() else []
    raise ScenarioError(f"observations file '{ref}' not found",
                        hint="give a path, or one of the shipped files: " + (", ".join(shipped) or "none"))


def _label(path: Path) -> str:
    """observations/NAME.toml for a shipped file (the same wherever the project is), else the path as given."""
    try:
        return "observations/" + path.resolve().relative_to(builtin_observations().resolve()).as_posix()
    except ValueError:
        return str(path)


_ROW_NAME = re.compile(r"^\s*name\s*=\s*[\"']([^\"']+)[\"']", re.M)


def load_observations(registry: Registry, ref: str) -> Observations:
    """Read an observations file: every preset found, every ID known, every value in its declared unit.

    Raises
    ------
    ScenarioError, UnitError, UnknownIdError : naming the file, the line and the row.
    """
    path = find_observations(ref)
    data, text = read_toml(path)
    contents = validate_file(ObservationsFile, data, text, path, ScenarioError)
    lines = {m.group(1): text.count("\n", 0, m.start()) + 1 for m in _ROW_NAME.finditer(text)}
    # presets as files (a path in the file is relative to it), each loaded once here to fail early
    presets = tuple(_preset_file(registry, preset, path) for preset in contents.presets)
    shared = {ident: parse_value(registry, ident, raw, origin=path.name, where=str(path))
              for ident, raw in contents.assign.items()}
    rows: list[Observation] = []
    seen: set[str] = set()
    for entry in contents.observation:
        line = lines.get(entry.name)
        if entry.name in seen:
            raise ScenarioError(f"observation '{entry.name}' is named twice", file=path, line=line,
                                hint="give each row its own name: --holdout picks rows by name")
        seen.add(entry.name)
        variable = registry.require_variable(entry.quantity)
        observed = _observed(registry, entry.quantity, entry.observed, path, line)
        if observed == 0:
            raise ScenarioError(f"observation '{entry.name}': observed value is 0; the fit compares relative "
                                "errors", file=path, line=line, hint="observe a nonzero quantity")
        own_presets = tuple(_preset_file(registry, preset, path) for preset in entry.presets)
        own = {ident: parse_value(registry, ident, raw, origin=f"{path.name}:{entry.name}", where=str(path),
                                  line=line)
               for ident, raw in entry.assign.items()}
        rows.append(Observation(entry.name, entry.quantity, observed, variable.unit, entry.source,
                                (*presets, *own_presets), {**shared, **own}, line))
    digest = hashlib.sha256(read_text(path).encode("utf-8")).hexdigest()
    return Observations(path, _label(path), digest, " ".join(contents.description.split()),
                        tuple(contents.presets), presets, tuple(rows))


def _preset_file(registry: Registry, preset: str, path: Path) -> str:
    """The scenario file a preset names (a relative path is taken from the observations file's folder)."""
    found = find_scenario(preset, registry, relative_to=path.parent)
    load_scenario(registry, str(found))
    return str(found.resolve())


def _observed(registry: Registry, quantity: str, raw: object, path: Path, line: int | None) -> float:
    """An observed value in the quantity's declared unit."""
    unit = registry.variables[quantity].unit
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ScenarioError(f"'{quantity}': observed must be a number (in {unit}) or a quantity string such as "
                            "'705.5 TFLOP/s'", file=path, line=line)
    if not isinstance(raw, str):
        return float(raw)
    try:
        number, given = registry.units.quantity(raw)
        return registry.units.convert(number, given, unit)
    except UnitError as exc:
        raise UnitError(f"observed {raw!r} for '{quantity}': {exc.message} (declared unit '{unit}')",
                        file=path, line=line, hint=exc.hint) from None
