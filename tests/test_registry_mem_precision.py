"""Memory, precision and memory-feasibility registry (mem/, precision/): published figures as tests.

Every test resolves through the public CLI (`gpu-stack resolve … --json`), compares with a
figure from the literature, a measurement in shared/data/measurements, or a hand derivation
written next to it, collects the mismatches and asserts once.
"""

from __future__ import annotations

import pytest

from conftest import check

GB = 1e9
GIB = 2**30


@pytest.fixture(scope="module")
def resolve_json(cli):
    def run(target: str, assign: dict[str, object] | None = None, select: dict[str, str] | None = None,
            *extra: str) -> dict:
        args = ["resolve", target, "--json", *extra]
        for ident, value in (assign or {}).items():
            args += ["--assign", f"{ident}={value}"]
        for group, equation in (select or {}).items():
            args += ["--select", f"{group}={equation}"]
        result = cli(*args)
        return result.json()

    return run


# HBM of three GPUs: stacks, enabled share of the channels, interface clock (double data rate)
# and DRAM dies. Clocks: A100 whitepaper "1215 MHz DDR"; H100 and H200 from the driver's
# max_mem_clock_mhz in shared/data/measurements/h100-/h200-2026-11-26.json (2619, 3201 MHz).
A100_40GB = {"mem.hbm.n_stacks": 5, "mem.hbm.enabled_fraction": 1, "mem.hbm.io_clock": "1215 MHz",
             "mem.hbm.dies_per_stack": 8, "mem.hbm.die_capacity": "8 Gibit"}
H100_SXM5 = {"mem.hbm.n_stacks": 5, "mem.hbm.enabled_fraction": 1, "mem.hbm.io_clock": "2619 MHz",
             "mem.hbm.dies_per_stack": 8, "mem.hbm.die_capacity": "16 Gibit"}
# H200: six 8-high stacks of 24 Gbit dies (Micron HBM3E 24 GB), of which the driver enables a
# 6016-bit bus (memory_bus_width_bits in h200-2026-11-26.json): 6016 / 6144 = 47/48.
H200_SXM = {"mem.hbm.n_stacks": 6, "mem.hbm.enabled_fraction": 6016 / 6144, "mem.hbm.io_clock": "3201 MHz",
            "mem.hbm.dies_per_stack": 8, "mem.hbm.die_capacity": "24 Gibit"}


def test_hbm_bandwidth_from_stacks_pins_and_pin_rate(resolve):
    """Peak HBM bandwidth = stacks × pins per stack × bits per pin per second; the byte comes from
    the units (bit → byte), not from a hand factor.

    A100 40GB (A100 whitepaper: 40 GB HBM2, 1555 GB/s): 2 × 1215 MHz = 2.43 Gbit/s;
      5 × 1024 × 2.43 Gbit/s = 12,441.6 Gbit/s = 1555.2 GB/s.
    H100 SXM5 (H100 whitepaper Table 3: 5120-bit HBM3, 3,352 GB/s): 2 × 2619 MHz = 5.238 Gbit/s;
      5 × 1024 × 5.238 / 8 = 3352.3 GB/s.
    H200 (NVIDIA datasheet: 4.8 TB/s): 6 × 1024 × 47/48 = 6016 pins × 6.402 Gbit/s / 8 = 4814 GB/s.
    JEDEC HBM3 (JESD238 announcement): 6.4 Gbit/s per pin = "819 GB/s per device":
      1024 × 6.4 / 8 = 819.2 GB/s.
    """
    mismatches: list[str] = []
    check(mismatches, "A100 pin rate", resolve("mem.hbm.data_rate_per_pin", A100_40GB), 2.43, 1e-9)
    check(mismatches, "A100 1555 GB/s", resolve("mem.hbm.bw", A100_40GB), 1.555, 0.001)
    check(mismatches, "A100 exact", resolve("mem.hbm.bw", A100_40GB), 5 * 1024 * 2.43e9 / 8 / 1e12, 1e-9)
    check(mismatches, "H100 3352 GB/s", resolve("mem.hbm.bw", H100_SXM5), 3.352, 0.001)
    check(mismatches, "H200 4.8 TB/s", resolve("mem.hbm.bw", H200_SXM), 4.8, 0.005)
    check(mismatches, "H200 exact", resolve("mem.hbm.bw", H200_SXM), 6016 * 2 * 3201e6 / 8 / 1e12, 1e-9)
    check(mismatches, "H200 6016-bit bus", resolve("mem.hbm.bus_width_per_stack", H200_SXM) * 6, 6016, 1e-9)
    hbm3_stack = resolve("mem.hbm.bw", {"mem.hbm.n_stacks": 1, "mem.hbm.enabled_fraction": 1,
                                        "mem.hbm.data_rate_per_pin": "6.4 Gbit/s"})
    check(mismatches, "HBM3 819 GB/s per stack", hbm3_stack, 0.8192, 1e-9)
    assert not mismatches, mismatches


