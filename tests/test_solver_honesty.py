"""Solver honesty (issue 11): no fraction of an integer, no optimum at infinity, no free variable
the question does not reach, and no acceptable-level stop is passed off as `ok`.

Each reproducer of the issue runs through the CLI (exit 0 for ok, 1 for every other status);
a property test perturbs the targets of the shipped inverse problems and re-resolves every
`ok` answer forward with the audit resolver.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, check
from gpu_stack.audit.resolver import resolve
from gpu_stack.core import Assignment
from gpu_stack.model.problems import load_problem
from gpu_stack.solver.solve import prepare, solve_prepared

FIRST_ORDER = "runs.llama3_405b_h100_first_order"
FIXTURE = "dense_training_cost_fixture"
DAY = 86400.0


def _solve(cli, *args: str) -> tuple[int, dict]:
    result = cli("solve", *args, "--json")
    return result.exit_code, result.json()


# ------------------------------------------------------------------ integers


def test_an_inverse_never_returns_an_integer_as_a_fraction(cli, resolve_data):
    """No integer d gives exactly 80 days: the continuous answer and its two integer neighbours are named."""
    code, data = _solve(cli, "--preset", FIRST_ORDER, "--target", "training.wallclock=80 day",
                        "--free", "par.dp.degree=16:187")
    assert code == 1 and data["status"] == "infeasible", data["message"]
    assert data["values"] == {} and data["free"] == {}
    message = data["message"]
    assert "not reachable at an integer" in message
    continuous = float(re.search(r"par\.dp\.degree at ([0-9.]+)", message).group(1))
    given = {int(d): float(value) for d, value in
             re.findall(r"par\.dp\.degree = (\d+) gives training\.wallclock = ([0-9.e+]+) s", message)}
    assert sorted(given) == [math.floor(continuous), math.floor(continuous) + 1]
    for d, wallclock in given.items():  # what the message says each neighbour gives is what resolve gives
        expected = resolve_data("training.wallclock", {"par.dp.degree": d}, presets=(FIRST_ORDER,))["value"]
        assert wallclock == pytest.approx(expected, rel=1e-5)
    low, high = sorted(given)
    assert given[low] > 80 * DAY > given[high]


def test_a_problem_files_integer_free_variable_with_fractional_bounds(cli, tmp_path):
    """`integer = true` in a problem file takes the same path; fractional bounds are rounded inward, noted."""
    path = tmp_path / "integer_inverse.toml"
    path.write_text(f'scenarios = ["{REPO / "scenarios/runs/llama3_405b_h100_first_order.toml"}"]\n'
                    '[target]\n"training.wallclock" = "80 day"\n'
                    '[free]\n"par.dp.degree" = { min = 16.5, max = 187.5, integer = true }\n')
    code, data = _solve(cli, str(path))
    assert code == 1 and data["status"] == "infeasible"
    neighbours = sorted(int(d) for d in re.findall(r"par\.dp\.degree = (\d+) gives", data["message"]))
    assert len(neighbours) == 2 and neighbours[1] == neighbours[0] + 1
    assert "bounds [16.5, 187.5] were rounded inward to [17, 187]" in data["message"]


def test_fractional_integer_bounds_in_an_optimization_are_rounded_inward(cli):
    # mem.ineq.fits_in_hbm holds from d = 120 up (fewer replicas stash more micro-batches per GPU)
    code, data = _solve(cli, "--preset", FIRST_ORDER, "--minimize", "econ.run.total_cost",
                        "--free", "par.dp.degree=120.5:140.5")
    assert code == 0 and data["status"] == "ok" and data["solver"] == "bonmin", data["message"]
    assert "rounded inward to [121, 140]" in data["message"]
    assert data["free"]["par.dp.degree"]["value"] == 121.0   # cost rises with d: the smallest integer allowed


def test_integer_bounds_that_hold_no_integer_are_refused(cli):
    result = cli("solve", "--preset", FIRST_ORDER, "--minimize", "econ.run.total_cost",
                 "--free", "par.dp.degree=16.2:16.7")
    assert result.exit_code == 2
    assert "no integer lies in [16.2, 16.7]" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ unbounded


@pytest.mark.parametrize("sense, objective", [("--minimize", "econ.cost.per_token"),
                                              ("--maximize", "training.tokens_per_sec")])
def test_an_optimum_at_infinity_is_unbounded(cli, sense, objective):
    """Faster GPUs always help: the throughput runs off to infinity unless it is given a max."""
    code, data = _solve(cli, "--preset", FIXTURE, sense, objective, "--free", "gpu.peak_flops_power_limited")
    assert code == 1 and data["status"] == "unbounded", data["message"]
    assert "gpu.peak_flops_power_limited grows without limit" in data["message"]
    assert "it has no max" in data["message"] and data["values"] == {} and data["objective"] is None
    code, data = _solve(cli, "--preset", FIXTURE, sense, objective,
                        "--free", "gpu.peak_flops_power_limited=100:5000")
    assert code == 0 and data["status"] == "ok"
    assert data["free"]["gpu.peak_flops_power_limited"]["value"] == pytest.approx(5000, rel=1e-8)


def test_an_objective_growing_without_limit_is_unbounded(cli):
    """Total cost grows without limit as the GPUs slow towards zero: IPOPT hits its iteration limit."""
    code, data = _solve(cli, "--preset", FIXTURE, "--maximize", "econ.run.total_cost",
                        "--free", "gpu.peak_flops_power_limited")
    assert code == 1 and data["status"] == "unbounded", data["message"]
    assert "keeps improving without limit" in data["message"] and "gpu.peak_flops_power_limited" in data["message"]


def test_a_stop_on_the_flat_tail_of_the_objective_is_not_an_optimum(cli):
    """Maximizing the wallclock, IPOPT follows the vanishing gradient towards infinite throughput and
    says Solve_Succeeded there, where the wallclock is smallest: failed, never ok."""
    code, data = _solve(cli, "--preset", FIXTURE, "--maximize", "training.wallclock",
                        "--free", "gpu.peak_flops_power_limited")
    assert code == 1 and data["status"] == "failed", data["message"]
    assert "flat tail" in data["message"] and "not at an optimum" in data["message"]


# ------------------------------------------------------------------ unreached free variables


def test_a_free_variable_the_question_does_not_reach_is_underdetermined(cli):
    code, data = _solve(cli, "--preset", "runs.llama3_405b_h100", "--minimize", "econ.cost.per_token",
                        "--free", "econ.carbon.intensity")
    assert code == 1 and data["status"] == "underdetermined"
    assert data["solver"] == ""   # refused before any solver ran
    message = data["message"]
    assert "econ.carbon.intensity would take an arbitrary value" in message
    assert "the assignment of econ.run.opex_misc_cost cuts it off" in message


def test_a_free_variable_reached_through_the_constraints_is_kept(cli):
    """A variable only a problem constraint reads is reached: the constraint asks about it."""
    code, data = _solve(cli, "--preset", FIXTURE, "--minimize", "econ.cost.per_token",
                        "--free", "gpu.peak_flops_power_limited", "--free", "gpu.power.total",
                        "--constraint", "gpu.peak_flops_power_limited <= 2000 [TFLOP/s]",
                        "--constraint", "gpu.power.total >= 400 [W]")
    assert code == 0 and data["status"] == "ok", data["message"]
    assert data["free"]["gpu.peak_flops_power_limited"]["value"] == pytest.approx(2000, rel=1e-7)
    assert data["free"]["gpu.power.total"]["value"] == pytest.approx(400, rel=1e-7)


# ------------------------------------------------------------------ every ok inverse re-resolves forward


INVERSES = sorted(path for path in (REPO / "problems").glob("*.toml") if "[objective]" not in path.read_text())


def test_the_shipped_inverses_are_found():
    assert {path.stem for path in INVERSES} >= {"llama3_405b_mfu_for_deadline", "physics_h100_device_fit",
                                                "required_throughput_for_cost"}


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 2), factor=st.floats(0.97, 1.03))
def test_every_ok_inverse_re_resolves_forward(registry, index, factor):
    """Perturb a shipped inverse's targets; an ok answer, with its free values assigned, resolves
    forward (the independent audit path) to the targets and to every value it reports, within 1e-9."""
    path: Path = INVERSES[index % len(INVERSES)]
    problem = load_problem(registry, path)
    problem = dataclasses.replace(problem, targets={t: value * factor for t, value in problem.targets.items()})
    solution = solve_prepared(prepare(registry, problem))
    if solution.status != "ok":
        assert solution.status in ("infeasible", "failed") and solution.message, (path.name, solution.status)
        return
    assign = dict(problem.assign)
    for v in problem.free:
        assign[v] = Assignment(v, solution.value(v), registry.variables[v].unit, "solve", "test")
    asked = list(dict.fromkeys([*solution.unknowns, *solution.outputs]))
    audit = resolve(registry, asked, assign, problem.select)
    mismatches: list[str] = []
    for target, value in problem.targets.items():
        check(mismatches, f"{path.name} ×{factor} target {target}", audit.values[target], value, 1e-9)
    for v in asked:
        if v in audit.values and v not in problem.free:
            check(mismatches, f"{path.name} ×{factor} {v}", solution.value(v), audit.values[v], 1e-9)
    assert not mismatches, "\n".join(mismatches)


# ------------------------------------------------------------------ IPOPT's acceptable level


def test_an_acceptable_level_stop_says_so_and_is_re_checked(cli, resolve_data):
    """Cost per token barely moves with the PCIe line-code block (PCIe is off the critical path), so
    IPOPT stops at its acceptable tolerance: ok only because the point re-checks at the strict
    tolerances, and the message says both."""
    code, data = _solve(cli, "--preset", "runs.llama3_405b_h100", "--minimize", "econ.cost.per_token",
                        "--free", "link.pcie.encoding_block_bits")
    assert code == 0 and data["status"] == "ok"
    message = data["message"]
    assert "Solved_To_Acceptable_Level" in message and "only its acceptable tolerance" in message
    assert "re-checks at the strict tolerances" in message
    bits = data["free"]["link.pcie.encoding_block_bits"]["value"]
    forward = resolve_data("econ.cost.per_token", {"link.pcie.encoding_block_bits": bits},
                           presets=("runs.llama3_405b_h100",))["value"]
    assert data["objective"] == pytest.approx(forward, rel=1e-9)
    code, data = _solve(cli, "--preset", "runs.llama3_405b_h100", "--maximize", "econ.cost.per_token",
                        "--free", "link.pcie.encoding_block_bits")
    assert code == 1 and data["status"] == "unbounded"   # longer blocks starve PCIe: cost grows without limit
