"""Issue 11, the input side: every value that enters is finite (and whole for an integer variable), every
flag is given once, every input costs bounded work, a registry cannot change physics, and every scenario and
problem key has its type — each refusal one readable message on stderr, exit 2, nothing on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_stack.errors import ExpressionError
from gpu_stack.model.expressions import parse_condition, parse_expression, tree_depth
from gpu_stack.model.limits import MAX_EXPRESSION_CHARS, MAX_FILE_BYTES, MAX_NESTING
from gpu_stack.model.units import check_unit_text

VARIABLE = '[[variable]]\nid = "my.x"\nunit = "W"\ndescription = "x"\nrefs = ["toy"]\n'
REFERENCES = '[toy]\ntitle = "Test layer"\nkind = "dataset"\n'
FIRST_ORDER = "runs.llama3_405b_h100_first_order"


def refused(result, *needles: str) -> None:
    """Exit 2, one message line on stderr holding every needle, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout[-500:], result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


# ---------------------------------------------------------------- flags

@pytest.mark.parametrize("value, needle", [
    ("inf", "not a finite number"),
    ("nan", "not a finite number"),
    ("-inf", "not a finite number"),
    ("1e999", "not a finite number"),
    ("1e999 W", "not a finite number"),
    ("nan W", "not a finite number"),
    ("1e308 TW", "not a finite number (inf)"),          # finite as written, infinite in the declared unit
    ("5 10**10**10 W", "a power of a power"),            # pint would evaluate the tower for ever
    ("5 W**100", "exponent 100 is larger than 12"),
    ("١٢٣", "cannot read quantity"),                     # Unicode digits are no number
])
def test_assigned_values_are_finite_numbers(cli, value, needle):
    result = cli("resolve", "gpu.power.total", "--assign", f"gpu.power.total={value}", "--json")
    refused(result, "gpu.power.total", needle)


def test_an_integer_variable_takes_whole_numbers_only(cli):
    refused(cli("resolve", "par.dp.degree", "--assign", "par.dp.degree=2.5"),
            "'par.dp.degree' = 2.5 is not a whole number", "integer variable")
    assert cli("resolve", "par.dp.degree", "--assign", "par.dp.degree=2", "--json").json()["value"] == 2


def test_a_flag_given_twice_must_agree(cli):
    refused(cli("resolve", "gpu.tdp", "--assign", "gpu.tdp=700", "--assign", "gpu.tdp=800 W"),
            "'--assign gpu.tdp=700' and '--assign gpu.tdp=800 W' give gpu.tdp two different values")
    same = cli("resolve", "gpu.tdp", "--assign", "gpu.tdp=700", "--assign", "gpu.tdp=700 W", "--json")
    assert same.exit_code == 0 and same.json()["value"] == 700
    free = ("--free", "par.dp.degree=16:187")
    refused(cli("solve", "--target", "training.wallclock=80 day", "--target", "training.wallclock=81 day", *free),
            "give training.wallclock two different values", "--target")
    refused(cli("solve", "--target", "training.wallclock=80 day", *free, "--free", "par.dp.degree=16:188"),
            "give par.dp.degree two different values", "--free")


@pytest.mark.parametrize("flags, needles", [
    (["--free", "par.dp.degree=16:1e999"], ["--free par.dp.degree=16:1e999", "not a finite number"]),
    (["--free", "par.dp.degree=16:inf"], ["par.dp.degree", "not a finite number"]),
    (["--free", "par.dp.degree", "--constraint", "training.wallclock <= 1e999 [day]"],
     ["problem.constraint[1]", "number 1e999 is too large"]),
    (["--free", "par.dp.degree", "--constraint", "training.wallclock <= 1 [10**10**10 day]"],
     ["problem.constraint[1]", "a power of a power"]),
    (["--free", "par.dp.degree", "--minimize", "(" * 100 + "training.wallclock" + ")" * 100],
     ["objective", f"nests more than {MAX_NESTING} levels"]),
    (["--free", "par.dp.degree", "--minimize", "+".join(["training.wallclock"] * 600)],
     ["objective", f"the limit is {MAX_EXPRESSION_CHARS:,}"]),
])
def test_solve_flags_are_checked_before_any_solver_runs(cli, flags, needles):
    refused(cli("solve", "--target", "training.wallclock=80 day", *flags), *needles)


def test_over_long_names_are_refused_clearly(cli):
    name = "a" * 300
    refused(cli("resolve", "gpu.tdp", "--preset", name), "scenario", "too long (300 characters")
    refused(cli("solve", name), "problem", "too long")
    refused(cli("stats", "--registry", name), "registry folder", "too long")


