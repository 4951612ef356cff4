"""Every kind of bad input gets one readable message, exit 2 (1 from verify), no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

VARIABLE = '[[variable]]\nid = "my.x"\nunit = "W"\ndescription = "x"\nrefs = ["narayanan2021"]\n'


def layer(tmp_path: Path, text: str) -> str:
    folder = tmp_path / "mine"
    folder.mkdir(exist_ok=True)
    (folder / "bad.toml").write_text(text)
    return str(folder)


def equation(expr: str) -> str:
    return VARIABLE + f'[[equation]]\nid = "my.eq.x"\neq = "my.x = {expr}"\nrefs = ["narayanan2021"]\n'


CASES = {
    "malformed TOML": (VARIABLE + "[[equation]\nid = 'a'\n", ["bad.toml:6", "malformed TOML"]),
    "duplicate ID": (VARIABLE.replace("my.x", "gpu.tdp"), ["duplicate ID 'gpu.tdp'", "replace = true"]),
    "unknown reference": (VARIABLE.replace("narayanan2021", "nosuchref"), ["bad.toml:2", "unknown reference key 'nosuchref'"]),
    "unknown ID": (equation("gpu.tdpp * 2"), ["unknown ID 'gpu.tdpp'", "did you mean 'gpu.tdp'"]),
    "forbidden call": (equation("__import__(1)"), ["function '__import__' is not allowed"]),
    "attribute trick": (equation("gpu.tdp.__class__"), ["not a valid ID"]),
    "subscript": (equation("gpu.tdp[0]"), ["brackets may only give the unit of a number literal"]),
    "lambda": (equation("lambda: 1"), ["unexpected character ':'"]),
    "unparsable": (equation("gpu.tdp * * 2"), ["unexpected '*'"]),
    "unknown unit": (VARIABLE.replace('"W"', '"Wattz"'), ["unknown unit 'Wattz'"]),
    "offset unit": (VARIABLE.replace('"W"', '"degC"'), ["offset unit"]),
    "wrong dimension": (equation("gpu.tdp * training.t_step"), ["fails the unit check", "[time]"]),
    "unknown key": (VARIABLE + 'unti = "W"\n', ["unknown key 'unti'"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_registry(cli, tmp_path, name):
    text, needles = CASES[name]
    folder = layer(tmp_path, text)
    result = cli("stats", "--registry", "builtin", "--registry", folder)
    assert result.exit_code == 2, result.stdout
    message = result.stderr
    assert message.startswith("error: ") and "Traceback" not in message
    assert message.count("\n") == 1, message  # one message
    for needle in needles:
        assert needle in message, message
    if name not in ("duplicate ID", "malformed TOML"):
        verify = cli("verify", "--registry", "builtin", "--registry", folder)
        if name in ("unknown key",):  # a malformed entry stops loading: bad input, not a finding
            assert verify.exit_code == 2
        else:
            assert verify.exit_code == 1, verify.stdout
            assert needles[0] in verify.stdout


@pytest.mark.parametrize("args, needle", [
    (["resolve", "gpu.tdpp"], "unknown variable 'gpu.tdpp'"),
    (["explain", "nothing.here"], "unknown ID 'nothing.here'"),
    (["resolve", "gpu.tdp", "--preset", "nosuch"], "unknown scenario 'nosuch'"),
    (["resolve", "gpu.tdp", "--assign", "gpu.tdp=5 kg"], "cannot convert 'kg'"),
    (["resolve", "gpu.tdp", "--assign", "gpu.tdpx=5"], "unknown variable 'gpu.tdpx'"),
    (["resolve", "gpu.tdp", "--assign", "gpu.tdp"], "write ID=VALUE"),
    (["resolve", "gpu.tdp", "--assign", "gpu.tdp=-5 W"], "outside its domain"),
    (["resolve", "gpu.tdp", "--select", "arch.flops_per_token=nope"], "is not an alternative"),
    (["resolve", "gpu.tdp", "--select", "gpu.tdp=x"], "unknown alternative group"),
    (["verify", "--profile", "slow"], "'slow' is not one of 'fast', 'full'"),
    (["cone", "gpu.tdp", "--direction", "sideways"], "'sideways' is not one of 'up', 'down'"),
])
def test_bad_command_line(cli, args, needle):
    result = cli(*args)
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_scenario_file(cli, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('kind = "synthetic"\n[assign]\n"gpu.tdp" = "3 s"\n')
    result = cli("resolve", "gpu.tdp", "--preset", str(path), "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert "s.toml:3" in result.stderr and "cannot convert 's'" in result.stderr
    path.write_text('kind = "invented"\n')
    result = cli("resolve", "gpu.tdp", "--preset", str(path))
    assert result.exit_code == 2 and "kind must be one of" in result.stderr
    path.write_text('kind = "synthetic"\nextends = ["s.toml"]\n')
    result = cli("resolve", "gpu.tdp", "--preset", str(path))
    assert result.exit_code == 2 and "cycle" in result.stderr


def test_missing_registry_folder(cli, tmp_path):
    result = cli("stats", "--registry", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "registry folder not found" in result.stderr
