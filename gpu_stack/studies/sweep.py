"""Sweeps: a question answered at many points of its inputs.

An axis is read from `ID=START:STOP:N[:log]` (N points, evenly spaced or
log-spaced), `ID=V1,V2,…` (these values) or, for a Latin hypercube,
`ID=START:STOP[:log]` (a range). Values are numbers in the variable's
declared unit or quantities (`'20 kUSD'`), checked against its min/max like
an assignment. Several axes make a grid (every combination, the last axis
varying fastest) or, with `lhs=N`, N points of a Latin hypercube over their
ranges (one point in each of N equal slices of every range, reproducible
with a seed).

* Forward (`sweep_forward`): every point in one call of the compiled model's
  batch evaluation (`Model.evaluate` with arrays: CasADi `map`, no Python
  loop per point); a point whose solve breaks a residual check or a min/max
  is `failed`.
* Solve (`sweep_problem`): an inverse or optimization problem re-solved at
  every point. The problem's shape does not change along the sweep, so its
  formulation and compiled functions are reused, and each solve starts from
  the previous answer. A varied ID the problem targets moves the target; one
  it frees is refused (the solver moves it).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpu_stack.core import Assignment
from gpu_stack.errors import InputError, ProblemError
from gpu_stack.model.limits import read_number
from gpu_stack.model.problems import Problem
from gpu_stack.model.registry import Registry
from gpu_stack.model.scenarios import parse_value
from gpu_stack.reports import SweepColumn, SweepPoint, SweepReport

if TYPE_CHECKING:  # the compiled model imports this module for Model.sweep
    import pandas

    from gpu_stack.solver.compiled import Model

__all__ = ["Axis", "MAX_POINTS", "parse_axis", "design_points", "sweep_forward", "sweep_problem", "to_frame",
           "write_table", "check_table_path", "grid_shape"]

MAX_POINTS = 1_000_000   # points in one sweep: a grid's product, or --lhs N
Progress = Callable[[int, int], None]   # (points done, points in all)


@dataclasses.dataclass(frozen=True)
class Axis:
    """One varied input: grid values, or a range for a Latin hypercube (declared unit)."""

    id: str
    unit: str
    values: tuple[float, ...] | None = None     # the grid values (None: a range without a count)
    low: float | None = None                    # the range (START:STOP forms)
    high: float | None = None
    log: bool = False                           # log-spaced, or sampled uniformly in log

    @property
    def is_range(self) -> bool:
        """Whether the axis was written START:STOP (with or without a count)."""
        return self.low is not None


def _syntax(text: str, problem: str) -> InputError:
    return InputError(f"--vary {text!r}: {problem}",
                      hint="write ID=START:STOP:N[:log] (N points), ID=V1,V2,… (these values), "
                      "or ID=START:STOP[:log] with --lhs N")


def _value(registry: Registry, ident: str, text: str, whole: str) -> float:
    """One number of an axis, in the declared unit: a bare number or a quantity, checked like an assignment."""
    text = text.strip()
    if not text:
        raise _syntax(whole, "an empty value")
    number = read_number(text, f"--vary {whole}")
    return parse_value(registry, ident, number if number is not None else text, origin="--vary").value


def parse_axis(registry: Registry, text: str) -> Axis:
    """Read one `--vary` text into an axis (values in the variable's declared unit).

    Raises
    ------
    InputError : bad syntax, N < 1, a log range that is not positive, too many points.
    UnknownIdError, UnitError : an unknown variable, a quantity whose unit does not convert.
    """
    ident, sep, spec = text.partition("=")
    ident = ident.strip()
    if not sep or not ident or not spec.strip():
        raise _syntax(text, "no '=' between the ID and its values" if not sep else "missing ID or values")
    variable = registry.require_variable(ident)
    if "," in spec:
        values = [_value(registry, ident, part, text) for part in spec.split(",")]
        return Axis(ident, variable.unit, _whole(variable.integer, values))
    parts = [part.strip() for part in spec.split(":")]
    log = parts[-1].lower() == "log"
    if log:
        parts = parts[:-1]
    if len(parts) == 1 and not log:
        return Axis(ident, variable.unit, (_value(registry, ident, parts[0], text),))
    if len(parts) not in (2, 3):
        raise _syntax(text, f"{len(parts)} fields between ':' (START:STOP or START:STOP:N, then ':log')")
    low, high = (_value(registry, ident, part, text) for part in parts[:2])
    if log and (low <= 0 or high <= 0):
        raise _syntax(text, f"a log range needs START and STOP above 0 (got {low:g} and {high:g} {variable.unit})")
    if len(parts) == 2:
        return Axis(ident, variable.unit, None, low, high, log)
    count = parts[2]
    if not count.isdigit() or int(count) < 1:
        raise _syntax(text, f"N must be a whole number ≥ 1, not {count!r}")
    n = int(count)
    if n > MAX_POINTS:
        raise _syntax(text, f"{n:,} points; the limit is {MAX_POINTS:,}")
    values = np.geomspace(low, high, n) if log else np.linspace(low, high, n)
    return Axis(ident, variable.unit, _whole(variable.integer, values.tolist()), low, high, log)


def _whole(integer: bool, values: Sequence[float]) -> tuple[float, ...]:
    """An integer variable's values rounded to whole numbers, each once (in order); others as given."""
    if not integer:
        return tuple(float(v) for v in values)
    return tuple(dict.fromkeys(float(round(v)) for v in values))


def design_points(axes: Sequence[Axis], lhs: int | None = None, seed: int | None = None) -> dict[str, np.ndarray]:
    """The points of a sweep: ID → array of values, one entry per point.

    Without `lhs`, every combination of the axes' values (a grid, the last axis fastest);
    with `lhs=N`, N points of a Latin hypercube over the axes' ranges, drawn with `seed`.
    """
    if not axes:
        raise InputError("nothing to vary", hint="give --vary ID=START:STOP:N (repeatable)")
    seen = Counter(axis.id for axis in axes)
    repeated = [ident for ident, count in seen.items() if count > 1]
    if repeated:
        raise InputError(f"--vary names {', '.join(repeated)} more than once", hint="give each input one --vary")
    if lhs is None:
        if seed is not None:
            raise InputError("--seed applies to --lhs only", hint="drop --seed, or add --lhs N")
        ranges = [axis.id for axis in axes if axis.values is None]
        if ranges:
            raise InputError(f"--vary {ranges[0]}=START:STOP gives no count",
                             hint="add one (START:STOP:N) for a grid, or sample the ranges with --lhs N")
        total = math.prod(len(axis.values or ()) for axis in axes)
        if total > MAX_POINTS:
            raise InputError(f"the grid has {total:,} points; the limit is {MAX_POINTS:,}",
                             hint="use fewer values per input, or --lhs N")
        grid = np.meshgrid(*[np.array(axis.values) for axis in axes], indexing="ij")
        return {axis.id: g.ravel() for axis, g in zip(axes, grid)}
    if not 1 <= lhs <= MAX_POINTS:
        raise InputError(f"--lhs {lhs}: give a number of points from 1 to {MAX_POINTS:,}")
    listed = [axis.id for axis in axes if not axis.is_range or axis.values is not None]
    if listed:
        raise InputError(f"--vary {listed[0]}: with --lhs give a range without a count, ID=START:STOP[:log]",
                         hint="the Latin hypercube chooses the points")
    rng = np.random.default_rng(seed)
    points = {}
    for axis in axes:
        # one point in each of lhs equal slices, the slices shuffled independently per input
        u = (rng.permutation(lhs) + rng.random(lhs)) / lhs
        low, high = (math.log(axis.low), math.log(axis.high)) if axis.log else (axis.low, axis.high)  # type: ignore[arg-type]
        values = low + u * (high - low)
        points[axis.id] = np.exp(values) if axis.log else values
    return points


def _columns(registry: Registry, points: Mapping[str, np.ndarray], role: str, idents: Sequence[str]
             ) -> list[SweepColumn]:
    return [SweepColumn(id=ident, unit=registry.variables[ident].unit, role=role) for ident in idents]  # type: ignore[arg-type]


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def sweep_forward(model: Model, points: Mapping[str, np.ndarray], outputs: Sequence[str], *,
                  design: str = "grid", seed: int | None = None) -> SweepReport:
    """Evaluate `outputs` at every point in one batch call of the compiled model.

    Raises
    ------
    ProblemError : the model does not determine an output (a missing root, a conflict), or an output is varied.
    """
    registry = model.registry
    outputs = list(dict.fromkeys(outputs))
    if not outputs:
        raise InputError("nothing to report", hint="give one or more TARGET IDs")
    for ident in outputs:
        registry.require_variable(ident)
        if ident in points:
            raise InputError(f"'{ident}' is both varied and asked for",
                             hint="a varied input is a column of the sweep already; ask for what it changes")
    answers = model.evaluate(outputs, dict(points))
    n = len(next(iter(points.values())))
    report_points = []
    for i in range(n):
        values = {ident: float(column[i]) for ident, column in points.items()}
        results = {ident: _number(answers[ident][i]) for ident in outputs}
        ok = all(v is not None for v in results.values())
        report_points.append(SweepPoint(
            status="ok" if ok else "failed", values={**values, **results},
            message="" if ok else "the forward solve breaks an equation's residual check or a variable's min/max"))
    read = model.inputs_read(outputs, list(points))
    unused = [ident for ident in points if ident not in read]
    warnings = list(model.question.warnings)
    warnings += _unused_warnings(unused)
    return SweepReport(mode="forward", design=design, seed=seed,  # type: ignore[arg-type]
                       presets=model.question.preset_names,
                       columns=_columns(registry, points, "input", list(points)) +
                       _columns(registry, points, "output", outputs),
                       points=report_points, counts=dict(Counter(p.status for p in report_points)), warnings=warnings)


def sweep_problem(registry: Registry, problem: Problem, points: Mapping[str, np.ndarray], outputs: Sequence[str] = (),
                  *, design: str = "grid", seed: int | None = None, progress: Progress | None = None) -> SweepReport:
    """Re-solve `problem` at every point, warm-started from the previous answer.

    Each varied ID replaces the problem's assignment of it (or its target value, when the
    problem targets it). Reported at each point: the free variables, the objective (when there
    is one) and `outputs`.

    Raises
    ------
    InputError : a varied ID the problem frees.
    ProblemError : a question the structure refuses (under- or over-determined): the same at every point.
    """
    from gpu_stack.solver.solve import prepare, solve_prepared

    for ident in points:
        if ident in problem.free:
            raise InputError(f"'{ident}' is free in {problem.name}: the solver moves it, so it cannot be swept",
                             hint="sweep another input, or drop it from the free variables")
    outputs = list(dict.fromkeys(outputs))
    for ident in outputs:
        registry.require_variable(ident)
        if ident in points:
            raise InputError(f"'{ident}' is both varied and asked for",
                             hint="a varied input is a column of the sweep already; ask for what it changes")
    free = [ident for ident in problem.free if ident not in outputs]
    base = dataclasses.replace(problem, outputs=list(dict.fromkeys([*outputs, *problem.outputs])))
    n = len(next(iter(points.values())))
    report_points = []
    unused: list[str] = []
    objective_unit = None
    for i in range(n):
        assign, targets = dict(base.assign), dict(base.targets)
        for ident, column in points.items():
            value = float(column[i])
            if ident in targets:
                targets[ident] = value
            else:
                assign[ident] = Assignment(ident, value, registry.variables[ident].unit, f"{value:g}", "--vary")
        prepared = prepare(registry, dataclasses.replace(base, assign=assign, targets=targets))
        refused = prepared.refusal()
        if refused is not None:   # the shape is the same at every point: so is the refusal
            raise ProblemError(f"{problem.name} is {refused[0]}: {refused[1]}")
        if i == 0:
            read = set(prepared.formulation.params)
            unused = [ident for ident in points if ident not in read and ident not in targets]
        solution = solve_prepared(prepared)
        values: dict[str, float | None] = {ident: float(column[i]) for ident, column in points.items()}
        answered = solution.status == "ok"
        for ident in (*free, *outputs):
            values[ident] = _value_of(solution, ident) if answered else None
        if problem.objective is not None:
            values["objective"] = solution.objective if answered else None
            objective_unit = objective_unit or solution.objective_unit
        report_points.append(SweepPoint(status=solution.status, values=values,  # type: ignore[arg-type]
                                        message="" if answered else solution.message,
                                        active_constraints=solution.active_constraints))
        if progress is not None:
            progress(i + 1, n)
    columns = _columns(registry, points, "input", list(points)) + _columns(registry, points, "free", free) + \
        _columns(registry, points, "output", outputs)
    if problem.objective is not None:
        columns.append(SweepColumn(id="objective", unit=objective_unit or _objective_unit(registry, problem),
                                   role="objective"))
    return SweepReport(mode="solve", design=design, seed=seed, problem=problem.name,  # type: ignore[arg-type]
                       presets=[s.name for s in problem.scenarios], columns=columns, points=report_points,
                       counts=dict(Counter(p.status for p in report_points)),
                       warnings=[*problem.warnings, *_unused_warnings(unused)])


def _unused_warnings(unused: Sequence[str]) -> list[str]:
    return [f"nothing reported depends on the varied input {ident}: its column changes nothing" for ident in unused]


def _value_of(solution: Any, ident: str) -> float | None:
    """A solution's value of a variable, None when the solve does not reach it."""
    try:
        return _number(solution.value(ident))
    except ValueError:   # neither an unknown nor an output the solution could evaluate
        return None


def _objective_unit(registry: Registry, problem: Problem) -> str:
    from gpu_stack.model.expressions import Var
    node = problem.objective.node if problem.objective else None
    return registry.variables[node.id].unit if isinstance(node, Var) and node.id in registry.variables \
        else "SI base units"


# ------------------------------------------------------------------ tables


def to_frame(report: SweepReport) -> pandas.DataFrame:
    """One row per point: a column per input and reported value (declared units), then `status`.

    The units are in `frame.attrs["units"]` (column → unit).
    """
    pandas = _pandas()
    ids = [column.id for column in report.columns]
    data: dict[str, Any] = {ident: [point.values.get(ident) for point in report.points] for ident in ids}
    data["status"] = [point.status for point in report.points]
    frame = pandas.DataFrame(data)
    frame[ids] = frame[ids].astype(float)
    frame.attrs["units"] = {column.id: column.unit for column in report.columns}
    return frame


_TABLE_SUFFIXES = (".csv", ".parquet")


def check_table_path(path: str | Path) -> Path:
    """The --out path, refused before any work when its kind is unknown or its writer is missing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise InputError(f"--out {path}: write a .csv or .parquet file", hint="name the file out.csv or out.parquet")
    _pandas()
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401   (pandas writes Parquet through pyarrow)
        except ImportError:
            raise InputError(f"--out {path}: writing Parquet needs pyarrow, which is not installed",
                             hint="pip install pyarrow, or write a .csv file") from None
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: the folder {path.parent} does not exist")
    return path


def write_table(report: SweepReport, path: str | Path) -> None:
    """Write the sweep as CSV or Parquet (one row per point, declared units, a `status` column)."""
    path = check_table_path(path)
    frame = to_frame(report)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise InputError("tables of points need pandas, which is not installed",
                         hint="pip install 'gpu-stack[studies]'") from None
    return pandas


def grid_shape(report: SweepReport) -> tuple[int, ...] | None:
    """The sizes of a grid's axes (distinct values per input, in order), None for a Latin hypercube."""
    if report.design != "grid":
        return None
    inputs = [column.id for column in report.columns if column.role == "input"]
    return tuple(len(dict.fromkeys(point.values[ident] for point in report.points)) for ident in inputs)

