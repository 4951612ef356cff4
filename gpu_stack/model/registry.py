"""Models → Registry: indexes, units, references and the load-time checks.

A `Registry` is built from one or more folders ("layers"). An ID defined again
in a later layer is an error unless the later entry says `replace = true`.
Every equation, constraint and validity is parsed and checked for dimension
at load; values are later evaluated in root units, so magnitudes (kW vs MW,
hours vs seconds) follow from the declared units with no hand-written factor.
"""

from __future__ import annotations

import functools
import gc
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from gpu_stack.errors import ExpressionError, InputError, RegistryError, UnitError, UnknownIdError
from gpu_stack.model.expressions import Compare, Node, Num, Var, dimension, parse_condition, parse_equation, variables, walk
from gpu_stack.model import cache
from gpu_stack.model.limits import check_file_size, check_name_length
from gpu_stack.model.loader import read_layer, read_text, source_files
from gpu_stack.model.entries import Constant, Constraint, Equation, Reference, Variable, ref_key
from gpu_stack.model.paths import builtin_registry

__all__ = ["Registry", "CompiledEquation", "CompiledConstraint", "load_registry", "HARD_CODED_FACTORS"]

# Numbers that are almost always a unit conversion written by hand.
HARD_CODED_FACTORS = {3600.0, 86400.0, 3.6e6, 3.6e9, 3.6e12, 31536000.0, 31557600.0, 8760.0, 8766.0, 1024.0**3}


@dataclass(frozen=True)
class CompiledEquation:
    """An equation with its parsed sides and what it defines."""

    model: Equation
    lhs: Node
    rhs: Node
    defines: str | None          # the variable it defines, when lhs is one variable
    variables: tuple[str, ...]   # every variable it mentions (constants excluded)
    inputs: tuple[str, ...]      # variables on the right of a defining equation
    valid: Compare | None

    @property
    def id(self) -> str:
        return self.model.id


@dataclass(frozen=True)
class CompiledConstraint:
    model: Constraint
    condition: Compare
    variables: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.model.id