def test_hbm_capacity_from_stacks_and_dies(resolve):
    """DRAM densities are binary (a 16 Gb die is 2^34 bit), so NVIDIA's "GB" of HBM are GiB here.

    A100 40GB: 5 stacks × 8 dies × 8 Gibit = 40 GiB.  H100 SXM5 (whitepaper p.18: 5 HBM3 stacks,
    80 GB): 5 × 8 × 16 Gibit = 80 GiB.  H200 (datasheet: 141 GB): 6 × 8 × 24 Gibit = 144 GiB
    behind 47/48 enabled channels = 141 GiB (Micron: six 24 GB stacks, "141 GB accessible").
    Measured usable: H100 shows 85,017,493,504 byte = 79.18 GiB, H200 150,109,880,320 byte
    = 139.8 GiB (total_memory_bytes): reserves of 0.82 and 1.2 GiB.
    """
    mismatches: list[str] = []
    check(mismatches, "A100 40 GiB", resolve("mem.hbm.capacity", A100_40GB), 40, 1e-9)
    check(mismatches, "H100 80 GiB", resolve("mem.hbm.capacity", H100_SXM5), 80, 1e-9)
    check(mismatches, "H200 141 GiB", resolve("mem.hbm.capacity", H200_SXM), 141, 1e-9)
    check(mismatches, "Micron HBM3E 8-high 24 GB stack", resolve("mem.hbm.stack_capacity", H200_SXM), 24, 1e-9)
    for label, device, visible in (("H100", H100_SXM5, 85017493504), ("H200", H200_SXM, 150109880320)):
        nominal = resolve("mem.hbm.capacity", device) * GIB
        reserved = f"{nominal - visible} byte"
        usable = resolve("mem.hbm.capacity_usable", {**device, "mem.hbm.reserved": reserved})
        check(mismatches, f"{label} usable", usable * GIB, visible, 1e-9)
        if not 0.5 * GIB < nominal - visible < 1.5 * GIB:
            mismatches.append(f"{label} driver reserve {(nominal - visible) / GIB:.2f} GiB outside 0.5–1.5 GiB")
    assert not mismatches, mismatches


def test_achieved_bandwidth_from_device_copies(resolve):
    """Device-to-device copies of 4 GiB (device_copy, bytes read + written per second):
    H100 3016.9 GB/s of 3352 → 0.900; H200 4297.0 GB/s of 4814 → 0.893 (of the datasheet's
    4.8 TB/s: 0.895). 16 MiB copies fit in the L2 (50 MiB H100, l2_cache_bytes 52,428,800)
    and run faster than HBM (3771 GB/s on H100), which is why the fraction is taken at 4 GiB.
    """
    mismatches: list[str] = []
    for label, device, copy_gbps in (("H100", H100_SXM5, 3016.9), ("H200", H200_SXM, 4297.0)):
        peak = resolve("mem.hbm.bw", device)
        fraction = copy_gbps / 1000 / peak
        if not 0.85 < fraction < 0.95:
            mismatches.append(f"{label}: achieved fraction {fraction:.3f} outside 0.85–0.95")
        achieved = resolve("mem.hbm.bw_achieved", {**device, "mem.hbm.achieved_fraction": fraction})
        check(mismatches, f"{label} achieved", achieved, copy_gbps / 1000, 1e-9)
    assert not mismatches, mismatches


