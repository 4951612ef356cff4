"""The dense fixture: its hand-checked acceptance numbers, through the public CLI."""

from __future__ import annotations

from conftest import relative_error

EXPECTED = {
    # t_step = (1e15 / (8 × 1e15) + 0.025) s = 0.15 s; 1e6 token / 0.15 s
    "training.tokens_per_sec": 6_666_666.666666667,
    # 8 × 500 W + 400 W host = 4400 W IT, + 800 W facility overheads
    "econ.job.dc_power": 5200.0,
    # 0.36 USD/kWh × 5.2 kW × 1.5 s / 3600 s/h
    "econ.run.power_cost": 0.00078,
    # (20 USD/s × 1.5 s + 0.00078 USD) / 1e7 token
    "econ.cost.per_token": 3.000078e-06,
}


def test_scenario_report_json(cli):
    result = cli("scenario-report", "scenarios.dense_training_cost_fixture", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["status"] == "ok"
    assert data["assignment_count"] == 31  # the 30, plus a neutral kernel.compute_efficiency = 1
    assert (data["target_count"], data["ok_count"], data["error_count"]) == (4, 4, 0)
    values = {t["id"]: t["value"] for t in data["targets"]}
    errors = {k: relative_error(values[k], v) for k, v in EXPECTED.items() if relative_error(values[k], v) > 1e-9}
    assert not errors


def test_resolve_trace_marks_overrides(cli):
    result = cli("resolve", "econ.cost.per_token", "--preset", "scenarios.dense_training_cost_fixture",
                 "--trace", "--missing", "--json")
    assert result.exit_code == 0
    data = result.json()
    assert data["status"] == "ok" and data["missing"] == []
    assert relative_error(data["value"], EXPECTED["econ.cost.per_token"]) < 1e-9
    sources = {step["id"]: step["source"] for step in data["trace"]}
    assert sources["par.n_gpus"] == "override"
    assert sources["arch.flops.step_dense"] == "override"
    assert sources["gpu.power.total"] in ("assign", "override")
    assert sources["econ.cost.per_token"] == "equation"
    overrides = {s["id"]: s["equation"] for s in data["trace"] if s["source"] == "override"}
    assert overrides["par.n_gpus"] == "par.eq.n_gpus"
    # the trace is ordered: every equation step comes after its inputs
    position = {step["id"]: i for i, step in enumerate(data["trace"])}
    assert position["training.t_step"] > position["training.t_compute"]


def test_resolve_without_preset_names_missing_roots(cli):
    result = cli("resolve", "econ.cost.per_token", "--json", "--missing")
    assert result.exit_code == 1
    data = result.json()
    assert data["status"] == "missing" and data["value"] is None
    # training.total_tokens defaults to training.eq.total_tokens_given: its root is the token budget
    assert "training.token_budget" in data["missing"]
    assert "gpu.n_sms" in data["missing"] and "econ.cost.per_token" not in data["missing"]


def test_assign_converts_units(cli):
    # 0.5 kW is 500 W: the same answer as the fixture
    result = cli("resolve", "econ.job.dc_power", "--preset", "dense_training_cost_fixture",
                 "--assign", "gpu.power.total=0.5 kW", "--json")
    assert result.json()["value"] == 5200.0
