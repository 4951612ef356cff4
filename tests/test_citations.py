"""Checked citations: a cited place counts as checked only when references.toml records it."""

from __future__ import annotations

from gpu_stack.audit.citations import citations


def test_unchecked_places_are_warned_and_counted(registry, cli):
    """Every `key:place` whose place is missing from the key's `locations` is one `unchecked-place`
    warning of `verify` and one count of `stats`; korthikanti2022:Table 2, read in the paper's text,
    is recorded and therefore never warned about."""
    cited = citations(registry)
    unchecked = {f"'{c.entry}' cites '{c.key}:{c.place}'" for c in cited if not c.checked}
    places = [c for c in cited if c.place is not None]
    stats = cli("stats", "--json").json()
    warned = [p["message"] for p in cli("verify", "--json").json()["problems"] if p["check"] == "unchecked-place"]
    assert stats["citations"] == len(cited)
    assert stats["citations_whole_source"] == len(cited) - len(places)
    assert stats["citations_unchecked_places"] == len(unchecked) == len(warned)
    assert stats["checked_place_share"] == (len(places) - len(unchecked)) / len(places)
    equation = [c for c in cited if c.kind == "equation"]
    assert stats["equation_citations"] == len(equation)
    assert stats["equation_citations_checked_places"] == sum(c.place is not None and c.checked for c in equation)
    assert all(any(u in message for message in warned) for u in unchecked)
    assert not any("korthikanti2022:Table 2" in message for message in warned)
    assert any(c.key == "korthikanti2022" and c.place == "Table 2" and c.checked for c in cited)
