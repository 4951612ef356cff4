"""The JSON answers behind `gpu-stack serve`, over `gpu_stack.Model` and the audit modules.

Every function here takes already-typed values (IDs, numbers, scenario names)
and returns plain dicts ready for JSON; `gpu_stack.serve.app` reads and checks
the requests. Bad input raises the library's `InputError` subclasses with the
CLI's own messages (a scenario name the registry does not ship, an unknown ID,
a value outside its domain), which the app turns into HTTP 400.

The registry is loaded once. A `Lab` (one compiled `Model` per set of
presets, its headline outputs and its slider inputs) is built on first use and
kept, a few at a time, so a slider move is one call of an already compiled
CasADi function.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gpu_stack.audit.explain import references_of
from gpu_stack.audit.graph import HEADLINES, boundary_of, downstream, roots, upstream, variable_graph
from gpu_stack.audit.resolver import resolve
from gpu_stack.core import Question
from gpu_stack.errors import InputError, ProblemError, ScenarioError
from gpu_stack.model.registry import Registry, load_registry
from gpu_stack.model.scenarios import compose, describe_scenarios, list_scenarios, parse_value

__all__ = ["LAYERS", "LAB_EXTRAS", "Service", "Lab", "scenario_toml"]

# The stack from the top (money) to the bottom (atoms): (first segment of an ID, label).
# IDs whose first segment is not listed here follow, in alphabetical order.
LAYERS: tuple[tuple[str, str], ...] = (
    ("econ", "economics"), ("thermal", "facility: power and cooling"), ("cluster", "cluster"),
    ("training", "training"), ("scaling", "scaling laws"), ("par", "parallelism"), ("col", "collectives"),
    ("arch", "architecture"), ("kernel", "kernels"), ("precision", "precision"), ("arith", "arithmetic"),
    ("gpu", "GPU"), ("mem", "memory"), ("link", "links"), ("fab", "manufacturing"), ("physical", "physics"),
)
# Outputs the lab shows besides the headlines, when the presets determine them.
LAB_EXTRAS: tuple[str, ...] = ("mem.required_per_gpu", "mem.hbm.capacity_usable", "fab.yield.total")
LAB_INPUTS = 8            # sliders: the inputs with the largest elasticities of the lab's first output
_LABS_KEPT = 8            # compiled labs kept in memory (least recently used goes first)
_QUESTIONS_KEPT = 64      # composed preset sets kept
_SEARCH_LIMIT = 25


def layer_of(ident: str) -> str:
    """The atlas layer of an ID: its first segment."""
    return ident.split(".", 1)[0]


class Lab:
    """One set of presets, compiled: its outputs, its slider inputs, and fast evaluation."""

    def __init__(self, service: "Service", presets: tuple[str, ...]) -> None:
        from gpu_stack.solver.compiled import Model
        self.presets = presets
        self.registry = service.registry
        self.model = Model(presets=presets, registry=self.registry)
        question = self.model.question
        wanted = [*HEADLINES, *(o for s in question.scenarios for o in s.outputs), *LAB_EXTRAS]
        wanted = [ident for ident in dict.fromkeys(wanted) if ident in self.registry.variables]
        resolution = resolve(self.registry, wanted, question.assign, question.select)
        # the outputs these presets determine (the audit resolver says which, cheaply)
        self.outputs = [ident for ident in wanted if resolution.status(ident) == "ok"
                        and ident not in question.assign]
        if not self.outputs:
            raise ProblemError(f"the presets {', '.join(presets) or '(none)'} determine none of the headline "
                               "outputs", hint="pick a run scenario such as runs.llama3_405b_h100")
        report = self.model.sensitivity(self.outputs[0])
        self.inputs = [self._slider(root.id, root.value, root.elasticity)
                       for root in report.roots[:LAB_INPUTS] if root.elasticity != 0.0]
        self.preset_values = {item["id"]: item["value"] for item in self.inputs}
        self.baseline = self.evaluate({})

    def _slider(self, ident: str, value: float, elasticity: float) -> dict[str, Any]:
        variable = self.registry.variables[ident]
        low = value / 4 if value > 0 else value * 4 if value < 0 else 0.0
        high = value * 4 if value > 0 else value / 4 if value < 0 else 1.0
        if variable.min is not None:
            low = max(low, variable.min)
        if variable.max is not None:
            high = min(high, variable.max)
        if variable.integer:
            low, high = math.ceil(low), math.floor(high)
        return {"id": ident, "unit": variable.unit, "description": variable.description, "value": value,
                "min": low, "max": high, "integer": bool(variable.integer), "elasticity": elasticity}

    def check_inputs(self, values: Mapping[str, float]) -> None:
        """Refuse a value for anything but the lab's inputs (each other set of IDs would compile a function of its own)."""
        for ident in values:
            if ident not in self.preset_values:
                raise ScenarioError(f"'{ident}' is not one of the lab's inputs under {', '.join(self.presets) or 'no presets'}",
                                    hint="the lab moves " + ", ".join(self.preset_values))

    def evaluate(self, values: Mapping[str, float]) -> dict[str, float]:
        """The lab's outputs with `values` (ID → number in its declared unit) replacing the presets' inputs.

        Every call passes all the lab's inputs, so one compiled function answers them all."""
        self.check_inputs(values)
        answers = self.model.evaluate(self.outputs, {**self.preset_values, **values})
        return {ident: float(answers[ident]) for ident in self.outputs}

    def describe(self) -> dict[str, Any]:
        """What the page needs to draw the lab: outputs with units and baseline values, and the sliders."""
        variables = self.registry.variables
        return {"presets": list(self.presets),
                "outputs": [{"id": o, "unit": variables[o].unit, "description": variables[o].description,
                             "baseline": self.baseline[o]} for o in self.outputs],
                "inputs": self.inputs}


