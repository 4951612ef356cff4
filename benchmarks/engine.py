#!/usr/bin/env python3
"""The issue's speed targets, measured: the compiled `gpu_stack.Model` against OpenMDAO and C.

    python3 benchmarks/engine.py [--quick] [--json out.json] [--profile]

Questions (see benchmarks/README.md for what each row means):

* the Llama 3.1 405B run: forward of three outputs (`runs.llama3_405b_h100`),
  the inverse of problems/llama3_405b_mfu_for_deadline.toml and the
  optimization of problems/largest_model_in_30_days.toml
  (`runs.llama3_405b_h100_first_order`);
* a synthetic registry of 1,000 equations (benchmarks/synthetic.py):
  forward of the final output, the inverse with one root moved, and an
  optimization over 20 free roots;
* setup: first time (fresh Registry object, disk cache off) and seen before
  (fresh Registry object, disk cache written by an earlier run) against
  OpenMDAO's translate + build + setup + final_setup + first run;
* warm calls against OpenMDAO's run_model / run_driver;
* a batch of points through `Model.evaluate` (100,000 on the Llama run,
  10,000 on the synthetic registry) against the same CasADi function as C
  (gcc -O2), per point.

Answers are compared before anything is timed, and printed; a relative
difference above 1e-6 is printed as DISAGREE. Every time is the median of
the runs (5, or 3 with --quick); a run of a call that takes microseconds
times a loop of calls and divides. Results go to stdout, progress to stderr.
Nothing is asserted: the numbers are reported as measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import gpu_stack  # noqa: F401  (installed: `pip install .[bench]`)
except ImportError:  # a source checkout without an install
    sys.path.insert(1, str(HERE.parent))
    import gpu_stack  # noqa: F401

os.environ.setdefault("OPENMDAO_REPORTS", "0")
os.environ["GPU_STACK_CACHE_DIR"] = "off"   # on only where a row says so (setup, seen before)

import casadi as ca  # noqa: E402
import numpy as np  # noqa: E402

from gpu_stack import Model  # noqa: E402
from gpu_stack.model.expressions import Node, Unary, parse_expression, variables  # noqa: E402
from gpu_stack.model.paths import builtin_problems  # noqa: E402
from gpu_stack.model.problems import Problem, load_problem  # noqa: E402
from gpu_stack.model.registry import Registry  # noqa: E402
from gpu_stack.model.scenarios import parse_value  # noqa: E402
from gpu_stack.solver.cache import cache_for  # noqa: E402
from gpu_stack.solver.formulation import formulate  # noqa: E402
from gpu_stack.solver.solve import prepare, solve_prepared  # noqa: E402

from measure import (AGREE, START, Report, Row, Timed, Timing, alternate, interleaved, log, no_gc,  # noqa: E402
                     rel, speed_row, table, timed, timing_detail)
from others import OpenMDAOModel, build_openmdao, c_forward, python_expression, run_c  # noqa: E402
from synthetic import FINAL, write_synthetic  # noqa: E402
from translate import ForwardModel, forward_model, forward_program  # noqa: E402

LLAMA_RUN = "runs.llama3_405b_h100"
LLAMA_FIRST_ORDER = "runs.llama3_405b_h100_first_order"
LLAMA_OUTPUTS = ["econ.cost.per_token", "training.tokens_per_sec", "training.wallclock"]
LLAMA_INVERSE = "llama3_405b_mfu_for_deadline.toml"
LLAMA_OPTIMIZATION = "largest_model_in_30_days.toml"
LLAMA_SECOND_DEADLINE = 71.0 / 70.0   # the inverse alternates the problem's deadline and 1/70 more, so no call repeats the last
SYNTHETIC_EQUATIONS = 1000
SEED = 20240601
INVERSE_STEP = 1e-3                 # the synthetic inverse moves one root by ±0.1 % (alternating)
BATCH_POINTS = 100_000              # the Llama sweep
SYNTHETIC_BATCH_POINTS = 10_000     # the synthetic sweep: ~75 µs a point, so 100,000 would take 7 s a call
TARGET_SETUP_FIRST = 5.0
TARGET_SETUP_SEEN = 30.0
TARGET_WARM = 100.0
TARGET_OPT20_SECONDS = 0.030
TARGET_BATCH_SLOWDOWN = 3.0


# ------------------------------------------------------------------ questions as data


def read_problem_file(path: Path) -> dict[str, Any]:
    """The problem file's own tables (not merged with its scenarios), to pose the same question to `Model`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assign = {k: (v["value"] if isinstance(v, dict) else v) for k, v in data.get("assign", {}).items()}
    free = {k: (v.get("min"), v.get("max")) if isinstance(v, dict) else None for k, v in data.get("free", {}).items()}
    objective = data.get("objective", {})
    return {"assign": assign, "select": dict(data.get("select", {})), "targets": dict(data.get("target", {})),
            "free": free, "minimize": objective.get("minimize"), "maximize": objective.get("maximize"),
            "constraints": [item["expr"] for item in data.get("constraint", [])]}


