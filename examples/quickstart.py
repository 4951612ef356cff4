"""A first look at gpu_stack from Python: audit, inverse query, sensitivity.

Run:  python3 examples/quickstart.py
Everything here is also a CLI command (see README); the library never prints,
so this script does the printing.
"""

from __future__ import annotations

from gpu_stack import load_registry
from gpu_stack.audit.report import resolve_report
from gpu_stack.model.problems import inline_problem
from gpu_stack.model.scenarios import compose, load_scenario
from gpu_stack.solver.sensitivity import sensitivity
from gpu_stack.solver.solve import solve_problem


def main() -> None:
    registry = load_registry()  # the built-in registry, unit-checked at load
    question = compose(registry, presets=["dense_training_cost_fixture"])

    # 1. audit: cost per token, traced to its roots
    report = resolve_report(registry, "econ.cost.per_token", question)
    print(f"cost per token: {report.value:.7g} {report.unit} ({report.status})")
    for step in report.trace[-4:]:
        print(f"  {step.id} <- {step.equation or step.source} = {step.value:.7g} {step.unit}")

    # 2. inverse: which per-GPU throughput gives 2.5e-6 USD/token?
    scenario = load_scenario(registry, "dense_training_cost_fixture")
    problem = inline_problem(registry, [scenario], targets=["econ.cost.per_token=2.5e-6 USD/token"],
                             free=["gpu.peak_flops_power_limited"])
    result = solve_problem(registry, problem)
    needed = result.free["gpu.peak_flops_power_limited"]
    print(f"needed throughput: {needed.value:.6g} {needed.unit} ({result.status})")

    # 3. sensitivity: which inputs move cost per token most?
    ranked = sensitivity(registry, "econ.cost.per_token", question)
    for root in ranked.roots[:5]:
        print(f"  d ln(cost/token) / d ln({root.id}) = {root.elasticity:+.4f}")


if __name__ == "__main__":
    main()