class Service:
    """The loaded registry and the caches the server answers from (thread-safe: one lock)."""

    def __init__(self, registry_paths: Sequence[str] | None = None, default_presets: Sequence[str] = ()) -> None:
        self.registry: Registry = load_registry(list(registry_paths) if registry_paths else None)
        self.scenario_names = set(list_scenarios(self.registry))   # names only: reading every file waits for /api/meta
        self._described: list[dict[str, str]] | None = None
        self.default_presets = self.check_presets(default_presets)
        self._labs: OrderedDict[tuple[str, ...], Lab] = OrderedDict()
        self._questions: dict[tuple[str, ...], Question] = {}
        self.lock = threading.RLock()
        self._search_rows = sorted((ident, v.description.lower()) for ident, v in self.registry.variables.items())

    # ------------------------------------------------------------------ checks

    def check_presets(self, names: Iterable[str]) -> tuple[str, ...]:
        """Scenario names the registry ships (or its --registry siblings hold); anything else, a path included, is refused."""
        checked = []
        for name in names:
            if name not in self.scenario_names:
                import difflib
                close = difflib.get_close_matches(name, sorted(self.scenario_names), n=3, cutoff=0.6)
                raise ScenarioError(f"unknown scenario '{name}'", hint=("did you mean " + " or ".join(close) + "?")
                                    if close else "give a name from 'gpu-stack list scenarios'; paths are not taken here")
            checked.append(name)
        return tuple(checked)

    def check_values(self, values: Mapping[str, Any]) -> dict[str, float]:
        """Assigned numbers, each checked as `--assign ID=VALUE` checks it (known variable, finite, domain, integer)."""
        return {ident: parse_value(self.registry, ident, value, origin="serve").value for ident, value in values.items()}

    def question(self, presets: tuple[str, ...]) -> Question:
        """The composed presets (kept: composing reads and converts every file of the packs)."""
        question = self._questions.get(presets)
        if question is None:
            if len(self._questions) >= _QUESTIONS_KEPT:
                self._questions.clear()
            question = self._questions[presets] = compose(self.registry, presets)
        return question

    def compiled_lab(self, presets: tuple[str, ...]) -> Lab | None:
        """The lab of these presets if it is built already, else None (never builds)."""
        return self._labs.get(presets)

    def lab(self, presets: tuple[str, ...]) -> Lab:
        """The compiled lab of a set of presets (built on first use, then kept)."""
        with self.lock:
            lab = self._labs.get(presets)
            if lab is None:
                lab = Lab(self, presets)
                self._labs[presets] = lab
                while len(self._labs) > _LABS_KEPT:
                    self._labs.popitem(last=False)
            else:
                self._labs.move_to_end(presets)
            return lab

    # ------------------------------------------------------------------ answers

    def meta(self) -> dict[str, Any]:
        """Scenario names with kind and description, the default presets, the headline outputs, the layers."""
        from gpu_stack import __version__
        if self._described is None:
            self._described = describe_scenarios(self.registry)
        return {"version": __version__, "scenarios": self._described,
                "default_presets": list(self.default_presets), "headlines": list(HEADLINES),
                "variables": len(self.registry.variables)}

    def search(self, text: str, limit: int = _SEARCH_LIMIT) -> list[dict[str, str]]:
        """Variables whose ID or description holds `text`: ID prefix matches first, then ID, then description."""
        needle = text.strip().lower()
        if not needle:
            return []
        ranked: list[tuple[int, str]] = []
        for ident, description in self._search_rows:
            low = ident.lower()
            rank = 0 if low.startswith(needle) else 1 if needle in low else 2 if needle in description else None
            if rank is not None:
                ranked.append((rank, ident))
        ranked.sort()
        variables = self.registry.variables
        return [{"id": ident, "unit": variables[ident].unit, "description": variables[ident].description}
                for _rank, ident in ranked[:limit]]

    def cone(self, target: str, direction: str, presets: tuple[str, ...],
             assign: Mapping[str, float]) -> dict[str, Any]:
        """The cone of `target` (up: what it depends on, cut at assigned variables; down: what depends on it),
        each variable with its audit value, source, boundary, equation, unit check and references."""
        registry = self.registry
        registry.require_variable(target)
        base = self.question(presets)
        question = base if not assign else compose(registry, presets, [f"{k}={v!r}" for k, v in assign.items()])
        graph = variable_graph(registry, question.select)
        if direction == "up":
            members = upstream(registry, [target], question.select, cut=question.assign)
        else:
            members = downstream(registry, [target], question.select)
        resolution = resolve(registry, sorted(members), question.assign, question.select)
        defining = registry.defining_equations(question.select)
        root_set = set(roots(registry, question.select))
        nodes = []
        for ident in sorted(members):
            variable = registry.variables[ident]
            step = resolution.steps.get(ident)
            equation = defining.get(ident)
            source = step.source if step is not None else resolution.status(ident)   # missing | error
            refs = list(variable.refs) + (list(equation.model.refs) if equation is not None else [])
            nodes.append({
                "id": ident, "unit": variable.unit, "description": variable.description,
                "value": resolution.values.get(ident), "source": source,
                "origin": step.origin if step is not None else None,
                "boundary": boundary_of(registry, ident) if ident in root_set else None,
                "equation": {"id": equation.id, "eq": equation.model.eq,
                             "unit_check": "ok" if equation.id in registry.unit_checked else "failed"}
                if equation is not None else None,
                "error": resolution.errors.get(ident),
                "refs": references_of(registry, list(dict.fromkeys(refs))),
            })
        edges = [{"from": u, "to": v, "equation": d["equation"]} for u, v, d in graph.edges(data=True)
                 if u in members and v in members and not (direction == "up" and v in question.assign)]
        return {"target": target, "direction": direction, "presets": list(presets), "count": len(nodes),
                "nodes": nodes, "edges": edges, "warnings": question.warnings}

    def atlas(self, presets: tuple[str, ...]) -> dict[str, Any]:
        """The layers top to bottom: variables, root debt (debt roots the presets leave open), headline outputs."""
        registry = self.registry
        question = self.question(presets)
        order = [key for key, _label in LAYERS]
        labels = dict(LAYERS)
        groups: dict[str, list[str]] = {}
        for ident in registry.variables:
            groups.setdefault(layer_of(ident), []).append(ident)
        keys = [k for k in order if k in groups] + sorted(k for k in groups if k not in labels)
        debt = [r for r in roots(registry, question.select)
                if boundary_of(registry, r) == "debt" and r not in question.assign]
        outputs = [*HEADLINES, *(o for s in question.scenarios for o in s.outputs), *LAB_EXTRAS]
        outputs = [o for o in dict.fromkeys(outputs) if o in registry.variables]
        return {"presets": list(presets), "layers": [
            {"key": key, "label": labels.get(key, key), "variables": sorted(groups[key]),
             "root_debt": sum(layer_of(r) == key for r in debt),
             "outputs": [o for o in outputs if layer_of(o) == key]} for key in keys]}

    def light(self, output: str, presets: tuple[str, ...]) -> dict[str, Any]:
        """An output's cone across the layers, and each layer's share of its summed |elasticity| (AD sensitivities)."""
        registry = self.registry
        registry.require_variable(output)
        question = self.question(presets)
        members = upstream(registry, [output], question.select, cut=question.assign)
        from gpu_stack.solver.sensitivity import sensitivity
        try:
            roots_ = sensitivity(registry, output, question).roots
            note = ""
        except InputError as exc:   # the presets leave roots open: the cone still lights, shares cannot be given
            roots_, note = [], str(exc)
        weight: dict[str, float] = {}
        for root in roots_:
            weight[layer_of(root.id)] = weight.get(layer_of(root.id), 0.0) + abs(root.elasticity)
        total = sum(weight.values())
        return {"output": output, "presets": list(presets), "members": sorted(members), "note": note,
                "shares": {key: w / total for key, w in weight.items()} if total else {},
                "top_inputs": [{"id": r.id, "elasticity": r.elasticity} for r in roots_[:10]]}

    def solve(self, presets: tuple[str, ...], values: Mapping[str, float], pin: str, pin_value: float,
              free: str) -> dict[str, Any]:
        """Hold `pin` at `pin_value` by moving `free`, from the lab state (presets + values): an inverse solve."""
        from gpu_stack.solver.compiled import Model
        lab = self.lab(presets)
        lab.check_inputs(values)
        for ident in (pin, free):
            self.registry.require_variable(ident)
        pin_value = self.check_values({pin: pin_value})[pin] if pin not in lab.outputs else pin_value
        assign = {k: v for k, v in values.items() if k != free}
        model = Model(presets=presets, assign=assign, registry=self.registry)
        solution = model.solve(targets={pin: pin_value}, free=[free], outputs=[o for o in lab.outputs if o != free])
        report = solution.report()
        answered = solution.status == "ok"
        return {"status": solution.status, "message": solution.message,
                "free": {"id": free, "value": solution.value(free) if answered else None,
                         "unit": self.registry.variables[free].unit},
                "outputs": {o: item.value for o, item in report.outputs.items()} if answered else {},
                "conflicting_constraints": solution.conflicting_constraints}


def scenario_toml(presets: Sequence[str], values: Mapping[str, float], outputs: Sequence[str],
                  registry: Registry) -> str:
    """The lab state as a scenario file: the presets as `extends`, each lab value with a source (its unit in a comment).

    Values are written with `repr`, so reading the file back gives the very same floats and `resolve`
    reproduces the lab's numbers.
    """
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# Exported from the gpu-stack serve scenario lab.",
             'kind = "synthetic"',
             "description = " + quoted("Lab state: " + (", ".join(presets) or "no presets")
                                       + " with the values chosen in the lab (synthetic: chosen by hand)."),
             "extends = [" + ", ".join(quoted(p) for p in presets) + "]",
             "outputs = [" + ", ".join(quoted(o) for o in outputs) + "]",
             "", "[assign]"]
    for ident, value in values.items():
        unit = registry.variables[ident].unit
        # a bare number is read in the declared unit, untouched by any conversion
        lines.append(f"{quoted(ident)} = {{ value = {float(value)!r}, source = \"synthetic: chosen in the "
                     f"gpu-stack serve lab\" }}   # {unit}")
    return "\n".join(lines) + "\n"
