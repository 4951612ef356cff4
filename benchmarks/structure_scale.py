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

For each, `analyse` runs interleaved with `analyse_networkx` (the previous
implementation, copied below: a networkx DiGraph, `nx.condensation` and
`nx.topological_sort` for the block order) and the median of the runs is
printed with the ratio networkx / scipy. Both must find the same blocks;
their order may differ where several blocks are ready at once (the new
order takes the earliest equation first), so each order is checked to be
triangular. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
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
from gpu_stack.solver.solve import formulate  # noqa: E402

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


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def compare(label: str, formulation: Any, runs: int) -> None:
    args = (formulation.equations, formulation.unknowns, formulation.incidence, formulation.explicit)
    new_times, old_times = [], []
    new = old = None
    for _ in range(runs):   # interleaved, so drift on the machine hits both alike
        seconds, new = timed(lambda: ST.analyse(*args))
        new_times.append(seconds)
        seconds, old = timed(lambda: analyse_networkx(*args))
        old_times.append(seconds)
    assert new is not None and old is not None
    same_blocks = {b.equations for b in new.blocks} == {b.equations for b in old.blocks}
    largest = max((len(b.equations) for b in new.blocks), default=0)
    new_median, old_median = statistics.median(new_times), statistics.median(old_times)
    print(f"{label}: {len(formulation.equations)} equations, {len(new.blocks)} blocks (largest {largest})")
    print(f"  analyse (scipy)            median {new_median * 1e3:8.1f} ms   "
          f"min {min(new_times) * 1e3:8.1f} ms   runs {runs}")
    print(f"  analyse_networkx (before)  median {old_median * 1e3:8.1f} ms   "
          f"min {min(old_times) * 1e3:8.1f} ms   runs {runs}")
    print(f"  ratio networkx / scipy     {old_median / new_median:8.2f}x   (target: analyse <= 300 ms at 20,000)")
    print(f"  same blocks: {'yes' if same_blocks else 'NO'}; triangular order: scipy "
          f"{'yes' if triangular(new, formulation.incidence) else 'NO'}, networkx "
          f"{'yes' if triangular(old, formulation.incidence) else 'NO'}")


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
