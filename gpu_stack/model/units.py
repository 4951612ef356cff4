"""Units: a pint registry in which information, money, compute and tokens are
dimensions of their own.

pint's stock definitions make `bit` dimensionless, and redefining it after
loading does not reach `byte`, `GiB` …; so the stock file is loaded with
`bit` given the dimension `[information]` from the start, then each registry
layer's `units.txt` on top (currency, compute, token, …).
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import pint

from gpu_stack.errors import UnitError

__all__ = ["UnitSystem", "unit_system"]

_INFORMATION_LINE = "bit = [information]"
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def _stock_definition_lines() -> list[str]:
    folder = Path(pint.__file__).parent
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
    """A pint registry plus the conversions the engine needs.

    Values are carried in each variable's declared unit; equations are
    evaluated in pint's root units, so every declared unit has one factor
    `root_factor(unit)` with value_root = value_declared * factor.
    """

    def __init__(self, definition_texts: tuple[tuple[str, str], ...] = ()) -> None:
        self.ureg = pint.UnitRegistry(None, system="mks", autoconvert_offset_to_baseunit=False)
        self.ureg.load_definitions(_stock_definition_lines())
        for source, text in definition_texts:
            for number, raw in enumerate(text.splitlines(), start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    self.ureg.define(line)
                except Exception as exc:  # pint raises several kinds here
                    raise UnitError(
                        f"cannot define unit {line!r}: {exc}", file=source, line=number
                    ) from None
        self._cache: dict[str, tuple[float, pint.util.UnitsContainer]] = {}

    def parse(self, unit: str) -> tuple[float, pint.util.UnitsContainer]:
        """Return (factor to root units, dimensionality) of a unit string.

        Raises `UnitError` for unknown units and offset units (°C, °F).
        """
        cached = self._cache.get(unit)
        if cached is not None:
            return cached
        text = unit.strip() or "dimensionless"
        if text == "1":
            text = "dimensionless"
        try:
            parsed = self.ureg.parse_units(text)
            factor, _base = self.ureg.get_base_units(parsed)
            dims = self.ureg.get_dimensionality(parsed)
        except pint.errors.OffsetUnitCalculusError:
            raise UnitError(
                f"offset unit {unit!r} is not allowed", hint="use kelvin or delta_degC"
            ) from None
        except Exception as exc:
            raise UnitError(
                f"unknown unit {unit!r} ({type(exc).__name__}: {exc})",
                hint="see registry/units.txt and pint's unit names; write Gbit, not Gb",
            ) from None
        if not _is_multiplicative(self.ureg, parsed):
            raise UnitError(f"offset unit {unit!r} is not allowed", hint="use kelvin or delta_degC")
        factor = float(factor)
        if not math.isfinite(factor) or factor == 0:
            raise UnitError(f"unit {unit!r} has no usable conversion factor")
        self._cache[unit] = (factor, dims)
        return factor, dims

    def factor(self, unit: str) -> float:
        """Factor from `unit` to root units."""
        return self.parse(unit)[0]

    def dimensionality(self, unit: str) -> pint.util.UnitsContainer:
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


def _is_multiplicative(ureg: pint.UnitRegistry, units: pint.Unit) -> bool:
    for name in units._units:
        definition = ureg._units.get(name)
        if definition is not None and not definition.is_multiplicative:
            return False
    return True


def format_dims(dims: pint.util.UnitsContainer) -> str:
    """Human form of a dimensionality: '[mass] * [length] ** 2 / [time] ** 3'."""
    text = str(dims)
    return text if text else "dimensionless"


@functools.lru_cache(maxsize=8)
def unit_system(definition_texts: tuple[tuple[str, str], ...] = ()) -> UnitSystem:
    """A shared `UnitSystem` per set of `units.txt` texts (building one costs ~0.1 s)."""
    return UnitSystem(definition_texts)
