"""Model architecture registry (arch.*): parameter counts from shape, MoE, FLOPs, activation memory.

Every test resolves through the public CLI (`gpu-stack resolve … --json`) and compares with a
published figure or an exact count written next to it, with the hand derivation in a comment.
Mismatches are collected and asserted once per test.
"""

from __future__ import annotations


from conftest import check

# GPT-2/3-style block (openai/gpt-2 src/model.py; Brown et al. 2020 §2.1 "same model and
# architecture as GPT-2"): plain 4d GELU MLP, learned positions, head tied to the token
# embedding, biases on every projection, LayerNorm with gain and bias.
GPT_STYLE = {
    "arch.mlp.n_matrices": "arch.eq.mlp_matrices_plain",
    "arch.params.position_embedding": "arch.eq.position_params_learned",
    "arch.params.lm_head": "arch.eq.lm_head_tied",
    "arch.params.attention_biases_per_layer": "arch.eq.attention_biases_all",
    "arch.params.mlp_biases_per_layer": "arch.eq.mlp_biases",
    "arch.norm.params_per_norm": "arch.eq.norm_params_layernorm",
}


def gpt_shape(layers: int, d_model: int, heads: int, seq_len: int, vocab: int) -> dict[str, object]:
    return {"arch.n_layers": layers, "arch.d_model": d_model, "arch.n_heads": heads,
            "arch.seq_len": seq_len, "arch.vocab_size": vocab, "arch.mlp.expansion_ratio": 4}


def gpt_params(layers: int, d: int, seq_len: int, vocab: int) -> int:
    """Hand count: V·d + T·d + L·(12d² + 13d) + 2d (final LayerNorm)."""
    return vocab * d + seq_len * d + layers * (12 * d * d + 13 * d) + 2 * d


def test_gpt2_small_and_calibration_models_exact(resolve):
    """Exact parameter counts of GPT-style models, biases included.

    GPT-2 small (openai/gpt-2 src/model.py hparams, Radford et al. 2019 §2.3): L 12, d 768,
    12 heads, V 50,257, 1024 positions, tied head:
      38,597,376 (wte) + 786,432 (wpe) + 12 × 7,087,872 (per block: 12d² + 13d) + 1,536 (ln_f)
      = 124,439,808 — the released checkpoint (the paper's Table 2 says "117M").
    The H200 calibration models (shared/data measurements, vocab 50,304, same block):
      gpt-125m: 12 × 768, s 1024  → params_incl_embeddings 124,475,904
      gpt-1.3b: 24 × 2048, s 2048 → params_incl_embeddings 1,315,819,520
    """
    cases = [
        ("GPT-2 small", gpt_shape(12, 768, 12, 1024, 50257), 124_439_808),
        ("calibration gpt-125m", gpt_shape(12, 768, 12, 1024, 50304), 124_475_904),
        ("calibration gpt-1.3b", gpt_shape(24, 2048, 16, 2048, 50304), 1_315_819_520),
    ]
    mismatches: list[str] = []
    for label, shape, expected in cases:
        hand = gpt_params(shape["arch.n_layers"], shape["arch.d_model"], shape["arch.seq_len"], shape["arch.vocab_size"])
        assert hand == expected, (label, hand)
        value = resolve("arch.params_total_dense", shape, GPT_STYLE)
        if value != expected:
            mismatches.append(f"{label}: got {value!r}, expected exactly {expected}")
    # 50,304 is the GPT-2 vocabulary padded to a multiple of 64 (nanoGPT): ceil(50257/64) × 64
    padded = resolve("arch.params_total_dense", {**gpt_shape(12, 768, 12, 1024, 50257), "arch.vocab_pad_multiple": 64},
                     {**GPT_STYLE, "arch.vocab_size_padded": "arch.eq.vocab_padded"})
    if padded != 124_475_904:
        mismatches.append(f"GPT-2 vocabulary padded to 64: got {padded!r}, expected 124,475,904")
    assert not mismatches, mismatches


