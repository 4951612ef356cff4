"""Registry → graph: variables linked through the equations that define them.

An edge u → v means "v is defined by an active equation that reads u". An
equation whose left side is not a single variable defines nothing; it ties
its variables together both ways (it can only be solved simultaneously).

Plain Python on purpose: the audit path starts fast (no graph library to
import) and every walk here is iterative and deterministic — nodes and
edges keep registry order, and where an order is a choice (several
variables ready at once) the smallest ID comes first.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Callable, Iterable, Iterator, Mapping

from gpu_stack.model.registry import Registry

__all__ = [
    "HEADLINES", "VariableGraph", "family", "variable_graph", "reachable", "strongly_connected_components",
    "ordered_components", "upstream", "downstream", "roots", "leaves", "families", "loops",
    "equations_reaching_headline", "boundary_of",
]

HEADLINES: tuple[str, ...] = (
    "econ.cost.per_token", "econ.run.total_cost", "econ.run.gpu_hour_cost", "econ.run.energy",
    "econ.run.emissions", "econ.job.dc_power", "thermal.dc.pue", "training.tokens_per_sec",
    "training.wallclock", "training.gpu_hours", "training.mfu", "training.mfu_run",
    "kernel.probe.throughput",   # measured on the probe GPUs: what `calibrate` fits the GEMM constants against
    "training.hardware_flops_per_gpu",   # achieved TFLOP/s per GPU: what Megatron-LM papers publish (`validate`)
)

Neighbours = Callable[[str], Iterable[str]]


class VariableGraph:
    """Variables and the edges between them, each edge labelled by its equation.

    Nodes and edges iterate in the order they were added. Adding an edge
    again relabels it (the last equation wins) without moving it.
    """

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self._inputs: dict[str, dict[str, str]] = {}       # v -> {u: equation} for every edge u -> v
        self._dependents: dict[str, dict[str, str]] = {}   # u -> {v: equation}
        for node in nodes:
            self.add_node(node)

    def add_node(self, node: str) -> None:
        if node not in self._inputs:
            self._inputs[node] = {}
            self._dependents[node] = {}

    def add_edge(self, source: str, target: str, equation: str) -> None:
        """Add source → target, read by `equation`."""
        self.add_node(source)
        self.add_node(target)
        self._dependents[source][target] = equation
        self._inputs[target][source] = equation

    @property
    def nodes(self) -> list[str]:
        return list(self._inputs)

    def __contains__(self, node: object) -> bool:
        return node in self._inputs

    def __len__(self) -> int:
        return len(self._inputs)

    def predecessors(self, node: str) -> list[str]:
        """The variables `node` is computed from (none for an unknown node)."""
        return list(self._inputs.get(node, ()))

    def successors(self, node: str) -> list[str]:
        """The variables computed from `node` (none for an unknown node)."""
        return list(self._dependents.get(node, ()))

    def has_edge(self, source: str, target: str) -> bool:
        return target in self._dependents.get(source, ())

    def edges(self, data: bool = False) -> Iterator[tuple]:
        """(source, target) pairs, or (source, target, {"equation": id}) with ``data=True``."""
        for source, targets in self._dependents.items():
            for target, equation in targets.items():
                yield (source, target, {"equation": equation}) if data else (source, target)


def family(ident: str) -> str:
    """An ID without its last segment: 'fab.yield.die' -> 'fab.yield'."""
    return ident.rsplit(".", 1)[0]


def _selection_key(selection: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((selection or {}).items()))


def variable_graph(registry: Registry, selection: Mapping[str, str] | None = None,
                   *, all_alternatives: bool = False) -> VariableGraph:
    """The variable graph under a selection (cached on the registry).

    With ``all_alternatives=True`` every alternative of every group is wired
    in: the graph of everything the registry *could* compute.
    """
    cache: dict = registry.__dict__.setdefault("_graph_cache", {})
    key = ("all",) if all_alternatives else _selection_key(registry.select(selection))
    graph = cache.get(key)
    if graph is not None:
        return graph
    graph = VariableGraph(registry.variables)
    equations = registry.equations.values() if all_alternatives else registry.active_equations(selection)
    for equation in equations:
        if equation.defines is not None:
            for source in equation.inputs:
                graph.add_edge(source, equation.defines, equation.id)
        else:
            for a in equation.variables:
                for b in equation.variables:
                    if a != b:
                        graph.add_edge(a, b, equation.id)
    cache[key] = graph
    return graph


def reachable(starts: Iterable[str], neighbours: Neighbours, stop: Iterable[str] = ()) -> set[str]:
    """`starts` and every node reached from them through `neighbours`; nodes in `stop` are reached, not left.

    Breadth-first and iterative: O(nodes + edges).
    """
    stop_set = set(stop)
    seen = set(starts)
    queue = deque(seen)
    while queue:
        node = queue.popleft()
        if node in stop_set:
            continue
        for other in neighbours(node):
            if other not in seen:
                seen.add(other)
                queue.append(other)
    return seen


def strongly_connected_components(nodes: Iterable[str], successors: Neighbours) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm, iterative).

    Every node reached from `nodes` through `successors` is placed in exactly
    one component. Components come out in reverse topological order (a
    component after every component it reaches); members in the order the
    walk closed them. Deterministic for ordered inputs. O(nodes + edges).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(successors(root)))]
        while work:
            node, pending = work[-1]
            for child in pending:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors(child))))
                    break
                if child in on_stack and index[child] < low[node]:
                    low[node] = index[child]
            else:  # every successor of `node` done
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(component)
    return found


def ordered_components(nodes: Iterable[str], successors: Neighbours) -> list[list[str]]:
    """Strongly connected components in a stable topological order, members sorted by ID.

    A component comes after every component it reads from; among components
    ready at the same time, the one with the smallest ID comes first (Kahn's
    algorithm with a heap), so the order depends only on the graph, never on
    hashing or insertion order.
    """
    components = [sorted(c) for c in strongly_connected_components(nodes, successors)]
    component_of = {v: i for i, members in enumerate(components) for v in members}
    after: list[set[int]] = [set() for _ in components]
    waiting = [0] * len(components)
    for i, members in enumerate(components):
        for v in members:
            for w in successors(v):
                j = component_of[w]
                if j != i and j not in after[i]:
                    after[i].add(j)
                    waiting[j] += 1
    ready = [(members[0], i) for i, members in enumerate(components) if waiting[i] == 0]
    heapq.heapify(ready)
    order: list[list[str]] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(components[i])
        for j in after[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (components[j][0], j))
    return order


def upstream(registry: Registry, targets: Iterable[str], selection: Mapping[str, str] | None = None,
             *, cut: Iterable[str] = ()) -> set[str]:
    """Targets and everything they depend on; variables in `cut` are not entered."""
    return reachable(targets, variable_graph(registry, selection).predecessors, stop=cut)


def downstream(registry: Registry, sources: Iterable[str], selection: Mapping[str, str] | None = None) -> set[str]:
    """Sources and everything that depends on them."""
    return reachable(sources, variable_graph(registry, selection).successors)


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
    return sorted(v for v in graph.nodes if not graph.successors(v) and v not in used_by_constraints)


def families(registry: Registry) -> list[str]:
    """Families of all variables, sorted."""
    return sorted({family(v) for v in registry.variables})


def loops(registry: Registry, selection: Mapping[str, str] | None = None) -> list[list[str]]:
    """Algebraic loops: strongly connected sets of variables (each sorted), and variables that read themselves."""
    graph = variable_graph(registry, selection)
    found = [sorted(c) for c in strongly_connected_components(graph.nodes, graph.successors) if len(c) > 1]
    found += [[v] for v in graph.nodes if graph.has_edge(v, v)]
    return sorted(found)


def equations_reaching_headline(registry: Registry, headlines: Iterable[str] = HEADLINES) -> set[str]:
    """Equations (any alternative) whose result flows into a headline output."""
    graph = variable_graph(registry, all_alternatives=True)
    feeding = reachable([h for h in headlines if h in graph], graph.predecessors)
    reached = set()
    for equation in registry.equations.values():
        touched = [equation.defines] if equation.defines else list(equation.variables)
        if any(v in feeding for v in touched):
            reached.add(equation.id)
    return reached
