"""The examples a newcomer runs first must keep working."""

from __future__ import annotations

import runpy

from conftest import REPO


def test_quickstart_runs(capsys):
    runpy.run_path(str(REPO / "examples" / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "cost per token: 3.000078e-06 USD/token (ok)" in printed
    assert "needed throughput: 1250.04 TFLOP/s (ok)" in printed
    assert "compiled: 3.000078e-06 USD/token" in printed  # the compiled model agrees with the audit
