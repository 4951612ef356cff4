"""`gpu_stack.Model`: a registry with presets and assignments, compiled once per question shape.

Load once, ask many times::

    from gpu_stack import Model
    model = Model(presets=["runs.llama3_405b_h100"])
    model.evaluate("econ.cost.per_token")                              # a float, declared unit
    model.evaluate("econ.cost.per_token", {"econ.capex.gpu_price": [2e4, 3e4, 4e4]})   # an array
    model.solve(targets={"training.wallclock": "80 day"}, free=["training.stall_fraction"])
    model.optimize(minimize="econ.cost.per_token", free={"par.dp.degree": (16, 187)})
    model.sensitivity("econ.cost.per_token")
    model.uncertainty("econ.cost.per_token", samples=10_000, seed=1)   # needs a preset with [uncertain]

Every question becomes one CasADi function per shape (which IDs are asked,
assigned, targeted and freed), compiled once and cached in memory and on
disk (`gpu_stack.solver.cache`); later calls only pass numbers. Values are
numbers or numpy arrays in each variable's declared unit (a string with a
unit, like "700 W", is converted once). A batch of N points goes through
CasADi's `map`, never a Python loop per point. Every answer is checked
inside the compiled function (residuals, min/max); a point that fails is
NaN in a batch and an error for a single evaluation. The audit resolver
(`gpu_stack.audit`) stays the independent plain-Python path that tests
compare these answers with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import casadi as ca
import numpy as np

from gpu_stack.core import Assignment, Question
from gpu_stack.errors import ProblemError
from gpu_stack.model.problems import Problem, inline_problem
from gpu_stack.model.registry import Registry, load_registry
from gpu_stack.model.scenarios import compose, parse_value
from gpu_stack.reports import SensitivityReport
from gpu_stack.solver.blocks import RESIDUAL_TOL
from gpu_stack.solver.cache import cache_for
from gpu_stack.solver.fastcall import FastCall
from gpu_stack.solver.sensitivity import sensitivity as sensitivity_report
from gpu_stack.solver.solve import Solution, forward_blocks, prepare, solve_prepared, square_or_raise

if TYPE_CHECKING:
    from gpu_stack.studies.uncertainty import UncertaintyResult

__all__ = ["Model"]

Value = float | int | str | Sequence[float] | np.ndarray
FreeSpecs = Mapping[str, tuple[Any, Any] | None] | Sequence[str]


@dataclasses.dataclass
class _Evaluator:
    """One compiled forward question, specialised to a model: the given values in, the asked outputs out.

    `function(v) -> (outputs, residual_max, bound_violation)` where `v` holds only the values a
    caller varies; the model's other assignments are constants folded into it.
    """

    function: ca.Function
    given: tuple[str, ...]
    read: frozenset[str] = frozenset()     # the given IDs the asked outputs depend on
    mapped: dict[int, FastCall] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fast = FastCall(self.function)

    def batch(self, n: int) -> FastCall:
        """The function mapped over n points (built once per n)."""
        function = self.mapped.get(n)
        if function is None:
            function = self.mapped[n] = FastCall(self.function.map(n, "serial"))
        return function


class Model:
    """A loaded registry with presets, assignments and a selection, answering compiled questions.

    Parameters
    ----------
    presets : scenario names or paths (later wins), as `--preset` takes them.
    assign : ID → value (a number in the declared unit, or a quantity string such as "700 W").
    select : group → equation ID, choosing alternatives.
    registry : a loaded `Registry`, or registry folders to load (default: the built-in registry).
    """

    def __init__(self, presets: Iterable[str] = (), assign: Mapping[str, Value] | None = None,
                 select: Mapping[str, str] | None = None,
                 registry: Registry | Iterable[str | Path] | None = None) -> None:
        self.registry = registry if isinstance(registry, Registry) else load_registry(registry)
        texts = [f"{ident}={value}" for ident, value in (assign or {}).items()]
        self.question: Question = compose(self.registry, list(presets), texts,
                                          [f"{group}={equation}" for group, equation in (select or {}).items()])
        self._problems: dict[Any, Problem] = {}
        self._evaluators: dict[Any, _Evaluator] = {}

    @classmethod
    def from_question(cls, registry: Registry, question: Question) -> "Model":
        """A model of an already composed question (the CLI composes presets, --assign and --select once)."""
        model = cls.__new__(cls)
        model.registry, model.question = registry, question
        model._problems, model._evaluators = {}, {}
        return model

    # ------------------------------------------------------------------ forward

    def evaluate(self, outputs: str | Sequence[str], values: Mapping[str, Value] | None = None
                 ) -> Any:
        """Compute outputs forward, with `values` replacing (or adding) inputs.

        Returns a float for one output ID, or a dict ID → value for a list of IDs. When any
        value is an array of N points the answers are arrays of N (a point whose solve fails
        its check is NaN); scalars and arrays broadcast together.

        Raises
        ------
        ProblemError : a missing root, a conflict, or (for a single point) a failed check.
        UnknownIdError : an ID the registry does not know.
        """
        asked = [outputs] if isinstance(outputs, str) else list(outputs)
        values = dict(values or {})
        evaluator = self._evaluator(tuple(asked), tuple(sorted(values)))
        try:  # the common case, plain numbers: one conversion for all of them
            flat = np.array([values[ident] for ident in evaluator.given], dtype=float)
        except (TypeError, ValueError):
            flat = None
        if flat is not None and flat.ndim == 1:
            columns = flat
            n = 0
        else:
            columns = [self._numbers(ident, values[ident]) for ident in evaluator.given]
            n = max((c.size for c in columns if c.ndim), default=0)
        if n == 0:
            out, residual_max, bound_violation = evaluator.fast(columns)
            if not (residual_max[0] <= RESIDUAL_TOL and bound_violation[0] <= 0.0):
                raise ProblemError(f"the forward solve of {', '.join(asked)} failed its check "
                                   f"(largest scaled residual {residual_max[0]:.3g}, bound violation "
                                   f"{bound_violation[0]:.3g})", hint="check the inputs against their min/max")
            answers: dict[str, Any] = {ident: float(out[i]) for i, ident in enumerate(asked)}
        else:
            v = np.array([np.broadcast_to(c, (n,)) for c in columns], dtype=float).reshape(len(columns), n)
            out, residual_max, bound_violation = evaluator.batch(n)(v)
            good = (residual_max <= RESIDUAL_TOL) & (bound_violation <= 0.0)
            out = out.reshape(len(asked), n, order="F")
            answers = {ident: np.where(good, out[i], np.nan) for i, ident in enumerate(asked)}
        return answers[asked[0]] if isinstance(outputs, str) else answers

    def inputs_read(self, outputs: Sequence[str], given: Sequence[str]) -> frozenset[str]:
        """Which of the `given` IDs the `outputs` depend on (the others would change nothing)."""
        return self._evaluator(tuple(outputs), tuple(sorted(given))).read

    def function(self, outputs: Sequence[str], given: Sequence[str]) -> ca.Function:
        """The compiled forward question as a CasADi function, for derivatives through the model.

        `f(v) -> (outputs, largest scaled residual, bound violation)`, `v` the `given` inputs in
        that order (declared units); the model's other assignments are folded in. A point passes
        its check when the residual is at most `RESIDUAL_TOL` and the violation is 0.
        """
        return self._evaluator(tuple(outputs), tuple(given)).function

    def _numbers(self, ident: str, value: Value) -> np.ndarray:
        if isinstance(value, str):
            return np.array(parse_value(self.registry, ident, value, origin="Model").value)
        return np.asarray(value, dtype=float)  # the ID was checked when the evaluator was built

    def _evaluator(self, asked: tuple[str, ...], given: tuple[str, ...]) -> _Evaluator:
        key = (asked, given)
        evaluator = self._evaluators.get(key)
        if evaluator is not None:
            return evaluator
        for ident in asked:
            self.registry.require_variable(ident)
        assign = dict(self.question.assign)
        for ident in given:
            if ident not in assign:
                variable = self.registry.require_variable(ident)
                nominal = variable.nominal if variable.nominal is not None else 1.0
                assign[ident] = Assignment(ident, nominal, variable.unit, str(nominal), "Model.evaluate")
        problem = Problem(name="Model.evaluate", scenarios=self.question.scenarios, assign=assign,
                          select=self.question.select, outputs=list(asked))
        prepared = prepare(self.registry, problem)
        square_or_raise(prepared)
        formulation = prepared.formulation
        compiled = forward_blocks(prepared)
        index = {v: i for i, v in enumerate(formulation.unknowns)}
        for ident in asked:
            if ident not in index:
                raise ProblemError(f"'{ident}' is assigned, not computed: nothing to evaluate",
                                   hint="ask for a variable the assignments determine")
        sym = ca.SX if compiled.symbolic == "SX" else ca.MX
        varied = sym.sym("v", len(given))
        slots = {ident: k for k, ident in enumerate(given)}
        parts = [varied[slots[ident]] if ident in slots else value
                 for ident, value in zip(formulation.params, formulation.param_values())]
        p = ca.vertcat(*parts) if parts else sym(0, 1)
        x0 = ca.DM([formulation.start[v] for v in formulation.unknowns])
        x, residual_max, bound_violation = compiled.function(p, x0)
        asked_rows = ca.vertcat(*[x[index[ident]] for ident in asked])
        # calling an SX function on SX symbols inlines it: the model's constants fold in
        function = ca.Function("evaluate", [varied], [asked_rows, residual_max, bound_violation])
        evaluator = self._evaluators[key] = _Evaluator(function, given, frozenset(slots) & set(formulation.params))
        return evaluator

    # ------------------------------------------------------------------ solve and optimize

    def solve(self, targets: Mapping[str, Value], free: FreeSpecs, *, outputs: Sequence[str] = (),
              constraints: Sequence[str] = ()) -> Solution:
        """Hold `targets` (ID → value) by moving `free` inputs (IDs, or ID → (min, max)); an inverse query."""
        return self._answer(targets=targets, free=free, outputs=outputs, constraints=constraints)

    def optimize(self, *, minimize: str | None = None, maximize: str | None = None, free: FreeSpecs,
                 constraints: Sequence[str] = (), targets: Mapping[str, Value] | None = None,
                 outputs: Sequence[str] = ()) -> Solution:
        """Minimize or maximize an expression over the `free` inputs, under the registry's constraints
        in the cone and `constraints` (expressions such as "econ.job.dc_power <= 20 [MW]")."""
        if (minimize is None) == (maximize is None):
            raise ProblemError("give minimize= or maximize=, one of them")
        return self._answer(targets=targets or {}, free=free, outputs=outputs, constraints=constraints,
                            minimize=minimize, maximize=maximize)

    def _answer(self, *, targets: Mapping[str, Value], free: FreeSpecs, outputs: Sequence[str],
                constraints: Sequence[str], minimize: str | None = None, maximize: str | None = None) -> Solution:
        specs = {ident: None for ident in free} if not isinstance(free, Mapping) else dict(free)
        numbers = {ident: value for ident, value in targets.items() if isinstance(value, (int, float))}
        shape = (tuple(targets), tuple(sorted((k, repr(v)) for k, v in specs.items())), tuple(outputs),
                 tuple(constraints), minimize, maximize,
                 tuple(sorted((k, repr(v)) for k, v in targets.items() if k not in numbers)))
        problem = self._problems.get(shape)
        if problem is None:
            free_texts = [ident if spec is None else f"{ident}={_bound(spec[0])}:{_bound(spec[1])}"
                          for ident, spec in specs.items()]
            problem = inline_problem(self.registry, self.question.scenarios, (), self.question.select,
                                     [f"{ident}={value}" for ident, value in targets.items()], free_texts,
                                     minimize, maximize, list(constraints))
            problem.name = "Model"
            problem.assign = dict(self.question.assign)
            problem.outputs = list(outputs)
            self._problems[shape] = problem
        elif numbers:
            problem = dataclasses.replace(problem, targets={**problem.targets, **numbers})
        return solve_prepared(prepare(self.registry, problem))

    # ------------------------------------------------------------------ studies

    def sweep(self, vary: Mapping[str, Any], outputs: str | Sequence[str] = (), *, lhs: int | None = None,
              seed: int | None = None, problem: str | Path | None = None, targets: Mapping[str, Value] | None = None,
              free: FreeSpecs = (), minimize: str | None = None, maximize: str | None = None,
              constraints: Sequence[str] = ()) -> Any:
        """The question at many points, as a pandas DataFrame (one row per point, a `status` column).

        `vary` maps an ID to a `--vary` spec ("20000:40000:5", "0.3:0.5:5:log", "1,2,4", a range
        "20 kUSD:40 kUSD" with `lhs=N`) or to a sequence of values (declared unit). Without a
        problem, `outputs` are evaluated forward in one batch call; with `problem` (a problem file)
        or `targets`/`free`/`minimize`/`maximize`, that problem is re-solved at every point,
        warm-started, and the free variables, objective and `outputs` are reported. Units are in
        `frame.attrs["units"]`.

        Examples
        --------
        >>> model = Model(presets=["runs.llama3_405b_h100"])                      # doctest: +SKIP
        >>> model.sweep({"econ.capex.gpu_price": "20000:40000:5"}, "econ.cost.per_token")  # doctest: +SKIP
        """
        from gpu_stack.studies.sweep import design_points, parse_axis, sweep_forward, sweep_problem, to_frame
        texts = [f"{ident}={spec}" if isinstance(spec, str) else f"{ident}={','.join(repr(float(v)) for v in spec)}"
                 for ident, spec in vary.items()]
        points = design_points([parse_axis(self.registry, text) for text in texts], lhs, seed)
        asked = [outputs] if isinstance(outputs, str) else list(outputs)
        design = "lhs" if lhs is not None else "grid"
        if problem is None and not (targets or free or minimize or maximize or constraints):
            return to_frame(sweep_forward(self, points, asked, design=design, seed=seed))
        from gpu_stack.model.problems import load_problem
        base = load_problem(self.registry, problem) if problem is not None else None
        specs = {ident: None for ident in free} if not isinstance(free, Mapping) else dict(free)
        posed = inline_problem(self.registry, self.question.scenarios, (), self.question.select,
                               [f"{ident}={value}" for ident, value in (targets or {}).items()],
                               [ident if spec is None else f"{ident}={_bound(spec[0])}:{_bound(spec[1])}"
                                for ident, spec in specs.items()], minimize, maximize, list(constraints), base=base)
        posed.assign = {**posed.assign, **self.question.assign}
        return to_frame(sweep_problem(self.registry, posed, points, asked, design=design, seed=seed))

    # ------------------------------------------------------------------ derivatives

    def sensitivity(self, target: str) -> SensitivityReport:
        """d ln(target) / d ln(input) for every assigned input in the target's cone (exact, AD)."""
        return sensitivity_report(self.registry, target, self.question)

    def uncertainty(self, targets: str | Sequence[str], *, samples: int = 10_000, seed: int = 0,
                    method: str = "mc", dask: str | None = None, jit: bool = False) -> "UncertaintyResult":
        """Propagate the presets' [uncertain] inputs to `targets`: percentiles, Sobol indices, elasticities.

        `method` is mc, lhs or sobol; `dask` None (this process), "local" or a scheduler address; `jit`
        runs the batch as gcc-compiled C in this process (`gpu_stack.studies.batch.native`). The
        result's `to_frame()` is a pandas DataFrame of the samples, `summary()` one of the statistics;
        see `gpu_stack.studies.uncertainty`.
        """
        from gpu_stack.studies.batch import runner
        from gpu_stack.studies.uncertainty import uncertainty
        with runner(dask, jit=jit) as run:
            return uncertainty(self, [targets] if isinstance(targets, str) else list(targets), samples=samples,
                               seed=seed, method=method, run=run)

    @property
    def compiled_functions(self) -> int:
        """How many compiled functions this model's registry holds in memory (for inspection)."""
        return len(cache_for(self.registry).memory)


def _bound(value: Any) -> str:
    return "" if value is None else str(value)
