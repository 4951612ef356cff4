"""Registry layers, the graph (cones, roots, leaves, loops) and root debt."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_stack.audit.graph import family, loops, roots, upstream
from gpu_stack.model.registry import Registry
from gpu_stack.audit.resolver import resolve

USER_LAYER = '''
[[variable]]
id = "site.pv.power"
unit = "MW"
description = "On-site solar power: a user's own variable."
refs = ["greengrid_pue_wp49"]
min = 0

[[equation]]
id = "site.eq.pv_power"
eq = "site.pv.power = 0.25 * thermal.dc.total_power"
description = "A user's own equation, mixing MW and W: no hand-written factor."
refs = ["greengrid_pue_wp49"]

[[variable]]
id = "gpu.tdp"
unit = "kW"
description = "Board power limit, replaced by the user's layer in kW."
refs = ["nvidia_h100_whitepaper"]
min = 0
replace = true
'''


@pytest.fixture(scope="module")
def user_layer(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mine")
    (folder / "site.toml").write_text(USER_LAYER)
    return folder


def test_layered_registry_every_command(cli, user_layer):
    layers = ["--registry", "builtin", "--registry", str(user_layer)]
    result = cli("resolve", "site.pv.power", "--preset", "dense_training_cost_fixture", "--json", *layers)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["unit"] == "MW" and data["value"] == pytest.approx(5200 * 0.25 / 1e6, rel=1e-15)
    assert cli("explain", "gpu.tdp", "--json", *layers).json()["unit"] == "kW"
    assert cli("stats", "--json", *layers).json()["variables"] == cli("stats", "--json").json()["variables"] + 1
    assert cli("cone", "site.pv.power", "--json", *layers).json()["count"] > 10
    assert cli("root-debt", "--json", *layers).exit_code == 0
    assert cli("scenario-report", "dense_training_cost_fixture", "--json", *layers).json()["status"] == "ok"
    assert cli("verify", *layers).exit_code == 0


def test_replace_converts_scenario_values(cli, user_layer):
    # the fixture has no tdp; assigning 700 W to a kW variable stores 0.7 kW exactly
    layers = ["--registry", "builtin", "--registry", str(user_layer)]
    data = cli("resolve", "gpu.tdp", "--assign", "gpu.tdp=700 W", "--json", *layers).json()
    assert data["value"] == 0.7 and data["unit"] == "kW"


def test_roots_leaves_families(registry):
    assert family("physical.lithography.medium.density") == "physical.lithography.medium"
    root_ids = roots(registry)
    # training.total_tokens is derived (group default training.eq.total_tokens_given); its root is the budget
    assert "training.token_budget" in root_ids and "econ.cost.per_token" not in root_ids
    assert registry.variables["training.token_budget"].boundary == "scenario"
    cone = upstream(registry, ["econ.cost.per_token"])
    assert "gpu.power.total" in cone or any(v.startswith("gpu.power") for v in cone)
    assert "training.mfu" not in cone


LOOP_LAYER = '''
[[variable]]
id = "loop.a"
unit = "W"
description = "a"
refs = ["barroso2018"]
[[variable]]
id = "loop.b"
unit = "W"
description = "b"
refs = ["barroso2018"]
[[variable]]
id = "loop.c"
unit = "W"
description = "c"
refs = ["barroso2018"]
[[equation]]
id = "loop.eq.a"
eq = "loop.a = 0.5 * loop.b + loop.c"
refs = ["barroso2018"]
[[equation]]
id = "loop.eq.b"
eq = "loop.b = 0.5 * loop.a"
refs = ["barroso2018"]
'''


def test_audit_resolver_reports_loops(tmp_path, cli):
    (tmp_path / "loop.toml").write_text(LOOP_LAYER)
    registry = Registry.load(["builtin", tmp_path])
    assert ["loop.a", "loop.b"] in loops(registry)
    result = resolve(registry, ["loop.a"], {})
    assert result.status("loop.a") == "error" and "algebraic loop" in result.errors["loop.a"]
    data = cli("resolve", "loop.a", "--registry", "builtin", "--registry", str(tmp_path), "--json").json()
    assert data["status"] == "error" and data["value"] is None and data["loops"] == [["loop.a", "loop.b"]]
    assert cli("verify", "--registry", "builtin", "--registry", str(tmp_path)).exit_code == 0


def test_domain_errors_name_the_equation(cli):
    # availability 0 would divide by zero; the domain refuses it before any arithmetic
    result = cli("resolve", "training.wallclock", "--preset", "dense_training_cost_fixture",
                 "--assign", "training.cluster_availability=0")
    assert result.exit_code == 2 and "outside its domain" in result.stderr
    result = cli("resolve", "training.tokens_per_sec", "--preset", "dense_training_cost_fixture",
                 "--assign", "training.t_exposed_comm=-0.125 s", "--json")
    assert result.exit_code == 2  # min = 0
    result = cli("resolve", "training.tokens_per_sec", "--preset", "dense_training_cost_fixture",
                 "--assign", "arch.flops.step_dense=0 FLOP", "--assign", "training.t_exposed_comm=0 s", "--json")
    data = result.json()
    assert result.exit_code == 1 and data["status"] == "error"
    assert any("training.eq.tokens_per_sec" in e and "division by zero" in e for e in data["errors"])


def test_root_debt_weights_count_shared_descendants_once(cli, registry):
    data = cli("root-debt", "--json", "--all").json()
    assert data["total_roots"] == len(roots(registry))
    # roots of one family feed the same chain: the union never exceeds the sum, and is smaller somewhere
    full = cli("root-debt", "--json", "--all").json()["families"]
    sums = [(f["total_weight"], sum(r["weight"] for r in f["top_roots"])) for f in full if f["root_count"] <= 5]
    assert all(union <= total for union, total in sums)
    assert any(union < total for union, total in sums)
    weights = [f["total_weight"] for f in data["families"]]
    assert weights == sorted(weights, reverse=True)


def test_stats_all_checked_and_referenced(cli):
    data = cli("stats", "--json").json()
    for key in ("variables", "constants", "equations", "constraints", "roots", "leaves", "families",
                "equations_unit_checked", "equations_with_refs", "variables_with_refs",
                "equations_reaching_headline"):
        assert isinstance(data[key], int)
    assert data["equations_unit_checked"] == data["equations"]
    assert data["equations_with_refs"] == data["equations"]
    assert data["variables_with_refs"] == data["variables"]
    assert data["equations_reaching_headline"] >= 0.9 * data["equations"]


def test_verify_full_passes(cli):
    result = cli("verify", "--profile", "full")
    assert result.exit_code == 0, result.stdout


def test_cone_dot_and_explain(cli):
    dot = cli("cone", "training.t_step", "--dot").stdout
    assert dot.startswith('digraph "training.t_step"') and '"training.t_compute" -> "training.t_step"' in dot
    info = cli("explain", "econ.eq.cost_per_token", "--json").json()
    assert info["unit_check"] == "ok" and info["defines"] == "econ.cost.per_token"
    assert cli("explain", "gpu.peak_flops").exit_code == 0


def test_root_debt_with_a_preset_stops_at_assignments(cli):
    # the fixture assigns gpu.power.total: the power model's debt roots behind it are not in play
    data = cli("root-debt", "--preset", "dense_training_cost_fixture", "--all", "--json").json()
    ids = {r["id"] for r in data["roots"]}
    assert not any(i.startswith("gpu.power.") for i in ids)
    assert data["roots"] and all(r["assigned"] for r in data["roots"])