def test_calibration_flops_and_mfu_from_shape(resolve):
    """The calibration file's model FLOPs per token, 6N + 12·L·d·s with N all parameters, is the
    attention alternative fed by the shape-derived N:
      gpt-125m: 6 × 124,475,904 + 12 × 12 × 768 × 1024 = 746,855,424 + 113,246,208 = 860,101,632
      gpt-1.3b: 6 × 1,315,819,520 + 12 × 24 × 2048 × 2048 = 7,894,917,120 + 1,207,959,552 = 9,102,876,672
    and its MFU against 989.4 TFLOP/s is the headline training.mfu on one GPU:
      351,120.118 token/s × 860,101,632 / 989.4e12 = 0.305234; 56,650.585 × 9,102,876,672 / 989.4e12 = 0.521208.
    """
    attention = {"arch.flops_per_token": "arch.eq.flops_per_token_attention"}
    cases = [
        ("gpt-125m", gpt_shape(12, 768, 12, 1024, 50304), 860_101_632, 351120.11816692154, 0.30523447206731563),
        ("gpt-1.3b", gpt_shape(24, 2048, 16, 2048, 50304), 9_102_876_672, 56650.58528743948, 0.5212080970974118),
    ]
    mismatches: list[str] = []
    for label, shape, flops, tokens_per_s, mfu in cases:
        value = resolve("arch.flops_per_token", shape, {**GPT_STYLE, **attention})
        if value != flops:
            mismatches.append(f"{label} FLOP/token: got {value!r}, expected exactly {flops}")
        assign = {**shape, "training.tokens_per_sec": f"{tokens_per_s} token/s", "par.n_gpus": 1,
                  "gpu.peak_flops": "989.4 TFLOP/s"}
        check(mismatches, f"{label} MFU", resolve("training.mfu", assign, {**GPT_STYLE, **attention}), mfu, 1e-9)
    assert not mismatches, mismatches


def test_gpt3_table_2_1_and_megatron_closed_form(resolve):
    """GPT-3 (Brown et al. 2020 Table 2.1, n_ctx 2048 from §2.1, GPT-2 vocabulary 50,257):
      175B: 96 layers, d 12288, 96 heads → 50257·12288 + 2048·12288 + 96·(12·12288² + 13·12288) + 2·12288
            = 174,604,259,328 ≈ "175.0B" (0.23% below: the table rounds).
      Small: 12 × 768 → 125,226,240 ≈ "125M"; XL: 24 × 2048 (24 heads) → 1,315,723,264 ≈ "1.3B".
    Narayanan et al. 2021 §5.1 Eq. (2), P = 12lh²(1 + 13/(12h) + (V+s)/(12lh)), with their padded
    V = 51,200: 96·(12h² + 13h) + (51200 + 2048)·h = 174,615,822,336 — Table 2's "174.6B". It
    omits the final LayerNorm, so the shape count with the same V is exactly 2h = 24,576 larger.
    51,200 is 50,257 padded the Megatron way to make_vocab_size_divisible_by 128 × t 8 = 1024.
    """
    mismatches: list[str] = []
    gpt3 = gpt_shape(96, 12288, 96, 2048, 50257)
    full = resolve("arch.params_total_dense", gpt3, GPT_STYLE)
    if full != gpt_params(96, 12288, 2048, 50257):
        mismatches.append(f"GPT-3 hand count: got {full!r}")
    check(mismatches, "GPT-3 175.0B", full, 175.0e9, 0.005)
    small = resolve("arch.params_total_dense", gpt_shape(12, 768, 12, 2048, 50257), GPT_STYLE)
    xl = resolve("arch.params_total_dense", gpt_shape(24, 2048, 24, 2048, 50257), GPT_STYLE)
    if (round(small / 1e6), round(xl / 1e8) / 10) != (125, 1.3):
        mismatches.append(f"GPT-3 Small / XL: got {small!r} / {xl!r}, published 125M / 1.3B")
    padded = {**gpt3, "arch.vocab_pad_multiple": 128 * 8}
    pad = {"arch.vocab_size_padded": "arch.eq.vocab_padded"}
    if resolve("arch.vocab_size_padded", padded, pad) != 51200:
        mismatches.append("50,257 padded to a multiple of 1024 is not 51,200")
    megatron = resolve("arch.params_total_dense", padded, {**pad, "arch.params_total_dense": "arch.eq.params_megatron"})
    check(mismatches, "Megatron Eq. (2)", megatron, 174_615_822_336, 1e-12)
    if round(megatron / 1e8) / 10 != 174.6:
        mismatches.append(f"Megatron Eq. (2): {megatron!r} is not Table 2's 174.6B")
    shape = resolve("arch.params_total_dense", padded, {**GPT_STYLE, **pad})
    if shape != 174_615_822_336 + 2 * 12288:
        mismatches.append(f"shape count with V = 51,200: got {shape!r}, expected Eq. (2) + 2h")
    assert not mismatches, mismatches


