"""Fuzzing as tests (issue 11, item 6): bad input of any shape ends in an answer or one message, never a crash.

Properties, each drawn by hypothesis from the generators of tests/fuzzing.py
(few examples, derandomized: the same inputs on every run; the long run is
benchmarks/fuzz.py):
- any text parses or raises ExpressionError;
- a registry folder, scenario file or problem file with one thing changed
  makes the CLI exit 0, 1 or 2 with a message, never 3 and no traceback;
- inputs that once hung (pint evaluating a power tower, a 10 MB equation) finish within 8 s
  (subprocesses with a timeout);
- every `ok` inverse re-resolves forward to its targets within 1e-9;
- the same command twice in one process prints the same bytes.

Each reproducer that issue 11 listed is a case here, and passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis import strategies as st

from fuzzing import (DEADLINE_PROBLEM, FIXTURE_SCENARIO, NESTINGS, NON_FINITE_VALUES, ODD_QUANTITIES, PROBLEM_KEYS,
                     REDEFINITIONS, REGISTRY_MUTATIONS, SCENARIO_KEYS, THROUGHPUT_PROBLEM, WRONG_VALUES, long_sum,
                     malformed_call, mutate_document, mutate_registry, nested_text, parser_text, perturbed_inverse,
                     scenario_or_problem_base, silent_wrong_answer, small_registry, toml_dumps, verdict)
from gpu_stack.errors import ExpressionError
from gpu_stack.model.expressions import parse_equation, parse_expression

# Derandomized: CI draws the same examples every run; no example database is written. No shrinking and quiet:
# each assertion names its input already, and shrinking an xfail case, or hypothesis's pytest plugin writing an
# @example patch for it (it parses this file with libcst per failing test), costs seconds per run.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=8,
                phases=(Phase.explicit, Phase.generate), verbosity=Verbosity.quiet,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RANDOMS = st.randoms(use_true_random=False)


def assert_answered(result, what: str) -> None:
    """Exit 0/1/2, no exit 3, no traceback; exit 2 with one `error:` message (or click's usage error)."""
    problem = verdict(result.exit_code, result.stdout, result.stderr)
    assert problem is None, f"{what}: {problem}\n{result.stderr[-800:]}"
    if result.exit_code == 2:
        usage = result.stderr.startswith("Usage: ") and "\nError: " in result.stderr
        assert usage or result.stderr.startswith("error: ") and result.stderr.count("error: ") == 1, \
            (what, result.stderr)


# --- the expression parser ---------------------------------------------------------------------------------

def parses_or_refuses(text: str) -> None:
    for parse in (parse_expression, parse_equation):
        try:
            parse(text)
        except ExpressionError:
            pass
        except Exception as exc:  # noqa: BLE001 -- the finding, with its input
            shown = repr(text) if len(text) <= 200 else f"{text[:200]!r}… ({len(text):,} characters)"
            pytest.fail(f"{parse.__name__}({shown}) raised {type(exc).__name__}: {str(exc)[:200]}")


@settings(FUZZ, max_examples=100)
@given(RANDOMS)
def test_any_generated_text_parses_or_raises_expression_error(rng):
    text, _kind = parser_text(rng)
    parses_or_refuses(text)


@settings(FUZZ, max_examples=100)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_any_unicode_text_parses_or_raises_expression_error(text):
    parses_or_refuses(text)


@settings(FUZZ, max_examples=8)
@given(st.sampled_from(NESTINGS), st.integers(200, 3000))
@example(NESTINGS[0], 300)
def test_deep_nesting_and_long_sums_parse_or_raise_expression_error(shape, depth):
    parses_or_refuses(nested_text(shape, depth))
    parses_or_refuses(long_sum(depth * 10))


@settings(FUZZ, max_examples=20)
@given(st.one_of(st.characters(categories=("Nd",)).filter(lambda c: not c.isascii()).map(lambda c: c * 3),
                 st.sampled_from(("1e999", "9" * 400, "-1e999 * a.b"))))
def test_number_literals_are_ascii_and_finite(text):
    try:
        node = parse_expression(text)
    except ExpressionError:
        return
    pytest.fail(f"{text!r} parsed as {node!r}")


# --- mutated registry folders ------------------------------------------------------------------------------

def verify_mutated_registry(cli, rng, kind: str):
    """Copy the small registry, change one thing, run verify; returns the mutation and the result."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = small_registry(Path(tmp) / "registry")
        mutation = mutate_registry(rng, folder, kind)
        return mutation, cli("verify", "--registry", str(folder))


@pytest.mark.parametrize("kind", REGISTRY_MUTATIONS)
@settings(FUZZ, max_examples=3)
@given(rng=RANDOMS)
def test_mutated_registry_verifies_or_says_why(cli, kind, rng):
    mutation, result = verify_mutated_registry(cli, rng, kind)
    assert_answered(result, mutation.describe())


def test_small_registry_is_clean(cli, tmp_path):
    # the mutations start from a registry verify passes: every finding comes from the change
    result = cli("verify", "--registry", str(small_registry(tmp_path / "registry")))
    assert result.exit_code == 0, result.stdout[-1500:]


@settings(FUZZ, max_examples=6)
@given(rng=RANDOMS)
def test_non_finite_registry_numbers_are_refused(cli, rng):
    mutation, result = verify_mutated_registry(cli, rng, "non_finite")
    assert_answered(result, mutation.describe())
    assert result.exit_code in (1, 2), f"{mutation.describe()}: verify says ok"


@pytest.mark.parametrize("line", REDEFINITIONS)
def test_units_file_cannot_redefine_a_unit(cli, tmp_path, line):
    folder = small_registry(tmp_path / "registry")
    with (folder / "units.txt").open("a") as units:
        units.write("\n" + line + "\n")
    result = cli("verify", "--registry", str(folder))
    assert_answered(result, line)
    assert result.exit_code in (1, 2) and "units.txt" in result.stdout + result.stderr


def test_units_file_that_is_not_utf8_is_bad_input(cli, tmp_path):
    folder = small_registry(tmp_path / "registry")
    (folder / "units.txt").write_bytes((folder / "units.txt").read_bytes() + b"\nfoo = [foo] # \xff\n")
    assert_answered(cli("verify", "--registry", str(folder)), "units.txt with byte 0xff")


def test_unreadable_registry_file_is_bad_input(cli, tmp_path):
    folder = small_registry(tmp_path / "registry")
    (folder / "x.toml").symlink_to(tmp_path / "nonexistent")
    assert_answered(cli("stats", "--registry", str(folder)), "dangling symlink")


# --- mutated scenario and problem files --------------------------------------------------------------------

def run_scenario(cli, path: Path):
    return cli("resolve", "econ.cost.per_token", "--preset", str(path), "--json")


def run_problem(cli, path: Path):
    return cli("solve", str(path), "--json")


def with_value(base: dict, key_path: tuple[str, ...], value) -> dict:
    data = json.loads(json.dumps(base))
    target = data
    for key in key_path[:-1]:
        target = target.setdefault(key, {})
    target[key_path[-1]] = value
    return data


SCENARIO_PATHS = [
    *[(key,) for key in SCENARIO_KEYS],
    ("assign", "gpu.power.total"),
]
PROBLEM_PATHS = [
    *[(key,) for key in PROBLEM_KEYS],
    ("target", "econ.cost.per_token"), ("free", "gpu.peak_flops_power_limited"),
    ("free", "gpu.peak_flops_power_limited", "min"),
]


@pytest.mark.parametrize("key_path", SCENARIO_PATHS, ids=".".join)
@settings(FUZZ, max_examples=4)
@given(value=st.sampled_from(WRONG_VALUES + ODD_QUANTITIES[:-4]))
def test_scenario_key_of_a_wrong_type(cli, key_path, value):
    data = with_value(scenario_or_problem_base(FIXTURE_SCENARIO), key_path, value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(toml_dumps(data))
        assert_answered(run_scenario(cli, path), f"{'.'.join(key_path)} = {value!r}")


@pytest.mark.parametrize("key_path", PROBLEM_PATHS, ids=".".join)
@settings(FUZZ, max_examples=4)
@given(value=st.sampled_from(WRONG_VALUES + ODD_QUANTITIES[:-4]))
def test_problem_key_of_a_wrong_type(cli, key_path, value):
    data = with_value(scenario_or_problem_base(THROUGHPUT_PROBLEM), key_path, value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.toml"
        path.write_text(toml_dumps(data))
        assert_answered(run_problem(cli, path), f"{'.'.join(key_path)} = {value!r}")


@pytest.mark.parametrize("kind", ["delete_line", "duplicate_line", "non_utf8", "delete_key", "unknown_key",
                                  "odd_quantity"])
@settings(FUZZ, max_examples=4)
@given(rng=RANDOMS, problem=st.booleans())
def test_mutated_scenario_or_problem_file(cli, kind, rng, problem):
    base = scenario_or_problem_base(THROUGHPUT_PROBLEM if problem else FIXTURE_SCENARIO)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.toml"
        # top-level keys of a wrong type are the tests above; here entries and lines change
        mutation = mutate_document(rng, base, (), path, kind)
        result = (run_problem if problem else run_scenario)(cli, path)
        assert_answered(result, mutation.describe())


@settings(FUZZ, max_examples=10)
@given(value=st.sampled_from(NON_FINITE_VALUES),
       where=st.sampled_from([("scenario", ("assign", "gpu.power.total")),
                              ("problem", ("target", "econ.cost.per_token")),
                              ("problem", ("free", "gpu.peak_flops_power_limited", "min")),
                              ("problem", ("free", "gpu.peak_flops_power_limited", "max"))]))
def test_non_finite_values_in_files_are_refused(cli, value, where):
    kind, key_path = where
    base = scenario_or_problem_base(THROUGHPUT_PROBLEM if kind == "problem" else FIXTURE_SCENARIO)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.toml"
        path.write_text(toml_dumps(with_value(base, key_path, value)))
        result = (run_problem if kind == "problem" else run_scenario)(cli, path)
    assert_answered(result, f"{kind} {'.'.join(key_path)} = {value!r}")
    assert result.exit_code == 2, f"{kind} {'.'.join(key_path)} = {value!r}: exit {result.exit_code}"


# --- command lines -----------------------------------------------------------------------------------------

def integer_variable(registry):
    return lambda ident: ident in registry.variables and registry.variables[ident].integer


@settings(FUZZ, max_examples=20)
@given(rng=RANDOMS)
def test_malformed_command_lines(cli, registry, rng):
    args = malformed_call(rng)
    if "/" in args and "--registry" in args:
        args[args.index("/")] = "/nonexistent"  # walking / takes long; the dangling-symlink test covers it
    result = cli(*args)
    assert_answered(result, " ".join(args))
    wrong = silent_wrong_answer(args, result.exit_code, result.stdout, integer_variable(registry))
    assert wrong is None, f"{args}: {wrong}"


FLAG_REPRODUCERS = {
    "integer assigned a fraction": (["resolve", "par.n_gpus", "--preset", "runs.llama3_405b_h100_first_order",
                                     "--assign", "par.dp.degree=2.5"], 2),
    "the same target twice": (["solve", "--preset", "dense_training_cost_fixture",
                               "--target", "econ.cost.per_token=2.5e-6", "--target", "econ.cost.per_token=3e-6",
                               "--free", "econ.job.capex_rate"], 2),
    "inf assigned": (["resolve", "gpu.power.total", "--assign", "gpu.power.total=inf"], 2),
    "nan assigned": (["resolve", "gpu.power.total", "--assign", "gpu.power.total=nan"], 2),
    "nan assigned, JSON": (["resolve", "gpu.power.total", "--assign", "gpu.power.total=nan", "--json"], 2),
    "overflowing quantity": (["resolve", "gpu.power.total", "--assign", "gpu.power.total=1e999 W"], 2),
    "300-character preset": (["resolve", "gpu.tdp", "--preset", "x" * 300], 2),
    "optimum at infinity (minimize)": (["solve", "--preset", "dense_training_cost_fixture", "--minimize",
                                        "econ.cost.per_token", "--free", "gpu.peak_flops_power_limited"], 1),
    "optimum at infinity (maximize)": (["solve", "--preset", "dense_training_cost_fixture", "--maximize",
                                        "training.tokens_per_sec", "--free", "gpu.peak_flops_power_limited"], 1),
    "free variable outside the objective's cone": (["solve", "--preset", "dense_training_cost_fixture",
                                                    "--minimize", "econ.cost.per_token", "--free",
                                                    "econ.job.capex_rate", "--free", "arch.n_layers"], 1),
}


@pytest.mark.parametrize("name", [name
    for name, (args, expected) in FLAG_REPRODUCERS.items()])
def test_issue_11_command_line_reproducers(cli, name):
    args, expected = FLAG_REPRODUCERS[name]
    result = cli(*args)
    assert_answered(result, name)
    assert result.exit_code == expected, f"{name}: exit {result.exit_code}: {result.stdout[:300]}"


# --- inputs that once hung: subprocesses with a timeout --------------------------------------------------

# seconds, for five processes started together at the lowest priority on a shared 2-core machine; one
# alone answers in under 2 s (tests/test_input_limits.py), and these inputs once ran for minutes
HANG_LIMIT = 8.0


def _hang_cases(folder: Path) -> dict[str, list[str]]:
    """name -> gpu-stack arguments; files they need are written under `folder`."""
    scenario = folder / "tower.toml"
    scenario.write_text('kind = "synthetic"\n[assign]\n"gpu.tdp" = "5 10**10**10 W"\n')
    units = small_registry(folder / "units_registry")
    with (units / "units.txt").open("a") as handle:
        handle.write("\nfoo = 10**10**10 * watt\n")
    long_equation = small_registry(folder / "long_registry")
    # about 10 MB of equation: a flat sum of 1.3 million terms
    (long_equation / "long.toml").write_text(
        '[[variable]]\nid = "big.x"\nunit = "m"\ndescription = "x"\nrefs = ["toy_system"]\n'
        f'[[equation]]\nid = "big.eq.x"\neq = "big.x = {" + ".join(["lin.a"] * 1_300_000)}"\nrefs = ["toy_system"]\n')
    fixture_inverse = ["solve", "--preset", "dense_training_cost_fixture", "--target", "econ.cost.per_token=2.5e-6",
                       "--free", "econ.job.capex_rate"]
    return {
        "power tower in --assign": ["resolve", "gpu.tdp", "--assign", "gpu.tdp=5 10**10**10 W"],
        "power tower in --constraint": [*fixture_inverse, "--constraint", "gpu.power.total <= 5 [10**10**10 W]"],
        "power tower in a scenario value": ["resolve", "gpu.tdp", "--preset", str(scenario)],
        "power tower in units.txt": ["verify", "--registry", str(units)],
        "10 MB equation": ["verify", "--registry", str(long_equation)],
    }


@pytest.fixture(scope="module", autouse=True)
def hang_runs(registry, tmp_path_factory):
    """Every hang case started as the module begins, each in its own process at the lowest priority.

    They run on the core the in-process tests leave idle, so the old hangs
    cost the module little wall time; the tests at the end wait for each
    until it has used HANG_LIMIT seconds of CPU (not wall time: under load a
    healthy run at the lowest priority waits, a hang burns CPU), and what is
    still running then is killed. Requesting `registry` first warms the compiled-registry cache
    the subprocesses share (GPU_STACK_CACHE_DIR), so a fixed engine answers
    in about a second. Output goes to files: a long message cannot fill a
    pipe and stall the process.
    """
    folder = tmp_path_factory.mktemp("hang")
    # the gpu_stack this test process imported (an installed wheel in CI): run from `folder`, not the
    # repository, so `python -m` does not pick the source tree instead, and the registry snapshot the
    # `registry` fixture cached (keyed by the registry's path) is the one the subprocesses read
    env = dict(os.environ)
    runs = {}
    for index, (name, args) in enumerate(_hang_cases(folder).items()):
        stdout, stderr = folder / f"{index}.out", folder / f"{index}.err"
        with stdout.open("w") as out, stderr.open("w") as err:
            process = subprocess.Popen([sys.executable, "-m", "gpu_stack.cli", *args], cwd=folder, env=env,
                                       stdout=out, stderr=err, preexec_fn=lambda: os.nice(19))
        runs[name] = (process, stdout, stderr)
    started = time.monotonic()
    yield runs, started
    for process, _, _ in runs.values():
        if process.poll() is None:
            process.kill()
        process.wait()


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a running process has used, from /proc; None where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_cpu_bounded(process: subprocess.Popen, started: float) -> int | None:
    """The exit code, or None once the process has used HANG_LIMIT seconds of CPU.

    A hang is a busy loop: its CPU time grows whatever else the machine runs, while
    the wall time of a healthy run at the lowest priority stretches with the load.
    Without /proc (or after 20× the limit of wall time) it falls back to wall time.
    """
    while True:
        code = process.poll()
        if code is not None:
            return code
        used = _cpu_seconds(process.pid)
        elapsed = time.monotonic() - started
        if (used if used is not None else elapsed) > HANG_LIMIT or elapsed > 20 * HANG_LIMIT:
            return None
        time.sleep(0.05)


@pytest.mark.parametrize("name", [name for name in ("power tower in --assign", "power tower in --constraint",
                                                       "power tower in a scenario value", "power tower in units.txt",
                                                       "10 MB equation")])
def test_input_that_once_hung_ends_quickly(hang_runs, name):
    runs, started = hang_runs
    process, stdout, stderr = runs[name]
    code = _wait_cpu_bounded(process, started)
    if code is None:
        pytest.fail(f"{name}: still running after {HANG_LIMIT:g} s of its own CPU time")
    out, err = stdout.read_text(errors="replace"), stderr.read_text(errors="replace")
    assert verdict(code, out, err) is None and code in (1, 2), (code, err[-500:])


# --- inverses ----------------------------------------------------------------------------------------------

@settings(FUZZ, max_examples=4)
@given(factor=st.floats(0.6, 1.6))
@example(factor=1.0)
def test_ok_inverse_throughput_for_cost_re_resolves_forward(registry, factor):
    check = perturbed_inverse(registry, "throughput_for_cost", factor)
    assert check.status == "ok", check.question  # the free range (100..10000 TFLOP/s) reaches all of these targets
    assert not check.problems and check.worst_miss <= 1e-9, (check.question, check.problems)


@settings(FUZZ, max_examples=4)
@given(factor=st.floats(0.8, 1.3))
@example(factor=1.0)
def test_ok_inverse_stall_for_deadline_re_resolves_forward(registry, factor):
    check = perturbed_inverse(registry, "stall_for_deadline", factor)
    if factor == 1.0:
        assert check.status == "ok", check.question
    if check.status == "ok":  # below about 54/70 of the deadline no stall share reaches it
        assert not check.problems and check.worst_miss <= 1e-9, (check.question, check.problems)


@settings(FUZZ, max_examples=3)
@given(factor=st.floats(0.8, 1.15))
@example(factor=1.0)
def test_ok_inverse_over_an_integer_is_integral(registry, factor):
    check = perturbed_inverse(registry, "dp_degree_for_deadline", factor)
    if check.status == "ok":
        assert not check.problems and check.worst_miss <= 1e-9, (check.question, check.problems)


# --- the same question, the same bytes ---------------------------------------------------------------------

SAME_BYTES = {
    "resolve --trace --json": ["resolve", "econ.cost.per_token", "--preset", "dense_training_cost_fixture", "--trace",
                               "--missing", "--constraints", "--json"],
    "solve problem file --json": ["solve", str(THROUGHPUT_PROBLEM), "--json"],
    "solve problem file (2) --json": ["solve", str(DEADLINE_PROBLEM), "--json"],
    "solve inline inverse --json": ["solve", "--preset", "dense_training_cost_fixture", "--target",
                                    "econ.cost.per_token=2.5e-6", "--free", "econ.job.capex_rate", "--json"],
    "sensitivity --json": ["sensitivity", "econ.cost.per_token", "--preset", "dense_training_cost_fixture", "--json"],
}


@pytest.mark.parametrize("label", list(SAME_BYTES))
def test_identical_inputs_give_identical_json(cli, label):
    # the second run meets every cache the first one filled: the answer must not depend on them
    first, second = (cli(*SAME_BYTES[label]) for _ in range(2))
    assert first.exit_code == 0 and first.stdout, (label, first.stderr[-500:])
    assert first.stdout == second.stdout, f"{label}: the second run printed different bytes"
    json.loads(first.stdout)
