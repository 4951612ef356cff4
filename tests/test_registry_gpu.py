"""GPU compute and power registry (gpu/, arith/): published peaks and the measured H100/H200 as tests.

Every test resolves through the public CLI (`gpu-stack resolve … --json`), compares with a figure
from a whitepaper, a datasheet or the measurements in shared/data (hand derivation next to it),
collects the mismatches and asserts once.

Measurements (shared/data/measurements/*-2026-11-26.json, sustained 8192³ bf16 GEMM, NVML):
  H200: 700 W limit, SM clock median 1455 MHz (max 1980), 662.8 TFLOP/s at 691.877 W median
        (694.702 W max), idle 79.026 W, 1.044 J per TFLOP.
  H100: 700 W limit, SM clock median 1380 MHz (max 1980), 686.1 TFLOP/s at 697.872 W median
        (702.189 W max), idle 70.838 W.
"""

from __future__ import annotations

import pytest

from conftest import check, value

H200 = "hardware.h200_sxm_measured"
H100 = "hardware.h100_sxm_measured"

# The one fitted parameter and the measured ratio it rests on (see scenarios/hardware/h200_sxm_measured.toml).
ALPHA_GEMM = 662.8 / (132 * 4096 * 1.455e-3)          # achieved / clock-adjusted peak = 0.84253
P_FULL = (691.877 - 79.026) / (0.84253 * (1455 / 1980) ** 3)   # 1833.06 W

# Accepted spread of the measurements: one 15 MHz step of the NVML clock table on clocks and peaks
# (15/1455 = 1.03%); on power the median-to-maximum spread (694.702/691.877 − 1 = 0.41%) plus the gap the
# controller keeps below the limit (700/691.877 − 1 = 1.17%).
CLOCK_SPREAD = 15 / 1455
POWER_SPREAD = (694.702 - 691.877) / 691.877 + (700 - 691.877) / 691.877

CONTINUOUS = {"gpu.clock.sm_sustained": "gpu.eq.clock_sustained_power_limited"}


@pytest.fixture(scope="module")
def resolve(resolve_checked):
    """resolve(target, presets, {id: value}, {group: equation}) -> resolve's JSON, constraints checked."""
    return resolve_checked


def tdp_constraint(data: dict) -> dict:
    return next(c for c in data["constraints"] if c["id"] == "gpu.ineq.power_within_tdp")


# ----------------------------------------------------------------------------- peaks from the whitepapers


