"""A fast start: what the audit commands import, and the caches that spare them the work (no timings here).

`stats`, `resolve`, `explain` and `--help` must never import CasADi,
networkx or scipy.sparse; once the cache folder holds the registry snapshot
and the unit table, they must not import pint either. The caches must give
exactly what the work they replace gives, notice every changed input, and
only ever save time: an unwritable folder or a damaged entry is no error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpu_stack.audit.resolver import resolve
from gpu_stack.errors import UnitError
from gpu_stack.model import registry as registry_module
from gpu_stack.model.registry import Registry
from gpu_stack.model.scenarios import load_scenario
from gpu_stack.model.units import UnitSystem

from conftest import REPO

NEVER_ON_THE_AUDIT_PATH = ("casadi", "networkx", "scipy.sparse")

# Runs the commands in one process, then prints which heavy modules were imported.
PROBE = """
import json, sys
from typer.testing import CliRunner
from gpu_stack.interface.cli import app
runner = CliRunner()
codes = [runner.invoke(app, args).exit_code for args in (
    ["--help"], ["stats"], ["resolve", "econ.cost.per_token", "--preset", "dense_training_cost_fixture"],
    ["resolve", "econ.cost.per_token", "--preset", "dense_training_cost_fixture", "--trace", "--json"],
    ["explain", "training.t_step"])]
heavy = ("casadi", "networkx", "scipy.sparse", "scipy", "numpy", "pint")
print(json.dumps({"codes": codes, "imported": [m for m in heavy if m in sys.modules]}))
"""


def _probe(cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPU_STACK_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_audit_commands_import_no_solver_libraries(tmp_path):
    first = _probe(tmp_path)             # an empty cache folder: pint parses, the snapshot is written
    assert first["codes"] == [0, 0, 0, 0, 0]
    assert not set(first["imported"]) & set(NEVER_ON_THE_AUDIT_PATH), first["imported"]
    assert any(p.name.startswith("registry-") for p in tmp_path.iterdir())
    second = _probe(tmp_path)            # the cache filled: not even pint
    assert second["codes"] == [0, 0, 0, 0, 0]
    assert not set(second["imported"]) & {*NEVER_ON_THE_AUDIT_PATH, "pint"}, second["imported"]


def _layer(folder: Path, kilowidget: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "units.txt").write_text(f"widget = [widget]\n# a comment line\nkilowidget = {kilowidget}\n")
    (folder / "references.toml").write_text('[toy]\ntitle = "Test layer"\nkind = "dataset"\n')
    (folder / "w.toml").write_text('[[variable]]\nid = "w.mass"\nunit = "kilowidget"\ndescription = "d"\n'
                                   'refs = ["toy"]\n')
    return folder


def test_a_changed_units_txt_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", str(tmp_path / "cache"))
    layer = _layer(tmp_path / "layer", "1000 * widget")
    assert Registry.load([layer]).factors["w.mass"] == 1000
    assert Registry.load([layer]).factors["w.mass"] == 1000          # from the snapshot
    _layer(layer, "1024 * widget")
    assert Registry.load([layer]).factors["w.mass"] == 1024
    (layer / "units.txt").write_text("widget = [widget]\nkilowidget 1000\n")
    with pytest.raises(UnitError) as caught:                          # a bad line is still found, with its line
        Registry.load([layer])
    assert caught.value.line == 2 and str(layer / "units.txt") in str(caught.value)


def test_cached_pint_definitions_answer_like_freshly_parsed_ones(registry, tmp_path, monkeypatch):
    units_texts = registry._unit_texts
    used = sorted({v.unit for v in registry.variables.values()} | set(registry.constant_units.values())
                  | {"GiB", "Gbit/s", "USD/MWh", "delta_degC", "percent", "1/year", "kWh", "TFLOP/s"})
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", "off")
    fresh = UnitSystem(units_texts)                                   # parsed from text, nothing cached
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", str(tmp_path))
    UnitSystem(units_texts)                                           # writes definitions and unit table
    for table in tmp_path.glob("units-*.pickle"):
        table.unlink()                                                # pint is needed again …
    from_cache = UnitSystem(units_texts)                              # … and built from cached definitions
    assert any(tmp_path.glob("pint-definitions-*.pickle"))
    for unit in used:
        assert from_cache.parse(unit) == fresh.parse(unit), unit
    assert from_cache.convert(1, "GiB", "byte") == 2**30
    with pytest.raises(UnitError, match="offset unit"):
        from_cache.parse("degC")


def test_snapshot_answers_like_a_fresh_load(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", str(tmp_path))
    fresh = Registry.load(None)

    def no_reading(folder):
        raise AssertionError("the snapshot should have been used")

    monkeypatch.setattr(registry_module, "read_layer", no_reading)
    snapshot = Registry.load(None)
    assert snapshot is not fresh
    assert list(snapshot.equations) == list(fresh.equations)
    assert snapshot.factors == fresh.factors and snapshot.dims == fresh.dims
    assert {k: e.model for k, e in snapshot.equations.items()} == {k: e.model for k, e in fresh.equations.items()}
    scenario = load_scenario(snapshot, "runs.llama3_405b_h100")
    answers = [resolve(r, scenario.outputs, scenario.assign, scenario.select).values for r in (fresh, snapshot)]
    assert answers[0] == answers[1] and answers[0]


def test_an_unwritable_or_damaged_cache_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", str(blocker / "cache"))   # cannot be created, even by root
    layer = _layer(tmp_path / "layer", "1000 * widget")
    assert Registry.load([layer]).factors["w.mass"] == 1000
    cache = tmp_path / "cache"
    monkeypatch.setenv("GPU_STACK_CACHE_DIR", str(cache))
    Registry.load([layer])
    for entry in cache.glob("*.pickle"):
        entry.write_bytes(b"\x80\x05 truncated")                        # every entry damaged
    assert Registry.load([layer]).factors["w.mass"] == 1000
