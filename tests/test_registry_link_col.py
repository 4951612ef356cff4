"""Interconnect (link/) and collectives (col/) registry: published figures and hand derivations.

Every test resolves through the public CLI (`gpu-stack resolve … --json`), compares with a
figure from the literature or a hand derivation written next to it, collects the
mismatches and asserts once.
"""

from __future__ import annotations

import math


from conftest import check

C = 299_792_458.0  # m/s, CODATA (exact)

# An HGX/DGX H100 node on a two-tier NDR InfiniBand fat tree. Link figures: H100 whitepaper
# ("Fourth-Generation NVLink and NVLink Network", "Third-Generation NVSwitch", "PCIe Gen 5"),
# IEEE 802.3bs (256b/257b transcoding, RS(544,514) FEC), InfiniBand headers (26 B per packet).
# Efficiency and latencies are round assumptions, not measurements.
H100_MACHINE = {
    "link.nvlink.n_links": 18,
    "link.nvlink.lanes_per_link": 2,
    "link.nvlink.lane_rate": "100 Gbit/s",
    "link.nvswitch.n_switches": 4,
    "link.nvswitch.ports_per_switch": 64,
    "cluster.node.n_gpus": 8,
    "link.intra.efficiency": 0.85,
    "link.intra.latency": "3.4e-6 s",
    "link.pcie.transfer_rate": "32 Gbit/s",
    "link.pcie.n_lanes": 16,
    "link.pcie.encoding_payload_bits": 128,
    "link.pcie.encoding_block_bits": 130,
    "link.pcie.max_payload": "256 byte",
    "link.pcie.tlp_overhead": "24 byte",
    "link.net.lanes_per_port": 4,
    "link.net.lane_signaling_rate": "106.25 Gbit/s",
    "link.net.encoding_payload_bits": 256,
    "link.net.encoding_block_bits": 257,
    "link.net.fec_efficiency": 514 / 544,
    "link.net.mtu_payload": "4096 byte",
    "link.net.header_bytes": "26 byte",
    "cluster.node.nics_per_gpu": 1,
    "cluster.fabric.n_tiers": 2,
    "link.net.switch_latency": "2e-7 s",
    "link.net.path_length": "100 m",
    "link.net.fiber_group_index": 1.47,
    "link.net.endpoint_latency": "3e-6 s",
}

# The same machine by hand (SI units: byte/s and s).
NVLINK_BW = 18 * 2 * 100e9 / 8                        # 450 GB/s per direction
INTRA_BW = min(NVLINK_BW, 4 * 64 * 25e9 / 8) * 0.85   # 382.5 GB/s
PCIE_EFF = 16 * 32e9 * 128 / 130 / 8 * 256 / 280      # 57.6 GB/s payload
NIC_BW = 4 * 106.25e9 * 256 / 257 * 514 / 544 / 8 * 4096 / 4122   # 49.68 GB/s
INTER_BW = min(NIC_BW, PCIE_EFF)
INTRA_LAT = 3.4e-6
INTER_LAT = 3e-6 + (2 * 2 - 1) * 2e-7 + 100 * 1.47 / C   # endpoints + 3 switches + 0.49 µs of fibre

# GPT-3 175B with Megatron's t = 8, p = 8, d = 16, b = 1, B = 512 (as in test_registry_training).
GPT3_LAYOUT = {
    "arch.params_total_dense": 175e9, "arch.n_layers": 96, "arch.d_model": 12288, "arch.seq_len": 2048,
    "arch.micro_batch_size": 1, "par.tp.degree": 8, "par.pp.degree": 8, "par.dp.degree": 16,
    "par.global_batch_size": 512, "par.pp.virtual_stages": 1, "par.tp.allreduces_per_layer": 4,
    "training.precision.activation_bytes": "2 byte", "training.precision.gradient_bytes": "2 byte",
}


