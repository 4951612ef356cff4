"""Sweep speed: a 100-point sweep with an inverse re-solve per point, against baselines in the same process.

    python3 benchmarks/studies_sweep.py [--points N] [--runs R]

Rows (medians of R runs, after one warm-up that compiles):

* inverse sweep, warm — `sweep_problem` on problems/llama3_405b_mfu_for_deadline.toml with the target
  `training.wallclock` varied over 70…90 days: each solve starts from the previous answer
  (the issue's target: ≤ 1 s for 100 points);
* inverse sweep, cold starts — the same solves, each started from the problem's own starting point
  (the scenario's values) instead of the previous answer;
* forward sweep, one batch — `Model.evaluate` with arrays on runs.llama3_405b_h100 (price × stall share);
* forward, a loop of single evaluations — the same points, one compiled call each;
* forward, audit resolver per point — the plain-Python resolver on the same points (fewer points, scaled).

Nothing here asserts a time; numbers are printed as measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from gpu_stack import Model  # noqa: E402
from gpu_stack.audit.resolver import resolve  # noqa: E402
from gpu_stack.core import Assignment  # noqa: E402
from gpu_stack.model.problems import load_problem  # noqa: E402
from gpu_stack.model.registry import load_registry  # noqa: E402
from gpu_stack.solver.solve import prepare, solve_prepared  # noqa: E402
from gpu_stack.studies.sweep import sweep_problem  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def median_time(call: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, runs = args.points, args.runs
    registry = load_registry()
    problem = load_problem(registry, REPO / "problems" / "llama3_405b_mfu_for_deadline.toml")
    points = {"training.wallclock": np.linspace(70, 90, n) * 86400.0}

    start = time.perf_counter()
    report = sweep_problem(registry, problem, points, ["training.mfu"])
    first = time.perf_counter() - start
    assert report.counts == {"ok": n}, report.counts
    warm = median_time(lambda: sweep_problem(registry, problem, points, ["training.mfu"]), runs)

    prepared = prepare(registry, problem)
    initial = dict(prepared.formulation.start)

    def cold() -> None:
        for value in points["training.wallclock"]:
            posed = dataclasses.replace(problem, targets={"training.wallclock": float(value)},
                                        outputs=["training.mfu", *problem.outputs])
            again = prepare(registry, posed)
            again.formulation.start.update(initial)   # forget the previous answer
            assert solve_prepared(again).status == "ok"

    cold_time = median_time(cold, runs)

    model = Model(presets=["runs.llama3_405b_h100"], registry=registry)
    side = int(round(n ** 0.5))
    price, stall = np.meshgrid(np.linspace(2e4, 4e4, side), np.linspace(0.0, 0.3, side), indexing="ij")
    forward_points = {"econ.capex.gpu_price": price.ravel(), "training.stall_fraction": stall.ravel()}
    batch = model.evaluate("econ.cost.per_token", forward_points)
    batch_time = median_time(lambda: model.evaluate("econ.cost.per_token", forward_points), runs)

    def loop() -> list[float]:
        return [model.evaluate("econ.cost.per_token", {"econ.capex.gpu_price": p, "training.stall_fraction": s})
                for p, s in zip(price.ravel(), stall.ravel())]

    looped = loop()
    loop_time = median_time(loop, runs)

    sample = 10   # the resolver is slow: time a few points and scale to the sweep's size
    question = model.question

    def audit() -> list[float]:
        values = []
        for p, s in list(zip(price.ravel(), stall.ravel()))[:sample]:
            assign = dict(question.assign)
            for ident, value in (("econ.capex.gpu_price", p), ("training.stall_fraction", s)):
                assign[ident] = Assignment(ident, float(value), registry.variables[ident].unit, f"{value:g}", "bench")
            result = resolve(registry, ["econ.cost.per_token"], assign, question.select)
            values.append(result.values["econ.cost.per_token"])
        return values

    audited = audit()
    audit_time = median_time(audit, max(1, runs // 2)) * (price.size / sample)
    agreement = max(abs(a - b) / abs(b) for a, b in zip(batch[:sample], audited))
    assert np.allclose(batch, looped, rtol=1e-12)

    rows = [
        (f"inverse sweep, {n} points, warm", warm, None),
        (f"inverse sweep, {n} points, cold starts", cold_time, cold_time / warm),
        (f"inverse sweep, {n} points, first call (compiles)", first, first / warm),
        (f"forward sweep, {price.size} points, one batch", batch_time, None),
        (f"forward, {price.size} single compiled calls", loop_time, loop_time / batch_time),
        (f"forward, audit resolver × {price.size} (from {sample})", audit_time, audit_time / batch_time),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'question':<{width}}  {'median':>10}  vs fastest of its kind")
    for label, seconds, ratio in rows:
        shown = f"{seconds * 1e3:8.2f} ms" if seconds < 1 else f"{seconds:8.3f} s "
        print(f"{label:<{width}}  {shown}  {'' if ratio is None else f'{ratio:.1f}×'}")
    print(f"per inverse point, warm: {warm / n * 1e3:.2f} ms; target ≤ 1 s for 100 points: "
          f"{'met' if warm * 100 / n <= 1.0 else 'NOT met'}")
    print(f"batch vs audit resolver, largest relative difference on {sample} points: {agreement:.2e}")


if __name__ == "__main__":
    main()
