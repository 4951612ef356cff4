"""The command line: a thin typer layer over the library (docs/cli.md).

Exit codes: 0 answered; 1 answered "no" (verify found problems, a status
other than ok); 2 bad input or usage; 3 an internal error (a bug).
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from gpu_stack.interface import render
from gpu_stack.errors import InputError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None,
    help="gpu-stack: an open, unit-checked equation model of AI training infrastructure.",
)
out = Console(highlight=False, soft_wrap=False)
if not out.is_terminal:  # piped output: do not squeeze tables into 80 columns
    out = Console(highlight=False, soft_wrap=False, width=200)
err = Console(stderr=True, highlight=False)
if not err.is_terminal:
    err = Console(stderr=True, highlight=False, width=400)

RegistryOption = Annotated[Optional[list[str]], typer.Option(
    "--registry", help="Registry folder to load instead of the built-in one; repeat to layer "
    "('--registry builtin --registry ./mine').")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the documented JSON shape.")]
PresetOption = Annotated[Optional[list[str]], typer.Option(
    "--preset", help="Scenario: NAME, scenarios.NAME or a path; repeatable, later wins.")]
AssignOption = Annotated[Optional[list[str]], typer.Option(
    "--assign", help="ID=VALUE, VALUE a bare number (declared unit) or a quantity like '700 W'; repeatable.")]
SelectOption = Annotated[Optional[list[str]], typer.Option(
    "--select", help="GROUP=EQUATION: pick an alternative; repeatable.")]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")


def guarded(function: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command; turn bad input into one message + exit 2, bugs into exit 3."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = function(*args, **kwargs) or 0
        except typer.Exit:
            raise
        except InputError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so, and where
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "gpu_stack" in f.filename]
            where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
            err.print(f"internal error (a bug in gpu-stack{where}): {type(exc).__name__}: {exc}", markup=False)
            err.print("please report it with the command that triggered it", markup=False)
            raise typer.Exit(3) from None
        raise typer.Exit(code)

    return wrapper


def _registry(paths: list[str] | None):
    from gpu_stack.model.registry import load_registry
    return load_registry(paths or None)


@app.command()
@guarded
def stats(registry: RegistryOption = None, as_json: JsonOption = False) -> int:
    """Counts: variables, equations, roots, leaves, families, unit checks, references, headline reach."""
    from gpu_stack.audit.stats import registry_stats
    report = registry_stats(_registry(registry))
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_stats(out, report)
    return 0


@app.command()
@guarded
def verify(
    registry: RegistryOption = None,
    profile: Annotated[str, typer.Option("--profile", help="fast: registry checks; full: also every scenario "
                                         "and problem file.")] = "fast",
    as_json: JsonOption = False,
) -> int:
    """Registry checks (parse, IDs, units, references, loops, dead ends); exit 1 when problems are found."""
    from gpu_stack.audit.verify import verify as run_verify
    if profile not in ("fast", "full"):
        raise InputError(f"unknown profile {profile!r}", hint="use --profile fast or --profile full")
    show = (lambda text: err.print(f"checking {text}…", style="dim")) if (not as_json and err.is_terminal) else None
    report = run_verify(registry or None, profile, progress=show)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_verify(out, report)
    return 0 if report.status == "ok" else 1


@app.command()
@guarded
def explain(ident: Annotated[str, typer.Argument(metavar="ID", help="A variable, equation, constraint, constant "
                                                 "or reference key.")],
            registry: RegistryOption = None, as_json: JsonOption = False) -> int:
    """A variable or equation: definition, unit, references, unit check, where used."""
    from gpu_stack.audit.explain import explain as describe
    info = describe(_registry(registry), ident)
    if as_json:
        _emit_json(info)
    else:
        render.render_explain(out, info)
    return 0


@app.command()
@guarded
def cone(
    target: Annotated[str, typer.Argument(help="Variable ID.")],
    direction: Annotated[str, typer.Option("--direction", help="up: what it depends on; down: what depends "
                                           "on it.")] = "up",
    preset: PresetOption = None, select: SelectOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
    dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
) -> int:
    """The dependency cone of a variable (assigned variables of presets cut the cone)."""
    from gpu_stack.audit.graph import downstream, upstream, variable_graph
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    reg.require_variable(target)
    if direction not in ("up", "down"):
        raise InputError(f"unknown direction {direction!r}", hint="use --direction up or --direction down")
    question = compose(reg, preset or [], [], select or [])
    graph = variable_graph(reg, question.select)
    if direction == "up":
        members = upstream(reg, [target], question.select, cut=question.assign)
    else:
        members = downstream(reg, [target], question.select)
    edges = sorted((u, v, d["equation"]) for u, v, d in graph.edges(data=True) if u in members and v in members
                   and not (direction == "up" and v in question.assign))
    ordered = sorted(members)
    if as_json:
        _emit_json({"target": target, "direction": direction, "count": len(ordered), "variables": ordered,
                    "equations": sorted({e for _, _, e in edges}),
                    "edges": [{"from": u, "to": v, "equation": e} for u, v, e in edges]})
    elif dot:
        lines = [f'digraph "{target}" {{', "  rankdir=LR;"]
        for v in ordered:
            shape = "doubleoctagon" if v == target else "box"
            lines.append(f'  "{v}" [shape={shape}];')
        lines += [f'  "{u}" -> "{v}" [label="{e}"];' for u, v, e in edges]
        lines.append("}")
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        out.print(f"{'upstream' if direction == 'up' else 'downstream'} cone of {target}: "
                  f"{len(ordered)} variables, {len({e for _, _, e in edges})} equations", style="bold")
        for v in ordered:
            out.print(f"  {v}  [{reg.variables[v].unit}]")
    return 0


@app.command()
@guarded
def resolve(
    target: Annotated[str, typer.Argument(help="Variable ID to compute.")],
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every hop.")] = False,
    missing: Annotated[bool, typer.Option("--missing", help="List missing roots.")] = False,
    constraints: Annotated[bool, typer.Option("--constraints", help="Check constraints and validity ranges.")] = False,
    fail_on_violation: Annotated[bool, typer.Option("--fail-on-violation", help="Exit 1 when a constraint "
                                                    "or validity range is violated.")] = False,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """The audit resolver: compute a target forward, with its trace and missing roots."""
    from gpu_stack.audit.report import resolve_report
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    reg.require_variable(target)
    question = compose(reg, preset or [], assign or [], select or [])
    report = resolve_report(reg, target, question, constraints=constraints)
    if as_json:
        data = report.model_dump()
        if not trace:
            data["trace"] = []
        _emit_json(data)
    else:
        render.render_resolve(out, report, trace=trace, missing=missing)
    violated = any(c.status == "violated" for c in report.constraints)
    return 0 if report.status == "ok" and not (fail_on_violation and violated) else 1


@app.command("root-debt")
@guarded
def root_debt_command(
    families: Annotated[bool, typer.Option("--families", help="Group roots by family.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Show at most N rows.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also scenario and primitive roots.")] = False,
    preset: PresetOption = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Unresolved inputs ranked by blast radius (variables downstream)."""
    from gpu_stack.audit.root_debt import root_debt
    from gpu_stack.model.scenarios import compose
    reg = _registry(registry)
    question = compose(reg, preset or []) if preset else None
    report = root_debt(reg, question, include_all=show_all, limit=limit)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_root_debt(out, report, by_family=families)
    return 0


