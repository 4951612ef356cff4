"""Economics registry (econ.*): capex, amortization, opex, GPU-hour price.

Published worked figures are checked through the public CLI; each case gives
its hand derivation and its source. Mismatches are collected and asserted once.
"""

from __future__ import annotations

import math

import pytest
from conftest import relative_error

HOURS_PER_YEAR = 365.25 * 24  # the registry's one calendar (pint's Julian year)


def _resolve(cli, target: str, *assign: str, select: tuple[str, ...] = ()) -> tuple[str, float | None, list]:
    args = ["resolve", target, "--json", "--missing"]
    for a in assign:
        args += ["--assign", a]
    for s in select:
        args += ["--select", s]
    result = cli(*args)
    data = result.json()
    return data["status"], data["value"], data.get("missing", [])


# (name, target, assignments, selections, expected value in the target's declared unit, tolerance)
LITERATURE_CASES = [
    # Capital-recovery factor, NREL ATB 2024 "Equations and Variables":
    # CRF = r / (1 − (1+r)^−n) = r(1+r)^n / ((1+r)^n − 1); r = 7 %, n = 20 years:
    # 1.07^20 = 3.869684, 0.07 × 3.869684 / 2.869684 = 0.094393.
    ("crf_7pct_20y", "econ.amort.it.crf",
     ("econ.amort.discount_rate=0.07", "econ.amort.it.lifetime=20 year"), (), 0.0943929, 1e-5),
    # Capital recovery with salvage (Blank & Tarquin, Engineering Economy): P = 50,000 USD,
    # S = 5,000 USD (10 %), n = 5 years, i = 10 %: CR = 45,000 × (A/P,10%,5) + 5,000 × 0.10
    # = 45,000 × 0.263797 + 500 = 12,371 USD per year.
    ("capital_recovery_with_salvage", "econ.amort.it.annual_charge",
     ("econ.amort.discount_rate=0.10", "econ.amort.it.lifetime=5 year", "econ.capex.it_total=50000 USD",
      "econ.amort.it.residual_fraction=0.1"),
     ("econ.amort.it.annual_charge=econ.eq.it_annual_charge_crf",), 12371.0, 1e-4),
    # Cottier et al. 2024 §2.2 (and their code, cost_estimation.py): amortized cost per chip-hour
    # = start value × r·ln10 / hours per year, r = 0.14 OOM/yr → 0.322362 per year;
    # 10,000 USD × 0.322362 / 8766 h = 0.367741 USD per GPU-hour (one GPU, utilization 1).
    ("cottier_amortized_per_chip_hour", "econ.gpu.capex_per_hour",
     ("econ.capex.it_total=1e4 USD", "econ.amort.it.depreciation_oom_rate=0.14 1/year",
      "econ.amort.it.age_at_start=0 year", "econ.amort.facility.annual_charge=0 USD/year",
      "econ.job.share_of_cluster=1", "econ.site.utilization=1", "par.n_gpus=1"),
     ("econ.amort.it.annual_charge=econ.eq.it_annual_charge_exponential",),
     1e4 * 0.14 * math.log(10) / HOURS_PER_YEAR, 1e-9),
    # Cottier et al. §2.2: start value = cost × exp(−age·r·ln10) = cost × 10^(−0.14 × age);
    # one year old: 10^−0.14 = 0.724436 of the acquisition cost.
    ("cottier_value_at_start_one_year", "econ.amort.it.value_at_start",
     ("econ.capex.it_total=1e4 USD", "econ.amort.it.depreciation_oom_rate=0.14 1/year",
      "econ.amort.it.age_at_start=1 year"), (), 1e4 * 10 ** -0.14, 1e-9),
    # Cottier et al.'s code (hardware.py, constants.py): server = 1.64 × GPU cost, interconnect
    # = 19 % of total cluster cost. 8 GPUs × 10,000 USD = 80,000; servers 131,200;
    # cluster = 131,200 / (1 − 0.19) = 161,975.31 USD (no separate storage).
    ("cottier_server_and_interconnect_overheads", "econ.capex.it_total",
     ("cluster.site.n_gpus=8", "econ.capex.gpu_price=1e4 USD", "econ.capex.server_cost_overhead=1.64",
      "econ.capex.network_cost_fraction=0.19", "econ.capex.storage=0 USD"),
     ("econ.capex.hosts=econ.eq.hosts_capex_overhead", "econ.capex.network=econ.eq.network_capex_fraction"),
     131_200 / 0.81, 1e-9),
    # Al-Fares et al. 2008 k-ary fat tree, k = 48: k³/4 = 27,648 hosts and 5k²/4 = 2,880 switches
    # of 48 ports = 138,240 switch ports, i.e. 5 per host (3 tiers → 2·3 − 1). The counts are the
    # cluster fabric's (cluster.fabric.*); priced at 1 USD per port and nothing per link, the
    # per-port network capex is the port count: 138,240 USD.
    ("fat_tree_k48_switch_ports", "econ.capex.network",
     ("cluster.fabric.n_endpoints=27648", "cluster.fabric.switch_radix=48",
      "econ.capex.switch_port_price=1 USD", "econ.capex.link_price=0 USD"),
     ("econ.capex.network=econ.eq.network_capex_per_port",), 138_240.0, 1e-12),
    # Same fat tree: host-edge, edge-aggregation and aggregation-core links are k³/4 each: 82,944
    # (at 1 USD per link and nothing per port, 82,944 USD).
    ("fat_tree_k48_links", "econ.capex.network",
     ("cluster.fabric.n_endpoints=27648", "cluster.fabric.switch_radix=48",
      "econ.capex.switch_port_price=0 USD", "econ.capex.link_price=1 USD"),
     ("econ.capex.network=econ.eq.network_capex_per_port",), 82_944.0, 1e-12),
    # AWS EC2 Capacity Blocks (late 2024): p5.48xlarge, 8 × H100, 4.916 USD per accelerator-hour;
    # one instance-hour = 8 GPU-hours × 4.916 = 39.328 ≈ the listed 39.33 USD instance rate.
    ("aws_p5_instance_hour", "econ.run.gpu_hour_cost",
     ("econ.gpu.rental_price=4.916 USD/hour", "training.gpu_hours=8 hour"), (), 39.33, 1e-3),
    # Cottier et al.'s code (constants.py): AWS 3-year committed-use discount 0.64 →
    # 4.916 × (1 − 0.64) = 1.76976 USD per H100-hour.
    ("aws_three_year_commitment", "econ.gpu.hourly_price",
     ("econ.gpu.rental_price=4.916 USD/hour", "econ.gpu.commit_discount=0.64"),
     ("econ.gpu.hourly_price=econ.eq.gpu_hourly_price_committed",), 4.916 * 0.36, 1e-9),
    # NREL 2017 survey of U.S. demand charges: 15 USD/kW (per month) is the benchmark high charge;
    # 1,000 kW peak for one month (a twelfth of a year) → 15,000 USD.
    ("nrel_demand_charge_benchmark", "econ.run.demand_cost",
     ("econ.power.demand_charge=15 USD/kW/month", "econ.job.peak_demand=1000 kW", "training.wallclock=1 month"),
     (), 15_000.0, 1e-9),
    # EPA 2023 social cost of CO2, 190 USD per metric tonne (2020 emissions): 1,000 t → 190,000 USD.
    ("epa_social_cost_of_carbon", "econ.run.carbon_cost",
     ("econ.carbon.price=190 USD/t", "econ.run.emissions=1e6 kg"), (), 190_000.0, 1e-12),
]


