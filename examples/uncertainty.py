"""Uncertainty of the Llama 3.1 405B cost per token, and of an H100's manufacturing cost, from Python.

Run:  python3 examples/uncertainty.py [--dask local|ADDRESS]
The same as `gpu-stack uncertainty econ.cost.per_token --preset runs.llama3_405b_h100_uncertain`;
needs the `studies` extra (pip install '.[studies]').
"""

from __future__ import annotations

import sys

from gpu_stack import Model


def main() -> None:
    dask = sys.argv[sys.argv.index("--dask") + 1] if "--dask" in sys.argv else None

    # 1. four uncertain inputs of the 405B run -> the 90% interval of $/token and what drives it
    run = Model(presets=["runs.llama3_405b_h100_uncertain"])
    result = run.uncertainty(["econ.cost.per_token", "training.wallclock"], samples=20_000, seed=1, dask=dask)
    for target in result.report().targets:
        print(f"{target.id}: median {target.median:.4g} {target.unit}, 90% interval "
              f"[{target.p05:.4g}, {target.p95:.4g}]")
        for ident, index in sorted(target.sobol.items(), key=lambda item: -item[1].total):
            print(f"  {ident:<45} Sobol total {index.total:5.3f}  elasticity {target.elasticities[ident]:+.3f}")
    print(result.summary()[["mean", "p05", "p50", "p95"]])        # a pandas DataFrame, one row per target
    print(f"{len(result.to_frame()):,} samples in a DataFrame")    # inputs and targets, one row per sample

    # 2. the H100 from process inputs: uncertain wafer price and defect density -> its manufacturing cost
    chip = Model(presets=["physics.h100_from_process_uncertain"])
    cost = chip.uncertainty("fab.gpu.manufacturing_cost", samples=8_192, seed=1, method="sobol").report().targets[0]
    print(f"{cost.id}: median {cost.median:,.0f} {cost.unit}, 90% interval [{cost.p05:,.0f}, {cost.p95:,.0f}]")


if __name__ == "__main__":
    main()
