"""Display units: the unit a value is shown in by the text output.

`--json` always carries values in each variable's declared unit; the tables
show durations, power, energy, mass and money in the largest unit of a ladder
that keeps the number at or above 1 (8,107,245 s → 93.83 day), and fractions
(dimensionless, min 0, max 1) in percent. The conversion itself is pint's,
through the registry's unit system: the ladders below name units, never
factors.
"""

from __future__ import annotations

import enum
import math

from gpu_stack.model.registry import Registry
from gpu_stack.model.units import UnitSystem

__all__ = ["UnitsMode", "human_unit", "fmt", "Display"]


class UnitsMode(str, enum.Enum):
    """Which units the text output shows values in."""

    human = "human"
    declared = "declared"


# (pint unit, label) per dimension, smallest first. pint has no 'billion'
# prefix: giga-USD is labelled BUSD.
_TIME = (("ns", "ns"), ("us", "µs"), ("ms", "ms"), ("s", "s"), ("min", "min"), ("hour", "hour"), ("day", "day"))
_LADDERS: tuple[tuple[tuple[str, str], ...], ...] = (
    _TIME,
    (("mW", "mW"), ("W", "W"), ("kW", "kW"), ("MW", "MW"), ("GW", "GW")),
    (("J", "J"), ("kJ", "kJ"), ("kWh", "kWh"), ("MWh", "MWh"), ("GWh", "GWh"), ("TWh", "TWh")),
    (("g", "g"), ("kg", "kg"), ("t", "t")),
    (("USD", "USD"), ("kUSD", "kUSD"), ("MUSD", "MUSD"), ("GUSD", "BUSD")),
)
_PERCENT = ("percent", "%")
# A duration beyond this many days is no wallclock but an aggregate (GPU-hours): it keeps its declared unit.
_LONGEST_DURATION_DAYS = 1000
_HUMAN_DIGITS = 4     # significant digits once a unit has been chosen for reading
_DECLARED_DIGITS = 7


def human_unit(units: UnitSystem, value: float, unit: str, *, fraction: bool = False) -> tuple[float, str]:
    """The value converted to the unit a reader takes in at a glance, and that unit's label.

    Parameters
    ----------
    units : UnitSystem
        The registry's pint units (`registry.units`), which do the conversion.
    value : float
        The value in `unit`.
    unit : str
        The declared unit of the value.
    fraction : bool
        The value is a dimensionless share in [0, 1]: shown in percent.

    Returns
    -------
    (value, label)
        A dimension with a ladder gets the largest rung at which |value| >= 1
        (the smallest rung below that) — except durations beyond 1000 days,
        aggregates such as GPU-hours, which keep their unit; a fraction gets
        '%'; any other dimensionless value an empty label; every other unit
        is kept.

    Examples
    --------
    8,107,245 s gives (93.83…, 'day'); 2.5e7 W gives (25.3…, 'MW'); 0.41 with
    `fraction` gives (41.0, '%'); 2.9e-6 USD/token is kept as it is.
    """
    dims = units.dimensionality(unit)
    if not dims:
        if fraction:
            return units.convert(value, unit, _PERCENT[0]), _PERCENT[1]
        return value, ""
    if value == 0 or not math.isfinite(value):
        return value, unit
    for ladder in _LADDERS:
        if units.dimensionality(ladder[0][0]) != dims:
            continue
        if ladder is _TIME and abs(units.convert(value, unit, "day")) > _LONGEST_DURATION_DAYS:
            return value, unit
        chosen = ladder[0]
        for rung in ladder:
            if abs(units.convert(value, unit, rung[0])) >= 1:
                chosen = rung
        return units.convert(value, unit, chosen[0]), chosen[1]
    return value, unit


def fmt(value: float | None, digits: int = _DECLARED_DIGITS) -> str:
    """A number for a table: `digits` significant digits, thousands separated in the readable range.

    Integers below 1e9 are written out; so are other values from 10**digits
    up to 1e9, rounded to a whole number (21,288 rather than 2.129e+04).
    """
    if value is None:
        return "—"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if not math.isfinite(value) or not 1e-3 <= magnitude < 1e9:
        return f"{value:.{digits}g}"
    if value == int(value) or magnitude >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


class Display:
    """How the text output shows a variable's value: human units or the registry's declared ones."""

    def __init__(self, registry: Registry, mode: UnitsMode = UnitsMode.human) -> None:
        self.registry = registry
        self.mode = UnitsMode(mode)

    def quantity(self, ident: str | None, value: float | None, unit: str) -> tuple[str, str]:
        """(number, unit label) of a value in `unit`; `ident` (a variable ID) tells fractions apart."""
        if self.mode is UnitsMode.declared or value is None:
            return fmt(value), unit
        scale, label = self.scale(ident, value, unit)
        return fmt(value * scale, _HUMAN_DIGITS), label

    def scale(self, ident: str | None, value: float, unit: str) -> tuple[float, str]:
        """(factor, unit label): the unit `quantity` picks for `value`, as a factor from `unit` (1 when declared),
        so values shown beside it can be given in the same unit."""
        if self.mode is UnitsMode.declared or value == 0:
            return 1.0, unit
        variable = self.registry.variables.get(ident) if ident else None
        fraction = variable is not None and variable.min == 0 and variable.max == 1 and not variable.integer
        shown, label = human_unit(self.registry.units, value, unit, fraction=fraction)
        return shown / value, label
