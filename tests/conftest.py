"""Shared fixtures: the built-in registry is loaded once per test session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpu_stack.cli import app
from gpu_stack.registry import Registry, load_registry

REPO = Path(__file__).resolve().parent.parent


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