def model_problem(model: Model) -> Problem:
    """The one Problem a Model built for its solve/optimize question (Model keeps them by shape, privately)."""
    problems = list(model._problems.values())  # noqa: SLF001 - the benchmark resets its start, see reset_start
    assert len(problems) == 1, "ask one solve/optimize shape per Model"
    return problems[0]


def reset_start(model: Model) -> Callable[[], None]:
    """A setup that puts the model's question back at its first starting point (the formulation's own start).

    `solve_prepared` starts each call from the last answer; OpenMDAO's repeats restart from the same point, so
    the like-for-like engine row restarts too.
    """
    problem = model_problem(model)
    first = dict(formulate(model.registry, problem).start)
    start = prepare(model.registry, problem).formulation.start   # shared by every value-replaced formulation

    def reset() -> None:
        start.clear()
        start.update(first)
    return reset



def warm_optimization(opt_model: Any, optimize: Callable[[Any], Any], opt_question: Any, om: Any, runs: int
                      ) -> tuple[Any, Any, Any, dict[str, int]]:
    """Warm optimization timings, interleaved: repeated (starting at the last answer), restarted from the
    first start as OpenMDAO is after `reset()`, and OpenMDAO; and IPOPT's iterations for the first two."""
    engine_opt, engine_opt_reset, om_opt = interleaved([
        Timed(lambda: optimize(opt_model)),
        Timed(lambda: optimize(opt_model), setup=reset_start(opt_model)),
        Timed(lambda: opt_question.run(om), setup=om.reset)], runs)
    iterations = {"repeated": optimize(opt_model).iterations}
    reset_start(opt_model)()
    iterations["restart"] = optimize(opt_model).iterations
    return engine_opt, engine_opt_reset, om_opt, iterations

def downstream_size(fm: ForwardModel, ident: str) -> int:
    """How many computed variables of `fm` an input reaches."""
    reached = {ident}
    for v, equation in fm.order:
        if any(u in reached for u in equation.inputs):
            reached.add(v)
    return len(reached) - 1


def widest_input(fm: ForwardModel) -> str:
    """The continuous input whose change reaches the most of `fm` (ties by name), so a sweep does real work."""
    continuous = [v for v in sorted(fm.inputs) if not fm.registry.variables[v].integer]
    return max(continuous, key=lambda ident: downstream_size(fm, ident))


@dataclass
class OpenMDAOQuestion:
    """What OpenMDAO needs to pose one question: built from scratch by `build()` (translation included)."""

    registry: Registry
    selection: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    values: dict[str, float]
    kwargs: dict[str, Any]
    driver: bool = False            # an optimization: run_driver, not run_model
    success: bool | None = None     # the driver's own verdict on its last run
    printed: str = ""               # what its last run printed

    def build(self) -> OpenMDAOModel:
        fm = forward_model(self.registry, self.selection, self.inputs, self.outputs)
        return build_openmdao(fm, {v: self.values[v] for v in fm.inputs}, **self.kwargs)

    def run(self, model: OpenMDAOModel) -> Any:
        """run_driver or run_model; SLSQP's exit message (printed even with disp=False) is kept, not shown."""
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            result = model.problem.run_driver() if self.driver else model.problem.run_model()
        self.printed = printed.getvalue().strip()
        if self.driver:
            self.success = bool(result.success)
        return result

    def first_answer(self) -> OpenMDAOModel:
        """Translate + build + setup + final_setup + first run: OpenMDAO's setup of the question."""
        model = self.build()
        self.run(model)
        return model


def constant_base_value(registry: Registry, node: Node) -> float:
    """A constant expression's value in SI base units (a constraint's right side, for OpenMDAO's ref)."""
    return python_expression(registry, node)({})


@dataclass
class SetupQuestion:
    """A question's setup, for the first-time and seen-before rows."""

    label: str
    fresh_registry: Callable[[], Registry]              # a freshly loaded Registry object (untimed)
    engine: Callable[[Registry], Callable[[], Any]]     # untimed: the Model; returns the timed first call
    openmdao: OpenMDAOQuestion
    disk_cached: bool = True                           # does a seen-before run read compiled functions from disk


# ------------------------------------------------------------------ the Llama run


