"""Citations of the registry, and whether the place each one names was checked against its source.

A citation is one `refs` entry of a variable, equation, constraint or constant: `"key"` cites a
whole source, `"key:place"` a place in it. A place counts as checked when references.toml lists
it in that key's `locations` (what was read there). `verify` warns on every unchecked place and
`stats` reports the shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_stack.model.entries import ref_key
from gpu_stack.model.registry import Registry

__all__ = ["Citation", "citations", "unchecked_places"]


@dataclass(frozen=True)
class Citation:
    """One `refs` entry of one registry entry."""

    entry: str          # the citing ID
    kind: str           # variable | equation | constraint | constant
    origin: str         # "file:line" of the citing entry, or ""
    key: str            # the references.toml key
    place: str | None   # the place after the first ':', None for a whole source
    checked: bool       # a whole source, or a place listed in the key's locations


def citations(registry: Registry) -> list[Citation]:
    """Every citation of every variable, equation, constraint and constant, in registry order."""
    found = []
    for kind, entries in (("variable", registry.variables), ("equation", registry.equations),
                          ("constraint", registry.constraints), ("constant", registry.constants)):
        for ident, entry in entries.items():
            model = getattr(entry, "model", entry)
            for ref in model.refs:
                key, place = ref_key(ref), ref.partition(":")[2]
                reference = registry.references.get(key)
                checked = not place or (reference is not None and place in reference.locations)
                found.append(Citation(ident, kind, str(model.origin) if model.origin else "", key,
                                      place or None, checked))
    return found


def unchecked_places(registry: Registry) -> list[Citation]:
    """Citations naming a place their reference's `locations` does not record."""
    return [c for c in citations(registry) if not c.checked]
