"""The compiled model (`gpu_stack.Model`) against the audit resolver, the independent plain-Python path.

Every shipped scenario's outputs and every shipped problem file's answer, through compiled
CasADi functions, must agree with the audit resolver to 1e-9 relative.
"""

from __future__ import annotations

import math

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, check
from gpu_stack import Model
from gpu_stack.audit.resolver import resolve
from gpu_stack.core import Assignment
from gpu_stack.errors import ProblemError
from gpu_stack.model.problems import load_problem
from gpu_stack.model.scenarios import list_scenarios, load_scenario
from gpu_stack.solver.cache import registry_hash
from gpu_stack.solver.solve import prepare, solve_prepared

REL = 1e-9


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= REL * max(abs(expected), 1e-300)


def test_every_scenario_agrees_with_the_audit_resolver(registry):
    mismatches: list[str] = []
    compared = 0
    for name in list_scenarios(registry):
        scenario = load_scenario(registry, name)
        if not scenario.outputs:
            continue
        audit = resolve(registry, scenario.outputs, scenario.assign, scenario.select)
        answered = [o for o in scenario.outputs if o in audit.values and o not in scenario.assign]
        if not answered:
            continue
        values = Model([name], registry=registry).evaluate(answered)
        for ident in answered:
            compared += 1
            if not _close(values[ident], audit.values[ident]):
                mismatches.append(f"{name} {ident}: compiled {values[ident]!r}, audit {audit.values[ident]!r}")
    assert not mismatches, "\n".join(mismatches)
    assert compared >= 60  # every shipped pack with outputs took part


def test_every_problem_file_agrees_with_the_audit_resolver(registry):
    """Solve each problem, then resolve forward with the solved free values: every value the audit
    can reach (all but those inside algebraic loops) matches, targets included."""
    mismatches: list[str] = []
    files = sorted((REPO / "problems").glob("*.toml"))
    assert len(files) >= 4
    for path in files:
        problem = load_problem(registry, path)
        solution = solve_prepared(prepare(registry, problem))
        assert solution.status == "ok", (path.name, solution.message)
        assign = dict(problem.assign)
        for v in problem.free:
            assign[v] = Assignment(v, solution.value(v), registry.variables[v].unit, "solve", "test")
        asked = list(dict.fromkeys([*solution.unknowns, *solution.outputs]))
        audit = resolve(registry, asked, assign, problem.select)
        reached = [v for v in asked if v in audit.values and v not in problem.free]
        assert len(reached) >= 4, path.name
        for v in reached:
            if not _close(solution.value(v), audit.values[v]):
                mismatches.append(f"{path.name} {v}: compiled {solution.value(v)!r}, audit {audit.values[v]!r}")
        for target, value in problem.targets.items():
            check(mismatches, f"{path.name} target {target}", audit.values[target], value, REL)
    assert not mismatches, "\n".join(mismatches)


@pytest.fixture(scope="module")
def llama(registry) -> Model:
    return Model(["runs.llama3_405b_h100"], registry=registry)


def test_evaluate_with_values_equals_resolve_with_assignments(llama, resolve_data):
    price = 27_500.0
    compiled = llama.evaluate("econ.cost.per_token", {"econ.capex.gpu_price": price})
    audited = resolve_data("econ.cost.per_token", {"econ.capex.gpu_price": price},
                           presets=("runs.llama3_405b_h100",))["value"]
    assert compiled == pytest.approx(audited, rel=REL)
    # a quantity with a unit is converted once: the same price
    assert llama.evaluate("econ.cost.per_token", {"econ.capex.gpu_price": "27.5 kUSD"}) == pytest.approx(
        compiled, rel=1e-12)


def test_a_batch_equals_point_by_point_and_broadcasts(llama):
    prices = np.array([1.5e4, 2.5e4, 4e4])
    failure = np.array([1e-6, 2e-6, 3e-6])
    batch = llama.evaluate(["econ.cost.per_token", "training.wallclock"],
                           {"econ.capex.gpu_price": prices, "econ.power.price_kwh_peak": 0.1})
    for k, price in enumerate(prices):
        point = llama.evaluate(["econ.cost.per_token", "training.wallclock"],
                               {"econ.capex.gpu_price": price, "econ.power.price_kwh_peak": 0.1})
        assert batch["econ.cost.per_token"][k] == pytest.approx(point["econ.cost.per_token"], rel=1e-12)
        assert batch["training.wallclock"][k] == pytest.approx(point["training.wallclock"], rel=1e-12)
    assert batch["econ.cost.per_token"].shape == (3,)
    assert len(set(np.round(batch["econ.cost.per_token"], 20))) == 3
    with pytest.raises(ValueError):
        llama.evaluate("econ.cost.per_token", {"econ.capex.gpu_price": prices, "econ.power.price_kwh_peak": failure[:2]})


def test_a_point_outside_a_domain_is_nan_in_a_batch_and_an_error_alone(llama):
    # a negative GPU price drives the hardware cost below zero: min = 0 on the cost variables
    batch = llama.evaluate("econ.run.hw_cost", {"econ.capex.gpu_price": [3e4, -3e6]})
    assert np.isfinite(batch[0]) and np.isnan(batch[1])
    with pytest.raises(ProblemError, match="failed its check"):
        llama.evaluate("econ.run.hw_cost", {"econ.capex.gpu_price": -3e6})