def test_nvlink_totals_h100_a100(resolve):
    """H100 whitepaper, "Fourth-Generation NVLink and NVLink Network": NVLink 4 uses two
    differential pairs per direction, NVLink 3 (A100) four, both 25 GB/s per link and direction;
    H100 has 18 links = 900 GB/s total, A100 12 links = 600 GB/s total.
      H100: 2 × 100 Gbit/s = 25 GB/s; 2 × 18 × 25 = 900 GB/s; 450 GB/s per direction.
      A100: 4 × 50 Gbit/s = 25 GB/s; 2 × 12 × 25 = 600 GB/s; 300 GB/s per direction.
    """
    mismatches: list[str] = []
    for label, links, lanes, rate, total in (("H100", 18, 2, 100, 900), ("A100", 12, 4, 50, 600)):
        assign = {"link.nvlink.n_links": links, "link.nvlink.lanes_per_link": lanes,
                  "link.nvlink.lane_rate": f"{rate} Gbit/s"}
        check(mismatches, f"{label} per link", resolve("link.nvlink.link_bw", assign), 25, 1e-12)
        check(mismatches, f"{label} total", resolve("link.nvlink.bw_total", assign), total, 1e-12)
        check(mismatches, f"{label} per direction", resolve("link.nvlink.bw", assign), total / 2, 1e-12)
    # the datasheet figure can be assigned directly: 900 GB/s total -> 450 GB/s one way
    check(mismatches, "from datasheet total", resolve("link.nvlink.bw", {"link.nvlink.bw_total": "900 GB/s"}), 450, 1e-12)
    # HGX H100: 4 NVSwitches × 64 ports × 25 GB/s / 8 GPUs = 800 GB/s > 450: NVLink, not the switches, binds
    check(mismatches, "NVSwitch capacity", resolve("link.nvswitch.bw_per_gpu", H100_MACHINE), 800, 1e-12)
    check(mismatches, "intra bw", resolve("link.intra.bw", H100_MACHINE), INTRA_BW / 1e9, 1e-12)
    assert not mismatches, mismatches


def test_pcie_gen4_gen5_x16(resolve):
    """PCI-SIG: 16 GT/s (Gen4) and 32 GT/s (Gen5) per lane, 128b/130b encoding.
      Gen4 x16: 16 × 16 × 128/130 / 8 = 31.51 GB/s per direction; Gen5 x16: 63.02 GB/s.
    The H100 whitepaper ("PCIe Gen 5") quotes the raw rates, 64 GB/s each direction for Gen5
    and 32 GB/s for A100's Gen4 — the same formula with the encoding set to 1/1.
    Packet overhead with 256 B payloads and 24 B per TLP: × 256/280.
    """
    mismatches: list[str] = []
    code = {"link.pcie.n_lanes": 16, "link.pcie.encoding_payload_bits": 128, "link.pcie.encoding_block_bits": 130}
    raw = {**code, "link.pcie.encoding_payload_bits": 1, "link.pcie.encoding_block_bits": 1}
    for gen, rate, encoded, quoted in (("Gen4", 16, 31.5077, 32), ("Gen5", 32, 63.0154, 64)):
        check(mismatches, f"{gen} x16", resolve("link.pcie.bw", {**code, "link.pcie.transfer_rate": f"{rate} Gbit/s"}),
              16 * rate * 128 / 130 / 8, 1e-12)
        check(mismatches, f"{gen} ≈ {encoded}", resolve("link.pcie.bw", {**code, "link.pcie.transfer_rate": f"{rate} Gbit/s"}),
              encoded, 1e-4)
        check(mismatches, f"{gen} whitepaper raw", resolve("link.pcie.bw", {**raw, "link.pcie.transfer_rate": f"{rate} Gbit/s"}),
              quoted, 1e-12)
    check(mismatches, "Gen5 payload", resolve("link.pcie.bw_effective", H100_MACHINE), PCIE_EFF / 1e9, 1e-12)
    assert not mismatches, mismatches


