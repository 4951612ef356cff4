"""A first look at gpu_stack from Python: audit, compiled evaluation, inverse query, sensitivity.

Run:  python3 examples/quickstart.py
Everything here is also a CLI command (see README); the library never prints,
so this script does the printing.
"""

from __future__ import annotations

import numpy as np

from gpu_stack import Model
from gpu_stack.audit.report import resolve_report


def main() -> None:
    model = Model(presets=["dense_training_cost_fixture"])  # the built-in registry, unit-checked at load

    # 1. audit: cost per token, traced to its roots by the plain-Python resolver
    report = resolve_report(model.registry, "econ.cost.per_token", model.question)
    print(f"cost per token: {report.value:.7g} {report.unit} ({report.status})")
    for step in report.trace[-4:]:
        print(f"  {step.id} <- {step.equation or step.source} = {step.value:.7g} {step.unit}")

    # 2. the same number from the compiled model, then for five electricity prices at once
    print(f"compiled: {model.evaluate('econ.cost.per_token'):.7g} USD/token")
    prices = np.linspace(0.05, 0.45, 5)
    costs = model.evaluate("econ.cost.per_token", {"econ.power.price_kwh_peak": prices})
    for price, cost in zip(prices, costs):
        print(f"  peak tariff {price:.2f} USD/kWh -> {cost:.7g} USD/token")

    # 3. inverse: which per-GPU throughput gives 2.5e-6 USD/token?
    answer = model.solve(targets={"econ.cost.per_token": "2.5e-6 USD/token"}, free=["gpu.peak_flops_power_limited"])
    print(f"needed throughput: {answer.value('gpu.peak_flops_power_limited'):.6g} "
          f"{answer.unit('gpu.peak_flops_power_limited')} ({answer.status})")

    # 4. sensitivity: which inputs move cost per token most?
    for root in model.sensitivity("econ.cost.per_token").roots[:5]:
        print(f"  d ln(cost/token) / d ln({root.id}) = {root.elasticity:+.4f}")


if __name__ == "__main__":
    main()
