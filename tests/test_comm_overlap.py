"""Communication per traffic type (training/comm.toml): placement from the layout, pipeline traffic
without a pipeline, sequence parallelism's collectives, the schedule alternatives and the bucketed
data-parallel overlap, each checked against a hand derivation or a published statement."""

from __future__ import annotations

from conftest import relative_error
from test_registry_link_col import GPT3_LAYOUT, H100_MACHINE, INTER_BW, INTRA_BW, INTRA_LAT


def check(mismatches: list[str], label: str, value: float, expected: float, tolerance: float) -> None:
    if relative_error(value, expected) > tolerance:
        mismatches.append(f"{label}: {value} != {expected}")


GPT3 = {**H100_MACHINE, **GPT3_LAYOUT, "par.sp.enabled": 0}


def test_tp_group_of_8_on_an_8_gpu_node_uses_nvlink(resolve):
    """Ranks nested [TP, CP, PP, DP] (dubey2024:§3.3.2): t = 8 fills an 8-GPU node, so the TP ring runs
    on NVLink (382.5 GB/s, 3.4 µs); t = 16 would leave the node and run at the NIC rate."""
    mismatches: list[str] = []
    check(mismatches, "t = 8 spans nodes", resolve("link.placement.tp_spans_nodes", GPT3), 0, 0)
    check(mismatches, "t = 8 link", resolve("link.tp.bw", GPT3), INTRA_BW / 1e9, 1e-12)
    check(mismatches, "t = 8 latency", resolve("link.tp.latency", GPT3), INTRA_LAT, 1e-12)
    wide = {**GPT3, "par.tp.degree": 16, "par.dp.degree": 8}
    check(mismatches, "t = 16 spans nodes", resolve("link.placement.tp_spans_nodes", wide), 1, 0)
    check(mismatches, "t = 16 link", resolve("link.tp.bw", wide), INTER_BW / 1e9, 1e-12)
    assert not mismatches, mismatches


def test_pipeline_traffic_is_zero_without_a_pipeline_and_on_nvlink_inside_a_node(resolve):
    """p = 1: nothing crosses a stage boundary, so the pipeline's traffic, time and exposed time are 0.
    t = 2, p = 4, d = 1 (8 GPUs): t·c·p = 8 fits the node, so the stage sends run on NVLink."""
    mismatches: list[str] = []
    flat = {**GPT3, "par.pp.degree": 1, "par.dp.degree": 16}
    for ident in ("par.pp.traffic_per_gpu", "par.pp.comm_time", "training.comm.pp_exposed"):
        value = resolve(ident, flat)
        if value != 0:
            mismatches.append(f"p = 1: {ident} = {value}")
    node = {**GPT3, "par.tp.degree": 2, "par.pp.degree": 4, "par.dp.degree": 1, "par.global_batch_size": 32}
    check(mismatches, "pipeline in one node", resolve("link.placement.pp_spans_nodes", node), 0, 0)
    check(mismatches, "p2p link = NVLink", resolve("col.p2p.link_bw", node), INTRA_BW / 1e9, 1e-12)
    assert not mismatches, mismatches


def test_sequence_parallelism_moves_the_same_bytes(resolve):
    """Korthikanti et al. 2022, §4.2.2: a ring all-reduce is a reduce-scatter followed by an all-gather,
    so TP with SP uses the same bandwidth: the ring TP time is unchanged by par.sp.enabled. With NVLink
    SHARP the all-reduce takes S/B + 2α and the RS + AG pair does not: 2·(7/8·S/B + 7α)."""
    mismatches: list[str] = []
    plain = resolve("par.tp.comm_time", GPT3)
    check(mismatches, "ring, SP on", resolve("par.tp.comm_time", {**GPT3, "par.sp.enabled": 1}), plain, 1e-12)
    nvls = {"col.tp_allreduce.time": "col.eq.tp_allreduce_time_nvls"}
    message = 2048 * 12288 * 2
    count = 4 * 12 * 32
    check(mismatches, "NVLS, SP off", resolve("par.tp.comm_time", GPT3, nvls),
          count * (message / INTRA_BW + 2 * INTRA_LAT), 1e-12)
    check(mismatches, "NVLS, SP on (RS + AG)", resolve("par.tp.comm_time", {**GPT3, "par.sp.enabled": 1}, nvls),
          count * 2 * (7 / 8 * message / INTRA_BW + 7 * INTRA_LAT), 1e-12)
    check(mismatches, "full recompute: 6 per layer",
          resolve("par.tp.allreduces_per_layer", {k: v for k, v in GPT3.items() if k != "par.tp.allreduces_per_layer"}
                  | {"training.recompute.layer_fraction": 1}), 6, 0)
    assert not mismatches, mismatches


def test_schedule_bubbles(resolve):
    """p = 8, m = 32: 1F1B 7/39; ZB-H1 a third of 1F1B's bubble (Qi et al. 2024, §2.1): (7/3)/(32 + 7/3);
    DualPipe (p/2 − 1)(F&B + B − 3W) with F&B = F + B, B = 2F, W = F: (2/3)·3 = 2 units, 2/34."""
    mismatches: list[str] = []
    check(mismatches, "1F1B", resolve("par.pp.bubble_fraction", GPT3), 7 / 39, 1e-12)
    check(mismatches, "ZB-H1", resolve("par.pp.bubble_fraction", GPT3,
                                       {"par.pp.bubble_fraction": "par.eq.bubble_fraction_zb_h1"}),
          (7 / 3) / (32 + 7 / 3), 1e-12)
    check(mismatches, "DualPipe", resolve("par.pp.bubble_fraction", GPT3,
                                          {"par.pp.bubble_fraction": "par.eq.bubble_fraction_dualpipe"}),
          2 / 34, 1e-12)
    assert not mismatches, mismatches


def test_bucketed_gradient_reduction_exposes_at_least_the_last_bucket(resolve):
    """One bucket per layer behind the last micro-batch's backward pass: exposed = max(T/L_s,
    T − (L_s − 1)·t_b), never more than T, never less than one bucket; with a very fast network only
    the last bucket T/L_s is left, and pipeline sends at p = 8 expose 2(p − 1) sends."""
    mismatches: list[str] = []
    machine = {**GPT3, "training.t_compute": "10 s", "training.recompute_overhead": 1}
    total = resolve("par.dp.comm_time", machine)
    layers = 96 / 8
    t_b = 10 * (2 / 3) / (32 * layers)
    expected = max(total / layers, total - (layers - 1) * t_b)
    check(mismatches, "bucketed", resolve("training.comm.dp_exposed", machine), expected, 1e-12)
    check(mismatches, "2(p − 1) sends", resolve("training.comm.pp_exposed", machine),
          2 * 7 * resolve("col.p2p.time", machine), 1e-12)
    assert not mismatches, mismatches
