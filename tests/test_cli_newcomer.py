"""The command line a newcomer meets: listings, readable units, layout at 80 columns and in pipes,
problem files with flags, warnings about overridden inputs, quiet broken pipes, help and references."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, relative_error
from gpu_stack import __version__
from gpu_stack.interface.cli import app
from gpu_stack.interface.display import Display, UnitsMode, fmt, human_unit
from gpu_stack.model.scenarios import compose, find_scenario, list_scenarios, load_scenario

LLAMA = "runs.llama3_405b_h100"
LLAMA_FIRST_ORDER = "runs.llama3_405b_h100_first_order"
DAY = 86_400.0


def run_at(columns: int, *args: str):
    """`gpu-stack ARGS…` in-process with COLUMNS set (stdout is not a terminal, as in a pipe)."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)}, catch_exceptions=False)


# ---------------------------------------------------------------- 1. list
def test_list_scenarios_names_every_shipped_file_as_preset_accepts_it(cli, registry):
    shipped = {".".join(p.relative_to(REPO / "scenarios").with_suffix("").parts)
               for p in (REPO / "scenarios").rglob("*.toml")}
    data = cli("list", "scenarios", "--json").json()
    assert {item["id"] for item in data} == shipped
    for item in data:
        assert item["kind"] in ("synthetic", "cited", "measured", "calibrated")
        assert find_scenario(item["id"], registry).resolve() == \
            (REPO / "scenarios" / Path(*item["id"].split("."))).with_suffix(".toml").resolve()
    text = cli("list", "scenarios").stdout
    for name in shipped:
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    llama = next(line for line in text.splitlines() if line.startswith(LLAMA + " "))
    # kind and the first sentence only ("Dubey et al. 2024" does not end it)
    assert "cited" in llama and "(Dubey et al. 2024): 405B dense parameters" in llama
    assert "Every value of the cited packs" not in llama


def test_list_filters_by_substring_or_glob(cli, registry):
    by_glob = cli("list", "variables", "training.checkpoint.*", "--json").json()
    assert {v["id"] for v in by_glob} == {v for v in registry.variables if v.startswith("training.checkpoint.")}
    assert all(v["unit"] == registry.variables[v["id"]].unit for v in by_glob)
    by_text = cli("list", "equations", "mfu", "--json").json()
    assert {e["id"] for e in by_text} == {e for e in registry.equations if "mfu" in e}
    assert all(e["description"] == registry.equations[e["id"]].model.eq for e in by_text)
    lines = cli("list", "variables", "gpu.tdp").stdout.splitlines()
    assert lines[0].split()[:2] == ["gpu.tdp", "W"]
    problems = cli("list", "problems", "--json").json()
    assert {p["id"] for p in problems} == {p.stem for p in (REPO / "problems").glob("*.toml")}
    nothing = cli("list", "variables", "no.such.thing*")
    assert nothing.exit_code == 1 and "no variables match" in nothing.stderr and nothing.stdout == ""


# ---------------------------------------------------------------- 2. layout
def test_trace_at_80_columns_keeps_every_value_and_unit(cli, registry):
    args = ("resolve", "econ.cost.per_token", "--preset", LLAMA, "--trace")
    trace = cli(*args, "--json").json()["trace"]
    result = run_at(80, *args)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    display = Display(registry)
    rows = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    for step in trace:
        number, unit = display.quantity(step["id"], step["value"], step["unit"])
        row = rows[step["id"]]
        assert row.rstrip().endswith(f"{number}  {unit}".rstrip()), (step, row)


def test_piped_output_is_not_padded(cli):
    for args in (("resolve", "econ.cost.per_token", "--preset", LLAMA, "--trace"), ("scenario-report", LLAMA),
                 ("explain", "training.mfu"), ("explain", "narayanan2021"), ("stats",), ("root-debt", "--limit", "5"),
                 ("list", "variables", "arch."), ("cone", "training.mfu")):
        out = cli(*args).stdout
        assert out.strip(), args
        assert not [line for line in out.splitlines() if line.endswith(" ")], args
    wide = cli("resolve", "econ.cost.per_token", "--preset", LLAMA, "--trace").stdout
    # piped without COLUMNS: wide enough for one line per hop
    assert "arch.d_ff  " in wide and "OVERRIDE workload.llama3_405b cuts arch.eq.d_ff_ratio" in \
        next(line for line in wide.splitlines() if line.startswith("arch.d_ff "))


