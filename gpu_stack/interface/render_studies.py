"""Sweep and pareto reports → terminal: one aligned rich table per report.

Only the CLI calls this module; the library never prints. Numbers are in
declared units (the unit is under each column's ID), as `--json` and `--out`.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpu_stack.interface.display import fmt
from gpu_stack.interface.render import status_text
from gpu_stack.reports import ParetoPoint, ParetoReport, SweepReport

__all__ = ["render_sweep", "render_pareto"]


def _header(ident: str, unit: str) -> Text:
    return Text.assemble((ident, "bold"), "\n", (unit, "dim"))


def render_sweep(console: Console, report: SweepReport) -> None:
    """A sweep: one row per point, a column per input and reported value, the status; then why points failed."""
    what = f"{report.mode} sweep" + (f" of {report.problem}" if report.problem else "")
    design = "grid" if report.design == "grid" else f"Latin hypercube, seed {report.seed}"
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    console.print(Text.assemble((what, "bold"), f": {len(report.points)} points ({design}); {counts}"))
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    for column in report.columns:
        table.add_column(_header(column.id, column.unit), justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for index, point in enumerate(report.points):
        table.add_row(str(index), *(fmt(point.values.get(c.id)) for c in report.columns), status_text(point.status))
    console.print(table)
    reasons: dict[str, list[int]] = {}
    for index, point in enumerate(report.points):
        if point.status != "ok":
            reasons.setdefault(f"{point.status}: {point.message}", []).append(index)
    for reason, indices in reasons.items():
        shown = ", ".join(map(str, indices[:10])) + (f", … ({len(indices)} in all)" if len(indices) > 10 else "")
        console.print(f"point{'s' if len(indices) > 1 else ''} {shown}: {reason}", style="dim")


def render_pareto(console: Console, report: ParetoReport) -> None:
    """A pareto front: the two anchors, then every ε-constraint solve, front points starred."""
    first, second = report.first, report.second
    console.print(Text.assemble(("pareto ", "bold"), f"{report.problem}: minimize {first.id} with "
                                f"{second.id} ≤ ε; {len(report.front)} distinct points on the front"))
    for note in report.notes:
        console.print(f"note: {note}", style="dim")
    free = list(report.free_units)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column(_header("ε", second.unit), justify="right", no_wrap=True)
    table.add_column(_header(first.id, first.unit), justify="right", no_wrap=True)
    table.add_column(_header(second.id, second.unit), justify="right", no_wrap=True)
    for ident in free:
        table.add_column(_header(ident, report.free_units[ident]), justify="right", no_wrap=True)
    table.add_column(_header("trade-off", f"{first.unit} per {second.unit}"), justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("active constraints (slack < 1e-6)")

    def row(label: str, point: ParetoPoint, epsilon: str) -> None:
        binding = [*point.active_constraints,
                   *(ident for ident, slack in point.slack.items()
                     if slack < 1e-6 and ident not in point.active_constraints)]
        table.add_row(label, epsilon, fmt(point.first), fmt(point.second), *(fmt(point.free.get(v)) for v in free),
                      fmt(point.trade_off), status_text(point.status), ", ".join(binding))

    on_front = set(report.front)
    for name, anchor in zip((f"min {first.id}", f"min {second.id}"), report.anchors):
        row("", anchor, name)
    for index, point in enumerate(report.points):
        row(f"{index}{'*' if index in on_front else ''}", point, fmt(point.epsilon))
    console.print(table)
    failed = [(i, p) for i, p in enumerate(report.points) if p.status != "ok"]
    for index, point in failed:
        console.print(f"point {index} (ε = {fmt(point.epsilon)}): {point.status}: {point.message}", style="dim")
