"""A scenario's [uncertain] table: one distribution per input, and rank correlations between them.

Each entry names a distribution and its parameters (docs/file-formats.md)::

    [uncertain]
    "econ.capex.gpu_price" = { dist = "lognormal", median = "33750 USD", sigma = 0.2, source = "…" }
    "kernel.gemm.peak_fraction" = { dist = "pert", low = 0.75, mode = 0.86, high = 0.92, source = "…" }
    "fab.yield.defect_density" = { dist = "empirical", file = "d0.csv", unit = "1/cm^2", source = "…" }

    [uncertain.correlation]
    ids = ["econ.capex.gpu_price", "econ.power.price_kwh_peak"]
    matrix = [[1, 0.3], [0.3, 1]]

Parameters are numbers in the variable's declared unit or quantity strings
("30000 USD"); `sigma` of a lognormal is the standard deviation of the natural
log, a bare number. Each distribution must stay inside the variable's
min/max (an unbounded one may put at most `MAX_MASS_OUTSIDE` of its
probability outside). The [assign] entry of the same ID keeps the point value
every other command uses. Everything is checked here, once, with the file,
line and ID of a bad entry.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gpu_stack.core import Assignment, Correlation, Uncertain
from gpu_stack.errors import ScenarioError, UnitError, UnknownIdError
from gpu_stack.model.limits import read_number
from gpu_stack.model.loader import read_text
from gpu_stack.model.registry import Registry

__all__ = ["DISTRIBUTIONS", "MAX_MASS_OUTSIDE", "parse_uncertain", "check_correlated", "merge_correlations",
           "without", "rank_to_gaussian"]

# distribution -> its parameters, in the order they are written
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "pert": ("low", "mode", "high"),
    "empirical": ("file",),
}
_OPTIONAL = {"source", "note"}
_EMPIRICAL_OPTIONAL = {"column", "unit"}
# An unbounded distribution (normal, lognormal) may put this much probability outside the variable's
# min/max: sampled points there fail the model's bound check and are counted, not silently clipped.
MAX_MASS_OUTSIDE = 1e-6
_CORRELATION = "correlation"


def parse_uncertain(registry: Registry, table: Mapping[str, Any], *, path: Path, text: str, origin: str,
                    assigned: Mapping[str, Assignment]) -> tuple[dict[str, Uncertain], Correlation | None]:
    """Read a scenario's [uncertain] table: its distributions (declared units) and its correlation, if any.

    `assigned` holds the composed point values ([assign] of the file and of what it extends): every
    uncertain input needs one. Raises `ScenarioError`, `UnitError` or `UnknownIdError` naming the file,
    the line and the ID.
    """
    entries: dict[str, Uncertain] = {}
    for ident, raw in table.items():
        if ident == _CORRELATION:
            continue
        line = _entry_line(text, ident)
        where = {"file": path, "line": line}
        if ident not in registry.variables:
            hint = "constants cannot be uncertain" if ident in registry.constants else registry.suggest(ident)
            raise UnknownIdError(f"[uncertain] names unknown variable '{ident}'", hint=hint, **where)
        if ident not in assigned:
            raise ScenarioError(f"'{ident}' is uncertain but has no point value", hint="assign it in [assign] "
                                "(here or in an extended pack): other commands use that value", **where)
        entries[ident] = _distribution(registry, ident, raw, path=path, line=line, origin=origin)
    correlation = None
    if _CORRELATION in table:
        correlation = _correlation(table[_CORRELATION], path=path, text=text, origin=origin)
    return entries, correlation


def merge_correlations(earlier: Iterable[Correlation], later: Iterable[Correlation]) -> list[Correlation]:
    """Correlation blocks of several layers: a later block replaces every earlier one that shares an ID."""
    merged = list(earlier)
    for block in later:
        merged = [b for b in merged if not set(b.ids) & set(block.ids)] + [block]
    return merged


def without(blocks: Iterable[Correlation], pinned: set[str]) -> list[Correlation]:
    """Correlation blocks with the pinned IDs taken out (a principal submatrix stays positive semi-definite);
    a block left with fewer than two IDs goes."""
    kept = []
    for block in blocks:
        rows = [k for k, ident in enumerate(block.ids) if ident not in pinned]
        if len(rows) >= 2:
            kept.append(Correlation(tuple(block.ids[k] for k in rows),
                                    tuple(tuple(block.matrix[i][j] for j in rows) for i in rows), block.origin))
    return kept


def rank_to_gaussian(matrix: np.ndarray) -> np.ndarray:
    """The Gaussian copula's correlation for a rank (Spearman) correlation: 2 sin(π ρ / 6).

    The Spearman correlation of a bivariate normal with correlation r is (6/π) arcsin(r/2)
    (Pearson 1907), inverted here.
    """
    return 2.0 * np.sin(np.pi * np.asarray(matrix, dtype=float) / 6.0)


def _distribution(registry: Registry, ident: str, raw: Any, *, path: Path, line: int | None,
                  origin: str) -> Uncertain:
    variable = registry.variables[ident]
    where = {"file": path, "line": line}
    if not isinstance(raw, dict) or not isinstance(raw.get("dist"), str):
        raise ScenarioError(f"'{ident}': an uncertain input is a table {{ dist = \"…\", … }}",
                            hint="dist is one of " + ", ".join(DISTRIBUTIONS), **where)
    dist = raw["dist"]
    if dist not in DISTRIBUTIONS:
        raise ScenarioError(f"'{ident}': unknown distribution {dist!r}",
                            hint="use one of " + ", ".join(DISTRIBUTIONS), **where)
    names = DISTRIBUTIONS[dist]
    allowed = {"dist", *names, *_OPTIONAL, *(_EMPIRICAL_OPTIONAL if dist == "empirical" else ())}
    missing = [name for name in names if name not in raw]
    unknown = sorted(set(raw) - allowed)
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown key(s) {', '.join(unknown)}"
        raise ScenarioError(f"'{ident}': a {dist} distribution takes {', '.join(names)}; {problem}",
                            hint="optional: " + ", ".join(sorted(allowed - {'dist', *names})), **where)
    if variable.integer:
        raise ScenarioError(f"'{ident}' is an integer variable: it cannot be sampled from a {dist} distribution",
                            hint="study its values with a sweep instead", **where)
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise ScenarioError(f"'{ident}': source must be a string", **where)
    if dist == "empirical":
        values = _empirical_values(registry, ident, raw, path=path, line=line)
        _check_inside(registry, ident, dist, values[0], values[-1], **where)
        return Uncertain(ident, dist, {}, variable.unit, origin, source, tuple(values))
    params = {name: _parameter(registry, ident, dist, name, raw[name], **where) for name in names}
    _check_parameters(ident, dist, params, **where)
    _check_domain(registry, ident, dist, params, **where)
    return Uncertain(ident, dist, params, variable.unit, origin, source)


def _parameter(registry: Registry, ident: str, dist: str, name: str, raw: Any, **where: Any) -> float:
    """One parameter in the declared unit; `sigma` is a bare number, `std` a difference (no offset)."""
    unit = registry.variables[ident].unit
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ScenarioError(f"'{ident}': {dist} {name} must be a number or a quantity string", **where)
    if name == "sigma":
        if isinstance(raw, str):
            raise ScenarioError(f"'{ident}': lognormal sigma is the standard deviation of ln(value), a bare "
                                f"number (got {raw!r})", hint="e.g. sigma = 0.2 for about ±20%", **where)
        value = float(raw)
    elif isinstance(raw, str):
        number = read_number(raw, f"'{ident}' {name}")
        try:
            if number is not None:
                value = number
            else:
                amount, given = registry.units.quantity(raw)
                value = registry.units.convert(amount, given, unit)
                if name == "std":   # a spread: convert it as a difference (°C → K adds no offset)
                    value -= registry.units.convert(0.0, given, unit)
        except UnitError as exc:
            raise UnitError(f"'{ident}' {dist} {name} = {raw!r}: {exc.message} (declared unit of '{ident}' is "
                            f"'{unit}')", hint=exc.hint, **where) from None
    else:
        value = float(raw)
    if not math.isfinite(value):
        raise ScenarioError(f"'{ident}': {dist} {name} = {raw!r} is not a finite number", **where)
    return value


def _check_parameters(ident: str, dist: str, p: Mapping[str, float], **where: Any) -> None:
    problems = {
        "normal": [(p.get("std", 1) > 0, "std must be > 0")],
        "lognormal": [(p.get("median", 1) > 0, "median must be > 0"), (p.get("sigma", 1) > 0, "sigma must be > 0")],
        "uniform": [(p.get("low", 0) < p.get("high", 1), "low must be below high")],
        "loguniform": [(p.get("low", 1) > 0, "low must be > 0"),
                       (p.get("low", 0) < p.get("high", 1), "low must be below high")],
        "triangular": [(p.get("low", 0) < p.get("high", 1), "low must be below high"),
                       (p.get("low", 0) <= p.get("mode", 0) <= p.get("high", 1), "mode must lie in [low, high]")],
    }
    problems["pert"] = problems["triangular"]
    for ok, message in problems.get(dist, []):
        if not ok:
            shown = ", ".join(f"{k} = {v:g}" for k, v in p.items())
            raise ScenarioError(f"'{ident}': {dist} {message} (got {shown})", **where)


def _check_domain(registry: Registry, ident: str, dist: str, p: Mapping[str, float], **where: Any) -> None:
    """A bounded distribution must lie inside min/max; an unbounded one may leave MAX_MASS_OUTSIDE."""
    if dist in ("uniform", "loguniform", "triangular", "pert"):
        _check_inside(registry, ident, dist, p["low"], p["high"], **where)
        return
    variable = registry.variables[ident]
    if dist == "normal":
        z = lambda x: (x - p["mean"]) / p["std"]  # noqa: E731
    else:
        if variable.max is None and (variable.min is None or variable.min <= 0):
            return
        z = lambda x: (math.log(x) - math.log(p["median"])) / p["sigma"] if x > 0 else -math.inf  # noqa: E731
    below = 0.5 * math.erfc(-z(variable.min) / math.sqrt(2)) if variable.min is not None else 0.0
    above = 0.5 * math.erfc(z(variable.max) / math.sqrt(2)) if variable.max is not None else 0.0
    for mass, side, bound in ((below, "below its min", variable.min), (above, "above its max", variable.max)):
        if mass > MAX_MASS_OUTSIDE:
            raise ScenarioError(f"'{ident}': the {dist} distribution puts {mass:.2g} of its probability {side} "
                                f"{bound:g} {variable.unit}", hint="narrow it, or use a bounded distribution "
                                "(uniform, triangular, pert)", **where)


def _check_inside(registry: Registry, ident: str, dist: str, low: float, high: float, **where: Any) -> None:
    variable = registry.variables[ident]
    if variable.min is not None and low < variable.min or variable.max is not None and high > variable.max:
        bounds = f"[{variable.min if variable.min is not None else '-inf'}, " \
                 f"{variable.max if variable.max is not None else 'inf'}]"
        raise ScenarioError(f"'{ident}': the {dist} range [{low:g}, {high:g}] {variable.unit} leaves its domain "
                            f"{bounds}", hint="check the range and its unit", **where)


def _empirical_values(registry: Registry, ident: str, raw: Mapping[str, Any], *, path: Path,
                      line: int | None) -> list[float]:
    """Sorted values of a CSV next to the scenario: one column of numbers, an optional header row."""
    where = {"file": path, "line": line}
    if not isinstance(raw["file"], str) or not raw["file"]:
        raise ScenarioError(f"'{ident}': empirical file must be a path to a CSV file", **where)
    csv_path = path.parent / raw["file"]
    if not csv_path.is_file():
        raise ScenarioError(f"'{ident}': empirical file '{raw['file']}' not found next to the scenario "
                            f"(looked for {csv_path})", hint="give the CSV's path relative to the scenario file",
                            **where)
    rows = [row for row in csv.reader(read_text(csv_path).splitlines()) if any(cell.strip() for cell in row)]
    header = rows[0] if rows and any(read_number(c.strip(), "a CSV cell") is None for c in rows[0]) else None
    column = raw.get("column")
    if column is not None:
        if header is None or column not in [c.strip() for c in header]:
            raise ScenarioError(f"'{ident}': the CSV {csv_path.name} has no column {column!r}",
                                hint=f"its header: {', '.join(header)}" if header else "it has no header row",
                                **where)
        index = [c.strip() for c in header].index(column)
    elif rows and len(rows[0]) != 1:
        raise ScenarioError(f"'{ident}': the CSV {csv_path.name} has {len(rows[0])} columns",
                            hint="name one with column = \"…\"", **where)
    else:
        index = 0
    unit = registry.variables[ident].unit
    scale = _file_unit(registry, ident, raw.get("unit"), **where)
    values = []
    for number, row in enumerate(rows[1 if header else 0:], start=2 if header else 1):
        cell = row[index].strip() if index < len(row) else ""
        value = read_number(cell, "a CSV cell") if cell else None
        if value is None or not math.isfinite(value):
            raise ScenarioError(f"'{ident}': {csv_path.name} row {number} holds {cell!r}, not a number",
                                hint=f"numbers in {raw.get('unit') or unit}", **where)
        values.append(scale(value))
    if len(values) < 2:
        raise ScenarioError(f"'{ident}': {csv_path.name} holds {len(values)} value(s); an empirical "
                            "distribution needs at least two", **where)
    return sorted(values)


def _file_unit(registry: Registry, ident: str, unit: Any, **where: Any):
    """x in the file's `unit` -> x in the declared unit."""
    declared = registry.variables[ident].unit
    if unit is None:
        return lambda x: x
    if not isinstance(unit, str):
        raise ScenarioError(f"'{ident}': unit must be a string", **where)
    try:
        registry.units.convert(1.0, unit, declared)
    except UnitError as exc:
        raise UnitError(f"'{ident}' unit = {unit!r}: {exc.message} (declared unit of '{ident}' is '{declared}')",
                        hint=exc.hint, **where) from None
    return lambda x: registry.units.convert(x, unit, declared)


