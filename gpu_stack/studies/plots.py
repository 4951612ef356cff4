"""Pictures of studies, drawn with matplotlib (Agg backend, imported only when a plot is asked for).

Each function writes one file (PNG or SVG, chosen by the suffix) and
returns nothing; text in an SVG stays text (svg.fonttype "none"), so its
labels can be searched and read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpu_stack.studies.optional import require

if TYPE_CHECKING:
    from gpu_stack.studies.uncertainty import UncertaintyResult

__all__ = ["plot_uncertainty"]


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    matplotlib = require("matplotlib", "--plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt: Any, figure: Any, path: Path) -> None:
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gpu-stack"}):
        figure.savefig(path, dpi=120, bbox_inches="tight", metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(figure)


def plot_uncertainty(result: "UncertaintyResult", path: str | Path) -> None:
    """One row per target: its histogram with the CDF, the 90% interval shaded and the median marked; beside it
    the Sobol first- and total-order indices of each uncertain input (or its elasticities when there are none).
    """
    import numpy as np
    plt = _pyplot()
    path = Path(path)
    rows = len(result.targets)
    figure, axes = plt.subplots(rows, 2, figsize=(11, 4.2 * rows), squeeze=False,
                                gridspec_kw={"width_ratios": [3, 2]})
    for (histogram, bars), target in zip(axes, result.targets):
        report = target.report
        values = target.values[np.isfinite(target.values)]
        histogram.hist(values, bins=60, density=True, color="#9ecae1", edgecolor="none")
        histogram.axvspan(report.p05, report.p95, color="#fdae6b", alpha=0.3,
                          label=f"90% interval [{report.p05:.4g}, {report.p95:.4g}]")
        histogram.axvline(report.median, color="#d94801", label=f"median {report.median:.4g}")
        histogram.set_xlabel(f"{report.id} [{report.unit}]")
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
            bars.barh(positions - 0.2, [report.sobol[i].first for i in inputs], height=0.4, label="first order",
                      color="#6baed6")
            bars.barh(positions + 0.2, [report.sobol[i].total for i in inputs], height=0.4, label="total order",
                      color="#08519c")
            bars.set_xlabel("Sobol index (share of variance)")
            bars.legend(fontsize=8, frameon=False)
        else:
            bars.barh(positions, [report.elasticities[i] for i in inputs], color="#08519c")
            bars.set_xlabel("elasticity at the medians (no Sobol indices)")
        bars.set_yticks(positions, inputs, fontsize=8)
        bars.invert_yaxis()
    figure.tight_layout(h_pad=2.5)
    _save(plt, figure, path)