def test_ndr_port_and_inter_node_bandwidth(resolve):
    """IEEE 802.3bs / InfiniBand NDR: 4 lanes at 106.25 Gbit/s; 256b/257b transcoding and
    RS(544,514) FEC leave 106.25 × 256/257 × 514/544 = 100.0 Gbit/s per lane, 400 Gbit/s per
    port (the 8 × 400 Gb/s ConnectX-7 of a DGX H100, one per GPU). InfiniBand packets of 4096 B
    carry 26 B of headers and CRCs: 50 GB/s × 4096/4122 = 49.68 GB/s of payload per GPU.
    Behind PCIe Gen4 x16 (28.8 GB/s of payload) the same NIC is PCIe-bound.
    """
    mismatches: list[str] = []
    check(mismatches, "lane rate", resolve("link.net.lane_rate", H100_MACHINE), 100.0, 1e-5)
    check(mismatches, "NDR port", resolve("link.net.port_rate", H100_MACHINE), 400.0, 1e-5)
    check(mismatches, "NIC payload", resolve("link.net.nic_bw", H100_MACHINE), NIC_BW / 1e9, 1e-12)
    check(mismatches, "inter bw (Gen5)", resolve("link.inter.bw", H100_MACHINE), NIC_BW / 1e9, 1e-12)
    gen4 = {**H100_MACHINE, "link.pcie.transfer_rate": "16 Gbit/s"}
    check(mismatches, "inter bw (Gen4, PCIe-bound)", resolve("link.inter.bw", gen4), PCIE_EFF / 2 / 1e9, 1e-12)
    # latency: 3 µs endpoints + (2·2 − 1) switches × 0.2 µs + 100 m × 1.47 / c = 4.09 µs
    check(mismatches, "inter latency", resolve("link.inter.latency", H100_MACHINE), INTER_LAT, 1e-12)
    assert not mismatches, mismatches


def test_bus_bandwidth_factors(resolve):
    """nccl-tests doc/PERFORMANCE.md: all-reduce busbw = algbw × 2(n−1)/n, reduce-scatter and
    all-gather × (n−1)/n. For n = 8: 1.75 and 0.875; for n = 2: 1 and 0.5; n = 1: 0.
    """
    mismatches: list[str] = []
    for n, allreduce, half in ((8, 1.75, 0.875), (2, 1.0, 0.5), (16, 1.875, 0.9375)):
        check(mismatches, f"all-reduce n={n}", resolve("col.allreduce.bus_bw_factor", {"par.dp.degree": n}), allreduce, 1e-12)
        check(mismatches, f"reduce-scatter n={n}", resolve("col.reduce_scatter.bus_bw_factor", {"par.dp.degree": n}), half, 1e-12)
        check(mismatches, f"all-gather n={n}", resolve("col.all_gather.bus_bw_factor", {"par.dp.degree": n}), half, 1e-12)
        check(mismatches, f"TP all-reduce t={n}", resolve("col.tp_allreduce.bus_bw_factor", {"par.tp.degree": n}), allreduce, 1e-12)
    value = resolve("col.allreduce.bus_bw_factor", {"par.dp.degree": 1})
    if value != 0:
        mismatches.append(f"n = 1 moves nothing: factor {value}")
    assert not mismatches, mismatches


