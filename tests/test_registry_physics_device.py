"""Device physics under the GPU (registry/physical/{materials,mosfet,cmos,thermal,limits}) and the packs that
build a GPU from it (scenarios/physics/*_device, *_from_process): textbook figures with their hand derivations,
the three GPUs predicted against their datasheets, an inverse solve through the physics, the power ↔ temperature
loop, bad physics reported by name, and how the physics reaches a training run's cost per token.

Every test goes through the public CLI (`gpu-stack resolve|solve|scenario-report … --json`), collects its
mismatches and asserts once.
"""

from __future__ import annotations

import math

import pytest

from conftest import REPO, check

MATERIALS = "physics.silicon_device_materials"
H100 = "physics.h100_from_process"
SELF_HEATED = "physical.temperature=physical.thermal.eq.temperature_self_heated"

# Datasheet figures the from-process packs are compared with (none of them is assigned in those packs):
# highest (maximum boost) clock in GHz, dense FP16/BF16 tensor peak in TFLOP/s, TDP in W.
#   V100 SXM2: 1.53 GHz, 80 SM × 8 TC × 64 FMA × 2 × 1.53 GHz = 125.3 TFLOP/s, 300 W (nvidia_v100_whitepaper)
#   A100 SXM4: 1.41 GHz, 108 × 4 × 256 × 2 × 1.41 = 311.9 TFLOP/s, 400 W (nvidia_a100_whitepaper)
#   H100 SXM5: 1.98 GHz (tensor peak rated at 1.83), 132 × 4 × 512 × 2 × 1.83 = 989.4 TFLOP/s, 700 W
PUBLISHED = {
    "v100": {"clock": 1.53, "peak": 125.3, "tdp": 300.0},
    "a100": {"clock": 1.41, "peak": 311.9, "tdp": 400.0},
    "h100": {"clock": 1.98, "peak": 989.4, "tdp": 700.0},
}


def constraint_status(data: dict, ident: str) -> str:
    return next(c["status"] for c in data["constraints"] if c["id"] == ident)


# ----------------------------------------------------------------------------- textbook figures


def test_textbook_figures(resolve_data):
    """Worked figures (CODATA 2018 exact constants; hand derivations):
      kT/q at 300 K              = 1.380649e-23 × 300 / 1.602176634e-19            = 25.852 mV      (Sze & Ng)
      ideal swing (n = 1, 300 K) = ln(10) × 25.852 mV                               = 59.53 mV/decade
      1 nm of SiO2 (εr 3.9)      = 3.9 × 8.8541878128e-12 F/m / 1e-9 m              = 34.53 fF/µm²
      Landauer at 300 K          = 1.380649e-23 × 300 × ln 2                        = 2.8710e-21 J
      Meindl–Davis V_DD,min      = 2·ln 2·kT/q = 2 × 2.8710e-21 J / 1.602177e-19 C  = 35.84 mV
      Varshni, Si at 300 K       = 1.169 − 4.9e-4 × 300² / (300 + 655)             = 1.1228 eV (≈ 1.12 eV)
      n_i of Si at 300 K         = sqrt(2.86e19 × 3.10e19) × exp(−1.1228 / 0.051704) = 1.10e10 cm⁻³
                                   (Sproul & Green's measured 1.00e10 cm⁻³: within 10%)
    """
    kt_q = 1.380649e-23 * 300 / 1.602176634e-19
    landauer = 1.380649e-23 * 300 * math.log(2)
    band_gap = 1.169 - 4.9e-4 * 300 ** 2 / (300 + 655)
    n_i = math.sqrt(2.86e19 * 3.10e19) * math.exp(-band_gap / (2 * kt_q))
    at_300k = {"physical.temperature": "300 K"}
    cases = [
        ("kT/q", "physical.thermal_voltage", (), at_300k, kt_q, 1e-12),
        ("ideal swing", "physical.mosfet.subthreshold_swing", (),
         {**at_300k, "physical.mosfet.ideality_factor": 1}, math.log(10) * kt_q * 1e3, 1e-12),
        ("1 nm SiO2", "physical.mosfet.oxide_capacitance", (),
         {"physical.mosfet.oxide_thickness": "1 nm", "physical.mosfet.oxide_permittivity_rel": 3.9},
         3.9 * 8.8541878128e-12 / 1e-9, 1e-12),
        ("Landauer", "physical.limits.landauer_energy_per_bit", (), at_300k, landauer, 1e-12),
        ("Meindl-Davis", "physical.limits.minimum_supply_voltage", (), at_300k,
         2 * landauer / 1.602176634e-19 * 1e3, 1e-12),
        ("Varshni Si", "physical.materials.si.band_gap", (MATERIALS,), at_300k, band_gap, 1e-12),
        ("n_i(300 K)", "physical.materials.si.intrinsic_density_300k", (MATERIALS,), {}, n_i, 1e-9),
    ]
    mismatches: list[str] = []
    for label, target, presets, assign, expected, rel in cases:
        value = resolve_data(target, assign, None, presets)["value"]
        check(mismatches, label, value, expected, rel)
    check(mismatches, "Si band gap ≈ 1.12 eV", band_gap, 1.12, 0.005)
    check(mismatches, "n_i vs Sproul & Green", n_i, 1.00e10, 0.15)
    assert not mismatches, mismatches


