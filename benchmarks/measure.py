"""Timing, agreement and the results table of benchmarks/engine.py.

Every time is a median of runs; the runs of the things compared are
interleaved, so a change in the load of a shared machine falls on both. A
run of a call that takes microseconds loops the call for about RUN_SECONDS
and divides, so the timer's own cost and resolution do not show; garbage
collection is off while timing (as `timeit` does), after a collection just
before.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import itertools
import math
import pstats
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

__all__ = ["AGREE", "Timing", "Timed", "interleaved", "timed", "no_gc", "alternate", "Row", "speed_row",
           "timing_detail", "Agreement", "Report", "table", "log", "fmt", "rel"]

START = time.perf_counter()
AGREE = 1e-6                       # relative difference above which two answers are reported as disagreeing
RUN_SECONDS = 0.02                  # a warm run loops a fast call until it takes about this long


def log(message: str) -> None:
    """A progress line on stderr, with the seconds since the start."""
    print(f"[{time.perf_counter() - START:6.1f} s] {message}", file=sys.stderr, flush=True)


def fmt(seconds: float | None) -> str:
    """A duration with a unit that keeps it readable (ns, µs, ms, s)."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def rel(a: float, b: float) -> float:
    """|a − b| / |b|."""
    return abs(a - b) / max(abs(b), 1e-300)


@dataclass
class Timing:
    """The median of `runs` (seconds per call); each run made `calls` calls."""

    median: float
    runs: list[float]
    calls: int


@dataclass
class Timed:
    """A call to time: `setup` runs untimed before each call; `loop` lets a run repeat a fast call."""

    call: Callable[[], Any]
    setup: Callable[[], Any] | None = None
    loop: bool = True


def interleaved(items: Sequence[Timed], runs: int) -> list[Timing]:
    """Median seconds per call of each item, their runs interleaved (a, b, a, b, …) so that a change in the
    machine's load falls on all of them alike.

    With a setup or `loop=False` a run is one call; otherwise a run loops the call until it lasts about
    RUN_SECONDS, so microsecond calls are not timer noise.
    """
    counts = [_calls_per_run(item) for item in items]
    samples: list[list[float]] = [[] for _ in items]
    for _ in range(runs):
        for item, calls, out in zip(items, counts, samples):
            if item.setup is not None:
                item.setup()
            with no_gc():
                t = time.perf_counter()
                for _ in range(calls):
                    item.call()
                out.append((time.perf_counter() - t) / calls)
    return [Timing(statistics.median(s), s, calls) for s, calls in zip(samples, counts)]


def timed(call: Callable[[], Any], runs: int, *, setup: Callable[[], Any] | None = None,
          loop: bool = True) -> Timing:
    """Median seconds per call of one call (see `interleaved`)."""
    return interleaved([Timed(call, setup, loop)], runs)[0]


def _calls_per_run(item: Timed) -> int:
    if not item.loop or item.setup is not None:
        return 1
    t = time.perf_counter()
    item.call()
    once = time.perf_counter() - t
    return max(1, min(10_000, int(RUN_SECONDS / max(once, 1e-7))))


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Garbage collection off while timing, as `timeit` does (collected just before instead)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def alternate(call: Callable[[Any], Any], values: list[Any]) -> Callable[[], Any]:
    """A call that cycles through `values`, so no two consecutive calls ask the same thing."""
    cycle = itertools.cycle(values)
    return lambda: call(next(cycle))


@dataclass
class Row:
    """One line of the table: engine time, the other engine's time, and the target."""

    question: str
    engine: float | None
    other: float | None
    other_name: str                 # "OpenMDAO", "C", or "" (an absolute target)
    target: str                     # "≥ 100×", "≤ 30 ms", "within 3× of C", or "—" (information)
    met: bool | None                # None: no target on this row
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.engine is None or self.other is None or not self.engine:
            return None
        return self.other / self.engine


def speed_row(question: str, engine: Timing | float | None, other: Timing | float | None, target: float | None,
              other_name: str = "OpenMDAO", note: str = "", **detail: Any) -> Row:
    """A row whose target is a speed-up: met when other / engine ≥ target (no target: information)."""
    e = engine.median if isinstance(engine, Timing) else engine
    o = other.median if isinstance(other, Timing) else other
    met = None if target is None or e is None or o is None else o / e >= target
    return Row(question, e, o, other_name, f"≥ {target:g}×" if target is not None else "—", met, note,
               timing_detail(engine=engine, other=other, **detail))


def timing_detail(**items: Any) -> dict[str, Any]:
    """Timings (median, every run, calls per run) and plain values, for the JSON."""
    out: dict[str, Any] = {}
    for key, value in items.items():
        if isinstance(value, Timing):
            out[key] = {"median": value.median, "runs": value.runs, "calls_per_run": value.calls}
        elif value is not None:
            out[key] = value
    return out


@dataclass
class Agreement:
    """One answer of gpu_stack beside another engine's (or an expected value)."""

    question: str
    quantity: str
    engine: float
    other: float
    other_name: str

    @property
    def difference(self) -> float:
        return rel(self.other, self.engine)

    @property
    def agrees(self) -> bool:
        return self.difference <= AGREE

    def line(self) -> str:
        word = "agree" if self.agrees else f"DISAGREE (beyond {AGREE:g} relative)"
        return (f"  {self.question:<26} {self.quantity:<34} gpu_stack {self.engine:<22.15g} {self.other_name} "
                f"{self.other:<22.15g} rel. diff {self.difference:.1e}  {word}")


@dataclass
class Report:
    """Everything a benchmark run collects: rows, agreements, notes and (with --profile) profiles."""

    rows: list[Row] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    profile: bool = False

    def agree(self, question: str, quantity: str, engine: float, other: float, other_name: str) -> None:
        """Record (and log) a comparison of answers."""
        item = Agreement(question, quantity, float(engine), float(other), other_name)
        self.agreements.append(item)
        log(item.line().strip())

    def profiled(self, label: str, call: Callable[[], Any], calls: int, sort: str = "tottime") -> None:
        """With --profile: where `calls` calls spend their time (cProfile's top entries, by own time or
        cumulative)."""
        if not self.profile:
            return
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(sort).print_stats(16 if sort == "tottime" else 30)
        self.profiles[label] = stream.getvalue()


def table(rows: list[Row]) -> list[str]:
    """The results table, one line per row."""
    head = f"{'question':<58}{'gpu_stack':>11}  {'other':>20}  {'ratio':>8}  {'target':>17}  {'':<6}"
    lines = [head, "-" * len(head)]
    for row in rows:
        other = f"{fmt(row.other)} ({row.other_name})" if row.other is not None else "—"
        ratio = row.ratio
        ratio_text = "—" if ratio is None else (f"{ratio:.3g}×" if ratio < 100 else f"{ratio:.0f}×")
        met = "info" if row.met is None else ("met" if row.met else "MISSED")
        lines.append(f"{row.question:<58}{fmt(row.engine):>11}  {other:>20}  {ratio_text:>8}  {row.target:>17}  "
                     f"{met:<6}")
    return lines