def test_ring_allreduce_1gb_on_8_gpus(resolve):
    """Ring all-reduce of 1 GB on 8 GPUs at 450 GB/s (H100 NVLink, one direction):
      t = 1.75 × 1e9 / 450e9 = 3.889 ms, plus 2(n−1) = 14 steps of latency (5 µs: +70 µs).
    nccl-tests: algbw = S/t = 257 GB/s, busbw = algbw × 1.75 = 450 GB/s (= B without latency).
    Reduce-scatter and all-gather take half the bandwidth term and 7 latencies each.
    """
    mismatches: list[str] = []
    base = {"col.allreduce.n_ranks": 8, "col.allreduce.message_size": "1 GB", "link.bw": "450 GB/s"}
    ideal = 1.75 * 1e9 / 450e9
    check(mismatches, "bandwidth term", resolve("col.allreduce.time", {**base, "link.latency": "0 s"}), ideal, 1e-12)
    check(mismatches, "≈ 3.89 ms", resolve("col.allreduce.time", {**base, "link.latency": "0 s"}), 3.89e-3, 1e-3)
    check(mismatches, "with 5 µs steps", resolve("col.allreduce.time", {**base, "link.latency": "5e-6 s"}),
          ideal + 14 * 5e-6, 1e-12)
    check(mismatches, "algbw", resolve("col.allreduce.alg_bw", {**base, "link.latency": "0 s"}), 1e9 / ideal / 1e9, 1e-12)
    check(mismatches, "busbw = B", resolve("col.allreduce.bus_bw", {**base, "link.latency": "0 s"}), 450, 1e-12)
    half = {**base, "link.latency": "5e-6 s"}
    check(mismatches, "reduce-scatter", resolve("col.reduce_scatter.time", half), ideal / 2 + 7 * 5e-6, 1e-12)
    check(mismatches, "all-gather", resolve("col.all_gather.time", half), ideal / 2 + 7 * 5e-6, 1e-12)
    # in-network reduction (NVLink SHARP): each GPU sends and receives 1 GB once: 2.22 ms + 2 latencies
    check(mismatches, "in-network", resolve("col.allreduce.time", half, {"col.allreduce.time": "col.eq.allreduce_time_in_network"}),
          1e9 / 450e9 + 2 * 5e-6, 1e-12)
    assert not mismatches, mismatches


def test_busbw_closed_form_matches_nccl_definition(resolve):
    """The default busbw is the α–β ring in closed form, B/(1 + n·α·B/S); nccl-tests define it
    as algbw × 2(n−1)/n = 2(n−1)/n · S / t. With the ring time both agree for every size:
      S = 64 MB, n = 16, B = 50 GB/s, α = 4 µs: t = 1.875 × 64e6/50e9 + 30 × 4e-6 = 2.52 ms,
      busbw = 1.875 × 64e6 / 2.52e-3 = 47.62 GB/s = 50/(1 + 16 × 4e-6 × 50e9 / 64e6).
    """
    mismatches: list[str] = []
    assign = {"col.allreduce.n_ranks": 16, "col.allreduce.message_size": "64 MB", "link.bw": "50 GB/s",
              "link.latency": "4e-6 s"}
    t = 1.875 * 64e6 / 50e9 + 30 * 4e-6
    closed = resolve("col.allreduce.bus_bw", assign)
    defined = resolve("col.allreduce.bus_bw", assign, {"col.allreduce.bus_bw": "col.eq.allreduce_bus_bw_from_time"})
    check(mismatches, "closed form", closed, 50 / (1 + 16 * 4e-6 * 50e9 / 64e6), 1e-12)
    check(mismatches, "nccl-tests definition", defined, 1.875 * 64e6 / t / 1e9, 1e-12)
    check(mismatches, "agree", closed, defined, 1e-12)
    assert not mismatches, mismatches