def test_llama3_405b_from_table_3(resolve):
    """Llama 3.1 405B (Dubey et al. 2024 Table 3: 126 layers, d 16,384, FFN 53,248, 128 heads,
    8 KV heads; released config meta-llama/llama-models sku_list.py: vocab 128,256,
    ffn_dim_multiplier 1.2, multiple_of 4096), Llama defaults: SwiGLU, RMSNorm, rotary, no
    biases, untied head.
      d_ff = 4096 · ceil(int(1.2 · int(8·16384/3)) / 4096) = 4096 · ceil(52428/4096) = 53,248
      (8B: 4096, 1.3, 1024 → 14,336; 70B: 8192, 1.3, 4096 → 28,672, as in Table 3)
      attention 2·16384² + 2·16384·1024 = 570,425,344; MLP 3·16384·53248 = 2,617,245,696; norms 32,768
      126 × 3,187,703,808 + 2 × 128,256 × 16,384 + 16,384 = 405,853,388,800 ≈ 405.9e9 ("405B").
    Dubey et al. §1: 3.8e25 FLOPs over 15.6T tokens = 6·N·D with this N (3.799e25); against the
    30.84M H100-hours of the Llama 3.1 model card at 989 TFLOP/s that is a run MFU of 0.346.
    """
    llama = {"arch.n_layers": 126, "arch.d_model": 16384, "arch.n_heads": 128, "arch.n_kv_heads": 8,
             "arch.vocab_size": 128256, "arch.mlp.ffn_dim_multiplier": 1.2, "arch.mlp.multiple_of": 4096}
    rule = {"arch.d_ff": "arch.eq.d_ff_llama"}
    mismatches: list[str] = []
    for d_model, multiplier, multiple_of, d_ff in [(4096, 1.3, 1024, 14336), (8192, 1.3, 4096, 28672),
                                                   (16384, 1.2, 4096, 53248)]:
        value = resolve("arch.d_ff", {"arch.d_model": d_model, "arch.mlp.ffn_dim_multiplier": multiplier,
                                      "arch.mlp.multiple_of": multiple_of}, rule)
        if value != d_ff:
            mismatches.append(f"d_ff for d_model {d_model}: got {value!r}, Table 3 says {d_ff}")
    attention = resolve("arch.params.attention_weights_per_layer", llama)
    if attention != 570_425_344:
        mismatches.append(f"GQA attention weights: got {attention!r}, expected 570,425,344")
    params = resolve("arch.params_total_dense", llama, rule)
    if params != 405_853_388_800:
        mismatches.append(f"405B: got {params!r}, expected exactly 405,853,388,800")
    check(mismatches, "405B vs 405.9e9", params, 405.9e9, 2e-4)
    run = {**llama, "training.total_tokens": "15.6e12 token", "training.gpu_hours": "30.84e6 hour",
           "gpu.peak_flops": "989 TFLOP/s"}
    check(mismatches, "6ND vs 3.8e25", resolve("training.flops_total", run, rule), 3.8e25, 0.005)
    mfu = 6 * 405_853_388_800 * 15.6e12 / (30.84e6 * 3600 * 989e12)
    check(mismatches, "run MFU", resolve("training.mfu_run", run, rule), mfu, 1e-9)
    if round(mfu, 3) != 0.346:
        mismatches.append(f"run MFU {mfu:.4f} is not 0.346")
    assert not mismatches, mismatches


