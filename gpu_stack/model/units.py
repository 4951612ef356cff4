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
from gpu_stack.model.limits import MAX_UNIT_CHARS, MAX_UNIT_EXPONENT, NUMBER

__all__ = ["Dimensions", "UnitSystem", "unit_system", "definitions_key", "format_dims", "check_unit_text"]

_INFORMATION_LINE = "bit = [information]"
_QUANTITY = re.compile(r"^\s*([-+]?" + NUMBER + r")\s*(.*?)\s*$")
_NOT_FINITE = re.compile(r"^\s*[-+]?(?:nan|inf|infinity)\b", re.IGNORECASE)


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


# ---------------------------------------------------------------- the unit grammar
# pint reads a unit string with its own expression evaluator, in Python integers:
# '10**10**10 W' runs until killed. So every unit string (and every units.txt
# definition) is read by this small grammar first, and only what it accepts
# reaches pint:
#
#     unit     := power { ['*' | '/'] power }          (a space multiplies: 'kW h')
#     power    := atom [ ('**' | '^') exponent ]        (no towers: a**b**c is refused)
#     atom     := NAME | NUMBER | '(' unit ')'
#     exponent := [sign] NUMBER | '(' [sign] INTEGER [ '/' INTEGER ] ')'   with |exponent| <= 12
#
# NAME is ASCII letters, '_' and digits after the first character; NUMBER a
# plain finite literal. Parentheses nest at most _MAX_UNIT_NESTING deep.

_UNIT_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>" + NUMBER + r")|(?P<op>\*\*|[*/^()+-]))")
_UNIT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_UNIT_NESTING = 8


def check_unit_text(text: str) -> None:
    """Refuse a unit string outside the unit grammar (above), with a `UnitError` saying what is wrong.

    Accepts 'W', 'USD/kW/month', 'W/(m^2*K)', 'm**3/s', 'kW h', '1/cm^2', '1e3 * FLOP';
    refuses '10**10**10 W', 'm**1000', 'W; offset: 3' before pint evaluates anything.
    """
    if len(text) > MAX_UNIT_CHARS:
        raise UnitError(f"unit string of {len(text)} characters; the limit is {MAX_UNIT_CHARS}")
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _UNIT_TOKEN.match(text, position)
        if match is None:
            raise UnitError(f"unit {text!r}: unexpected character {text[position:].lstrip()[0]!r}",
                            hint="a unit is names, numbers, * / ( ) and ** or ^ with a small exponent")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    _UnitGrammar(text, tokens).check()


class _UnitGrammar:
    """The recursive-descent reader of `check_unit_text` (depth bounded by _MAX_UNIT_NESTING)."""

    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def _error(self, message: str) -> UnitError:
        return UnitError(f"unit {self.text!r}: {message}",
                         hint=f"a unit is names, numbers, * / ( ) and ** or ^ with an exponent of at most "
                         f"{MAX_UNIT_EXPONENT} in size, e.g. 'W/(m^2*K)'")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, *ops: str) -> str | None:
        token = self._peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            self.index += 1
            return token[1]
        return None

    def check(self) -> None:
        if not self.tokens:
            return   # '' is dimensionless
        self.unit()
        token = self._peek()
        if token is not None:
            raise self._error(f"unexpected {token[1]!r}")

    def unit(self) -> None:
        self.power()
        while True:
            token = self._peek()
            if token is None or token[1] == ")":
                return
            if self._take("*", "/") is None and token[0] == "op" and token[1] != "(":
                raise self._error(f"unexpected {token[1]!r}")
            self.power()

    def power(self) -> None:
        self.atom()
        if self._take("**", "^") is not None:
            exponent = self.exponent()
            if abs(exponent) > MAX_UNIT_EXPONENT:
                raise self._error(f"exponent {exponent:g} is larger than {MAX_UNIT_EXPONENT}")
            if self._peek() is not None and self._peek()[1] in ("**", "^"):   # type: ignore[index]
                raise self._error("a power of a power (a**b**c) is not allowed")

    def atom(self) -> None:
        token = self._peek()
        if token is None:
            raise self._error("ends too early")
        self.index += 1
        kind, text = token
        if kind == "name":
            return
        if kind == "number":
            if not math.isfinite(float(text)):
                raise self._error(f"number {text} is not finite")
            return
        if text == "(":
            self.depth += 1
            if self.depth > _MAX_UNIT_NESTING:
                raise self._error(f"parentheses nest deeper than {_MAX_UNIT_NESTING}")
            self.unit()
            if self._take(")") is None:
                raise self._error("missing ')'")
            self.depth -= 1
            return
        raise self._error(f"unexpected {text!r}")

    def exponent(self) -> float:
        parenthesized = self._take("(") is not None
        sign = -1.0 if self._take("-", "+") == "-" else 1.0
        token = self._peek()
        if token is None or token[0] != "number":
            raise self._error("an exponent must be a number, e.g. m**2 or W^(1/2)")
        self.index += 1
        value = sign * float(token[1])
        if parenthesized:
            if self._take("/") is not None:
                denominator = self._peek()
                if denominator is None or denominator[0] != "number" or float(denominator[1]) == 0:
                    raise self._error("a fractional exponent is (INTEGER/INTEGER), e.g. W^(1/2)")
                self.index += 1
                value /= float(denominator[1])
            if self._take(")") is None:
                raise self._error("missing ')' after the exponent")
        return value


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
    return cache.fingerprint(str(folder), str(installed.st_mtime_ns), str(installed.st_size), _RULES,
                             "\n".join(_stock_definition_lines(folder)), *(text for _, text in definition_texts))


