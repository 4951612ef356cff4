"""Inverse queries on the dense fixture, against closed forms, via problem file and flags."""

from __future__ import annotations

import pytest

from conftest import REPO, relative_error

TARGET = 2.5e-6  # USD/token
TOKENS = 1e7
ENERGY_RATE = 0.36 * 5.2 / 3600  # USD/s: 0.36 USD/kWh × 5.2 kW


def test_capex_rate_for_a_cost_per_token(cli):
    # total = 25 USD = capex × 1.5 s + 0.00078 USD
    expected = (TARGET * TOKENS - ENERGY_RATE * 1.5) / 1.5
    result = cli("solve", "--preset", "dense_training_cost_fixture", "--target", f"econ.cost.per_token={TARGET} USD/token",
                 "--free", "econ.job.capex_rate", "--json")
    data = result.json()
    assert result.exit_code == 0 and data["status"] == "ok"
    assert relative_error(data["free"]["econ.job.capex_rate"]["value"], expected) < 1e-6


def test_throughput_for_a_cost_per_token_problem_file(cli):
    wallclock = TARGET * TOKENS / (20 + ENERGY_RATE)
    t_compute = wallclock / 10 - 0.025
    expected_tflops = 1e15 / (8 * t_compute) / 1e12
    for args in (["solve", str(REPO / "problems" / "required_throughput_for_cost.toml"), "--json"],
                 ["solve", "--preset", "dense_training_cost_fixture", "--target",
                  "econ.cost.per_token=2.5e-6 USD/token", "--free", "gpu.peak_flops_power_limited", "--json"]):
        data = cli(*args).json()
        assert data["status"] == "ok", data["message"]
        assert relative_error(data["free"]["gpu.peak_flops_power_limited"]["value"], expected_tflops) < 1e-6
        assert data["free"]["gpu.peak_flops_power_limited"]["unit"] == "TFLOP/s"
        assert relative_error(data["outputs"]["econ.cost.per_token"]["value"], TARGET) < 1e-9


def test_two_targets_two_free(cli):
    # hold cost per token and tokens/s: frees capex and throughput; tokens/s = 1e6 / t_step
    data = cli("solve", "--preset", "dense_training_cost_fixture",
               "--target", "econ.cost.per_token=2.5e-6 USD/token", "--target", "training.tokens_per_sec=5e6 token/s",
               "--free", "econ.job.capex_rate", "--free", "gpu.peak_flops_power_limited", "--json").json()
    assert data["status"] == "ok"
    t_step = 1e6 / 5e6
    wallclock = 10 * t_step
    assert relative_error(data["free"]["gpu.peak_flops_power_limited"]["value"], 1e15 / (8 * (t_step - 0.025)) / 1e12) < 1e-6
    assert relative_error(data["free"]["econ.job.capex_rate"]["value"], (25 - ENERGY_RATE * wallclock) / wallclock) < 1e-6


def test_solve_usage_errors(cli):
    result = cli("solve")
    assert result.exit_code == 2 and "nothing to solve" in result.stderr
    result = cli("solve", "--preset", "dense_training_cost_fixture", "--target", "econ.cost.per_token=2 kg",
                 "--free", "econ.job.capex_rate")
    assert result.exit_code == 2 and "cannot convert" in result.stderr
    result = cli("solve", "--preset", "dense_training_cost_fixture", "--target", "econ.cost.per_token=2.5e-6",
                 "--free", "econ.cost.per_token")
    assert result.exit_code == 2 and "both a target and free" in result.stderr
    result = cli("solve", str(REPO / "problems" / "nope.toml"))
    assert result.exit_code == 2 and "problem file not found" in result.stderr
    result = cli("solve", "--preset", "dense_training_cost_fixture", "--minimize", "os.system(1)",
                 "--free", "econ.job.capex_rate")
    assert result.exit_code == 2 and "not allowed" in result.stderr


def test_sensitivity_cli(cli):
    data = cli("sensitivity", "econ.cost.per_token", "--preset", "dense_training_cost_fixture", "--json").json()
    assert data["unit"] == "USD/token" and data["value"] == pytest.approx(3.000078e-06, rel=1e-12)
    by_id = {r["id"]: r for r in data["roots"]}
    # cost/token ∝ wallclock/tokens_per_step … : elasticity of availability is exactly -1
    assert by_id["training.cluster_availability"]["elasticity"] == pytest.approx(-1.0, rel=1e-12)
    # capex share of cost: 30 / 30.00078
    assert by_id["econ.job.capex_rate"]["elasticity"] == pytest.approx(30 / 30.00078, rel=1e-12)
    human = cli("sensitivity", "econ.cost.per_token", "--preset", "dense_training_cost_fixture", "--limit", "3")
    assert human.exit_code == 0 and "█" in human.stdout
