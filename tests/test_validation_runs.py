"""The whole-run validation cases of the cited Meta and BigScience runs (validation/llama3_405b.toml,
bloom_176b.toml, llama2_70b.toml) resolve: each case's preset answers its quantity with nothing missing, the
published value converts to the quantity's unit, and the source names a place references.toml records as
checked. The errors are printed and recorded, never asserted against a target (`gpu-stack validate` reports
them; no pack is tuned to them)."""

from __future__ import annotations

import tomllib

import pytest

from conftest import REPO
from gpu_stack.model.entries import ref_key

FILES = ("llama3_405b", "bloom_176b", "llama2_70b")
CASES = [(name, case) for name in FILES
         for case in tomllib.loads((REPO / "validation" / f"{name}.toml").read_text(encoding="utf-8"))["case"]]


@pytest.mark.parametrize("file, case", CASES, ids=[case["name"] for _, case in CASES])
def test_case_resolves_against_a_checked_place(registry, resolve_data, record_property, file, case):
    key, _, place = case["source"].partition(":")
    assert place and place in registry.references[ref_key(key)].locations, case["source"]
    assert case["flop_convention"] and case["name"].startswith(file.split("_")[0])
    unit = registry.variables[case["quantity"]].unit
    number, given = registry.units.quantity(case["published"]) if any(c.isalpha() for c in case["published"]) \
        else (float(case["published"]), unit)
    published = registry.units.convert(number, given, unit)
    data = resolve_data(case["quantity"], presets=tuple(case["presets"]))
    error = data["value"] / published - 1
    record_property(case["name"], f"model {data['value']:.6g} {unit}, published {published:.6g}, error {error:+.1%}")
    print(f"{case['name']}: model {data['value']:.6g} vs published {published:.6g} {unit} ({error:+.1%})")
