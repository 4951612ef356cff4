"""Uncertain inputs: the [uncertain] table, sampling, propagation through the compiled model, Dask, plots.

A toy layer (price × quantity) has a closed form: the product of independent
lognormals is lognormal (ln c = ln a + ln b), and its Sobol indices follow
from the lognormal moments. Everything else is checked against that or
against the distributions' own definitions.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from gpu_stack import Model
from gpu_stack.core import Uncertain
from gpu_stack.errors import InputError
from gpu_stack.model.registry import Registry
from gpu_stack.studies.batch import runner
from gpu_stack.studies.optional import require
from gpu_stack.studies.sampling import inverse_cdf, median, sample_inputs
from gpu_stack.studies.uncertainty import uncertainty

TOY_LAYER = '''
[[variable]]
id = "toy.price"
unit = "USD"
description = "Toy unit price (a test fixture)."
refs = ["cottier2024"]
min = 0
boundary = "scenario"
nominal = 2

[[variable]]
id = "toy.quantity"
unit = "1"
description = "Toy quantity (a test fixture)."
refs = ["cottier2024"]
min = 0
max = 1000
boundary = "scenario"
nominal = 5

[[variable]]
id = "toy.count"
unit = "1"
description = "Toy whole count (a test fixture)."
refs = ["cottier2024"]
min = 0
integer = true
boundary = "scenario"
nominal = 3

[[variable]]
id = "toy.cost"
unit = "USD"
description = "Toy cost = price × quantity × count (a test fixture)."
refs = ["cottier2024"]
min = 0
nominal = 30

[[equation]]
id = "toy.eq.cost"
eq = "toy.cost = toy.price * toy.quantity * toy.count"
description = "A product: lognormal inputs give a lognormal cost."
refs = ["cottier2024"]
'''

# ln(price) ~ N(ln 2, 0.3²), ln(quantity) ~ N(ln 5, 0.4²), count = 1 → ln(cost) ~ N(ln 10, 0.5²)
TOY_SCENARIO = '''kind = "synthetic"
description = "Toy uncertain product (a test fixture)."

[assign]
"toy.price" = 2
"toy.quantity" = 5
"toy.count" = 1

[uncertain]
"toy.price" = { dist = "lognormal", median = "2000 mUSD", sigma = 0.3, source = "synthetic" }
"toy.quantity" = { dist = "lognormal", median = 5, sigma = 0.4, source = "synthetic" }
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[Registry, Path, list[str]]:
    """(layered registry, toy scenario path, the --registry flags that load the same layers)."""
    root = tmp_path_factory.mktemp("toy")
    (root / "registry").mkdir()
    (root / "registry" / "toy.toml").write_text(TOY_LAYER)
    (root / "scenarios").mkdir()
    scenario = root / "scenarios" / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    layers = ["builtin", str(root / "registry")]
    return Registry.load(layers), scenario, [flag for layer in layers for flag in ("--registry", layer)]


def test_product_of_lognormals_is_the_closed_form_lognormal(toy):
    registry, scenario, _flags = toy
    n = 20_000
    result = Model([str(scenario)], registry=registry).uncertainty("toy.cost", samples=n, seed=7, method="lhs")
    report = result.report().targets[0]
    sigma = math.hypot(0.3, 0.4)
    z = stats.norm.ppf(0.95)
    # sampling error of a quantile q_p of ln(cost): sqrt(p (1-p) / n) / density; four of them
    for p, value in ((0.5, report.median), (0.05, report.p05), (0.95, report.p95)):
        exact = math.log(10.0) + sigma * stats.norm.ppf(p)
        error = math.sqrt(p * (1 - p) / n) / (stats.norm.pdf(stats.norm.ppf(p)) / sigma)
        assert abs(math.log(value) - exact) < 4 * error, (p, value, math.exp(exact))
    assert report.p05 == pytest.approx(10 * math.exp(-z * sigma), rel=0.03)
    # Sobol indices of a product of independent lognormals: S1_a = E[b]² Var(a) / Var(ab), ST_a = 1 - S1_b
    moments = {name: (m * math.exp(s * s / 2), (math.exp(s * s) - 1) * m * m * math.exp(s * s))
               for name, m, s in (("toy.price", 2.0, 0.3), ("toy.quantity", 5.0, 0.4))}
    (mean_a, var_a), (mean_b, var_b) = moments["toy.price"], moments["toy.quantity"]
    variance = (var_a + mean_a ** 2) * (var_b + mean_b ** 2) - (mean_a * mean_b) ** 2
    first = {"toy.price": mean_b ** 2 * var_a / variance, "toy.quantity": mean_a ** 2 * var_b / variance}
    for ident, index in report.sobol.items():
        other = "toy.quantity" if ident == "toy.price" else "toy.price"
        assert index.first == pytest.approx(first[ident], abs=0.05)
        assert index.total == pytest.approx(1 - first[other], abs=0.05)
    # d ln(a b) / d ln a = 1 exactly (AD, at the medians)
    assert report.elasticities == pytest.approx({"toy.price": 1.0, "toy.quantity": 1.0}, rel=1e-12)
    sizes = [size for size, _low, _high in result.targets[0].convergence]
    assert sizes == [n // 8, n // 4, n // 2, n]


def test_same_seed_gives_byte_identical_json_through_the_cli(cli, toy):
    _registry, scenario, flags = toy
    args = ["uncertainty", "toy.cost", "--preset", str(scenario), *flags, "--samples", "4096", "--json"]
    first = cli(*args, "--seed", "3")
    assert first.exit_code == 0, first.stderr
    assert cli(*args, "--seed", "3").stdout == first.stdout
    other = cli(*args, "--seed", "4")
    assert other.stdout != first.stdout
    data = first.json()
    assert list(data) == ["samples", "seed", "method", "targets"]
    assert list(data["targets"][0]) == ["id", "unit", "mean", "std", "median", "p05", "p95", "percentiles", "sobol",
                                        "elasticities"]
    assert data["targets"][0]["p05"] < data["targets"][0]["median"] < data["targets"][0]["p95"]
    sobol = cli(*args, "--seed", "3", "--method", "sobol")
    assert sobol.exit_code == 0 and sobol.json()["method"] == "sobol"


def test_assign_pins_an_uncertain_input(cli, toy):
    registry, scenario, _flags = toy
    model = Model([str(scenario)], {"toy.price": "3 USD"}, registry=registry)
    assert list(model.question.uncertain) == ["toy.quantity"]
    result = uncertainty(model, ["toy.cost"], samples=2048, seed=1)
    assert result.report().targets[0].median == pytest.approx(15.0, rel=0.03)   # 3 × lognormal median 5


@pytest.mark.parametrize("dist, params, expected_median", [
    ("normal", {"mean": 3.0, "std": 0.5}, 3.0),
    ("lognormal", {"median": 4.0, "sigma": 0.6}, 4.0),
    ("uniform", {"low": 1.0, "high": 5.0}, 3.0),
    ("loguniform", {"low": 1.0, "high": 16.0}, 4.0),
    ("triangular", {"low": 0.0, "mode": 1.0, "high": 4.0}, 4.0 - math.sqrt(4.0 * 3.0 / 2)),
    ("pert", {"low": 0.0, "mode": 1.0, "high": 4.0}, 4.0 * stats.beta.median(2.0, 4.0)),
])
def test_each_distribution_samples_its_own_median(dist, params, expected_median):
    uncertain = Uncertain("x", dist, params, "1", "test")
    assert median(uncertain) == pytest.approx(expected_median, rel=1e-9)
    drawn = sample_inputs({"x": uncertain}, [], 40_000, 5, "mc")["x"]
    assert np.median(drawn) == pytest.approx(expected_median, rel=0.02)
    if dist in ("uniform", "loguniform", "triangular", "pert"):
        assert params["low"] <= drawn.min() and drawn.max() <= params["high"]


def test_empirical_distribution_reads_a_csv_beside_the_scenario(toy, tmp_path):
    registry, _scenario, _flags = toy
    (tmp_path / "prices.csv").write_text("price_musd\n1500\n2000\n2500\n3000\n")
    path = tmp_path / "empirical.toml"
    path.write_text(TOY_SCENARIO.replace(
        '"toy.price" = { dist = "lognormal", median = "2000 mUSD", sigma = 0.3, source = "synthetic" }',
        '"toy.price" = { dist = "empirical", file = "prices.csv", unit = "mUSD", source = "synthetic" }'))
    entry = Model([str(path)], registry=registry).question.uncertain["toy.price"]
    assert entry.values == pytest.approx((1.5, 2.0, 2.5, 3.0), rel=1e-15)
    assert inverse_cdf(entry, np.array([0.0, 0.5, 1.0])) == pytest.approx([1.5, 2.25, 3.0], rel=1e-15)


def test_rank_correlation_through_the_gaussian_copula(toy, tmp_path):
    registry, _scenario, _flags = toy
    path = tmp_path / "correlated.toml"
    path.write_text(TOY_SCENARIO + '\n[uncertain.correlation]\nids = ["toy.price", "toy.quantity"]\n'
                                   'matrix = [[1, 0.7], [0.7, 1]]\n')
    model = Model([str(path)], registry=registry)
    drawn = sample_inputs(model.question.uncertain, model.question.correlations, 20_000, 2, "mc")
    assert stats.spearmanr(drawn["toy.price"], drawn["toy.quantity"]).statistic == pytest.approx(0.7, abs=0.02)
    result = uncertainty(model, ["toy.cost"], samples=2048, seed=2)
    assert result.report().targets[0].sobol == {}                  # Sobol indices assume independent inputs
    assert any("independent" in warning for warning in result.warnings)
    pinned = Model([str(path)], {"toy.price": 2}, registry=registry).question   # --assign pins one: no block left
    assert list(pinned.uncertain) == ["toy.quantity"] and pinned.correlations == []


_PRICE = '"toy.price" = { dist = "lognormal", median = "2000 mUSD", sigma = 0.3, source = "synthetic" }'


@pytest.mark.parametrize("entry, message", [
    ('"toy.price" = { dist = "gamma", shape = 2 }', "unknown distribution 'gamma'"),
    ('"toy.price" = { dist = "normal", mean = 2 }', "a normal distribution takes mean, std; missing std"),
    ('"toy.price" = { dist = "normal", mean = 2, std = 0.1, scale = 3 }', "unknown key(s) scale"),
    ('"toy.price" = { dist = "normal", mean = 2, std = 0 }', "normal std must be > 0"),
    ('"toy.price" = { dist = "normal", mean = 2, std = 1 }', "puts 0.023 of its probability below its min 0"),
    ('"toy.price" = { dist = "lognormal", median = 2, sigma = "0.3" }', "sigma is the standard deviation of ln"),
    ('"toy.price" = { dist = "lognormal", median = -2, sigma = 0.3 }', "lognormal median must be > 0"),
    ('"toy.price" = { dist = "uniform", low = 3, high = 2 }', "uniform low must be below high"),
    ('"toy.price" = { dist = "uniform", low = -1, high = 2 }', "range [-1, 2] USD leaves its domain"),
    ('"toy.price" = { dist = "loguniform", low = 0, high = 2 }', "loguniform low must be > 0"),
    ('"toy.price" = { dist = "triangular", low = 1, mode = 3, high = 2 }', "mode must lie in [low, high]"),
    ('"toy.price" = { dist = "pert", low = 1, mode = 0.5, high = 2 }', "mode must lie in [low, high]"),
    ('"toy.price" = { dist = "uniform", low = "1 W", high = "2 W" }', "declared unit of 'toy.price' is 'USD'"),
    ('"toy.price" = { dist = "empirical", file = "missing.csv" }', "empirical file 'missing.csv' not found"),
    ('"toy.price" = 3', "an uncertain input is a table"),
    ('"toy.cost" = { dist = "uniform", low = 1, high = 2 }', "'toy.cost' is uncertain but has no point value"),
    ('"toy.count" = { dist = "uniform", low = 1, high = 2 }', "'toy.count' is an integer variable"),
    ('"toy.prize" = { dist = "uniform", low = 1, high = 2 }', "unknown variable 'toy.prize'"),
])
def test_each_bad_parameter_is_refused_with_file_line_and_id(cli, toy, tmp_path, entry, message):
    _registry, _scenario, flags = toy
    path = tmp_path / "bad.toml"
    path.write_text(TOY_SCENARIO.replace(_PRICE, entry))
    line = TOY_SCENARIO.splitlines().index(_PRICE) + 1
    result = cli("uncertainty", "toy.cost", "--preset", str(path), *flags, "--samples", "100")
    assert result.exit_code == 2
    assert f"{path}:{line}:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("block, message", [
    ('ids = ["toy.price", "toy.quantity"]\nmatrix = [[1, 0.9], [0.9, 1], [0, 0]]', "matrix must be 2×2 numbers"),
    ('ids = ["toy.price", "toy.quantity"]\nmatrix = [[1, 0.5], [0.4, 1]]', "must be symmetric"),
    ('ids = ["toy.price", "toy.quantity", "toy.count"]\nmatrix = [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]',
     "not positive semi-definite"),
    ('ids = ["toy.price", "toy.count"]\nmatrix = [[1, 0.5], [0.5, 1]]', "names 'toy.count', which has no distribution"),
])
def test_bad_correlation_is_refused(cli, toy, tmp_path, block, message):
    _registry, _scenario, flags = toy
    path = tmp_path / "bad_correlation.toml"
    path.write_text(TOY_SCENARIO + "\n[uncertain.correlation]\n" + block + "\n")
    line = (TOY_SCENARIO + "\n").count("\n") + 1
    result = cli("uncertainty", "toy.cost", "--preset", str(path), *flags, "--samples", "100")
    assert result.exit_code == 2 and f"{path}:{line}:" in result.stderr and message in result.stderr, result.stderr


def test_dask_local_cluster_gives_the_in_process_numbers(toy):
    registry, scenario, _flags = toy
    model = Model([str(scenario)], registry=registry)
    here = uncertainty(model, ["toy.cost"], samples=3000, seed=11)
    with runner("local", chunk=700) as run:       # five chunks over the two workers
        there = uncertainty(model, ["toy.cost"], samples=3000, seed=11, run=run)
    assert np.array_equal(here.targets[0].values, there.targets[0].values)
    assert json.dumps(here.report().model_dump()) == json.dumps(there.report().model_dump())


@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C compiler")
def test_jit_gives_the_virtual_machines_numbers(cli, toy):
    _registry, scenario, flags = toy
    args = ["uncertainty", "toy.cost", "--preset", str(scenario), *flags, "--samples", "2048", "--seed", "5", "--json"]
    assert cli(*args, "--jit").stdout == cli(*args).stdout
    refused = cli(*args, "--jit", "--dask", "local")
    assert refused.exit_code == 2 and "--jit" in refused.stderr


def test_plot_files_are_real_pictures(cli, toy, tmp_path):
    _registry, scenario, flags = toy
    png, svg = tmp_path / "u.png", tmp_path / "u.svg"
    base = ["uncertainty", "toy.cost", "--preset", str(scenario), *flags, "--samples", "2048", "--json"]
    assert cli(*base, "--plot", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert cli(*base, "--plot", str(svg), "--out", str(tmp_path / "u.csv")).exit_code == 0
    text = svg.read_text()
    for label in ("toy.cost [USD]", "cumulative probability", "probability density", "Sobol index"):
        assert label in text, label
    rows = (tmp_path / "u.csv").read_text().splitlines()
    assert rows[0] == "toy.price,toy.quantity,toy.cost" and len(rows) == 2049
    refused = cli(*base, "--plot", str(tmp_path / "u.jpg"))
    assert refused.exit_code == 2 and "--plot" in refused.stderr and not (tmp_path / "u.jpg").exists()


def test_a_missing_optional_package_is_named_with_how_to_install_it(cli, toy, tmp_path):
    with pytest.raises(InputError, match=r"--plot needs the Python package no_such_plotting_package.*pip install"):
        require("no_such_plotting_package", "--plot")
    if importlib.util.find_spec("pyarrow") is None:   # Parquet's writer is not in the studies extra
        _registry, scenario, flags = toy
        parquet = tmp_path / "u.parquet"
        result = cli("uncertainty", "toy.cost", "--preset", str(scenario), *flags, "--out", str(parquet))
        assert result.exit_code == 2 and "pyarrow" in result.stderr and not parquet.exists()


def test_shipped_uncertain_run_ranks_the_gpu_price_first(registry):
    result = Model(["runs.llama3_405b_h100_uncertain"], registry=registry).uncertainty(
        "econ.cost.per_token", samples=4096, seed=1, method="sobol")
    report = result.report().targets[0]
    point = Model(["runs.llama3_405b_h100"], registry=registry).evaluate("econ.cost.per_token")
    assert report.p05 < point < report.p95
    ranked = sorted(report.sobol, key=lambda ident: -report.sobol[ident].total)
    assert ranked[0] == "econ.capex.gpu_price"
    assert result.warnings == []
