"""Root debt: unresolved inputs ranked by how much of the model hangs on them."""

from __future__ import annotations

from gpu_stack.audit.graph import boundary_of, family, reachable, roots, upstream, variable_graph
from gpu_stack.model.registry import Registry
from gpu_stack.reports import DebtFamily, DebtRoot, RootDebtReport
from gpu_stack.core import Question

__all__ = ["root_debt"]


def root_debt(registry: Registry, question: Question | None = None, *, include_all: bool = False,
              limit: int | None = None, top: int = 5) -> RootDebtReport:
    """Rank roots (and their families) by downstream blast radius.

    The weight of a root is the number of variables strictly downstream of
    it; a family's weight is the size of the union of its roots' downstream
    sets, roots themselves excluded (shared descendants count once). Roots
    with ``boundary = "debt"`` are listed; `include_all` adds scenario and
    primitive roots. With a question (presets), only roots in the cone of
    the scenarios' outputs are considered — the cone stops at assigned
    variables, whose own inputs are then not in play — and each root says
    whether it is assigned.
    """
    selection = question.select if question else None
    graph = variable_graph(registry, selection)
    candidates = roots(registry, selection)
    if question is not None and question.scenarios:
        outputs = [o for s in question.scenarios for o in s.outputs]
        cone = upstream(registry, outputs, selection, cut=question.assign)
        candidates = [r for r in candidates if r in cone]
    boundaries = ["debt", "scenario", "primitive"] if include_all else ["debt"]
    listed = [r for r in candidates if boundary_of(registry, r) in boundaries]
    below = {r: reachable([r], graph.successors) - {r} for r in listed}
    root_set = set(listed)
    items = {
        r: DebtRoot(id=r, weight=len(below[r] - root_set), boundary=boundary_of(registry, r),
                    unit=registry.variables[r].unit, description=registry.variables[r].description,
                    assigned=(r in question.assign) if question is not None and question.scenarios else None)
        for r in listed
    }
    groups: dict[str, list[str]] = {}
    for r in listed:
        groups.setdefault(family(r), []).append(r)
    families = []
    for name, members in groups.items():
        union: set[str] = set()
        for r in members:
            union |= below[r]
        ranked = sorted(members, key=lambda r: (-items[r].weight, r))
        families.append(DebtFamily(family=name, total_weight=len(union - root_set), root_count=len(members),
                                   top_roots=[items[r] for r in ranked[:top]]))
    families.sort(key=lambda f: (-f.total_weight, f.family))
    ranked_roots = sorted(items.values(), key=lambda i: (-i.weight, i.id))
    if limit is not None:
        families = families[:limit]
        ranked_roots = ranked_roots[:limit]
    return RootDebtReport(total_roots=len(listed), families=families, roots=ranked_roots, boundaries=boundaries,
                          presets=question.preset_names if question else [])
