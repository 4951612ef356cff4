"""The comparison engines, on the same equations as gpu_stack.

* OpenMDAO: one ExecComp per equation (base-unit formula, unit factors folded
  in as numbers: `translate.Translator`), NewtonSolver + DirectSolver with a
  BalanceComp for an inverse query, ScipyOptimizeDriver (SLSQP) for an
  optimization.
* scipy: fsolve / minimize(SLSQP, finite differences) over a generated
  straight-line pure-Python forward function.
* C: CasADi's generated C code of the engine's own forward function,
  compiled with gcc -O2 together with a driver whose main() times a loop of
  calls with clock_gettime.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from translate import ForwardModel, ForwardProgram, Translator

os.environ.setdefault("OPENMDAO_REPORTS", "0")  # no HTML reports written next to the benchmark

__all__ = ["OpenMDAOModel", "build_openmdao", "c_forward", "run_c", "CResult", "python_inverse", "python_minimize",
           "python_expression"]


# ------------------------------------------------------------------ OpenMDAO


@dataclass
class OpenMDAOModel:
    problem: Any
    names: dict[str, str]                 # variable ID -> OpenMDAO name
    start: dict[str, float]               # OpenMDAO name -> value to restart from
    newton: Any = None

    def reset(self) -> None:
        for name, value in self.start.items():
            self.problem.set_val(name, value)

    def value(self, ident: str) -> float:
        return float(self.problem.get_val(self.names[ident])[0])

    @property
    def newton_iterations(self) -> int | None:
        return getattr(self.newton, "_iter_count", None) if self.newton is not None else None


def _register_functions() -> None:
    """Teach ExecComp the registry's functions it lacks (once per process).

    sqrt is numpy's (complex-safe); ceil and floor are piecewise constant (zero derivative), evaluated on
    the real part so complex-step partials stay exact; `where` picks by the real part of the condition.
    """
    from openmdao.components import exec_comp

    extra = {"sqrt": np.sqrt, "ceil": lambda x: np.ceil(np.real(x)), "floor": lambda x: np.floor(np.real(x)),
             "where": lambda c, a, b: np.where(np.real(c), a, b)}
    for name, function in extra.items():
        if name not in exec_comp._expr_dict:
            exec_comp.ExecComp.register(name, function, complex_safe=True)


def build_openmdao(model: ForwardModel, values: dict[str, float], *,
                   balances: Sequence[tuple[str, str, float]] = (),
                   design: Sequence[tuple[str, float | None, float | None]] = (),
                   objective: Any = None, constraints: Sequence[Any] = (),
                   scale: dict[str, float] | None = None, start: dict[str, float] | None = None,
                   assembled: bool = True) -> OpenMDAOModel:
    """An OpenMDAO Problem of `model`, set up and ready to run.

    values : every input of `model` (declared units); free variables' entries are their starting points.
    balances : (free variable, target variable, target value): the free variable becomes a BalanceComp
        state whose residual is target variable − value; the model gets NewtonSolver + DirectSolver.
    design, objective, constraints : an optimization for ScipyOptimizeDriver(SLSQP); `objective` and
        `constraints` are gpu_stack expression nodes (a Compare for each constraint).
    scale : typical magnitudes (declared units) used as ref / res_ref of outputs and design variables.
    start : initial values of computed variables (declared units), restored by `reset()`.
    """
    import openmdao.api as om

    _register_functions()
    scale = scale or {}
    start = start or {}
    translator = Translator(model.registry, "openmdao")
    problem = om.Problem(reports=False)
    group = problem.model
    names: dict[str, str] = {}
    restart: dict[str, float] = {}

    def meta(ident: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if ident in start:
            out["val"] = start[ident]
        magnitude = abs(scale.get(ident, 0.0))
        if magnitude > 0:
            out["ref"] = magnitude
            out["res_ref"] = magnitude
        return out

    for ident, equation in model.order:
        text = translator.defining(equation)
        name = translator.name(ident)
        names[ident] = name
        group.add_subsystem(f"eq_{name}", om.ExecComp(text, **{name: meta(ident)}), promotes=["*"])
        if ident in start:
            restart[name] = start[ident]
    for ident in model.inputs:
        names[ident] = translator.name(ident)
    newton = None
    if balances:
        balance = om.BalanceComp()
        for free, target, value in balances:
            name = names[free]
            kwargs = {"val": values[free]}
            magnitude = abs(scale.get(free, values[free]) or 1.0)
            kwargs.update(ref=magnitude)
            balance.add_balance(name, lhs_name=names[target], rhs_val=value, normalize=False,
                                res_ref=abs(value) or 1.0, **kwargs)
            restart[name] = values[free]
        group.add_subsystem("balance", balance, promotes=["*"])
        newton = om.NewtonSolver(solve_subsystems=False, maxiter=100, atol=1e-12, rtol=1e-14, iprint=-1,
                                 err_on_non_converge=False)
        group.nonlinear_solver = newton
        group.linear_solver = om.DirectSolver(assemble_jac=assembled)
        if assembled:
            group.options["assembled_jac_type"] = "csc"
    objective_name = None
    if objective is not None:
        objective_name = "objective"
        group.add_subsystem("objective_comp", om.ExecComp(f"objective = {translator.expr(objective)}"),
                            promotes=["*"])
    constraint_names = []
    for i, node in enumerate(constraints):
        left, right = translator.expr(node.left), translator.expr(node.right)
        text = f"({right}) - ({left})" if node.op in (">", ">=") else f"({left}) - ({right})"
        name = f"constraint{i}"
        group.add_subsystem(f"{name}_comp", om.ExecComp(f"{name} = {text}"), promotes=["*"])
        constraint_names.append(name)
    if design:
        problem.driver = om.ScipyOptimizeDriver(optimizer="SLSQP", tol=1e-12, maxiter=200, disp=False)
        for ident, low, high in design:
            magnitude = abs(scale.get(ident, values[ident]) or 1.0)
            problem.model.add_design_var(names[ident], lower=low, upper=high, ref=magnitude)
        problem.model.add_objective(objective_name, ref=abs(scale.get("__objective__", 1.0)) or 1.0)
        for name, node in zip(constraint_names, constraints):
            problem.model.add_constraint(name, upper=0.0, ref=abs(scale.get(f"__{name}__", 1.0)) or 1.0)
    problem.setup(check=False)
    problem.set_solver_print(level=-1)
    for ident in model.inputs:
        if any(ident == free for free, _, _ in balances):
            continue
        problem.set_val(names[ident], values[ident])
        if any(ident == d for d, _, _ in design):
            restart[names[ident]] = values[ident]
    problem.final_setup()
    return OpenMDAOModel(problem, names, restart, newton)


# ------------------------------------------------------------------ scipy


def python_inverse(program: ForwardProgram, inputs: dict[str, float], free: str, target: str,
                   value: float) -> tuple[float, int]:
    """fsolve on target(free) = value, free scaled by its start; returns (free value, function calls)."""
    from scipy.optimize import fsolve

    names = program.model.inputs
    where = names.index(free)
    p = [inputs[v] for v in names]
    x0 = p[where]
    k = program.index[target]
    forward = program.function

    def residual(z: np.ndarray) -> list[float]:
        p[where] = float(z[0]) * x0
        return [forward(p)[k] / value - 1.0]

    z, info, ier, _ = fsolve(residual, [1.0], xtol=1e-14, full_output=True)
    return float(z[0]) * x0, int(info["nfev"])


def python_minimize(program: ForwardProgram, inputs: dict[str, float], free: Sequence[tuple[str, float, float]],
                    objective: Callable[[dict[str, float]], float],
                    constraints: Sequence[Callable[[dict[str, float]], float]]) -> tuple[dict[str, float], float, Any]:
    """SLSQP with finite-difference gradients, variables scaled by their starts.

    `objective(values)` and each `constraints[i](values)` (>= 0 when feasible) read a dict of the
    inputs and computed variables (declared units).
    """
    from scipy.optimize import minimize

    names = program.model.inputs
    computed = program.model.computed
    p = [inputs[v] for v in names]
    where = [names.index(v) for v, _, _ in free]
    x0 = np.array([p[i] for i in where])
    forward = program.function

    def values(z: np.ndarray) -> dict[str, float]:
        for i, zi, x in zip(where, z, x0):
            p[i] = float(zi) * float(x)
        out = dict(zip(names, p))
        out.update(zip(computed, forward(p)))
        return out

    f0 = abs(objective(values(np.ones(len(x0))))) or 1.0
    bounds = [(low / x, high / x) for (_, low, high), x in zip(free, x0)]
    cons = [{"type": "ineq", "fun": (lambda z, c=c: c(values(z)))} for c in constraints]
    result = minimize(lambda z: objective(values(z)) / f0, np.ones(len(x0)), method="SLSQP", bounds=bounds,
                      constraints=cons, options={"ftol": 1e-14, "maxiter": 200})
    solution = {v: float(zi * x) for (v, _, _), zi, x in zip(free, result.x, x0)}
    return solution, float(result.fun) * f0, result


def python_expression(registry: Any, node: Any, scale: float = 1.0) -> Callable[[dict[str, float]], float]:
    """A registry expression (base units) as a Python function of a dict of declared-unit values, / scale."""
    import math

    translator = Translator(registry, "python")
    code = compile(translator.expr(node), "<expression>", "eval")
    names = dict(translator.names)
    functions = {k: getattr(math, k) for k in ("exp", "log", "log10", "sqrt", "sin", "cos", "tan", "floor", "ceil")}

    def value(vals: dict[str, float]) -> float:
        scope = {name: vals[ident] for ident, name in names.items()}
        scope.update(functions)
        return eval(code, scope) / scale  # noqa: S307 - our own generated source

    return value


# ------------------------------------------------------------------ C


@dataclass
class CResult:
    ok: bool
    generate_s: float = 0.0
    compile_s: float = 0.0
    ns_per_call: float = float("nan")
    outputs: list[float] = field(default_factory=list)
    source_bytes: int = 0
    message: str = ""


_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "%(name)s.h"

static const casadi_real P[] = {%(p)s};
static const casadi_real X0[] = {%(x0)s};
static casadi_real OUT[%(n_out)d];

int main(int argc, char** argv) {
  long loops = argc > 1 ? atol(argv[1]) : 100000;
  casadi_int sz_arg, sz_res, sz_iw, sz_w;
  %(fn)s_work(&sz_arg, &sz_res, &sz_iw, &sz_w);
  /* calloc: outputs after the first are NULL, which the generated code skips (malloc left them dangling) */
  const casadi_real** arg = calloc(sz_arg > 2 ? sz_arg : 2, sizeof(casadi_real*));
  casadi_real** res = calloc(sz_res > 1 ? sz_res : 1, sizeof(casadi_real*));
  casadi_int* iw = malloc(sizeof(casadi_int) * (sz_iw > 0 ? sz_iw : 1));
  casadi_real* w = malloc(sizeof(casadi_real) * (sz_w > 0 ? sz_w : 1));
  arg[0] = P; arg[1] = X0; res[0] = OUT;
  int mem = %(fn)s_checkout();
  if (%(fn)s(arg, res, iw, w, mem)) { fprintf(stderr, "evaluation failed\n"); return 1; }
  struct timespec t0, t1;
  double checksum = 0.0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < loops; ++i) {
    %(fn)s(arg, res, iw, w, mem);
    checksum += OUT[%(last)d];
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  %(fn)s_release(mem);
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)loops;
  printf("ns_per_call %%.6f\n", ns);
  printf("checksum %%.17g\n", checksum);
  for (int i = 0; i < %(n_out)d; ++i) printf("x %%.17g\n", OUT[i]);
  return 0;
}
"""


