"""Structural analysis: matching and the Dulmage–Mendelsohn split, on small known systems."""

from __future__ import annotations

from gpu_stack.solver.structure import analyse, covers


def test_over_and_under_parts():
    # e1 and e2 both pin a (over); e3 ties b and c with nothing else (under)
    incidence = {"e1": ["a"], "e2": ["a"], "e3": ["b", "c"]}
    structure = analyse(list(incidence), ["a", "b", "c"], incidence)
    assert structure.over_equations == ["e1", "e2"] and structure.over_variables == ["a"]
    assert structure.under_variables == ["b", "c"] and structure.under_equations == ["e3"]
    assert not structure.square


def test_blocks_in_triangular_order_keep_the_defining_direction():
    # a chain x1 <- x0, x2 <- x1 … plus a 2×2 loop (y, z) fed by the chain's end
    incidence = {f"d{i}": [f"x{i}", f"x{i - 1}"] for i in range(1, 6)}
    incidence["d0"] = ["x0"]
    incidence["ly"] = ["y", "z", "x5"]
    incidence["lz"] = ["z", "y"]
    explicit = {f"d{i}": f"x{i}" for i in range(6)} | {"ly": "y", "lz": "z"}
    unknowns = [f"x{i}" for i in range(6)] + ["y", "z"]
    structure = analyse(list(incidence), unknowns, incidence, explicit)
    assert structure.square
    assert all(structure.matching[e] == v for e, v in explicit.items() if e.startswith("d"))
    order = [block.equations for block in structure.blocks]
    assert order[:6] == [("d0",), ("d1",), ("d2",), ("d3",), ("d4",), ("d5",)]
    assert set(order[6]) == {"ly", "lz"}


def test_covers_names_unmatched_unknowns():
    incidence = {"e1": ["a", "b"]}
    assert covers(["e1"], ["a", "b"], incidence) in (["a"], ["b"])