def test_literature_cases(cli):
    mismatches = {}
    for name, target, assign, select, expected, tolerance in LITERATURE_CASES:
        status, value, missing = _resolve(cli, target, *assign, select=select)
        if status != "ok" or value is None:
            mismatches[name] = (status, missing)
        elif relative_error(value, expected) > tolerance:
            mismatches[name] = (value, expected)
    assert not mismatches


# A synthetic one-node site, every econ root set, default alternatives (itemized hosts,
# network per GPU, straight-line amortization, metered peak demand). Hand derivation:
#   capex: GPUs 8 × 25,000 = 200,000; host (the node's bill of materials, cluster.node.*:
#          2 CPUs, 2,048 GiB, 8 × 1 compute + 2 storage = 10 NICs, 30 TB of data SSD)
#          2×5,000 + 2,048 GiB×5 + 10×2,000 + 30 TB×100 + 36,760 = 80,000; network 8 × 2,500 = 20,000; storage 8 × 10 TB × 250 = 20,000
#          → IT 320,000; IT capacity 10 kW / 0.8 = 12.5 kW → facility 125,000; site 445,000.
#   amortization: IT 320,000 × 0.9 / 4 yr = 72,000/yr; facility 125,000 / 10 yr = 12,500/yr;
#          ÷ utilization 0.5 → capex rate 169,000 USD/yr; × 0.5 yr → hw cost 84,500.
#   energy: 12 kW facility (PUE 1.2) × 0.5 yr = 52,596 kWh × 0.10 = 5,259.6 USD.
#   opex: maintenance 0.04 × 445,000 × 0.5/0.5 = 17,800; insurance 0.01 → 4,450;
#          staff 1/MW × 12.5 kW × 200,000 USD/yr × 0.5/0.5 = 2,500;
#          demand 20 USD/kW-month × 1.25 × 12 kW × 6 months = 1,800;
#          transit (1e10 token × 4 byte + 960 GB) × 0.05 USD/GB = 50;
#          carbon 52,596 kWh × 0.4 kg/kWh = 21.0384 t × 100 USD/t = 2,103.84;
#          water 1e-6 m³/s × 15,778,800 s = 15.7788 m³ × 2 USD/m³ = 31.5576 → opex 28,735.3976.
#   total 118,494.9976 USD; per token 1.18494998e-5 USD/token.
FULL_CHAIN = (
    "par.n_gpus=8", "cluster.node.n_gpus=8", "cluster.rack.n_nodes=1", "cluster.site.n_racks=1",
    "cluster.site.power_it=10 kW", "thermal.dc.total_power=12 kW",
    "training.wallclock=0.5 year", "training.total_tokens=1e10 token",
    "econ.capex.gpu_price=25000 USD",
    "econ.capex.cpu_price=5000 USD", "cluster.node.n_cpus=2",
    "econ.capex.ram_price=5 USD/GiB", "cluster.node.host_memory=2048 GiB",
    "econ.capex.nic_price=2000 USD", "cluster.node.nics_per_gpu=1", "cluster.node.n_storage_nics=2",
    "econ.capex.ssd_price=100 USD/TB", "cluster.node.local_storage_capacity=30 TB",
    "econ.capex.node_chassis_price=36760 USD",
    "econ.capex.network_per_gpu=2500 USD",
    "econ.capex.storage_price=250 USD/TB", "econ.capex.storage_capacity_per_gpu=10 TB",
    "econ.capex.facility_price_per_watt=10 USD/W", "econ.capex.it_load_factor=0.8",
    "econ.amort.it.lifetime=4 year", "econ.amort.it.residual_fraction=0.1",
    "econ.amort.facility.lifetime=10 year", "econ.amort.facility.residual_fraction=0",
    "econ.site.utilization=0.5",
    "econ.power.price_kwh_peak=0.10 USD/kWh", "econ.power.price_kwh_offpeak=0.10 USD/kWh",
    "econ.power.peak_energy_fraction=0.5",
    "econ.opex.maintenance_fraction=0.04 1/year", "econ.opex.insurance_fraction=0.01 1/year",
    "econ.opex.staff_per_it_capacity=1 1/MW", "econ.opex.staff_cost_per_fte=200000 USD/year",
    "econ.power.demand_charge=20 USD/kW/month", "econ.power.peak_to_average=1.25",
    "econ.opex.transit_price=0.05 USD/GB", "econ.transit.bytes_per_token=4 byte/token",
    "econ.transit.other_volume=960 GB",
    "econ.carbon.intensity=0.4 kg/kWh", "econ.carbon.price=100 USD/t",
    "thermal.facility.water_flow=1e-6 m**3/s", "econ.opex.water_price=2 USD/m**3",
)