def test_h100_sxm_peaks_by_precision(resolve):
    """NVIDIA H100 whitepaper (V1.04) Table 1 / Table 3, H100 SXM5, 132 SMs:
      BF16 dense  132 × 4 TC × 512 FMA × 2 × 1.83 GHz = 132 × 4096 × 1.83 = 989.4 TFLOP/s
      FP8 dense   2 × BF16: 132 × 8192 × 1.83 = 1978.9;   BF16 2:4 sparse: 1978.9
      TF32 dense  132 × 2048 × 1.83 = 494.7;  TF32 sparse 989.4;  FP8 sparse 3957.8
      FP64 tensor 132 × 256 × 1.98 GHz = 66.9;  FP32 132 × 256 × 1.98 = 66.9;  FP64 132 × 128 × 1.98 = 33.5
    (FP32/FP64 are rated at the 1.98 GHz maximum boost, so gpu.clock.sm selects it.)
    """
    boost = {"gpu.clock.sm": "gpu.eq.clock_sm_boost_max"}
    cases = [
        ("BF16 dense", {}, 989.4, 132 * 4096 * 1.83e-3),
        ("FP8 dense", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp8"}, 1978.9, 132 * 8192 * 1.83e-3),
        ("BF16 sparse", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_bf16_sparse"}, 1978.9,
         132 * 8192 * 1.83e-3),
        ("FP8 sparse", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp8_sparse"}, 3957.8,
         132 * 16384 * 1.83e-3),
        ("TF32 dense", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_tf32"}, 494.7, 132 * 2048 * 1.83e-3),
        ("TF32 sparse", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_tf32_sparse"}, 989.4,
         132 * 4096 * 1.83e-3),
        ("FP64 tensor", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp64_tensor", **boost}, 66.9,
         132 * 256 * 1.98e-3),
        ("FP32", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp32", **boost}, 66.9, 132 * 256 * 1.98e-3),
        ("FP64", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp64", **boost}, 33.5, 132 * 128 * 1.98e-3),
    ]
    mismatches: list[str] = []
    for label, select, published, exact in cases:
        got = value(resolve, "gpu.peak_flops", ("hardware.h100_sxm",), select=select)
        check(mismatches, f"H100 {label} exact", got, exact, 1e-9)
        check(mismatches, f"H100 {label} vs published {published}", got, published, 0.002)
    # the spine factors: 4096 FLOP/clk/SM = 4 tensor cores × 512 FMA × 2 FLOP
    check(mismatches, "H100 BF16 FLOP/clk/SM", value(resolve, "arith.sm.flops_per_clock", ("hardware.h100_sxm",)),
          4096, 1e-12)
    # the H200 has the H100 SXM's compute (NVIDIA H200 datasheet: 1,979 TFLOP/s BF16 with sparsity)
    check(mismatches, "H200 BF16 dense", value(resolve, "gpu.peak_flops", ("hardware.h200_sxm",)), 989.4, 0.002)
    check(mismatches, "H200 BF16 sparse",
          value(resolve, "gpu.peak_flops", ("hardware.h200_sxm",),
                select={"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_bf16_sparse"}), 1979, 0.002)
    assert not mismatches, mismatches


def test_a100_peaks_by_precision(resolve):
    """NVIDIA A100 whitepaper Table 1 (and the A100 column of the H100 whitepaper's Table 3):
    108 SMs, one 1410 MHz boost clock for every peak; 4 tensor cores × 256 dense FP16 FMA/clk = 1024 FMA/clk/SM
      BF16 dense  108 × 2048 FLOP × 1.41 GHz = 311.9 TFLOP/s ("312");  sparse 623.7 ("624")
      TF32        108 × 1024 × 1.41 = 155.9 ("156");  FP64 tensor 108 × 128 × 1.41 = 19.5
      FP32        108 × 128 × 1.41 = 19.5;  FP64 108 × 64 × 1.41 = 9.7
    """
    cases = [
        ("BF16 dense", {}, 312, 108 * 2048 * 1.41e-3),
        ("BF16 sparse", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_bf16_sparse"}, 624,
         108 * 4096 * 1.41e-3),
        ("TF32", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_tf32"}, 156, 108 * 1024 * 1.41e-3),
        ("FP64 tensor", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp64_tensor"}, 19.5,
         108 * 128 * 1.41e-3),
        ("FP32", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp32"}, 19.5, 108 * 128 * 1.41e-3),
        ("FP64", {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp64"}, 9.7, 108 * 64 * 1.41e-3),
    ]
    mismatches: list[str] = []
    for label, select, published, exact in cases:
        got = value(resolve, "gpu.peak_flops", ("hardware.a100_sxm4_80gb",), select=select)
        check(mismatches, f"A100 {label} exact", got, exact, 1e-9)
        check(mismatches, f"A100 {label} vs published {published}", got, published, 0.005)
    check(mismatches, "A100 FLOP/clk/SM", value(resolve, "arith.sm.flops_per_clock", ("hardware.a100_sxm4_80gb",)),
          2048, 1e-12)
    assert not mismatches, mismatches


def test_fp8_bf16_mix_is_a_harmonic_mean(resolve):
    """Half the FLOPs in FP8 (8192 FLOP/clk/SM), half in BF16 (4096): time adds, so
    R = 1 / (0.5/8192 + 0.5/4096) = 5461.3 FLOP/clk/SM and the peak 132 × 5461.3 × 1.83 GHz = 1319.2 TFLOP/s."""
    select = {"arith.sm.flops_per_clock": "arith.eq.flops_per_clock_fp8_mixed"}
    assign = {"arith.precision.fp8_flop_fraction": 0.5}
    mismatches: list[str] = []
    check(mismatches, "mixed rate", value(resolve, "arith.sm.flops_per_clock", ("hardware.h100_sxm",), assign, select),
          1 / (0.5 / 8192 + 0.5 / 4096), 1e-12)
    check(mismatches, "mixed peak", value(resolve, "gpu.peak_flops", ("hardware.h100_sxm",), assign, select),
          132 * 1.83e-3 / (0.5 / 8192 + 0.5 / 4096), 1e-9)
    assert not mismatches, mismatches


# ----------------------------------------------------------------------------- the measured H200 (fit)


def test_h200_fit_reproduces_the_measurement(resolve):
    """The power model fitted on ONE point of the H200 (sustained bf16 GEMM: 691.877 W median at 1455 MHz,
    idle 79.026 W, activity α = 662.8 / 786.69 = 0.84253; V ∝ f; memory/IO folded in):
        P_full = (691.877 − 79.026) / (0.84253 × (1455/1980)³) = 1833.06 W.
    At the 700 W limit: Q = (700 − 79.026)/(0.84253 × 1833.06) = 0.40208,
        f = 1980 MHz × Q^(1/3) = 1461.4 MHz  → 1455 MHz on the 15 MHz clock table (measured median 1455).
    (a) clock 1455 MHz; (b) power-limited BF16 peak 132 × 4096 × 1.455 GHz = 786.7 TFLOP/s;
    (c) energy per FLOP: the model gives power and PEAK FLOP/s; the measurement gives ACHIEVED FLOP/s,
        so compare P / (peak × α), α being the measured achieved/peak ratio: 691.877 W / 662.8 TFLOP/s
        = 1.0439 J/TFLOP (README: 1.044). Continuous clock (no clock table): 700 W / (790.1 × 0.84253)
        = 1.0515 J/TFLOP, +0.7%, inside the accepted power spread.
    """
    mismatches: list[str] = []
    check(mismatches, "fitted parameter in the pack", value(resolve, "gpu.power.full_load_dynamic_at_max_clock", (H200,)),
          P_FULL, 1e-5)
    data = resolve("gpu.power.total", (H200,))
    check(mismatches, "board power at 1455 MHz vs median", data["value"], 691.877, 1e-4)
    if tdp_constraint(data)["status"] != "ok":
        mismatches.append(f"power within tdp: {tdp_constraint(data)}")
    # (a) the sustained clock
    clock = value(resolve, "gpu.clock.sm_sustained", (H200,))
    check(mismatches, "(a) clock on the clock table", clock, 1.455, 1e-9)
    continuous = value(resolve, "gpu.clock.sm_sustained", (H200,), select=CONTINUOUS)
    check(mismatches, "(a) continuous clock, hand derivation", continuous, 1.98 * (620.974 / (0.84253 * 1833.06)) ** (1 / 3),
          1e-6)
    check(mismatches, "(a) continuous clock vs measured", continuous, 1.455, CLOCK_SPREAD)
    # (b) the power-limited peak
    peak = value(resolve, "gpu.peak_flops_power_limited", (H200,))
    check(mismatches, "(b) power-limited peak", peak, 132 * 4096 * 1.455e-3, 1e-9)
    check(mismatches, "(b) vs 786.7", peak, 786.7, 1e-4)
    check(mismatches, "(b) continuous", value(resolve, "gpu.peak_flops_power_limited", (H200,), select=CONTINUOUS),
          786.7, CLOCK_SPREAD)
    # (c) energy per achieved FLOP, J per TFLOP (= W per TFLOP/s)
    measured_j_per_tflop = 691.877 / 662.8
    alpha = value(resolve, "gpu.power.activity_factor", (H200,))
    model_j_per_tflop = data["value"] / (peak * alpha)
    check(mismatches, "(c) J/TFLOP", model_j_per_tflop, measured_j_per_tflop, 1e-4)
    check(mismatches, "(c) vs README 1.044", model_j_per_tflop, 1.044, 0.001)
    power_continuous = value(resolve, "gpu.power.total", (H200,), select=CONTINUOUS)
    check(mismatches, "(c) continuous: power at the limit", power_continuous, 700.0, 1e-9)
    peak_continuous = value(resolve, "gpu.peak_flops_power_limited", (H200,), select=CONTINUOUS)
    check(mismatches, "(c) continuous J/TFLOP", power_continuous / (peak_continuous * alpha), measured_j_per_tflop,
          POWER_SPREAD)
    assert not mismatches, mismatches


def test_h100_prediction_with_the_h200_physics(resolve):
    """PREDICTION (not refitted): the H100 pack keeps the H200 fit (α = 0.84253, P_full = 1833.06 W, V ∝ f)
    and changes only its own measurements: idle 70.838 W, limit 700 W.
        Q = (700 − 70.838)/(0.84253 × 1833.06) = 0.40738,  f = 1980 × Q^(1/3) = 1467.8 MHz → 1455 MHz on the table.
    Measured: 1380 MHz. The model is +5.4% on the table clock (+6.4% continuous), i.e. 5 clock steps high;
    power-limited peak 786.7 vs 132 × 4096 × 1.38 GHz = 746.1 TFLOP/s. Accepted band for a prediction across
    two different boards: 7%. With the H100's own GEMM utilization (686.1 / 746.1 = 0.9196: more switching per
    clock) the same physics gives 1980 × ((700 − 70.838)/(0.9196 × 1833.06))^(1/3) = 1425.6 MHz, +3.3%.
    """
    mismatches: list[str] = []
    predicted = value(resolve, "gpu.clock.sm_sustained", (H100,))
    check(mismatches, "table clock (hand derivation)", predicted, 1.455, 1e-9)
    continuous = value(resolve, "gpu.clock.sm_sustained", (H100,), select=CONTINUOUS)
    exact = 1.98 * ((700 - 70.838) / (0.84253 * 1833.06)) ** (1 / 3)
    check(mismatches, "continuous clock (hand derivation)", continuous, exact, 1e-6)
    check(mismatches, "prediction vs measured 1380 MHz", continuous, 1.380, 0.07)
    check(mismatches, "power-limited peak vs measured-clock peak",
          value(resolve, "gpu.peak_flops_power_limited", (H100,)), 132 * 4096 * 1.380e-3, 0.07)
    own_alpha = 686.1 / (132 * 4096 * 1.380e-3)
    with_own_alpha = value(resolve, "gpu.clock.sm_sustained", (H100,), {"gpu.power.activity_factor": own_alpha},
                           CONTINUOUS)
    check(mismatches, "own utilization, hand derivation", with_own_alpha,
          1.98 * ((700 - 70.838) / (own_alpha * 1833.06)) ** (1 / 3), 1e-6)
    check(mismatches, "own utilization vs measured", with_own_alpha, 1.380, 0.04)
    # the board stays within its limit in both cases
    data = resolve("gpu.power.total", (H100,))
    if tdp_constraint(data)["status"] != "ok":
        mismatches.append(f"power within tdp: {tdp_constraint(data)}")
    assert not mismatches, mismatches


def test_h200_training_clock_from_its_utilization(resolve):
    """A second check on the H200 physics with another workload (training-h200-calibration, gpt-1.3b run:
    52.12% MFU against 989.4 TFLOP/s at a median 1680 MHz and 692.8 W). Its tensor-pipe utilization at
    its own clock is 0.5212 × 989.4 / (132 × 4096 × 1.68 GHz) = 0.5677, used as the activity α:
        f = 1980 × ((700 − 79.026)/(0.5677 × 1833.06))^(1/3) = 1666.9 MHz (→ 1665 on the table) vs 1680 measured.
    Within one 15 MHz clock step. (Uses the measured clock to get α: a consistency check, not a prediction.)
    """
    alpha = 0.5212080970974118 * 989.4 / (132 * 4096 * 1.68e-3)
    mismatches: list[str] = []
    continuous = value(resolve, "gpu.clock.sm_sustained", (H200,), {"gpu.power.activity_factor": alpha}, CONTINUOUS)
    check(mismatches, "hand derivation", continuous, 1.98 * ((700 - 79.026) / (alpha * 1833.06)) ** (1 / 3), 1e-6)
    check(mismatches, "vs 1680 MHz", continuous, 1.680, 15 / 1680)
    check(mismatches, "table clock vs 1680 MHz",
          value(resolve, "gpu.clock.sm_sustained", (H200,), {"gpu.power.activity_factor": alpha}), 1.680, 15 / 1680 + 1e-9)
    assert not mismatches, mismatches


# ----------------------------------------------------------------------------- the DVFS model itself


LINEAR_FLOOR = {
    # an illustrative V/F table (no published one exists for GH100): 0.70 V up to 1.0 GHz, 1.00 V at 1.98 GHz
    "gpu.dvfs.voltage_max": "1.0 V",
    "gpu.dvfs.voltage_floor": "0.7 V",
    "gpu.dvfs.floor_clock": "1.0 GHz",
    "gpu.clock.boost_max": "1.98 GHz",
    "gpu.power.idle": "80 W",
    "gpu.power.memory_io": "0 W",
    "gpu.power.activity_factor": 1,
    "gpu.power.full_load_dynamic_at_max_clock": "1800 W",
}


def test_default_voltage_law_meets_the_limit_exactly(resolve):
    """Default V/F law (floor, then linear): the explicit Cardano root must put board power exactly on the
    limit. Hand check at 700 W: r_min = 0.7, x_min = 1/1.98, s = 0.3/(1 − 0.50505) = 0.60612,
    u = 0.7 − s·x_min = 0.39388; Q = 620/1800 = 0.34444; solve y²(y − u) = s·Q for y, x = (y − u)/s.
    Below the knee (Q < r_min²·x_min = 0.24747, here a 300 W limit: Q = 220/1800 = 0.12222) the voltage is on
    its floor and x = Q / r_min² = 0.24943 → 0.4939 GHz. Not power-limited (limit 2500 W): clock = 1.98 GHz.
    """
    mismatches: list[str] = []
    for tdp in (700, 450, 300):
        data = resolve("gpu.power.total", assign={**LINEAR_FLOOR, "gpu.tdp": f"{tdp} W"})
        check(mismatches, f"P = tdp at {tdp} W", data["value"], tdp, 1e-9)
    rmin, xmin = 0.7, 1.0 / 1.98
    s = (1 - rmin) / (1 - xmin)
    u = rmin - s * xmin
    q = 620 / 1800
    x = value(resolve, "gpu.clock.sm_sustained", assign={**LINEAR_FLOOR, "gpu.tdp": "700 W"}) / 1.98
    check(mismatches, "cubic y²(y − u) = sQ", (u + s * x) ** 2 * (u + s * x - u), s * q, 1e-9)
    check(mismatches, "floor branch", value(resolve, "gpu.clock.sm_sustained",
                                            assign={**LINEAR_FLOOR, "gpu.tdp": "300 W"}), 1.98 * (220 / 1800) / rmin ** 2,
          1e-9)
    data = resolve("gpu.power.total", assign={**LINEAR_FLOOR, "gpu.tdp": "2500 W"})
    check(mismatches, "unthrottled clock", value(resolve, "gpu.clock.sm_sustained",
                                                 assign={**LINEAR_FLOOR, "gpu.tdp": "2500 W"}), 1.98, 1e-12)
    check(mismatches, "unthrottled power", data["value"], 80 + 1800, 1e-9)
    if tdp_constraint(data)["status"] != "ok":
        mismatches.append(f"unthrottled power within tdp: {tdp_constraint(data)}")
    assert not mismatches, mismatches


def test_cardano_tends_to_the_cube_root(resolve):
    """As the V/F floor goes to zero (V_min/V_max → 0 at f_min → 0) the floored linear law becomes V ∝ f and the
    Cardano clock tends to the cube-root clock f_max·Q^(1/3) = 1.98 × (620/1800)^(1/3) = 1.3878 GHz. The
    variables' bounds stop at V_min = 0.1 V and V_max = 2 V (r_min = 0.05), with f_min = 1 MHz:
    u = 0.0495, s = 0.9505, and the cubic y²(y − u) = sQ gives x = 0.6908, 1.5% below the cube root's 0.7010
    (the intercept u keeps the voltage, hence the power, a little higher at every clock)."""
    assign = {**LINEAR_FLOOR, "gpu.dvfs.voltage_max": "2 V", "gpu.dvfs.voltage_floor": "0.1 V",
              "gpu.dvfs.floor_clock": "0.001 GHz", "gpu.tdp": "700 W"}
    cardano = value(resolve, "gpu.clock.power_limit", assign=assign)
    cube = value(resolve, "gpu.clock.power_limit", assign=assign,
                 select={"gpu.clock.power_limit": "gpu.eq.clock_power_limit_cube_root"})
    mismatches: list[str] = []
    check(mismatches, "cube-root clock", cube, 1.98 * (620 / 1800) ** (1 / 3), 1e-9)
    check(mismatches, "Cardano → cube root", cardano, cube, 0.02)
    if not cardano < cube:
        mismatches.append(f"the voltage intercept must lower the clock: {cardano} vs {cube}")
    assert not mismatches, mismatches


def test_power_model_feeds_the_node_and_the_step(resolve):
    """The sustained clock feeds the board power in cluster.node.power and the power-limited peak in
    training.t_compute: 8 measured H200 at 691.877 W plus 1 kW of host = 6535.0 W per node; a 1e18-FLOP step
    on 8 GPUs at 786.68 TFLOP/s each takes 1e18 / (8 × 786.68e12) = 158.9 s."""
    mismatches: list[str] = []
    node = value(resolve, "cluster.node.power", (H200,), {
        "cluster.node.n_gpus": 8, "cluster.node.cpu_power": "600 W", "cluster.node.ram_power": "200 W",
        "cluster.node.nic_power": "100 W", "cluster.node.storage_power": "50 W", "cluster.node.misc_power": "50 W"})
    check(mismatches, "node power", node, 8 * 691.8778 + 1000, 1e-6)
    t_compute = value(resolve, "training.t_compute", (H200,), {
        "arch.flops.step_dense": "1e18 FLOP", "training.recompute_overhead": 1,
        "training.optimizer_flop_multiplier": 1, "par.n_gpus": 8,
        "kernel.compute_efficiency": 1})  # peak-rate compute: no kernel losses in this check
    check(mismatches, "t_compute", t_compute, 1e18 / (8 * 132 * 4096 * 1.455e9), 1e-6)
    # cited + measured packs compose (later wins): the rated peak (MFU denominator) and the sustained one together
    both = ("hardware.h200_sxm", H200)
    check(mismatches, "rated peak, composed", value(resolve, "gpu.peak_flops", both), 132 * 4096 * 1.83e-3, 1e-9)
    check(mismatches, "sustained peak, composed", value(resolve, "gpu.peak_flops_power_limited", both),
          132 * 4096 * 1.455e-3, 1e-9)
    assert not mismatches, mismatches