class Registry:
    """The model: variables, constants, equations, constraints and references.

    Build it with `Registry.load(paths)` (or `load_registry`). With
    ``strict=True`` (the default) the first problem found raises; with
    ``strict=False`` problems are collected in `problems` for `verify`.
    """

    def __init__(self, layers: list[Path]) -> None:
        self.layers = layers
        self.references: dict[str, Reference] = {}
        self.variables: dict[str, Variable] = {}
        self.constants: dict[str, Constant] = {}
        self.constant_values: dict[str, float] = {}   # in the constant's own unit
        self.constant_units: dict[str, str] = {}
        self.equations: dict[str, CompiledEquation] = {}
        self.constraints: dict[str, CompiledConstraint] = {}
        self.groups: dict[str, list[str]] = {}        # variable -> equation IDs, default first
        self.definitions: dict[str, list[str]] = {}   # variable -> ungrouped defining equations
        self.problems: list[InputError] = []
        self.unit_checked: set[str] = set()
        self._owner: dict[str, str] = {}              # ID -> kind, to refuse cross-kind clashes
        self._raw_equations: dict[str, Equation] = {}  # as read, before parsing and unit checks
        self._raw_constraints: dict[str, Constraint] = {}
        self.units: Any = None                        # the UnitSystem, set by load()
        self._unit_texts: tuple[tuple[str, str], ...] = ()   # (units.txt path, text) per layer that has one
        self.content_key: str | None = None           # fingerprint of every file read (strict loads), set by load()

    # ------------------------------------------------------------ loading
    @classmethod
    def load(cls, paths: Iterable[str | Path] | None = None, *, strict: bool = True) -> "Registry":
        """Load registry layers; `None` or 'builtin' means the shipped registry.

        A strict load that succeeds is kept in the cache folder
        (`gpu_stack.model.cache`) under a fingerprint of every file it was read
        from, of the unit definitions and of the code that read them; a strict
        load of the same files reads it back instead of parsing and checking
        everything again.
        """
        from gpu_stack.model.units import unit_system

        for path in paths or []:
            check_name_length(str(path), "registry folder")
        folders = [builtin_registry() if str(p) == "builtin" else Path(p) for p in (paths or ["builtin"])]
        key = _snapshot_key(folders) if strict else None
        if key is not None:
            snapshot = cache.read("registry", key)
            if isinstance(snapshot, cls):
                snapshot.units = unit_system(snapshot._unit_texts)
                snapshot.content_key = key
                return snapshot
        layers = [read_layer(folder) for folder in folders]
        registry = cls(folders)
        registry._unit_texts = _unit_texts(folders)
        registry.units = unit_system(registry._unit_texts)
        for layer in layers:
            registry._add_layer(layer)
        registry._compile()
        if strict and registry.problems:
            first = registry.problems[0]
            more = len(registry.problems) - 1
            if more:
                first.hint = ((first.hint + "; ") if first.hint else "") + \
                    f"{more} more problem{'s' if more > 1 else ''}: run 'gpu-stack verify' to list them"
            raise first
        registry.content_key = key
        if key is not None:
            cache.write("registry", key, registry)
        return registry

    def __getstate__(self) -> dict[str, Any]:
        """What a snapshot keeps: everything but the unit system (shared per process, rebuilt from
        `_unit_texts`) and caches filled by later work (attributes named `_…_cache`)."""
        state = {k: v for k, v in self.__dict__.items() if not (k.startswith("_") and k.endswith("_cache"))}
        state["units"] = None
        return state

    def _problem(self, error: InputError) -> None:
        self.problems.append(error)

    def _claim(self, ident: str, kind: str, entry: Any, table: dict[str, Any]) -> bool:
        """Index an entry, refusing a second definition unless a later layer replaces it."""
        previous_kind = self._owner.get(ident)
        if previous_kind is None:
            self._owner[ident] = kind
            table[ident] = entry
            return True
        previous = self._lookup(ident, previous_kind)
        later_layer = self._layer_of(entry) > self._layer_of(previous)
        if previous_kind == kind and entry.replace and later_layer:
            table[ident] = entry
            return True
        where = f" (first defined at {previous.origin})" if previous.origin else ""
        hint = "add replace = true to the later entry to override it" if later_layer and previous_kind == kind \
            else "rename one of them"
        origin = entry.origin
        self._problem(RegistryError(f"duplicate ID '{ident}'{where}", file=origin.file if origin else None,
                                    line=origin.line if origin else None, hint=hint))
        return False

    def _layer_of(self, entry: Any) -> int:
        if entry.origin is None:
            return -1
        path = Path(entry.origin.file).resolve()
        for index, folder in enumerate(self.layers):
            if folder.resolve() in path.parents:
                return index
        return -1

    def _lookup(self, ident: str, kind: str) -> Any:
        return {"variable": self.variables, "constant": self.constants,
                "equation": self._raw_equations, "constraint": self._raw_constraints}[kind][ident]

    def _add_layer(self, layer: Any) -> None:
        for reference in layer.references:
            if reference.key in self.references and not reference.replace:
                self._problem(RegistryError(f"duplicate reference key '{reference.key}'",
                                            file=reference.origin.file, line=reference.origin.line,
                                            hint="add replace = true to override it in a later layer"))
                continue
            self.references[reference.key] = reference
        for entry in layer.entries["variable"]:
            self._claim(entry.id, "variable", entry, self.variables)
        for entry in layer.entries["constant"]:
            self._claim(entry.id, "constant", entry, self.constants)
        for entry in layer.entries["equation"]:
            self._claim(entry.id, "equation", entry, self._raw_equations)
        for entry in layer.entries["constraint"]:
            self._claim(entry.id, "constraint", entry, self._raw_constraints)

    def _error_at(self, entry: Any, message: str, cls: type[InputError] = RegistryError, hint: str | None = None) -> None:
        origin = entry.origin
        self._problem(cls(message, file=origin.file if origin else None, line=origin.line if origin else None,
                          item=entry.id, hint=hint))

    def _compile(self) -> None:
        self._check_refs()
        self.dims: dict[str, Any] = {}
        self.factors: dict[str, float] = {}
        for variable in self.variables.values():
            try:
                self.factors[variable.id], self.dims[variable.id] = self.units.parse(variable.unit)
            except UnitError as exc:
                self._error_at(variable, f"variable '{variable.id}': {exc.message}", UnitError, exc.hint)
            if variable.min is not None and variable.max is not None and variable.min > variable.max:
                self._error_at(variable, f"variable '{variable.id}': min {variable.min} > max {variable.max}")
        for constant in self.constants.values():
            try:
                value, unit = self.units.quantity(constant.value)
                self.constant_values[constant.id] = value
                self.constant_units[constant.id] = unit
                self.factors[constant.id], self.dims[constant.id] = self.units.parse(unit)
            except UnitError as exc:
                self._error_at(constant, f"constant '{constant.id}': {exc.message}", UnitError, exc.hint)
        for equation in self._raw_equations.values():
            self._compile_equation(equation)
        for constraint in self._raw_constraints.values():
            self._compile_constraint(constraint)
        self._check_groups()

    def _check_refs(self) -> None:
        entries: list[Any] = [*self.variables.values(), *self.constants.values(),
                              *self._raw_equations.values(), *self._raw_constraints.values()]
        for entry in entries:
            for ref in entry.refs:
                if ref_key(ref) not in self.references:
                    self._error_at(entry, f"unknown reference key '{ref_key(ref)}' in '{entry.id}'",
                                   hint="add it to registry/references.toml or fix the spelling")

    def _check_names(self, entry: Any, node: Node) -> bool:
        ok = True
        for ident in variables(node):
            if ident not in self.dims:
                ok = False
                if ident in self.variables or ident in self.constants:
                    continue  # its unit is broken; reported already
                self._error_at(entry, f"unknown ID '{ident}' in '{entry.id}'", UnknownIdError,
                               hint=self.suggest(ident))
        for item in walk(node):
            if isinstance(item, Num) and item.unit is None and abs(item.value) in HARD_CODED_FACTORS:
                self._error_at(entry, f"'{entry.id}' holds the number {item.value:g}, which looks like a "
                               "hand-written unit conversion", UnitError,
                               hint="declare units and let the engine convert, or give the number a unit: "
                               "e.g. 1 [hour]")
            if isinstance(item, Num) and item.unit is not None:
                try:
                    self.units.parse(item.unit)
                except UnitError as exc:
                    ok = False
                    self._error_at(entry, f"'{entry.id}': {exc.message}", UnitError, exc.hint)
        return ok

    def _dims(self, ident: str) -> Any:
        return self.dims[ident]

    def _compile_equation(self, equation: Equation) -> None:
        try:
            lhs, rhs = parse_equation(equation.eq)
            valid = parse_condition(equation.valid) if equation.valid else None
        except ExpressionError as exc:
            self._error_at(equation, f"equation '{equation.id}': {exc.message}", ExpressionError, exc.hint)
            return
        names_ok = self._check_names(equation, lhs) & self._check_names(equation, rhs)
        if valid is not None:
            names_ok &= self._check_names(equation, valid)
        if not names_ok:
            return
        defines = lhs.id if isinstance(lhs, Var) and lhs.id in self.variables else None
        mentioned = [v for v in [*variables(lhs), *variables(rhs)] if v in self.variables]
        compiled = CompiledEquation(
            model=equation, lhs=lhs, rhs=rhs, defines=defines,
            variables=tuple(dict.fromkeys(mentioned)),
            inputs=tuple(v for v in variables(rhs) if v in self.variables) if defines else (),
            valid=valid,
        )
        try:
            left = dimension(lhs, self._dims, self.units)
            right = dimension(rhs, self._dims, self.units)
            if left != right:
                from gpu_stack.model.units import format_dims
                raise UnitError(f"left side is {format_dims(left)} but right side is {format_dims(right)}")
            if valid is not None:
                dimension(valid, self._dims, self.units)
        except UnitError as exc:
            self._error_at(equation, f"equation '{equation.id}' fails the unit check: {exc.message}", UnitError,
                           hint="check the declared units of its variables, or give a literal its unit: 6 [FLOP/token]")
            return
        self.equations[equation.id] = compiled
        self.unit_checked.add(equation.id)
        if equation.group is None and defines is not None:
            self.definitions.setdefault(defines, []).append(equation.id)

    def _compile_constraint(self, constraint: Constraint) -> None:
        try:
            condition = parse_condition(constraint.expr)
        except ExpressionError as exc:
            self._error_at(constraint, f"constraint '{constraint.id}': {exc.message}", ExpressionError, exc.hint)
            return
        if not self._check_names(constraint, condition):
            return
        try:
            dimension(condition, self._dims, self.units)
        except UnitError as exc:
            self._error_at(constraint, f"constraint '{constraint.id}' fails the unit check: {exc.message}", UnitError)
            return
        self.constraints[constraint.id] = CompiledConstraint(
            constraint, condition, tuple(v for v in variables(condition) if v in self.variables))

    def _check_groups(self) -> None:
        members: dict[str, list[CompiledEquation]] = {}
        for equation in self.equations.values():
            if equation.model.group is not None:
                members.setdefault(equation.model.group, []).append(equation)
        for group, equations in members.items():
            bad = [e for e in equations if e.defines != group]
            for equation in bad:
                self._error_at(equation.model, f"equation '{equation.id}' is in group '{group}' but does not "
                               f"define it", hint=f"its left side must be the single variable {group}")
            defaults = [e for e in equations if e.model.default]
            if len(equations) > 1 and len(defaults) != 1:
                self._error_at(equations[0].model, f"group '{group}' needs exactly one equation with "
                               f"default = true (found {len(defaults)})")
            ordered = defaults[:1] + [e for e in equations if e not in defaults[:1]]
            self.groups[group] = [e.id for e in ordered]
            if group in self.definitions:
                others = ", ".join(self.definitions[group])
                self._error_at(equations[0].model, f"'{group}' is defined by group '{group}' and also by {others}",
                               hint="put every defining equation of a variable in its group")
        for variable, equation_ids in self.definitions.items():
            if len(equation_ids) > 1:
                first = self.equations[equation_ids[1]].model
                self._error_at(first, f"'{variable}' is defined by {len(equation_ids)} equations: "
                               f"{', '.join(equation_ids)}",
                               hint=f"make them alternatives: group = \"{variable}\" and one default = true")

    # ------------------------------------------------------------ queries
    def suggest(self, ident: str) -> str | None:
        """A 'did you mean' hint for an unknown ID."""
        import difflib

        pool = [*self.variables, *self.constants, *self.equations, *self.constraints]
        close = difflib.get_close_matches(ident, pool, n=3, cutoff=0.75)
        if close:
            return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        return "run 'gpu-stack stats' or look in registry/ for the IDs that exist"

    def require_variable(self, ident: str) -> Variable:
        if ident not in self.variables:
            raise UnknownIdError(f"unknown variable '{ident}'", hint=self.suggest(ident))
        return self.variables[ident]

    def unit_of(self, ident: str) -> str:
        if ident in self.variables:
            return self.variables[ident].unit
        return self.constant_units[ident]

    def select(self, selection: Mapping[str, str] | None = None) -> dict[str, str]:
        """Active equation per group: the defaults, with `selection` applied.

        Raises `UnknownIdError` for an unknown group or an equation outside it.
        """
        chosen = {group: ids[0] for group, ids in self.groups.items()}
        for group, equation_id in (selection or {}).items():
            if group not in self.groups:
                if equation_id in self.equations and self.equations[equation_id].model.group:
                    hint = f"'{equation_id}' belongs to group '{self.equations[equation_id].model.group}'"
                else:
                    hint = "groups: " + ", ".join(sorted(self.groups)) if self.groups else "this registry has no groups"
                raise UnknownIdError(f"unknown alternative group '{group}'", hint=hint)
            if equation_id not in self.groups[group]:
                raise UnknownIdError(f"'{equation_id}' is not an alternative of '{group}'",
                                     hint="choose one of " + ", ".join(self.groups[group]))
            chosen[group] = equation_id
        return chosen

    def active_equations(self, selection: Mapping[str, str] | None = None) -> list[CompiledEquation]:
        """Equations in force: ungrouped ones plus the chosen one of each group."""
        chosen = set(self.select(selection).values())
        return [e for e in self.equations.values() if e.model.group is None or e.id in chosen]

    def defining_equations(self, selection: Mapping[str, str] | None = None) -> dict[str, CompiledEquation]:
        """variable -> the active equation that defines it."""
        return {e.defines: e for e in self.active_equations(selection) if e.defines is not None}


