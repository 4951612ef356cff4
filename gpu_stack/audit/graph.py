"""Registry → graph: variables linked through the equations that define them.

An edge u → v means "v is defined by an active equation that reads u". An
equation whose left side is not a single variable defines nothing; it ties
its variables together both ways (it can only be solved simultaneously).
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Mapping

import networkx as nx

from gpu_stack.model.registry import Registry

__all__ = [
    "HEADLINES", "family", "variable_graph", "upstream", "downstream", "roots", "leaves",
    "families", "loops", "equations_reaching_headline", "boundary_of",
]

HEADLINES: tuple[str, ...] = (
    "econ.cost.per_token", "econ.run.total_cost", "econ.run.gpu_hour_cost", "econ.run.energy",
    "econ.run.emissions", "econ.job.dc_power", "thermal.dc.pue", "training.tokens_per_sec",
    "training.wallclock", "training.gpu_hours", "training.mfu", "training.mfu_run",
)


def family(ident: str) -> str:
    """An ID without its last segment: 'fab.yield.die' -> 'fab.yield'."""
    return ident.rsplit(".", 1)[0]


def _selection_key(selection: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((selection or {}).items()))


def variable_graph(registry: Registry, selection: Mapping[str, str] | None = None,
                   *, all_alternatives: bool = False) -> nx.DiGraph:
    """The variable graph under a selection (cached on the registry).

    With ``all_alternatives=True`` every alternative of every group is wired
    in: the graph of everything the registry *could* compute.
    """
    cache: dict = registry.__dict__.setdefault("_graph_cache", {})
    key = ("all",) if all_alternatives else _selection_key(registry.select(selection))
    graph = cache.get(key)
    if graph is not None:
        return graph
    graph = nx.DiGraph()
    graph.add_nodes_from(registry.variables)
    equations = registry.equations.values() if all_alternatives else registry.active_equations(selection)
    for equation in equations:
        if equation.defines is not None:
            for source in equation.inputs:
                graph.add_edge(source, equation.defines, equation=equation.id)
        else:
            for a in equation.variables:
                for b in equation.variables:
                    if a != b:
                        graph.add_edge(a, b, equation=equation.id)
    cache[key] = graph
    return graph


def upstream(registry: Registry, targets: Iterable[str], selection: Mapping[str, str] | None = None,
             *, cut: Iterable[str] = ()) -> set[str]:
    """Targets and everything they depend on; variables in `cut` are not entered."""
    graph = variable_graph(registry, selection)
    stop = set(cut)
    seen: set[str] = set()
    queue = deque(targets)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        if node in stop:
            continue
        queue.extend(p for p in graph.predecessors(node) if p not in seen)
    return seen


def downstream(registry: Registry, sources: Iterable[str], selection: Mapping[str, str] | None = None) -> set[str]:
    """Sources and everything that depends on them."""
    graph = variable_graph(registry, selection)
    seen = set(sources)
    for source in list(seen):
        seen |= nx.descendants(graph, source)
    return seen


def roots(registry: Registry, selection: Mapping[str, str] | None = None) -> list[str]:
    """Variables that no active equation defines, sorted."""
    defined = set(registry.defining_equations(selection))
    implicit = {v for e in registry.active_equations(selection) if e.defines is None for v in e.variables}
    return sorted(v for v in registry.variables if v not in defined and v not in implicit)


def boundary_of(registry: Registry, ident: str) -> str:
    """A root's boundary: scenario, primitive or debt (the default)."""
    return registry.variables[ident].boundary or "debt"


def leaves(registry: Registry, selection: Mapping[str, str] | None = None) -> list[str]:
    """Variables nothing depends on, sorted."""
    graph = variable_graph(registry, selection)
    used_by_constraints = {v for c in registry.constraints.values() for v in c.variables}
    return sorted(v for v in graph.nodes if graph.out_degree(v) == 0 and v not in used_by_constraints)


def families(registry: Registry) -> list[str]:
    """Families of all variables, sorted."""
    return sorted({family(v) for v in registry.variables})


def loops(registry: Registry, selection: Mapping[str, str] | None = None) -> list[list[str]]:
    """Algebraic loops: strongly connected sets of variables (each sorted)."""
    graph = variable_graph(registry, selection)
    found = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    found += [[v] for v in graph.nodes if graph.has_edge(v, v)]
    return sorted(found)


def equations_reaching_headline(registry: Registry, headlines: Iterable[str] = HEADLINES) -> set[str]:
    """Equations (any alternative) whose result flows into a headline output."""
    graph = variable_graph(registry, all_alternatives=True)
    present = [h for h in headlines if h in graph]
    feeding = set(present)
    for headline in present:
        feeding |= nx.ancestors(graph, headline)
    reached = set()
    for equation in registry.equations.values():
        touched = [equation.defines] if equation.defines else list(equation.variables)
        if any(v in feeding for v in touched):
            reached.add(equation.id)
    return reached
