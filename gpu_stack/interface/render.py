"""Reports → terminal: aligned rich tables and readable traces.

Only the CLI calls this module; the library never prints.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from rich.console import Console, JustifyMethod
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gpu_stack.interface.display import Display, UnitsMode, fmt
from gpu_stack.model.entries import Reference
from gpu_stack.reports import (CalibrationReport, ResolveReport, RootDebtReport, ScenarioReport, SensitivityReport,
                               SolveResult, StatsReport, TraceItem, ValidationReport, VerifyReport)

__all__ = ["render_resolve", "render_scenario", "render_stats", "render_root_debt", "render_verify",
           "render_explain", "render_solve", "render_sensitivity", "render_listing", "render_warnings", "render_cone",
           "first_sentence"]

_BAR = 20   # widest elasticity bar, in characters
_STATUS_STYLE = {"ok": "green", "missing": "yellow", "error": "red", "violated": "red", "unresolved": "yellow",
                 "infeasible": "red", "failed": "red", "underdetermined": "yellow", "overdetermined": "yellow",
                 "unbounded": "yellow"}


def _room(console: Console, rows: list[list[str]], columns: int, least: int = 16) -> int:
    """Width left on the console for a last column after `columns` columns never cut (two spaces apart)."""
    used = sum(max(len(str(row[i])) for row in rows) + 2 for i in range(columns))
    return max(console.width - used, least)


def status_text(status: str) -> Text:
    """A status word in its colour."""
    return Text(status, style=_STATUS_STYLE.get(status, "bold"))


def _provenance(step: TraceItem) -> Text:
    """Where a trace value came from: an equation, an assignment, an override, a constant."""
    if step.source == "equation":
        return Text(step.equation or "")
    if step.source == "override":
        return Text.assemble(("OVERRIDE", "bold magenta"), f" {step.origin} cuts {step.equation}")
    if step.source == "assign":
        return Text(f"assign {step.origin}", style="cyan")
    return Text("constant", style="blue")


def _print_detail_table(console: Console, columns: list[tuple[str, JustifyMethod]], detail: str,
                        rows: list[tuple[list[Any], Text]]) -> None:
    """Rows of short cells plus a long detail (a provenance, an expression) as the last column.

    When the rows do not fit on one line, each detail goes on its own
    indented line under its row, across the whole width: the short cells
    (values, units) are never cut. `columns` are (header, justify) pairs.
    """
    headers = [header for header, _ in columns]
    widths = [max([len(header), *(len(str(cells[i])) for cells, _ in rows)]) for i, header in enumerate(headers)]
    longest_detail = max([len(detail), *(len(text) for _, text in rows)])
    if sum(widths) + longest_detail + 2 * len(widths) <= console.width:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header, justify in columns:
            table.add_column(header, justify=justify, no_wrap=True)
        table.add_column(detail, no_wrap=True)
        for cells, text in rows:
            table.add_row(*cells, text)
        console.print(table)
        return
    widths[0] = max(8, min(widths[0], console.width - sum(widths[1:]) - 2 * (len(widths) - 1)))

    def grid(show_header: bool) -> Table:
        table = Table(box=None, header_style="bold", pad_edge=False, show_header=show_header)
        for index, ((header, justify), width) in enumerate(zip(columns, widths)):
            table.add_column(f"{header} / {detail}" if index == 0 else header, justify=justify, width=width,
                             overflow="fold" if index == 0 else "ellipsis", no_wrap=index > 0)
        return table

    console.print(grid(show_header=True))
    for cells, text in rows:
        row = grid(show_header=False)
        row.add_row(*cells)
        console.print(row)
        console.print(Padding(text, (0, 0, 0, 2)))


def render_resolve(console: Console, report: ResolveReport, display: Display, *, trace: bool, missing: bool) -> None:
    """A resolved target: its value, the trace, missing roots, errors and checks."""
    if report.kind == "constraint":
        verdict = report.constraints[0].status if report.constraints else "unresolved"
        console.print(Text.assemble((report.target, "bold"), "  ", status_text(verdict)))
    else:
        number, unit = display.quantity(report.target, report.value, report.unit)
        console.print(Text.assemble((report.target, "bold"), " = ", (number, "bold"), f" {unit}" if unit else "",
                                    "  ", status_text(report.status)))
    if report.presets:
        console.print(f"presets: {', '.join(report.presets)}", style="dim")
    if trace and report.trace:
        rows = [([step.id, *display.quantity(step.id, step.value, step.unit)], _provenance(step))
                for step in report.trace]
        _print_detail_table(console, [("variable", "left"), ("value", "right"), ("unit", "left")], "from", rows)
    if report.status != "ok" or missing:
        if report.missing:
            console.print(f"missing roots ({len(report.missing)}): assign them with --assign ID=VALUE or a --preset",
                          style="yellow")
            for ident in report.missing:
                console.print(f"  {ident}")
        elif missing:
            console.print("missing roots: none", style="green")
    for error in report.errors:
        console.print(f"error: {error}", style="red")
    if report.constraints:
        rows = [([check.id, check.kind, status_text(check.status), *_constraint_sides(display, check)],
                 Text(check.expr, style="dim")) for check in report.constraints]
        _print_detail_table(console, [("check", "left"), ("kind", "left"), ("status", "left"), ("lhs", "right"),
                                      ("rhs", "right"), ("unit", "left")], "expression", rows)


def _constraint_sides(display: Display, check) -> list[str]:
    """lhs, rhs and their unit: in the check's declared unit (scaled for reading), else in SI base units."""
    if check.lhs is None or check.rhs is None or not check.unit:
        return [fmt(check.lhs), fmt(check.rhs), ""]
    factor = display.registry.units.factor(check.unit)
    lhs, rhs = check.lhs / factor, check.rhs / factor
    scale, label = display.scale(None, max(abs(lhs), abs(rhs)) or 1.0, check.unit)
    return [fmt(lhs * scale, 4), fmt(rhs * scale, 4), label]


