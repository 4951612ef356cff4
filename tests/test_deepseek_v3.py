"""DeepSeek-V3 on 2,048 H800s end to end: MoE and MLA shapes, expert parallelism, and the run pack through the CLI."""

import re

import pytest


def _resolve_json(cli, target: str, *presets: str) -> dict:
    args = ["resolve", target, "--json"]
    for preset in presets:
        args += ["--preset", preset]
    result = cli(*args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


def _value(cli, target: str, *presets: str) -> float:
    return _resolve_json(cli, target, *presets)["value"]


def test_tokens_per_sec_resolves_with_nothing_missing(cli):
    """Acceptance (issue 10): the run pack answers training.tokens_per_sec with no missing root."""
    result = cli("resolve", "training.tokens_per_sec", "--preset", "runs.deepseek_v3_h800", "--missing")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "missing roots: none" in result.stdout


def test_parameter_counts_match_the_paper(cli):
    """§4.2: 671B total and 37B active parameters, from the shape (MLA attention, 58 MoE layers of 256 + 1 experts)."""
    total = _value(cli, "arch.params_total_dense", "runs.deepseek_v3_h800")
    active = _value(cli, "arch.params_active", "runs.deepseek_v3_h800")
    assert total == pytest.approx(671e9, rel=0.005)
    assert active == pytest.approx(37e9, rel=0.03)


def test_mla_attention_weights_per_layer(cli):
    """Eqs. (1)–(11) with DeepSeek-V3's dims: 7168·1536 + 1536·128·192 + 7168·576 + 512·128·256 + 128·128·7168 + 2048."""
    expected = 7168 * 1536 + 1536 * 128 * 192 + 7168 * (512 + 64) + 512 * 128 * 256 + 128 * 128 * 7168 + 1536 + 512
    assert _value(cli, "arch.params.attention_weights_per_layer", "runs.deepseek_v3_h800") == expected


def test_expert_parallelism_shards_the_experts(cli):
    """PP 16 and EP 64 leave about 1.7B parameters per GPU: dense weights / 16 plus routed experts / (16 · 64)."""
    per_gpu = _value(cli, "par.params_per_gpu", "runs.deepseek_v3_h800")
    total = _value(cli, "arch.params_total_dense", "runs.deepseek_v3_h800")
    routed = _value(cli, "arch.moe.routed_expert_params", "runs.deepseek_v3_h800")
    assert routed == 58 * 256 * 3 * 7168 * 2048
    assert per_gpu == pytest.approx((total - routed) / 16 + routed / (16 * 64))


def test_all_to_all_crosses_the_network_once_per_target_node(cli):
    """Node-limited routing (§3.2.2): 3.5 copies per token leave the node (4 nodes × 7/8), not 7 (8 experts × 7/8)."""
    copies = _value(cli, "col.all_to_all.remote_copies_per_token", "runs.deepseek_v3_h800")
    assert copies == pytest.approx(4 * 7 / 8)


def test_all_to_all_hidden_by_the_schedule(cli):
    """With DualPipe's full overlap (§3.2.1) the all-to-all is nonzero but none of it is exposed."""
    assert _value(cli, "par.ep.comm_time", "runs.deepseek_v3_h800") > 0
    assert _value(cli, "par.ep.exposed_comm_time", "runs.deepseek_v3_h800") == 0


def test_dense_runs_keep_no_expert_traffic(cli):
    """The defaults leave dense runs without all-to-all."""
    assert _value(cli, "par.ep.exposed_comm_time", "runs.llama3_405b_h100") == 0


def _run_value(resolve_data, target: str, assign: dict[str, object] | None = None) -> float:
    return resolve_data(target, assign, None, ("runs.deepseek_v3_h800",))["value"]


def test_sms_kept_for_communication_slow_the_compute_kernels(resolve_data):
    """§3.2.2: 20 SMs run the all-to-all kernels, so the GEMM and attention kernels get 112 of the 132 SMs."""
    work = _run_value(resolve_data, "kernel.step.tensor_work")
    peak = _run_value(resolve_data, "gpu.peak_flops_power_limited") * 1e12  # TFLOP/s → FLOP/s
    n_sms = _run_value(resolve_data, "gpu.n_sms")
    comm_sms = _run_value(resolve_data, "par.ep.comm_sms")
    assert comm_sms == 20
    assert _run_value(resolve_data, "kernel.step.tensor_time") == pytest.approx(work / peak * n_sms / (n_sms - comm_sms), rel=1e-6)


def test_multi_token_prediction_adds_a_block_and_a_head_pass(resolve_data):
    """§2.2, §4.2 (depth 1): the module adds one averaged Transformer block spread over the 16 stages and one head pass."""
    with_mtp = _run_value(resolve_data, "kernel.step.tensor_work")
    without = _run_value(resolve_data, "kernel.step.tensor_work", {"arch.mtp.depth": 0})
    twice = _run_value(resolve_data, "kernel.step.tensor_work", {"arch.mtp.depth": 2})
    n_microbatches = _run_value(resolve_data, "par.pp.n_microbatches")
    head = _run_value(resolve_data, "kernel.gemm.lm_head.flops") * sum(
        1 / _run_value(resolve_data, f"kernel.gemm.lm_head.{kind}")
        for kind in ("efficiency", "dgrad_efficiency", "wgrad_efficiency"))
    # Without the module: n_mb·(61/16·layer + head); each module adds n_mb·(layer/16 + head).
    layer = (without / n_microbatches - head) * 16 / 61
    assert with_mtp - without == pytest.approx(n_microbatches * (layer / 16 + head), rel=1e-6)
    assert twice - without == pytest.approx(2 * (with_mtp - without), rel=1e-6)


def test_layout_fits_in_hbm(cli):
    """Acceptance (issue 10): the published layout fits in the H800's 80 GB once the pack's memory follows the
    report: ZeRO-1 (§3.2), BF16 moments (§3.3.3), DualPipe's 2× parameters and PP + 1 micro-batches (Table 2),
    RMSNorm and MLA up-projection recomputation (§3.2.3) and FP8-cached Linear inputs (§3.3.3)."""
    result = cli("resolve", "mem.ineq.fits_in_hbm", "--preset", "runs.deepseek_v3_h800", "--constraints",
                 "--fail-on-violation")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "violated" not in result.stdout


def test_model_states_follow_zero1_with_expert_parallel_shards(cli):
    """Weights (BF16) and FP32 gradients twice over under DualPipe; the 8 bytes of optimizer state (FP32 master,
    two BF16 moments) of the stage's 671B/16 parameters spread over its 128 GPUs, experts included: a routed
    expert's states are split over its dp/ep = 2 expert-data-parallel GPUs, not 128."""
    per_gpu = _value(cli, "par.params_per_gpu", "runs.deepseek_v3_h800")
    total = _value(cli, "arch.params_total_dense", "runs.deepseek_v3_h800")
    shard = _value(cli, "par.dp.shard_params_per_gpu", "runs.deepseek_v3_h800")
    assert shard == pytest.approx(total / (16 * 128))
    states = _value(cli, "mem.model_states_per_gpu", "runs.deepseek_v3_h800")  # GB
    assert states * 1e9 == pytest.approx(2 * per_gpu * (2 + 4) + shard * (4 + 2 + 2), rel=1e-9)


def test_activations_per_token_follow_the_report(cli):
    """Bytes one layer keeps per token, counted by hand from §3.2.3 and §3.3.3 (FP8 = 1 + 4/128 bytes with the
    1×128 tile scale, E5M6 = 1.5 + 4/128): MLA latents 2,112 × 2 + attention output 16,384 in E5M6 + 128 fp32
    log-sum-exps; two norm inputs 2 × 7,168 × 2; per MoE layer 8 dispatched FP8 inputs of 7,168, FP8 SwiGLU inputs
    2 × (8 + 1) × 2,048 and 256 fp32 affinities, per dense layer (3 of 61) 16-bit SwiGLU inputs 2 × 18,432 and
    the FP8 down-projection input."""
    fp8, e5m6 = 1 + 4 / 128, 1.5 + 4 / 128
    attention = 2112 * 2 + 128 * 128 * e5m6 + 128 * 4
    norms = 2 * 7168 * 2
    moe = 8 * 7168 * fp8 + 2 * (8 * 2048 + 2048) * fp8 + 256 * 4
    dense = 18432 * (2 * 2 + fp8)
    per_token = attention + norms + (58 * moe + 3 * dense) / 61
    per_layer = _value(cli, "arch.activation_memory_per_layer", "runs.deepseek_v3_h800")
    assert per_layer == pytest.approx(4096 * per_token, rel=1e-9)
    assert _value(cli, "mem.pp.microbatches_in_flight", "runs.deepseek_v3_h800") == 17


def test_dense_runs_keep_one_parameter_copy(cli):
    """The DualPipe memory terms stay off elsewhere: Llama 3.1 405B's model states are ZeRO-2's, unchanged."""
    assert _value(cli, "par.pp.parameter_copies", "runs.llama3_405b_h100") == 1
    per_gpu = _value(cli, "par.params_per_gpu", "runs.llama3_405b_h100")
    assert _value(cli, "par.dp.shard_params_per_gpu", "runs.llama3_405b_h100") == pytest.approx(per_gpu / 128)


def test_memory_check_reads_in_gigabytes(cli):
    """The constraint table shows both sides in the left side's declared unit (GB), not in SI base bits;
    the JSON keeps SI base units and names the unit."""
    table = cli("resolve", "mem.ineq.fits_in_hbm", "--preset", "runs.deepseek_v3_h800", "--constraints").stdout
    required = _value(cli, "mem.required_per_gpu", "runs.deepseek_v3_h800")
    assert re.search(rf"\bok\s+{required:.2f}\s+85\.02\s+GB\b", table), table
    data = cli("resolve", "mem.ineq.fits_in_hbm", "--preset", "runs.deepseek_v3_h800", "--constraints", "--json").json()
    check = next(c for c in data["constraints"] if c["id"] == "mem.ineq.fits_in_hbm")
    assert check["unit"] == "GB" and check["lhs"] == pytest.approx(_value(cli, "mem.required_per_gpu",
                                                                          "runs.deepseek_v3_h800") * 8e9)
