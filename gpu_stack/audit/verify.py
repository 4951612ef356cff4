"""`verify`: registry checks, and in the full profile every scenario and problem.

Load problems (IDs, units, references, groups) are errors; an equation that
feeds no headline output, a variable no equation or constraint uses, and a
citation of a place its reference's `locations` does not record are warnings
(wiring or checking left undone). Loops are legal and only counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from gpu_stack.audit.citations import unchecked_places
from gpu_stack.audit.report import scenario_report
from gpu_stack.errors import InputError
from gpu_stack.audit.graph import HEADLINES, equations_reaching_headline, loops
from gpu_stack.model.paths import builtin_problems, builtin_registry, builtin_scenarios
from gpu_stack.model.registry import Registry
from gpu_stack.reports import VerifyProblem, VerifyReport
from gpu_stack.model.scenarios import load_scenario

__all__ = ["verify", "scenario_files", "problem_files"]


def _folders(registry: Registry, name: str, builtin: Path) -> list[Path]:
    folders = []
    for layer in registry.layers:
        if layer.resolve() == builtin_registry().resolve():
            folders.append(builtin)
        elif (layer.parent / name).is_dir():
            folders.append(layer.parent / name)
    return folders


def scenario_files(registry: Registry) -> list[Path]:
    """Scenario files that belong to the registry's layers."""
    return sorted(p for f in _folders(registry, "scenarios", builtin_scenarios()) for p in f.rglob("*.toml"))


def problem_files(registry: Registry) -> list[Path]:
    """Problem files that belong to the registry's layers."""
    return sorted(p for f in _folders(registry, "problems", builtin_problems()) for p in f.rglob("*.toml"))


def verify(paths: Iterable[str | Path] | None, profile: str = "fast",
           progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Check a registry; `full` also resolves every scenario and solves every problem."""
    registry = Registry.load(paths, strict=False)
    problems: list[VerifyProblem] = []

    def add(severity: str, check: str, message: str) -> None:
        problems.append(VerifyProblem(severity=severity, check=check, message=message))

    for error in registry.problems:
        add("error", "load", str(error))
    if not registry.variables:
        add("error", "load", "the registry defines no variables: "
            f"{', '.join(str(layer) for layer in registry.layers)} holds no [[variable]] entry "
            "(give --registry a folder of registry TOML files)")
    for kind, entries in (("variable", registry.variables), ("equation", registry.equations),
                          ("constraint", registry.constraints), ("constant", registry.constants)):
        for ident, entry in entries.items():
            model = getattr(entry, "model", entry)
            if not model.refs:
                where = f"{model.origin}: " if model.origin else ""
                add("error", "references", f"{where}{kind} '{ident}' cites no reference (add refs = [\"key\"])")
    for citation in unchecked_places(registry):
        where = f"{citation.origin}: " if citation.origin else ""
        add("warning", "unchecked-place", f"{where}{citation.kind} '{citation.entry}' cites "
            f"'{citation.key}:{citation.place}', a place not recorded in {citation.key}'s locations in "
            "references.toml (check it against the source and record what it says, or cite the whole source)")
    reaching = equations_reaching_headline(registry)
    for ident in sorted(set(registry.equations) - reaching):
        add("warning", "dead-ends", f"equation '{ident}' feeds no headline output ({', '.join(HEADLINES[:3])}, …)")
    used = {v for e in registry.equations.values() for v in e.variables} | \
           {v for c in registry.constraints.values() for v in c.variables}
    for ident in sorted(set(registry.variables) - used):
        add("warning", "unused", f"variable '{ident}' is used by no equation or constraint")
    checked: dict = {"variables": len(registry.variables), "equations": len(registry.equations),
                     "loops": loops(registry), "scenarios": 0, "problems": 0}
    if profile == "full" and not registry.problems:
        for path in scenario_files(registry):
            if progress:
                progress(f"scenario {path.name}")
            try:
                scenario = load_scenario(registry, str(path))
                report = scenario_report(registry, scenario)
            except InputError as exc:
                add("error", "scenarios", str(exc))
                continue
            checked["scenarios"] += 1
            if report.status != "ok":
                bad = [f"{t.id} ({t.status}{': ' + ', '.join(t.missing[:5]) if t.missing else ''})"
                       for t in report.targets if t.status != "ok"]
                add("error", "scenarios", f"{path}: outputs not resolved: {'; '.join(bad)}")
        for path in problem_files(registry):
            if progress:
                progress(f"problem {path.name}")
            message = _check_problem(registry, path)
            checked["problems"] += 1
            if message:
                add("error", "problems", f"{path}: {message}")
    errors = sum(p.severity == "error" for p in problems)
    return VerifyReport(profile="full" if profile == "full" else "fast", status="problems" if errors else "ok",
                        error_count=errors, warning_count=len(problems) - errors, problems=problems,
                        checked=checked)


def _check_problem(registry: Registry, path: Path) -> str | None:
    """Solve one problem file; a message when it does not end `ok`."""
    from gpu_stack.model.problems import load_problem
    from gpu_stack.solver.solve import solve_problem
    try:
        problem = load_problem(registry, path)
        result = solve_problem(registry, problem)
    except InputError as exc:
        return str(exc)
    if result.status != "ok":
        return f"status {result.status}: {result.message}"
    return None
