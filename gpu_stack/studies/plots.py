"""Pictures of studies, written with matplotlib (imported on first use, no display needed).

* `plot_tornado` — the elasticities of a sensitivity report, largest on top;
* `plot_sweep` — one line per reported value against one varied input, a heat map per value for a
  grid of two inputs, value against each input for anything else; points that are not answers are
  shaded;
* `plot_pareto` — the trade-off front of two objectives, its points numbered;
* `plot_uncertainty` — per target its histogram and CDF with the 90% interval, and the Sobol indices.

Each takes a report and a path (.png, .svg or .pdf) and writes one file. Axis labels are
`ID [unit]` in declared units; SVG text is kept as text, so a label can be searched for.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from gpu_stack.errors import InputError
from gpu_stack.reports import ParetoReport, SensitivityReport, SweepReport
from gpu_stack.studies.optional import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gpu_stack.studies.uncertainty import UncertaintyResult

__all__ = ["check_plot_path", "plot_tornado", "plot_sweep", "plot_pareto", "plot_uncertainty"]

_SUFFIXES = (".png", ".svg", ".pdf")
_NOT_OK = "#bbbbbb"    # shading of points that are not answers


def check_plot_path(path: str | Path) -> Path:
    """The --plot path, refused before any work when its kind is unknown or matplotlib is missing."""
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(f"--plot {path}: write a .png, .svg or .pdf file", hint="name the file out.png or out.svg")
    if not path.parent.is_dir():
        raise InputError(f"--plot {path}: the folder {path.parent} does not exist")
    _matplotlib()
    return path


def _matplotlib() -> Any:
    return require("matplotlib", "--plot")


@contextmanager
def _figure(path: str | Path, size: tuple[float, float]) -> Iterator[Figure]:
    """A figure that is written to `path` when the block ends (no pyplot, so no display and no global state)."""
    matplotlib = _matplotlib()
    from matplotlib.figure import Figure
    path = check_plot_path(path)
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        figure = Figure(figsize=size, layout="constrained")
        yield figure
        metadata = {"Date": None} if path.suffix.lower() == ".svg" else None
        figure.savefig(path, dpi=150, metadata=metadata)


def _label(ident: str, unit: str) -> str:
    return ident if unit in ("", "1") else f"{ident} [{unit}]"


# ------------------------------------------------------------------ sensitivity


def plot_tornado(report: SensitivityReport, path: str | Path, limit: int | None = None) -> None:
    """A tornado chart of d ln(target) / d ln(input): one bar per input, the largest |elasticity| on top."""
    roots = [root for root in report.roots if math.isfinite(root.elasticity)][:limit]
    with _figure(path, (7.0, 1.2 + 0.28 * max(len(roots), 1))) as figure:
        axes = figure.add_subplot()
        names = [root.id for root in reversed(roots)]
        values = [root.elasticity for root in reversed(roots)]
        colours = ["#2a7f3f" if v >= 0 else "#b23b3b" for v in values]
        axes.barh(range(len(values)), values, color=colours)
        axes.set_yticks(range(len(values)), names)
        axes.axvline(0.0, color="black", linewidth=0.8)
        axes.set_xlabel(f"elasticity d ln({report.target}) / d ln(input)")
        axes.set_title(f"{_label(report.target, report.unit)} = {report.value:.4g}")
        for index, value in enumerate(values):
            axes.annotate(f"{value:+.3f}", (value, index), xytext=(3 if value >= 0 else -3, 0),
                          textcoords="offset points", va="center", ha="left" if value >= 0 else "right", fontsize=7)


# ------------------------------------------------------------------ sweeps


def plot_sweep(report: SweepReport, path: str | Path) -> None:
    """Lines for one input, heat maps for a grid of two, value against each input otherwise."""
    inputs = [c for c in report.columns if c.role == "input"]
    shown = [c for c in report.columns if c.role != "input"]
    ok = np.array([p.status == "ok" for p in report.points])
    column = {c.id: np.array([np.nan if p.values.get(c.id) is None else p.values[c.id] for p in report.points],
                             dtype=float) for c in report.columns}
    panels = len(shown) if len(inputs) <= 2 else len(shown) * len(inputs)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    with _figure(path, (4.2 * cols, 3.4 * rows)) as figure:
        grid = figure.subplots(rows, cols, squeeze=False).ravel()
        for axes in grid[panels:]:
            axes.set_visible(False)
        if report.design == "grid" and len(inputs) == 2:
            for axes, value in zip(grid, shown):
                _heat_map(figure, axes, inputs, value, column, ok)
        elif len(inputs) == 1:
            for axes, value in zip(grid, shown):
                _line(axes, inputs[0], value, column, ok)
        else:
            panel = iter(grid)
            for value in shown:
                for varied in inputs:
                    axes = next(panel)
                    axes.scatter(column[varied.id][ok], column[value.id][ok], s=8)
                    _shade_points(axes, column[varied.id][~ok])
                    axes.set_xlabel(_label(varied.id, varied.unit))
                    axes.set_ylabel(_label(value.id, value.unit))
        title = f"sweep: {report.problem}" if report.problem else "sweep"
        counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
        figure.suptitle(f"{title} ({counts})")


def _line(axes: Any, varied: Any, value: Any, column: dict[str, np.ndarray], ok: np.ndarray) -> None:
    x, y = column[varied.id], column[value.id]
    order = np.argsort(x, kind="stable")
    axes.plot(x[order], np.where(ok, y, np.nan)[order], marker="o", markersize=3)
    _shade_points(axes, x[~ok], x)
    axes.set_xlabel(_label(varied.id, varied.unit))
    axes.set_ylabel(_label(value.id, value.unit))
    if _log_spaced(x):
        axes.set_xscale("log")


def _shade_points(axes: Any, bad: np.ndarray, every: np.ndarray | None = None) -> None:
    """Shade the stretch of x around each point that is not an answer (half-way to its neighbours)."""
    if bad.size == 0:
        return
    xs = np.unique(every if every is not None else bad)
    for x in np.unique(bad):
        i = int(np.searchsorted(xs, x))
        low = (xs[i - 1] + x) / 2 if i > 0 else x
        high = (xs[i + 1] + x) / 2 if i + 1 < xs.size else x
        if low == high:
            axes.axvline(x, color=_NOT_OK, linewidth=4, alpha=0.6)
        else:
            axes.axvspan(low, high, color=_NOT_OK, alpha=0.6, linewidth=0)
    axes.plot([], [], color=_NOT_OK, linewidth=6, label="no answer")
    axes.legend(loc="best", fontsize=7)


def _heat_map(figure: Any, axes: Any, inputs: list[Any], value: Any, column: dict[str, np.ndarray],
              ok: np.ndarray) -> None:
    first, second = inputs
    xs = np.unique(column[second.id])
    ys = np.unique(column[first.id])
    z = np.full((ys.size, xs.size), np.nan)
    bad = np.zeros((ys.size, xs.size), dtype=bool)
    rows = np.searchsorted(ys, column[first.id])
    cols = np.searchsorted(xs, column[second.id])
    z[rows, cols] = np.where(ok, column[value.id], np.nan)
    bad[rows, cols] = ~ok
    mesh = axes.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_invalid(z), shading="flat")
    figure.colorbar(mesh, ax=axes, label=_label(value.id, value.unit))
    if bad.any():
        axes.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_where(~bad, np.ones_like(z)),
                        cmap="Greys", vmin=0, vmax=2, shading="flat", hatch="//", alpha=0.6)
        axes.plot([], [], color=_NOT_OK, linewidth=6, label="no answer")
        axes.legend(loc="upper right", fontsize=7)
    axes.set_xlabel(_label(second.id, second.unit))
    axes.set_ylabel(_label(first.id, first.unit))
    if _log_spaced(xs):
        axes.set_xscale("log")
    if _log_spaced(ys):
        axes.set_yscale("log")


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (half-way between neighbours; a lone centre gets ±0.5 or ±5%)."""
    if centres.size == 1:
        half = 0.05 * abs(centres[0]) or 0.5
        return np.array([centres[0] - half, centres[0] + half])
    if _log_spaced(centres):
        logs = np.log(centres)
        middle = (logs[1:] + logs[:-1]) / 2
        return np.exp(np.concatenate([[2 * logs[0] - middle[0]], middle, [2 * logs[-1] - middle[-1]]]))
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def _log_spaced(values: np.ndarray) -> bool:
    """Whether sorted distinct values are evenly spaced in log (and not in linear) terms: a :log axis."""
    x = np.unique(values[np.isfinite(values)])
    if x.size < 3 or x[0] <= 0:
        return False
    linear, logs = np.diff(x), np.diff(np.log(x))
    return not np.allclose(linear, linear[0], rtol=1e-6) and bool(np.allclose(logs, logs[0], rtol=1e-6))