def test_hierarchical_and_tree_allreduce(resolve):
    """Two-level all-reduce on the H100 machine, S = 1 GB, d = 32 ranks:
      t = 8 (node full, g = 1): no NVLink phase; the shard is the whole buffer, m = 32 nodes:
          2·31/32 · 1e9/B_inter + 62 α_inter — the flat ring over the network.
      t = 2 (g = 4 ranks per node, m = 8 nodes):
          2·(3/4)·1e9/B_intra + 6 α_intra + 2·(7/8)·(1e9/4)/B_inter + 14 α_inter.
      t = 1, d = 8 (one node, g = 8, m = 1): the flat ring over NVLink.
    NCCL tree (tuning.cc): 2S/B + 2((g−1) α_intra + log2(m) α_inter).
    """
    mismatches: list[str] = []
    hier = {"col.allreduce.time": "col.eq.allreduce_time_hierarchical"}
    size = {"col.allreduce.message_size": "1 GB", "par.pp.degree": 1}
    full = {**H100_MACHINE, **size, "par.dp.degree": 32, "par.tp.degree": 8}
    ring_inter = 2 * 31 / 32 * 1e9 / INTER_BW + 62 * INTER_LAT
    check(mismatches, "g = 1 hierarchical", resolve("col.allreduce.time", full, hier), ring_inter, 1e-12)
    check(mismatches, "g = 1 ring", resolve("col.allreduce.time", full), ring_inter, 1e-12)
    mixed = {**H100_MACHINE, **size, "par.dp.degree": 32, "par.tp.degree": 2}
    expected = 2 * 0.75 * 1e9 / INTRA_BW + 6 * INTRA_LAT + 2 * 7 / 8 * (1e9 / 4) / INTER_BW + 14 * INTER_LAT
    check(mismatches, "g = 4, m = 8", resolve("col.allreduce.time", mixed, hier), expected, 1e-12)
    flat_ring = 2 * 31 / 32 * 1e9 / INTER_BW + 62 * INTER_LAT
    if not resolve("col.allreduce.time", mixed, hier) < flat_ring:
        mismatches.append("hierarchical should beat the flat network ring when 4 ranks share a node")
    one_node = {**H100_MACHINE, **size, "par.dp.degree": 8, "par.tp.degree": 1}
    ring_intra = 2 * 7 / 8 * 1e9 / INTRA_BW + 14 * INTRA_LAT
    check(mismatches, "m = 1 hierarchical", resolve("col.allreduce.time", one_node, hier), ring_intra, 1e-12)
    check(mismatches, "m = 1 ring (link.bw = NVLink)", resolve("col.allreduce.time", one_node), ring_intra, 1e-12)
    tree = 2 * 1e9 / INTER_BW + 2 * (3 * INTRA_LAT + math.log2(8) * INTER_LAT)
    check(mismatches, "tree", resolve("col.allreduce.time", mixed, {"col.allreduce.time": "col.eq.allreduce_time_tree"}),
          tree, 1e-12)
    assert not mismatches, mismatches


