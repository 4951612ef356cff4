"""Reports → terminal: aligned rich tables and readable traces.

Only the CLI calls this module; the library never prints.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpu_stack.reports import ResolveReport, RootDebtReport, ScenarioReport, StatsReport, VerifyReport

__all__ = ["fmt", "render_resolve", "render_scenario", "render_stats", "render_root_debt", "render_verify",
           "render_explain"]

_STATUS_STYLE = {"ok": "green", "missing": "yellow", "error": "red", "violated": "red", "unresolved": "yellow",
                 "infeasible": "red", "failed": "red", "underdetermined": "yellow", "overdetermined": "yellow"}


def fmt(value: float | None) -> str:
    """Seven significant digits, thousands separated in the readable range."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e9:
        text = f"{value:,.7g}"
        return text
    return f"{value:.7g}"


def status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, "bold"))


def render_resolve(console: Console, report: ResolveReport, *, trace: bool, missing: bool) -> None:
    head = Text.assemble((report.target, "bold"), " = ", (fmt(report.value), "bold"), f" {report.unit}  ",
                         status_text(report.status))
    console.print(head)
    if report.presets:
        console.print(f"presets: {', '.join(report.presets)}", style="dim")
    if trace and report.trace:
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("variable", no_wrap=True)
        table.add_column("")
        table.add_column("from", no_wrap=True)
        table.add_column("", justify="center")
        table.add_column("value", justify="right")
        table.add_column("unit")
        for step in report.trace:
            if step.source == "equation":
                source = Text(step.equation or "")
            elif step.source == "override":
                source = Text.assemble(("OVERRIDE", "bold magenta"), f" {step.origin} cuts {step.equation}")
            elif step.source == "assign":
                source = Text(f"assign {step.origin}", style="cyan")
            else:
                source = Text("constant", style="blue")
            table.add_row(step.id, "<-", source, "=", fmt(step.value), step.unit)
        console.print(table)
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
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("check", "kind", "status", "lhs", "rhs", "expression"):
            table.add_column(column, justify="right" if column in ("lhs", "rhs") else "left")
        for check in report.constraints:
            table.add_row(check.id, check.kind, status_text(check.status), fmt(check.lhs), fmt(check.rhs), check.expr)
        console.print(table)


def render_scenario(console: Console, report: ScenarioReport) -> None:
    console.print(Text.assemble((report.scenario, "bold"), f"  ({report.kind})  ", status_text(report.status),
                                f"  {report.ok_count}/{report.target_count} outputs, "
                                f"{report.assignment_count} assignments"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("output")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("status")
    for target in report.targets:
        table.add_row(target.id, fmt(target.value), target.unit, status_text(target.status))
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
    table.add_column("share", justify="right", style="dim")
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
    ]
    for what, count, share in rows:
        table.add_row(what, str(count), share)
    console.print(table)


def render_root_debt(console: Console, report: RootDebtReport, *, by_family: bool) -> None:
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
        table.add_column("root")
        table.add_column("weight", justify="right")
        table.add_column("boundary")
        if report.presets:
            table.add_column("assigned")
        table.add_column("description", overflow="ellipsis", no_wrap=True, max_width=70)
        for root in report.roots:
            cells = [root.id, str(root.weight), root.boundary]
            if report.presets:
                cells.append("yes" if root.assigned else "NO")
            cells.append(root.description)
            table.add_row(*cells)
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


def render_explain(console: Console, info: dict[str, Any]) -> None:
    kind = info["kind"]
    console.print(Text.assemble((info["id"], "bold"), f"  ({kind})"))
    skip = {"id", "kind", "refs"}
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("key", style="bold")
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
        table.add_row(key, str(value))
    console.print(table)
    for ref in info.get("refs", []):
        line = f"  [{ref['ref']}] {ref['title']}"
        if ref.get("year"):
            line += f" ({ref['year']})"
        if ref.get("at_place"):
            line += f" — {ref['place']}: {ref['at_place']}"
        console.print(line, style="dim", overflow="fold")


def _value_table(heading: str, items: dict[str, Any]) -> Table:
    """IDs with their values and units, aligned."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(heading)
    table.add_column("value", justify="right")
    table.add_column("unit")
    for ident, item in items.items():
        table.add_row(ident, fmt(item.value), item.unit)
    return table


def render_solve(console: Console, result: Any) -> None:
    """A solve result: status, free variables, objective, constraints, outputs."""
    head = Text.assemble(("solve ", "bold"), status_text(result.status), f"  {result.message}")
    console.print(head)
    if result.free:
        console.print(_value_table("free variable", result.free))
    if result.objective is not None:
        console.print(f"objective = {fmt(result.objective)} {result.objective_unit}")
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
        console.print(_value_table("output", result.outputs))


def render_sensitivity(console: Console, report: Any, limit: int | None = None) -> None:
    """Elasticities as a ranked table with bars."""
    console.print(Text.assemble((report.target, "bold"), f" = {fmt(report.value)} {report.unit}"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("input")
    table.add_column("elasticity", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("source")
    largest = max((abs(r.elasticity) for r in report.roots if r.elasticity == r.elasticity), default=1.0) or 1.0
    for root in report.roots[:limit]:
        width = int(round(20 * abs(root.elasticity) / largest)) if root.elasticity == root.elasticity else 0
        bar = Text("█" * width, style="green" if root.elasticity >= 0 else "red")
        table.add_row(root.id, f"{root.elasticity:+.4f}", bar, fmt(root.value), root.unit, root.source)
    console.print(table)