@app.command("scenario-report")
@guarded
def scenario_report_command(
    scenarios: Annotated[list[str], typer.Argument(metavar="SCENARIO...", help="Scenario names or paths.")],
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Resolve each scenario's outputs."""
    from gpu_stack.audit.report import scenario_report
    from gpu_stack.model.scenarios import load_scenario
    reg = _registry(registry)
    reports = [scenario_report(reg, load_scenario(reg, name)) for name in scenarios]
    if as_json:
        data = [r.model_dump() for r in reports]
        _emit_json(data[0] if len(data) == 1 else data)
    else:
        for index, report in enumerate(reports):
            if index:
                out.print()
            render.render_scenario(out, report)
    return 0 if all(r.status == "ok" for r in reports) else 1


@app.command()
@guarded
def solve(
    problem_file: Annotated[Optional[str], typer.Argument(metavar="[PROBLEM.toml]", help="A problem file "
                                                          "(or give the question with the options below).")] = None,
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    target: Annotated[Optional[list[str]], typer.Option("--target", help="ID=VALUE: hold an output; repeatable.")] = None,
    free: Annotated[Optional[list[str]], typer.Option("--free", help="ID or ID=MIN:MAX: release an input to the "
                                                      "solver; repeatable.")] = None,
    minimize: Annotated[Optional[str], typer.Option("--minimize", help="Expression to minimize.")] = None,
    maximize: Annotated[Optional[str], typer.Option("--maximize", help="Expression to maximize.")] = None,
    constraint: Annotated[Optional[list[str]], typer.Option("--constraint", help="Extra inequality, "
                                                            "e.g. 'econ.job.dc_power <= 6 [kW]'.")] = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """Simultaneous, inverse and optimization solves (CasADi: Newton, IPOPT, bonmin)."""
    from gpu_stack.model.problems import inline_problem, load_problem
    from gpu_stack.model.scenarios import compose
    from gpu_stack.solver.solve import solve_problem
    reg = _registry(registry)
    if problem_file is not None:
        if any([preset, assign, select, target, free, minimize, maximize, constraint]):
            raise InputError("give either a problem file or --preset/--assign/--target/--free options, not both")
        problem = load_problem(reg, problem_file)
    else:
        if not (target or free or minimize or maximize or preset):
            raise InputError("nothing to solve", hint="give PROBLEM.toml, or --target ID=VALUE with --free ID")
        question = compose(reg, preset or [], [], select or [])
        problem = inline_problem(reg, question.scenarios, assign or [], question.select, target or [], free or [],
                                 minimize, maximize, constraint or [])
    result = solve_problem(reg, problem)
    if as_json:
        _emit_json(result.model_dump())
    else:
        render.render_solve(out, result)
    return 0 if result.status == "ok" else 1


@app.command("sensitivity")
@guarded
def sensitivity_command(
    target: Annotated[str, typer.Argument(help="Variable ID.")],
    preset: PresetOption = None, assign: AssignOption = None, select: SelectOption = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Show the N largest.")] = None,
    registry: RegistryOption = None, as_json: JsonOption = False,
) -> int:
    """d ln(target) / d ln(input) for every assigned input in the cone, exact (CasADi AD), ranked."""
    from gpu_stack.model.scenarios import compose
    from gpu_stack.solver.sensitivity import sensitivity
    reg = _registry(registry)
    question = compose(reg, preset or [], assign or [], select or [])
    report = sensitivity(reg, target, question)
    if as_json:
        _emit_json(report.model_dump())
    else:
        render.render_sensitivity(out, report, limit)
    return 0


def main() -> None:
    """Entry point of the `gpu-stack` script."""
    app(prog_name="gpu-stack")


if __name__ == "__main__":
    main()