FULL_CHAIN_EXPECTED = {
    "econ.capex.it_total": 320_000.0,
    "econ.capex.site_total": 445_000.0,
    "econ.job.capex_rate": 169_000.0 / (HOURS_PER_YEAR * 3600),  # USD/s
    "econ.run.hw_cost": 84_500.0,
    "econ.run.water": 15.7788,
    "econ.run.opex_misc_cost": 28_735.3976,
    "econ.run.total_cost": 118_494.9976,
    "econ.cost.per_token": 1.184949976e-05,
}


def test_full_chain_by_hand(cli):
    mismatches = {}
    for target, expected in FULL_CHAIN_EXPECTED.items():
        status, value, missing = _resolve(cli, target, *FULL_CHAIN)
        if status != "ok" or value is None:
            mismatches[target] = (status, missing)
        elif relative_error(value, expected) > 1e-9:
            mismatches[target] = (value, expected)
    assert not mismatches


def test_amortized_gpu_hour_price_recovers_total_cost(cli):
    # With the fully loaded (amortized) hourly price, GPU-hours × price is the run's total cost.
    select = ("econ.gpu.hourly_price=econ.eq.gpu_hourly_price_amortized",)
    status, value, missing = _resolve(cli, "econ.run.gpu_hour_cost", *FULL_CHAIN, select=select)
    assert status == "ok", missing
    assert relative_error(value, FULL_CHAIN_EXPECTED["econ.run.total_cost"]) < 1e-9