def llama_section(report: Report, registry: Registry, work: Path, runs: int) -> list[SetupQuestion]:
    setups: list[SetupQuestion] = []
    builtin = lambda: Registry.load(None)  # noqa: E731

    # -- forward: three outputs of the scenario
    log("Llama forward: answers")
    model = Model(presets=[LLAMA_RUN], registry=registry)
    fixed = {k: a.value for k, a in model.question.assign.items()}
    selection = registry.select(model.question.select)
    fm = forward_model(registry, selection, list(fixed), LLAMA_OUTPUTS)
    values = {v: fixed[v] for v in fm.inputs}
    swept = widest_input(fm)
    moved = dict(values, **{swept: values[swept] * 1.001})
    folded = model.evaluate(LLAMA_OUTPUTS)
    given = model.evaluate(LLAMA_OUTPUTS, values)
    om_question = OpenMDAOQuestion(registry, selection, list(fixed), LLAMA_OUTPUTS, values, {})
    om = om_question.first_answer()
    for o in LLAMA_OUTPUTS:
        report.agree("Llama forward", o, given[o], om.value(o), "OpenMDAO")
        report.agree("Llama forward", f"{o} (folded)", folded[o], given[o], "all given")
    report.notes.append(f"Llama forward: {len(fm.order)} equations, {len(fm.inputs)} inputs (ExecComps: "
                        f"{len(fm.order)}); the alternated and swept input is {swept} (reaches "
                        f"{downstream_size(fm, swept)} of them)")
    log("Llama forward: warm")
    om_values = itertools.cycle([values[swept], moved[swept]])
    engine_all, engine_folded, om_forward = interleaved([
        Timed(alternate(lambda v: model.evaluate(LLAMA_OUTPUTS, v), [values, moved])),
        Timed(lambda: model.evaluate(LLAMA_OUTPUTS)),
        Timed(om.problem.run_model, setup=lambda: om.problem.set_val(om.names[swept], next(om_values)))], runs)
    report.rows.append(speed_row("Llama forward, warm (every input given)", engine_all, om_forward, TARGET_WARM,
                                 equations=len(fm.order), inputs=len(fm.inputs)))
    report.rows.append(speed_row("Llama forward, warm (scenario folded in)", engine_folded, om_forward, None))
    report.profiled("Llama forward, warm (every input given)",
                    alternate(lambda v: model.evaluate(LLAMA_OUTPUTS, v), [values, moved]), 2000)

    def first_forward(reg: Registry) -> Callable[[], Any]:
        fresh = Model(presets=[LLAMA_RUN], registry=reg)
        return lambda: fresh.evaluate(LLAMA_OUTPUTS, values)
    setups.append(SetupQuestion("Llama forward", builtin, first_forward, om_question))

    # -- batch: the widest input swept over N points
    log(f"Llama batch: {BATCH_POINTS:,} points of {swept}")
    sweep = values[swept] * np.linspace(0.98, 1.02, BATCH_POINTS)
    batch_section(report, "Llama", model, LLAMA_OUTPUTS, swept, sweep, work / "c_llama", runs)

    # -- inverse: problems/llama3_405b_mfu_for_deadline.toml
    log("Llama inverse: answers")
    path = builtin_problems() / LLAMA_INVERSE
    spec = read_problem_file(path)
    (target, target_text), = spec["targets"].items()
    (free, bounds), = spec["free"].items()
    first = parse_value(registry, target, target_text, origin="benchmark").value
    second = first * LLAMA_SECOND_DEADLINE
    first_order = Model(presets=[LLAMA_FIRST_ORDER], registry=registry)
    answer = first_order.solve(targets={target: first}, free={free: bounds})
    by_file = solve_prepared(prepare(registry, load_problem(registry, path)))
    report.agree("Llama inverse", f"{free} (problem file)", answer.value(free), by_file.value(free),
                 "solve_prepared")
    problem = model_problem(first_order)
    formulation = formulate(registry, problem)
    fixed_c = {k: a.value for k, a in first_order.question.assign.items()}
    selection_c = registry.select(first_order.question.select)
    inv_question = OpenMDAOQuestion(registry, selection_c, list(fixed_c), [target], fixed_c,
                                    {"balances": [(free, target, first)], "scale": dict(formulation.scale),
                                     "start": dict(formulation.start)})
    om = inv_question.first_answer()
    report.agree("Llama inverse", free, answer.value(free), om.value(free), "OpenMDAO")
    report.notes.append(f"Llama inverse: {target} = {target_text} (alternating with {LLAMA_SECOND_DEADLINE:.6g}× "
                        f"that, so no call repeats the last), free {free}: answer {answer.value(free):.6g}; "
                        f"{answer.message}; OpenMDAO Newton iterations {om.newton_iterations}")
    log("Llama inverse: warm")
    solve = lambda t: first_order.solve(targets={target: t}, free={free: bounds})  # noqa: E731
    engine_inv, engine_inv_reset, om_inv = interleaved([
        Timed(alternate(solve, [first, second])),
        Timed(lambda: solve(first), setup=reset_start(first_order)),
        Timed(om.problem.run_model, setup=om.reset)], runs)
    report.rows.append(speed_row("Llama inverse, warm (alternating targets)", engine_inv, om_inv, TARGET_WARM))
    report.rows.append(speed_row("Llama inverse, warm (restart, as OpenMDAO)", engine_inv_reset, om_inv, TARGET_WARM))
    report.profiled("Llama inverse, warm (alternating targets)", alternate(solve, [first, second]), 300)

    def first_inverse(reg: Registry) -> Callable[[], Any]:
        fresh = Model(presets=[LLAMA_FIRST_ORDER], registry=reg)
        return lambda: fresh.solve(targets={target: first}, free={free: bounds})
    setups.append(SetupQuestion("Llama inverse", builtin, first_inverse, inv_question))

    # -- optimization: problems/largest_model_in_30_days.toml
    log("Llama optimization: answers")
    path = builtin_problems() / LLAMA_OPTIMIZATION
    spec = read_problem_file(path)
    (design_var, (low, high)), = spec["free"].items()
    sense = "maximize" if spec["maximize"] else "minimize"

    def optimizer(reg: Registry) -> Model:
        return Model(presets=[LLAMA_FIRST_ORDER], assign=spec["assign"], select=spec["select"], registry=reg)

    def optimize(m: Model) -> Any:
        return m.optimize(**{sense: spec[sense]}, free={design_var: (low, high)}, constraints=spec["constraints"])

    opt_model = optimizer(registry)
    answer = optimize(opt_model)
    file_problem = load_problem(registry, path)
    by_file = solve_prepared(prepare(registry, file_problem))
    report.agree("Llama optimization", f"{design_var} (problem file)", answer.value(design_var),
                 by_file.value(design_var), "solve_prepared")
    problem = model_problem(opt_model)
    formulation = formulate(registry, problem)
    fixed_o = {k: a.value for k, a in problem.assign.items()}
    objective = problem.objective
    objective_node = objective.node if objective.sense == "minimize" else Unary("-", objective.node)
    constraint_nodes = [c.node for c in problem.constraints]
    outputs = list(dict.fromkeys(v for node in [objective.node, *constraint_nodes] for v in variables(node)
                                 if v not in fixed_o))
    scale = dict(formulation.scale)
    scale["__objective__"] = abs(fixed_o[design_var] * registry.factors[design_var])
    for i, node in enumerate(constraint_nodes):
        scale[f"__constraint{i}__"] = abs(constant_base_value(registry, node.right)) or 1.0
    opt_question = OpenMDAOQuestion(registry, registry.select(problem.select), list(fixed_o), outputs, fixed_o,
                                    {"design": [(design_var, low, high)], "objective": objective_node,
                                     "constraints": constraint_nodes, "scale": scale}, driver=True)
    om = opt_question.first_answer()
    report.agree("Llama optimization", design_var, answer.value(design_var), om.value(design_var), "OpenMDAO")
    report.notes.append(f"Llama optimization: {sense} {spec[sense]} over {design_var} in [{low:g}, {high:g}] "
                        f"subject to {'; '.join(spec['constraints'])}: {answer.value(design_var):.6g}; "
                        f"{answer.message}; active {', '.join(answer.active_constraints) or 'none'}")
    log("Llama optimization: warm")
    engine_opt, engine_opt_reset, om_opt, iterations = warm_optimization(opt_model, optimize, opt_question, om,
                                                                         runs)
    report.notes.append(f"Llama optimization: IPOPT iterations per warm call: {iterations['repeated']} repeated "
                        f"(starts at the last answer), {iterations['restart']} from the first start; OpenMDAO "
                        f"SLSQP success={opt_question.success}" + (f" ({opt_question.printed!r})"
                                                                   if opt_question.printed else ""))
    report.rows.append(speed_row("Llama optimization, warm (repeated)", engine_opt, om_opt, TARGET_WARM,
                                 iterations=iterations["repeated"]))
    report.rows.append(speed_row("Llama optimization, warm (restart, as OpenMDAO)", engine_opt_reset, om_opt,
                                 TARGET_WARM, iterations=iterations["restart"]))
    report.profiled("Llama optimization, warm (repeated)", lambda: optimize(opt_model), 20)

    def first_optimization(reg: Registry) -> Callable[[], Any]:
        fresh = optimizer(reg)
        return lambda: optimize(fresh)
    setups.append(SetupQuestion("Llama optimization", builtin, first_optimization, opt_question,
                                disk_cached=False))
    return setups