def test_mixtral_total_and_active_parameters(resolve):
    """Mixtral 8x7B (Jiang et al. 2024 Table 1: d 4096, 32 layers, 32 heads, 8 KV heads, vocab
    32,000, 8 SwiGLU experts of 14,336, top-2; abstract: 47B parameters, 13B active):
      attention 2·4096² + 2·4096·1024 = 41,943,040; norms 8,192; expert 3·4096·14336 = 176,160,768;
      router 4096·8 = 32,768; embeddings 2 × 32,000 × 4,096 (untied) = 262,144,000; final norm 4,096
      total  = 32 × (41,943,040 + 8,192 + 8 × 176,160,768 + 32,768) + 262,148,096 = 46,702,792,704
      active = 32 × (41,943,040 + 8,192 + 2 × 176,160,768 + 32,768) + 262,148,096 = 12,879,925,248
    and 6·N_active = 77,279,551,488 FLOP/token with the MoE alternative.
    """
    mixtral = {"arch.n_layers": 32, "arch.d_model": 4096, "arch.n_heads": 32, "arch.n_kv_heads": 8,
               "arch.vocab_size": 32000, "arch.d_ff": 14336, "arch.moe.n_experts": 8, "arch.moe.top_k": 2,
               "arch.moe.d_ff_expert": 14336}
    moe = {"arch.params_total_dense": "arch.eq.params_from_shape_moe",
           "arch.flops_per_token": "arch.eq.flops_per_token_moe"}
    mismatches: list[str] = []
    total = resolve("arch.params_total_dense", mixtral, moe)
    active = resolve("arch.params_active", mixtral, moe)
    if (total, active) != (46_702_792_704, 12_879_925_248):
        mismatches.append(f"total / active: got {total!r} / {active!r}")
    if (round(total / 1e9), round(active / 1e9)) != (47, 13):
        mismatches.append("published 47B / 13B")
    check(mismatches, "6 N_active", resolve("arch.flops_per_token", mixtral, moe), 6 * 12_879_925_248, 1e-12)
    # with no MoE layer the active count is the dense count (the experts drop out)
    dense = {**mixtral, "arch.moe.n_moe_layers": 0}
    check(mismatches, "no MoE layers", resolve("arch.params_active", dense, moe),
          resolve("arch.params_total_dense", dense), 1e-12)
    assert not mismatches, mismatches


def test_moe_interleaved_layers_and_shared_expert(resolve):
    """Hand count on the Mixtral shape with every other layer MoE (Megatron moe_layer_freq 2:
    layers 0, 2, … → ceil(32/2) = 16 MoE layers) and one always-active shared expert of width
    14,336 (3·4096·14336 = 176,160,768 weights):
      dense layer = 41,951,232 (attention + norms) + 176,160,768 = 218,112,000
      MoE layer   = 41,951,232 + (8 + 1) × 176,160,768 + 32,768 (router) = 1,627,430,912
      active MoE  = 41,951,232 + (2 + 1) × 176,160,768 + 32,768 = 570,466,304
      total  = 16 × 218,112,000 + 16 × 1,627,430,912 + 262,148,096 (embeddings, final norm) = 29,790,834,688
      active = 16 × 218,112,000 + 16 × 570,466,304 + 262,148,096 = 12,879,400,960
    (524,288 = 16 routers × 32,768 below all-MoE top-2 Mixtral: a shared expert plus top-2 on half
    the layers costs a token as much as top-2 everywhere, less the routers it skips).
    """
    shape = {"arch.n_layers": 32, "arch.d_model": 4096, "arch.n_heads": 32, "arch.n_kv_heads": 8,
             "arch.vocab_size": 32000, "arch.d_ff": 14336, "arch.moe.n_experts": 8, "arch.moe.top_k": 2,
             "arch.moe.d_ff_expert": 14336, "arch.moe.layer_frequency": 2, "arch.moe.d_ff_shared": 14336}
    select = {"arch.params_total_dense": "arch.eq.params_from_shape_moe",
              "arch.moe.n_moe_layers": "arch.eq.moe_layers_interleaved",
              "arch.moe.shared_expert_params_per_layer": "arch.eq.moe_shared_expert"}
    mismatches: list[str] = []
    if resolve("arch.moe.n_moe_layers", shape, select) != 16:
        mismatches.append("ceil(32 / 2) MoE layers")
    total = resolve("arch.params_total_dense", shape, select)
    active = resolve("arch.params_active", shape, select)
    if (total, active) != (29_790_834_688, 12_879_400_960):
        mismatches.append(f"total / active: got {total!r} / {active!r}")
    assert not mismatches, mismatches


# Regime switches of Table 2: (sequence parallel, selective recompute, flash attention).
GPT3_SHAPE = {"arch.seq_len": 2048, "arch.d_model": 12288, "arch.n_heads": 96, "arch.micro_batch_size": 1,
              "par.tp.degree": 8, "arch.d_ff": 4 * 12288, "arch.dropout.enabled": 1,
              "training.precision.activation_bytes": "2 byte"}
PLAIN_MLP = {"arch.mlp.n_matrices": "arch.eq.mlp_matrices_plain"}


def _regime(sp: int, selective: int, flash: int = 0, **extra: object) -> dict[str, object]:
    return {**GPT3_SHAPE, "par.sp.enabled": sp, "training.recompute.selective": selective,
            "kernel.attention.flash": flash, **extra}