# The rules a units.txt passed (this file's code): a table cached by an older reader, which
# may have let a redefinition through, is not read back by a newer one.
_RULES = Path(__file__).read_bytes()


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
        layer_units: set[str] = set()
        for source, text in self.definition_texts:
            for number, raw in enumerate(text.splitlines(), start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    layer_units.add(_check_new_definition(ureg, line, layer_units))
                except UnitError as exc:
                    raise UnitError(exc.message, file=source, line=number, hint=exc.hint) from None
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
        check_unit_text(unit)   # before pint evaluates anything
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
        if match is None and _NOT_FINITE.match(text):
            raise UnitError(f"quantity {text!r} is not a finite number",
                            hint="write a finite number and a unit, e.g. '500 W'")
        if match is None:
            raise UnitError(
                f"cannot read quantity {text!r}",
                hint="write a number, a space and a unit, e.g. '500 W'",
            )
        value = float(match.group(1))
        if not math.isfinite(value):
            raise UnitError(f"quantity {text!r} is not a finite number",
                            hint="write a finite number; 1e308 is the largest a value may be")
        unit = match.group(2).strip() or "dimensionless"
        if unit.startswith("/"):  # '0.14/year' means 0.14 per year
            unit = "1" + unit
        self.parse(unit)
        return value, unit


_DEFINITION_HINT = "a layer's units.txt defines new units only: 'name = definition [= symbol] [= alias]…', " \
    "the definition a unit expression ('1000 * FLOP') or a new dimension ('[currency]')"


def _check_new_definition(ureg: Any, line: str, layer_units: set[str]) -> str:
    """The unit a units.txt line defines; refused when the line is not a plain new unit, or redefines
    what pint already knows.

    A layer may add units (and the base dimension a new unit stands for) but
    never change physics: redefining `watt`, `meter`, `kW` (kilo + watt), a
    prefix, a dimension or a unit an earlier line defined would silently
    rescale every value in it. A prefixed name of a unit the layers define
    (`kilowidget` after `widget`) may be given its own definition.
    Directives (@alias, @import, @group …), prefixes and derived dimensions
    are refused too; their definitions go beyond what the unit grammar reads.
    """
    if line.startswith("@"):
        raise UnitError(f"directive {line.split()[0]!r} is not allowed in a layer's units.txt", hint=_DEFINITION_HINT)
    parts = [part.strip() for part in line.split("=")]
    if len(parts) < 2 or not all(parts):
        raise UnitError(f"cannot read definition {line!r}", hint=_DEFINITION_HINT)
    name, definition, aliases = parts[0], parts[1], parts[2:]
    if name.endswith("-") or name.startswith("["):
        kind = "prefix" if name.endswith("-") else "dimension"
        raise UnitError(f"{line!r} defines a {kind}; a layer's units.txt may define units only", hint=_DEFINITION_HINT)
    for symbol in [name, *aliases]:
        if symbol == "_":
            continue
        if not _UNIT_NAME.fullmatch(symbol):
            raise UnitError(f"{symbol!r} is not a unit name (ASCII letters, '_', digits after the first)",
                            hint=_DEFINITION_HINT)
        readings = ureg.parse_unit_name(symbol)
        if symbol in ureg._units or symbol in ureg._prefixes or any(unit not in layer_units for _, unit, _ in readings):
            raise UnitError(f"{line!r} redefines the existing unit or prefix {symbol!r}",
                            hint="a layer may add units but never change one; choose a new name")
    if definition.startswith("["):
        if not re.fullmatch(r"\[[A-Za-z_][A-Za-z0-9_]*\]", definition):
            raise UnitError(f"cannot read dimension {definition!r}", hint=_DEFINITION_HINT)
        if definition in ureg._dimensions:
            raise UnitError(f"{line!r} redefines the existing dimension {definition}",
                            hint="a new base unit needs a new dimension; define other units of "
                            f"{definition} from its existing unit")
    else:
        check_unit_text(definition)
    return name


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
