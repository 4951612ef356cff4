#!/usr/bin/env python3
"""Scale benchmarks of the gpu_stack engine (see benchmarks/README.md).

    python3 -m pip install '.[bench]' && python3 benchmarks/run.py

Synthetic registries of 1,000 / 5,000 / 20,000 equations and how each step's
time grows (load, structural analysis, formulate, compile, forward, inverse),
with scipy, C and OpenMDAO beside the engine at the smaller sizes. The
issue's speed targets (the compiled `Model`, the Llama run) are measured by
benchmarks/engine.py.

Results go to stdout; progress lines to stderr. Nothing here is asserted:
the numbers are reported as measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import gpu_stack  # noqa: F401  (installed: `pip install .[bench]`)
except ImportError:  # a source checkout without an install
    sys.path.insert(1, str(HERE.parent))
    import gpu_stack  # noqa: F401

os.environ.setdefault("OPENMDAO_REPORTS", "0")
os.environ["GPU_STACK_CACHE_DIR"] = "off"   # cold means compiled here, not read from an earlier run's disk cache

import casadi as ca  # noqa: E402
import numpy as np  # noqa: E402

import gpu_stack.solver.solve as S  # noqa: E402
from gpu_stack.audit.graph import downstream  # noqa: E402
from gpu_stack.model.problems import inline_problem  # noqa: E402
from gpu_stack.model.registry import Registry  # noqa: E402
from gpu_stack.model.scenarios import load_scenario  # noqa: E402
from gpu_stack.solver.solve import solve_problem  # noqa: E402

from synthetic import FINAL, write_synthetic  # noqa: E402
from translate import forward_model, forward_program  # noqa: E402

START = time.perf_counter()
INVERSE_STEP = 0.01          # scale inverse: the target is the final output with one root moved by +1 %
ROBUSTNESS_STEP = 0.10       # ... and once, at the smallest size, by +10 %


# ------------------------------------------------------------------ helpers


def log(message: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f} s] {message}", file=sys.stderr, flush=True)


def fmt(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def ratio(other: float | None, ours: float | None) -> str:
    if other is None or ours is None or not ours or math.isnan(other) or math.isnan(ours):
        return ""
    r = other / ours
    return f"({r:.3g}×)" if r < 10 else f"({r:.0f}×)"


def rel(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return float("nan")
    return abs(a - b) / max(abs(b), 1e-300)


def measure(fn: Callable[[], Any], *, setup: Callable[[], Any] | None = None, budget: float = 0.5,
            min_runs: int = 3, max_runs: int = 200) -> tuple[float, Any, int]:
    """Fastest wall time of repeated calls (setup, if any, runs untimed before each).

    The minimum, as `timeit` reports: other processes on the machine can only add time.
    """
    times: list[float] = []
    result = None
    total = 0.0
    while len(times) < min_runs or (total < budget and len(times) < max_runs):
        if setup is not None:
            setup()
        t = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t
        times.append(dt)
        total += dt
    return min(times), result, len(times)


@contextlib.contextmanager
def engine_timers() -> Iterator[dict[str, Any]]:
    """Time the engine's own steps inside solve_problem (module attributes, restored after)."""
    record: dict[str, Any] = {"time": {}, "last": {}}
    originals = {}
    for name in ("formulate", "structure_of", "compile_blocks", "compile_nlp"):
        original = getattr(S, name, None)
        if original is None:   # renamed in the engine: that part is simply not broken out
            continue
        originals[name] = original

        def timed(*a: Any, _f: Callable = original, _n: str = name, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                out = _f(*a, **k)
                record["last"][_n] = out
                return out
            finally:
                record["time"][_n] = record["time"].get(_n, 0.0) + time.perf_counter() - t
        setattr(S, name, timed)
    try:
        yield record
    finally:
        for name, original in originals.items():
            setattr(S, name, original)


def engine_question(registry: Registry, problem: Any, *, repeat_budget: float = 0.5, min_runs: int = 3,
                    max_runs: int = 200) -> dict[str, Any]:
    """Cold (first) and warm (fastest of repeats) solve_problem, with the cold call's breakdown."""
    with engine_timers() as record:
        t = time.perf_counter()
        result = solve_problem(registry, problem)
        cold = time.perf_counter() - t
    parts = dict(record["time"])
    last = dict(record["last"])
    warm_parts: dict[str, float] = {}
    with engine_timers() as warm_record:
        warm, again, runs = measure(lambda: solve_problem(registry, problem), budget=repeat_budget,
                                    min_runs=min_runs, max_runs=max_runs)
        warm_parts = {k: v / runs for k, v in warm_record["time"].items()}
    return {"cold": cold, "parts": parts, "warm": warm, "warm_runs": runs, "warm_parts": warm_parts,
            "result": result, "again": again, "formulation": last.get("formulate"),
            "compiled": last.get("compile_blocks") or last.get("compile_nlp"), "structure": last.get("structure_of")}


# ------------------------------------------------------------------ part 2: scale


def inverse_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """The engine's inverse query on a synthetic registry, in its own process."""
    registry = Registry.load([spec["registry"]])
    scenario = load_scenario(registry, spec["scenario"])
    out: dict[str, Any] = {}
    problem = inline_problem(registry, [scenario], targets=[f"{FINAL}={spec['target']!r}"], free=[spec["root"]])
    run = engine_question(registry, problem, repeat_budget=0.0, min_runs=spec["repeat"], max_runs=spec["repeat"])
    result = run["result"]
    compiled = run["compiled"]
    out.update(cold=run["cold"], warm=run["warm"], parts=run["parts"], warm_parts=run["warm_parts"],
               status=result.status, message=result.message,
               value=result.free[spec["root"]].value if result.free else None,
               newton_blocks=[len(b) for b in compiled.newton_blocks] if compiled is not None else [])
    if compiled is not None and run["formulation"] is not None:
        f = run["formulation"]
        p, x0 = f.param_values(), [f.start[v] for v in f.unknowns]
        out["core"], _, _ = measure(lambda: compiled.function(p, x0), budget=0.3, min_runs=3, max_runs=50)
    probes = []
    for root, target, expected in spec.get("robustness", []):
        hard = inline_problem(registry, [scenario], targets=[f"{FINAL}={target!r}"], free=[root])
        r = solve_problem(registry, hard)
        value = r.free[root].value if r.free else None
        probes.append({"root": root, "status": r.status, "message": r.message, "value": value,
                       "error": rel(value, expected) if value is not None else None})
    out["robustness"] = probes
    return out


def start_worker(spec: dict[str, Any]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                            stdout=subprocess.PIPE, text=True)


def finish_worker(process: subprocess.Popen) -> dict[str, Any]:
    stdout, _ = process.communicate()
    if process.returncode != 0:
        return {"status": "error", "message": f"worker exited with {process.returncode}"}
    return json.loads(stdout.strip().splitlines()[-1])


def structure_comparison(formulation: Any) -> dict[str, float]:
    """Matching on the forward question's bipartite graph: the engine's and the alternatives."""
    import networkx as nx
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    from gpu_stack.solver import structure as ST

    equations, unknowns = list(formulation.equations), list(formulation.unknowns)
    known = set(unknowns)
    incidence = {e: [v for v in formulation.incidence[e] if v in known] for e in equations}
    out: dict[str, float] = {"edges": float(sum(len(v) for v in incidence.values()))}

    def best(fn: Callable[[], Any]) -> tuple[float, Any]:
        seconds, value, _ = measure(fn, budget=0.0, min_runs=3, max_runs=3)
        return seconds, value

    if hasattr(ST, "_prefer_explicit"):   # a private helper of structure.analyse: skipped if it is renamed
        out["engine_matching"], matching = best(
            lambda: ST._prefer_explicit(equations, unknowns, incidence, formulation.explicit))
        out["engine_matched"] = len(matching)
    column = {v: j for j, v in enumerate(unknowns)}
    rows = [i for i, e in enumerate(equations) for v in incidence[e]]
    cols = [column[v] for e in equations for v in incidence[e]]
    matrix = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(equations), len(unknowns)))
    out["scipy_matching"], matched = best(lambda: maximum_bipartite_matching(matrix, perm_type="column"))
    out["scipy_matched"] = int((matched >= 0).sum())

    def bipartite() -> Any:
        graph = nx.Graph()
        graph.add_nodes_from((("e", e) for e in equations), bipartite=0)
        graph.add_nodes_from((("v", v) for v in unknowns), bipartite=1)
        graph.add_edges_from((("e", e), ("v", v)) for e in equations for v in incidence[e])
        return graph
    out["networkx_build"], graph = best(bipartite)
    top = [("e", e) for e in equations]
    out["networkx_matching"], hk = best(lambda: nx.bipartite.hopcroft_karp_matching(graph, top_nodes=top))
    out["networkx_matched"] = len(hk) // 2
    return out


