"""Units: a pint registry in which information, money, compute and tokens are
dimensions of their own.

pint's stock definitions make `bit` dimensionless, and redefining it after
loading does not reach `byte`, `GiB` …; so the stock file is loaded with
`bit` given the dimension `[information]` from the start, then each registry
layer's `units.txt` on top (currency, compute, token, …).

pint is slow to start: importing it and parsing its definition files takes
longer than anything a command does with it. All the engine asks of pint is,
per unit string, a factor to root units and a dimensionality; so a
`UnitSystem` keeps those answers in a table (dimensionalities as plain
`Dimensions` values) that is saved in the cache folder (`gpu_stack.model.cache`)
under a fingerprint of the definitions: pint's files, pint's install and
every `units.txt` text. A process with the same definitions answers from the
table and imports pint only for a unit string it has not seen; pint's parsed
definitions are cached the same way. A `units.txt` never loaded before is
parsed by pint at once, so a bad line is reported at load, with its line.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from gpu_stack.errors import UnitError
from gpu_stack.model import cache

__all__ = ["Dimensions", "UnitSystem", "unit_system", "definitions_key", "format_dims"]

_INFORMATION_LINE = "bit = [information]"
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class Dimensions:
    """A dimensionality: base dimensions and their exponents, e.g. power = [mass] [length]² / [time]³.

    Immutable and hashable; multiplies, divides and raises to a power like the
    quantities it describes. Equal exactly when every exponent is equal.
    """

    __slots__ = ("_exponents",)

    def __init__(self, exponents: Mapping[str, float] | Iterable[tuple[str, float]] = ()) -> None:
        pairs = exponents.items() if isinstance(exponents, Mapping) else exponents
        tidy = {name: _tidy(power) for name, power in pairs if power != 0}
        self._exponents: tuple[tuple[str, float], ...] = tuple(sorted(tidy.items()))

    def _combine(self, other: "Dimensions", sign: int) -> "Dimensions":
        merged = dict(self._exponents)
        for name, power in other._exponents:
            merged[name] = merged.get(name, 0) + sign * power
        return Dimensions(merged)

    def __mul__(self, other: "Dimensions") -> "Dimensions":
        return self._combine(other, 1)

    def __truediv__(self, other: "Dimensions") -> "Dimensions":
        return self._combine(other, -1)

    def __pow__(self, exponent: float) -> "Dimensions":
        return Dimensions((name, power * exponent) for name, power in self._exponents)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dimensions) and self._exponents == other._exponents

    def __hash__(self) -> int:
        return hash(self._exponents)

    def __bool__(self) -> bool:
        """False for dimensionless (as pint's dimensionalities are)."""
        return bool(self._exponents)

    def __getstate__(self) -> tuple[tuple[str, float], ...]:
        return self._exponents

    def __setstate__(self, state: tuple[tuple[str, float], ...]) -> None:
        self._exponents = state

    def __str__(self) -> str:
        """'[mass] * [length] ** 2 / [time] ** 3' style, positive exponents first, each side by name."""
        def term(name: str, power: float) -> str:
            return name if power == 1 else f"{name} ** {power:g}"
        above = [term(n, p) for n, p in self._exponents if p > 0]
        below = [term(n, -p) for n, p in self._exponents if p < 0]
        if not above and not below:
            return "dimensionless"
        text = " * ".join(above) if above else "1"
        return text + "".join(f" / {t}" for t in below)

    def __repr__(self) -> str:
        return f"Dimensions({dict(self._exponents)!r})"


def _tidy(power: float) -> float:
    """Exponents as ints where they are whole (sqrt of a square is the plain dimension again)."""
    rounded = round(power)
    return rounded if abs(power - rounded) < 1e-12 else power


def format_dims(dims: Dimensions) -> str:
    """Human form of a dimensionality: '[mass] * [length] ** 2 / [time] ** 3', or 'dimensionless'."""
    return str(dims)


def _pint_folder() -> Path:
    """pint's install folder, found without importing pint."""
    spec = importlib.util.find_spec("pint")
    if spec is None or spec.origin is None:
        raise UnitError("pint is not installed", hint="pip install pint")
    return Path(spec.origin).parent


@functools.lru_cache(maxsize=8)
def definitions_key(definition_texts: tuple[tuple[str, str], ...]) -> str:
    """A fingerprint of the unit definitions: pint's install and stock files, and each units.txt text."""
    folder = _pint_folder()
    installed = (folder / "__init__.py").stat()
    return cache.fingerprint(str(folder), str(installed.st_mtime_ns), str(installed.st_size),
                             "\n".join(_stock_definition_lines(folder)), *(text for _, text in definition_texts))


@functools.lru_cache(maxsize=1)
def _stock_definition_lines(folder: Path) -> list[str]:
    lines = (folder / "default_en.txt").read_text().splitlines()
    constants = (folder / "constants_en.txt").read_text().splitlines()
    out: list[str] = []
    for line in lines:
        if line.strip() == "@import constants_en.txt":
            out.extend(constants)
        elif line.strip() == "bit = []":
            out.append(_INFORMATION_LINE)
        else:
            out.append(line)
    return out


class UnitSystem:
    """The conversions the engine needs, answered by pint (once per unit string and definitions).

    Values are carried in each variable's declared unit; equations are
    evaluated in pint's root units, so every declared unit has one factor
    `root_factor(unit)` with value_root = value_declared * factor.
    """

    def __init__(self, definition_texts: tuple[tuple[str, str], ...] = ()) -> None:
        self.definition_texts = definition_texts
        self.key = definitions_key(definition_texts)
        self._ureg: Any = None
        self._unsaved = False
        table = cache.read("units", self.key)
        if isinstance(table, dict):
            self._table: dict[str, tuple[float, Dimensions]] = table   # these definitions loaded before
        else:
            self._table = {}
            self._registry()    # never loaded: parse now, so a bad units.txt line is reported at load
            self._remember()

    # ------------------------------------------------------------ pint, when needed
    def _registry(self) -> Any:
        """The pint registry, built on first need from cached (or freshly parsed) definitions."""
        if self._ureg is None:
            import pint

            ureg = pint.UnitRegistry(None, system="mks", autoconvert_offset_to_baseunit=False)
            definitions = cache.read("pint-definitions", self.key)
            if isinstance(definitions, list):
                for definition in definitions:
                    ureg.define(definition)
            else:
                cache.write("pint-definitions", self.key, self._define_from_text(ureg))
            self._ureg = ureg
        return self._ureg

    def _define_from_text(self, ureg: Any) -> list[Any]:
        """Parse and define the stock lines, then each units.txt line; the parsed definitions, in order.

        Parsing goes through pint's definition parser (what `load_definitions`
        and `define` do inside); the definition objects it gives are what pint's
        own disk cache keeps, and `ureg.define` takes them back.
        """
        parser = ureg._def_parser
        stock = "\n".join(_stock_definition_lines(_pint_folder()))
        definitions = list(parser.iter_parsed_project(parser.parse_string(stock)))
        for definition in definitions:
            ureg.define(definition)
        for source, text in self.definition_texts:
            for number, raw in enumerate(text.splitlines(), start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    parsed = list(parser.iter_parsed_project(parser.parse_string(line)))
                    for definition in parsed:
                        ureg.define(definition)
                except Exception as exc:  # pint raises several kinds here
                    raise UnitError(
                        f"cannot define unit {line!r}: {exc}", file=source, line=number
                    ) from None
                definitions.extend(parsed)
        return definitions

    def _parse_with_pint(self, unit: str) -> tuple[float, Dimensions]:
        import pint

        ureg = self._registry()
        text = unit.strip() or "dimensionless"
        if text == "1":
            text = "dimensionless"
        try:
            parsed = ureg.parse_units(text)
            factor, _base = ureg.get_base_units(parsed)
            dims = ureg.get_dimensionality(parsed)
        except pint.errors.OffsetUnitCalculusError:
            raise UnitError(
                f"offset unit {unit!r} is not allowed", hint="use kelvin or delta_degC"
            ) from None
        except Exception as exc:
            raise UnitError(
                f"unknown unit {unit!r} ({type(exc).__name__}: {exc})",
                hint="see registry/units.txt and pint's unit names; write Gbit, not Gb",
            ) from None
        if not _is_multiplicative(ureg, parsed):
            raise UnitError(f"offset unit {unit!r} is not allowed", hint="use kelvin or delta_degC")
        factor = float(factor)
        if not math.isfinite(factor) or factor == 0:
            raise UnitError(f"unit {unit!r} has no usable conversion factor")
        return factor, Dimensions(dict(dims))

    def _remember(self) -> None:
        """Save the table now, and once more at exit if later unit strings add to it."""
        cache.write("units", self.key, dict(self._table))
        self._unsaved = False

    def _save_at_exit(self) -> None:
        if self._unsaved:
            self._remember()

    # ------------------------------------------------------------ the engine's questions
    def parse(self, unit: str) -> tuple[float, Dimensions]:
        """Return (factor to root units, dimensionality) of a unit string.

        Raises `UnitError` for unknown units and offset units (°C, °F).
        """
        found = self._table.get(unit)
        if found is not None:
            return found
        found = self._parse_with_pint(unit)
        self._table[unit] = found
        if not self._unsaved:
            self._unsaved = True
            atexit.register(self._save_at_exit)
        return found

    def factor(self, unit: str) -> float:
        """Factor from `unit` to root units."""
        return self.parse(unit)[0]

    def dimensionality(self, unit: str) -> Dimensions:
        return self.parse(unit)[1]

    def convert(self, value: float, from_unit: str, to_unit: str) -> float:
        """Convert a number between two units of the same dimension."""
        f_from, d_from = self.parse(from_unit)
        f_to, d_to = self.parse(to_unit)
        if d_from != d_to:
            raise UnitError(
                f"cannot convert {from_unit!r} ({format_dims(d_from)}) "
                f"to {to_unit!r} ({format_dims(d_to)})"
            )
        if from_unit == to_unit:
            return float(value)
        return float(value) * f_from / f_to

    def quantity(self, text: str) -> tuple[float, str]:
        """Split a quantity string like '0.36 USD/kWh' into (number, unit)."""
        match = _QUANTITY.match(text)
        if match is None:
            raise UnitError(
                f"cannot read quantity {text!r}",
                hint="write a number, a space and a unit, e.g. '500 W'",
            )
        value = float(match.group(1))
        unit = match.group(2).strip() or "dimensionless"
        if unit.startswith("/"):  # '0.14/year' means 0.14 per year
            unit = "1" + unit
        self.parse(unit)
        return value, unit


def _is_multiplicative(ureg: Any, units: Any) -> bool:
    for name in units._units:
        definition = ureg._units.get(name)
        if definition is not None and not definition.is_multiplicative:
            return False
    return True


@functools.lru_cache(maxsize=8)
def unit_system(definition_texts: tuple[tuple[str, str], ...] = ()) -> UnitSystem:
    """A shared `UnitSystem` per set of `units.txt` texts."""
    return UnitSystem(definition_texts)