def test_trimmed_lines_keep_colour_codes():
    """On a terminal rich pads styled cells too: the spaces go, the colour codes stay."""
    from gpu_stack.interface.cli import _TrimmedLines
    sink = io.StringIO()
    stream = _TrimmedLines(sink)
    stream.write("ok \x1b[32mgreen   \x1b[0m  \nhalf")
    stream.write(" line  \n")
    stream.flush()
    assert sink.getvalue() == "ok \x1b[32mgreen\x1b[0m\nhalf line\n"


# ---------------------------------------------------------------- 3. display units
def test_human_units_convert_with_pint(registry):
    units = registry.units
    assert human_unit(units, 8_107_245.0, "s") == pytest.approx((8_107_245.0 / DAY, "day"))
    assert human_unit(units, 2.5e7, "W")[1] == "MW" and human_unit(units, 2.5e7, "W")[0] == pytest.approx(25)
    assert human_unit(units, 4.5e10, "USD") == pytest.approx((45.0, "BUSD"))
    assert human_unit(units, 45_000.0, "USD") == pytest.approx((45.0, "kUSD"))
    assert human_unit(units, 0.5, "USD") == (0.5, "USD")
    assert human_unit(units, 5.7e7, "kWh") == pytest.approx((57.0, "GWh"))
    assert human_unit(units, 3.4e-6, "s") == pytest.approx((3.4, "µs"))
    assert human_unit(units, 0.32, "1", fraction=True) == pytest.approx((32.0, "%"))
    assert human_unit(units, 126.0, "1") == (126.0, "")
    assert human_unit(units, 3.69e7, "hour") == (3.69e7, "hour")        # GPU-hours: an aggregate, not a duration
    assert human_unit(units, 2.9e-6, "USD/token") == (2.9e-6, "USD/token")


def test_llama_wallclock_in_days_and_declared_seconds(cli, registry):
    report = cli("scenario-report", LLAMA, "--json").json()
    seconds = next(t["value"] for t in report["targets"] if t["id"] == "training.wallclock")
    assert next(t["unit"] for t in report["targets"] if t["id"] == "training.wallclock") == "s"   # JSON: declared
    days = registry.units.convert(seconds, "s", "day")
    assert 60 < days < 90
    human = cli("scenario-report", LLAMA).stdout
    row = next(line for line in human.splitlines() if line.startswith("training.wallclock "))
    assert row.split()[1:3] == [fmt(days, 4), "day"]
    mfu = next(line for line in human.splitlines() if line.startswith("training.mfu "))
    assert mfu.split()[2] == "%"
    declared = cli("scenario-report", LLAMA, "--units", "declared").stdout
    row = next(line for line in declared.splitlines() if line.startswith("training.wallclock "))
    assert row.split()[1:3] == [fmt(seconds), "s"]
    resolved = cli("resolve", "training.wallclock", "--preset", LLAMA, "--units", "declared").stdout
    assert resolved.startswith(f"training.wallclock = {fmt(seconds)} s")
    assert Display(registry, UnitsMode.declared).quantity("training.wallclock", seconds, "s") == (fmt(seconds), "s")


# ---------------------------------------------------------------- 4. problem file + flags
def test_flags_win_over_the_problem_file_and_the_report_says_so(cli, registry):
    """A new wallclock target on the MFU problem: the stall stretches all of the step but its data-parallel
    tail D, so 1 − s = (t0 − D)/(t0·W/W0 − D) from the scenario's step t0 (stall s0 = 0)."""
    base_wallclock = cli("resolve", "training.wallclock", "--preset", LLAMA_FIRST_ORDER, "--json").json()["value"]
    base_stall = load_scenario(registry, LLAMA_FIRST_ORDER).assign["training.stall_fraction"].value
    problem = str(REPO / "problems" / "llama3_405b_mfu_for_deadline.toml")
    data = cli("solve", problem, "--target", "training.wallclock=80 day", "--json").json()
    assert data["status"] == "ok"
    assert relative_error(data["values"]["training.wallclock"]["value"], 80 * DAY) < 1e-8
    stall = data["free"]["training.stall_fraction"]["value"]
    t0, tail = (cli("resolve", ident, "--preset", LLAMA_FIRST_ORDER, "--json").json()["value"]
                for ident in ("training.t_step", "training.comm.dp_exposed"))
    assert base_stall == 0
    assert abs(stall - (1 - (t0 - tail) / (t0 * (80 * DAY) / base_wallclock - tail))) < 1e-6
    assert any("--target training.wallclock=80 day replaces the file's target training.wallclock" in note
               for note in data["notes"]), data["notes"]
    text = cli("solve", problem, "--target", "training.wallclock=80 day").stdout
    assert "note: --target training.wallclock=80 day replaces the file's target" in text
    pinned = cli("solve", problem, "--target", "training.wallclock=80 day", "--assign", "training.stall_fraction=0.05",
                 "--free", "kernel.compute_efficiency=0.1:1", "--json").json()
    assert pinned["status"] == "ok" and "training.stall_fraction" not in pinned["free"]
    assert set(pinned["free"]) == {"kernel.compute_efficiency"}
    assert any("replaces the file's freeing of training.stall_fraction" in note for note in pinned["notes"])
    assert any(f"training.stall_fraction = 0.05 (file: {base_stall:g})" in note for note in pinned["notes"])