def _correlation(raw: Any, *, path: Path, text: str, origin: str) -> Correlation:
    line = _header_line(text)
    where = {"file": path, "line": line}
    if not isinstance(raw, dict) or set(raw) != {"ids", "matrix"}:
        raise ScenarioError("[uncertain.correlation] holds ids = [\"ID\", …] and matrix = [[…], …] (rank "
                            "correlations)", **where)
    ids, matrix = raw["ids"], raw["matrix"]
    if not isinstance(ids, list) or len(ids) < 2 or not all(isinstance(i, str) for i in ids) \
            or len(set(ids)) != len(ids):
        raise ScenarioError("[uncertain.correlation] ids must be two or more different IDs", **where)
    n = len(ids)
    if not isinstance(matrix, list) or len(matrix) != n or not all(
            isinstance(row, list) and len(row) == n and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                            for x in row) for row in matrix):
        raise ScenarioError(f"[uncertain.correlation] matrix must be {n}×{n} numbers, one row per ID", **where)
    m = np.array(matrix, dtype=float)
    if not np.allclose(np.diag(m), 1.0) or not np.allclose(m, m.T) or np.any(np.abs(m) > 1):
        raise ScenarioError("[uncertain.correlation] matrix must be symmetric, with 1 on the diagonal and "
                            "entries in [-1, 1]", **where)
    smallest = float(np.linalg.eigvalsh(rank_to_gaussian(m)).min())
    if smallest < -1e-9:
        raise ScenarioError(f"[uncertain.correlation] matrix is not positive semi-definite (smallest eigenvalue "
                            f"{smallest:.3g} of its Gaussian-copula form): the correlations contradict each other",
                            hint="weaken the off-diagonal entries", **where)
    return Correlation(tuple(ids), tuple(tuple(float(x) for x in row) for row in matrix), origin)


def check_correlated(correlation: Correlation, uncertain: Mapping[str, Uncertain], *, path: Path,
                     text: str) -> None:
    """Every ID of a correlation block must be uncertain (in the file or in what it extends)."""
    for ident in correlation.ids:
        if ident not in uncertain:
            raise ScenarioError(f"[uncertain.correlation] names '{ident}', which has no distribution",
                                file=path, line=_header_line(text), hint="give it one in [uncertain]")


def _header_line(text: str) -> int | None:
    match = re.search(r"^[ \t]*\[\s*uncertain\s*\.\s*correlation\s*\]", text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _entry_line(text: str, ident: str) -> int | None:
    """Line of `"ident" =` inside the [uncertain] table (the same ID also sits in [assign])."""
    header = re.search(r"^[ \t]*\[\s*uncertain\s*\]", text, re.M)
    start = header.end() if header else 0
    match = re.compile(r"^[ \t]*[\"']" + re.escape(ident) + r"[\"']\s*=", re.M).search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None