def test_model_solve_and_optimize_match_the_problem_files(registry):
    model = Model(["runs.llama3_405b_h100_first_order"], registry=registry)
    inverse = model.solve(targets={"training.wallclock": "80 day"}, free=["training.stall_fraction"])
    assert inverse.status == "ok"
    file_answer = solve_prepared(prepare(registry, load_problem(registry, REPO / "problems" /
                                                                "llama3_405b_mfu_for_deadline.toml")))
    assert inverse.value("training.stall_fraction") == pytest.approx(file_answer.value("training.stall_fraction"),
                                                                    rel=1e-9)
    # the same shape with another number reuses the compiled function and moves the answer
    later = model.solve(targets={"training.wallclock": 90 * 86400.0}, free=["training.stall_fraction"])
    assert later.status == "ok" and later.value("training.stall_fraction") > inverse.value("training.stall_fraction")


def test_reduced_optimization_gives_the_closed_form(registry):
    """largest_model_in_30_days: the NLP moves one variable (reduced formulation), and its answer is the
    closed form sqrt(n·peak·MFU·A·W/120) checked in tests/test_inverse.py; here: against the full NLP."""
    from gpu_stack.solver.nlp import compile_nlp
    problem = load_problem(registry, REPO / "problems" / "largest_model_in_30_days.toml")
    prepared = prepare(registry, problem)
    compiled = compile_nlp(prepared.formulation)
    assert compiled.reduced and compiled.decision == list(problem.free)
    answer = solve_prepared(prepared)
    assert answer.status == "ok"
    n_params = answer.value("arch.params_total_dense")
    closed_form = math.sqrt(16_384 * 132 * 4096 * 1.83e9 * answer.value("training.mfu")
                            * answer.value("training.cluster_availability") * 30 * 86_400 / 120)
    assert n_params == pytest.approx(closed_form, rel=1e-6)


def test_freeing_a_computed_output_names_the_inputs_to_free(cli):
    result = cli("solve", "--preset", "runs.llama3_405b_h100", "--target", "training.wallclock=80 day",
                 "--free", "training.mfu")
    assert result.exit_code == 2
    message = result.stderr
    assert "'training.mfu' is an output" in message and "--target training.mfu=VALUE" in message
    assert len(message) < 700 and message.count("\n") <= 3


def test_compiled_functions_are_reused_across_processes(tmp_path):
    script = ("from gpu_stack import Model\nfrom gpu_stack.solver.cache import cache_for\n"
              "m = Model(['dense_training_cost_fixture'])\nm.evaluate('econ.cost.per_token')\n"
              "c = cache_for(m.registry)\nprint(c.disk_hits, c.disk_writes)\n")
    env = {**os.environ, "GPU_STACK_CACHE_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
    assert first.stdout.split() == ["0", "1"], first.stderr
    assert second.stdout.split() == ["1", "0"], second.stderr
    assert len(list(tmp_path.glob("casadi-*.json"))) == 1


def test_a_changed_registry_file_changes_the_cache_key(tmp_path, registry):
    import shutil
    from gpu_stack.model.registry import Registry
    copy = tmp_path / "registry"
    shutil.copytree(Path(registry.layers[0]), copy)
    before = registry_hash(Registry.load([copy]))
    path = copy / "econ" / "cost.toml"
    path.write_text(path.read_text() + "\n# a comment changes the content\n")
    assert registry_hash(Registry.load([copy])) != before


def test_an_inverse_whose_answer_breaks_an_own_constraint_is_infeasible(cli):
    args = ["solve", "--preset", "dense_training_cost_fixture", "--target", "econ.cost.per_token=2.5e-6 USD/token",
            "--free", "gpu.peak_flops_power_limited", "--json", "--constraint"]
    tight = cli(*args, "econ.job.dc_power <= 1 [kW]")
    assert tight.exit_code == 1
    data = tight.json()
    assert data["status"] == "infeasible" and data["conflicting_constraints"] == ["problem.constraint[1]"]
    assert data["values"] == {}
    loose = cli(*args, "econ.job.dc_power <= 100 [kW]")
    assert loose.exit_code == 0 and loose.json()["status"] == "ok"


def test_bonmin_infeasibility_names_the_conflicting_constraints(cli, tmp_path):
    """The cheapest-GPUs problem with a 1 MW envelope: no integer d meets the 100-day deadline on 1 MW."""
    source = (REPO / "problems" / "cheapest_gpus_under_power_and_deadline.toml").read_text()
    assert 'expr = "econ.job.dc_power <= 20 [MW]"' in source
    text = source.replace("20 [MW]", "1 [MW]").replace('"../scenarios/', f'"{REPO / "scenarios"}/')
    path = tmp_path / "one_megawatt.toml"
    path.write_text(text)
    result = cli("solve", str(path), "--json")
    data = result.json()
    assert result.exit_code == 1 and data["status"] == "infeasible" and data["solver"] == "bonmin"
    # Bonmin may name mem.ineq.fits_in_hbm too (the decision moves it); the two that cannot hold are named.
    assert {"site_power_envelope", "deadline"} <= set(data["conflicting_constraints"])
