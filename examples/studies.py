"""Two studies of the Llama 3.1 405B run: a price × MFU heat map and the cost–time trade-off front.

    python3 examples/studies.py [OUTPUT_FOLDER]        (needs the studies extra: matplotlib, pandas)

1. Cost per token over the H100 price (20–40 kUSD) and the MFU (0.30–0.40) the run achieves. MFU is an
   output of the model, so each point is an inverse solve: the target training.mfu is held by freeing
   the idle share training.stall_fraction of the first-order step (runs.llama3_405b_h100_first_order,
   MFU 0.40 with no idle time), warm-started
   along the sweep. Writes llama_price_mfu.png (a heat map) and llama_price_mfu.csv.
2. The trade-off between total cost and wallclock of problems/cheapest_gpus_under_power_and_deadline.toml:
   minimize cost with the wallclock at most ε, from the fastest run the 20 MW envelope allows to the
   cheapest one the 100-day deadline allows. Writes llama_cost_time_front.svg.

The same from the command line:

    gpu-stack sweep econ.cost.per_token --preset runs.llama3_405b_h100_first_order \\
        --vary 'econ.capex.gpu_price=20 kUSD:40 kUSD:5' --vary training.mfu=0.30:0.40:5 \\
        --target training.mfu=0.4 --free training.stall_fraction=0:0.5 --plot llama_price_mfu.png
    gpu-stack pareto cheapest_gpus_under_power_and_deadline \\
        --objectives econ.run.total_cost,training.wallclock --points 8 --plot llama_cost_time_front.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

from gpu_stack.model.problems import inline_problem, load_problem
from gpu_stack.model.registry import load_registry
from gpu_stack.model.scenarios import compose
from gpu_stack.studies.pareto import pareto_front
from gpu_stack.studies.plots import plot_pareto, plot_sweep
from gpu_stack.studies.sweep import design_points, parse_axis, sweep_problem, to_frame, write_table

REPO = Path(__file__).resolve().parent.parent


def main(folder: Path) -> None:
    registry = load_registry()

    # 1. price × MFU: an inverse problem (hold the MFU by moving the idle share) re-solved at 25 points
    question = compose(registry, ["runs.llama3_405b_h100_first_order"])
    problem = inline_problem(registry, question.scenarios, (), question.select, ["training.mfu=0.4"],
                             ["training.stall_fraction=0:0.5"])
    vary = ["econ.capex.gpu_price=20 kUSD:40 kUSD:5", "training.mfu=0.30:0.40:5"]
    report = sweep_problem(registry, problem, design_points([parse_axis(registry, text) for text in vary]),
                           ["econ.cost.per_token"])
    frame = to_frame(report)    # what Model.sweep returns
    cheapest = frame.loc[frame["econ.cost.per_token"].idxmin()]
    print(f"price × MFU: {len(frame)} points, {int((frame['status'] == 'ok').sum())} ok; lowest cost per token "
          f"{cheapest['econ.cost.per_token']:.4g} USD/token at {cheapest['econ.capex.gpu_price']:,.0f} USD and "
          f"MFU {cheapest['training.mfu']:.2f}")
    plot_sweep(report, folder / "llama_price_mfu.png")
    write_table(report, folder / "llama_price_mfu.csv")

    # 2. cost vs wallclock
    cheapest_gpus = load_problem(registry, REPO / "problems" / "cheapest_gpus_under_power_and_deadline.toml")
    front = pareto_front(registry, cheapest_gpus, "econ.run.total_cost", "training.wallclock", points=8)
    plot_pareto(front, folder / "llama_cost_time_front.svg")
    for index in front.front:
        point = front.points[index]
        print(f"front point {index}: {point.second / 86400:6.2f} days, {point.first / 1e6:6.2f} MUSD, "
              f"{point.free['par.dp.degree']:.0f} data-parallel replicas")
    print(f"wrote {folder / 'llama_price_mfu.png'}, {folder / 'llama_price_mfu.csv'}, "
          f"{folder / 'llama_cost_time_front.svg'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
