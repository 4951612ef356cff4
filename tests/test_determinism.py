"""Deterministic output: the same command prints the same bytes whatever Python's hash seed is.

String hashing is randomised per process (PYTHONHASHSEED), so any set or
hash-ordered walk that reaches output shows up here as a difference between
two seeds. The orders behind the output — the audit graph's components and
the structural analysis's blocks — are checked directly too: they depend on
the graph only, never on the order nodes or edges were given in.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from gpu_stack.audit.graph import ordered_components, reachable, strongly_connected_components
from gpu_stack.solver import structure
from gpu_stack.solver.structure import analyse

from conftest import REPO

COMMANDS = {
    "resolve --trace --json": ["resolve", "econ.run.emissions", "--preset", "runs.llama3_405b_h100", "--trace",
                               "--json"],
    "resolve --trace (text)": ["resolve", "econ.cost.per_token", "--preset", "dense_training_cost_fixture",
                               "--trace"],
    "scenario-report --json": ["scenario-report", "runs.llama3_405b_h100", "--json"],
    "solve problem file --json": ["solve", "problems/required_throughput_for_cost.toml", "--json"],
    "solve problem file (2) --json": ["solve", "problems/llama3_405b_mfu_for_deadline.toml", "--json"],
    "solve inline inverse --json": ["solve", "--preset", "dense_training_cost_fixture", "--target",
                                    "econ.cost.per_token=2.5e-6", "--free", "econ.job.capex_rate", "--json"],
}
SEEDS = ("1", "2")


@pytest.fixture(scope="module")
def outputs() -> dict[tuple[str, str], bytes]:
    """stdout of every command under every seed (all processes started at once: two cores, half the wait)."""
    running = {}
    for label, args in COMMANDS.items():
        for seed in SEEDS:
            env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
            running[label, seed] = subprocess.Popen([sys.executable, "-m", "gpu_stack.cli", *args], cwd=REPO,
                                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    for key, process in running.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, (key, stderr.decode()[-2000:])
        results[key] = stdout
    return results


@pytest.mark.parametrize("label", list(COMMANDS))
def test_same_bytes_under_two_hash_seeds(outputs, label):
    first, second = (outputs[label, seed] for seed in SEEDS)
    assert first, f"{label}: no output"
    assert first == second, f"{label}: output differs between PYTHONHASHSEED={SEEDS[0]} and {SEEDS[1]}"


def _random_graph(rng: random.Random, n: int, edges: int) -> dict[str, list[str]]:
    names = [f"v{i:03d}" for i in range(n)]
    successors: dict[str, list[str]] = {name: [] for name in names}
    for _ in range(edges):
        a, b = rng.choice(names), rng.choice(names)
        if b not in successors[a]:
            successors[a].append(b)
    return successors


def _shuffled(rng: random.Random, graph: dict[str, list[str]]) -> dict[str, list[str]]:
    names = list(graph)
    rng.shuffle(names)
    return {name: rng.sample(graph[name], len(graph[name])) for name in names}


def test_components_are_mutual_reachability_classes_in_topological_order():
    rng = random.Random(7)
    for _ in range(20):
        graph = _random_graph(rng, 60, 90)
        components = ordered_components(graph, graph.__getitem__)
        assert sorted(v for c in components for v in c) == sorted(graph)
        reach = {v: reachable([v], graph.__getitem__) for v in graph}
        for members in components:
            assert members == sorted(members)
            for a in members:
                assert {b for b in graph if a in reach[b] and b in reach[a]} == set(members)
        position = {v: i for i, members in enumerate(components) for v in members}
        for a, targets in graph.items():
            for b in targets:
                assert position[a] <= position[b], (a, b)     # every edge points forward (or stays inside)


def test_component_order_does_not_depend_on_the_order_the_graph_is_given_in():
    rng = random.Random(11)
    for _ in range(20):
        graph = _random_graph(rng, 50, 70)
        expected = ordered_components(graph, graph.__getitem__)
        for _ in range(3):
            shuffled = _shuffled(rng, graph)
            assert ordered_components(shuffled, shuffled.__getitem__) == expected
        # the unordered components are the same sets whatever the walk's start
        plain = strongly_connected_components(_shuffled(rng, graph), graph.__getitem__)
        assert sorted(sorted(c) for c in plain) == sorted(expected)


def _random_system(rng: random.Random, n: int) -> tuple[list[str], list[str], dict[str, list[str]], dict[str, str]]:
    """n equations, each defining its own unknown from a few earlier ones; some pairs read each other (loops)."""
    unknowns = [f"x{i:03d}" for i in range(n)]
    equations = [f"e{i:03d}" for i in range(n)]
    incidence = {e: [x, *rng.sample(unknowns[:i], min(i, rng.randint(0, 3)))]
                 for i, (e, x) in enumerate(zip(equations, unknowns))}
    for _ in range(n // 10):
        i, j = sorted(rng.sample(range(n), 2))
        incidence[equations[i]].append(unknowns[j])   # e_i reads x_j, and e_j may read x_i: a loop
        incidence[equations[j]].append(unknowns[i])
    incidence = {e: list(dict.fromkeys(vs)) for e, vs in incidence.items()}
    return equations, unknowns, incidence, dict(zip(equations, unknowns))


def _check_block_order(result, equations: list[str], incidence: dict[str, list[str]]) -> None:
    """Each block is, of the blocks whose inputs are all solved, the one with the earliest equation."""
    position = {e: i for i, e in enumerate(equations)}
    owner = {v: k for k, block in enumerate(result.blocks) for v in block.variables}
    needs = [{owner[v] for e in block.equations for v in incidence[e] if v in owner} - {k}
             for k, block in enumerate(result.blocks)]
    done: set[int] = set()
    for k, block in enumerate(result.blocks):
        assert list(block.equations) == sorted(block.equations, key=position.__getitem__)
        ready = [j for j in range(len(result.blocks)) if j not in done and needs[j] <= done]
        assert k in ready, f"block {block.equations} placed before its inputs"
        assert min(ready, key=lambda j: position[result.blocks[j].equations[0]]) == k
        done.add(k)


def test_block_order_is_the_same_with_scipy_and_without(monkeypatch):
    pytest.importorskip("scipy")
    rng = random.Random(3)
    for trial in range(16):
        equations, unknowns, incidence, explicit = _random_system(rng, 80)
        if trial % 2:
            rng.shuffle(equations)          # not in a computable order: the heap decides
        monkeypatch.setattr(structure, "SCIPY_FROM", 10**9)
        plain = analyse(equations, unknowns, incidence, explicit)
        monkeypatch.setattr(structure, "SCIPY_FROM", 0)
        with_scipy = analyse(equations, unknowns, incidence, explicit)
        assert plain.blocks == with_scipy.blocks
        assert any(len(b.equations) > 1 for b in plain.blocks)          # the systems do have loops
        _check_block_order(plain, equations, incidence)


def test_block_order_breaks_ties_by_the_earliest_equation():
    # three independent chains, given interleaved: ready blocks come out in equation order
    incidence = {"a1": ["p"], "b1": ["q"], "a2": ["r", "p"], "b2": ["s", "q"], "c1": ["t"]}
    explicit = {"a1": "p", "b1": "q", "a2": "r", "b2": "s", "c1": "t"}
    result = analyse(list(incidence), ["p", "q", "r", "s", "t"], incidence, explicit)
    assert [b.equations for b in result.blocks] == [("a1",), ("b1",), ("a2",), ("b2",), ("c1",)]