# ------------------------------------------------------------------ pareto


def plot_pareto(report: ParetoReport, path: str | Path) -> None:
    """The front: second objective across, first up; front points joined and numbered, others faint."""
    first, second = report.first, report.second
    with _figure(path, (6.4, 4.6)) as figure:
        axes = figure.add_subplot()
        answered = [(i, p) for i, p in enumerate(report.points) if p.status == "ok"]
        on_front = set(report.front)
        front = [(i, report.points[i]) for i in report.front]
        axes.plot([p.second for _, p in front], [p.first for _, p in front], marker="o", color="#1f5fa8",
                  label="front (ε-constraint solves)")
        others = [p for i, p in answered if i not in on_front]
        if others:
            axes.scatter([p.second for p in others], [p.first for p in others], marker="o", facecolors="none",
                         edgecolors="#888888", label="dominated or repeated")
        for i, p in front:
            axes.annotate(str(i), (p.second, p.first), xytext=(4, 4), textcoords="offset points", fontsize=7)
        for label, anchor, marker in zip(("min " + first.id, "min " + second.id), report.anchors, ("s", "^")):
            if anchor.status == "ok":
                axes.scatter([anchor.second], [anchor.first], marker=marker, s=50, color="#d08000", zorder=3,
                             label=label)
        infeasible = [p.epsilon for p in report.points if p.status != "ok" and p.epsilon is not None]
        for epsilon in infeasible:
            axes.axvline(epsilon, color=_NOT_OK, linestyle=":", linewidth=1)
        if infeasible:
            axes.plot([], [], color=_NOT_OK, linestyle=":", label=f"ε with no answer ({len(infeasible)})")
        axes.set_xlabel(_label(second.id, second.unit))
        axes.set_ylabel(_label(first.id, first.unit))
        axes.set_title(f"trade-off front: {report.problem}")
        axes.legend(loc="best", fontsize=7)


