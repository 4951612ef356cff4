"""Validation cases: published figures of real training runs to compare the model with.

A validation file (docs/file-formats.md, "Validation files") holds a
`description` and `[[case]]` rows. Each case names the scenario packs that
reproduce a run (`presets`, applied in order), the registry ID compared
(`quantity`), the published figure (`published`, a quantity string in any
unit convertible to the ID's), where the paper gives it (`source`, a
reference key with a place its `locations` record as checked), how the paper
counts FLOPs (`flop_convention`), and optional per-case overrides
(`[case.assign]`). Files are read here, once, into frozen cases whose values
are in declared units; `gpu_stack.audit.validate` evaluates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from gpu_stack.core import Assignment
from gpu_stack.errors import ScenarioError, UnitError, UnknownIdError
from gpu_stack.model.entries import NonEmptyText, _File, ref_key
from gpu_stack.model.loader import read_toml, validate_file
from gpu_stack.model.paths import builtin_validation
from gpu_stack.model.registry import Registry
from gpu_stack.model.scenarios import find_scenario, parse_value

__all__ = ["ValidationCase", "ValidationSuite", "load_validation", "validation_files"]


class _CaseTable(_File):
    """One `[[case]]` row as written."""

    name: NonEmptyText
    presets: list[NonEmptyText] = Field(min_length=1)
    quantity: NonEmptyText
    published: NonEmptyText
    source: NonEmptyText
    flop_convention: NonEmptyText
    assign: dict[str, Any] = Field(default_factory=dict)


class _ValidationFile(_File):
    """A validation file as written: a description and its cases."""

    description: NonEmptyText
    case: list[_CaseTable] = Field(min_length=1)


@dataclass(frozen=True)
class ValidationCase:
    """One published figure and the packs that reproduce its run (values in declared units)."""

    name: str
    file: str                 # the validation file's stem, e.g. 'korthikanti2022_table5'
    path: Path
    line: int | None          # line of the case's [[case]] header
    presets: tuple[str, ...]
    quantity: str
    unit: str                 # the quantity's declared unit
    published: float          # in `unit`
    published_text: str       # as written
    source: str
    flop_convention: str
    assign: tuple[Assignment, ...] = ()


@dataclass
class ValidationSuite:
    """The cases of every file read, grouped by file (file stem -> description, cases)."""

    descriptions: dict[str, str] = field(default_factory=dict)
    cases: list[ValidationCase] = field(default_factory=list)

    def by_file(self) -> dict[str, list[ValidationCase]]:
        """Cases grouped by file, in reading order."""
        grouped: dict[str, list[ValidationCase]] = {}
        for case in self.cases:
            grouped.setdefault(case.file, []).append(case)
        return grouped


_CASE_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]", re.M)


def validation_files(folder: Path | None = None) -> list[Path]:
    """The validation files of `folder` (the shipped validation/ folder by default), sorted."""
    folder = folder if folder is not None else builtin_validation()
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def _case_lines(text: str) -> list[int]:
    """1-based line of each `[[case]]` header, in order."""
    return [text.count("\n", 0, m.start()) + 1 for m in _CASE_HEADER.finditer(text)]


def _key_line(text: str, start: int | None, key: str) -> int | None:
    """Line of `key =` at or after line `start` (the case's header), else the header's line."""
    if start is None:
        return None
    lines = text.splitlines()
    pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for number in range(start, len(lines) + 1):
        if number > start and _CASE_HEADER.match(lines[number - 1]):
            break
        if pattern.match(lines[number - 1]):
            return number
    return start


def _check_source(registry: Registry, source: str, path: Path, line: int | None) -> None:
    """A case's source must be a reference key with a place its `locations` record as checked."""
    key = ref_key(source)
    place = source.split(":", 1)[1].strip() if ":" in source else ""
    if key not in registry.references:
        raise ScenarioError(f"source '{source}': unknown reference key '{key}'", file=path, line=line,
                            hint="add it to registry/references.toml or fix the spelling")
    if not place:
        raise ScenarioError(f"source '{source}' names no place in the paper", file=path, line=line,
                            hint=f"write '{key}:PLACE' with a place listed in its locations")
    locations = registry.references[key].locations
    if place not in locations:
        checked = ", ".join(sorted(locations)) or "none"
        raise ScenarioError(f"source '{source}': '{place}' is not among the places of '{key}' checked against "
                            f"the source (locations: {checked})", file=path, line=line,
                            hint="check the place against the paper and record it in references.toml locations")


def _read_file(registry: Registry, path: Path, seen: dict[str, str], suite: ValidationSuite) -> None:
    data, text = read_toml(path)
    contents = validate_file(_ValidationFile, data, text, path, ScenarioError)
    stem = path.stem
    suite.descriptions[stem] = contents.description
    headers = _case_lines(text)
    for index, row in enumerate(contents.case):
        start = headers[index] if index < len(headers) else None
        where = str(path)
        if row.name in seen:
            raise ScenarioError(f"case name '{row.name}' is used twice (also in {seen[row.name]})", file=path,
                                line=_key_line(text, start, "name"), hint="case names are unique across validation/")
        seen[row.name] = where
        if row.quantity not in registry.variables:
            raise UnknownIdError(f"case '{row.name}': quantity '{row.quantity}' is not a variable", file=path,
                                 line=_key_line(text, start, "quantity"), hint=registry.suggest(row.quantity))
        unit = registry.variables[row.quantity].unit
        published_line = _key_line(text, start, "published")
        try:
            number, given_unit = registry.units.quantity(row.published)
            published = registry.units.convert(number, given_unit, unit)
        except UnitError as exc:
            raise UnitError(f"case '{row.name}': published = {row.published!r}: {exc.message} (declared unit of "
                            f"'{row.quantity}' is '{unit}')", file=path, line=published_line,
                            hint=exc.hint) from None
        if published == 0:
            raise ScenarioError(f"case '{row.name}': published = {row.published!r} is zero, so no relative error "
                                "can be taken", file=path, line=published_line)
        _check_source(registry, row.source, path, _key_line(text, start, "source"))
        for preset in row.presets:   # an unknown pack is refused here, naming the close ones
            try:
                find_scenario(preset, registry)
            except ScenarioError as exc:
                raise ScenarioError(f"case '{row.name}': {exc.message}", file=path,
                                    line=_key_line(text, start, "presets"), hint=exc.hint) from None
        assign = tuple(parse_value(registry, ident, raw, origin=f"case {row.name}", where=where,
                                   line=_key_line(text, start, ident))
                       for ident, raw in row.assign.items())
        suite.cases.append(ValidationCase(
            name=row.name, file=stem, path=path, line=start, presets=tuple(row.presets), quantity=row.quantity,
            unit=unit, published=published, published_text=row.published, source=row.source,
            flop_convention=row.flop_convention, assign=assign))


def load_validation(registry: Registry, names: list[str] | None = None, folder: Path | None = None) -> ValidationSuite:
    """Read every validation file (the shipped folder by default); keep the cases named in `names`, if given.

    Raises
    ------
    ScenarioError, UnknownIdError, UnitError
        A malformed file, an unknown ID, pack or reference, an unchecked place, a published figure in a
        unit that does not convert, a duplicate case name, or a name in `names` that no file holds.
    """
    suite = ValidationSuite()
    seen: dict[str, str] = {}
    paths = validation_files(folder)
    for path in paths:
        _read_file(registry, path, seen, suite)
    if names:
        unknown = [name for name in names if name not in seen]
        if unknown:
            known = ", ".join(sorted(seen)) or "none"
            raise ScenarioError(f"no validation case named {', '.join(repr(n) for n in unknown)}",
                                hint=f"known cases: {known}")
        wanted = set(names)
        suite.cases = [case for case in suite.cases if case.name in wanted]
        suite.descriptions = {stem: text for stem, text in suite.descriptions.items()
                              if any(case.file == stem for case in suite.cases)}
    return suite
