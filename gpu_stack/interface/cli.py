"""The command line: a thin typer layer over the library (docs/cli.md).

Exit codes: 0 answered; 1 answered "no" (verify found problems, a status
other than ok, nothing matched); 2 bad input or usage; 3 an internal error
(a bug). A reader that closes the pipe early (`| head`) ends the program
quietly with 0.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fnmatch
import functools
import io
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TextIO

import typer
from rich.console import Console
from typer.core import TyperCommand

from gpu_stack import __version__
from gpu_stack.errors import InputError
from gpu_stack.interface import render
from gpu_stack.interface.display import Display, UnitsMode

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=True, no_args_is_help=True, rich_markup_mode=None,
    help="gpu-stack: an open, unit-checked equation model of AI training infrastructure.",
)

_PIPED_WIDTH = 200   # piped output wraps only very long lines (COLUMNS overrides)
# spaces (and the colour codes among them) at the end of a line: rich pads table cells to the column width
_LINE_END = re.compile(r"(?:[ ]|\x1b\[[0-9;]*m)+$", re.M)
_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


class _TrimmedLines(io.TextIOBase):
    """A text stream that drops trailing spaces from every line it passes on (keeping colour codes)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        lines, newline, self._partial = (self._partial + text).rpartition("\n")
        if newline:
            self._stream.write(_LINE_END.sub(lambda m: "".join(_COLOUR_CODE.findall(m.group())), lines) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()


class _Console(Console):
    """rich's Console, leaving a closed pipe to the CLI (quiet exit 0) rather than exiting with 1 itself."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _stdout() -> Console:
    """The console for answers: terminal width on a terminal; when piped, COLUMNS or a wide default."""
    stream = _TrimmedLines(sys.stdout)
    if stream.isatty():
        return _Console(file=stream, highlight=False, markup=False, soft_wrap=False)
    columns = os.environ.get("COLUMNS", "")
    return _Console(file=stream, highlight=False, markup=False, soft_wrap=False,
                   width=int(columns) if columns.isdigit() else _PIPED_WIDTH)


def _stderr() -> Console:
    """The console for errors, warnings and progress; lines are not broken when it is not a terminal."""
    return Console(stderr=True, highlight=False, markup=False, soft_wrap=not sys.stderr.isatty())


class _Command(TyperCommand):
    """typer's command, naming each argument by its metavar in help (typer adds its Python type: '<list[str]>')."""

    def _arguments(self, ctx: Any) -> list[Any]:
        return [p for p in self.get_params(ctx) if p.param_type_name == "argument" and not p.hidden]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [self.options_metavar or "", *(p.metavar or p.name.upper() for p in self._arguments(ctx))]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = [(p.metavar or p.name.upper(), (p.help or "") + ("  [required]" if p.required else ""))
                     for p in self._arguments(ctx)]
        options = [record for p in self.get_params(ctx) if p.param_type_name == "option"
                   for record in [p.get_help_record(ctx)] if record is not None]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Direction(str, enum.Enum):
    """Which way a cone goes."""

    up = "up"
    down = "down"


class Profile(str, enum.Enum):
    """How much `verify` checks."""

    fast = "fast"
    full = "full"


class Listing(str, enum.Enum):
    """What `list` lists."""

    scenarios = "scenarios"
    problems = "problems"
    variables = "variables"
    equations = "equations"


def _complete_scenarios(incomplete: str) -> list[str]:
    """Shell completion of --preset: the shipped scenario names."""
    from gpu_stack.model.scenarios import list_scenarios
    return [name for name in list_scenarios() if name.startswith(incomplete)]


def _complete_variables(incomplete: str) -> list[str]:
    """Shell completion of a variable ID (loads the built-in registry, about a second)."""
    try:
        return [ident for ident in _registry(None).variables if ident.startswith(incomplete)]
    except InputError:   # a broken registry completes nothing; the command itself will say why
        return []


RegistryOption = Annotated[Optional[list[str]], typer.Option(
    "--registry", metavar="DIR", help="Registry folder to load instead of the built-in one; repeat to layer "
    "('--registry builtin --registry ./mine').")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the documented JSON shape (declared units).")]
PresetOption = Annotated[Optional[list[str]], typer.Option(
    "--preset", metavar="NAME", autocompletion=_complete_scenarios,
    help="Scenario: NAME (see 'gpu-stack list scenarios'), scenarios.NAME or a path; repeatable, later wins.")]
AssignOption = Annotated[Optional[list[str]], typer.Option(
    "--assign", metavar="ID=VALUE", help="VALUE a bare number (declared unit) or a quantity like '700 W'; "
    "repeatable.")]
SelectOption = Annotated[Optional[list[str]], typer.Option(
    "--select", metavar="GROUP=EQUATION", help="Pick an alternative; repeatable.")]
UnitsOption = Annotated[UnitsMode, typer.Option(
    "--units", case_sensitive=False, help="human: durations in s…day, power in W…GW, energy in kWh…GWh, money in "
    "USD…BUSD, fractions in %; declared: each variable's own unit (as --json).")]
VariableArgument = Annotated[str, typer.Argument(metavar="ID", autocompletion=_complete_variables,
                                                 help="Variable ID (see 'gpu-stack list variables').")]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at devnull so the final flush cannot fail again (Python docs, 'SIGPIPE')."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout without a file descriptor (a test runner)
        pass
    finally:
        os.close(devnull)


def _warn(warnings: list[str]) -> None:
    render.render_warnings(_stderr(), warnings)


def guarded(function: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command; turn bad input into one message + exit 2, bugs into exit 3, a closed pipe into exit 0."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        err = _stderr()
        try:
            code = function(*args, **kwargs) or 0
            sys.stdout.flush()
        except typer.Exit:
            raise
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except InputError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so, and where
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "gpu_stack" in f.filename]
            where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
            err.print(f"internal error (a bug in gpu-stack{where}): {type(exc).__name__}: {exc}")
            err.print("please report it with the command that triggered it")
            raise typer.Exit(3) from None
        raise typer.Exit(code)

    return wrapper


def _registry(paths: list[str] | None):
    from gpu_stack.model.registry import load_registry
    return load_registry(paths or None)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gpu-stack {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = None) -> None:
    """gpu-stack: an open, unit-checked equation model of AI training infrastructure."""


@app.command("list", cls=_Command)
@guarded
def list_command(
    what: Annotated[Listing, typer.Argument(case_sensitive=False, metavar="WHAT",
                                            help="scenarios, problems, variables or equations.")],
    pattern: Annotated[Optional[str], typer.Argument(
        metavar="[PATTERN]", help="Keep IDs containing PATTERN, or matching it as a glob ('arch.*').")] = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Scenarios, problems, variables or equations, one per line with what it is."""
    from gpu_stack.model.problems import describe_problems
    from gpu_stack.model.scenarios import describe_scenarios
    reg = _registry(registry)
    if what is Listing.scenarios:
        items = describe_scenarios(reg)
    elif what is Listing.problems:
        items = describe_problems()
    elif what is Listing.variables:
        items = [{"id": v.id, "unit": v.unit, "description": v.description} for v in reg.variables.values()]
    else:
        items = [{"id": e.id, "description": e.model.eq} for e in reg.equations.values()]
    if pattern:
        glob = any(c in pattern for c in "*?[")
        items = [item for item in items if (fnmatch.fnmatchcase(item["id"], pattern) if glob
                                            else pattern.lower() in item["id"].lower())]
    items.sort(key=lambda item: item["id"])
    if as_json:
        _emit_json(items)
    elif items:
        render.render_listing(_stdout(), items)
    else:
        _stderr().print(f"no {what.value} match {pattern!r}")
    return 0 if items else 1


@app.command(cls=_Command)
@guarded
def stats(registry: RegistryOption = None, as_json: JsonOption = False) -> int:
    """Counts: variables, equations, roots, leaves, families, unit checks, references, headline reach."""
    from gpu_stack.audit.stats import registry_stats
    report = registry_stats(_registry(registry))
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_stats(_stdout(), report)
    return 0


@app.command(cls=_Command)
@guarded
def verify(
    registry: RegistryOption = None,
    profile: Annotated[Profile, typer.Option("--profile", case_sensitive=False, help="fast: registry checks; "
                                             "full: also every scenario and problem file.")] = Profile.fast,
    as_json: JsonOption = False,
) -> int:
    """Registry checks (parse, IDs, units, references, loops, dead ends); exit 1 when problems are found."""
    from gpu_stack.audit.verify import verify as run_verify
    err = _stderr()
    show = (lambda text: err.print(f"checking {text}…", style="dim")) if (not as_json and err.is_terminal) else None
    report = run_verify(registry or None, profile.value, progress=show)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_verify(_stdout(), report)
    return 0 if report.status == "ok" else 1


@app.command(cls=_Command)
@guarded
def explain(ident: Annotated[str, typer.Argument(metavar="ID", help="A variable, equation, constraint, constant "
                                                 "or reference key.")],
            registry: RegistryOption = None, as_json: JsonOption = False) -> int:
    """A variable or equation: definition, unit, references, unit check, where used."""
    from gpu_stack.audit.explain import explain as describe
    reg = _registry(registry)
    info = describe(reg, ident)
    if as_json:
        _emit_json(info)
    else:
        render.render_explain(_stdout(), info, reg.references)
    return 0


@app.command(cls=_Command)
@guarded
def cone(
    target: VariableArgument,
    direction: Annotated[Direction, typer.Option("--direction", case_sensitive=False, help="up: what it depends "
                                                 "on; down: what depends on it.")] = Direction.up,
    preset: PresetOption = None, select: SelectOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
    dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
) -> int:
    """The dependency cone of a variable (assigned variables of presets cut the cone)."""
    from gpu_stack.audit.graph import downstream, upstream, variable_graph
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    reg.require_variable(target)
    question = compose(reg, preset or [], [], select or [])
    _warn(question.warnings)
    graph = variable_graph(reg, question.select)
    if direction is Direction.up:
        members = upstream(reg, [target], question.select, cut=question.assign)
    else:
        members = downstream(reg, [target], question.select)
    edges = sorted((u, v, d["equation"]) for u, v, d in graph.edges(data=True) if u in members and v in members
                   and not (direction is Direction.up and v in question.assign))
    ordered = sorted(members)
    if as_json:
        _emit_json({"target": target, "direction": direction.value, "count": len(ordered), "variables": ordered,
                    "equations": sorted({e for _, _, e in edges}),
                    "edges": [{"from": u, "to": v, "equation": e} for u, v, e in edges],
                    "warnings": question.warnings})
    elif dot:
        lines = [f'digraph "{target}" {{', "  rankdir=LR;"]
        for v in ordered:
            shape = "doubleoctagon" if v == target else "box"
            lines.append(f'  "{v}" [shape={shape}];')
        lines += [f'  "{u}" -> "{v}" [label="{e}"];' for u, v, e in edges]
        lines.append("}")
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        render.render_cone(_stdout(), f"{'upstream' if direction is Direction.up else 'downstream'} cone of "
                           f"{target}: {len(ordered)} variables, {len({e for _, _, e in edges})} equations",
                           [(v, reg.variables[v].unit) for v in ordered])
    return 0


@app.command(cls=_Command)
@guarded
def resolve(
    target: Annotated[str, typer.Argument(metavar="ID", autocompletion=_complete_variables, help="Variable ID (see "
                                          "'gpu-stack list variables'), or a constraint ID to check, e.g. "
                                          "mem.ineq.fits_in_hbm.")],
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every hop.")] = False,
    missing: Annotated[bool, typer.Option("--missing", help="List missing roots.")] = False,
    constraints: Annotated[bool, typer.Option("--constraints", help="Check constraints and validity ranges.")] = False,
    fail_on_violation: Annotated[bool, typer.Option("--fail-on-violation", help="Exit 1 when a constraint "
                                                    "or validity range is violated.")] = False,
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """The audit resolver: compute a target forward, with its trace and missing roots."""
    from gpu_stack.audit.report import resolve_report
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    if target not in reg.constraints:
        reg.require_variable(target)
    question = compose(reg, preset or [], assign or [], select or [])
    _warn(question.warnings)
    report = resolve_report(reg, target, question, constraints=constraints)
    report.warnings = question.warnings
    if as_json:
        data = report.model_dump()
        if not trace:
            data["trace"] = []
        _emit_json(data)
    else:
        render.render_resolve(_stdout(), report, Display(reg, units), trace=trace, missing=missing)
    violated = any(c.status == "violated" for c in report.constraints)
    target_violated = report.kind == "constraint" and report.constraints[0].status != "ok"
    return 0 if report.status == "ok" and not (fail_on_violation and violated) and not target_violated else 1


@app.command("root-debt", cls=_Command)
@guarded
def root_debt_command(
    families: Annotated[bool, typer.Option("--families", help="Group roots by family.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, metavar="N", help="Show at most N rows.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also scenario and primitive roots.")] = False,
    preset: PresetOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Unresolved inputs ranked by blast radius (variables downstream)."""
    from gpu_stack.audit.root_debt import root_debt
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    question = compose(reg, preset or []) if preset else None
    if question is not None:
        _warn(question.warnings)
    report = root_debt(reg, question, include_all=show_all, limit=limit)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_root_debt(_stdout(), report, by_family=families)
    return 0


@app.command("scenario-report", cls=_Command)
@guarded
def scenario_report_command(
    scenarios: Annotated[list[str], typer.Argument(metavar="SCENARIO...", help="Scenario names (see 'gpu-stack "
                                                   "list scenarios') or paths.")],
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Resolve each scenario's outputs."""
    from gpu_stack.audit.report import scenario_report
    from gpu_stack.model.scenarios import load_scenario
    reg = _registry(registry)
    reports = []
    for name in scenarios:
        scenario = load_scenario(reg, name)
        _warn(scenario.warnings)
        report = scenario_report(reg, scenario)
        report.warnings = scenario.warnings
        reports.append(report)
    if as_json:
        data = [r.model_dump() for r in reports]
        _emit_json(data[0] if len(data) == 1 else data)
    else:
        out = _stdout()
        for index, report in enumerate(reports):
            if index:
                out.print()
            render.render_scenario(out, report, Display(reg, units))
    return 0 if all(r.status == "ok" for r in reports) else 1


def _pose(reg: Any, problem_file: str | None, preset: list[str] | None, assign: list[str] | None,
          select: list[str] | None, target: list[str] | None, free: list[str] | None, minimize: str | None,
          maximize: str | None, constraint: list[str] | None) -> Any:
    """A problem from a file, from flags, or from flags on top of a file (flags win), as `solve` poses it."""
    from gpu_stack.model.problems import inline_problem, load_problem
    from gpu_stack.model.scenarios import compose
    problem = load_problem(reg, problem_file) if problem_file is not None else None
    if problem is None or any([preset, assign, select, target, free, minimize, maximize, constraint]):
        question = compose(reg, preset or [], [], select or [])
        problem = inline_problem(reg, question.scenarios, assign or [], question.select, target or [], free or [],
                                 minimize, maximize, constraint or [], base=problem)
    return problem


class _Progress:
    """A rich progress bar on stderr (a terminal only) that appears once the work has taken a second.

    Call it with (done, total) for one bar named `label`; `phase(name)` gives the callback of a bar
    of its own, for work in several phases.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, done: int, total: int) -> None:
        self._update(self.label, done, total)

    def phase(self, name: str) -> Callable[[int, int], None]:
        """The (done, total) callback of the phase `name`."""
        return lambda done, total: self._update(name, done, total)

    def _update(self, name: str, done: int, total: int) -> None:
        if self.bar is None:
            if time.perf_counter() - self.started < 1.0 or not sys.stderr.isatty():
                return
            from rich.progress import Progress
            self.bar = Progress(console=_stderr(), transient=True)
            self.bar.start()
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(name, total=total)
        self.bar.update(self.tasks[name], completed=done)

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


PlotOption = Annotated[Optional[str], typer.Option(
    "--plot", metavar="FILE", help="Also draw the answer to FILE (.png, .svg or .pdf; needs matplotlib).")]
TargetOption = Annotated[Optional[list[str]], typer.Option("--target", metavar="ID=VALUE",
                                                           help="Hold an output at a value; repeatable.")]
FreeOption = Annotated[Optional[list[str]], typer.Option("--free", metavar="ID[=MIN:MAX]", help="Release an input "
                                                         "to the solver; repeatable.")]
ConstraintOption = Annotated[Optional[list[str]], typer.Option(
    "--constraint", metavar="EXPR", help="Extra inequality, e.g. 'econ.job.dc_power <= 6 [kW]'; repeatable.")]


@app.command(cls=_Command)
@guarded
def solve(
    problem_file: Annotated[Optional[str], typer.Argument(
        metavar="[PROBLEM]", help="A problem file or a shipped problem's NAME (see 'gpu-stack list problems'); "
        "the options below add to it and win over its entries of the same ID.")] = None,
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    target: Annotated[Optional[list[str]], typer.Option("--target", metavar="ID=VALUE",
                                                        help="Hold an output at a value; repeatable.")] = None,
    free: Annotated[Optional[list[str]], typer.Option("--free", metavar="ID[=MIN:MAX]", help="Release an input "
                                                      "to the solver; repeatable.")] = None,
    minimize: Annotated[Optional[str], typer.Option("--minimize", metavar="EXPR",
                                                    help="Expression to minimize.")] = None,
    maximize: Annotated[Optional[str], typer.Option("--maximize", metavar="EXPR",
                                                    help="Expression to maximize.")] = None,
    constraint: Annotated[Optional[list[str]], typer.Option("--constraint", metavar="EXPR", help="Extra "
                                                            "inequality, e.g. 'econ.job.dc_power <= 6 [kW]'; "
                                                            "repeatable.")] = None,
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Simultaneous, inverse and optimization solves (CasADi: Newton, IPOPT, bonmin)."""
    reg = _registry(registry)
    if problem_file is None and not (target or free or minimize or maximize or preset):
        raise InputError("nothing to solve", hint="give PROBLEM.toml, or --target ID=VALUE with --free ID")
    problem = _pose(reg, problem_file, preset, assign, select, target, free, minimize, maximize, constraint)
    _warn(problem.warnings)
    from gpu_stack.solver.solve import solve_problem   # after the input is read: a bad one is refused sooner
    result = solve_problem(reg, problem)
    result.notes, result.warnings = problem.notes, problem.warnings
    if as_json:
        _emit_json(result.model_dump())
    else:
        render.render_solve(_stdout(), result, Display(reg, units))
    return 0 if result.status == "ok" else 1


@app.command("sensitivity", cls=_Command)
@guarded
def sensitivity_command(
    target: VariableArgument,
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, metavar="N", help="Show the N largest.")] = None,
    units: UnitsOption = UnitsMode.human, plot: PlotOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """d ln(target) / d ln(input) for every assigned input in the cone, exact (CasADi AD), ranked."""
    from gpu_stack.model.scenarios import compose
    from gpu_stack.solver.sensitivity import sensitivity
    if plot is not None:
        from gpu_stack.studies.plots import check_plot_path, plot_tornado
        check_plot_path(plot)
    reg = _registry(registry)
    question = compose(reg, preset or [], assign or [], select or [])
    _warn(question.warnings)
    report = sensitivity(reg, target, question)
    report.warnings = question.warnings
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_sensitivity(_stdout(), report, Display(reg, units), limit)
    if plot is not None:
        plot_tornado(report, plot, limit)
    return 0


@app.command(cls=_Command)
@guarded
def sweep(
    targets: Annotated[Optional[list[str]], typer.Argument(
        metavar="[TARGET]...", autocompletion=_complete_variables,
        help="Variable IDs to report at every point (with --solve: besides the free variables and objective).")] = None,
    vary: Annotated[Optional[list[str]], typer.Option(
        "--vary", metavar="ID=SPEC", help="An input to vary: ID=START:STOP:N[:log] (N points), ID=V1,V2,… (these "
        "values), or ID=START:STOP[:log] with --lhs; numbers in the declared unit or quantities; repeatable "
        "(a grid of every combination).")] = None,
    lhs: Annotated[Optional[int], typer.Option("--lhs", metavar="N", help="N points of a Latin hypercube over "
                                               "the --vary ranges instead of a grid.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="S", help="Seed of the Latin hypercube.")] = None,
    solve_file: Annotated[Optional[str], typer.Option(
        "--solve", metavar="PROBLEM", help="Re-solve this problem file (or shipped NAME) at every point, "
        "warm-started; --target/--free/--minimize/--maximize/--constraint pose or amend one inline.")] = None,
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    target: TargetOption = None, free: FreeOption = None,
    minimize: Annotated[Optional[str], typer.Option("--minimize", metavar="EXPR",
                                                    help="Expression to minimize at every point.")] = None,
    maximize: Annotated[Optional[str], typer.Option("--maximize", metavar="EXPR",
                                                    help="Expression to maximize at every point.")] = None,
    constraint: ConstraintOption = None,
    out: Annotated[Optional[str], typer.Option("--out", metavar="FILE", help="Also write the points to FILE "
                                               "(.csv, or .parquet with pyarrow).")] = None,
    plot: PlotOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """One question at many points: forward in one batch call, or a problem re-solved at every point."""
    from gpu_stack.interface.render_studies import render_sweep
    from gpu_stack.studies.sweep import check_table_path, design_points, parse_axis, sweep_forward, sweep_problem, \
        write_table
    if out is not None:
        check_table_path(out)
    if plot is not None:
        from gpu_stack.studies.plots import check_plot_path, plot_sweep
        check_plot_path(plot)
    reg = _registry(registry)
    points = design_points([parse_axis(reg, text) for text in vary or []], lhs, seed)
    design = "grid" if lhs is None else "lhs"
    solving = solve_file is not None or any([target, free, minimize, maximize, constraint])
    if solving:
        problem = _pose(reg, solve_file, preset, assign, select, target, free, minimize, maximize, constraint)
        _warn(problem.warnings)
        with _Progress("solving") as progress:
            report = sweep_problem(reg, problem, points, targets or [], design=design, seed=seed, progress=progress)
    else:
        from gpu_stack.model.scenarios import compose
        from gpu_stack.solver.compiled import Model
        question = compose(reg, preset or [], assign or [], select or [])
        _warn(question.warnings)
        report = sweep_forward(Model.from_question(reg, question), points, targets or [], design=design, seed=seed)
    if out is not None:
        write_table(report, out)
    if plot is not None:
        plot_sweep(report, plot)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render_sweep(_stdout(), report)
    return 0 if set(report.counts) == {"ok"} else 1


@app.command(cls=_Command)
@guarded
def pareto(
    problem_file: Annotated[str, typer.Argument(
        metavar="PROBLEM", help="A problem file or a shipped problem's NAME: its free variables, bounds and "
        "constraints (its objective is replaced).")],
    objectives: Annotated[str, typer.Option("--objectives", metavar="A,B", help="The two variable IDs to "
                                            "minimize: A subject to B <= ε.")],
    points: Annotated[int, typer.Option("--points", metavar="N", help="ε-constraint solves across the "
                                        "front.")] = 11,
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    free: FreeOption = None, constraint: ConstraintOption = None,
    plot: PlotOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """The trade-off front of two objectives, by ε-constraint re-solves of a problem."""
    from gpu_stack.interface.render_studies import render_pareto
    from gpu_stack.studies.pareto import pareto_front, split_objectives
    first, second = split_objectives(objectives)
    if plot is not None:
        from gpu_stack.studies.plots import check_plot_path, plot_pareto
        check_plot_path(plot)
    reg = _registry(registry)
    problem = _pose(reg, problem_file, preset, assign, select, None, free, None, None, constraint)
    _warn(problem.warnings)
    with _Progress("tracing the front") as progress:
        report = pareto_front(reg, problem, first, second, points, progress=progress)
    if plot is not None:
        plot_pareto(report, plot)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render_pareto(_stdout(), report)
    return 0 if all(p.status == "ok" for p in report.points) else 1


@app.command(cls=_Command)
@guarded
def validate(
    case: Annotated[Optional[list[str]], typer.Option("--case", metavar="NAME", help="Only this case (see the "
                                                      "[[case]] names under validation/); repeatable.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the README's validation table "
                                           "(Markdown).")] = False,
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Published runs against the model: predicted, published, error and the 6·N·D/(0.4·peak) rule of thumb."""
    from gpu_stack.audit.validate import markdown_table, validate_suite
    from gpu_stack.model.validation import load_validation
    reg = _registry(registry)
    report = validate_suite(reg, load_validation(reg, case or None))
    _warn(report.warnings)
    if as_json:
        _emit_json(report.model_dump())
    elif markdown:
        sys.stdout.write(markdown_table(report))
    else:
        render.render_validate(_stdout(), report, Display(reg, units))
    return 0 if report.status == "ok" else 1


@app.command(cls=_Command)
@guarded
def serve(
    preset: Annotated[Optional[list[str]], typer.Option(
        "--preset", metavar="NAME", autocompletion=_complete_scenarios,
        help="Scenario NAME (see 'gpu-stack list scenarios') the page starts with; repeatable, later wins. Names "
        "only: the page offers the same names and never takes a path.")] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port to listen on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback exposes the API "
                                      "to the network (a warning is printed).")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    registry: RegistryOption = None,
) -> int:
    """Cone viewer, stack atlas and scenario lab in the browser (needs the 'serve' extra)."""
    from gpu_stack.serve import is_loopback, missing_extra, run_server
    missing = missing_extra()
    if missing:
        raise InputError(f"gpu-stack serve needs the 'serve' extra ({', '.join(missing)} not installed)",
                         hint="pip install 'gpu-stack[serve]'")
    err = _stderr()
    if not is_loopback(host):
        err.print(f"warning: serving on {host}: every machine that reaches it can use the API, which has no "
                  "authentication; use the default 127.0.0.1 unless you mean it")

    def ready(url: str) -> None:
        err.print(f"gpu-stack serve: {url} (Ctrl-C stops)")
        if open_browser:
            import webbrowser
            webbrowser.open(url)

    run_server(host, port, registry, preset or [], ready)
    return 0


@app.command(cls=_Command)
@guarded
def calibrate(
    observations: Annotated[str, typer.Argument(
        metavar="OBSERVATIONS", help="An observations file (docs/file-formats.md), or a shipped one's NAME.")],
    fit: Annotated[Optional[list[str]], typer.Option("--fit", metavar="ID[=MIN:MAX]", help="An input to fit, "
                                                     "within its domain or MIN:MAX; repeatable.")] = None,
    holdout: Annotated[Optional[list[str]], typer.Option("--holdout", metavar="NAME", help="An observation row to "
                                                         "leave out of the fit and predict; repeatable.")] = None,
    out: Annotated[Optional[str], typer.Option("--out", metavar="PACK.toml", help="Write the fitted values as a "
                                               "scenario pack of kind calibrated (only when the fit is ok).")] = None,
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Least-squares fit of inputs to observations through the compiled model (IPOPT), with intervals."""
    import shlex
    from gpu_stack.model.calibrated_pack import calibrated_pack_text
    from gpu_stack.model.observations import load_observations
    from gpu_stack.solver.calibrate import calibrate as fit_inputs, parse_fit_options
    reg = _registry(registry)
    loaded = load_observations(reg, observations)
    report = fit_inputs(reg, loaded, parse_fit_options(reg, fit or []), holdout or [])
    if out is not None and report.status == "ok":
        words = ["gpu-stack", "calibrate", loaded.label, *(w for f in fit or [] for w in ("--fit", f)),
                 *(w for h in holdout or [] for w in ("--holdout", h)), "--out", out]
        text = calibrated_pack_text(report, " ".join(shlex.quote(w) for w in words), loaded.description)
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}", hint="give a writable --out path") from None
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_calibration(_stdout(), report, Display(reg, units), written=out if report.status == "ok" else None)
    return 0 if report.status == "ok" else 1


class SamplingMethod(str, enum.Enum):
    """How `uncertainty` fills the unit cube."""

    mc = "mc"
    lhs = "lhs"
    sobol = "sobol"


@app.command("uncertainty", cls=_Command)
@guarded
def uncertainty_command(
    targets: Annotated[list[str], typer.Argument(metavar="TARGET...", autocompletion=_complete_variables,
                                                 help="Variable IDs to propagate the uncertain inputs to.")],
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    samples: Annotated[int, typer.Option("--samples", min=2, metavar="N", help="Points to sample.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, metavar="S", help="Seed: the same seed gives the same "
                                      "numbers.")] = 0,
    method: Annotated[SamplingMethod, typer.Option("--method", help="mc: independent uniforms; lhs: Latin "
                                                   "hypercube; sobol: scrambled Sobol sequence (N a power of "
                                                   "two).")] = SamplingMethod.mc,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="FILE.csv|FILE.parquet", help="Write the "
                                                "samples (inputs and targets, declared units), one row each.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE", help="Draw each target's "
                                                 "histogram and CDF with the 90% interval, and its Sobol "
                                                 "indices.")] = None,
    dask: Annotated[Optional[str], typer.Option("--dask", metavar="ADDRESS|local", help="Evaluate on a Dask "
                                                "cluster: a scheduler address, or 'local' for a LocalCluster of "
                                                "2 workers.")] = None,
    jit: Annotated[bool, typer.Option("--jit", help="Compile the batch function to C with gcc -O2 first (kept in "
                                      "the disk cache); in this process only.")] = False,
    units: UnitsOption = UnitsMode.human,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Propagate the presets' [uncertain] inputs: percentiles, 90% interval, Sobol indices, elasticities."""
    from gpu_stack.model.scenarios import compose, parse_assign_options
    from gpu_stack.solver.compiled import Model
    from gpu_stack.studies.batch import runner
    from gpu_stack.studies.uncertainty import uncertainty
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"--out {out}: write FILE.csv or FILE.parquet")
    from gpu_stack.studies.optional import require   # a missing package is named before any work is done
    if out is not None:
        require("pandas", "--out")
        if out.suffix.lower() == ".parquet":
            require("pyarrow", "--out FILE.parquet")
    if plot is not None:
        from gpu_stack.studies.plots import check_plot_path
        check_plot_path(plot)
    reg = _registry(registry)
    pinned = {item.id: item.given for item in parse_assign_options(reg, assign or [])}  # refuses a malformed one
    model = Model(preset or [], pinned, compose(reg, [], [], select or []).select, reg)
    _warn(model.question.warnings)
    with runner(dask, jit=jit) as run, _Progress("uncertainty") as progress:
        result = uncertainty(model, targets, samples=samples, seed=seed, method=method.value, run=run,
                             progress=progress.phase)
    _warn(result.warnings)
    if out is not None:
        frame = result.to_frame()
        frame.to_csv(out, index=False) if out.suffix.lower() == ".csv" else frame.to_parquet(out, index=False)
    if plot is not None:
        from gpu_stack.studies.plots import plot_uncertainty
        plot_uncertainty(result, plot)
    if as_json:
        _emit_json(result.report().model_dump())
    else:
        render.render_uncertainty(_stdout(), result, Display(reg, units))
    return 0


def main() -> None:
    """Entry point of the `gpu-stack` script."""
    try:
        try:
            app(prog_name="gpu-stack")
        finally:
            sys.stdout.flush()   # inside the try: a reader gone before the last write is a broken pipe too
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(0)
    except SystemExit as exit_:
        # click turns a broken pipe met outside a command (--help, --version) into exit 1
        context = exit_.__context__
        if isinstance(context, OSError) and context.errno == errno.EPIPE:
            _silence_stdout()
            sys.exit(0)
        raise


if __name__ == "__main__":
    main()