# ---------------------------------------------------------------- scenario and problem files

@pytest.mark.parametrize("body, needles", [
    ("extends = 5", [":2:", "key 'extends' must be a list (got 5)"]),
    ('extends = [""]', [":2:", "key 'extends' must be a non-empty string"]),
    ("outputs = [5]", [":2:", "key 'outputs' must be a string (got 5)"]),
    ('[select]\n"arch.flops_per_token" = 5', [":3:", "key 'select.arch.flops_per_token' must be a string"]),
    ('[assign]\n"gpu.tdp" = nan', [":3:", "'gpu.tdp' is not a finite number (nan)"]),
    ('[assign]\n"gpu.tdp" = inf', [":3:", "'gpu.tdp' is not a finite number (inf)"]),
    ('[assign]\n"gpu.tdp" = { value = "1e999 W", source = "s" }', [":3:", "gpu.tdp", "not a finite number"]),
    ('[assign]\n"gpu.tdp" = "5 10**10**10 W"', [":3:", "gpu.tdp", "a power of a power"]),
    ('[assign]\n"par.dp.degree" = 2.5', [":3:", "is not a whole number"]),
])
def test_scenario_files_are_typed_and_finite(cli, tmp_path, body, needles):
    path = tmp_path / "s.toml"
    path.write_text(f'kind = "synthetic"\n{body}\n')
    refused(cli("resolve", "gpu.tdp", "--preset", str(path)), "s.toml", *needles)


FREED = f'scenarios = ["{FIRST_ORDER}"]\n[target]\n"training.wallclock" = "80 day"\n[free]\n'


