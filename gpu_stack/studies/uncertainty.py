"""Uncertainty propagation: the presets' [uncertain] inputs sampled, pushed through the compiled model.

Three batches go through the same compiled function (`Model.function`,
chunks through CasADi `map`, in-process or on Dask: `gpu_stack.studies.batch`):

1. N samples (`sampling.sample_inputs`: MC, LHS or Sobol, correlated by a
   Gaussian copula) → each target's mean, standard deviation, percentiles and
   90% interval, and how that interval moves as N doubles (N/8, N/4, N/2, N);
2. a Saltelli design (SALib, base min(N, `SOBOL_BASE`) rounded down to a power
   of two, N_s·(D+2) points) → first- and total-order Sobol indices, when the
   inputs are independent;
3. the exact (AD) elasticities of each target at the inputs' medians, by the
   `sensitivity` code every other command uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gpu_stack.core import Assignment, Question
from gpu_stack.errors import ProblemError
from gpu_stack.reports import SobolIndex, UncertaintyReport, UncertaintyTarget
from gpu_stack.solver.sensitivity import sensitivity
from gpu_stack.studies.batch import InProcess, Progress, Runner
from gpu_stack.studies.optional import require
from gpu_stack.studies.sampling import inverse_cdf, median, sample_inputs

if TYPE_CHECKING:
    import pandas

    from gpu_stack.solver.compiled import Model

__all__ = ["PERCENTILES", "SOBOL_BASE", "TargetUncertainty", "UncertaintyResult", "uncertainty"]

PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
SOBOL_BASE = 8192          # at most this many base points in the Saltelli design: ±~0.02 on the indices
_SOBOL_RESAMPLES = 100     # SALib's bootstrap (its confidence intervals are not reported; the seed fixes them)


@dataclasses.dataclass
class TargetUncertainty:
    """One target's sampled values and statistics (declared unit)."""

    id: str
    unit: str
    values: np.ndarray                 # one per sample, NaN where the point failed its check
    report: UncertaintyTarget
    convergence: list[tuple[int, float, float]]   # (first n samples, p05, p95) as n doubles
    failed: int


@dataclasses.dataclass
class UncertaintyResult:
    """What `uncertainty` found: the samples, each target's statistics, and warnings about the run."""

    samples: int
    seed: int
    method: str
    inputs: dict[str, np.ndarray]
    targets: list[TargetUncertainty]
    warnings: list[str]

    def report(self) -> UncertaintyReport:
        """The documented `--json` shape."""
        return UncertaintyReport(samples=self.samples, seed=self.seed, method=self.method,  # type: ignore[arg-type]
                                 targets=[t.report for t in self.targets])

    def to_frame(self) -> "pandas.DataFrame":
        """One row per sample: the sampled inputs, then the targets (declared units; NaN where a point failed)."""
        pandas = require("pandas", "making a DataFrame of the samples (and --out)")
        return pandas.DataFrame({**self.inputs, **{t.id: t.values for t in self.targets}})

    def summary(self) -> "pandas.DataFrame":
        """One row per target: unit, mean, std and the percentiles."""
        pandas = require("pandas", "making a DataFrame of the statistics")
        rows = [{"id": t.id, "unit": t.unit, "mean": t.report.mean, "std": t.report.std, **t.report.percentiles}
                for t in self.targets]
        return pandas.DataFrame(rows).set_index("id")


def uncertainty(model: "Model", targets: Sequence[str], *, samples: int, seed: int, method: str = "mc",
                run: Runner | None = None, progress: Callable[[str], Progress] | None = None) -> UncertaintyResult:
    """Propagate the model's uncertain inputs to `targets` (see the module docstring).

    Parameters
    ----------
    model : the `Model` whose presets declare [uncertain] inputs (an --assign pins one).
    targets : variable IDs.
    samples, seed, method : N, the seed, and mc | lhs | sobol.
    run : a batch runner (default: in this process).
    progress : phase name → a callback (points done, points in all), for a progress bar.

    Raises
    ------
    ProblemError : no uncertain inputs, or every sampled point failed its check.
    """
    question = model.question
    if not question.uncertain:
        raise ProblemError("no uncertain inputs: none of the presets has an [uncertain] table (or --assign pinned "
                           "them all)", hint="e.g. --preset runs.llama3_405b_h100_uncertain")
    if seed < 0:
        raise ProblemError(f"--seed {seed}: a seed is a whole number >= 0")
    run = run or InProcess()
    targets = list(dict.fromkeys(targets))
    ids = list(question.uncertain)
    function = model.function(targets, ids)
    inputs = sample_inputs(question.uncertain, question.correlations, samples, seed, method)
    values = run(function, np.array([inputs[i] for i in ids]), progress("sampling") if progress else None)
    warnings: list[str] = []
    sobol, sobol_note = _sobol(model, function, targets, ids, samples, seed, run, progress)
    if sobol_note:
        warnings.append(sobol_note)
    elasticities = _elasticities(model, targets, ids)
    found = []
    for k, ident in enumerate(targets):
        column = values[k]
        finite = column[np.isfinite(column)]
        if finite.size < 2:
            raise ProblemError(f"every sampled point of '{ident}' failed its check ({samples - finite.size} of "
                               f"{samples})", hint="check the [uncertain] ranges against the model's min/max")
        failed = samples - finite.size
        if failed:
            warnings.append(f"{failed} of {samples} sampled points of {ident} failed the model's check (a value "
                            "outside its min/max, or no solution) and are left out of its statistics")
        levels = np.percentile(finite, PERCENTILES)
        percentiles = {f"p{q:02d}": float(v) for q, v in zip(PERCENTILES, levels)}
        report = UncertaintyTarget(
            id=ident, unit=model.registry.variables[ident].unit, mean=float(finite.mean()),
            std=float(finite.std(ddof=1)), median=percentiles["p50"], p05=percentiles["p05"],
            p95=percentiles["p95"], percentiles=percentiles,
            sobol={i: SobolIndex(first=first[k], total=total[k]) for i, (first, total) in sobol.items()},
            elasticities=elasticities[ident])
        found.append(TargetUncertainty(ident, report.unit, column, report, _convergence(column), failed))
    return UncertaintyResult(samples, seed, method, inputs, found, warnings)