# ------------------------------------------------------------------ batched evaluation against C


def batch_section(report: Report, name: str, model: Model, outputs: list[str], swept: str, sweep: np.ndarray,
                  folder: Path, runs: int) -> None:
    """`Model.evaluate` over N points of one input, per point, against the same CasADi function as C.

    C is timed inside its own process (a loop of calls between two clock_gettime); its runs alternate
    with the engine's so that both see the same load.
    """
    label = f"{name} batch, {len(sweep):,} points, per point"
    target = f"≥ {1 / TARGET_BATCH_SLOWDOWN:.2g}× (≤ {TARGET_BATCH_SLOWDOWN:g}× C)"
    batch = lambda: model.evaluate(outputs, {swept: sweep})  # noqa: E731
    answers = batch()                                              # builds the evaluator and its map (untimed)
    bad = sum(int(np.isnan(answers[o]).sum()) for o in outputs)
    evaluator = model._evaluators[(tuple(outputs), (swept,))]      # noqa: SLF001 - the function C is made of
    estimate = timed(batch, 1, loop=False).median / len(sweep)
    if shutil.which("gcc") is None:
        report.rows.append(Row(label, estimate, None, "C", target, None, "gcc not found"))
        return
    point = float(sweep[len(sweep) // 2])
    loops = max(1000, int(0.2 / max(estimate, 1e-8)))
    c = c_forward(evaluator.function, [point], [], folder, loops, name="evaluate_c")
    if not c.ok:
        report.rows.append(Row(label, estimate, None, "C", target, None, c.message[:200]))
        return
    single = model.evaluate(outputs, {swept: point})
    for i, o in enumerate(outputs):
        report.agree(f"{name} batch vs C", o, single[o], c.outputs[i], "C")
    report.agree(f"{name} batch", f"{outputs[0]} (point {len(sweep) // 2})",
                 float(answers[outputs[0]][len(sweep) // 2]), single[outputs[0]], "single")
    engine_runs, c_runs = [], []
    for _ in range(runs):
        engine_runs.append(timed(batch, 1, loop=False).median / len(sweep))
        ns, _, message = run_c(folder / "evaluate_c", loops)
        c_runs.append(ns * 1e-9)
    engine = Timing(statistics.median(engine_runs), engine_runs, len(sweep))
    c_time = Timing(statistics.median(c_runs), c_runs, loops)
    report.rows.append(Row(label, engine.median, c_time.median, "C", target,
                           c_time.median / engine.median >= 1 / TARGET_BATCH_SLOWDOWN,
                           detail=timing_detail(engine_per_point=engine, c_per_call=c_time,
                                                instructions=evaluator.function.n_instructions(),
                                                failed_points=bad, c_compile_s=c.compile_s)))
    report.notes.append(f"{name} batch: {swept} over {len(sweep):,} points ({bad} failed their check); the "
                        f"function has {evaluator.function.n_instructions()} instructions; C: gcc -O2, "
                        f"{loops:,} calls timed inside C per run")


# ------------------------------------------------------------------ synthetic 1,000 equations


def synthetic_section(report: Report, work: Path, runs: int, n: int) -> list[SetupQuestion]:
    log(f"synthetic: writing {n} equations")
    made = write_synthetic(work / f"synthetic_{n}", n, seed=SEED)
    load = lambda: Registry.load([made.registry])  # noqa: E731
    registry = load()
    preset = str(made.scenario)
    model = Model(presets=[preset], registry=registry)
    fixed = {k: a.value for k, a in model.question.assign.items()}
    selection = registry.select(model.question.select)
    fm = forward_model(registry, selection, list(fixed), [FINAL])
    values = {v: fixed[v] for v in fm.inputs}
    root = made.roots[len(made.roots) // 2]
    moved = dict(values, **{root: values[root] * (1 + INVERSE_STEP)})
    report.notes.append(f"synthetic: {made.n_equations} equations, {made.n_variables} variables, "
                        f"{len(made.roots)} roots, depth {made.depth}; forward model {len(fm.order)} ExecComps; "
                        f"inverse root {root} reaches {downstream_size(fm, root)} variables")
    setups: list[SetupQuestion] = []

    # -- forward
    log("synthetic forward: answers")
    given = model.evaluate(FINAL, values)
    folded = model.evaluate(FINAL)
    om_question = OpenMDAOQuestion(registry, selection, list(fixed), [FINAL], values, {})
    om = om_question.first_answer()
    report.agree("synthetic forward", FINAL, given, om.value(FINAL), "OpenMDAO")
    report.agree("synthetic forward", FINAL, given, made.expected, "generator")
    report.agree("synthetic forward", f"{FINAL} (folded)", folded, given, "all given")
    log("synthetic forward: warm")
    om_values = itertools.cycle([values[root], moved[root]])
    engine_all, engine_folded, om_forward = interleaved([
        Timed(alternate(lambda v: model.evaluate(FINAL, v), [values, moved])),
        Timed(lambda: model.evaluate(FINAL)),
        Timed(om.problem.run_model, setup=lambda: om.problem.set_val(om.names[root], next(om_values)))], runs)
    report.rows.append(speed_row(f"synthetic {n} forward, warm (every input given)", engine_all, om_forward,
                                 TARGET_WARM))
    report.rows.append(speed_row(f"synthetic {n} forward, warm (scenario folded in)", engine_folded, om_forward, None))
    report.profiled(f"synthetic {n} forward, warm (every input given)",
                    alternate(lambda v: model.evaluate(FINAL, v), [values, moved]), 300)

    def first_forward(reg: Registry) -> Callable[[], Any]:
        fresh = Model(presets=[preset], registry=reg)
        return lambda: fresh.evaluate(FINAL, values)
    setups.append(SetupQuestion(f"synthetic {n} forward", load, first_forward, om_question))

    # -- batch: the inverse's root swept
    log(f"synthetic batch: {SYNTHETIC_BATCH_POINTS:,} points of {root}")
    sweep = values[root] * np.linspace(0.98, 1.02, SYNTHETIC_BATCH_POINTS)
    batch_section(report, f"synthetic {n}", model, [FINAL], root, sweep, work / "c_synthetic", runs)

    # -- inverse: the final output at its value with the root moved ±INVERSE_STEP; free that root
    log("synthetic inverse: answers")
    program = forward_program(fm)

    def final_with_root(factor: float) -> float:
        p = [values[v] * (factor if v == root else 1.0) for v in fm.inputs]
        return program.function(p)[program.index[FINAL]]

    up, down = final_with_root(1 + INVERSE_STEP), final_with_root(1 - INVERSE_STEP)
    inverse = Model(presets=[preset], registry=registry)
    solve = lambda t: inverse.solve(targets={FINAL: t}, free=[root])  # noqa: E731
    for t, factor in ((up, 1 + INVERSE_STEP), (down, 1 - INVERSE_STEP)):
        answer = solve(t)
        report.agree("synthetic inverse", f"{root} ({factor:g}×)", answer.value(root), values[root] * factor,
                     "expected")
    reset_start(inverse)()
    answer = solve(up)
    formulation = formulate(registry, model_problem(inverse))
    inv_question = OpenMDAOQuestion(registry, selection, list(fixed), [FINAL], values,
                                    {"balances": [(root, FINAL, up)], "scale": dict(formulation.scale),
                                     "start": dict(formulation.start)})
    om = inv_question.first_answer()
    report.agree("synthetic inverse", root, answer.value(root), om.value(root), "OpenMDAO")
    report.notes.append(f"synthetic inverse: {answer.message}; OpenMDAO Newton iterations {om.newton_iterations}")
    log("synthetic inverse: warm")
    engine_inv, engine_inv_reset, om_inv = interleaved([
        Timed(alternate(solve, [up, down])),
        Timed(lambda: solve(up), setup=reset_start(inverse)),
        Timed(om.problem.run_model, setup=om.reset)], runs)
    report.rows.append(speed_row(f"synthetic {n} inverse, warm (alternating targets)", engine_inv, om_inv,
                                 TARGET_WARM))
    report.rows.append(speed_row(f"synthetic {n} inverse, warm (restart, as OpenMDAO)", engine_inv_reset, om_inv,
                                 TARGET_WARM))
    report.profiled(f"synthetic {n} inverse, warm (alternating targets)", alternate(solve, [up, down]), 100)

    def first_inverse(reg: Registry) -> Callable[[], Any]:
        fresh = Model(presets=[preset], registry=reg)
        return lambda: fresh.solve(targets={FINAL: up}, free=[root])
    setups.append(SetupQuestion(f"synthetic {n} inverse", load, first_inverse, inv_question))

    # -- optimization over 20 roots (run.py's optimization_20)
    log("synthetic optimization, 20 free: answers")
    scenario = model.question.scenarios[0]
    chosen = [made.roots[k * len(made.roots) // 20] for k in range(20)]
    goal = made.expected * 1.01
    terms = " + ".join(f"({r} / ({fixed[r]!r} [{scenario.assign[r].unit}]) - 1) ** 2" for r in chosen)
    objective_text = f"({FINAL} / {goal!r} - 1) ** 2 + 0.0001 * ({terms})"
    free = {r: (0.5 * fixed[r], 2.0 * fixed[r]) for r in chosen}
    optimizer = lambda reg: Model(presets=[preset], registry=reg)  # noqa: E731
    optimize = lambda m: m.optimize(minimize=objective_text, free=free)  # noqa: E731
    opt_model = optimizer(registry)
    answer = optimize(opt_model)
    formulation = formulate(registry, model_problem(opt_model))
    objective_node = parse_expression(objective_text)
    start_values = dict(values)
    start_values[FINAL] = made.expected
    scale = dict(formulation.scale)
    scale["__objective__"] = abs(python_expression(registry, objective_node)(start_values)) or 1.0
    opt_question = OpenMDAOQuestion(registry, selection, list(fixed), [FINAL], values,
                                    {"design": [(r, lo, hi) for r, (lo, hi) in free.items()],
                                     "objective": objective_node, "scale": scale}, driver=True)
    om = opt_question.first_answer()
    om_objective = float(om.problem.get_val("objective")[0])
    report.agree("synthetic optimization 20", "objective", answer.objective, om_objective, "OpenMDAO")
    worst = max(chosen, key=lambda r: rel(om.value(r), answer.value(r)))
    report.agree("synthetic optimization 20", f"worst of 20 roots ({worst})", answer.value(worst), om.value(worst),
                 "OpenMDAO")
    log("synthetic optimization, 20 free: warm")
    engine_opt, engine_opt_reset, om_opt, iterations = warm_optimization(opt_model, optimize, opt_question, om,
                                                                         runs)
    report.notes.append(f"synthetic optimization 20: {answer.message}; IPOPT iterations per warm call: "
                        f"{iterations['repeated']} repeated, {iterations['restart']} from the first start; "
                        f"OpenMDAO SLSQP success={opt_question.success}" + (f" ({opt_question.printed!r})"
                                                                            if opt_question.printed else ""))
    report.rows.append(speed_row(f"synthetic {n} optimization 20 free, warm (repeated)", engine_opt, om_opt,
                                 TARGET_WARM, iterations=iterations["repeated"]))
    report.rows.append(speed_row(f"synthetic {n} optimization 20 free, warm (restart)", engine_opt_reset, om_opt,
                                 TARGET_WARM, iterations=iterations["restart"]))
    for label, timing in (("repeated", engine_opt), ("restart", engine_opt_reset)):
        report.rows.append(Row(f"synthetic {n} optimization 20 free, warm ({label})", timing.median, None, "",
                               f"≤ {TARGET_OPT20_SECONDS * 1e3:g} ms", timing.median <= TARGET_OPT20_SECONDS))
    report.profiled(f"synthetic {n} optimization 20 free, warm (repeated)", lambda: optimize(opt_model), 5)

    def first_optimization(reg: Registry) -> Callable[[], Any]:
        fresh = optimizer(reg)
        return lambda: optimize(fresh)
    setups.append(SetupQuestion(f"synthetic {n} optimization 20 free", load, first_optimization, opt_question,
                                disk_cached=False))
    return setups


# ------------------------------------------------------------------ setup: first time and seen before


def setup_section(report: Report, setups: list[SetupQuestion], work: Path, runs: int) -> None:
    """First time (disk cache off) and seen before (disk cache on, written by an earlier run), each on a
    freshly loaded Registry object, against OpenMDAO's translate + build + setup + final_setup + first run.
    The three alternate run by run, so that a change in the machine's load falls on all of them."""
    cache = work / "disk_cache"
    for question in setups:
        log(f"setup: {question.label}")
        os.environ["GPU_STACK_CACHE_DIR"] = str(cache)
        question.engine(question.fresh_registry())()   # the earlier run that writes the disk cache
        times: dict[str, list[float]] = {"first": [], "seen": [], "openmdao": []}
        hits = 0
        for _ in range(runs):
            for mode in ("first", "seen"):
                os.environ["GPU_STACK_CACHE_DIR"] = "off" if mode == "first" else str(cache)
                registry = question.fresh_registry()   # loaded before timing
                call = question.engine(registry)       # the Model (scenario composition), untimed
                with no_gc():
                    t = time.perf_counter()
                    call()
                    times[mode].append(time.perf_counter() - t)
                if mode == "seen":
                    hits += cache_for(registry).disk_hits
                del registry, call
            os.environ["GPU_STACK_CACHE_DIR"] = "off"
            with no_gc():
                t = time.perf_counter()
                question.openmdao.first_answer()
                times["openmdao"].append(time.perf_counter() - t)
        if report.profile:
            for mode, folder in (("first time", "off"), ("seen before", str(cache))):
                os.environ["GPU_STACK_CACHE_DIR"] = folder
                report.profiled(f"{question.label}, setup {mode}", question.engine(question.fresh_registry()), 1,
                                sort="cumulative")
        os.environ["GPU_STACK_CACHE_DIR"] = "off"
        timing = {mode: Timing(statistics.median(samples), samples, 1) for mode, samples in times.items()}
        report.rows.append(speed_row(f"{question.label}, setup first time", timing["first"], timing["openmdao"],
                                     TARGET_SETUP_FIRST))
        note = "" if question.disk_cached else "the NLP is not kept on disk: compiled again"
        report.rows.append(speed_row(f"{question.label}, setup seen before", timing["seen"], timing["openmdao"],
                                     TARGET_SETUP_SEEN, note=note, disk_hits_per_run=hits / runs))
        report.notes.append(f"setup {question.label}: compiled functions read from disk per seen-before run: "
                            f"{hits / runs:g}" + (f" ({note})" if note else ""))


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs per median instead of 5")
    parser.add_argument("--runs", type=int, help="runs per median (default 5, or 3 with --quick)")
    parser.add_argument("--equations", type=int, default=SYNTHETIC_EQUATIONS,
                        help=f"size of the synthetic registry (default {SYNTHETIC_EQUATIONS})")
    parser.add_argument("--skip-setup", action="store_true", help="leave out the setup rows (the slowest part)")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's top entries for each engine question, warm and setup (stderr)")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (registries, C, disk cache)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import openmdao
    import openmdao.api  # noqa: F401  (imported before any timing)

    work = Path(tempfile.mkdtemp(prefix="gpu_stack_engine_bench_"))
    here = os.getcwd()
    os.chdir(work)   # OpenMDAO and CasADi write their files here, not into the checkout
    report = Report(profile=args.profile)
    load_before = os.getloadavg()[0]
    try:
        log(f"gpu_stack {gpu_stack.__version__} from {Path(gpu_stack.__file__).parent}; work folder {work}; "
            f"{args.runs} runs per median")
        registry = Registry.load(None)
        setups = llama_section(report, registry, work, args.runs)
        setups += synthetic_section(report, work, args.runs, args.equations)
        if not args.skip_setup:
            setup_section(report, setups, work, args.runs)
        order = ["setup first time", "setup seen before", "warm", "batch"]
        rows = sorted(report.rows, key=lambda r: next(i for i, word in enumerate(order) if word in r.question))
        environment = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                       f"casadi {ca.__version__}, OpenMDAO {openmdao.__version__}, numpy {np.__version__}; "
                       f"load average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
        lines = [f"gpu_stack engine benchmark — {time.strftime('%Y-%m-%d %H:%M')} — {environment}",
                 f"median of {args.runs} runs; ratio = other time / gpu_stack time (above 1: gpu_stack faster)", "",
                 "Agreement (checked before timing):"]
        lines += [a.line() for a in report.agreements]
        disagreements = [a for a in report.agreements if not a.agrees]
        lines.append(f"  {len(report.agreements) - len(disagreements)} of {len(report.agreements)} agree within "
                     f"{AGREE:g}" + (f"; {len(disagreements)} DISAGREE" if disagreements else ""))
        lines += ["", *table(rows), "", "Notes:"]
        lines += [f"  {note}" for note in report.notes]
        lines.append(f"total wall time {time.perf_counter() - START:.0f} s")
        print("\n".join(lines))
        for label, text in report.profiles.items():
            print(f"\n=== cProfile: {label}\n{text}", file=sys.stderr)
        if args.json:
            data = {"date": time.strftime("%Y-%m-%d %H:%M"), "environment": environment, "runs": args.runs,
                    "rows": [{"question": r.question, "engine_s": r.engine, "other_s": r.other,
                              "other": r.other_name, "ratio": r.ratio, "target": r.target, "met": r.met,
                              "note": r.note, "detail": r.detail} for r in rows],
                    "agreement": [{"question": a.question, "quantity": a.quantity, "engine": a.engine,
                                   "other": a.other, "other_name": a.other_name, "rel_diff": a.difference,
                                   "agrees": a.agrees} for a in report.agreements],
                    "notes": report.notes, "total_s": time.perf_counter() - START}
            Path(here, args.json).write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    finally:
        os.chdir(here)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