def _unit_texts(folders: list[Path]) -> tuple[tuple[str, str], ...]:
    """(path, text) of each layer's units.txt, in layer order."""
    files = [folder / "units.txt" for folder in folders]
    return tuple((str(f), read_text(f)) for f in files if f.is_file())


@functools.cache
def _code_fingerprint() -> str:
    """The code a snapshot's objects come from: the model package, the errors, Python and pydantic."""
    import pydantic

    package = Path(__file__).resolve().parent.parent
    files = sorted(package.glob("model/*.py")) + [package / "errors.py"]
    return cache.fingerprint(sys.version, pydantic.VERSION, *(f.read_bytes() for f in files))


def _snapshot_key(folders: list[Path]) -> str | None:
    """A fingerprint of everything a load reads, or None when a folder is missing (the load reports it)."""
    from gpu_stack.model.units import definitions_key

    if not all(folder.is_dir() for folder in folders):
        return None
    parts: list[str | bytes] = [_code_fingerprint(), definitions_key(_unit_texts(folders))]
    for folder in folders:
        parts += [str(folder), str(folder.resolve())]
        for path in source_files(folder):
            check_file_size(path)   # before reading it whole for the fingerprint
            try:
                parts += [str(path.relative_to(folder)), path.read_bytes()]
            except OSError:
                return None         # unreadable (a dangling link…): no snapshot; the load reports the file
    return cache.fingerprint(*parts)


@functools.lru_cache(maxsize=8)
def _cached(paths: tuple[str, ...]) -> Registry:
    registry = Registry.load(list(paths))
    # The registry lives as long as the process: move it (and the imported modules) out of
    # the collector's sight, so later full collections do not rescan tens of thousands of
    # objects that can never be garbage (at 20,000 equations these pauses dominated the
    # structural analysis). The young generations are swept first: freezing keeps garbage too.
    gc.collect(1)
    gc.freeze()
    return registry


def load_registry(paths: Iterable[str | Path] | None = None) -> Registry:
    """Load (and cache per process) a strict registry from layer folders.

    The loaded registry is kept for the life of the process and frozen out of
    the garbage collector (`gc.freeze`).
    """
    key = tuple(str(p) for p in (paths or ["builtin"]))
    return _cached(key)