def test_gpt3_step_communication_from_the_machine(resolve):
    """GPT-3 175B, t = 8, p = 8, d = 16, m = 32 micro-batches, on the H100 machine above.
      DP: S = 175e9/64 × 2 B = 5.469e9 B over the network (t·d = 128 > 8 GPUs per node):
          2·15/16 · S / 49.68 GB/s + 30 × 4.09 µs = 0.2065 s (ring all-reduce)
      TP: S = 2048 × 12288 × 2 B = 50.33 MB over NVLink, 4 × 12 layers × 32 micro-batches:
          1536 × (1.75 × S / 382.5 GB/s + 14 × 3.4 µs) = 0.3899 s
      PP: S/t = 6.291 MB per send over the network, 2 × 32 sends:
          64 × (S / 49.68 GB/s + 4.09 µs) = 8.13 ms
    The default path (par's traffic / bus bandwidth) must equal the collective times exactly.
    ZeRO-3 gathers each layer's parameters per micro-batch in both passes and reduce-scatters per
    micro-batch: 12 layers × 32 × (2 gathers + 1 reduce-scatter) of 15/16·(S/12)/B + 15 α each.
    """
    mismatches: list[str] = []
    assign = {**H100_MACHINE, **GPT3_LAYOUT, "par.sp.enabled": 0, "precision.weight_bytes": "2 byte",
              "par.dp.zero3.gather_passes": 2, "par.dp.grad_accumulation_local": 0}
    grad = 175e9 / 64 * 2
    dp = 2 * 15 / 16 * grad / INTER_BW + 30 * INTER_LAT
    message = 2048 * 12288 * 2
    tp = 4 * 12 * 32 * (1.75 * message / INTRA_BW + 14 * INTRA_LAT)
    pp = 2 * 32 * (message / 8 / INTER_BW + INTER_LAT)
    check(mismatches, "DP spans nodes", resolve("link.placement.dp_spans_nodes", assign), 1, 0)
    check(mismatches, "DP all-reduce", resolve("col.allreduce.time", assign), dp, 1e-12)
    check(mismatches, "DP comm (default path)", resolve("par.dp.comm_time", assign), dp, 1e-12)
    check(mismatches, "DP comm (collective)", resolve("par.dp.comm_time", assign,
                                                      {"par.dp.comm_time": "col.eq.dp_comm_time_allreduce"}), dp, 1e-12)
    check(mismatches, "TP comm (default path)", resolve("par.tp.comm_time", assign), tp, 1e-12)
    check(mismatches, "TP comm (collective)", resolve("par.tp.comm_time", assign,
                                                      {"par.tp.comm_time": "col.eq.tp_comm_time_allreduce"}), tp, 1e-12)
    check(mismatches, "PP comm", resolve("par.pp.comm_time", assign), pp, 1e-12)
    # ZeRO-3 per layer and micro-batch, by either path
    zero3 = 12 * 32 * 3 * (15 / 16 * grad / 12 / INTER_BW + 15 * INTER_LAT)
    check(mismatches, "ZeRO-3 collectives", resolve("par.dp.comm_time", assign,
                                                    {"par.dp.comm_time": "col.eq.dp_comm_time_zero3"}), zero3, 1e-12)
    check(mismatches, "ZeRO-3 bytes", resolve("par.dp.traffic_per_gpu", assign,
                                              {"par.dp.traffic_per_gpu": "par.eq.dp_traffic_zero3"}),
          15 / 16 * 32 * 3 * grad, 1e-12)
    check(mismatches, "distributed optimizer", resolve("par.dp.comm_time", assign,
                                                       {"par.dp.comm_time": "col.eq.dp_comm_time_distributed_optimizer"}),
          dp, 1e-12)
    # NVLink SHARP for the TP all-reduces: 1536 × (S / 382.5 GB/s + 2 × 3.4 µs)
    nvls = 4 * 12 * 32 * (message / INTRA_BW + 2 * INTRA_LAT)
    check(mismatches, "TP with NVLink SHARP", resolve("par.tp.comm_time", assign,
                                                      {"par.tp.comm_time": "col.eq.tp_comm_time_allreduce",
                                                       "col.tp_allreduce.time": "col.eq.tp_allreduce_time_nvls"}),
          nvls, 1e-12)
    assert not mismatches, mismatches


def test_single_node_job_stays_on_nvlink(resolve):
    """One DGX H100 node, t = 2, p = 1, d = 4 (8 GPUs): t·d = 8 fits the node, so the gradient
    ring runs on NVLink: link.bw = 382.5 GB/s and link.latency = 3.4 µs. With d = 1 nothing
    is all-reduced and the DP time is 0 (the closed-form busbw stays finite).
    """
    mismatches: list[str] = []
    layout = {**H100_MACHINE, "par.tp.degree": 2, "par.pp.degree": 1, "par.dp.degree": 4}
    check(mismatches, "DP inside the node", resolve("link.placement.dp_spans_nodes", layout), 0, 0)
    check(mismatches, "PP inside the node", resolve("link.placement.pp_spans_nodes", layout), 0, 0)
    check(mismatches, "link.bw = NVLink", resolve("link.bw", layout), INTRA_BW / 1e9, 1e-12)
    check(mismatches, "link.latency = NVLink", resolve("link.latency", layout), INTRA_LAT, 1e-12)
    solo = {**H100_MACHINE, **GPT3_LAYOUT, "par.dp.degree": 1, "par.global_batch_size": 32}
    value = resolve("par.dp.comm_time", solo)
    if value != 0:
        mismatches.append(f"d = 1: DP time {value}, expected 0")
    assert not mismatches, mismatches
