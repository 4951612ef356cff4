"""Facility (thermal) and cluster build-up: published figures and hand derivations, through the CLI.

Every case resolves one variable with `gpu-stack resolve ID --assign … --json`; the
derivation is in the comment next to each expectation. Mismatches are collected and
asserted once per test.
"""

from __future__ import annotations

from conftest import relative_error

GPM = 6.30901964e-5  # m³/s per US gallon per minute (231 in³ × 0.0254³ m³/in³ / 60 s)


def _resolve(cli, target: str, assign: dict[str, str], select: dict[str, str] | None = None) -> dict:
    args = ["resolve", target, "--json"]
    for key, value in assign.items():
        args += ["--assign", f"{key}={value}"]
    for group, equation in (select or {}).items():
        args += ["--select", f"{group}={equation}"]
    result = cli(*args)
    data = result.json()
    assert data["status"] == "ok", (target, data.get("missing"), data.get("errors"), result.stderr)
    return data


def _check(cli, cases, assign, select=None, tolerance=1e-9) -> list:
    errors = []
    for target, expected in cases.items():
        value = _resolve(cli, target, assign, select)["value"]
        if relative_error(value, expected) > tolerance:
            errors.append((target, value, expected))
    return errors


# ----------------------------------------------------------------------------- fat tree


def test_fat_tree_al_fares_k48(cli):
    # Al-Fares, Loukissas, Vahdat (SIGCOMM 2008): a k-ary fat tree of k-port switches has
    # k pods of k/2 edge and k/2 aggregation switches and (k/2)² core switches, so it connects
    # k³/4 hosts with 5k²/4 switches; k = 48 → 27,648 hosts, 2,880 switches.
    # Here: leaves = ceil(27648 / 24) = 1152 = k·k/2; 27648 > k²/2 = 1152 → 3 tiers;
    # aggregation = 1152; core = 1152 / 2 = 576 = (k/2)²; total 2880 = 5·48²/4.
    assign = {"cluster.fabric.n_endpoints": "27648", "cluster.fabric.switch_radix": "48"}
    cases = {
        "cluster.fabric.n_tiers": 3,
        "cluster.fabric.n_leaf_switches": 48 * 24,
        "cluster.fabric.n_spine_switches": 48 * 24,
        "cluster.fabric.n_core_switches": 24**2,
        "cluster.fabric.n_switches": 5 * 48**2 / 4,
        # one link per host per tier boundary: 3 × 27648
        "cluster.fabric.n_links": 3 * 27648,
    }
    assert not _check(cli, cases, assign)


def test_fat_tree_capacity_constraint(cli):
    # k³/4 = 27,648 hosts is the capacity of a three-tier tree of 48-port switches:
    # one more endpoint violates cluster.ineq.fabric_capacity, exactly k³/4 does not.
    statuses = {}
    for hosts in (27648, 27649):
        result = cli("resolve", "cluster.fabric.n_switches", "--assign", f"cluster.fabric.n_endpoints={hosts}",
                     "--assign", "cluster.fabric.switch_radix=48", "--constraints", "--json")
        found = {c["id"]: c["status"] for c in result.json()["constraints"]}
        statuses[hosts] = found["cluster.ineq.fabric_capacity"]
    assert statuses == {27648: "ok", 27649: "violated"}, statuses