# ----------------------------------------------------------------------------- the three GPUs from process


def test_three_gpus_from_process(cli):
    """Each physics.*_from_process pack resolves its peak FLOP/s, board power and good-die cost with nothing
    missing, no violated constraint or validity, and a V/F line the Cardano inversion accepts (intercept ≥ 0).

    Predicted (full-rate tensor load at the critical path's clock) vs published, seen at commit time, with
    logic depth and activity fitted by the tool to the H100 alone (problems/physics_h100_device_fit.toml):
      H100  clock 1.980 GHz (fit)     peak 1070.5 TFLOP/s (+8.2%: at 1.98 GHz, not the 1.83 tensor boost)
            power 700 W (fit)         good die 218 USD
      A100  clock 1.904 GHz (+35.0%)  peak 421.0 TFLOP/s (+35.0%)  power 438.7 W (+9.7% of 400 W)
      V100  clock 1.350 GHz (−11.8%)  peak 110.6 TFLOP/s (−11.7%)  power 159.3 W (−46.9% of 300 W)
    The aim was 20%: A100 (clock, peak) and V100 (power) miss it. The envelope asserted here (50%) guards
    against the physics drifting further, not the aim.
    """
    mismatches: list[str] = []
    for gpu, published in PUBLISHED.items():
        pack = f"physics.{gpu}_from_process"
        values: dict[str, float] = {}
        for target in ("gpu.peak_flops", "gpu.power.total", "fab.die.cost_good", "gpu.clock.boost_max",
                       "gpu.dvfs.voltage_intercept", "physical.thermal.junction_temperature"):
            data = cli("resolve", target, "--preset", pack, "--missing", "--constraints", "--json").json()
            if data["status"] != "ok" or data["missing"]:
                mismatches.append(f"{gpu} {target}: {data['status']}, missing {data['missing']}")
                continue
            bad = [c["id"] for c in data["constraints"] if c["status"] == "violated"]
            if bad:
                mismatches.append(f"{gpu} {target}: violated {bad}")
            values[target] = data["value"]
        if len(values) < 6:
            continue
        check(mismatches, f"{gpu} peak", values["gpu.peak_flops"], published["peak"], 0.5)
        check(mismatches, f"{gpu} power", values["gpu.power.total"], published["tdp"], 0.5)
        if not values["gpu.dvfs.voltage_intercept"] >= 0:
            mismatches.append(f"{gpu}: V/F intercept {values['gpu.dvfs.voltage_intercept']} < 0")
        if not 0 < values["fab.die.cost_good"] < 1000:
            mismatches.append(f"{gpu}: good-die cost {values['fab.die.cost_good']} USD")
    assert not mismatches, mismatches


def test_the_device_fit_is_the_tools_own_answer(cli, registry):
    """device_fit.toml holds what `solve problems/physics_h100_device_fit.toml` answers (nothing tuned by hand)."""
    from gpu_stack.model.scenarios import load_scenario
    data = cli("solve", str(REPO / "problems" / "physics_h100_device_fit.toml"), "--json").json()
    assert data["status"] == "ok", data["message"]
    pack = load_scenario(registry, "physics.device_fit")
    for ident in ("physical.cmos.logic_depth", "physical.cmos.activity_factor"):
        assert pack.assign[ident].value == pytest.approx(data["free"][ident]["value"], rel=1e-6), ident


