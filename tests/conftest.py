"""Shared fixtures: the built-in registry is loaded once per test session."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpu_stack.interface.cli import app
from gpu_stack.model.registry import Registry, load_registry

REPO = Path(__file__).resolve().parent.parent

# Compiled functions are cached on disk; tests keep theirs in a folder of their own,
# so a run never reads a user's cache nor leaves files in it (subprocesses inherit this).
os.environ.setdefault("GPU_STACK_CACHE_DIR", tempfile.mkdtemp(prefix="gpu_stack_test_cache_"))
# Piped answers are as wide as COLUMNS says, else a wide default; tests read the default (the ones about
# narrow terminals set COLUMNS themselves), whatever the shell or a test runner's worker exported.
os.environ.pop("COLUMNS", None)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The built-in registry (strict load), shared by every test."""
    return load_registry()


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def cli():
    """Run `gpu-stack ARGS…` in-process; returns exit code, stdout and stderr."""
    runner = CliRunner()

    def run(*args: str) -> CliResult:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


def relative_error(value: float, expected: float) -> float:
    return abs(value - expected) / abs(expected) if expected else abs(value)


@pytest.fixture(scope="session")
def resolve_data(cli):
    """resolve_data(target, {id: value}, {group: equation}, presets, extra flags) -> resolve's JSON, status ok."""

    def run(target: str, assign: dict[str, object] | None = None, select: dict[str, str] | None = None,
            presets: tuple[str, ...] = (), flags: tuple[str, ...] = ()) -> dict:
        args = ["resolve", target, "--json", "--missing", *flags]
        for preset in presets:
            args += ["--preset", preset]
        for ident, value in (assign or {}).items():
            args += ["--assign", f"{ident}={value}"]
        for group, equation in (select or {}).items():
            args += ["--select", f"{group}={equation}"]
        result = cli(*args)
        data = result.json()
        assert data["status"] == "ok", (target, data.get("missing"), data.get("errors"), result.stdout[-1500:])
        return data

    return run


@pytest.fixture(scope="session")
def resolve(resolve_data):
    """resolve(target, {id: value}, {group: equation}) -> value in the target's declared unit."""

    def run(target: str, assign: dict[str, object] | None = None, select: dict[str, str] | None = None) -> float:
        return resolve_data(target, assign, select)["value"]

    return run


@pytest.fixture(scope="session")
def resolve_checked(resolve_data):
    """resolve_checked(target, presets, {id: value}, {group: equation}) -> resolve's JSON, constraints checked."""

    def run(target: str, presets: tuple[str, ...] = (), assign: dict[str, object] | None = None,
            select: dict[str, str] | None = None) -> dict:
        return resolve_data(target, assign, select, presets, ("--constraints",))

    return run


def value(resolve, target, presets=(), assign=None, select=None) -> float:
    """The value of `target` from a resolve_checked-style function."""
    return resolve(target, presets, assign, select)["value"]


def check(mismatches: list[str], label: str, value: float, expected: float, rel: float) -> None:
    """Collect a mismatch (so one run shows every broken figure) instead of asserting at once."""
    if relative_error(value, expected) > rel:
        mismatches.append(f"{label}: got {value!r}, expected {expected!r} (rel. tol. {rel})")


@pytest.fixture(scope="session")
def served():
    """A real `gpu-stack serve --preset runs.llama3_405b_h100` on a free loopback port: (base URL, pid, seconds
    until it answered). Started once for the browser and load tests."""
    pytest.importorskip("uvicorn", reason="the 'serve' extra is not installed")
    from serving import running_server
    with running_server() as server:
        yield server
