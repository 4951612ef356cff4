"""`explain`: everything the registry knows about one ID."""

from __future__ import annotations

from typing import Any

from gpu_stack.errors import UnknownIdError
from gpu_stack.audit.graph import boundary_of, variable_graph
from gpu_stack.model.registry import Registry

__all__ = ["explain", "references_of"]


def references_of(registry: Registry, refs: list[str]) -> list[dict[str, str]]:
    from gpu_stack.model.entries import ref_key
    out = []
    for ref in refs:
        key = ref_key(ref)
        entry = registry.references.get(key)
        place = ref.split(":", 1)[1].strip() if ":" in ref else ""
        out.append({"ref": ref, "key": key, "title": entry.title if entry else "?",
                    "year": str(entry.year or "") if entry else "", "url": entry.url if entry else "",
                    "place": place, "at_place": (entry.locations.get(place, "") if entry and place else "")})
    return out


def explain(registry: Registry, ident: str) -> dict[str, Any]:
    """A description of a variable, constant, equation or constraint."""
    if ident in registry.variables:
        variable = registry.variables[ident]
        defining = [e for e in registry.equations.values() if e.defines == ident]
        active = registry.defining_equations().get(ident)
        used_in = sorted(e.id for e in registry.equations.values() if ident in e.variables and e.defines != ident)
        graph = variable_graph(registry)
        return {
            "kind": "variable", "id": ident, "unit": variable.unit, "description": variable.description,
            "refs": references_of(registry, variable.refs), "min": variable.min, "max": variable.max,
            "nominal": variable.nominal, "integer": variable.integer,
            "boundary": boundary_of(registry, ident) if active is None else None,
            "defined_by": [{"id": e.id, "eq": e.model.eq, "active": active is not None and e.id == active.id,
                            "group": e.model.group} for e in defining],
            "used_in": used_in,
            "constraints": sorted(c.id for c in registry.constraints.values() if ident in c.variables),
            "inputs": sorted(graph.predecessors(ident)), "dependents": sorted(graph.successors(ident)),
            "origin": str(variable.origin) if variable.origin else None,
        }
    if ident in registry.equations:
        equation = registry.equations[ident]
        return {
            "kind": "equation", "id": ident, "eq": equation.model.eq, "description": equation.model.description,
            "refs": references_of(registry, equation.model.refs), "defines": equation.defines,
            "group": equation.model.group,
            "active_by_default": equation.model.group is None or registry.select()[equation.model.group] == ident,
            "valid": equation.model.valid,
            "unit_check": "ok" if ident in registry.unit_checked else "failed",
            "variables": [{"id": v, "unit": registry.variables[v].unit} for v in equation.variables],
            "origin": str(equation.model.origin) if equation.model.origin else None,
        }
    if ident in registry.constraints:
        constraint = registry.constraints[ident]
        return {"kind": "constraint", "id": ident, "expr": constraint.model.expr,
                "description": constraint.model.description, "refs": references_of(registry, constraint.model.refs),
                "variables": list(constraint.variables),
                "origin": str(constraint.model.origin) if constraint.model.origin else None}
    if ident in registry.constants:
        constant = registry.constants[ident]
        return {"kind": "constant", "id": ident, "value": registry.constant_values[ident],
                "unit": registry.constant_units[ident], "description": constant.description,
                "refs": references_of(registry, constant.refs),
                "origin": str(constant.origin) if constant.origin else None}
    if ident in registry.references:
        reference = registry.references[ident]
        return {"kind": "reference", "id": ident, **reference.model_dump(exclude={"origin", "replace"})}
    raise UnknownIdError(f"unknown ID '{ident}'", hint=registry.suggest(ident))