def test_activation_memory_gpt3_korthikanti(resolve):
    """Korthikanti et al. 2022 Eq. (1) and Table 2 for GPT-3 (s 2048, h 12288, a 96, b 1, GELU 4h MLP,
    dropout), from one formula keyed on the regime switches:
      sbh = 25,165,824; 5as/h = 5·96·2048/12288 = 80
      no parallelism (t = 1)  sbh(34 + 80)          = 2,868,903,936 bytes = 2.87 GB (2.67 GiB), the sum
        of attention 11sbh + 5as²b = 2,290,089,984, MLP 19sbh = 478,150,656, layer norms 4sbh = 100,663,296
      tensor parallel t = 8   sbh(10 + 24/8 + 80/8) = 23 sbh = 578,813,952
      + sequence parallel     sbh/8 · 114           =          358,612,992
      TP + selective          sbh(10 + 3) = 13 sbh  =          327,155,712
      TP + SP + selective     34 sbh / 8            =          106,954,752
      TP + SP + flash         as TP + SP + selective (the scores are never stored)
    """
    sbh = 2048 * 12288
    cases = [
        ("Eq. (1)", _regime(0, 0, **{"par.tp.degree": 1}), sbh * 114),
        ("tensor parallel", _regime(0, 0), sbh * 23),
        ("tensor + sequence parallel", _regime(1, 0), sbh * 114 / 8),
        ("TP + selective", _regime(0, 1), sbh * 13),
        ("TP + SP + selective", _regime(1, 1), sbh * 34 / 8),
        ("TP + SP + flash", _regime(1, 0, 1), sbh * 34 / 8),
    ]
    mismatches: list[str] = []
    for label, assign, expected in cases:
        check(mismatches, label, resolve("arch.activation_memory_per_layer", assign, PLAIN_MLP), expected, 1e-12)
    eq1 = resolve("arch.activation_memory_per_layer", cases[0][1], PLAIN_MLP)
    if round(eq1 / 1e9, 2) != 2.87 or round(eq1 / 2**30, 2) != 2.67:
        mismatches.append(f"Eq. (1): {eq1!r} bytes is not 2.87 GB / 2.67 GiB")
    attention = resolve("arch.activation.attention_per_layer", cases[0][1], PLAIN_MLP) + \
        resolve("arch.activation.attention_scores_per_layer", cases[0][1], PLAIN_MLP)
    check(mismatches, "attention part", attention, 11 * sbh + 5 * 96 * 2048**2, 1e-12)
    check(mismatches, "MLP part", resolve("arch.activation.mlp_per_layer", cases[0][1], PLAIN_MLP), 19 * sbh, 1e-12)
    assert not mismatches, mismatches


def test_activation_memory_llama3_405b_matches_table2_row(resolve_data):
    """`resolve` under runs.llama3_405b_h100 against Korthikanti Table 2's TP + SP + selective row.
    Shape (Dubey et al. 2024, Table 3/4): s = 8192, b = 1, h = 16384, t = 8, a = 128, 8 KV heads,
    d_ff = 53,248; sbh = 134,217,728; the pack: sequence parallel, flash attention, no dropout.
      The row as printed: 34·sbh/t = 34 × 134,217,728 / 8 = 570,425,344 bytes (570.4 MB).
      Adapted to the shape, in sbh/t units: 34 − 2 (no dropout masks) − 16 (the GELU 8 + 8) + 3·2·3.25
      (SwiGLU: gate, up and product, each d_ff = 3.25h wide) − 4·(1 − 8/128) (K and V 8/128 as wide as
      Q) = 34 − 2 − 16 + 19.5 − 3.75 = 31.75 → 31.75 × 134,217,728 / 8 = 532,676,608 bytes, −6.6% from
      the printed row (the acceptance allows 15%).
    """
    data = resolve_data("arch.activation_memory_per_layer", presets=("runs.llama3_405b_h100",))
    row, adapted = 34 * 8192 * 16384 / 8, 31.75 * 8192 * 16384 / 8
    mismatches: list[str] = []
    check(mismatches, "adapted row", data["value"], adapted, 1e-12)
    check(mismatches, "printed row within 15%", data["value"], row, 0.15)
    assert not mismatches, mismatches


def test_assigned_n_overrides_the_shape(cli):
    """Scenarios that know only N assign it: the shape equation is cut and marked as an override."""
    result = cli("resolve", "arch.flops_per_token", "--assign", "arch.params_total_dense=7e9",
                 "--trace", "--json")
    data = result.json()
    assert data["status"] == "ok" and data["value"] == 6 * 7e9
    sources = {step["id"]: step["source"] for step in data["trace"]}
    assert sources["arch.params_total_dense"] == "override"