# ---------------------------------------------------------------- 5. overridden inputs
def test_new_shape_under_an_override_warns(cli, tmp_path):
    path = tmp_path / "llama_deeper.toml"
    path.write_text(f'kind = "synthetic"\ndescription = "Llama 3.1 405B with 100 layers."\nextends = ["{LLAMA}"]\n'
                    '[assign]\n"arch.n_layers" = 100\n')
    result = cli("resolve", "arch.params_total_dense", "--preset", str(path), "--json")
    data = result.json()
    assert data["value"] == pytest.approx(4.05e11)            # the override still stands: the shape is cut off
    [warning] = [w for w in data["warnings"] if "arch.params_total_dense" in w]
    for needle in ("arch.n_layers", "workload.llama3_405b", "arch.eq.params_from_shape", "remove that assignment"):
        assert needle in warning
    assert "warning: arch.n_layers" in result.stderr
    path.write_text(path.read_text() + '"arch.params_total_dense" = 3.2e11\n')
    assert cli("resolve", "arch.params_total_dense", "--preset", str(path), "--json").json()["warnings"] == []


def test_assign_option_under_an_override_warns_and_shipped_scenarios_do_not(registry):
    question = compose(registry, [LLAMA], ["arch.d_model=8192"])
    assert any("arch.d_model (set by command line) cannot change arch.d_ff" in w for w in question.warnings)
    assert compose(registry, [LLAMA], ["arch.d_model=16384"]).warnings == []     # same value: nothing changes
    assert {name: load_scenario(registry, name).warnings for name in list_scenarios(registry)
            if load_scenario(registry, name).warnings} == {}


# ---------------------------------------------------------------- 6. broken pipes
def test_broken_pipe_exits_quietly():
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    shell = subprocess.run(["bash", "-o", "pipefail", "-c",
                            f"'{sys.executable}' -m gpu_stack.cli cone econ.run.emissions --dot | true"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert (shell.returncode, shell.stderr) == (0, "")
    for args in (["explain", "narayanan2021"], ["--version"]):
        process = subprocess.Popen([sys.executable, "-m", "gpu_stack.cli", *args], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()                                  # the reader is gone before the first write
        stderr = process.stderr.read()
        assert (process.wait(timeout=120), stderr) == (0, b""), args


# ---------------------------------------------------------------- 7. help
def test_help_shows_choices_and_metavars_and_version_works(cli):
    cone = cli("cone", "--help").stdout
    assert "up" in cone and "down" in cone and "<up|down>" in cone
    assert "<fast|full>" in cli("verify", "--help").stdout
    assert "<human|declared>" in cli("resolve", "--help").stdout
    for command in ("list", "cone", "resolve", "root-debt", "scenario-report", "solve", "sensitivity", "verify"):
        text = cli(command, "--help").stdout
        assert "list[str]" not in text and "<str>" not in text, command
    assert "--assign ID=VALUE" in cli("solve", "--help").stdout
    assert "Usage: root cone [OPTIONS] ID\n" in cone and "SCENARIO..." in cli("scenario-report", "--help").stdout
    version = cli("--version")
    assert version.exit_code == 0 and version.stdout == f"gpu-stack {__version__}\n"


# ---------------------------------------------------------------- 8. references
def test_explain_renders_references_as_citations(cli, registry):
    text = cli("explain", "training.mfu").stdout
    palm = registry.references["chowdhery2022"]
    assert f"[chowdhery2022] {palm.authors.split(',')[0].strip()} et al. ({palm.year}). {palm.title}." in text
    assert f"Training Efficiency: {palm.locations['Training Efficiency']}"[:60] in text
    assert "{'" not in text
    reference = cli("explain", "narayanan2021").stdout
    megatron = registry.references["narayanan2021"]
    assert f"Narayanan et al. ({megatron.year}). {megatron.title}." in reference
    assert "§5.1: Eq. (2)" in reference and "{'" not in reference and megatron.url in reference