# ------------------------------------------------------------------ uncertainty


def plot_uncertainty(result: UncertaintyResult, path: str | Path) -> None:
    """One row per target: its histogram with the CDF, the 90% interval shaded and the median marked; beside it
    the Sobol first- and total-order indices of each uncertain input (or its elasticities when there are none).
    """
    rows = len(result.targets)
    with _figure(path, (11, 4.2 * rows)) as figure:
        axes = figure.subplots(rows, 2, squeeze=False, gridspec_kw={"width_ratios": [3, 2]})
        for (histogram, bars), target in zip(axes, result.targets):
            report = target.report
            values = target.values[np.isfinite(target.values)]
            histogram.hist(values, bins=60, density=True, color="#9ecae1", edgecolor="none")
            histogram.axvspan(report.p05, report.p95, color="#fdae6b", alpha=0.3,
                              label=f"90% interval [{report.p05:.4g}, {report.p95:.4g}]")
            histogram.axvline(report.median, color="#d94801", label=f"median {report.median:.4g}")
            histogram.set_xlabel(_label(report.id, report.unit))
            histogram.set_ylabel("probability density")
            cdf = histogram.twinx()
            ordered = np.sort(values)
            cdf.plot(ordered, np.arange(1, ordered.size + 1) / ordered.size, color="#08519c", linewidth=1.2)
            cdf.set_ylabel("cumulative probability")
            cdf.set_ylim(0, 1)
            histogram.legend(loc="upper left", fontsize=8, frameon=False)
            histogram.set_title(f"{report.id}: {result.samples:,} samples ({result.method}, seed {result.seed})",
                                fontsize=10)
            inputs = list(report.elasticities)
            positions = np.arange(len(inputs))
            if report.sobol:
                bars.barh(positions - 0.2, [report.sobol[i].first for i in inputs], height=0.4,
                          label="first order", color="#6baed6")
                bars.barh(positions + 0.2, [report.sobol[i].total for i in inputs], height=0.4,
                          label="total order", color="#08519c")
                bars.set_xlabel("Sobol index (share of variance)")
                bars.legend(fontsize=8, frameon=False)
            else:
                bars.barh(positions, [report.elasticities[i] for i in inputs], color="#08519c")
                bars.set_xlabel("elasticity at the medians (no Sobol indices)")
            bars.set_yticks(positions, inputs, fontsize=8)
            bars.invert_yaxis()
