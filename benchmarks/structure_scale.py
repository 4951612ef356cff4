#!/usr/bin/env python3
"""Structural analysis at scale: `structure.analyse` against the networkx version it replaced.

    python3 benchmarks/structure_scale.py [--equations 20000] [--runs 7]

Writes a synthetic registry (`benchmarks/synthetic.py`) into a temporary
folder, loads it the way the command line does (`load_registry`), and
formulates two questions on it:

* forward: every root assigned, the final output asked for — one explicit
  block per equation;
* inverse: the final output held at its value, one root (the middle one of
  the list) freed — the chain from that root to the output becomes one
  strongly connected block.

For each, three versions run interleaved: the engine's `analyse` (scipy's
strongly connected components from `structure.SCIPY_FROM` equations on),
the same with its plain-Python components forced (what it uses for smaller
systems, to show where the threshold sits), and `analyse_networkx` (the
previous implementation, copied below: a networkx DiGraph, `nx.condensation`
and `nx.topological_sort` for the block order). The median of the runs is
printed with the ratio networkx / each. All must find the same blocks; the
networkx order may differ where several blocks are ready at once (the
engine takes the earliest equation first), so each order is checked to be
triangular. The registry is loaded with `load_registry`, which freezes it
out of the garbage collector as the command line does. Nothing is asserted
about time.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from gpu_stack.audit.resolver import resolve  # noqa: E402
from gpu_stack.model.problems import inline_problem  # noqa: E402
from gpu_stack.model.registry import load_registry  # noqa: E402
from gpu_stack.model.scenarios import load_scenario  # noqa: E402
from gpu_stack.solver import structure as ST  # noqa: E402
from gpu_stack.solver.formulation import formulate  # noqa: E402

from synthetic import FINAL, write_synthetic  # noqa: E402


def analyse_networkx(equations: Sequence[str], unknowns: Sequence[str], incidence: Mapping[str, Sequence[str]],
                     explicit: Mapping[str, str] | None = None) -> ST.Structure:
    """`structure.analyse` as it was before scipy ordered the blocks (the baseline)."""
    import networkx as nx

    equations = list(equations)
    unknowns = list(unknowns)
    unknown_set = set(unknowns)
    incidence = {e: [v for v in incidence[e] if v in unknown_set] for e in equations}
    matching = ST._prefer_explicit(equations, unknowns, incidence, explicit or {})
    structure = ST.Structure(equations, unknowns, matching)
    var_to_eq = {v: e for e, v in matching.items()}
    eqs_of: dict[str, list[str]] = {v: [] for v in unknowns}
    for e in equations:
        for v in incidence[e]:
            eqs_of[v].append(e)
    under_v, under_e = ST._alternating_closure([v for v in unknowns if v not in var_to_eq], eqs_of, matching)
    over_e, over_v = ST._alternating_closure([e for e in equations if e not in matching], incidence, var_to_eq)
    structure.under_variables = [v for v in unknowns if v in under_v]
    structure.under_equations = [e for e in equations if e in under_e]
    structure.over_equations = [e for e in equations if e in over_e]
    structure.over_variables = [v for v in unknowns if v in over_v]
    well = [e for e in equations if e in matching and e not in under_e and e not in over_e]
    graph = nx.DiGraph()
    graph.add_nodes_from(well)
    well_set = set(well)
    for e in well:
        for v in incidence[e]:
            source = var_to_eq.get(v)
            if source is not None and source != e and source in well_set:
                graph.add_edge(source, e)
    condensed = nx.condensation(graph)
    position = {e: i for i, e in enumerate(equations)}
    for node in nx.topological_sort(condensed):
        members = sorted(condensed.nodes[node]["members"], key=position.__getitem__)
        structure.blocks.append(ST.Block(tuple(members), tuple(matching[e] for e in members)))
    return structure


def triangular(structure: ST.Structure, incidence: Mapping[str, Sequence[str]]) -> bool:
    """Every block reads only unknowns solved by earlier blocks or by itself."""
    solved: set[str] = set()
    matched = set(structure.matching.values())
    for block in structure.blocks:
        inside = set(block.variables)
        for e in block.equations:
            for v in incidence[e]:
                if v in matched and v not in solved and v not in inside:
                    return False
        solved |= inside
    return True


def timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, value); the previous run's garbage is collected first, untimed,
    so no run pays for another's."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def analyse_plain(*args: Any) -> ST.Structure:
    """`structure.analyse` with its plain-Python components at any size (what it uses below SCIPY_FROM)."""
    threshold = ST.SCIPY_FROM
    ST.SCIPY_FROM = 10**12
    try:
        return ST.analyse(*args)
    finally:
        ST.SCIPY_FROM = threshold


def compare(label: str, formulation: Any, runs: int) -> None:
    args = (formulation.equations, formulation.unknowns, formulation.incidence, formulation.explicit)
    variants: dict[str, Callable[..., ST.Structure]] = {
        "analyse (engine)": ST.analyse, "analyse, plain-Python SCC": analyse_plain,
        "analyse_networkx (before)": analyse_networkx,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu_times: dict[str, list[float]] = {name: [] for name in variants}
    results: dict[str, ST.Structure] = {}
    for _ in range(runs):   # interleaved, so drift on the machine hits all alike
        for name, function in variants.items():
            seconds, cpu, results[name] = timed(lambda: function(*args))
            times[name].append(seconds)
            cpu_times[name].append(cpu)
    engine, before = results["analyse (engine)"], results["analyse_networkx (before)"]
    medians = {name: statistics.median(values) for name, values in times.items()}
    largest = max((len(b.equations) for b in engine.blocks), default=0)
    path = "scipy" if len(formulation.equations) >= ST.SCIPY_FROM else "plain Python"
    print(f"{label}: {len(formulation.equations)} equations, {len(engine.blocks)} blocks (largest {largest}); "
          f"the engine's components: {path}")
    for name, values in times.items():
        print(f"  {name:<28} median {medians[name] * 1e3:7.1f} ms (CPU {statistics.median(cpu_times[name]) * 1e3:7.1f})"
              f"   min {min(values) * 1e3:7.1f} ms   networkx / this {medians['analyse_networkx (before)'] / medians[name]:5.2f}x")
    print(f"  target: analyse <= 300 ms at 20,000 equations; {runs} runs each (wall-clock median; CPU: process time)")
    same = all({b.equations for b in r.blocks} == {b.equations for b in before.blocks} for r in results.values())
    same_order = engine.blocks == results["analyse, plain-Python SCC"].blocks
    all_triangular = all(triangular(r, formulation.incidence) for r in results.values())
    print(f"  same blocks in all three: {'yes' if same else 'NO'}; the engine's order the same with and without "
          f"scipy: {'yes' if same_order else 'NO'}; every order triangular: {'yes' if all_triangular else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--equations", type=int, default=20000, help="size of the synthetic registry")
    parser.add_argument("--runs", type=int, default=7, help="runs of each implementation (median reported)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpu_stack_structure_") as work:
        start = time.perf_counter()
        model = write_synthetic(Path(work), args.equations, seed=args.seed)
        registry = load_registry([str(model.registry)])
        print(f"synthetic registry: {model.n_equations} equations, {model.n_variables} variables "
              f"(written and loaded in {time.perf_counter() - start:.1f} s)", file=sys.stderr)
        scenario = load_scenario(registry, str(model.scenario))
        forward = formulate(registry, inline_problem(registry, [scenario]))
        compare("forward", forward, args.runs)
        root = model.roots[len(model.roots) // 2]
        value = resolve(registry, [FINAL], scenario.assign, scenario.select).values[FINAL]
        inverse = formulate(registry, inline_problem(registry, [scenario], targets=[f"{FINAL}={value!r}"],
                                                     free=[root]))
        compare(f"inverse (free {root})", inverse, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
