#!/usr/bin/env python3
"""Speed of `gpu-stack uncertainty` on the Llama 3.1 405B run: in-process, against C, and on Dask.

    python3 benchmarks/studies.py [--samples 1000000] [--runs 3] [--skip-dask] [--skip-c]

Rows (times are medians of --runs, printed as measured; nothing is asserted):

* sampling: drawing N points of the four uncertain inputs of
  runs.llama3_405b_h100_uncertain (MC, seeded);
* batch in-process: the N points through the compiled econ.cost.per_token
  function, chunks through CasADi `map` with one thread per core (the
  issue's target: 1e6 points in 2 s or less on 2 cores), and the same with
  one thread (per-point cost of CasADi's virtual machine);
* C: the same function as CasADi-generated C (`gpu_stack.studies.batch.native`:
  gcc -O2, a shared library loaded with `casadi.external`, what `--jit`
  uses), mapped over the same chunks on one thread (per-point cost, answers
  compared with the virtual machine's) and with one thread per core;
* the whole `Model.uncertainty` call (samples, Saltelli design, elasticities);
* Dask: a LocalCluster of 2 worker processes on the loopback interface, its
  start and close, and the same batch through it (the overhead against
  in-process), answers compared bit for bit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout without installing

from gpu_stack import Model  # noqa: E402
from gpu_stack.errors import InputError  # noqa: E402
from gpu_stack.studies.batch import CHUNK, InProcess, native, runner  # noqa: E402
from gpu_stack.studies.sampling import sample_inputs  # noqa: E402

PRESET = "runs.llama3_405b_h100_uncertain"
TARGET = "econ.cost.per_token"


def median_time(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """(median seconds over `runs` calls, the last answer)."""
    times, answer = [], None
    for _ in range(runs):
        start = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def row(name: str, seconds: float, n: int, note: str = "") -> None:
    print(f"{name:<46} {seconds:9.3f} s  {seconds / n * 1e6:8.3f} µs/point  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-c", action="store_true")
    args = parser.parse_args()
    n = args.samples
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# {PRESET}: {TARGET}, {n:,} points, {cores} cores, chunks of {CHUNK:,}, median of {args.runs}")

    model = Model([PRESET])
    ids = list(model.question.uncertain)
    function = model.function([TARGET], ids)
    print(f"# compiled function: {function.n_instructions()} instructions")
    seconds, inputs = median_time(lambda: sample_inputs(model.question.uncertain, [], n, 1, "mc"), args.runs)
    row("sampling (MC, 4 inputs)", seconds, n)
    matrix = np.array([inputs[i] for i in ids])

    threaded, one_thread = InProcess(), InProcess(threads=1)
    threaded(function, matrix[:, :CHUNK])   # build the mapped functions once, outside the timing
    one_thread(function, matrix[:, :CHUNK])
    seconds, here = median_time(lambda: threaded(function, matrix), args.runs)
    row(f"batch in-process, {threaded.threads} threads", seconds, n, "target: 1e6 points <= 2 s on 2 cores")
    vm_seconds, _ = median_time(lambda: one_thread(function, matrix), args.runs)
    row("batch in-process, 1 thread (CasADi VM)", vm_seconds, n)

    if not args.skip_c:
        try:
            start = time.perf_counter()
            native(function)   # generate + gcc -O2, or the library kept in the disk cache
            print(f"{'C: generate + compile (or read from the cache)':<46} {time.perf_counter() - start:9.3f} s")
        except InputError as exc:
            print(f"C rows skipped: {exc}")
        else:
            c_one, c_threaded = InProcess(threads=1, jit=True), InProcess(jit=True)
            c_one(function, matrix[:, :CHUNK])
            c_threaded(function, matrix[:, :CHUNK])
            c_seconds, in_c = median_time(lambda: c_one(function, matrix), args.runs)
            worst = float(np.nanmax(np.abs(in_c - here) / np.abs(here)))
            row("batch as generated C (gcc -O2), 1 thread", c_seconds, n,
                f"VM/C = {vm_seconds / c_seconds:.2f}; largest relative difference {worst:.1e}")
            seconds, _ = median_time(lambda: c_threaded(function, matrix), args.runs)
            row(f"batch as C (--jit), {c_threaded.threads} threads", seconds, n, "target: 1e6 points <= 2 s")

    seconds, result = median_time(lambda: model.uncertainty(TARGET, samples=n, seed=1), 1)
    report = result.report().targets[0]
    row("Model.uncertainty (samples + Sobol + elasticities)", seconds, n,
        f"90% interval [{report.p05:.4g}, {report.p95:.4g}] {report.unit}")

    if not args.skip_dask:
        start = time.perf_counter()
        with runner("local") as on_dask:
            started = time.perf_counter() - start
            print(f"{'Dask LocalCluster start (2 workers)':<46} {started:9.3f} s")
            on_dask(function, matrix[:, :CHUNK])   # the function reaches the workers once
            seconds, there = median_time(lambda: on_dask(function, matrix), args.runs)
            row("batch on Dask LocalCluster", seconds, n,
                f"identical to in-process: {np.array_equal(here, there, equal_nan=True)}")
            closing = time.perf_counter()
        print(f"{'Dask LocalCluster close':<46} {time.perf_counter() - closing:9.3f} s")


if __name__ == "__main__":
    main()