def test_format_widths_in_bytes(resolve):
    """Bits by IEEE 754 / bfloat16 / FP8 layout, bytes by units: 32, 16, 16, 8 bit = 4, 2, 2, 1 byte."""
    mismatches: list[str] = []
    for ident, expected in (("precision.format.fp32_bytes", 4), ("precision.format.fp16_bytes", 2),
                            ("precision.format.bf16_bytes", 2), ("precision.format.fp8_bytes", 1)):
        check(mismatches, ident, resolve(ident), expected, 1e-12)
    check(mismatches, "default gradient bytes", resolve("training.precision.gradient_bytes"), 2, 1e-12)
    check(mismatches, "default activation bytes", resolve("training.precision.activation_bytes"), 2, 1e-12)
    check(mismatches, "fp8 activations", resolve("training.precision.activation_bytes", select={
        "training.precision.activation_bytes": "precision.eq.activation_bytes_fp8"}), 1, 1e-12)
    assert not mismatches, mismatches


def test_mixed_precision_adam_model_states(resolve):
    """Rajbhandari et al. 2020 §3.1: mixed-precision Adam holds 2Ψ (fp16 weights) + 2Ψ (fp16
    gradients) + KΨ with K = 12 (fp32 master copy, momentum, variance) = 16Ψ bytes; a 1.5B-parameter
    model needs 24 GB of model states. The checkpoint keeps weights + optimizer state: 2 + 12 = 14.
    FP32 training with Adam: 4 + 4 + (0 + 2 × 4) = 16 as well, checkpoint 4 + 8 = 12.
    """
    mismatches: list[str] = []
    check(mismatches, "K = 12", resolve("precision.optimizer.state_bytes_per_param"), 12, 1e-12)
    check(mismatches, "GPT-2 1.5B: 24 GB", resolve("mem.model_states_per_gpu", {"par.params_per_gpu": 1.5e9}), 24, 1e-9)
    check(mismatches, "checkpoint 14 B/param", resolve("training.checkpoint.bytes_per_param"), 14, 1e-12)
    fp32 = {"precision.weight_bytes": "precision.eq.weight_bytes_fp32",
            "training.precision.gradient_bytes": "precision.eq.gradient_bytes_fp32",
            "precision.optimizer.master_weight_bytes": "precision.eq.master_weight_none"}
    check(mismatches, "fp32 Adam 16 B/param", resolve("mem.model_states_per_gpu", {"par.params_per_gpu": 1}, fp32)
          * GB, 16, 1e-9)
    check(mismatches, "fp32 checkpoint 12 B/param", resolve("training.checkpoint.bytes_per_param", select=fp32),
          12, 1e-12)
    assert not mismatches, mismatches


def test_zero_stages_figure_1(resolve):
    """Rajbhandari et al. 2020 Fig. 1: Ψ = 7.5B, N_d = 64, K = 12:
      baseline (2 + 2 + K)Ψ           = 16 × 7.5e9            = 120 GB
      P_os     2Ψ + 2Ψ + KΨ/N_d       = 30 + 90/64 = 31.41    → 31.4 GB
      P_os+g   2Ψ + (2 + K)Ψ/N_d      = 15 + 105/64 = 16.64   → 16.6 GB
      P_os+g+p (2 + 2 + K)Ψ/N_d       = 120/64 = 1.875        → 1.9 GB
    The figure rounds to 0.1 GB; the exact values are checked too.
    """
    psi, nd = 7.5e9, 64
    assign = {"par.params_per_gpu": psi, "par.dp.degree": nd}
    cases = [
        ("mem.eq.model_states_zero0", 120.0, 16 * psi / GB),
        ("mem.eq.model_states_zero1", 31.4, (4 * psi + 12 * psi / nd) / GB),
        ("mem.eq.model_states_zero2", 16.6, (2 * psi + 14 * psi / nd) / GB),
        ("mem.eq.model_states_zero3", 1.9, 16 * psi / nd / GB),
    ]
    mismatches: list[str] = []
    for equation, published, exact in cases:
        value = resolve("mem.model_states_per_gpu", assign, {"mem.model_states_per_gpu": equation})
        check(mismatches, f"{equation} exact", value, exact, 1e-9)
        if round(value, 1) != published:
            mismatches.append(f"{equation}: {value:.3f} GB does not round to the published {published} GB")
    assert not mismatches, mismatches