def optimization_20(registry: Registry, scenario: Any, roots: list[str], fm: Any, program: Any,
                    fixed: dict[str, float], expected: float, run_openmdao: bool) -> dict[str, Any]:
    """20 free roots, each in [0.5, 2] × its value: pull the final output 1 % up, with a small
    penalty on moving the roots (a made-up, smooth, well-posed objective with an interior optimum)."""
    from others import build_openmdao, python_expression, python_minimize

    chosen = [roots[k * len(roots) // 20] for k in range(20)]
    goal = expected * 1.01
    terms = " + ".join(f"({r} / ({fixed[r]!r} [{scenario.assign[r].unit}]) - 1) ** 2" for r in chosen)
    text = f"({FINAL} / {goal!r} - 1) ** 2 + 0.0001 * ({terms})"
    free = [(r, 0.5 * fixed[r], 2.0 * fixed[r]) for r in chosen]
    problem = inline_problem(registry, [scenario], free=[f"{r}={lo!r}:{hi!r}" for r, lo, hi in free], minimize=text)
    out: dict[str, Any] = {"objective_text": text}
    run = engine_question(registry, problem, repeat_budget=0.0, min_runs=3, max_runs=3)
    result = run["result"]
    out["engine"] = {"cold": run["cold"], "warm": run["warm"], "status": result.status, "message": result.message,
                     "objective": result.objective, "iterations": result.iterations,
                     "x": [result.free[r].value if r in result.free else None for r in chosen],
                     "warm_parts": run["warm_parts"]}
    nlp, f = run["compiled"], run["formulation"]
    if nlp is not None and f is not None and hasattr(S, "_nlp_bounds") and hasattr(S, "_g_bounds"):
        lbx, ubx = S._nlp_bounds(f, nlp.scale)
        lbg, ubg = S._g_bounds(nlp)
        z0 = [f.start[v] / nlp.scale[v] for v in f.unknowns]
        pv = f.param_values()

        def ipopt_only() -> Any:
            with S.quiet_stdout():
                return nlp.solver(x0=z0, p=pv, lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg)
        out["engine"]["core"], _, _ = measure(ipopt_only, budget=0.0, min_runs=3, max_runs=3)
    objective = python_expression(registry, problem.objective.node)
    out["scipy_time"], (solution, value, res), _ = measure(
        lambda: python_minimize(program, fixed, free, objective, []), budget=0.0, min_runs=3, max_runs=3)
    out["scipy"] = {"x": [solution[r] for r in chosen], "objective": value, "nfev": int(res.nfev),
                    "success": bool(res.success)}
    if run_openmdao:
        t = time.perf_counter()
        model = build_openmdao(fm, fixed, design=free, objective=problem.objective.node,
                               scale={**(f.scale if f is not None else {}),
                                      "__objective__": nlp.objective_scale if nlp is not None else 1.0})
        out["openmdao_build"] = time.perf_counter() - t
        out["openmdao_time"], driver_result, _ = measure(model.problem.run_driver, setup=model.reset, budget=0.0,
                                                         min_runs=2, max_runs=2)
        out["openmdao"] = {"x": [model.value(r) for r in chosen],
                           "objective": float(model.problem.get_val("objective")[0]),
                           "success": driver_result.success if hasattr(driver_result, "success") else not driver_result}
    return out


def scale_size(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from others import build_openmdao, c_forward, python_inverse

    out: dict[str, Any] = {"n": n}
    folder = work / f"synthetic_{n}"
    t = time.perf_counter()
    model = write_synthetic(folder, n, seed=args.seed)
    out.update(write=time.perf_counter() - t, equations=model.n_equations, variables=model.n_variables,
               roots=len(model.roots), depth=model.depth, expected=model.expected)
    log(f"scale {n}: wrote {model.n_equations} equations, {model.n_variables} variables, depth {model.depth}")
    t = time.perf_counter()
    registry = Registry.load([model.registry])
    out["load"] = time.perf_counter() - t
    log(f"scale {n}: registry loaded in {fmt(out['load'])}")
    scenario = load_scenario(registry, str(model.scenario))
    selection = registry.select(scenario.select)

    # the pure-Python forward function (scipy's), also used to set the inverse target
    fixed = {k: a.value for k, a in scenario.assign.items()}
    t = time.perf_counter()
    fm = forward_model(registry, selection, list(fixed), [FINAL])
    program = forward_program(fm)
    out["py_build"] = time.perf_counter() - t
    p_values = [fixed[v] for v in fm.inputs]
    out["py_forward"], result, _ = measure(lambda: program.function(p_values), budget=0.3, max_runs=50)
    out["py_final"] = result[program.index[FINAL]]
    root = model.roots[len(model.roots) // 2]
    out["root"] = root
    out["root_downstream"] = len(downstream(registry, [root])) - 1

    def final_at(step: float) -> float:
        moved = list(p_values)
        moved[fm.inputs.index(root)] *= 1.0 + step
        return program.function(moved)[program.index[FINAL]]

    target = final_at(INVERSE_STEP)
    out["target"] = target
    probes = []
    if n == min(args.sizes):
        # robustness: the same inverse with a root moved +10 %, for ten roots whose downstream cones (the
        # size of the Newton block) sit at the 5, 15, …, 95 % quantiles
        ranked = sorted(model.roots, key=lambda r: (len(downstream(registry, [r])), r))
        for k in range(10):
            other = ranked[(2 * k + 1) * len(ranked) // 20]
            moved = list(p_values)
            moved[fm.inputs.index(other)] *= 1.0 + ROBUSTNESS_STEP
            probes.append((other, program.function(moved)[program.index[FINAL]],
                           fixed[other] * (1.0 + ROBUSTNESS_STEP)))
    spec = {"registry": str(model.registry), "scenario": str(model.scenario), "root": root, "target": target,
            "repeat": 1 if n >= 10000 else 3, "robustness": probes}
    parallel = args.jobs >= 2 and n >= args.parallel_from
    worker = start_worker(spec)
    if not parallel:
        log(f"scale {n}: gpu_stack inverse (worker process)")
        out["inverse"] = finish_worker(worker)
        worker = None
    else:
        log(f"scale {n}: gpu_stack inverse running in a second process, in parallel")

    log(f"scale {n}: gpu_stack forward (cold, then warm)")
    run = engine_question(registry, inline_problem(registry, [scenario]), repeat_budget=0.0,
                          min_runs=1 if n >= 10000 else 3, max_runs=3)
    result = run["result"]
    out["forward"] = {"cold": run["cold"], "warm": run["warm"], "parts": run["parts"], "warm_parts": run["warm_parts"],
                      "status": result.status, "final": result.values[FINAL].value if FINAL in result.values else None}
    formulation, compiled = run["formulation"], run["compiled"]
    p = formulation.param_values()
    x0 = [formulation.start[v] for v in formulation.unknowns]
    out["forward"]["core"], _, _ = measure(lambda: compiled.function(p, x0), budget=0.3, max_runs=50)
    log(f"scale {n}: matching comparisons")
    out["structure"] = structure_comparison(formulation)

    log(f"scale {n}: scipy fsolve inverse")
    out["py_inverse"], (answer, nfev), _ = measure(
        lambda: python_inverse(program, fixed, root, FINAL, target), budget=0.3, max_runs=20)
    out["py_inverse_value"], out["py_inverse_nfev"] = answer, nfev

    if n <= args.c_max and shutil.which("gcc"):
        log(f"scale {n}: C codegen + gcc -O2")
        c = c_forward(compiled.function, p, x0, work / f"c_{n}", max(1000, args.c_loops // max(1, n // 10)))
        index = formulation.unknowns.index(FINAL)
        out["c"] = {"ok": c.ok, "build": c.generate_s + c.compile_s, "compile": c.compile_s,
                    "forward": c.ns_per_call * 1e-9, "final": c.outputs[index] if c.ok else None, "message": c.message}
    if n <= args.openmdao_max:
        log(f"scale {n}: OpenMDAO build + forward")
        scale = dict(formulation.scale)
        om: dict[str, Any] = {}
        t = time.perf_counter()
        om_model = build_openmdao(fm, fixed, scale=scale)
        om["build"] = time.perf_counter() - t
        om["forward"], _, _ = measure(om_model.problem.run_model, budget=0.3, max_runs=10)
        om["final"] = om_model.value(FINAL)
        log(f"scale {n}: OpenMDAO inverse (Newton + DirectSolver, BalanceComp)")
        t = time.perf_counter()
        inv_model = build_openmdao(fm, fixed, balances=[(root, FINAL, target)], scale=scale, start=formulation.start)
        om["inverse_build"] = time.perf_counter() - t
        om["inverse"], _, _ = measure(inv_model.problem.run_model, setup=inv_model.reset, budget=0.3, max_runs=5)
        om["inverse_value"] = inv_model.value(root)
        om["newton_iterations"] = inv_model.newton_iterations
        out["openmdao"] = om
        del om_model, inv_model
    if n == min(args.sizes):
        log(f"scale {n}: optimization with 20 free variables (gpu_stack, scipy"
            + (", OpenMDAO)" if n <= args.openmdao_max else ")"))
        out["opt20"] = optimization_20(registry, scenario, model.roots, fm, program, fixed, model.expected,
                                       n <= args.openmdao_max)
    if worker is not None:
        log(f"scale {n}: waiting for the inverse process")
        out["inverse"] = finish_worker(worker)
    out["inverse"]["expected"] = fixed[root] * (1.0 + INVERSE_STEP)
    out["root_start"] = fixed[root]
    out["parallel"] = parallel
    log(f"scale {n}: done")
    return out


def loader_probe(work: Path, sizes: list[int], seed: int) -> list[tuple[int, float, float]]:
    """Registry load time with every entry in one TOML file vs 100 entries per file."""
    rows = []
    for n in sizes:
        one = write_synthetic(work / f"onefile_{n}", n, seed=seed, per_file=0)
        many = write_synthetic(work / f"split_{n}", n, seed=seed)
        t = time.perf_counter()
        Registry.load([one.registry])
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        Registry.load([many.registry])
        rows.append((n, t_one, time.perf_counter() - t))
    return rows


def growth(values: list[tuple[int, float | None]]) -> str:
    pts = [(n, v) for n, v in values if v is not None and v > 0 and not math.isnan(v)]
    if len(pts) < 2:
        return ""
    (n0, v0), (n1, v1) = pts[0], pts[-1]
    return f"×{v1 / v0:.3g} (n^{math.log(v1 / v0) / math.log(n1 / n0):.2f})"


def print_scale(rows: list[dict[str, Any]], loader: list[tuple[int, float, float]], args: argparse.Namespace) -> list[str]:
    lines = ["Scale — synthetic registries (seeded random DAG: sums, products, powers, exp; W/kW/MW, J/kWh, …)"]
    lines.append("  forward = resolve the final output (every equation); inverse = target the final output at its "
                 f"value with one root moved +{INVERSE_STEP:.0%}, free that root")
    lines.append("  growth = last size / first size, and the exponent k of time ~ n^k")
    lines.append("")
    sizes = [r["n"] for r in rows]
    width = 14
    head = f"  {'step':<46}" + "".join(f"{r['equations']:>{width},}" for r in rows) + f"  {'growth':>18}"
    lines.append(head)
    lines.append("  " + "-" * (len(head) - 2))

    def row(label: str, getter: Callable[[dict[str, Any]], Any], kind: str = "time", show_growth: bool = True) -> None:
        vals = []
        for r in rows:
            try:
                vals.append(getter(r))
            except (KeyError, TypeError, IndexError):
                vals.append(None)
        if kind == "time":
            cells = "".join(f"{fmt(v) if v is not None else '—':>{width}}" for v in vals)
        else:
            cells = "".join(f"{(str(v) if v is not None else '—'):>{width}}" for v in vals)
        g = growth(list(zip(sizes, vals))) if kind == "time" and show_growth else ""
        lines.append(f"  {label:<46}{cells}  {g:>18}")

    row("variables / roots", lambda r: f"{r['variables']}/{r['roots']}", "text")
    row("DAG depth", lambda r: r["depth"], "text")
    row("registry load (Registry.load)", lambda r: r["load"])
    row("structural analysis (structure.analyse)", lambda r: r["forward"]["parts"]["structure_of"])  # cold: prepare() keeps it
    def matched(r: dict[str, Any]) -> str:
        counts = [r["structure"].get(k) for k in ("engine_matched", "scipy_matched", "networkx_matched")]
        counts = [int(c) if c is not None else None for c in counts]
        return f"all {counts[0]}" if len(set(counts)) == 1 else "/".join(str(c) for c in counts)
    row("  matched pairs (engine, scipy, networkx)", matched, "text")
    row("  matching: engine greedy + augmenting", lambda r: r["structure"]["engine_matching"])
    row("  matching: scipy maximum_bipartite_match.", lambda r: r["structure"]["scipy_matching"])
    row("  matching: networkx hopcroft_karp", lambda r: r["structure"]["networkx_matching"])
    row("    (networkx graph build, not included)", lambda r: r["structure"]["networkx_build"])
    row("formulate (forward question)", lambda r: r["forward"]["parts"]["formulate"])
    row("compile (CasADi, forward question)", lambda r: r["forward"]["parts"]["compile_blocks"])
    row("gpu_stack forward, cold (first solve)", lambda r: r["forward"]["cold"])
    row("gpu_stack forward, warm (solve_problem)", lambda r: r["forward"]["warm"])
    row("  CasADi function call alone", lambda r: r["forward"]["core"])
    row("gpu_stack inverse, cold", lambda r: r["inverse"]["cold"])
    row("gpu_stack inverse, warm (solve_problem)", lambda r: r["inverse"]["warm"])
    row("  CasADi function call alone (Newton)", lambda r: r["inverse"]["core"])
    row("  Newton block sizes", lambda r: "+".join(str(b) for b in r["inverse"]["newton_blocks"]) or "—", "text")
    row("  inverse status", lambda r: r["inverse"]["status"], "text")
    row("scipy: build pure-Python forward", lambda r: r["py_build"])
    row("scipy: forward (pure Python)", lambda r: r["py_forward"])
    row("scipy: fsolve inverse", lambda r: r["py_inverse"])
    row("C: generate + gcc -O2", lambda r: r["c"]["build"] if r["c"]["ok"] else None)
    row("C: forward per call", lambda r: r["c"]["forward"] if r["c"]["ok"] else None)
    row("OpenMDAO: build (setup + final_setup)", lambda r: r["openmdao"]["build"])
    row("OpenMDAO: forward (run_model)", lambda r: r["openmdao"]["forward"])
    row("OpenMDAO: inverse (Newton, BalanceComp)", lambda r: r["openmdao"]["inverse"])
    lines.append("")
    skipped_c = [r["n"] for r in rows if "c" not in r]
    skipped_om = [r["n"] for r in rows if "openmdao" not in r]
    if skipped_c:
        lines.append(f"  C not run at {', '.join(f'{n:,}' for n in skipped_c)} equations (--c-max {args.c_max}): "
                     "gcc -O2 on the generated file grows steeply (about 16 s at 5,000 equations on this machine).")
    if skipped_om:
        lines.append(f"  OpenMDAO not run at {', '.join(f'{n:,}' for n in skipped_om)} equations (--openmdao-max "
                     f"{args.openmdao_max}): one ExecComp per equation gets slow to set up.")
    par = [r["n"] for r in rows if r.get("parallel")]
    if par:
        lines.append(f"  At {', '.join(f'{n:,}' for n in par)} equations the gpu_stack inverse ran in a second process "
                     "while the forward ran in this one (2 cores), to keep the whole run near 5 minutes.")
    lines.append("  Ratios, time(other) / time(gpu_stack warm; build: gpu_stack cold):")
    for r in rows:
        parts = []
        fw = r["forward"]["warm"]
        if "openmdao" in r:
            parts.append(f"OpenMDAO forward {ratio(r['openmdao']['forward'], fw)}, inverse "
                         f"{ratio(r['openmdao']['inverse'], r['inverse'].get('warm'))}, build "
                         f"{ratio(r['openmdao']['build'], r['forward']['cold'])}")
        parts.append(f"pure-Python forward {ratio(r['py_forward'], fw)}")
        if r.get("c", {}).get("ok"):
            parts.append(f"C forward {ratio(r['c']['forward'], fw)}")
        lines.append(f"    {r['equations']:>7,} equations: " + "; ".join(parts))
    lines.append("")
    lines.append("  Agreement:")
    for r in rows:
        fw_final = r["forward"].get("final")
        text = (f"    {r['equations']:>7,} eq.: final output gpu_stack {fw_final:.15g}, generator {r['expected']:.15g} "
                f"({rel(fw_final, r['expected']):.1e}), pure Python ({rel(r['py_final'], fw_final):.1e})")
        if r.get("c", {}).get("ok"):
            text += f", C ({rel(r['c']['final'], fw_final):.1e})"
        if "openmdao" in r:
            text += f", OpenMDAO ({rel(r['openmdao']['final'], fw_final):.1e})"
        lines.append(text)
        inv = r["inverse"]
        text = (f"      inverse: root {r['root']} (downstream cone {r['root_downstream']} variables) expected "
                f"{inv['expected']:.12g}; gpu_stack {inv.get('status')} ")
        if inv.get("value") is not None:
            text += f"{inv['value']:.12g} ({rel(inv['value'], inv['expected']):.1e})"
        else:
            text += f"({inv.get('message')})"
        text += f"; fsolve {r['py_inverse_value']:.12g} ({rel(r['py_inverse_value'], inv['expected']):.1e})"
        if "openmdao" in r:
            om = r["openmdao"]
            text += (f"; OpenMDAO {om['inverse_value']:.12g} ({rel(om['inverse_value'], inv['expected']):.1e}, "
                     f"{om['newton_iterations']} Newton it.)")
        lines.append(text)
        if inv.get("robustness"):
            probes = inv["robustness"]
            good = [b for b in probes if b["status"] == "ok"]
            lines.append(f"      robustness: inverse with a root moved +{ROBUSTNESS_STEP:.0%} (start 10% away), "
                         f"{len(probes)} roots (downstream cones at the 5, 15, …, 95 % quantiles): gpu_stack ok for "
                         f"{len(good)}"
                         + (f" (max rel. error {max(b['error'] for b in good):.1e})" if good else ""))
            for b in probes:
                if b["status"] != "ok":
                    lines.append(f"        {b['root']}: {b['status']}: {b['message']}")
    for r in rows:
        if "opt20" not in r:
            continue
        o = r["opt20"]
        e = o["engine"]
        lines.append("")
        lines.append(f"  Optimization with 20 free variables on the {r['equations']:,}-equation registry: 20 roots, each in "
                     "[0.5, 2] × its value,")
        lines.append(f"    minimize ({FINAL} / (1.01 × its value) − 1)² + 1e-4 Σ (root / its value − 1)²")
        lines.append(f"    gpu_stack (IPOPT, whole system)   warm {fmt(e['warm']):>10}  cold {fmt(e['cold']):>10}  "
                     f"{e['status']}, {e['iterations']} iterations; IPOPT call alone {fmt(e.get('core'))}; "
                     f"formulate {fmt(e['warm_parts'].get('formulate'))}, structure {fmt(e['warm_parts'].get('structure_of'))}")
        if "openmdao" in o:
            lines.append(f"    OpenMDAO (SLSQP, analytic totals) run {fmt(o['openmdao_time']):>10} {ratio(o['openmdao_time'], e['warm'])}"
                         f"  build {fmt(o['openmdao_build'])}; success={o['openmdao']['success']}")
        lines.append(f"    scipy (SLSQP, finite differences) run {fmt(o['scipy_time']):>10} {ratio(o['scipy_time'], e['warm'])}"
                     f"  {o['scipy']['nfev']} forward calls; success={o['scipy']['success']}")
        if e.get("x") and None not in e["x"]:
            for name in ("openmdao", "scipy"):
                if name in o:
                    diff = max(rel(a, b) for a, b in zip(o[name]["x"], e["x"]))
                    lines.append(f"    agreement {name:<8}: max rel. diff of the 20 roots {diff:.1e}; objective "
                                 f"{o[name]['objective']:.9g} vs gpu_stack {e['objective']:.9g}")
        lines.append(f"    target 'optimization with <= 20 free variables <= 200 ms warm': measured {fmt(e['warm'])} "
                     f"-> {'met' if e['warm'] <= 0.2 else 'not met'} on this {r['equations']:,}-equation system")
    if loader:
        lines.append("")
        lines.append("  Registry load, every entry in one TOML file vs 100 entries per file (the sizes above use 100 per file):")
        for n, one, many in loader:
            lines.append(f"    {n:>6,} equations: one file {fmt(one):>9}, split {fmt(many):>9}")
        if len(loader) >= 2:
            (n0, a0, _), (n1, a1, _) = loader[0], loader[-1]
            lines.append(f"    one-file growth ×{a1 / a0:.3g} for ×{n1 / n0:.3g} entries (n^{math.log(a1 / a0) / math.log(n1 / n0):.2f})")
    return lines


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,20000",
                        help="equation counts of the synthetic registries (default 1000,5000,20000)")
    parser.add_argument("--openmdao-max", type=int, default=1000, help="largest synthetic size run with OpenMDAO")
    parser.add_argument("--c-max", type=int, default=1000, help="largest synthetic size compiled to C")
    parser.add_argument("--c-loops", type=int, default=100000,
                        help="calls timed inside the C driver, divided by n/10 at n equations")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the largest sizes (1: all sequential)")
    parser.add_argument("--parallel-from", type=int, default=10000,
                        help="sizes from which the inverse runs in a second process beside the forward")
    parser.add_argument("--loader-sizes", default="500,1000", help="sizes for the one-file load probe ('' skips)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", metavar="PATH", help="also write the raw measurements as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (generated C, registries)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.loader_sizes = sorted(int(s) for s in args.loader_sizes.split(",") if s.strip())
    return args


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(_jsonable(inverse_worker(json.loads(args.worker)))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="gpu_stack_bench_"))
    here = os.getcwd()
    os.chdir(work)   # OpenMDAO and CasADi write their files here, not into the checkout
    report: list[str] = []
    raw: dict[str, Any] = {}
    try:
        log(f"gpu_stack from {Path(gpu_stack.__file__).parent}; work folder {work}")
        report.append("gpu_stack benchmarks — " + time.strftime("%Y-%m-%d %H:%M"))
        import openmdao
        import scipy
        report.append(f"  machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                      f"casadi {ca.__version__}, OpenMDAO {openmdao.__version__}, scipy {scipy.__version__}, "
                      f"numpy {np.__version__}")
        report.append(f"  gpu_stack from {Path(gpu_stack.__file__).parent}")
        report.append("")
        if args.sizes:
            rows = [scale_size(n, args, work) for n in args.sizes]
            raw["scale"] = rows
            loader = []
            if args.loader_sizes:
                log("loader probe: one file vs many")
                loader = loader_probe(work, args.loader_sizes, args.seed)
            raw["loader"] = loader
            report += print_scale(rows, loader, args)
            report.append("")
        report.append(f"total wall time {time.perf_counter() - START:.0f} s")
        print("\n".join(report))
        if args.json:
            Path(here, args.json).write_text(json.dumps(_jsonable(raw), indent=1))
    finally:
        os.chdir(here)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
