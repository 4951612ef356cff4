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


def test_studies_example_runs(tmp_path, capsys):
    """examples/studies.py: every point of the price × MFU sweep solves, and the front is written."""
    namespace = runpy.run_path(str(REPO / "examples" / "studies.py"))
    namespace["main"](tmp_path)
    printed = capsys.readouterr().out
    assert "price × MFU: 25 points, 25 ok" in printed and "front point 0:" in printed
    for name in ("llama_price_mfu.png", "llama_price_mfu.csv", "llama_cost_time_front.svg"):
        assert (tmp_path / name).stat().st_size > 0


def test_uncertainty_example_runs(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["uncertainty.py"])
    runpy.run_path(str(REPO / "examples" / "uncertainty.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "econ.cost.per_token" in printed and "fab.gpu.manufacturing_cost: median" in printed
