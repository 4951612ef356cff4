"""Sweeps, pareto fronts and their pictures (gpu_stack/studies): numbers checked against the audit resolver
and the solve command, bad input refused with nothing written."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import REPO, relative_error
from gpu_stack import Model
from gpu_stack.errors import InputError
from gpu_stack.studies.sweep import design_points, parse_axis

FIXTURE = "dense_training_cost_fixture"
CHEAPEST = str(REPO / "problems" / "cheapest_gpus_under_power_and_deadline.toml")
MFU_DEADLINE = str(REPO / "problems" / "llama3_405b_mfu_for_deadline.toml")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ axes and designs


def test_axes_read_linspace_logspace_lists_and_quantities(registry):
    price = parse_axis(registry, "econ.capex.gpu_price=20 kUSD:40 kUSD:5")
    assert price.unit == "USD" and price.values == pytest.approx((20000, 25000, 30000, 35000, 40000))
    logged = parse_axis(registry, "training.stall_fraction=0.01:0.1:3:log")
    assert logged.values == pytest.approx((0.01, 0.1 ** 1.5, 0.1))
    listed = parse_axis(registry, "par.dp.degree=16,16.0000000001,32")   # integer: rounded, each once
    assert listed.values == (16.0, 32.0)
    assert parse_axis(registry, "training.stall_fraction=0.1:0.2").values is None   # a range, for --lhs


@pytest.mark.parametrize("text, message", [
    ("econ.capex.gpu_pric=1:2:3", "unknown variable 'econ.capex.gpu_pric'"),
    ("econ.capex.gpu_price", "no '='"),
    ("econ.capex.gpu_price=1:2:0", "N must be a whole number ≥ 1"),
    ("econ.capex.gpu_price=1:2:-3", "N must be a whole number ≥ 1"),
    ("econ.capex.gpu_price=1:2:3:4", "4 fields"),
    ("econ.capex.gpu_price=20 W:40 W:3", "W"),
    ("econ.capex.gpu_price=0:10:3:log", "a log range needs START and STOP above 0"),
    ("training.stall_fraction=0:2:3", "outside"),
])
def test_bad_axes_are_refused_with_one_message(registry, text, message):
    with pytest.raises(InputError) as caught:
        parse_axis(registry, text)
    assert message in str(caught.value)


def test_grid_order_and_latin_hypercube_strata(registry):
    a = parse_axis(registry, "econ.capex.gpu_price=1,2")
    b = parse_axis(registry, "training.stall_fraction=0.1,0.2,0.3")
    grid = design_points([a, b])
    assert grid["econ.capex.gpu_price"].tolist() == [1, 1, 1, 2, 2, 2]     # the last axis fastest
    assert grid["training.stall_fraction"].tolist() == pytest.approx([0.1, 0.2, 0.3] * 2)
    ranges = [parse_axis(registry, "econ.capex.gpu_price=1:100:log"),
              parse_axis(registry, "training.stall_fraction=0.1:0.3")]
    points = design_points(ranges, lhs=20, seed=7)
    # one point in each of 20 equal slices of every range (in log for the log range)
    slices = np.floor((np.log(points["econ.capex.gpu_price"]) / np.log(100)) * 20)
    assert sorted(slices.tolist()) == list(range(20))
    assert sorted(np.floor((points["training.stall_fraction"] - 0.1) / 0.2 * 20).tolist()) == list(range(20))
    again = design_points(ranges, lhs=20, seed=7)
    assert all(np.array_equal(points[k], again[k]) for k in points)
    with pytest.raises(InputError, match="with --lhs give a range without a count"):
        design_points([a], lhs=5)
    with pytest.raises(InputError, match="--seed applies to --lhs only"):
        design_points([a], seed=3)
    with pytest.raises(InputError, match="gives no count"):
        design_points([ranges[1]])


# ------------------------------------------------------------------ forward sweeps


def test_forward_sweep_equals_the_audit_resolver_point_by_point(cli, resolve_data):
    result = cli("sweep", "econ.cost.per_token", "training.tokens_per_sec", "--preset", FIXTURE,
                 "--vary", "gpu.power.total=400 W:600 W:3", "--vary", "training.t_exposed_comm=0.01,0.05", "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["mode"] == "forward" and report["counts"] == {"ok": 6}
    assert [c["id"] for c in report["columns"]] == ["gpu.power.total", "training.t_exposed_comm",
                                                    "econ.cost.per_token", "training.tokens_per_sec"]
    for point in report["points"][::2]:
        values = point["values"]
        assign = {"gpu.power.total": values["gpu.power.total"],
                  "training.t_exposed_comm": values["training.t_exposed_comm"]}
        expected = resolve_data("econ.cost.per_token", assign, presets=(FIXTURE,))["value"]
        assert relative_error(values["econ.cost.per_token"], expected) < 1e-12


def test_forward_sweep_marks_points_outside_the_domain_and_warns_about_unused_inputs(cli):
    # 1e7 interruptions in the 54-day window leave no productive time: availability falls below its min of 0
    result = cli("sweep", "training.cluster_availability", "--preset", "runs.llama3_405b_h100",
                 "--vary", "cluster.reliability.observed_interruptions=419,10000000",
                 "--vary", "econ.capex.gpu_price=30000", "--json")
    assert result.exit_code == 1
    report = result.json()
    assert [p["status"] for p in report["points"]] == ["ok", "failed"]
    assert report["points"][0]["values"]["training.cluster_availability"] == pytest.approx(0.9011, abs=1e-4)
    assert report["points"][1]["values"]["training.cluster_availability"] is None
    assert report["counts"] == {"ok": 1, "failed": 1}
    assert report["warnings"] == ["nothing reported depends on the varied input econ.capex.gpu_price: its column "
                                  "changes nothing"]


def test_model_sweep_returns_a_dataframe_in_one_batch(registry):
    model = Model(presets=[FIXTURE], registry=registry)
    frame = model.sweep({"gpu.power.total": "400:600:5"}, "econ.cost.per_token")
    assert list(frame.columns) == ["gpu.power.total", "econ.cost.per_token", "status"]
    assert frame.attrs["units"]["econ.cost.per_token"] == "USD/token"
    single = [model.evaluate("econ.cost.per_token", {"gpu.power.total": p}) for p in frame["gpu.power.total"]]
    assert frame["econ.cost.per_token"].tolist() == pytest.approx(single, rel=1e-12)
    assert set(frame["status"]) == {"ok"}


# ------------------------------------------------------------------ solve sweeps


def test_solve_sweep_moves_a_target_and_matches_single_solves(cli):
    result = cli("sweep", "training.mfu", "--solve", MFU_DEADLINE, "--vary", "training.wallclock=80 day:100 day:3",
                 "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["mode"] == "solve" and report["problem"] == "llama3_405b_mfu_for_deadline"
    roles = {c["id"]: c["role"] for c in report["columns"]}
    assert roles == {"training.wallclock": "input", "training.stall_fraction": "free", "training.mfu": "output"}
    for point in report["points"]:
        days = point["values"]["training.wallclock"] / 86400
        single = cli("solve", MFU_DEADLINE, "--target", f"training.wallclock={days!r} day", "--json").json()
        assert single["status"] == "ok"
        assert relative_error(point["values"]["training.stall_fraction"],
                              single["free"]["training.stall_fraction"]["value"]) < 1e-9
    # MFU × wallclock is constant (the problem's hand check)
    mfu = {round(p["values"]["training.wallclock"] / 86400): p["values"]["training.mfu"] for p in report["points"]}
    assert mfu[80] * 80 == pytest.approx(mfu[90] * 90, rel=1e-9) == mfu[100] * 100


def test_solve_sweep_reports_points_without_an_answer(cli, tmp_path):
    out = tmp_path / "points.csv"
    result = cli("sweep", "--solve", MFU_DEADLINE, "--vary", "training.wallclock=50 day,80 day", "--out", str(out))
    assert result.exit_code == 1
    assert "1 failed, 1 ok" in result.stdout and "outside its domain" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["failed", "ok"]   # 50 days needs a negative stall share
    assert rows[0]["training.stall_fraction"] == "" and float(rows[1]["training.stall_fraction"]) > 0


def test_a_free_variable_cannot_be_swept(cli, tmp_path):
    out = tmp_path / "x.csv"
    result = cli("sweep", "--solve", MFU_DEADLINE, "--vary", "training.stall_fraction=0.1,0.2", "--out", str(out))
    assert result.exit_code == 2 and "is free in llama3_405b_mfu_for_deadline" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (("--vary", "econ.capex.gpu_price=1:2:0"), "N must be a whole number"),
    (("--vary", "econ.capex.gpu_prize=1:2:3"), "did you mean"),
    (("--vary", "gpu.power.total=1 USD:2 USD:3"), "USD"),
    (("--vary", "gpu.power.total=400:500"), "gives no count"),
    (("--vary", "gpu.power.total=400:500:2", "--out", "table.xlsx"), "write a .csv or .parquet file"),
    (("--vary", "gpu.power.total=400:500:2", "--plot", "picture.gif"), "write a .png, .svg or .pdf file"),
])
def test_bad_sweep_input_is_exit_2_and_writes_nothing(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = cli("sweep", "econ.cost.per_token", "--preset", FIXTURE, *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [] and result.stdout == ""


# ------------------------------------------------------------------ pareto


@pytest.fixture(scope="module")
def front(cli, tmp_path_factory):
    picture = tmp_path_factory.mktemp("pareto") / "front.svg"
    result = cli("pareto", CHEAPEST, "--objectives", "econ.run.total_cost,training.wallclock", "--points", "3",
                 "--plot", str(picture), "--json")
    return result, picture


def test_pareto_front_runs_between_the_two_single_objective_optima(front, cli):
    result, _ = front
    assert result.exit_code == 0, result.stderr
    report = result.json()
    cheapest, fastest = report["anchors"]
    # the cheapest anchor is the problem's own answer; the fastest holds more replicas (wallclock falls with d)
    alone = cli("solve", CHEAPEST, "--json").json()
    assert cheapest["free"]["par.dp.degree"] == alone["free"]["par.dp.degree"]["value"]
    assert fastest["free"]["par.dp.degree"] > cheapest["free"]["par.dp.degree"]
    assert cheapest["first"] == pytest.approx(alone["objective"], rel=1e-9)
    points = report["points"]
    assert points[0]["second"] == pytest.approx(fastest["second"], rel=1e-9)
    assert points[-1]["first"] == pytest.approx(cheapest["first"], rel=1e-9)
    front_points = [points[i] for i in report["front"]]
    seconds = [p["second"] for p in front_points]
    firsts = [p["first"] for p in front_points]
    assert seconds == sorted(seconds) and firsts == sorted(firsts, reverse=True)   # a trade-off: cost falls as time grows
    for point in points:
        assert point["second"] <= point["epsilon"] * (1 + 1e-9)
        assert set(point["slack"]) == {"site_power_envelope", "deadline", "pareto.epsilon"}


def test_pareto_plot_is_an_svg_with_both_axis_labels(front):
    _, picture = front
    text = picture.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "training.wallclock [s]" in text and "econ.run.total_cost [USD]" in text


def test_pareto_with_an_unreachable_epsilon_range_is_reported(cli, tmp_path):
    # power envelope 1 MW: 128·d GPUs at d ≥ 16 cannot fit, so the problem itself has no answer
    picture = tmp_path / "front.png"
    result = cli("pareto", CHEAPEST, "--objectives", "econ.run.total_cost,training.wallclock",
                 "--constraint", "econ.job.dc_power <= 1 [MW]", "--plot", str(picture))
    assert result.exit_code == 2 and "there is no front" in result.stderr and "infeasible" in result.stderr
    assert not picture.exists()


@pytest.mark.parametrize("objectives, message", [
    ("econ.run.total_cost", "give two variable IDs"),
    ("econ.run.total_cost,econ.run.total_cost", "the same"),
    ("econ.run.total_cost,training.wallclok", "unknown variable"),
])
def test_bad_pareto_objectives_are_exit_2(cli, objectives, message):
    result = cli("pareto", CHEAPEST, "--objectives", objectives)
    assert result.exit_code == 2 and message in result.stderr


# ------------------------------------------------------------------ pictures


def test_sweep_and_sensitivity_pictures_are_real_files(cli, tmp_path):
    line = tmp_path / "line.png"
    result = cli("sweep", "econ.cost.per_token", "--preset", FIXTURE, "--vary", "gpu.power.total=400:600:4",
                 "--plot", str(line))
    assert result.exit_code == 0, result.stderr
    assert line.read_bytes()[:8] == PNG_SIGNATURE and line.stat().st_size > 10_000
    heat = tmp_path / "heat.svg"
    result = cli("sweep", "econ.cost.per_token", "--preset", FIXTURE, "--vary", "gpu.power.total=400:600:3",
                 "--vary", "training.t_exposed_comm=0.01:0.05:3", "--plot", str(heat))
    assert result.exit_code == 0, result.stderr
    svg = heat.read_text()
    assert "gpu.power.total [W]" in svg and "training.t_exposed_comm [s]" in svg
    assert "econ.cost.per_token [USD/token]" in svg    # the colour bar's label
    tornado = tmp_path / "tornado.png"
    result = cli("sensitivity", "econ.cost.per_token", "--preset", FIXTURE, "--plot", str(tornado))
    assert result.exit_code == 0, result.stderr
    assert tornado.read_bytes()[:8] == PNG_SIGNATURE and tornado.stat().st_size > 10_000
    svg_tornado = tmp_path / "tornado.svg"
    result = cli("sensitivity", "econ.cost.per_token", "--preset", FIXTURE, "--plot", str(svg_tornado), "--json")
    text = svg_tornado.read_text()
    assert "d ln(econ.cost.per_token) / d ln(input)" in text
    assert all(root["id"] in text for root in result.json()["roots"])   # one labelled bar per input