def test_optimizer_update_time_and_t_mem_bound(resolve):
    """Hand derivation. A fused Adam step reads master, m, v and gradient and writes master, m, v
    and the working weight: 2·12 + 2 + 2 = 28 bytes per parameter in mixed precision, and
    2·8 + 4 + 4 (+4 to read the fp32 weight) = 28 in fp32 training.

    The H200 calibration run gpt-1.3b (training-h200-calibration: 1,315,819,520 parameters, fp32
    parameters under bf16 autocast, fused AdamW, one GPU) at the measured 4297.0 GB/s:
    1.3158e9 × 28 / 4.297e12 = 8.57 ms per step (3% of its 289 ms step).
    With ZeRO-1 over 8 replicas the same update takes 1/8 of that.
    """
    params = 1315819520
    h200 = {**H200_SXM, "mem.hbm.achieved_fraction": 4297.0 / (6016 * 2 * 3201e6 / 8 / 1e9)}
    fp32 = {"precision.weight_bytes": "precision.eq.weight_bytes_fp32",
            "training.precision.gradient_bytes": "precision.eq.gradient_bytes_fp32",
            "precision.optimizer.master_weight_bytes": "precision.eq.master_weight_none"}
    expected = params * 28 / 4297.0e9
    mismatches: list[str] = []
    check(mismatches, "mixed traffic 28", resolve("precision.optimizer.traffic_per_param"), 28, 1e-12)
    check(mismatches, "mixed reads 14", resolve("precision.optimizer.read_bytes_per_param"), 14, 1e-12)
    check(mismatches, "fp32 reads 16", resolve("precision.optimizer.read_bytes_per_param", select=fp32), 16, 1e-12)
    check(mismatches, "fp32 traffic 28", resolve("precision.optimizer.traffic_per_param", select=fp32), 28, 1e-12)
    assign = {**h200, "par.params_per_gpu": params}
    check(mismatches, "gpt-1.3b update", resolve("precision.optimizer.update_time", assign, fp32), expected, 1e-9)
    t_mem = resolve("training.t_mem_bound", {**assign, "training.t_mem_bound_other": "0.010 s"}, fp32)
    check(mismatches, "t_mem_bound", t_mem, expected + 0.010, 1e-9)
    sharded = resolve("precision.optimizer.update_time", {**assign, "par.dp.degree": 8},
                      {**fp32, "precision.optimizer.params_updated_per_gpu": "precision.eq.params_updated_sharded"})
    check(mismatches, "ZeRO-1 over 8", sharded, expected / 8, 1e-9)
    assert not mismatches, mismatches


def test_t_mem_bound_reaches_step_time(resolve):
    """The optimizer update now sits in training.t_step: with compute 0.125 s (fixture numbers),
    no exposed communication and no idle share, t_step = 0.125 s + update + other.
    1e9 parameters × 28 B / (3.352 TB/s × 0.9) = 9.28 ms.
    """
    assign = {**H100_SXM5, "mem.hbm.achieved_fraction": 0.9, "par.params_per_gpu": 1e9,
              "training.t_mem_bound_other": "0 s", "training.t_compute": "0.125 s",
              "training.t_exposed_comm": "0 s", "training.overhead_fraction": 0}
    update = 1e9 * 28 / (5 * 1024 * 2 * 2619e6 / 8 * 0.9)
    mismatches: list[str] = []
    check(mismatches, "t_step", resolve("training.t_step", assign), 0.125 + update, 1e-9)
    assert not mismatches, mismatches