@pytest.mark.parametrize("body, needles", [
    ('target = "x"', [":1:", "key 'target' must be a table (got 'x')"]),
    ("scenarios = 5", [":1:", "key 'scenarios' must be a list (got 5)"]),
    ("free = 5", [":1:", "key 'free' must be a table (got 5)"]),
    ("select = 5", [":1:", "key 'select' must be a table (got 5)"]),
    ("outputs = \"gpu.tdp\"", [":1:", "key 'outputs' must be a list"]),
    ('[objective]\nminimize = 5', [":2:", "key 'objective.minimize' must be a string (got 5)"]),
    ('[[constraint]]\nexp = "gpu.tdp <= 1 [W]"', ["missing key 'constraint.expr'"]),
    (FREED + '"par.dp.degree" = { min = 16, max = 187, integer = "no" }',
     [":5:", "key 'free.par.dp.degree.integer' must be true or false (got 'no')"]),
    (FREED + '"par.dp.degree" = { min = 16, max = inf }', [":5:", "'par.dp.degree' max is not a finite number"]),
    (FREED + '"par.dp.degree" = false', [":5:", "key 'free.par.dp.degree' must be a table"]),
    ('[target]\n"training.wallclock" = nan', [":2:", "'training.wallclock' is not a finite number (nan)"]),
])
def test_problem_files_are_typed_and_finite(cli, tmp_path, body, needles):
    path = tmp_path / "p.toml"
    path.write_text(body + "\n")
    refused(cli("solve", str(path)), "p.toml", *needles)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(cli, tmp_path):
    path = tmp_path / "big.toml"
    path.write_text('kind = "synthetic"\n' + ("# padding\n" * (MAX_FILE_BYTES // 10 + 1)))
    refused(cli("resolve", "gpu.tdp", "--preset", str(path)), "big.toml", f"the limit is {MAX_FILE_BYTES:,}")


# ---------------------------------------------------------------- registries

def _layer(folder: Path, files: dict[str, str | bytes]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(folder)


@pytest.mark.parametrize("extra, needle", [
    ("min = nan", "'min': Input should be a finite number"),
    ("max = inf", "'max': Input should be a finite number"),
    ("nominal = -inf", "'nominal': Input should be a finite number"),
    ('integer = "no"', "'integer': Input should be a valid boolean"),
])
def test_registry_bounds_are_finite_and_flags_boolean(cli, tmp_path, extra, needle):
    folder = _layer(tmp_path / "mine", {"references.toml": REFERENCES, "a.toml": VARIABLE + extra + "\n"})
    refused(cli("stats", "--registry", folder), "a.toml:2", "my.x", needle)


def test_a_constant_is_finite(cli, tmp_path):
    constant = '[[constant]]\nid = "const.big"\nvalue = "1e999 W"\nrefs = ["toy"]\n'
    folder = _layer(tmp_path / "mine", {"references.toml": REFERENCES, "c.toml": constant})
    refused(cli("stats", "--registry", folder), "c.toml:2", "const.big", "not a finite number")


@pytest.mark.parametrize("units, needles", [
    ("watt = 2 * joule / second", ["units.txt:1", "redefines the existing unit or prefix 'watt'"]),
    ("# a comment\nmeter = 2 * foot", ["units.txt:2", "'meter'"]),
    ("kW = 3 * W", ["units.txt:1", "'kW'"]),                                  # kilo + watt: pint knows it
    ("gadget = [length]", ["units.txt:1", "redefines the existing dimension [length]"]),
    ("gadget = 10**10**10 * W", ["units.txt:1", "a power of a power"]),
    ("@alias meter = mm", ["units.txt:1", "directive '@alias' is not allowed"]),
    ("kilo- = 999", ["units.txt:1", "defines a prefix"]),
])
def test_a_layer_cannot_change_physics(cli, tmp_path, units, needles):
    refused(cli("stats", "--registry", _layer(tmp_path / "mine", {"units.txt": units + "\n"})), *needles)


def test_a_later_layer_cannot_redefine_an_earlier_layers_unit(cli, tmp_path):
    first = _layer(tmp_path / "one", {"units.txt": "money = [currency] = EUR\n"})
    second = _layer(tmp_path / "two", {"units.txt": "gadget = [gadget]\nEUR = 2 * money\n"})
    refused(cli("stats", "--registry", first, "--registry", second), "two/units.txt:2", "'EUR'")
    # new units of the layer's own, including a prefixed name of one, are what units.txt is for
    fine = _layer(tmp_path / "three", {"units.txt": "widget = [widget]\nkilowidget = 1024 * widget\n"})
    assert cli("stats", "--registry", first, "--registry", fine).exit_code == 0


def test_a_units_txt_that_is_not_utf8_is_refused(cli, tmp_path):
    folder = _layer(tmp_path / "mine", {"units.txt": b"widget = [widget]\n\xff\xfe = 2 * widget\n"})
    refused(cli("stats", "--registry", folder), "units.txt:2", "not UTF-8")


@pytest.mark.parametrize("expr, needle", [
    ("(" * 200 + "1 [W]" + ")" * 200, f"nests more than {MAX_NESTING} levels"),
    ("-" * 5000 + "1 [W]", f"nests more than {MAX_NESTING} levels"),
    ("1 [W] * " + "2**" * 3000 + "2", f"nests more than {MAX_NESTING} levels"),
    (" + ".join(["1 [W]"] * 1000), f"nests more than {MAX_NESTING} levels"),   # (a+b)+c: chains nest too
    ("1e999 [W]", "number 1e999 is too large"),
    ("١٢٣ [W]", "unexpected character '١'"),
])
def test_registry_expressions_have_bounded_depth(cli, tmp_path, expr, needle):
    equation = f'[[equation]]\nid = "my.eq.x"\neq = "my.x = {expr}"\nrefs = ["toy"]\n'
    folder = _layer(tmp_path / "mine", {"references.toml": REFERENCES, "a.toml": VARIABLE + equation})
    result = cli("verify", "--registry", folder)
    assert result.exit_code == 1 and needle in result.stdout, result.stdout[-800:]
    refused(cli("stats", "--registry", folder), "my.eq.x", needle)


def test_a_registry_without_variables_fails_verify(cli, tmp_path):
    folder = _layer(tmp_path / "empty", {"references.toml": REFERENCES})
    result = cli("verify", "--registry", folder)
    assert result.exit_code == 1
    assert "defines no variables" in result.stdout


# ---------------------------------------------------------------- the grammars themselves

@pytest.mark.parametrize("unit", ["W", "USD/kW/month", "W/(m^2*K)", "m**3/s", "kW h", "1/cm^2", "PFLOP/s * day",
                                  "W^(1/2)", "m**-2", "1e3 * FLOP", ""])
def test_the_unit_grammar_reads_the_units_in_use(unit):
    check_unit_text(unit)


def test_nesting_is_refused_long_before_the_recursion_limit():
    import sys

    deepest_allowed = "(" * (MAX_NESTING - 1) + "a.b" + ")" * (MAX_NESTING - 1)
    assert tree_depth(parse_expression(deepest_allowed)) == 1
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(600)   # the parser stays far below: a level costs at most a handful of frames
        for text in ("(" * 5_000 + "1", "-" * 9_999 + "1", "1" + "**1" * 3000, "+".join(["1"] * 4000)):
            with pytest.raises(ExpressionError, match="nests more than"):
                parse_expression(text)
        with pytest.raises(ExpressionError, match="nests more than"):
            parse_condition("a.b <= " + "max(" * 100 + "1" + ")" * 100)
    finally:
        sys.setrecursionlimit(limit)