@pytest.mark.parametrize("target", ["econ.job.capex_rate", "econ.run.opex_misc_cost", "econ.gpu.hourly_price"])
def test_former_roots_are_derived(cli, target):
    # Without assignments these resolve to 'missing' and name roots upstream of them, not themselves.
    status, _, missing = _resolve(cli, target)
    assert status == "missing"
    assert target not in missing and missing


def test_straight_line_and_crf_agree_at_zero_rate_limit(cli):
    # CRF → 1/n as r → 0: at r = 1e-9 capital recovery equals straight-line depreciation.
    common = ("econ.amort.it.lifetime=5 year", "econ.capex.it_total=1e6 USD", "econ.amort.it.residual_fraction=0.2")
    _, straight, _ = _resolve(cli, "econ.amort.it.annual_charge", *common)
    _, crf, _ = _resolve(cli, "econ.amort.it.annual_charge", *common, "econ.amort.discount_rate=1e-9",
                         select=("econ.amort.it.annual_charge=econ.eq.it_annual_charge_crf",))
    assert relative_error(straight, 160_000.0) < 1e-12
    assert relative_error(crf, straight) < 1e-6


def test_gpt3_emissions_patterson2021(cli):
    """Patterson et al. 2021 Table 4, GPT-3: 1,287 MWh at 429 gCO2e/kWh → 552 tCO2e
    (1,287,000 kWh × 0.429 kg/kWh = 552,123 kg). Through econ.eq.run_emissions."""
    data = cli("resolve", "econ.run.emissions", "--assign", "econ.run.energy=1287 MWh",
               "--assign", "econ.carbon.intensity=429 g/kWh", "--json").json()
    assert data["status"] == "ok" and data["unit"] == "kg"
    assert abs(data["value"] - 552_123) / 552_123 < 1e-9
    assert round(data["value"] / 1000) == 552