def test_fp8_scaling_overheads(resolve):
    """Transformer Engine delayed scaling (DelayedScaling amax_history_len = 1024; module/base.py:
    3 FP8 tensors per GEMM forward + 2 backward, each with fp32 scale, scale_inv and an fp32 amax
    history): (1024 + 2) × 4 = 4104 bytes per tensor, × 5 × 4 GEMMs = 82,080 bytes per layer;
    a stage of 12 layers holds 0.985 MB. Cached FP8 weight + transpose: 2 bytes per parameter.
    """
    assign = {"precision.fp8.gemms_per_layer": 4, "precision.fp8.weight_copies": 2,
              "par.pp.layers_per_stage": 12, "par.params_per_gpu": 1e9}
    fp8 = {"precision.fp8.overhead_per_gpu": "precision.eq.fp8_overhead_delayed_scaling"}
    mismatches: list[str] = []
    check(mismatches, "bytes per tensor", resolve("precision.fp8.meta_bytes_per_tensor"), 4104, 1e-12)
    check(mismatches, "meta per stage", resolve("precision.fp8.meta_bytes_per_gpu", assign), 12 * 82080 / 1e6, 1e-9)
    check(mismatches, "overhead", resolve("precision.fp8.overhead_per_gpu", assign, fp8),
          2.0 + 12 * 82080 / 1e9, 1e-9)
    check(mismatches, "bf16 default has none", resolve("precision.fp8.overhead_per_gpu") + 1.0, 1.0, 1e-12)
    # per-step cast of 1e9 bf16 weights to FP8 + transpose: (2 + 2) GB at 3.0 TB/s = 1.333 ms
    cast = {**assign, "mem.hbm.bw_achieved": "3.0 TB/s", "training.t_mem_bound_other": "0 s",
            "precision.optimizer.update_time": "0 s"}
    check(mismatches, "cast time", resolve("precision.fp8.weight_cast_time", cast), 4e9 / 3.0e12, 1e-9)
    check(mismatches, "t_mem_bound with FP8 casts", resolve("training.t_mem_bound", cast, {
        "training.t_mem_bound": "precision.eq.t_mem_bound_fp8"}), 4e9 / 3.0e12, 1e-9)
    assert not mismatches, mismatches


def test_8bit_optimizer_state(resolve):
    """Dettmers et al. 2022: Adam moments in 8 bits, block-wise quantized in blocks of 2048 with one
    fp32 normalization constant each: 1 + 4/2048 = 1.00195 bytes per moment, so with the fp32
    master copy K = 4 + 2 × 1.00195 = 6.0039 bytes instead of 12.
    """
    mismatches: list[str] = []
    k = resolve("precision.optimizer.state_bytes_per_param", {"precision.optimizer.quant_block_size": 2048},
                {"precision.optimizer.moment_bytes": "precision.eq.moment_bytes_int8_blockwise"})
    check(mismatches, "K with 8-bit moments", k, 4 + 2 * (1 + 4 / 2048), 1e-12)
    assert not mismatches, mismatches


def test_full_recompute_keeps_layer_input(resolve):
    """Korthikanti et al. 2022 Table 2 / §5: full recomputation keeps only the 16-bit layer input.
    GPT-3 175B (s = 2048, h = 12288, b = 1): 2 × 2048 × 12288 = 50.33 MB per layer; /t = 6.29 MB with
    sequence parallelism (t = 8), whose layer input is already split along the sequence.
    1F1B with p = 8 stages and m = 64 micro-batches stashes min(8, 64) = 8 micro-batches; interleaved
    with v = 3 chunks, 8·(1 + 7/24) = 10.33 (Korthikanti §4.2.3); with only m = 4 micro-batches, 4.
    """
    shape = {"arch.seq_len": 2048, "arch.d_model": 12288, "arch.micro_batch_size": 1, "par.tp.degree": 8,
             "training.precision.activation_bytes": "2 byte"}
    mismatches: list[str] = []
    check(mismatches, "2sbh", resolve("mem.activation_checkpoint_bytes_per_layer", {**shape, "par.sp.enabled": 0}),
          2 * 2048 * 12288 / 1e6, 1e-9)
    check(mismatches, "2sbh/t", resolve("mem.activation_checkpoint_bytes_per_layer", {**shape, "par.sp.enabled": 1}),
          2 * 2048 * 12288 / 8 / 1e6, 1e-9)
    for label, v, m, expected in (("1F1B", 1, 64, 8), ("interleaved", 3, 64, 8 * (1 + 7 / 24)),
                                  ("m < p", 3, 4, 4)):
        check(mismatches, f"in flight, {label}", resolve("mem.pp.microbatches_in_flight", {
            "par.pp.degree": 8, "par.pp.n_microbatches": m, "par.pp.virtual_stages": v}), expected, 1e-12)
    assert not mismatches, mismatches


