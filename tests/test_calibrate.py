"""`gpu-stack calibrate`: the shipped calibrated packs are reproduced from their observations, the fit is
the probe model's least squares (checked by hand and by finite differences), and bad input is refused."""

from __future__ import annotations

import json
import math
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from conftest import REPO
from gpu_stack import Model
from gpu_stack.model.calibrated_pack import COMMAND_KEY

GENERATED = sorted(p for p in (REPO / "scenarios").rglob("*.toml")
                   if tomllib.loads(p.read_text(encoding="utf-8")).get("kind") == "calibrated")
SM_FLOPS_PER_CLOCK = 132 * 4096            # 132 SMs × 4096 dense bf16 FLOP per clock (H100 SXM)


def _pack(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _without_command(text: str) -> list[str]:
    """The pack's lines but those naming the command (they hold the --out path)."""
    return [line for line in text.splitlines()[2:] if not line.startswith(f"{COMMAND_KEY} = ")]


@pytest.fixture(scope="module")
def h100_fit(cli):
    """The H100 GEMM pack's command run again (report as JSON, pack to a temporary file)."""
    return _rerun(cli, REPO / "scenarios" / "hardware" / "h100_sxm_gemm_calibrated.toml")


def _rerun(cli, shipped: Path, tmp: Path | None = None):
    words = shlex.split(_pack(shipped)["calibration"][COMMAND_KEY])
    assert words[:2] == ["gpu-stack", "calibrate"] and words[-2] == "--out"
    out = (tmp or Path(__import__("tempfile").mkdtemp())) / shipped.name
    args = [str(REPO / words[2]), *words[3:-1], str(out), "--json"]
    result = cli("calibrate", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json(), out


def test_every_calibrated_pack_is_generated_by_a_command_that_reproduces_it(cli, h100_fit, tmp_path):
    """Acceptance: calibrate run again on the same observations writes the shipped pack, byte for byte
    but the lines naming the command (which name the --out path)."""
    assert {p.name for p in GENERATED} >= {"h100_sxm_gemm_calibrated.toml", "h200_sxm_gemm_calibrated.toml"}
    for shipped in GENERATED:
        report, out = h100_fit if shipped.name == "h100_sxm_gemm_calibrated.toml" else _rerun(cli, shipped, tmp_path)
        assert report["status"] == "ok"
        assert _without_command(out.read_text(encoding="utf-8")) == _without_command(shipped.read_text(encoding="utf-8"))
        pack = _pack(shipped)
        text = (REPO / pack["calibration"]["observations"]).read_bytes()
        import hashlib
        assert pack["calibration"]["sha256"] == hashlib.sha256(text).hexdigest() == report["sha256"]
        assert set(pack["assign"]) == {p["id"] for p in pack["calibration"]["parameter"]}


def test_observations_are_the_probe_data(registry):
    """Every observed value is the number in the copied probe file (shared/data, never altered)."""
    for name, data in (("h100_sxm_gemm", "h100-2026-11-26.json"), ("h200_sxm_gemm", "h200-2026-11-26.json")):
        probe = json.loads((REPO / "observations" / "measurements" / data).read_text())
        assert probe == json.loads((Path("/work/shared/data/measurements") / data).read_text()) \
            if (Path("/work/shared/data/measurements") / data).exists() else True
        timed = {g["m=n=k"]: g["tflops"] for g in probe["gemm"] if g["dtype"] == "bf16"}
        for row in _pack(REPO / "observations" / f"{name}.toml")["observation"]:
            value = float(row["observed"].split()[0])
            if row["name"].endswith("_sustained"):
                assert value == probe["sustained_gemm_bf16_8192"]["tflops"]
                assert row["assign"]["kernel.probe.clock"]["value"] == \
                    f"{probe['sustained_gemm_bf16_8192']['sm_clock_mhz_median']} MHz"
            else:
                assert value == timed[row["assign"]["kernel.probe.m"]]


def test_deepgemm_observations_are_the_readme_table():
    """Every DeepGEMM row is a line of the README's Performance tables (copied at commit a6d97a1): its
    groups, M per group (the probe's m is their product), N, K and TFLOPS; the decode rows (M 64 and 128)
    are the ones left out."""
    table: dict[tuple[str, int, int, int, int], float] = {}
    layout = "normal"
    text = (REPO / "observations" / "measurements" / "deepgemm-a6d97a1-performance.md").read_text()
    for line in text.splitlines():
        if line.startswith("### "):
            layout = "contiguous" if "contiguous" in line else "masked" if "masked" in line else "normal"
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or not cells[-3].endswith("TFLOPS"):
            continue
        numbers = [int(c) for c in cells[:-3]]
        groups, m, n, k = numbers if len(numbers) == 4 else [1, *numbers]
        table[(layout, groups, m, n, k)] = float(cells[-3].split()[0])
    rows = _pack(REPO / "observations" / "h800_fp8_deepgemm.toml")["observation"]
    for row in rows:
        layout, shape, n, k = row["name"].split("_")
        groups, m = (1, int(shape[1:])) if layout == "normal" else map(int, shape.split("x"))
        assert row["assign"]["kernel.probe.m"] == groups * m
        assert (row["assign"]["kernel.probe.n"], row["assign"]["kernel.probe.k"]) == (int(n[1:]), int(k[1:]))
        assert float(row["observed"].split()[0]) == table[(layout, groups, m, int(n[1:]), int(k[1:]))], row["name"]
    left_out = {key for key in table if key[0] == "normal" and key[2] in (64, 128)}
    assert len(rows) == len(table) - len(left_out) == 16


def test_fit_is_the_probe_model_by_hand(h100_fit):
    """At the fitted values: 4096³ at 1980 MHz = pf × 512/528 (wave) × 4096/(4096 + k_half) × peak;
    512³ is launch-bound: 2·512³ / launch time."""
    report, _ = h100_fit
    fitted = {p["id"]: p["value"] for p in report["parameters"]}
    rows = {r["name"]: r for r in report["rows"]}
    pf, k_half = fitted["kernel.gemm.peak_fraction"], fitted["kernel.gemm.depth_half_k"]
    by_hand = pf * 512 / 528 * 4096 / (4096 + k_half) * SM_FLOPS_PER_CLOCK * 1.98e9 / 1e12
    assert rows["bf16_4096"]["after"] == pytest.approx(by_hand, rel=1e-9)
    assert rows["bf16_512"]["after"] == pytest.approx(2 * 512**3 / fitted["kernel.launch.cpu_time_per_kernel"] / 1e12,
                                                      rel=1e-9)
    sustained = pf * 2048 / 2112 * 8192 / (8192 + k_half) * SM_FLOPS_PER_CLOCK * 1.38e9 / 1e12
    assert rows["bf16_8192_sustained"]["after"] == pytest.approx(sustained, rel=1e-9)
    assert rows["bf16_8192_sustained"]["role"] == "holdout"
    fit_errors = [r["error_after"] for r in report["rows"] if r["role"] == "fit"]
    assert report["rms_error_fit"]["after"] == pytest.approx(math.sqrt(np.mean(np.square(fit_errors))))
    assert report["rms_error_fit"]["after"] < report["rms_error_fit"]["before"]


def test_intervals_match_finite_differences_of_the_residuals(h100_fit, registry):
    """σ²(JᵀJ)⁻¹ with J from central differences of the fit rows' relative residuals agrees with the
    AD Jacobian's standard errors, and the interval is value ± t(dof)·SE."""
    report, _ = h100_fit
    ids = [p["id"] for p in report["parameters"]]
    theta = np.array([p["value"] for p in report["parameters"]])
    fit_rows = [r for r in report["rows"] if r["role"] == "fit"]
    sizes = np.array([int(r["name"].split("_")[1]) for r in fit_rows], dtype=float)
    observed = np.array([r["observed"] for r in fit_rows])
    model = Model(["hardware.h100_sxm_measured"], registry=registry)

    def residuals(point: np.ndarray) -> np.ndarray:
        values = {ident: point[k] for k, ident in enumerate(ids)}
        values.update({"kernel.probe.m": sizes, "kernel.probe.n": sizes, "kernel.probe.k": sizes,
                       "kernel.probe.clock": 1980.0, "kernel.gemm.tile_m": 128, "kernel.gemm.tile_n": 256})
        return model.evaluate("kernel.probe.throughput", values) / observed - 1

    steps = 1e-6 * np.abs(theta)
    jacobian = np.column_stack([(residuals(theta + np.eye(3)[k] * steps[k]) - residuals(theta - np.eye(3)[k] * steps[k]))
                                / (2 * steps[k]) for k in range(3)])
    r = residuals(theta)
    dof = len(r) - len(theta)
    assert dof == report["degrees_of_freedom"] == 1
    errors = np.sqrt(np.diag(r @ r / dof * np.linalg.inv(jacobian.T @ jacobian)))
    t = stats.t.ppf(0.975, dof)
    for k, parameter in enumerate(report["parameters"]):
        assert parameter["std_error"] == pytest.approx(errors[k], rel=1e-4)
        assert parameter["high"] - parameter["value"] == pytest.approx(t * parameter["std_error"], rel=1e-9)


@pytest.mark.parametrize("args, message", [
    (["--fit", "kernel.gemm.peak_fraction", "--holdout", "nosuch"], "--holdout nosuch: no such observation"),
    (["--fit", "kernel.gemm.depth_half_k"], "'kernel.gemm.depth_half_k' has no upper bound"),
    ([], "nothing to fit"),
    (["--fit", "kernel.gemm.peak_fraction", "--fit", "kernel.gemm.depth_half_k=0:5000", "--fit",
      "kernel.launch.cpu_time_per_kernel=1e-6:5e-5", "--holdout", "bf16_512", "--holdout", "bf16_1024",
      "--holdout", "bf16_2048", "--holdout", "bf16_4096", "--holdout", "bf16_256", "--holdout", "bf16_8192"],
     "2 fit row(s) for 3 fitted input(s)"),
])
def test_bad_calibrate_input_is_one_message_and_exit_2(cli, tmp_path, args, message):
    out = tmp_path / "pack.toml"
    result = cli("calibrate", str(REPO / "observations" / "h100_sxm_gemm.toml"), *args, "--out", str(out))
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("second, message", [
    ("a", ":8: observation 'a' is named twice"),
    ("b", ":8: observed '2 W' for 'kernel.probe.throughput'"),
])
def test_bad_observations_file_names_its_line(cli, tmp_path, second, message):
    bad = tmp_path / "bad.toml"
    bad.write_text('presets = []\n[[observation]]\nname = "a"\nquantity = "kernel.probe.throughput"\n'
                   'observed = "1 TFLOP/s"\nsource = "x"\n[[observation]]\nname = "' + second + '"\n'
                   'quantity = "kernel.probe.throughput"\nobserved = "2 W"\nsource = "x"\n')
    result = cli("calibrate", str(bad), "--fit", "kernel.gemm.peak_fraction")
    assert result.exit_code == 2
    assert f"{bad}{message}" in result.stderr, result.stderr


def test_calibration_table_goes_with_kind_calibrated_only(cli, tmp_path):
    for kind, table in (("cited", "\n[calibration]\nobservations = \"x\"\n"), ("calibrated", "")):
        pack = tmp_path / f"{kind}.toml"
        pack.write_text(f'kind = "{kind}"\ndescription = "d"\n{table}')
        result = cli("resolve", "gpu.tdp", "--preset", str(pack))
        assert result.exit_code == 2 and "[calibration] table goes with kind" in result.stderr


def test_a_preset_path_is_taken_from_the_observations_folder(cli, tmp_path):
    """presets = ["dev.toml"] in an observations file names the pack beside it; three exact synthetic rows
    made from known constants give those constants back."""
    (tmp_path / "dev.toml").write_text(
        'kind = "synthetic"\ndescription = "a made-up device"\n[assign]\n"gpu.n_sms" = 132\n'
        '"arith.sm.flops_per_clock" = "4096 FLOP"\n"kernel.gemm.tile_m" = 128\n"kernel.gemm.tile_n" = 256\n'
        '"kernel.launch.cpu_time_per_kernel" = "1 us"\n')
    rows = []
    for n in (2048, 4096, 8192):   # compute-bound sizes: the launch floor (1 µs) never binds
        tiles = (n // 128) * (n // 256)
        waves = -(-tiles // 132)
        tflops = 0.8 * tiles / (waves * 132) * n / (n + 600) * SM_FLOPS_PER_CLOCK * 1.5e9 / 1e12
        rows.append(f'[[observation]]\nname = "n{n}"\nquantity = "kernel.probe.throughput"\n'
                    f'observed = "{tflops!r} TFLOP/s"\nsource = "synthetic"\n[observation.assign]\n'
                    f'"kernel.probe.m" = {n}\n"kernel.probe.n" = {n}\n"kernel.probe.k" = {n}\n'
                    '"kernel.probe.clock" = "1500 MHz"\n')
    (tmp_path / "obs.toml").write_text('presets = ["dev.toml"]\n' + "\n".join(rows))
    result = cli("calibrate", str(tmp_path / "obs.toml"), "--fit", "kernel.gemm.peak_fraction=0.5:1",
                 "--fit", "kernel.gemm.depth_half_k=0:5000", "--json")
    assert result.exit_code == 0, result.stderr
    fitted = {p["id"]: p["value"] for p in result.json()["parameters"]}
    assert fitted["kernel.gemm.peak_fraction"] == pytest.approx(0.8, rel=1e-6)
    assert fitted["kernel.gemm.depth_half_k"] == pytest.approx(600, rel=1e-5)
