"""Validation: resolve each case's quantity under its packs and compare it with the published figure.

Each case is answered by the audit resolver (forward, plain Python), beside
the rule of thumb 6·N·D / (0.4 · peak): the same quantity if the run did its
model FLOPs at 40% of the GPUs' peak and nothing else.
"""

from __future__ import annotations

from statistics import mean
from typing import Callable

from gpu_stack.audit.resolver import resolve
from gpu_stack.core import Scenario
from gpu_stack.model.registry import Registry
from gpu_stack.model.scenarios import cut_off_assignments, load_scenario, merge
from gpu_stack.model.validation import ValidationCase, ValidationSuite
from gpu_stack.reports import ValidationCaseItem, ValidationFileItem, ValidationReport

__all__ = ["RULE_OF_THUMB_UTILIZATION", "validate_suite", "markdown_table"]

RULE_OF_THUMB_UTILIZATION = 0.4
"""The share of peak the rule of thumb assumes for model FLOPs."""

# Each quantity the rule of thumb gives: the IDs it needs and its value in SI units
# (unit string second) from those IDs' values in SI units. `flops` is 6·N FLOP per token,
# `rate` the model FLOP/s of one GPU at the assumed utilization.
_Rule = tuple[tuple[str, ...], Callable[[dict[str, float], float, float], float], str]
_RULES: dict[str, _Rule] = {
    "training.t_step": (("arch.tokens_per_step", "par.n_gpus"),
                        lambda v, flops, rate: flops * v["arch.tokens_per_step"] / (rate * v["par.n_gpus"]), "s"),
    "training.tokens_per_sec": (("par.n_gpus",), lambda v, flops, rate: rate * v["par.n_gpus"] / flops, "token/s"),
    "training.wallclock": (("training.token_budget", "par.n_gpus"),
                           lambda v, flops, rate: flops * v["training.token_budget"] / (rate * v["par.n_gpus"]), "s"),
    "training.gpu_hours": (("training.token_budget",), lambda v, flops, rate: flops * v["training.token_budget"] / rate,
                           "s"),
    "training.mfu": ((), lambda v, flops, rate: RULE_OF_THUMB_UTILIZATION, "1"),
    "training.hardware_flops_per_gpu": (("training.recompute_overhead",),
                                        lambda v, flops, rate: rate * v["training.recompute_overhead"], "FLOP/s"),
}
# the FLOPs-per-token equations of a mixture of experts (the rule then counts the active parameters)
_MOE_FLOPS = ("arch.eq.flops_per_token_moe", "arch.eq.flops_per_token_moe_mla")


def _si(registry: Registry, ident: str, value: float) -> float:
    """A value of `ident` from its declared unit to SI base units (pint root units)."""
    return value * registry.units.factor(registry.variables[ident].unit)


def _rule_of_thumb(registry: Registry, case: ValidationCase, values: dict[str, float], moe: bool) -> float | None:
    """The case's quantity by 6·N·D / (0.4 · peak), in its declared unit; None when the rule gives no value."""
    rule = _RULES.get(case.quantity)
    params = "arch.params_active" if moe else "arch.params_total_dense"
    if rule is None or any(ident not in values for ident in (*rule[0], params, "gpu.peak_flops")):
        return None
    needed, formula, unit = rule
    flops = 6 * values[params]
    rate = RULE_OF_THUMB_UTILIZATION * _si(registry, "gpu.peak_flops", values["gpu.peak_flops"])
    si_values = {ident: _si(registry, ident, values[ident]) for ident in needed}
    return registry.units.convert(formula(si_values, flops, rate), unit, case.unit)


def _relative(value: float | None, published: float) -> float | None:
    return None if value is None else (value - published) / published


def _evaluate(registry: Registry, case: ValidationCase, packs: dict[str, Scenario],
              warnings: list[str]) -> ValidationCaseItem:
    scenarios = []
    for name in case.presets:
        if name not in packs:
            packs[name] = load_scenario(registry, name)
        scenarios.append(packs[name])
    assign, select = merge(scenarios, case.assign)
    registry.select(select)
    for warning in [w for s in scenarios for w in s.warnings] + cut_off_assignments(
            registry, [*(s.assign for s in scenarios), {a.id: a for a in case.assign}], select):
        if warning not in warnings:
            warnings.append(warning)
    moe = select.get("arch.flops_per_token") in _MOE_FLOPS
    extra = [*_RULES.get(case.quantity, ((),))[0], "gpu.peak_flops",
             "arch.params_active" if moe else "arch.params_total_dense"]
    resolution = resolve(registry, [case.quantity, *extra], assign, select)
    status = resolution.status(case.quantity)
    predicted = resolution.values.get(case.quantity) if status == "ok" else None
    rule = _rule_of_thumb(registry, case, resolution.values, moe)
    return ValidationCaseItem(
        name=case.name, presets=list(case.presets), quantity=case.quantity, unit=case.unit, status=status,
        predicted=predicted, published=case.published, published_text=case.published_text,
        error=_relative(predicted, case.published), rule_of_thumb=rule,
        rule_of_thumb_error=_relative(rule, case.published), source=case.source,
        flop_convention=case.flop_convention,
        missing=resolution.missing_for(case.quantity) if status == "missing" else [],
        errors=sorted({resolution.errors[v] for v in resolution.errors}) if status == "error" else [])


def _summary(values: list[float | None]) -> tuple[float | None, float | None]:
    absolute = [abs(v) for v in values if v is not None]
    return (mean(absolute), max(absolute)) if absolute else (None, None)


def validate_suite(registry: Registry, suite: ValidationSuite) -> ValidationReport:
    """Resolve every case of `suite` and compare it with its published figure, file by file."""
    packs: dict[str, Scenario] = {}
    warnings: list[str] = []
    files = []
    for stem, cases in sorted(suite.by_file().items()):
        items = [_evaluate(registry, case, packs, warnings) for case in cases]
        mean_error, max_error = _summary([item.error for item in items])
        rule_mean, _ = _summary([item.rule_of_thumb_error for item in items])
        files.append(ValidationFileItem(file=stem, description=suite.descriptions[stem], cases=items,
                                        mean_abs_error=mean_error, max_abs_error=max_error,
                                        rule_of_thumb_mean_abs_error=rule_mean))
    complete = all(item.status == "ok" for f in files for item in f.cases)
    return ValidationReport(status="ok" if complete else "incomplete", case_count=sum(len(f.cases) for f in files),
                            files=files, warnings=warnings)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def markdown_table(report: ValidationReport) -> str:
    """The report as the README's validation table: one Markdown table per file, then its summary."""
    lines: list[str] = []
    for item in report.files:
        mean_error = "—" if item.mean_abs_error is None else f"{100 * item.mean_abs_error:.1f}%"
        max_error = "—" if item.max_abs_error is None else f"{100 * item.max_abs_error:.1f}%"
        rule = "—" if item.rule_of_thumb_mean_abs_error is None else f"{100 * item.rule_of_thumb_mean_abs_error:.1f}%"
        lines += [f"**{item.file}** — mean \\|error\\| {mean_error}, max {max_error} "
                  f"(rule of thumb: mean {rule})", "",
                  "| case | quantity | predicted | published | error | 6·N·D/(0.4·peak) | its error |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for case in item.cases:
            lines.append(f"| {case.name} | {case.quantity} [{case.unit}] | {_number(case.predicted)} | "
                         f"{_number(case.published)} | {_percent(case.error)} | {_number(case.rule_of_thumb)} | "
                         f"{_percent(case.rule_of_thumb_error)} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
