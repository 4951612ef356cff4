"""Least-squares calibration of model inputs to observations, through the compiled model.

Each observation row is one forward question (its presets, its assignments,
its quantity) compiled by `gpu_stack.Model` into a CasADi function of the
fitted inputs; rows that share presets, assigned IDs and quantity share one
compiled function and differ only in the numbers passed. The relative
residuals r_i = model_i(θ) / observed_i − 1 of the fit rows are stacked into
one NLP, min ½ Σ r_i², solved by IPOPT within the bounds of each fitted
input. Confidence intervals come from the Jacobian J = ∂r/∂θ at the optimum:
covariance σ²(JᵀJ)⁻¹ with σ² = Σ r_i² / (n − p), intervals θ ± t(n − p)·SE.
Held-out rows are predicted, never fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import casadi as ca
import numpy as np
from scipy import stats

from gpu_stack.errors import ProblemError
from gpu_stack.model.observations import Observation, Observations
from gpu_stack.model.problems import parse_free_option
from gpu_stack.model.registry import Registry
from gpu_stack.reports import CalibrationReport, FittedParameter, ObservationRow
from gpu_stack.solver.blocks import RESIDUAL_TOL
from gpu_stack.solver.compiled import Model
from gpu_stack.solver.silence import quiet_stdout

__all__ = ["FitInput", "parse_fit_options", "calibrate"]

CONFIDENCE = 0.95
_IPOPT = {"print_time": False, "ipopt.print_level": 0, "ipopt.sb": "yes", "ipopt.tol": 1e-12,
          "ipopt.max_iter": 500, "ipopt.hessian_approximation": "exact"}


@dataclass(frozen=True)
class FitInput:
    """One input to fit, with its bounds in the declared unit."""

    id: str
    unit: str
    low: float | None
    high: float | None


def parse_fit_options(registry: Registry, texts: Sequence[str]) -> list[FitInput]:
    """Read every `--fit ID[=MIN:MAX]`; without bounds the variable's own min/max apply.

    The fit needs a finite range (IPOPT's start and the scaling come from it), so an input
    whose domain is open on a side must be given that side.
    """
    if not texts:
        raise ProblemError("nothing to fit", hint="give --fit ID[=MIN:MAX], once per input to fit")
    fitted: list[FitInput] = []
    for text in texts:
        ident, spec = parse_free_option(registry, text, "--fit")
        variable = registry.variables[ident]
        low = spec.min if spec.min is not None else variable.min
        high = spec.max if spec.max is not None else variable.max
        if low is None or high is None:
            raise ProblemError(f"--fit {text!r}: '{ident}' has no {'lower' if low is None else 'upper'} bound",
                               hint=f"give one: --fit {ident}=MIN:MAX (in {variable.unit})")
        if any(f.id == ident for f in fitted):
            raise ProblemError(f"--fit {ident} is given twice", hint="give each input once")
        fitted.append(FitInput(ident, variable.unit, low, high))
    return fitted


def calibrate(registry: Registry, observations: Observations, fit: Sequence[FitInput],
              holdout: Sequence[str] = ()) -> CalibrationReport:
    """Fit `fit` to the observation rows not named in `holdout`; predict every row before and after.

    Raises
    ------
    ProblemError : an unknown held-out row, too few fit rows, a row that assigns a fitted input,
        a fitted input no row's quantity depends on, or a model solve that fails its check.
    """
    names = [row.name for row in observations.rows]
    unknown = [name for name in holdout if name not in names]
    if unknown:
        raise ProblemError(f"--holdout {', '.join(unknown)}: no such observation in {observations.label}",
                           hint="rows: " + ", ".join(names))
    fit_rows = [row for row in observations.rows if row.name not in holdout]
    if len(fit_rows) < len(fit):
        raise ProblemError(f"{len(fit_rows)} fit row(s) for {len(fit)} fitted input(s): the fit is underdetermined",
                           hint="hold out fewer rows or fit fewer inputs")
    ids = [f.id for f in fit]
    models: dict[tuple[str, ...], Model] = {}
    for row in observations.rows:
        assigned = sorted(set(ids) & set(row.assign))
        if assigned:
            raise ProblemError(f"observation '{row.name}' assigns the fitted input(s) {', '.join(assigned)}",
                               file=observations.path, line=row.line, hint="a fitted input cannot be held fixed")
        if row.presets not in models:
            models[row.presets] = Model(row.presets, registry=registry)
    functions = [_row_function(models[row.presets], row, ids) for row in observations.rows]
    scale = np.array([max(abs(f.low), abs(f.high)) or 1.0 for f in fit])
    x = ca.MX.sym("x", len(fit))
    theta = x * ca.DM(scale)
    residuals = ca.vertcat(*[_prediction(function, theta, row) / row.observed - 1
                             for function, row in zip(functions, observations.rows) if row.name not in holdout])
    start = np.array([_start(registry, f) for f in fit]) / scale
    with quiet_stdout():
        solver = ca.nlpsol("calibrate", "ipopt", {"x": x, "f": 0.5 * ca.sumsqr(residuals)}, _IPOPT)
        solution = solver(x0=start, lbx=np.array([f.low for f in fit]) / scale,
                          ubx=np.array([f.high for f in fit]) / scale)
    message = str(solver.stats()["return_status"])
    x_opt = np.array(solution["x"]).ravel()
    values = x_opt * scale
    jacobian = np.array(ca.Function("J", [x], [ca.jacobian(residuals, x)])(x_opt)) / scale
    if observations.preset_files not in models:
        models[observations.preset_files] = Model(observations.preset_files, registry=registry)
    baseline = _presets_values(models[observations.preset_files], ids)
    rows, checks_ok = _rows(functions, observations.rows, holdout, values, baseline)
    parameters, notes = _parameters(fit, values, baseline, jacobian, rows)
    if not checks_ok:
        notes.append("a row's model solve failed its check at the fitted values (see the rows with no value)")
    status = "ok" if solver.stats()["success"] and checks_ok else "failed"
    return CalibrationReport(
        observations=observations.label, sha256=observations.sha256, presets=list(observations.presets),
        parameters=parameters, rows=rows, degrees_of_freedom=len(fit_rows) - len(fit), confidence=CONFIDENCE,
        rms_error_fit=_rms(rows, "fit"), rms_error_holdout=_rms(rows, "holdout"), status=status,
        message=message, notes=notes)


def _row_function(model: Model, row: Observation, fitted: list[str]) -> ca.Function:
    """The row's compiled forward function of (fitted inputs, the row's assigned values)."""
    try:
        return model.function((row.quantity,), (*fitted, *row.assign))
    except ProblemError as exc:
        raise ProblemError(f"observation '{row.name}': {exc.message}", hint=exc.hint) from None


def _prediction(function: ca.Function, theta: ca.MX | np.ndarray, row: Observation) -> ca.MX:
    assigned = [a.value for a in row.assign.values()]
    return function(ca.vertcat(theta, *assigned))[0]


def _evaluate(function: ca.Function, theta: np.ndarray, row: Observation) -> float | None:
    """The row's quantity at θ, or None when the model's solve fails its check there."""
    out, residual, violation = function(np.concatenate([theta, [a.value for a in row.assign.values()]]))
    if not (float(residual) <= RESIDUAL_TOL and float(violation) <= 0.0):
        return None
    return float(out)


def _start(registry: Registry, fit: FitInput) -> float:
    """IPOPT's start: the variable's nominal value inside the bounds, else their midpoint.

    Never the presets' value, so a run after the presets took up a generated pack starts
    where the run that generated it started, and lands on the same numbers.
    """
    nominal = registry.variables[fit.id].nominal
    if nominal is not None and fit.low < nominal < fit.high:
        return float(nominal)
    return 0.5 * (fit.low + fit.high)


def _presets_values(model: Model, ids: list[str]) -> dict[str, float]:
    """The fitted inputs before the fit: as the presets assign them, else the registry's nominal value."""
    assign = model.question.assign
    return {ident: assign[ident].value if ident in assign else float(model.registry.variables[ident].nominal or 0.0)
            for ident in ids}