def test_cited_layouts_fit_and_one_gpu_does_not(cli):
    """`resolve mem.ineq.fits_in_hbm` on the cited layouts, and on Llama 3.1 405B squeezed onto one GPU.
    Llama 3.1 405B (TP 8, PP 16, DP 128, m = 16, no recomputation, Dubey §3.3.2): activations
    532,676,608 B × 126 layers (L/p × p in flight) = 67.1 GB; ZeRO-2 states 405e9/128 × (2 + (4 + 12)/128)
    = 6.72 GB; + 2 GB workspace, / 0.95 → 79.8 GB ≤ 79.18 GiB = 85.0 GB usable. BLOOM-176B (TP 4, PP 12,
    full recomputation) keeps 8.2 GB of layer inputs beside 27.5 GB of ZeRO-1 states. On one GPU the
    405B model's states alone, 405e9 × 18 B = 7.3 TB, cannot fit: exit 1, violated.
    """
    outcomes = {}
    for label, args in (("llama", ["--preset", "runs.llama3_405b_h100"]),
                        ("bloom", ["--preset", "runs.bloom_176b_a100"]),
                        ("llama on one GPU", ["--preset", "runs.llama3_405b_h100", "--assign", "par.tp.degree=1",
                                              "--assign", "par.pp.degree=1", "--assign", "par.dp.degree=1"])):
        result = cli("resolve", "mem.ineq.fits_in_hbm", "--constraints", "--json", *args)
        data = result.json()
        outcomes[label] = (result.exit_code, data["kind"], data["constraints"][0]["id"],
                           data["constraints"][0]["status"])
    assert outcomes == {"llama": (0, "constraint", "mem.ineq.fits_in_hbm", "ok"),
                        "bloom": (0, "constraint", "mem.ineq.fits_in_hbm", "ok"),
                        "llama on one GPU": (1, "constraint", "mem.ineq.fits_in_hbm", "violated")}, outcomes


@pytest.mark.parametrize("run", ["korthikanti2022_22b_selective", "korthikanti2022_175b_full",
                                 "korthikanti2022_530b_selective", "korthikanti2022_1t_full",
                                 "narayanan2021_1_7b", "narayanan2021_145_6b", "narayanan2021_1t",
                                 "llama2_70b_a100"])
def test_the_validation_runs_fit_in_hbm(run, resolve_data):
    """The layouts the Megatron-LM papers and Llama 2 ran fit their GPUs under the memory model."""
    data = resolve_data("mem.ineq.fits_in_hbm", presets=(f"runs.{run}",), flags=("--constraints",))
    assert [(c["id"], c["status"]) for c in data["constraints"] if c["id"] == "mem.ineq.fits_in_hbm"] == \
        [("mem.ineq.fits_in_hbm", "ok")]


# A GPU whose pieces are given directly (GB): 40 of model states, 60 of activations of which 10
# remain when every layer is recomputed, no FP8, no workspace, no fragmentation, 80 GB usable.
TIGHT = {"mem.model_states_per_gpu": "40 GB", "mem.activation_bytes_per_gpu": "60 GB",
         "mem.activation_checkpoint_bytes_per_gpu": "10 GB", "mem.workspace_bytes": "0 GB",
         "mem.fragmentation_fraction": 0, "mem.hbm.capacity_usable": "80 GB"}