def _convergence(column: np.ndarray) -> list[tuple[int, float, float]]:
    """The 90% interval of the first N/8, N/4, N/2 and N samples (those of at least 100 points)."""
    n = column.size
    steps = [n >> shift for shift in (3, 2, 1, 0) if n >> shift >= 100] or [n]
    found = []
    for size in steps:
        head = column[:size]
        head = head[np.isfinite(head)]
        if head.size >= 2:
            p05, p95 = np.percentile(head, [5, 95])
            found.append((size, float(p05), float(p95)))
    return found


def _sobol(model: "Model", function: Any, targets: list[str], ids: list[str], samples: int, seed: int,
           run: Runner, progress: Callable[[str], Progress] | None
           ) -> tuple[dict[str, tuple[list[float], list[float]]], str | None]:
    """Input ID → (first-order index per target, total-order index per target), or {} and why not."""
    question = model.question
    if question.correlations:
        return {}, "Sobol indices are left out: they assume independent inputs, and [uncertain.correlation] " \
                   "correlates some"
    sample_sobol = require("SALib.sample.sobol", "computing Sobol indices")
    analyze_sobol = require("SALib.analyze.sobol", "computing Sobol indices")
    base = 1 << (min(samples, SOBOL_BASE).bit_length() - 1)
    problem = {"num_vars": len(ids), "names": ids, "bounds": [[0.0, 1.0]] * len(ids)}
    u = np.clip(sample_sobol.sample(problem, base, calc_second_order=False, scramble=True, seed=seed), 1e-12,
                1.0 - 1e-12)
    design = np.array([inverse_cdf(question.uncertain[i], u[:, k]) for k, i in enumerate(ids)])
    values = run(function, design, progress("Sobol design") if progress else None)
    if not np.all(np.isfinite(values)):
        return {}, "Sobol indices are left out: some points of the Saltelli design failed the model's check"
    first: dict[str, list[float]] = {i: [] for i in ids}
    total: dict[str, list[float]] = {i: [] for i in ids}
    for k in range(len(targets)):
        if np.ptp(values[k]) == 0.0:   # the target does not move: no variance to share out
            indices = {"S1": np.zeros(len(ids)), "ST": np.zeros(len(ids))}
        else:
            indices = analyze_sobol.analyze(problem, values[k], calc_second_order=False,
                                            num_resamples=_SOBOL_RESAMPLES, seed=seed)
        for j, ident in enumerate(ids):
            first[ident].append(float(indices["S1"][j]))
            total[ident].append(float(indices["ST"][j]))
    return {i: (first[i], total[i]) for i in ids}, None


def _elasticities(model: "Model", targets: list[str], ids: list[str]) -> dict[str, dict[str, float]]:
    """Target → {uncertain input → elasticity at the inputs' medians} (0 for an input outside the cone)."""
    question = model.question
    assign = dict(question.assign)
    for ident in ids:
        uncertain = question.uncertain[ident]
        value = median(uncertain)
        assign[ident] = Assignment(ident, value, uncertain.unit, f"{value:g}", "uncertainty median",
                                   uncertain.source)
    at_median = Question(question.scenarios, assign, question.select)
    found = {}
    for target in targets:
        roots = {root.id: root.elasticity for root in sensitivity(model.registry, target, at_median).roots}
        found[target] = {ident: roots.get(ident, 0.0) for ident in ids}
    return found
