"""Counts that describe a registry (the `stats` command)."""

from __future__ import annotations

from collections import Counter

from gpu_stack.audit.citations import citations
from gpu_stack.audit.graph import boundary_of, equations_reaching_headline, families, leaves, loops, roots
from gpu_stack.model.registry import Registry
from gpu_stack.reports import StatsReport

__all__ = ["registry_stats"]


def registry_stats(registry: Registry) -> StatsReport:
    """Counts of variables, equations, roots … under the default selection."""
    root_ids = roots(registry)
    cited = citations(registry)
    places = [c for c in cited if c.place is not None]
    checked = sum(c.checked for c in places)
    return StatsReport(
        variables=len(registry.variables),
        constants=len(registry.constants),
        equations=len(registry.equations),
        constraints=len(registry.constraints),
        roots=len(root_ids),
        leaves=len(leaves(registry)),
        families=len(families(registry)),
        equations_unit_checked=len(registry.unit_checked & set(registry.equations)),
        equations_with_refs=sum(bool(e.model.refs) for e in registry.equations.values()),
        variables_with_refs=sum(bool(v.refs) for v in registry.variables.values()),
        equations_reaching_headline=len(equations_reaching_headline(registry)),
        groups=len(registry.groups),
        loops=len(loops(registry)),
        references=len(registry.references),
        citations=len(cited),
        citations_whole_source=len(cited) - len(places),
        citations_checked_places=checked,
        citations_unchecked_places=len(places) - checked,
        checked_place_share=checked / len(places) if places else 1.0,
        equation_citations=sum(c.kind == "equation" for c in cited),
        equation_citations_checked_places=sum(c.kind == "equation" and c.place is not None and c.checked for c in cited),
        roots_by_boundary=dict(sorted(Counter(boundary_of(registry, r) for r in root_ids).items())),
    )