def test_hardware_packs_cut_the_physics(resolve_data):
    """Packs that assign the old roots keep their values: an assignment cuts the physical default, and the
    trace says so (today's measured H200: idle 79.026 W and the 1833.06 W full-load fit)."""
    data = resolve_data("gpu.power.total", presets=("hardware.h200_sxm_measured",), flags=("--trace",))
    steps = {step["id"]: step for step in data["trace"]}
    mismatches: list[str] = []
    for ident, equation, value in (("gpu.power.idle", "gpu.eq.power_idle_leakage", 79.026),
                                   ("gpu.power.full_load_dynamic_at_max_clock", "gpu.eq.full_load_dynamic_cmos",
                                    1833.06),
                                   ("gpu.clock.boost_max", "gpu.eq.clock_boost_max_critical_path", 1.98)):
        step = steps[ident]
        if (step["source"], step["equation"]) != ("override", equation):
            mismatches.append(f"{ident}: {step['source']} of {step['equation']}")
        check(mismatches, ident, step["value"], value, 1e-12)
    if any(i.startswith("physical.") for i in steps):
        mismatches.append("the physics leaked into a measured pack's trace")
    assert not mismatches, mismatches


def test_effective_capacitance_member_agrees(resolve_data):
    """The two members of gpu.power.full_load_dynamic_at_max_clock agree when the V/F point is the physics':
    α·C·V²·f from registry/physical/cmos equals C_eff·V_max²·f_max with C_eff = α·N·C_tr (the default member
    of gpu.power.switched_capacitance), V_max = the supply and f_max = the critical path's clock."""
    physical = resolve_data("physical.cmos.dynamic_power", presets=(H100,))["value"]
    effective = resolve_data("gpu.power.full_load_dynamic_at_max_clock", None,
                             {"gpu.power.full_load_dynamic_at_max_clock": "gpu.eq.full_load_dynamic_at_max_clock"},
                             (H100,))["value"]
    mismatches: list[str] = []
    check(mismatches, "C_eff·V²·f vs α·C·V²·f", effective, physical, 1e-12)
    assert not mismatches, mismatches


# ----------------------------------------------------------------------------- solving through the physics


def test_supply_voltage_for_a_power_target(cli, resolve_data):
    """Inverse query through the device physics: the H100 supply that brings board power to 600 W (the clock
    falls with the voltage by the alpha-power law, the power with V²·f and the leakage), then resolved forward
    with that supply the board draws 600 W again."""
    data = cli("solve", "--preset", H100, "--target", "gpu.power.total=600 W",
               "--free", "physical.cmos.supply_voltage", "--json").json()
    assert data["status"] == "ok", data["message"]
    supply = data["free"]["physical.cmos.supply_voltage"]["value"]
    forward = resolve_data("gpu.power.total", {"physical.cmos.supply_voltage": f"{supply!r} V"}, None, (H100,))
    mismatches: list[str] = []
    check(mismatches, "forward power", forward["value"], 600.0, 1e-6)
    if not 0.5 < supply < 0.75:  # below the pack's 0.75 V (849 W), above the V/F floor
        mismatches.append(f"supply {supply} V")
    assert not mismatches, mismatches


def test_temperature_loop_closes(cli):
    """Selecting the self-heated temperature makes leakage and temperature an algebraic loop: the audit
    resolver names it, `solve` closes it. At the solution the device temperature is the junction temperature,
    T_j = T_coolant,mean + q''·r (q'' in W/mm² = W/cm² / 100) with the air warmed by P_die/(ṁ·c_p), below the
    90 °C corner the pack is evaluated at, so the leakage is lower than there (H100: about 351 K)."""
    looped = cli("resolve", "gpu.power.total", "--preset", H100, "--select", SELF_HEATED, "--json").json()
    assert looped["status"] == "error" and any("physical.temperature" in loop for loop in looped["loops"])
    data = cli("solve", "--preset", H100, "--select", SELF_HEATED, "--json").json()
    assert data["status"] == "ok", data["message"]
    value = {ident: item["value"] for ident, item in data["values"].items()}
    corner = cli("resolve", "gpu.power.idle", "--preset", H100, "--json").json()["value"]
    mismatches: list[str] = []
    check(mismatches, "T = T_j", value["physical.temperature"], value["physical.thermal.junction_temperature"], 1e-9)
    coolant = 308.15 + value["physical.thermal.die_power"] / (0.05 * 1007) / 2
    check(mismatches, "T_j = T_c,mean + q''·r", value["physical.thermal.junction_temperature"],
          coolant + value["physical.thermal.heat_flux"] / 100 * value["physical.thermal.specific_resistance"], 1e-9)
    if not 308.15 < value["physical.temperature"] < 363.15:
        mismatches.append(f"self-heated temperature {value['physical.temperature']} K")
    if not value["gpu.power.idle"] < corner:
        mismatches.append(f"leakage {value['gpu.power.idle']} W not below the 90 °C corner's {corner} W")
    assert not mismatches, mismatches