def test_recompute_share_from_memory(resolve, resolve_json):
    """Hand derivation. Required 40 + 60 = 100 GB against 80 usable: 20 GB must go; recomputing
    all layers frees 60 − 10 = 50 GB, so f = 20/50 = 0.4 and the executed FLOPs grow by f/3:
    recompute overhead 1 + 0.4/3 = 1.1333. With 120 GB usable nothing is recomputed; with 40 GB
    even full recomputation (50 GB left) does not fit: f = 1 and mem.ineq.fits_in_hbm is violated.
    """
    mismatches: list[str] = []
    check(mismatches, "f = 0.4", resolve("training.recompute.layer_fraction", TIGHT), 0.4, 1e-9)
    check(mismatches, "overhead", resolve("training.recompute_overhead", TIGHT), 1 + 0.4 / 3, 1e-9)
    roomy = {**TIGHT, "mem.hbm.capacity_usable": "120 GB"}
    check(mismatches, "fits: f = 0", resolve("training.recompute.layer_fraction", roomy) + 1, 1, 1e-12)
    small = {**TIGHT, "mem.hbm.capacity_usable": "40 GB"}
    check(mismatches, "too small: f = 1", resolve("training.recompute.layer_fraction", small), 1, 1e-12)
    for label, case, expected in (("tight", TIGHT, "ok"), ("small", small, "violated")):
        data = resolve_json("training.recompute.layer_fraction", case, None, "--constraints")
        status = {c["id"]: c["status"] for c in data["constraints"]}.get("mem.ineq.fits_in_hbm")
        if status != expected:
            mismatches.append(f"{label}: mem.ineq.fits_in_hbm is {status!r}, expected {expected!r}")
    assert not mismatches, mismatches


def test_memory_chain_gpt3_on_h100(resolve):
    """End to end through the architecture area (Korthikanti et al. 2022, Table 2, sequence parallel
    with selective recompute: 34·s·b·h/t bytes per layer) for GPT-3 175B on H100 SXM5, t = 8, p = 8,
    d = 8, b = 1, m = 64, ZeRO-1:
      Ψ = 175e9/64 = 2.734e9; states 2.734e9 × (2 + 2 + 12/8) = 15.04 GB
      activations 34 × 2048 × 1 × 12288 / 8 × 12 layers × 8 in flight = 10.27 GB
      workspace 2 GB, no fragmentation → required 27.3 GB < 80 GiB − 0.82 GiB: f = 0.
    Without sequence parallelism or selective recompute (Eq. (2), the tensor-parallel form:
    sbh(10 + 24/t + 5as/(ht)) = 2048·12288·(13 + 5·96·2048/(12288·8)) = 2048·12288·23 B = 578.8 MB per
    layer) the activations are 55.6 GB, required 72.6 GB, still inside 78.4 GiB (84.2 GB): f = 0.
    """
    assign = {**H100_SXM5, "mem.hbm.reserved": "0.82 GiB", "arch.params_total_dense": 175e9,
              "par.tp.degree": 8, "par.pp.degree": 8, "par.dp.degree": 8, "par.pp.n_microbatches": 64,
              "arch.n_layers": 96, "arch.d_model": 12288, "arch.n_heads": 96, "arch.seq_len": 2048,
              "arch.micro_batch_size": 1, "mem.workspace.runtime_bytes": "1 GB",
              "mem.workspace.comm_buffer_bytes": "1 GB", "mem.fragmentation_fraction": 0}
    assign.update({"arch.d_ff": 4 * 12288, "arch.dropout.enabled": 1, "training.precision.activation_bytes": "2 byte",
                   "par.sp.enabled": 1, "training.recompute.selective": 1, "kernel.attention.flash": 0,
                   "par.pp.virtual_stages": 1})
    select = {"mem.model_states_per_gpu": "mem.eq.model_states_zero1",
              "arch.mlp.n_matrices": "arch.eq.mlp_matrices_plain"}
    psi = 175e9 / 64
    states = psi * (2 + 2 + 12 / 8)
    acts = 34 * 2048 * 12288 / 8 * 12 * 8
    mismatches: list[str] = []
    check(mismatches, "required", resolve("mem.required_per_gpu", assign, select), (states + acts + 2e9) / GB, 1e-9)
    check(mismatches, "f", resolve("training.recompute.layer_fraction", assign, select) + 1, 1, 1e-12)
    tp_only = {**assign, "par.sp.enabled": 0, "training.recompute.selective": 0}
    acts_tp = 2048 * 12288 * (10 + 24 / 8 + 5 * 96 * 2048 / (12288 * 8)) * 12 * 8
    check(mismatches, "required (TP only)", resolve("mem.required_per_gpu", tp_only, select),
          (states + acts_tp + 2e9) / GB, 1e-9)
    assert not mismatches, mismatches


