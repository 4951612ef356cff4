"""`gpu-stack validate`: the validation cases, their errors, the README table and bad case files."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from gpu_stack.errors import InputError
from gpu_stack.model.validation import load_validation

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report(cli):
    """`validate --json` over every shipped case (about half a second)."""
    result = cli("validate", "--json")
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_every_case_error_is_predicted_minus_published_over_published_from_resolve(report, registry, resolve_data):
    cases = [case for item in report["files"] for case in item["cases"]]
    assert len(cases) == report["case_count"] >= 12
    mismatches = []
    for case in cases:
        assert case["status"] == "ok", case
        resolved = resolve_data(case["quantity"], presets=tuple(case["presets"]))["value"]
        published = registry.units.convert(*registry.units.quantity(case["published_text"]), case["unit"])
        expected = (resolved - published) / published
        if not math.isclose(case["error"], expected, rel_tol=1e-9, abs_tol=1e-12):
            mismatches.append(f"{case['name']}: validate {case['error']!r}, resolve gives {expected!r}")
    assert not mismatches, mismatches


def test_file_summary_is_the_mean_and_max_of_its_case_errors(report):
    for item in report["files"]:
        errors = [abs(case["error"]) for case in item["cases"]]
        assert item["mean_abs_error"] == pytest.approx(sum(errors) / len(errors), rel=1e-12)
        assert item["max_abs_error"] == pytest.approx(max(errors), rel=1e-12)


def test_rule_of_thumb_step_time_is_six_n_d_over_forty_percent_of_peak(report, resolve_data):
    case = next(c for f in report["files"] for c in f["cases"] if c["quantity"] == "training.t_step")
    presets = tuple(case["presets"])
    n_params = resolve_data("arch.params_total_dense", presets=presets)["value"]
    tokens = resolve_data("arch.tokens_per_step", presets=presets)["value"]
    gpus = resolve_data("par.n_gpus", presets=presets)["value"]
    peak = resolve_data("gpu.peak_flops", presets=presets)["value"] * 1e12   # TFLOP/s -> FLOP/s
    assert case["rule_of_thumb"] == pytest.approx(6 * n_params * tokens / (0.4 * peak * gpus), rel=1e-12)


def test_readme_table_is_what_validate_gives_now(cli):
    spec = importlib.util.spec_from_file_location("generate_validation_table",
                                                  REPO / "docs" / "generate_validation_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = cli("validate", "--markdown").stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert module.readme_with_table(readme, table) == readme, \
        "README's validation table is stale: run python3 docs/generate_validation_table.py"


def test_case_option_keeps_the_named_cases(cli):
    result = cli("validate", "--json", "--case", "narayanan2021_1t", "--case", "korthikanti2022_22b_full")
    names = sorted(case["name"] for item in result.json()["files"] for case in item["cases"])
    assert names == ["korthikanti2022_22b_full", "narayanan2021_1t"]


def test_table_output_names_every_case_and_the_summary(cli):
    result = cli("validate", "--case", "korthikanti2022_1t_full")
    assert result.exit_code == 0
    assert "korthikanti2022_1t_full" in result.stdout and "mean |error|" in result.stdout


_GOOD = '''description = "a test file"
[[case]]
name = "x_case"
presets = ["runs.korthikanti2022_22b_full"]
quantity = "training.t_step"
published = "1.42 s"
source = "korthikanti2022:Table 5"
flop_convention = "model FLOPs"
'''


@pytest.mark.parametrize("change, message, line", [
    (("quantity = \"training.t_step\"", "quantity = \"training.t_stepp\""), "quantity 'training.t_stepp'", 5),
    (("published = \"1.42 s\"", "published = \"1.42 W\""), "published = '1.42 W'", 6),
    (("source = \"korthikanti2022:Table 5\"", "source = \"korthikanti2022:Table 9\""), "'Table 9' is not among", 7),
    (("source = \"korthikanti2022:Table 5\"", "source = \"nobody2020:Table 5\""), "unknown reference key", 7),
    (("presets = [\"runs.korthikanti2022_22b_full\"]", "presets = [\"runs.nope\"]"), "unknown scenario 'runs.nope'", 4),
    (("flop_convention = \"model FLOPs\"\n", ""), "missing key 'case.flop_convention'", None),
    (("name = \"x_case\"", "name = \"x_case\"\ncolour = 1"), "unknown key 'case.colour'", 4),
])
def test_bad_case_files_name_the_file_line_and_key(tmp_path, registry, change, message, line):
    path = tmp_path / "bad.toml"
    path.write_text(_GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_validation(registry, folder=tmp_path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    if line is not None:
        assert caught.value.line == line, str(caught.value)


def test_duplicate_case_names_are_refused(tmp_path, registry):
    (tmp_path / "a.toml").write_text(_GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(_GOOD, encoding="utf-8")
    with pytest.raises(InputError, match="case name 'x_case' is used twice"):
        load_validation(registry, folder=tmp_path)


def test_unknown_case_name_is_bad_input(cli):
    result = cli("validate", "--case", "no_such_case")
    assert result.exit_code == 2 and "no validation case named 'no_such_case'" in result.stderr
