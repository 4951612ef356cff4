"""Structural analysis: match equations to unknowns, then decompose.

A question's equations and unknowns form a bipartite graph. A maximum
matching that keeps the defining direction of explicit equations where it
can (greedy along that direction, then augmenting paths) and the
Dulmage–Mendelsohn decomposition split it into

* an **under-determined** part: unknowns reachable by alternating paths from
  an unmatched unknown (roots still to be given, or free variables nothing
  pins);
* an **over-determined** part: equations reachable from an unmatched
  equation (targets or assignments that conflict, and the equations
  through which they do);
* a **well-determined** part, ordered into blocks (block-triangular form:
  strongly connected components of the matched dependency graph — by
  scipy's `connected_components(connection="strong")` for large systems,
  by a plain-Python Tarjan walk for small ones — in topological order).
  A block of one equation that defines its own variable explicitly
  is evaluated; any other block is an algebraic loop or an inverted equation
  for Newton.

The order is deterministic: among blocks whose inputs are all available, the
one holding the earliest equation (by position in the given list) comes
first, and a block's members keep their positions' order.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from gpu_stack.audit.graph import strongly_connected_components

__all__ = ["Block", "Structure", "analyse", "covers"]

# From this many well-determined equations on, strongly connected components come from
# scipy's C code; below it, from the plain-Python walk the audit path uses, because
# importing scipy.sparse (~0.2 s) would cost more than the whole analysis.
SCIPY_FROM = 5000


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


def covers(equations: Sequence[str], unknowns: Sequence[str], incidence: Mapping[str, Sequence[str]]) -> list[str]:
    """Unknowns (of those given) left unmatched by a maximum matching against the equations."""
    known = set(unknowns)
    restricted = {e: [v for v in incidence[e] if v in known] for e in equations}
    matched = set(_prefer_explicit(list(equations), list(unknowns), restricted, {}).values())
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
    # under-determined: alternating paths from unmatched unknowns (any edge, then the matching)
    unmatched = [v for v in unknowns if v not in var_to_eq]
    under_v: set[str] = set()
    under_e: set[str] = set()
    if unmatched:
        eqs_of: dict[str, list[str]] = {v: [] for v in unknowns}
        for e in equations:
            for v in incidence[e]:
                eqs_of[v].append(e)
        under_v, under_e = _alternating_closure(unmatched, eqs_of, matching)
    # over-determined: alternating paths from unmatched equations
    over_e, over_v = _alternating_closure([e for e in equations if e not in matching], incidence, var_to_eq)
    structure.under_variables = [v for v in unknowns if v in under_v]
    structure.under_equations = [e for e in equations if e in under_e]
    structure.over_equations = [e for e in equations if e in over_e]
    structure.over_variables = [v for v in unknowns if v in over_v]
    # well-determined part: block-triangular order
    well = [e for e in equations if e in matching and e not in under_e and e not in over_e]
    for members in _block_order(well, incidence, var_to_eq):
        structure.blocks.append(Block(tuple(members), tuple(map(matching.__getitem__, members))))
    return structure


def _block_order(well: list[str], incidence: Mapping[str, Sequence[str]],
                 var_to_eq: Mapping[str, str]) -> list[list[str]]:
    """Blocks of the well-determined equations, each block's inputs solved by earlier blocks.

    An edge source → e means e reads the unknown that source is matched to.
    Blocks are the strongly connected components of that graph (scipy's
    `connected_components(connection="strong")` from `SCIPY_FROM` equations on);
    Kahn's algorithm orders them, taking first, among the blocks that are
    ready, the one whose earliest equation comes first in `well`. Members
    keep their order in `well`.
    """
    n = len(well)
    if n == 0:
        return []
    index = {e: i for i, e in enumerate(well)}
    solved_by = {v: index[e] for v, e in var_to_eq.items() if e in index}   # unknown -> position of its equation
    read = [incidence[e] for e in well]
    position_of = solved_by.get
    edges_from = np.array([position_of(v, -1) for vs in read for v in vs], dtype=np.int64)
    edges_to = np.repeat(np.arange(n, dtype=np.int64), [len(vs) for vs in read])
    keep = (edges_from >= 0) & (edges_from != edges_to)
    edges_from, edges_to = edges_from[keep], edges_to[keep]
    count, labels = _strong_components(n, edges_from, edges_to, use_scipy=n >= SCIPY_FROM)
    # renumber components by their earliest member, so that a smaller label means an earlier equation
    _, first = np.unique(labels, return_index=True)          # first member position of each label
    rank = np.empty(count, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(count)
    block_of = rank[labels]
    members: list[list[str]] = [[] for _ in range(count)]
    for e, b in zip(well, block_of.tolist()):
        members[b].append(e)
    # edges between blocks (duplicates kept: each one is counted and released once)
    crossing = block_of[edges_from] != block_of[edges_to]
    block_from, block_to = block_of[edges_from[crossing]], block_of[edges_to[crossing]]
    if bool(np.all(block_from < block_to)):
        # every block reads only blocks with smaller labels (equations given in a computable
        # order): the label order is the one Kahn's algorithm below would produce
        return members
    waiting = np.bincount(block_to, minlength=count).tolist()
    after: list[list[int]] = [[] for _ in range(count)]
    for a, b in zip(block_from.tolist(), block_to.tolist()):
        after[a].append(b)
    ready = [b for b in range(count) if waiting[b] == 0]   # already a heap: ascending
    order: list[list[str]] = []
    while ready:
        b = heapq.heappop(ready)
        order.append(members[b])
        for c in after[b]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, c)
    return order


def _strong_components(n: int, edges_from: np.ndarray, edges_to: np.ndarray,
                       *, use_scipy: bool) -> tuple[int, np.ndarray]:
    """(number of strongly connected components, component label of each node) of a graph on 0…n-1.

    The labels name the same components either way; their numbering differs
    (the caller renumbers them).
    """
    if use_scipy:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        matrix = csr_matrix((np.ones(len(edges_from), dtype=np.int8), (edges_from, edges_to)), shape=(n, n))
        count, labels = connected_components(matrix, directed=True, connection="strong")
        return int(count), labels
    feeds: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(edges_from.tolist(), edges_to.tolist()):
        feeds[a].append(b)
    labels = np.empty(n, dtype=np.int64)
    components = strongly_connected_components(range(n), feeds.__getitem__)
    for label, members in enumerate(components):
        labels[members] = label
    return len(components), labels


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
