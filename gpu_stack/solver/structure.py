"""Structural analysis: match equations to unknowns, then decompose.

A question's equations and unknowns form a bipartite graph. A maximum
matching (scipy's Hopcroft–Karp on a sparse biadjacency matrix) and the
Dulmage–Mendelsohn decomposition split it into

* an **under-determined** part: unknowns reachable by alternating paths from
  an unmatched unknown (roots still to be given, or free variables nothing
  pins);
* an **over-determined** part: equations reachable from an unmatched
  equation (targets or assignments that conflict, and the equations
  through which they do);
* a **well-determined** part, ordered into blocks (block-triangular form:
  strongly connected components of the matched dependency graph). A block
  of one equation that defines its own variable explicitly is evaluated; any
  other block is an algebraic loop or an inverted equation for Newton.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

__all__ = ["Block", "Structure", "analyse", "covers"]


@dataclass(frozen=True)
class Block:
    """Equations solved together for the same number of unknowns."""

    equations: tuple[str, ...]
    variables: tuple[str, ...]


@dataclass
class Structure:
    """The decomposition of a system of equations against its unknowns."""

    equations: list[str]
    unknowns: list[str]
    matching: dict[str, str]                      # equation -> unknown
    under_variables: list[str] = field(default_factory=list)
    under_equations: list[str] = field(default_factory=list)
    over_equations: list[str] = field(default_factory=list)
    over_variables: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    @property
    def square(self) -> bool:
        return not self.under_variables and not self.over_equations


def _matching(equations: Sequence[str], unknowns: Sequence[str],
              incidence: Mapping[str, Sequence[str]]) -> dict[str, str]:
    if not equations or not unknowns:
        return {}
    column = {v: j for j, v in enumerate(unknowns)}
    rows, cols = [], []
    for i, equation in enumerate(equations):
        for v in incidence[equation]:
            if v in column:
                rows.append(i)
                cols.append(column[v])
    matrix = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(equations), len(unknowns)))
    matched = maximum_bipartite_matching(matrix, perm_type="column")
    return {equations[i]: unknowns[j] for i, j in enumerate(matched) if j >= 0}


def covers(equations: Sequence[str], unknowns: Sequence[str], incidence: Mapping[str, Sequence[str]]) -> list[str]:
    """Unknowns (of those given) left unmatched by a maximum matching against the equations."""
    matched = set(_matching(equations, unknowns, incidence).values())
    return [v for v in unknowns if v not in matched]


def analyse(equations: Sequence[str], unknowns: Sequence[str], incidence: Mapping[str, Sequence[str]],
            explicit: Mapping[str, str] | None = None) -> Structure:
    """Match, decompose and order a system.

    Parameters
    ----------
    equations : equation IDs.
    unknowns : variable IDs to be determined.
    incidence : equation -> the unknowns it mentions (others are known).
    explicit : equation -> the variable it defines; used to prefer the
        natural direction when several maximum matchings exist.
    """
    equations = list(equations)
    unknowns = list(unknowns)
    unknown_set = set(unknowns)
    incidence = {e: [v for v in incidence[e] if v in unknown_set] for e in equations}
    # Seed with the defining direction: match explicit equations to the variable
    # they define first, so an audit-orderable system stays explicit.
    matching = _prefer_explicit(equations, unknowns, incidence, explicit or {})
    structure = Structure(equations, unknowns, matching)
    var_to_eq = {v: e for e, v in matching.items()}
    eqs_of: dict[str, list[str]] = {v: [] for v in unknowns}
    for e in equations:
        for v in incidence[e]:
            eqs_of[v].append(e)
    # under-determined: alternating paths from unmatched unknowns (any edge, then the matching)
    under_v, under_e = _alternating_closure([v for v in unknowns if v not in var_to_eq], eqs_of, matching)
    # over-determined: alternating paths from unmatched equations
    over_e, over_v = _alternating_closure([e for e in equations if e not in matching], incidence, var_to_eq)
    structure.under_variables = [v for v in unknowns if v in under_v]
    structure.under_equations = [e for e in equations if e in under_e]
    structure.over_equations = [e for e in equations if e in over_e]
    structure.over_variables = [v for v in unknowns if v in over_v]
    # well-determined part: block-triangular order
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
        structure.blocks.append(Block(tuple(members), tuple(matching[e] for e in members)))
    return structure


def _alternating_closure(starts: list[str], neighbours: Mapping[str, Sequence[str]],
                         matched: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """Vertices reachable from `starts` by alternating paths: any edge out, the matching back.

    Returns (the start side's vertices, the other side's vertices).
    """
    near, far = set(starts), set()
    queue = deque(starts)
    while queue:
        node = queue.popleft()
        for other in neighbours[node]:
            if other not in far:
                far.add(other)
                back = matched.get(other)
                if back is not None and back not in near:
                    near.add(back)
                    queue.append(back)
    return near, far


def _prefer_explicit(equations: list[str], unknowns: list[str], incidence: dict[str, list[str]],
                     explicit: Mapping[str, str]) -> dict[str, str]:
    """A maximum matching that keeps as many defining directions as it can.

    First match greedily along the defining direction, then grow the
    matching with augmenting paths (which never unmatch a vertex), so the
    result is maximum and mostly explicit.
    """
    matching: dict[str, str] = {}
    taken: set[str] = set()
    for e in equations:
        v = explicit.get(e)
        if v is not None and v in incidence[e] and v not in taken:
            matching[e] = v
            taken.add(v)
    var_to_eq = {v: e for e, v in matching.items()}

    def augment(start: str) -> bool:
        # BFS for an augmenting path from an unmatched equation
        parent_eq: dict[str, str] = {}
        parent_var: dict[str, str] = {}
        queue = deque([start])
        seen_eq = {start}
        while queue:
            e = queue.popleft()
            for v in incidence[e]:
                if v in parent_var:
                    continue
                parent_var[v] = e
                owner = var_to_eq.get(v)
                if owner is None:
                    # flip the path back to the start
                    while True:
                        e_on_path = parent_var[v]
                        previous = matching.get(e_on_path)
                        matching[e_on_path] = v
                        var_to_eq[v] = e_on_path
                        if e_on_path == start:
                            return True
                        v = previous  # type: ignore[assignment]
                if owner not in seen_eq:
                    seen_eq.add(owner)
                    parent_eq[owner] = v
                    queue.append(owner)
        return False

    for e in equations:
        if e not in matching:
            augment(e)
    return matching