def _rows(functions: list[ca.Function], rows: Sequence[Observation], holdout: Sequence[str], values: np.ndarray,
          baseline: dict[str, float]) -> tuple[list[ObservationRow], bool]:
    before_theta = np.array(list(baseline.values()))
    report: list[ObservationRow] = []
    ok = True
    for function, row in zip(functions, rows):
        after = _evaluate(function, values, row)
        before = _evaluate(function, before_theta, row)
        if after is None:
            ok = False
        report.append(ObservationRow(
            name=row.name, role="holdout" if row.name in holdout else "fit", quantity=row.quantity, unit=row.unit,
            observed=row.observed, before=before, after=after,
            error_before=None if before is None else before / row.observed - 1,
            error_after=None if after is None else after / row.observed - 1, source=row.source))
    return report, ok


def _parameters(fit: Sequence[FitInput], values: np.ndarray, baseline: dict[str, float], jacobian: np.ndarray,
                rows: list[ObservationRow]) -> tuple[list[FittedParameter], list[str]]:
    """Values with intervals from σ²(JᵀJ)⁻¹, and notes on what limits them."""
    notes: list[str] = []
    fit_errors = np.array([math.nan if row.error_after is None else row.error_after
                           for row in rows if row.role == "fit"])
    dof = len(fit_errors) - len(fit)
    errors: np.ndarray | None = None
    finite = bool(np.all(np.isfinite(fit_errors)) and np.all(np.isfinite(jacobian)))
    rank = np.linalg.matrix_rank(jacobian) if jacobian.size and finite else 0
    if not finite:
        notes.append("a fit row has no model value at the fitted inputs: no intervals")
    elif dof <= 0:
        notes.append("as many fit rows as fitted inputs: the fit is exact and leaves no degree of freedom for "
                     "intervals")
    elif rank < len(fit):
        notes.append(f"the Jacobian of the residuals has rank {rank} < {len(fit)}: the fit rows do not determine "
                     "every input (no intervals)")
    else:
        sigma2 = float(fit_errors @ fit_errors) / dof
        covariance = sigma2 * np.linalg.inv(jacobian.T @ jacobian)
        errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    t = float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof)) if dof > 0 else math.nan
    parameters = []
    for k, item in enumerate(fit):
        value = float(values[k])
        at_bound = bool(min(abs(value - item.low), abs(value - item.high)) <= 1e-6 * max(1.0, abs(value)))
        if at_bound:
            notes.append(f"{item.id} sits on a bound of the fit: its interval assumes it is free")
        se = float(errors[k]) if errors is not None else None
        parameters.append(FittedParameter(
            id=item.id, unit=item.unit, before=baseline[item.id], value=value,
            low=value - t * se if se is not None else None, high=value + t * se if se is not None else None,
            std_error=se, bounds=[item.low, item.high], at_bound=at_bound))
    return parameters, notes


def _rms(rows: list[ObservationRow], role: str) -> dict[str, float | None]:
    chosen = [row for row in rows if row.role == role]
    if not chosen:
        return {"before": None, "after": None}
    return {when: None if any(e is None for e in errors) else math.sqrt(sum(e * e for e in errors) / len(errors))
            for when, errors in (("before", [row.error_before for row in chosen]),
                                 ("after", [row.error_after for row in chosen]))}