def test_fat_tree_dgx_superpod_component_counts(cli):
    # NVIDIA DGX SuperPOD reference architecture (DGX B200, NDR InfiniBand, 64-port switches,
    # one 400 Gb/s port per GPU, 8 GPUs per node), table of larger SuperPOD component counts:
    #   4 SU = 128 nodes = 1024 GPUs  → 32 leaf, 16 spine, 1024 node–leaf + 1024 leaf–spine cables
    #  16 SU = 512 nodes = 4096 GPUs  → 128 leaf, 128 spine, 64 core, 4096 cables per tier
    #  64 SU = 2048 nodes = 16384 GPUs → 512 leaf, 512 spine, 256 core, 16384 cables per tier
    # Built here from the site: racks × 4 nodes × 8 GPUs × 1 NIC per GPU.
    errors = []
    for n_nodes, expected in {
        128: {"cluster.fabric.n_leaf_switches": 32, "cluster.fabric.n_spine_switches": 16,
              "cluster.fabric.n_core_switches": 0, "cluster.fabric.n_links": 2048},
        512: {"cluster.fabric.n_leaf_switches": 128, "cluster.fabric.n_spine_switches": 128,
              "cluster.fabric.n_core_switches": 64, "cluster.fabric.n_links": 3 * 4096},
        2048: {"cluster.fabric.n_leaf_switches": 512, "cluster.fabric.n_spine_switches": 512,
               "cluster.fabric.n_core_switches": 256, "cluster.fabric.n_links": 3 * 16384},
    }.items():
        assign = {"cluster.site.n_racks": str(n_nodes // 4), "cluster.rack.n_nodes": "4",
                  "cluster.node.n_gpus": "8", "cluster.node.nics_per_gpu": "1",
                  "cluster.fabric.switch_radix": "64"}
        errors += _check(cli, expected, assign)
    assert not errors


def test_reliability_device_counts_from_superpod_fabric(cli):
    # The reliability model's per-GPU switch and link counts come from the same fabric
    # (Al-Fares et al. 2008; counts of the DGX SuperPOD reference architecture above):
    #   1024 GPUs: 32 + 16 = 48 switches → 48/1024 per GPU; 2048 links → 2 per GPU (two tiers)
    #  16384 GPUs: 512 + 512 + 256 = 1280 switches → 0.078125 per GPU; 3 × 16384 links → 3 per GPU
    # With the whole site as the job (par.n_gpus = site GPUs) the job depends on all of them;
    # back-end NICs per node = 8 GPUs × 1 NIC port per GPU = 8.
    errors = []
    for n_nodes, switches, links in ((128, 48, 2048), (2048, 1280, 3 * 16384)):
        gpus = 8 * n_nodes
        assign = {"cluster.site.n_racks": str(n_nodes // 4), "cluster.rack.n_nodes": "4",
                  "cluster.node.n_gpus": "8", "cluster.node.nics_per_gpu": "1",
                  "cluster.fabric.switch_radix": "64", "par.n_gpus": str(gpus)}
        errors += _check(cli, {"cluster.reliability.switches_per_gpu": switches / gpus,
                               "cluster.reliability.links_per_gpu": links / gpus,
                               "cluster.reliability.n_switches": switches,
                               "cluster.reliability.n_links": links,
                               "cluster.reliability.nics_per_node": 8}, assign)
    assert not errors


def test_fabric_power_reaches_node_power(cli):
    # 1024 GPUs (128 nodes) on 64-port switches: 48 switches, 2048 links, all optical →
    # 4096 transceiver ports. Fabric power = 48 × 1000 W + 4096 × 9 W = 84,864 W;
    # share per node = 84,864 / 128 = 663 W, which lands in misc_power and node power.
    assign = {"cluster.site.n_racks": "32", "cluster.rack.n_nodes": "4", "cluster.node.n_gpus": "8",
              "cluster.node.nics_per_gpu": "1", "cluster.fabric.switch_radix": "64",
              "cluster.fabric.optical_link_fraction": "1", "cluster.fabric.switch_power": "1000 W",
              "cluster.fabric.transceiver_power_per_port": "9 W",
              # the rest of misc_power fixed directly
              "cluster.node.baseboard_power": "0 W", "cluster.node.fan_power": "0 W", "cluster.node.psu_loss": "0 W"}
    cases = {
        "cluster.fabric.n_optical_ports": 4096,
        "cluster.fabric.power": 48 * 1000 + 4096 * 9,
        "cluster.node.fabric_power_share": (48 * 1000 + 4096 * 9) / 128,
        "cluster.node.misc_power": (48 * 1000 + 4096 * 9) / 128,
    }
    assert not _check(cli, cases, assign)


# ----------------------------------------------------------------------------- node and rack


DGX_H100_BOM = {
    # NVIDIA DGX H100/H200 User Guide: 2 TB of system memory in 32 DIMMs, 8 single-port
    # ConnectX-7 (one per GPU) + 2 dual-port ConnectX-7, 8 × 3.84 TB data NVMe + 2 × 1.92 TB boot.
    "cluster.node.n_gpus": "8",
    "cluster.node.host_memory": "2048 GiB",
    "cluster.node.dimm_capacity": "64 GiB",
    "cluster.node.nics_per_gpu": "1",
    "cluster.node.n_storage_nics": "2",
    "cluster.node.local_storage_capacity": "30.72 TB",
    "cluster.node.ssd_capacity": "3.84 TB",
    "cluster.node.n_boot_drives": "2",
}


def test_dgx_h100_bill_of_materials_counts(cli):
    # 2048 GiB / 64 GiB = 32 DIMMs; 8 × 1 + 2 = 10 NICs; 30.72 / 3.84 + 2 = 10 SSDs.
    cases = {"cluster.node.n_dimms": 32, "cluster.node.n_nics": 10, "cluster.node.n_ssds": 10}
    assert not _check(cli, cases, DGX_H100_BOM)


def test_node_power_build_up_by_hand(cli):
    # Synthetic, round numbers (not a product): 8 GPUs × 700 W = 5600 W;
    # CPUs 2 × 350 W × (0.3 + 0.7 × 0.3) = 357 W; DRAM 32 × 8 W = 256 W; NICs 10 × 25 W = 250 W;
    # SSDs 10 × 12 W = 120 W; baseboard 400 W → components 6983 W.
    # Fans: air-cooled, V̇ = 6983 / (1.2 × 1000 × 20) = 0.2909583 m³/s; × 1000 Pa / 0.25 = 1163.833 W.
    # PSU: (6983 + 1163.833) × (1/0.96 − 1) = 339.4514 W. Server = 8486.285 W.
    assign = dict(DGX_H100_BOM)
    assign.update({
        "gpu.power.total": "700 W", "cluster.node.n_cpus": "2", "cluster.node.cpu_tdp": "350 W",
        "cluster.node.cpu_idle_power_fraction": "0.3", "cluster.node.cpu_utilization": "0.3",
        "cluster.node.dimm_power": "8 W", "cluster.node.nic_unit_power": "25 W", "cluster.node.ssd_power": "12 W",
        "cluster.node.baseboard_power": "400 W", "thermal.cooling.liquid_fraction": "0",
        "thermal.air.density": "1.2 kg/m**3", "thermal.air.specific_heat": "1000 J/(kg*K)",
        "cluster.node.air_delta_t": "20 K", "cluster.node.fan_pressure_rise": "1000 Pa",
        "cluster.node.fan_efficiency": "0.25", "cluster.node.psu_efficiency": "0.96",
        # no fabric in this check
        "cluster.node.fabric_power_share": "0 W",
    })
    components = 5600 + 357 + 256 + 250 + 120 + 400
    fans = components / (1.2 * 1000 * 20) * 1000 / 0.25
    psu = (components + fans) * (1 / 0.96 - 1)
    cases = {
        "cluster.node.cpu_power": 357,
        "cluster.node.component_power": components,
        "cluster.node.fan_power": fans,
        "cluster.node.psu_loss": psu,
        "cluster.node.server_power": components + fans + psu,
        # spine: node power = GPUs + host parts + misc (baseboard + fans + PSU + fabric share)
        "cluster.node.power": components + fans + psu,
    }
    assert not _check(cli, cases, assign)


def test_nodes_per_rack_from_power_budget(cli):
    # DGX H100 maximum system power 10.2 kW (User Guide); the DGX SuperPOD H100 design puts four
    # per rack, 40.8 kW (checked only in a secondary summary of the reference architecture).
    # floor(40.8 / 10.2) = 4 by power; floor(40 U / 8 U) = 5 by space → 4.
    # With a 35 kW budget only 3 fit; racks for 1024 GPUs at 4 × 8 GPUs per rack: 32.
    errors = []
    base = {"cluster.node.server_power": "10.2 kW", "cluster.rack.usable_units": "40", "cluster.node.rack_units": "8"}
    errors += _check(cli, {"cluster.rack.n_nodes": 4}, {**base, "cluster.rack.power_budget": "40.8 kW"})
    errors += _check(cli, {"cluster.rack.n_nodes": 3}, {**base, "cluster.rack.power_budget": "35 kW"})
    errors += _check(cli, {"cluster.site.n_racks": 32, "cluster.site.n_gpus": 1024},
                     {**base, "cluster.rack.power_budget": "40.8 kW", "cluster.node.n_gpus": "8",
                      "cluster.site.target_n_gpus": "1024"})
    # the power-budget alternative: floor(1.5 MW / (4 × 10.2 kW)) = 36 racks
    errors += _check(cli, {"cluster.site.n_racks": 36},
                     {**base, "cluster.rack.power_budget": "40.8 kW", "cluster.site.compute_power_budget": "1.5 MW"},
                     select={"cluster.site.n_racks": "cluster.eq.site_n_racks_from_power"})
    assert not errors


# ----------------------------------------------------------------------------- cooling and water


def test_chilled_water_flow_per_ton_ahri(cli):
    # AHRI 550/590 (I-P, 2015) Table 1 standard rating: evaporator water 54 → 44 °F at 2.4 gpm per
    # ton of refrigeration. One ton = 3516.85 W; ΔT = 10 °F = 5.5556 K; cp = 4186 J/(kg·K) →
    # ṁ = 3516.85 / (4186 × 5.5556) = 0.151226 kg/s; at 999.7 kg/m³ (≈ 9 °C) that is
    # 1.5127e-4 m³/s = 2.398 gpm.
    data = _resolve(cli, "thermal.cooling.chilled_water_flow", {
        "thermal.cooling.chiller_load": "1 ton_of_refrigeration",
        "thermal.cooling.chilled_water_delta_t": "10 delta_degF",
        "thermal.water.specific_heat": "4186 J/(kg*K)",
    })
    gpm = data["value"] / 999.7 / GPM
    assert relative_error(gpm, 2.4) < 0.005, gpm


def test_chiller_cop_carnot_and_rated(cli):
    # Reversed Carnot: T_evap = 291.15 − 2 = 289.15 K; T_cond = 293.15 + 4 + 5.5 + 2 = 304.65 K;
    # COP_Carnot = 289.15 / 15.5 = 18.6548; × 0.5 → 9.3274. Rated alternative: 0.56 kW per ton
    # of refrigeration → COP = 3.51685 / 0.56 = 6.2801.
    carnot = {"thermal.cooling.chilled_water_supply_temperature": "291.15 K",
              "thermal.cooling.evaporator_approach": "2 K", "thermal.site.wet_bulb_temperature": "293.15 K",
              "thermal.cooling.tower_approach": "4 K", "thermal.cooling.tower_range": "5.5 K",
              "thermal.cooling.condenser_approach": "2 K", "thermal.cooling.chiller_second_law_efficiency": "0.5"}
    errors = _check(cli, {"thermal.cooling.chiller_carnot_cop": 289.15 / 15.5,
                          "thermal.cooling.chiller_cop": 0.5 * 289.15 / 15.5}, carnot)
    errors += _check(cli, {"thermal.cooling.chiller_cop": 3516.8528 / 560},
                     {"thermal.cooling.chiller_kw_per_ton": "0.56 kW/ton_of_refrigeration"},
                     select={"thermal.cooling.chiller_cop": "thermal.eq.chiller_cop_rated"}, tolerance=1e-6)
    assert not errors


def test_makeup_water_cycles_three_to_six_watersense(cli):
    # EPA WaterSense at Work (2012), p. 199: raising cycles of concentration from three to six cuts
    # cooling-tower make-up water by 20 percent. Make-up = E·C/(C − 1): 1.5·E at C = 3, 1.2·E at
    # C = 6 → 1.2/1.5 = 0.8. (The same page says blowdown falls by 50 %; the solids balance gives
    # E/2 → E/5, a 60 % cut, so only the make-up figure is tested.)
    makeup = {}
    for cycles in (3, 6):
        data = _resolve(cli, "thermal.water.makeup_rate", {
            "thermal.water.evaporation_rate": "1 kg/s", "thermal.water.drift_rate": "0 kg/s",
            "thermal.water.cycles_of_concentration": str(cycles)})
        makeup[cycles] = data["value"]
    assert relative_error(makeup[3], 1.5) < 1e-9 and relative_error(makeup[6], 1.2) < 1e-9, makeup
    assert relative_error(1 - makeup[6] / makeup[3], 0.20) < 1e-9


def test_water_flow_from_latent_heat(cli):
    # 1 MW rejected by wet towers, all latent, at h_fg(25 °C) = 2441.7 kJ/kg (IAPWS-95):
    # E = 1e6 / 2.4417e6 = 0.409551 kg/s. Circulating water = 1e6 / (4180 × 5.5) = 43.4972 kg/s;
    # drift = 2e-5 × 43.4972 = 8.6994e-4 kg/s. Cycles 4: blowdown = E/3 − drift = 0.135647 kg/s;
    # make-up = E·4/3 = 0.546068 kg/s; at 997 kg/m³: 5.47711e-4 m³/s (≈ 1.97 m³/h).
    assign = {"thermal.cooling.condenser_heat": "1 MW", "thermal.water.evaporative_fraction": "1",
              "thermal.water.latent_share": "1", "thermal.water.latent_heat": "2441.7 kJ/kg",
              "thermal.water.specific_heat": "4180 J/(kg*K)", "thermal.cooling.tower_range": "5.5 K",
              "thermal.water.drift_fraction": "2e-5", "thermal.water.cycles_of_concentration": "4",
              "thermal.water.density": "997 kg/m**3"}
    evaporation = 1e6 / 2.4417e6
    drift = 2e-5 * 1e6 / (4180 * 5.5)
    cases = {
        "thermal.water.evaporation_rate": evaporation,
        "thermal.water.drift_rate": drift,
        "thermal.water.blowdown_rate": evaporation / 3 - drift,
        "thermal.water.makeup_rate": evaporation * 4 / 3,
        "thermal.facility.water_flow": evaporation * 4 / 3 / 997,
    }
    assert not _check(cli, cases, assign)


# ----------------------------------------------------------------------------- PUE from its parts


PUE_CASE = {
    # Synthetic plant with round numbers, 1 MW of IT, air-cooled.
    "cluster.site.power_it": "1 MW",
    "cluster.site.n_racks": "25",
    "thermal.power.pdu_efficiency": "0.98",
    "thermal.power.ups_efficiency": "0.96",
    "thermal.power.transformer_efficiency": "0.99",
    "thermal.site.area_per_rack": "4 m**2",
    "thermal.site.support_area_ratio": "1",
    "thermal.site.lighting_power_density": "10 W/m**2",
    "thermal.site.lighting_on_fraction": "0.5",
    "thermal.site.misc_power_density": "20 W/m**2",
    "thermal.cooling.liquid_fraction": "0",
    "thermal.air.density": "1.2 kg/m**3",
    "thermal.air.specific_heat": "1000 J/(kg*K)",
    "thermal.cooling.air_delta_t": "10 K",
    "thermal.cooling.fan_pressure_rise": "600 Pa",
    "thermal.cooling.fan_efficiency": "0.6",
    "thermal.cooling.chiller_cop": "5",
    "thermal.cooling.economizer_fraction": "0",
    "thermal.water.specific_heat": "4000 J/(kg*K)",
    "thermal.water.density": "1000 kg/m**3",
    "thermal.cooling.chilled_water_delta_t": "5 K",
    "thermal.cooling.liquid_loop_delta_t": "10 K",
    "thermal.cooling.tower_range": "5 K",
    "thermal.cooling.pump_pressure_rise": "200 kPa",
    "thermal.cooling.pump_efficiency": "0.8",
    "thermal.cooling.tower_fan_power_ratio": "0.01",
}


def test_pue_built_from_its_parts(cli):
    # UPS output = 1e6 / 0.98 = 1,020,408.16 W; PDU loss = 20,408.16 W;
    # UPS loss = 1,020,408.16 × (1/0.96 − 1) = 42,517.01 W; UPS input = 1,062,925.17 W.
    # Floor: 25 × 4 = 100 m² white, 200 m² gross; lighting 200 × 10 × 0.5 = 1000 W; misc 4000 W.
    # Heat load = 1e6 + 42,517.01 + 20,408.16 + 1000 = 1,063,925.17 W (all by air).
    # Air: ṁ = Q/(1000 × 10) = 106.3925 kg/s; V̇ = 88.6604 m³/s; fans = V̇ × 600 / 0.6 = 88,660.43 W.
    # Chiller load = 1,152,585.60 W; compressors = /5 = 230,517.12 W;
    # condenser heat = 1,383,102.72 W.
    # Pumps: chilled 57.6293 kg/s + condenser 69.1551 kg/s = 126.7844 kg/s = 0.1267844 m³/s;
    # × 200 kPa / 0.8 = 31,696.10 W. Tower fans = 13,831.03 W.
    # Cooling = 230,517.12 + 88,660.43 + 31,696.10 + 13,831.03 = 364,704.68 W.
    # Transformer output = 1,062,925.17 + 364,704.68 + 1000 + 4000 = 1,432,629.85 W;
    # substation loss = × (1/0.99 − 1) = 14,471.01 W; transformer+distribution = 34,879.17 W.
    # Total = 1e6 + 364,704.68 + 42,517.01 + 34,879.17 + 1000 + 4000 = 1,447,100.86 W → PUE 1.447101.
    it = 1e6
    ups_out = it / 0.98
    pdu = ups_out - it
    ups = ups_out * (1 / 0.96 - 1)
    lighting, misc = 200 * 10 * 0.5, 200 * 20
    heat = it + ups + pdu + lighting
    fans = heat / (1000 * 10) / 1.2 * 600 / 0.6
    chiller_load = heat + fans
    compressors = chiller_load / 5
    condenser = chiller_load + compressors
    pumps = (chiller_load / (4000 * 5) + condenser / (4000 * 5)) / 1000 * 200e3 / 0.8
    cooling = compressors + fans + pumps + 0.01 * condenser
    substation = (ups_out + ups + cooling + lighting + misc) * (1 / 0.99 - 1)
    total = it + cooling + ups + substation + pdu + lighting + misc
    cases = {
        "thermal.facility.ups_loss": ups,
        "thermal.facility.transformer_loss": substation + pdu,
        "thermal.facility.lighting": lighting,
        "thermal.facility.misc": misc,
        "thermal.facility.cooling_power": cooling,
        "thermal.dc.total_power": total,
        "thermal.dc.pue": total / it,
    }
    errors = _check(cli, cases, PUE_CASE)
    assert relative_error(total / it, 1.447101) < 1e-6
    assert not errors


def test_load_dependent_loss_alternatives(cli):
    # Three-part UPS loss, rated·(a0 + a1·f + a2·f²) with rated = output/f:
    # output 1e6 W, f = 0.4, a0 = 0.02, a1 = 0.015, a2 = 0.01 →
    # loss = 1e6 × (0.02/0.4 + 0.015 + 0.01 × 0.4) = 69,000 W (6.9 % at 40 % load; at full load
    # the same UPS would lose 0.02 + 0.015 + 0.01 = 4.5 %).
    assign = {"thermal.power.ups_output": "1 MW", "thermal.power.ups_load_fraction": "0.4",
              "thermal.power.ups_no_load_loss": "0.02", "thermal.power.ups_proportional_loss": "0.015",
              "thermal.power.ups_square_law_loss": "0.01"}
    errors = _check(cli, {"thermal.facility.ups_loss": 69000}, assign,
                    select={"thermal.facility.ups_loss": "thermal.eq.ups_loss_load_dependent"})
    errors += _check(cli, {"thermal.facility.ups_loss": 45000}, {**assign, "thermal.power.ups_load_fraction": "1"},
                     select={"thermal.facility.ups_loss": "thermal.eq.ups_loss_load_dependent"})
    # Transformer core + copper loss, rating·(p0 + pk·f²) with rating = output/f: output 1 MW at
    # f = 0.5, p0 = 0.2 %, pk = 1 % → 1e6 × (0.002/0.5 + 0.01 × 0.5) = 9000 W.
    errors += _check(cli, {"thermal.power.substation_transformer_loss": 9000},
                     {"thermal.power.transformer_output": "1 MW", "thermal.power.transformer_load_fraction": "0.5",
                      "thermal.power.transformer_no_load_loss": "0.002", "thermal.power.transformer_load_loss": "0.01"},
                     select={"thermal.power.substation_transformer_loss":
                             "thermal.eq.substation_transformer_loss_load_dependent"})
    assert not errors


def test_dense_fixture_unchanged_by_build_up(cli):
    # The fixture assigns every facility and node term that is now derived: its outputs stay put.
    data = cli("scenario-report", "dense_training_cost_fixture", "--json").json()
    assert (data["status"], data["ok_count"]) == ("ok", 4)
    values = {t["id"]: t["value"] for t in data["targets"]}
    assert values["econ.job.dc_power"] == 5200.0
