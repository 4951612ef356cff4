"""The CasADi engine: known answers for systems, inverses, optima and derivatives."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy.optimize import fsolve

from conftest import relative_error

TOY = Path(__file__).parent / "data" / "toy"
SCENARIO = str(TOY / "scenarios" / "toy.toml")


@pytest.fixture(scope="module")
def toy(cli):
    layers = ["--registry", "builtin", "--registry", str(TOY / "registry")]

    def run(*args: str):
        return cli(*args, *layers)

    return run


def test_linear_3x3(toy):
    # x + y + z = 6, 2x - y = 0, y = z - 1 (c = 100 cm) -> x, y, z = 1, 2, 3
    result = toy("solve", "--preset", SCENARIO, "--free", "lin.x", "--target", "lin.a=6 m", "--json")
    # freeing x with a target on an assigned variable is over-determined: say so
    assert result.exit_code == 1 and result.json()["status"] == "overdetermined"
    data = toy("solve", "--preset", SCENARIO, "--json").json()
    assert data["status"] == "ok", data["message"]
    values = {k: v["value"] for k, v in data["values"].items()}
    assert [values["lin.x"], values["lin.y"], values["lin.z"]] == pytest.approx([1, 2, 3], rel=1e-9)
    assert ["lin.x", "lin.y", "lin.z"] in data["structure"]["loops"]


def test_nonlinear_loop_against_scipy(toy):
    # T = 300 + 0.1 P,  P = 300 + 30 exp((T - 300) / 50): an independent scipy solution
    def equations(v):
        temperature, power = v
        return [temperature - (300 + 0.1 * power), power - (300 + 30 * math.exp((temperature - 300) / 50))]

    expected = fsolve(equations, [330.0, 300.0], xtol=1e-14)
    audit = toy("resolve", "loop.temperature", "--preset", SCENARIO, "--json")
    assert audit.exit_code == 1
    assert audit.json()["status"] == "error" and audit.json()["value"] is None
    assert "algebraic loop" in " ".join(audit.json()["errors"])
    data = toy("solve", "--preset", SCENARIO, "--json").json()
    assert data["status"] == "ok"
    assert relative_error(data["values"]["loop.temperature"]["value"], expected[0]) < 1e-6
    assert relative_error(data["values"]["loop.power"]["value"], expected[1]) < 1e-6
    assert data["residual_max"] < 1e-8


def test_non_convergent_loop_is_failed(toy):
    # w = w^2 + 1 has no real root: Newton must not pass an answer on
    data = toy("solve", "--preset", SCENARIO, "--target", "opt.cost=5 USD", "--free", "opt.x0", "--json").json()
    assert data["status"] == "ok"  # sanity: a good one in the same layer
    result = toy("solve", "--preset", SCENARIO, "--assign", "bad.offset=1", "--constraint", "bad.w <= 10",
                 "--minimize", "bad.w", "--json")
    assert result.exit_code == 1 and result.json()["status"] in ("failed", "infeasible")
    problem = Path(SCENARIO).parent.parent / "problems" / "non_convergent.toml"
    problem.write_text('scenarios = ["../scenarios/toy.toml"]\noutputs = ["bad.w"]\n')
    try:
        result = toy("solve", str(problem), "--json")
    finally:
        problem.unlink()
    data = result.json()
    assert result.exit_code == 1 and data["status"] == "failed"
    assert "bad.eq.w" in data["message"] and "residual" in data["message"]
    assert data["values"] == {}


def test_inverse_interior_optimum_bound_constraint_and_integer(toy):
    # inverse: k (x - 3)^2 + 5 = 13 with x >= 3 start at 1 m... solve for x0 instead: (1 - x0)^2 = 4 -> x0 = 3 (from start 3)
    inverse = toy("solve", "--preset", SCENARIO, "--target", "opt.cost=13 USD", "--free", "opt.x0", "--json").json()
    assert inverse["status"] == "ok"
    assert inverse["free"]["opt.x0"]["value"] == pytest.approx(3.0, rel=1e-9)
    interior = toy("solve", "--preset", SCENARIO, "--free", "opt.x", "--minimize", "opt.cost", "--json").json()
    assert interior["status"] == "ok" and interior["active_constraints"] == []
    assert interior["free"]["opt.x"]["value"] == pytest.approx(3.0, rel=1e-7)
    assert interior["objective"] == pytest.approx(5.0, rel=1e-9)
    on_bound = toy("solve", "--preset", SCENARIO, "--free", "opt.x=4:10", "--minimize", "opt.cost", "--json").json()
    assert on_bound["free"]["opt.x"]["value"] == pytest.approx(4.0, rel=1e-7)
    assert on_bound["objective"] == pytest.approx(2 * 1 + 5, rel=1e-7)
    constrained = toy("solve", str(TOY / "problems" / "on_constraint.toml"), "--json").json()
    assert constrained["status"] == "ok"
    assert constrained["free"]["opt.x"]["value"] == pytest.approx(5.0, rel=1e-7)
    assert constrained["objective"] == pytest.approx(13.0, rel=1e-7)
    assert constrained["active_constraints"] == ["toy.x_floor"]
    # d cost / d bound = 2 k (x - x0) = 2 * 2 * 2 = 8 USD per m
    assert constrained["multipliers"]["toy.x_floor"] == pytest.approx(8.0, rel=1e-6)
    # IPOPT is a local method: start it (the freed assignment) on the side of the global maximum
    maximum = toy("solve", "--preset", SCENARIO, "--assign", "opt.x=5 m", "--free", "opt.x", "--maximize", "opt.cost",
                  "--constraint", "opt.x <= 700 [cm]", "--json").json()
    # on [0, 7 m] the parabola is largest at x = 7 m: 2 * 16 + 5 = 37; d max / d bound = 2k(7-3) = 16 USD/m = 0.16 USD/cm
    assert maximum["free"]["opt.x"]["value"] == pytest.approx(7.0, rel=1e-7)
    assert maximum["objective"] == pytest.approx(37.0, rel=1e-7)
    assert maximum["multipliers"]["problem.constraint[1]"] == pytest.approx(0.16, rel=1e-6)


def test_integer_optimum(toy, tmp_path):
    problem = tmp_path / "integer.toml"
    problem.write_text(f'scenarios = ["{SCENARIO}"]\n[assign]\n"opt.x0" = "3.4 m"\n'
                       '[free]\n"opt.x" = { min = 0, max = 10, integer = true }\n'
                       '[objective]\nminimize = "opt.cost"\n')
    data = toy("solve", str(problem), "--json").json()
    assert data["status"] == "ok" and data["solver"] == "bonmin"
    assert data["free"]["opt.x"]["value"] == 3.0
    assert data["objective"] == pytest.approx(2 * 0.4**2 + 5, rel=1e-9)


def test_infeasible_names_constraints(toy):
    result = toy("solve", "--preset", SCENARIO, "--free", "opt.x", "--minimize", "opt.cost",
                 "--constraint", "opt.x >= 5 [m]", "--constraint", "opt.x <= 4 [m]", "--json")
    data = result.json()
    assert result.exit_code == 1 and data["status"] == "infeasible"
    assert set(data["conflicting_constraints"]) >= {"problem.constraint[1]", "problem.constraint[2]"} or \
        data["conflicting_constraints"]


def test_structural_failures(toy):
    under = toy("solve", "--preset", SCENARIO, "--free", "opt.x0", "--free", "opt.k", "--target", "opt.cost=13 USD",
                "--json")
    data = under.json()
    assert under.exit_code == 1 and data["status"] == "underdetermined"
    assert data["structure"]["unpinned_free"] and "free variables no equation pins" in data["message"]
    missing = toy("solve", "--target", "opt.cost=13 USD", "--free", "opt.x0", "--json").json()
    assert missing["status"] == "underdetermined"
    assert set(missing["structure"]["missing_roots"]) == {"opt.k", "opt.c0", "opt.x"}
    over = toy("solve", "--preset", SCENARIO, "--target", "opt.cost=13 USD", "--json").json()
    assert over["status"] == "overdetermined"
    assert "target:opt.cost" in over["structure"]["over_equations"] and "opt.eq.cost" in over["message"]


def test_elasticities_of_a_power_law(toy):
    # p = k x^2.5 y^-0.5: elasticities 2.5, 1, -0.5, exactly
    data = toy("sensitivity", "law.p", "--preset", SCENARIO, "--json").json()
    assert data["value"] == pytest.approx(3 * 2**2.5 * 4**-0.5, rel=1e-12)
    elasticities = {r["id"]: r["elasticity"] for r in data["roots"]}
    assert elasticities == pytest.approx({"law.x": 2.5, "law.k": 1.0, "law.y": -0.5}, rel=1e-12)
    assert [r["id"] for r in data["roots"]] == ["law.x", "law.k", "law.y"]


def test_derivatives_match_finite_differences(registry):
    from gpu_stack.model.scenarios import compose
    from gpu_stack.solver.sensitivity import sensitivity
    from gpu_stack.audit.resolver import resolve
    question = compose(registry, ["dense_training_cost_fixture"])
    report = sensitivity(registry, "econ.cost.per_token", question)
    assert report.value == pytest.approx(3.000078e-06, rel=1e-12)
    for root in report.roots[:6]:
        bumped = dict(question.assign)
        step = root.value * 1e-6 if root.value else 1e-6
        item = bumped[root.id]
        bumped[root.id] = type(item)(item.id, item.value + step, item.unit, item.given, item.origin)
        value = resolve(registry, ["econ.cost.per_token"], bumped, question.select).values["econ.cost.per_token"]
        assert (value - report.value) / step == pytest.approx(root.derivative, rel=1e-4)
    elasticities = [abs(r.elasticity) for r in report.roots]
    assert elasticities == sorted(elasticities, reverse=True)


def test_a_computed_variables_max_binds_in_a_reduced_optimization(cli, tmp_path):
    """The reduced NLP leaves computed unknowns' min/max out at first; when the answer breaks one
    (here capped.cost <= 20 USD, while the unconstrained maximum of k (x - x0)^2 + c0 on [0, 10 m]
    is 103 USD), the NLP with every domain row answers: k (x - 3)^2 + 5 = 20 -> x = 3 + sqrt(7.5) m."""
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "capped.toml").write_text(
        '[[variable]]\nid = "capped.cost"\nunit = "USD"\ndescription = "cost, capped"\nrefs = ["toy_system"]\n'
        'max = 20\nnominal = 10\n'
        '[[equation]]\nid = "capped.eq.cost"\neq = "capped.cost = opt.cost"\nrefs = ["toy_system"]\n')
    data = cli("solve", "--registry", "builtin", "--registry", str(TOY / "registry"), "--registry", str(layer),
               "--preset", SCENARIO, "--assign", "opt.x=5 m", "--free", "opt.x", "--maximize", "capped.cost",
               "--json").json()
    assert data["status"] == "ok", data["message"]
    assert data["free"]["opt.x"]["value"] == pytest.approx(3 + 7.5 ** 0.5, rel=1e-7)
    assert data["objective"] == pytest.approx(20.0, rel=1e-7)
    assert data["active_constraints"] == ["capped.cost <= 20 USD (its domain)"]