def render_scenario(console: Console, report: ScenarioReport, display: Display) -> None:
    """A scenario's outputs with their values and statuses."""
    console.print(Text.assemble((report.scenario, "bold"), f"  ({report.kind})  ", status_text(report.status),
                                f"  {report.ok_count}/{report.target_count} outputs, "
                                f"{report.assignment_count} assignments"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("output")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("status")
    for target in report.targets:
        table.add_row(target.id, *display.quantity(target.id, target.value, target.unit), status_text(target.status))
    console.print(table)
    for target in report.targets:
        if target.missing:
            console.print(f"  {target.id} needs: {', '.join(target.missing)}", style="yellow")
        if target.error:
            console.print(f"  {target.id}: {target.error}", style="red")


def render_stats(console: Console, report: StatsReport) -> None:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("share", style="dim")
    equations = max(report.equations, 1)
    variables = max(report.variables, 1)
    rows: list[tuple[str, int, str]] = [
        ("variables", report.variables, ""), ("constants", report.constants, ""),
        ("equations", report.equations, ""), ("constraints", report.constraints, ""),
        ("alternative groups", report.groups, ""), ("references", report.references, ""),
        ("roots", report.roots, ", ".join(f"{k} {v}" for k, v in report.roots_by_boundary.items())),
        ("leaves", report.leaves, ""), ("families", report.families, ""), ("algebraic loops", report.loops, ""),
        ("equations unit-checked", report.equations_unit_checked, f"{report.equations_unit_checked / equations:.0%}"),
        ("equations with references", report.equations_with_refs, f"{report.equations_with_refs / equations:.0%}"),
        ("variables with references", report.variables_with_refs, f"{report.variables_with_refs / variables:.0%}"),
        ("equations reaching a headline", report.equations_reaching_headline,
         f"{report.equations_reaching_headline / equations:.0%}"),
        ("citations", report.citations, f"whole source {report.citations_whole_source}"),
        ("citations of checked places", report.citations_checked_places, f"{report.checked_place_share:.0%} of places, "
         f"{report.citations_checked_places / max(report.citations, 1):.0%} of citations"),
        ("citations of unchecked places", report.citations_unchecked_places, "verify: unchecked-place"),
        ("equation citations", report.equation_citations,
         f"{report.equation_citations_checked_places} of checked places "
         f"({report.equation_citations_checked_places / max(report.equation_citations, 1):.0%})"),
    ]
    for what, count, share in rows:
        table.add_row(what, str(count), share)
    console.print(table)


def render_root_debt(console: Console, report: RootDebtReport, *, by_family: bool) -> None:
    """Roots (or families) ranked by weight; descriptions cut at the edge of the console."""
    console.print(f"{report.total_roots} roots with boundary {' / '.join(report.boundaries)}"
                  + (f" in the cone of {', '.join(report.presets)}" if report.presets else ""), style="bold")
    table = Table(box=None, header_style="bold", pad_edge=False)
    if by_family:
        table.add_column("family")
        table.add_column("weight", justify="right")
        table.add_column("roots", justify="right")
        table.add_column("top roots")
        for item in report.families:
            table.add_row(item.family, str(item.total_weight), str(item.root_count),
                          ", ".join(r.id.rsplit(".", 1)[1] + f" ({r.weight})" for r in item.top_roots))
    else:
        headers = ["root", "weight", "boundary", *(["assigned"] if report.presets else [])]
        rows = [[root.id, str(root.weight), root.boundary, *(["yes" if root.assigned else "NO"] if report.presets
                                                             else [])] for root in report.roots]
        for header in headers:
            table.add_column(header, justify="right" if header == "weight" else "left", overflow="fold")
        table.add_column("description", overflow="ellipsis", no_wrap=True,
                         max_width=_room(console, [headers, *rows], len(headers)))
        for root, cells in zip(report.roots, rows):
            table.add_row(*cells, root.description)
    console.print(table)


def render_verify(console: Console, report: VerifyReport) -> None:
    for problem in report.problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(Text.assemble((f"{problem.severity:7}", style), f" [{problem.check}] ", problem.message))
    checked = report.checked
    summary = (f"verify ({report.profile}): {checked.get('variables', 0)} variables, "
               f"{checked.get('equations', 0)} equations, {len(checked.get('loops', []))} loops")
    if report.profile == "full":
        summary += f", {checked.get('scenarios', 0)} scenarios, {checked.get('problems', 0)} problems"
    summary += f" — {report.error_count} errors, {report.warning_count} warnings"
    console.print(Text.assemble(summary + "  ", status_text("ok" if report.status == "ok" else "error")))


def _authors_short(authors: str) -> str:
    """'A, B, C, D' → 'A et al.'; up to three authors are kept."""
    names = [name.strip() for name in authors.split(",") if name.strip()]
    return names[0] + " et al." if len(names) > 3 else ", ".join(names)


def _citation(authors: str, year: Any, title: str) -> str:
    """'Narayanan et al. (2021). Efficient Large-Scale … Megatron-LM.'"""
    head = _authors_short(authors)
    if year:
        head += f" ({year})" if head else f"({year})"
    return (f"{head}. " if head else "") + title.rstrip(".") + "."


def _place(place: str, text: str) -> Padding:
    """One place cited in a source and what the registry found there, indented under the citation."""
    return Padding(Text.assemble((place, "bold"), f": {text}" if text else "", style="dim"), (0, 0, 0, 6))


def render_explain(console: Console, info: dict[str, Any], references: Mapping[str, Reference]) -> None:
    """What the registry knows about an ID; references as citations (authors, year, title, place cited)."""
    if "title" in info and info["id"] in references:   # explain's reference dict: its 'kind' is the source's
        _render_reference(console, references[info["id"]])
        return
    console.print(Text.assemble((info["id"], "bold"), f"  ({info['kind']})"))
    skip = {"id", "kind", "refs"}
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value")
    for key, value in info.items():
        if key in skip or value in (None, [], "", {}) or value is False:
            continue
        if key == "defined_by":
            value = "\n".join(f"{d['id']}{' (active)' if d['active'] else ''}: {d['eq']}" for d in value)
        elif key == "variables" and value and isinstance(value[0], dict):
            value = ", ".join(f"{v['id']} [{v['unit']}]" for v in value)
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            value = fmt(value)
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    places: dict[str, list[dict[str, str]]] = {}
    for ref in info.get("refs", []):
        places.setdefault(ref["key"], []).append(ref)
    if places:
        console.print("references", style="bold")
    for key, refs in places.items():
        entry = references.get(key)
        console.print(Text.assemble("  ", (f"[{key}]", "cyan"), " ",
                                    _citation(entry.authors if entry else "", refs[0].get("year"), refs[0]["title"])))
        for ref in refs:
            if ref.get("place"):
                console.print(_place(ref["place"], ref.get("at_place", "")))


def _render_reference(console: Console, reference: Reference) -> None:
    """One bibliography entry: citation, link, note and the places the registry cites."""
    console.print(Text.assemble((reference.key, "bold"), f"  (reference, {reference.kind})"))
    console.print("  " + _citation(reference.authors, reference.year, reference.title))
    if reference.authors and _authors_short(reference.authors) != reference.authors:
        console.print(f"  authors: {reference.authors}", style="dim")
    if reference.url:
        console.print(f"  {reference.url}", style="dim")
    if reference.note:
        console.print(f"  note: {reference.note}", style="dim")
    if reference.locations:
        console.print("  places checked against the source:", style="bold")
        for place, text in reference.locations.items():
            console.print(_place(place, text))


def _value_table(heading: str, items: Mapping[str, Any], display: Display) -> Table:
    """IDs with their values and units, aligned."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(heading)
    table.add_column("value", justify="right")
    table.add_column("unit")
    for ident, item in items.items():
        table.add_row(ident, *display.quantity(ident, item.value, item.unit))
    return table


def render_solve(console: Console, result: SolveResult, display: Display) -> None:
    """A solve result: status, what the flags changed, free variables, objective, constraints, outputs."""
    head = Text.assemble(("solve ", "bold"), status_text(result.status), f"  {result.message}")
    console.print(head)
    for note in result.notes:
        console.print(f"note: {note}", style="dim")
    if result.free:
        console.print(_value_table("free variable", result.free, display))
    if result.objective is not None:
        number, unit = display.quantity(None, result.objective, result.objective_unit or "")
        console.print(f"objective = {number} {unit}")
    if result.active_constraints:
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("active constraint")
        table.add_column("shadow price", justify="right")
        table.add_column("unit")
        for ident in result.active_constraints:
            table.add_row(ident, fmt(result.multipliers.get(ident)), result.multiplier_units.get(ident, ""))
        console.print(table)
    if result.conflicting_constraints:
        console.print("conflicting: " + ", ".join(result.conflicting_constraints), style="red")
    if result.outputs:
        console.print(_value_table("output", result.outputs, display))


def render_sensitivity(console: Console, report: SensitivityReport, display: Display, limit: int | None = None) -> None:
    """Elasticities as a ranked table with bars."""
    number, unit = display.quantity(report.target, report.value, report.unit)
    console.print(Text.assemble((report.target, "bold"), f" = {number} {unit}"))
    roots = report.roots[:limit]
    rows = [[root.id, f"{root.elasticity:+.4f}", *display.quantity(root.id, root.value, root.unit), root.source]
            for root in roots]
    headers = ["input", "elasticity", "value", "unit", "source"]
    bar_width = min(_BAR, _room(console, [headers, *rows], len(headers), least=0))
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("input", overflow="fold")
    table.add_column("elasticity", justify="right", no_wrap=True)
    if bar_width:
        table.add_column("", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("source", no_wrap=True)
    largest = max((abs(r.elasticity) for r in report.roots if r.elasticity == r.elasticity), default=1.0) or 1.0
    for root, (ident, elasticity, number, unit, source) in zip(roots, rows):
        width = int(round(bar_width * abs(root.elasticity) / largest)) if root.elasticity == root.elasticity else 0
        bar = [Text("█" * width, style="green" if root.elasticity >= 0 else "red")] if bar_width else []
        table.add_row(ident, elasticity, *bar, number, unit, source)
    console.print(table)


_ABBREVIATIONS = ("al.", "e.g.", "i.e.", "cf.", "vs.", "Fig.", "Eq.", "No.", "approx.")


def first_sentence(text: str) -> str:
    """The first sentence of a description: up to a '.', '?' or '!' followed by a space and a capital."""
    for match in re.finditer(r"[.?!](?=\s+[A-Z(\"'])", text):
        if not text[:match.end()].endswith(_ABBREVIATIONS):
            return text[:match.end()]
    return text


def render_listing(console: Console, items: list[dict[str, str]]) -> None:
    """`list`: one line per item — ID, kind or unit when there is one, the first sentence of its description.

    IDs and kinds are never cut; the description is cut with '…' at the edge of the console.
    """
    extra = "kind" if any("kind" in item for item in items) else "unit" if any("unit" in item for item in items) \
        else None
    rows = [[item["id"], *([item.get(extra, "")] if extra else []), first_sentence(item["description"])]
            for item in items]
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("id", overflow="fold", style="bold")
    if extra:
        table.add_column(extra, no_wrap=True, style="cyan")
    table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=_room(console, rows, len(rows[0]) - 1))
    for row in rows:
        table.add_row(*row)
    console.print(table)


def render_cone(console: Console, heading: str, members: list[tuple[str, str]]) -> None:
    """A cone: its size, then each variable with its declared unit."""
    console.print(heading, style="bold")
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("variable", no_wrap=True)
    table.add_column("unit", style="dim", no_wrap=True)
    for ident, unit in members:
        table.add_row(ident, unit)
    console.print(Padding(table, (0, 0, 0, 2)))


def render_warnings(console: Console, warnings: list[str]) -> None:
    """Warnings about the question itself (e.g. an assignment an override cuts off), one per line."""
    for warning in warnings:
        console.print(Text.assemble(("warning: ", "yellow bold"), warning))


def _signed_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


def render_validate(console: Console, report: ValidationReport, display: Display) -> None:
    """`validate`: per file, an aligned table of cases (predicted, published, error, rule of thumb), then
    the file's mean and max |error|."""
    for index, item in enumerate(report.files):
        if index:
            console.print()
        quantities = {case.quantity for case in item.cases}
        shared = quantities.pop() if len(quantities) == 1 else None   # one quantity: named once, not per row
        console.print(Text.assemble((item.file, "bold"), f"  ({shared})" if shared else ""))
        rows = []
        for case in item.cases:
            # every value of a row in the unit chosen for the published figure (units are linear: one scale)
            scale, unit = display.scale(case.quantity, case.published, case.unit)
            digits = 7 if display.mode is UnitsMode.declared else 4

            def shown(value: float | None) -> str:
                return fmt(None if value is None else value * scale, digits)

            predicted = shown(case.predicted) if case.predicted is not None else case.status
            # several quantities in one file: each case's quantity goes under its name, not in a column of its own
            name = case.name if shared else Text.assemble(case.name, "\n  ", (case.quantity, "dim"))
            rows.append((name, predicted, shown(case.published), unit, _signed_percent(case.error),
                         shown(case.rule_of_thumb), _signed_percent(case.rule_of_thumb_error)))
        table = Table(box=None, header_style="bold", pad_edge=False)
        headers = (("case" if shared else "case / quantity", "left"), ("predicted", "right"), ("published", "right"),
                   ("unit", "left"), ("error", "right"), ("6·N·D/(0.4·peak)", "right"), ("its error", "right"))
        for column, (header, justify) in enumerate(headers):
            if column == 0:   # IDs fold on a narrow terminal; numbers and units keep their whole width
                table.add_column(header, justify=justify, overflow="fold")
            else:
                width = max([len(row[column]) for row in rows] + [len(header) if column < 5 else 0])
                table.add_column(header, justify=justify, no_wrap=True, min_width=width)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        mean = "—" if item.mean_abs_error is None else f"{100 * item.mean_abs_error:.1f}%"
        largest = "—" if item.max_abs_error is None else f"{100 * item.max_abs_error:.1f}%"
        rule = "—" if item.rule_of_thumb_mean_abs_error is None else f"{100 * item.rule_of_thumb_mean_abs_error:.1f}%"
        console.print(f"mean |error| {mean}, max |error| {largest}; rule of thumb mean |error| {rule}")
        for case in item.cases:
            if case.missing:
                console.print(f"{case.name}: missing roots {', '.join(case.missing)}")
            for error in case.errors:
                console.print(f"{case.name}: {error}")


def render_calibration(console: Console, report: CalibrationReport, display: Display, *,
                       written: str | None = None) -> None:
    """Fitted values with their intervals, then every observation before and after the fit."""
    console.print(Text.assemble(("calibrate ", "bold"), report.observations, "  ", status_text(report.status),
                                f"  ({report.message}; {report.degrees_of_freedom} degree(s) of freedom)"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in (("input", "left"), ("before", "right"), ("fitted", "right"),
                          (f"{report.confidence:.0%} interval", "right"), ("unit", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "input", overflow="fold")
    for p in report.parameters:
        before, unit = display.quantity(p.id, p.before, p.unit)
        value, _ = display.quantity(p.id, p.value, p.unit)
        interval = "—" if p.low is None or p.high is None else \
            f"[{display.quantity(p.id, p.low, p.unit)[0]}, {display.quantity(p.id, p.high, p.unit)[0]}]"
        table.add_row(p.id + (" (at bound)" if p.at_bound else ""), before, value, interval, unit)
    console.print(table)
    console.print()
    cells = []
    for row in report.rows:
        observed, unit = display.quantity(row.quantity, row.observed, row.unit)
        before = display.quantity(row.quantity, row.before, row.unit)[0]
        after = display.quantity(row.quantity, row.after, row.unit)[0]
        cells.append((row.name, row.role, observed, before, _percent(row.error_before), after,
                      _percent(row.error_after), unit))
    rows = Table(box=None, header_style="bold", pad_edge=False)
    for column, name in enumerate(("observation", "role", "observed", "before", "error", "after", "error", "unit")):
        if column == 0:   # names fold on a narrow terminal; numbers and units keep their whole width
            rows.add_column(name, overflow="fold")
        else:
            width = max([len(cell[column]) for cell in cells] + [len(name)])
            rows.add_column(name, justify="left" if name in ("role", "unit") else "right", no_wrap=True,
                            min_width=width)
    for cell in cells:
        rows.add_row(*cell)
    console.print(rows)
    for role, rms in (("fit", report.rms_error_fit), ("holdout", report.rms_error_holdout)):
        if rms["after"] is not None:
            console.print(f"rms relative error on {role} rows: {_percent(rms['before'], sign=False)} before, "
                          f"{_percent(rms['after'], sign=False)} after")
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    if written:
        console.print(f"wrote {written} (kind calibrated)")


def _percent(value: float | None, *, sign: bool = True) -> str:
    if value is None or value != value:
        return "—"
    return f"{100 * value:+.1f}%" if sign else f"{100 * value:.1f}%"

def render_uncertainty(console: Console, result: Any, display: Display) -> None:
    """`uncertainty`: per target its interval, mean ± std, the interval as N doubles, and what drives the spread.

    `result` is a `gpu_stack.studies.uncertainty.UncertaintyResult`.
    """
    def shown(ident: str, value: float, unit: str) -> str:
        return " ".join(display.quantity(ident, value, unit))

    for index, target in enumerate(result.targets):
        report = target.report
        if index:
            console.print()
        console.print(Text.assemble((report.id, "bold"), f"  ({result.samples:,} samples, {result.method}, seed "
                                                         f"{result.seed})"))
        console.print(f"  median {shown(report.id, report.median, report.unit)}, 90% interval "
                      f"[{shown(report.id, report.p05, report.unit)}, {shown(report.id, report.p95, report.unit)}]")
        console.print(f"  mean {shown(report.id, report.mean, report.unit)}, "
                      f"std {shown(report.id, report.std, report.unit)}")
        steps = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
        for header in ("samples", "p05", "p95"):
            steps.add_column(header, justify="right", no_wrap=True)
        for n, low, high in target.convergence:
            steps.add_row(f"{n:,}", shown(report.id, low, report.unit), shown(report.id, high, report.unit))
        console.print("  the 90% interval as N doubles:")
        console.print(Padding(steps, (0, 0, 0, 2)))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header in ("input", "Sobol first", "Sobol total", "elasticity at median"):
            table.add_column(header, justify="left" if header == "input" else "right", no_wrap=header != "input",
                             overflow="fold")
        order = sorted(report.elasticities, key=lambda i: (-(report.sobol[i].total if i in report.sobol else 0.0),
                                                          -abs(report.elasticities[i]), i))
        for ident in order:
            index_ = report.sobol.get(ident)
            table.add_row(ident, f"{index_.first:.3f}" if index_ else "-", f"{index_.total:.3f}" if index_ else "-",
                          f"{report.elasticities[ident]:+.4f}")
        console.print(Padding(table, (0, 0, 0, 2)))