def test_hardware_packs_memory_blocks(resolve_json):
    """The memory blocks of the hardware packs reproduce their sources.

    Cited: H100 SXM5 3,352 GB/s and 80 GB (whitepaper Table 3, p.18); H200 4.8 TB/s and 141 GB
    (datasheet) on six 24 GB stacks (Micron); A100 80GB 2,039 GB/s and 80 GB (datasheet).
    Measured (h100-/h200-2026-11-26.json): 4 GiB device copies 3016.9 and 4297.0 GB/s; visible memory
    85,017,493,504 and 150,109,880,320 bytes; L2 52,428,800 and 62,914,560 bytes.
    """
    cases = [
        ("hardware.h100_sxm", "mem.hbm.bw", 3.352), ("hardware.h100_sxm", "mem.hbm.capacity", 80),
        ("hardware.h100_sxm", "mem.l2.capacity", 50),
        ("hardware.h200_sxm", "mem.hbm.bw", 4.8), ("hardware.h200_sxm", "mem.hbm.capacity", 141),
        ("hardware.a100_sxm4_80gb", "mem.hbm.bw", 2.039), ("hardware.a100_sxm4_80gb", "mem.hbm.capacity", 80),
        ("hardware.h100_sxm_measured", "mem.hbm.bw_achieved", 3.0169),
        ("hardware.h200_sxm_measured", "mem.hbm.bw_achieved", 4.297),
        ("hardware.h100_sxm_measured", "mem.hbm.capacity_usable", 85017493504 / GIB),
        ("hardware.h200_sxm_measured", "mem.hbm.capacity_usable", 150109880320 / GIB),
        ("hardware.h100_sxm_measured", "mem.l2.capacity", 52428800 / 2**20),
        ("hardware.h200_sxm_measured", "mem.l2.capacity", 62914560 / 2**20),
    ]
    mismatches: list[str] = []
    for preset, target, expected in cases:
        data = resolve_json(target, None, None, "--preset", preset)
        if data["status"] != "ok":
            mismatches.append(f"{preset} {target}: {data['status']} {data.get('missing')}")
            continue
        check(mismatches, f"{preset} {target}", data["value"], expected, 1e-6)
    assert not mismatches, mismatches


def test_megatron_fp16_optimizer_step(resolve_data):
    """Megatron-LM's FP16 step (megatron/optimizer/optimizer.py at the SC21 scripts' commit) around the fused Adam
    update, with the 16-bit gradient buffer: copy to fp32 main gradients (2 + 4), unscale and check (4 + 4), the
    clipping norm (4), re-read the master weights for the copy into the 16-bit weights (4), zero the buffer (2):
    24 bytes on top of the update's 28, over every parameter the GPU holds (no distributed optimizer)."""
    def value(target: str) -> float:
        return resolve_data(target, presets=("runs.korthikanti2022_22b_selective",))["value"]
    assert value("precision.optimizer.side_pass_bytes_per_param") == pytest.approx(24)
    expected = value("par.params_per_gpu") * (28 + 24) / (value("mem.hbm.bw_achieved") * 1e12)  # TB/s → B/s
    assert value("precision.optimizer.update_time") == pytest.approx(expected, rel=1e-9)
