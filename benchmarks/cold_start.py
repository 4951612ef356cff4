#!/usr/bin/env python3
"""Cold start: how long a `gpu-stack` command takes as a fresh process, against `python -c pass`.

    python3 benchmarks/cold_start.py [--runs 7] [--importtime]

Each command runs as its own subprocess (`python -m gpu_stack.cli …`, what
the `gpu-stack` script does), one after another in a loop like hyperfine's;
the median and the fastest of the runs are printed next to the issue's
targets (stats / resolve / explain ≤ 0.5 s, solve ≤ 0.8 s) and the same for
`python -c pass`, the floor no command can go under. One warm-up run of
each command comes first and is not counted: it fills the cache folder
(registry snapshot, unit table), as the first command after an install or a
registry edit does; `--cold-cache` points `GPU_STACK_CACHE_DIR` at an empty
folder for every run instead, to time that first command. Nothing is
asserted. `--importtime` adds, per command, the ten slowest imports
(`python -X importtime`, cumulative microseconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

COMMANDS: list[tuple[str, list[str], float]] = [
    ("stats", ["stats"], 0.5),
    ("resolve", ["resolve", "econ.cost.per_token", "--preset", "runs.llama3_405b_h100"], 0.5),
    ("explain", ["explain", "training.t_step"], 0.5),
    ("solve", ["solve", str(REPO / "problems" / "required_throughput_for_cost.toml")], 0.8),
]


def environment(cache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if cache is not None:
        env["GPU_STACK_CACHE_DIR"] = cache
    return env


def run_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    # cwd: `python -m` puts the working folder first on sys.path, ahead of PYTHONPATH
    done = subprocess.run(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def timings(argv: list[str], runs: int, cold_cache: bool) -> list[float]:
    if not cold_cache:
        run_once(argv, environment(None))   # warm-up: fills the cache folder, not counted
        return [run_once(argv, environment(None)) for _ in range(runs)]
    times = []
    for _ in range(runs):
        folder = tempfile.mkdtemp(prefix="gpu_stack_cache_")
        try:
            times.append(run_once(argv, environment(folder)))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return times


def slowest_imports(argv: list[str], count: int = 10) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]], env=environment(None), cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (median reported)")
    parser.add_argument("--cold-cache", action="store_true", help="an empty cache folder for every run")
    parser.add_argument("--importtime", action="store_true", help="show the slowest imports per command")
    args = parser.parse_args(argv)

    baseline = timings([sys.executable, "-c", "pass"], args.runs, cold_cache=False)
    floor = statistics.median(baseline)
    print(f"{'command':<72} {'median':>8} {'fastest':>8} {'target':>7}  vs python -c pass")
    print(f"{'python -c pass':<72} {floor:8.3f} {min(baseline):8.3f}")
    for label, command, target in COMMANDS:
        full = [sys.executable, "-m", "gpu_stack.cli", *command]
        times = timings(full, args.runs, args.cold_cache)
        median = statistics.median(times)
        shown = "gpu-stack " + " ".join(Path(c).relative_to(REPO).as_posix() if c.startswith(str(REPO)) else c
                                         for c in command)
        verdict = "met" if median <= target else "missed"
        print(f"{shown:<72} {median:8.3f} {min(times):8.3f} {target:7.2f}  "
              f"{median / floor:6.1f}x, +{median - floor:.3f} s  ({verdict})")
        if args.importtime:
            for microseconds, name in slowest_imports(full):
                print(f"      {microseconds / 1e6:7.3f} s  {name.strip()}")
    print(f"\n{args.runs} runs each, seconds; cache folder: "
          f"{'empty for every run' if args.cold_cache else 'filled by one uncounted warm-up run'}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
