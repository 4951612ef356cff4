"""The compute side of the step: recompute modes, memory-bound bytes from the shape, backward GEMM shapes.

Each figure is recomputed here from resolved inputs with the equation written out, so a change of the
registry's equations that breaks the physics shows as a mismatch, not as a moved constant.
"""

from __future__ import annotations

import pytest

from conftest import check
from gpu_stack.audit.resolver import resolve
from gpu_stack.model.scenarios import compose

RUN = ("runs.korthikanti2022_22b_selective",)   # 22B, TP 8, unfused attention, sequence parallel, selective


@pytest.fixture(scope="module")
def value(registry):
    """value(ID, {ID: assigned}) under the 22B selective run pack (the audit resolver, in process)."""
    def run(ident: str, assign: dict[str, object] | None = None) -> float:
        question = compose(registry, RUN, [f"{key}={number}" for key, number in (assign or {}).items()])
        resolution = resolve(registry, [ident], question.assign, question.select)
        assert resolution.status(ident) == "ok", (ident, resolution.missing_for(ident))
        return resolution.values[ident]
    return run


def test_recompute_modes_charge_their_own_kernels(value):
    mismatches: list[str] = []
    attention = value("kernel.attention.flops_forward") / value("kernel.attention.peak_fraction")
    check(mismatches, "selective: the attention core at the attention kernel's efficiency",
          value("kernel.step.recompute_work_per_layer"), attention, 1e-12)
    full = {"training.recompute.layer_fraction": 1, "training.recompute.selective": 0}
    check(mismatches, "full: the whole forward pass", value("kernel.step.recompute_work_per_layer", full),
          value("kernel.step.forward_work_per_layer", full), 1e-12)
    none = {"training.recompute.layer_fraction": 0, "training.recompute.selective": 0}
    check(mismatches, "none: nothing", value("kernel.step.recompute_work_per_layer", none) + 1, 1, 1e-12)
    # the step's tensor time grows by exactly the recomputed work (one stage, one micro-batch here)
    layers = value("par.pp.layers_per_stage")
    peak = value("gpu.peak_flops_power_limited") * 1e12
    check(mismatches, "tensor time: selective − none",
          value("kernel.step.tensor_time") - value("kernel.step.tensor_time", none), layers * attention / peak, 1e-9)
    assert not mismatches, mismatches


def test_sequence_parallelism_splits_the_replicated_elementwise_bytes(value):
    d, t = value("arch.d_model"), value("par.tp.degree")
    e, mask = value("kernel.elementwise.residual_bytes"), value("kernel.elementwise.dropout_mask_bytes")
    replicated = d * (2 * 2 * e + 2 * (3 * e + mask))   # two layer norms, two bias-dropout-adds per token
    with_sp = value("kernel.elementwise.forward_bytes_per_token")
    without = value("kernel.elementwise.forward_bytes_per_token", {"par.sp.enabled": 0})
    assert without - with_sp == pytest.approx(replicated * (1 - 1 / t), rel=1e-12)


def test_flash_attention_moves_no_score_bytes(value):
    a, t, s = value("arch.n_heads"), value("par.tp.degree"), value("arch.seq_len")
    act, mask = value("training.precision.activation_bytes"), value("kernel.elementwise.dropout_mask_bytes")
    read = value("kernel.attention.softmax_read_fraction")
    unfused = value("kernel.elementwise.forward_bytes_per_token")
    flash = value("kernel.elementwise.forward_bytes_per_token", {"kernel.attention.flash": 1})
    # softmax reads its share of each score row and writes it whole; dropout reads, writes and masks it
    assert unfused - flash == pytest.approx(a / t * s * ((read + 1) * act + 2 * act + mask), rel=1e-12)


def test_causal_softmax_reading_half_a_row_saves_half_its_score_reads(value):
    a, t, s = value("arch.n_heads"), value("par.tp.degree"), value("arch.seq_len")
    act = value("training.precision.activation_bytes")
    whole_rows = {"kernel.attention.softmax_read_fraction": 1}
    half_rows = {"kernel.attention.softmax_read_fraction": 0.5}
    scores = a / t * s
    # forward: the scores read once; backward: the probabilities and their gradient
    assert (value("kernel.elementwise.forward_bytes_per_token", whole_rows)
            - value("kernel.elementwise.forward_bytes_per_token", half_rows)) == pytest.approx(scores * act / 2, rel=1e-12)
    assert (value("kernel.elementwise.backward_bytes_per_token", whole_rows)
            - value("kernel.elementwise.backward_bytes_per_token", half_rows)) == pytest.approx(scores * act, rel=1e-12)


def test_backward_gemms_contract_over_their_own_depth(value):
    mismatches: list[str] = []
    tokens, width, depth = (value("kernel.shape.tokens_per_microbatch"), value("kernel.shape.qkv_width"),
                            value("arch.d_model"))
    peak, half, sms = value("kernel.gemm.peak_fraction"), value("kernel.gemm.depth_half_k"), value("gpu.n_sms")
    bound = value("kernel.roofline.bound_fraction")
    for name, rows, columns, k in (("dgrad", tokens, depth, width), ("wgrad", depth, width, tokens)):
        tiles = -(-rows // 128) * -(-columns // 256)          # the pack's 128 × 256 tiles
        waves = -(-tiles // sms)
        expected = peak * tiles / (waves * sms) * k / (k + half) * bound
        check(mismatches, f"qkv {name}", value(f"kernel.gemm.qkv.{name}_efficiency"), expected, 1e-12)
    assert not mismatches, mismatches