def test_bad_physics_is_reported_by_name(cli):
    """`resolve --constraints` names the violated physics: a 0.2 V supply under the 0.21 V threshold (the
    alpha-power law then has no real value and the failing equation is named too), and a 60 °C coolant that
    puts the junction above its 90 °C limit. The pack itself violates neither."""
    mismatches: list[str] = []
    cases = (
        ("gpu.power.total", (), "physical.cmos.ineq.supply_above_threshold", "ok"),
        ("gpu.power.total", ("--assign", "physical.cmos.supply_voltage=0.2 V"),
         "physical.cmos.ineq.supply_above_threshold", "violated"),
        ("physical.thermal.junction_temperature", (), "physical.thermal.ineq.junction_within_limit", "ok"),
        ("physical.thermal.junction_temperature", ("--assign", "physical.thermal.coolant_temperature=333.15 K"),
         "physical.thermal.ineq.junction_within_limit", "violated"),
    )
    for target, extra, constraint, expected in cases:
        data = cli("resolve", target, "--preset", H100, *extra, "--constraints", "--json").json()
        if constraint_status(data, constraint) != expected:
            mismatches.append(f"{constraint} with {extra}: {constraint_status(data, constraint)}")
    low = cli("resolve", "gpu.power.total", "--preset", H100, "--assign", "physical.cmos.supply_voltage=0.2 V",
              "--json").json()
    if low["status"] != "error" or not any("physical.mosfet.eq.drive_current_per_width" in e for e in low["errors"]):
        mismatches.append(f"below threshold: {low['status']} {low['errors'][:1]}")
    assert not mismatches, mismatches


# ----------------------------------------------------------------------------- up to the cost per token


def test_physics_reaches_the_cost_per_token(cli):
    """The run variant puts the physics' clock and power into the Llama 3.1 405B cost (seen at commit time:
    2.47e-6 USD/token against the datasheet run's 2.91e-6; peak 1016.5 vs 989.4 TFLOP/s, 1.88 GHz unthrottled at
    501 W at the step's own tensor activity); plain layering of the physics pack over the datasheet run resolves
    too, but the run's assigned gpu.clock.boost_max (1.98 GHz) cuts the critical path (the pitfall the variant
    exists for)."""
    report = cli("scenario-report", "physics.llama3_405b_h100_from_process", "--json").json()
    assert report["status"] == "ok", report
    values = {t["id"]: t["value"] for t in report["targets"]}
    physics_peak = cli("resolve", "gpu.peak_flops", "--preset", H100, "--json").json()["value"]
    datasheet = cli("resolve", "econ.cost.per_token", "--preset", "runs.llama3_405b_h100", "--json").json()
    layered = cli("resolve", "econ.cost.per_token", "--preset", "runs.llama3_405b_h100", "--preset", H100,
                  "--trace", "--json").json()
    boost = next(step for step in layered["trace"] if step["id"] == "gpu.clock.boost_max")
    mismatches: list[str] = []
    check(mismatches, "the run's peak is the physics' peak", values["gpu.peak_flops"], physics_peak, 1e-12)
    if not values["econ.cost.per_token"] > 0 or \
            abs(values["econ.cost.per_token"] / datasheet["value"] - 1) < 0.01:
        mismatches.append(f"cost per token {values['econ.cost.per_token']} vs datasheet run {datasheet['value']}")
    if layered["status"] != "ok" or (boost["source"], boost["value"]) != ("override", 1.98):
        mismatches.append(f"layered: {layered['status']}, boost_max {boost['source']} {boost['value']}")
    assert not mismatches, mismatches