def c_forward(function: Any, p: Sequence[float], x0: Sequence[float], folder: Path, loops: int,
              name: str = "fwd") -> CResult:
    """Generate C for a CasADi function (p, x0) -> x, compile with gcc -O2 with a timing driver, run it."""
    folder.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    try:
        os.chdir(folder)
        t = time.perf_counter()
        function.generate(f"{name}.c", {"with_header": True})
        generate_s = time.perf_counter() - t
    finally:
        os.chdir(here)
    n_out = function.nnz_out(0)
    (folder / f"{name}_driver.c").write_text(_DRIVER % {
        "name": name, "fn": function.name(), "n_out": max(n_out, 1), "last": max(n_out - 1, 0),
        "p": ", ".join(repr(float(v)) for v in p) or "0", "x0": ", ".join(repr(float(v)) for v in x0) or "0"})
    t = time.perf_counter()
    build = subprocess.run(["gcc", "-O2", "-o", str(folder / name), str(folder / f"{name}.c"),
                            str(folder / f"{name}_driver.c"), "-lm"], capture_output=True, text=True)
    compile_s = time.perf_counter() - t
    size = (folder / f"{name}.c").stat().st_size
    if build.returncode != 0:
        return CResult(False, generate_s, compile_s, source_bytes=size, message=build.stderr[-800:])
    ns, outputs, message = run_c(folder / name, loops)
    if message:
        return CResult(False, generate_s, compile_s, source_bytes=size, message=message)
    return CResult(True, generate_s, compile_s, ns, outputs, size)


def run_c(binary: Path, loops: int) -> tuple[float, list[float], str]:
    """Run a driver built by `c_forward` once more: (ns per call, outputs, error message or "")."""
    run = subprocess.run([str(binary), str(loops)], capture_output=True, text=True)
    if run.returncode != 0:
        return float("nan"), [], run.stderr[-800:] or f"exit status {run.returncode}"
    ns = float("nan")
    outputs = []
    for line in run.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "ns_per_call":
            ns = float(value)
        elif key == "x":
            outputs.append(float(value))
    return ns, outputs, ""
