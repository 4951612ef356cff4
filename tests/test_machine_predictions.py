"""The machine layer: roofline figures, and real training steps predicted from the probe alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import relative_error

SHAPE_1_3B = ["--assign", "arch.n_layers=24", "--assign", "arch.d_model=2048", "--assign", "arch.n_heads=16",
              "--assign", "arch.seq_len=2048", "--assign", "arch.micro_batch_size=8", "--assign", "arch.vocab_size=50304"]
# a copy of shared/data's measured training steps (tests/data/measurements/README.md)
MEASURED = Path(__file__).resolve().parent / "data" / "measurements" / "training-h200-calibration-2026-11-26.json"


def test_ridge_point_and_attainable_flops(cli):
    # H100 SXM5: 989.4 TFLOP/s / 3.35 TB/s ≈ 295 FLOP/byte (Williams et al. 2009 roofline)
    ridge = cli("resolve", "kernel.roofline.ridge_point", "--assign", "gpu.peak_flops=989.4 TFLOP/s",
                "--assign", "mem.hbm.bw=3.35 TB/s", "--json").json()
    assert ridge["status"] == "ok" and relative_error(ridge["value"], 989.4 / 3.35) < 1e-12
    # below the ridge: 100 FLOP/byte × 3.35 TB/s = 335 TFLOP/s; above it: the peak
    for intensity, expected in ((100, 335.0), (1000, 989.4)):
        data = cli("resolve", "kernel.roofline.attainable_flops", "--assign", "gpu.peak_flops=989.4 TFLOP/s",
                   "--assign", "mem.hbm.bw=3.35 TB/s",
                   "--assign", f"kernel.roofline.arithmetic_intensity={intensity} FLOP/byte", "--json").json()
        assert relative_error(data["value"], expected) < 1e-12 and data["unit"] == "TFLOP/s"


@pytest.mark.parametrize("hardware", ["hardware.h200_sxm", "hardware.h100_sxm"])
def test_single_gpu_step_needs_only_the_shape(cli, hardware):
    data = cli("resolve", "training.tokens_per_sec", "--preset", hardware, "--preset",
               "workload.single_gpu_bf16_adamw", *SHAPE_1_3B, "--missing", "--json").json()
    assert data["status"] == "ok" and data["missing"] == [] and data["value"] > 0


def test_calibration_runs_predicted_from_the_probe(cli):
    """Predicted vs measured (nothing fitted to the training runs; the GEMM constants are fitted by
    `calibrate` to the probe's GEMMs, observations/h200_sxm_gemm.toml). Seen at commit time:
    gpt-125m 383,201 vs 351,120 token/s (+9.1%), clock 1980 vs 1980 MHz;
    gpt-1.3b 57,045 vs 56,651 token/s (+0.7%), clock 1680 vs 1680 MHz."""
    measured = {run["name"]: run for run in json.loads(MEASURED.read_text())["runs"]}
    misses = []
    for scenario, name in (("runs.gpt_125m_h200", "gpt-125m"), ("runs.gpt_1_3b_h200", "gpt-1.3b")):
        report = cli("scenario-report", scenario, "--json").json()
        assert report["status"] == "ok"
        values = {t["id"]: t["value"] for t in report["targets"]}
        run = measured[name]
        for key, model, truth, tolerance in (
            ("tokens/s", values["training.tokens_per_sec"], run["tokens_per_s"], 0.10),
            ("MFU", values["training.mfu"], run["mfu_vs_989.4TF"], 0.10),
            ("clock", values["gpu.clock.sm_sustained"] * 1000, run["sm_clock_mhz_median"], 0.04),
        ):
            if relative_error(model, truth) > tolerance:
                misses.append((name, key, model, truth))
    assert not misses, misses


def test_llama3_405b_throughput_from_the_machine(cli):
    """Llama 3.1 405B on 16,384 H100 with step time from the machine layer (no calibration):
    Dubey et al. 2024 Table 4 report 380–430 TFLOP/s per GPU (38–43% MFU) at 8K sequence length.
    Seen at commit time: 307 TFLOP/s per GPU, MFU 0.310; the 1F1B bubble
    with 2 interleaved chunks (an assumption: the schedule's interleaving is not published) costs 32%."""
    report = cli("scenario-report", "runs.llama3_405b_h100", "--json").json()
    assert report["status"] == "ok"
    values = {t["id"]: t["value"] for t in report["targets"]}
    per_gpu_tflops = values["training.mfu"] * 989.4
    assert relative_error(per_gpu_tflops, 400.0) < 0.30
    assert 0.38 * 0.7 < values["training.mfu"] < 0.43 * 1.3


def test_bloom_176b_throughput_from_the_machine(cli):
    """BLOOM-176B on 384 A100 80GB with step time from the machine layer: BigScience reported about
    150 TFLOP/s per GPU counted with recomputation, i.e. 40,124 tokens/s for the job. The A100 has no
    probe data here, so its GEMM efficiency is the H100's fit and attention is an assumption.
    Seen at commit time: 44,649 tokens/s (+11%), MFU 0.394."""
    report = cli("scenario-report", "runs.bloom_176b_a100", "--json").json()
    assert report["status"] == "ok"
    values = {t["id"]: t["value"] for t in report["targets"]}
    assert relative_error(values["training.tokens_per_sec"], 40_124) < 0.30
