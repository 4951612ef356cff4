"""Malformed inputs, and how the answer to each is judged (issue 11: reliability).

One place for both fuzzers: `tests/test_fuzz.py` draws from these generators
through hypothesis (few examples, derandomized, inside the suite) and
`benchmarks/fuzz.py` draws thousands from a seeded `random.Random`. Every
generator takes the random source as its first argument and returns the
input together with a one-line description of it, the reproducer a failure
report prints.

What counts as a failure (`verdict`, `silent_wrong_answer`):
- a crash: exit 3 (the CLI's "internal error"), an exception escaping the
  command, or a traceback in the output;
- bad input without a message: exit 2 with nothing on stderr;
- a silent wrong answer: exit 0 with a non-finite number, or with a
  fractional value on an `integer = true` variable that was assigned or
  freed.
Hangs are judged by whoever runs the input (a subprocess with a timeout).
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

REPO = Path(__file__).resolve().parent.parent
BUILTIN_REGISTRY = REPO / "registry"
TOY = REPO / "tests" / "data" / "toy"
FIXTURE_SCENARIO = REPO / "scenarios" / "dense_training_cost_fixture.toml"
FIRST_ORDER_SCENARIO = REPO / "scenarios" / "runs" / "llama3_405b_h100_first_order.toml"
THROUGHPUT_PROBLEM = REPO / "problems" / "required_throughput_for_cost.toml"
DEADLINE_PROBLEM = REPO / "problems" / "llama3_405b_mfu_for_deadline.toml"

# Quantity and number texts that pint evaluates as a power tower: today they run for minutes (issue 11 item 3).
# Generators leave them out unless asked (`hang_prone=True`): only a run with a time limit (a subprocess) may
# meet them.
HANG_PRONE_UNITS = ("10**10**10 W", "10**10**10")


# --- a small real registry ---------------------------------------------------------------------------------

def small_registry(folder: Path) -> Path:
    """A registry folder `verify` passes in a tenth of a second: the toy layer on the built-in units,
    constants and references (the toy layer alone lacks USD). Returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TOY / "registry" / "toy.toml", folder / "toy.toml")
    for name in ("units.txt", "constants.toml"):
        shutil.copy(BUILTIN_REGISTRY / name, folder / name)
    constants = tomllib.loads((BUILTIN_REGISTRY / "constants.toml").read_text())["constant"]
    cited = {ref.partition(":")[0] for constant in constants for ref in constant.get("refs", [])}
    (folder / "references.toml").write_text((TOY / "registry" / "references.toml").read_text() + "\n"
                                            + _reference_sections(BUILTIN_REGISTRY / "references.toml", cited))
    return folder


def _reference_sections(path: Path, keys: set[str]) -> str:
    """The `[key]` sections of a references file whose key is in `keys`, as written (a registry of 1,300 lines of
    references takes most of a small registry's load time)."""
    kept, keep = [], False
    for line in path.read_text().split("\n"):
        header = re.match(r"\[([^\[\]]+)\]\s*$", line)
        if header:
            keep = header.group(1).strip() in keys
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def full_registry(folder: Path) -> Path:
    """A copy of the whole built-in registry (`verify` about 1.3 s). Returns `folder`."""
    shutil.copytree(BUILTIN_REGISTRY, folder)
    return folder


# --- TOML out (the subset scenario and problem files use) --------------------------------------------------

def _toml_string(text: str) -> str:
    # json's escapes are TOML's, except that TOML forbids a literal DEL and lone surrogates
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def toml_value(value: Any) -> str:
    """A Python value as TOML (inline tables for dicts; nan and ±inf as TOML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def toml_dumps(data: Mapping[str, Any]) -> str:
    """A document: plain keys first, then one [table] per dict and [[table]] per list of dicts."""
    def is_table_array(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    lines = [f"{_toml_key(k)} = {toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not is_table_array(v)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{_toml_key(key)}]", *(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())]
        elif is_table_array(value):
            for item in value:
                lines += ["", f"[[{_toml_key(key)}]]", *(f"{_toml_key(k)} = {toml_value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


# --- expression texts --------------------------------------------------------------------------------------

_IDS = ("gpu.tdp", "a.b", "training.t_step", "x", "a.b.c", "yield.x", "gpu.power.total", "a__b.c", "_a.b")
_FUNCTIONS = ("exp", "log", "sqrt", "max", "min", "abs", "ceil", "floor", "if_else", "eval", "__import__",
              "os.system", "getattr", "open")
_NUMBERS = ("1", "2.5", "0", "1e3", "1e-3", "1E+3", ".5", "5.", "1e999", "1e-999", "9" * 400, "0x10", "1_000",
            "١٢٣", "１２", "𝟏", "²", "1e", "1..2", "-0")
_UNITS = ("[W]", "[m/s]", "[USD/token]", "[FLOP/s]", "[]", "[W**2]", "[1/s]", "[kg m]", "[Wattz]", "[W", "[[W]]",
          "[10**3 W]", "[°C]")
_OPERATORS = ("+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "=", "!=", ",", "%", "//", "&", "|", "^", "~",
              "@", ":", ";", ".", "!", "?")
_UNICODE = ("é", "一", "\u00a0", "\u200b", "\u2028", "−", "×", "÷", "∞", "π", "ℯ", "\ufeff", "\t", "\n", "\x00",
            "😀", "\u0301", "ﬁ", "Ⅻ", "¹")
_PUNCTUATION = "()[]{}'\"\\`$#"


def _atom(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.35:
        return rng.choice(_IDS)
    if pick < 0.7:
        number = rng.choice(_NUMBERS)
        return f"{number} {rng.choice(_UNITS)}" if rng.random() < 0.25 else number
    if pick < 0.8:
        return rng.choice(_UNICODE) + rng.choice(_IDS)
    return rng.choice(_PUNCTUATION)


def _expression(rng: random.Random, depth: int) -> str:
    """A mostly well-formed expression, `depth` levels deep at most."""
    if depth <= 0 or rng.random() < 0.3:
        return _atom(rng)
    shape = rng.random()
    if shape < 0.45:
        return f"{_expression(rng, depth - 1)} {rng.choice(_OPERATORS)} {_expression(rng, depth - 1)}"
    if shape < 0.6:
        return f"({_expression(rng, depth - 1)})"
    if shape < 0.7:
        return f"{rng.choice('-+')}{_expression(rng, depth - 1)}"
    arguments = ", ".join(_expression(rng, depth - 1) for _ in range(rng.randint(0, 3)))
    return f"{rng.choice(_FUNCTIONS)}({arguments})"


def _corrupt(rng: random.Random, text: str) -> str:
    """Delete, duplicate, insert or swap a few characters."""
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(chars) + 1)
        action = rng.random()
        if action < 0.3 and position < len(chars):
            del chars[position]
        elif action < 0.5 and position < len(chars):
            chars.insert(position, chars[position])
        elif action < 0.8:
            chars.insert(position, rng.choice([*_OPERATORS, *_UNICODE, *_PUNCTUATION, "1", " ", "a.b"]))
        elif len(chars) > 1:
            other = rng.randrange(len(chars))
            position = min(position, len(chars) - 1)
            chars[position], chars[other] = chars[other], chars[position]
    return "".join(chars)


# Deep nesting: (text to repeat, innermost text, text to close with). Recursive descent meets Python's
# recursion limit somewhere between 150 and 300 levels today (issue 11 item 3).
NESTINGS = (("(", "1", ")"), ("-", "1", ""), ("exp(", "1", ")"), ("2 ** ", "2", ""), ("max(1, ", "1", ")"),
            ("if_else(a.b < 1, ", "1", ", 2)"), ("[", "1", "]"))


def nested_text(shape: tuple[str, str, str], depth: int) -> str:
    """`depth` levels of one nesting shape."""
    opening, inner, closing = shape
    return opening * depth + inner + closing * depth


def long_sum(terms: int) -> str:
    """A flat sum of `terms` IDs and numbers: long but not deep (the tree is, though: left-associative)."""
    return " + ".join("a.b" if i % 2 else str(i) for i in range(terms))


def parser_text(rng: random.Random, *, max_depth: int = 120, max_terms: int = 2000) -> tuple[str, str]:
    """One input for the expression parser and its kind.

    Kinds: random characters (ASCII and Unicode), a corrupted or well-formed
    generated expression, an equation (one '=' or several), deep nesting (up
    to `max_depth`), a long flat sum (up to `max_terms`). The bounds keep the
    text inside what today's parser survives; the fuzz run raises them.
    """
    kind = rng.choice(("characters", "unicode", "expression", "corrupted", "equation", "nesting", "long"))
    if kind == "characters":
        alphabet = "abcxyz._()[]+-*/<=>,0123456789 eE'\"\\:;!@#$%^&`~{}|?"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
    elif kind == "unicode":
        text = "".join(chr(rng.choice((rng.randint(32, 0x2FFF), rng.randint(0x1F000, 0x1FAFF), rng.randint(0, 31))))
                       for _ in range(rng.randint(1, 30)))
    elif kind == "expression":
        text = _expression(rng, rng.randint(1, 6))
    elif kind == "corrupted":
        text = _corrupt(rng, _expression(rng, rng.randint(1, 6)))
    elif kind == "equation":
        sides = [_expression(rng, rng.randint(0, 4)) for _ in range(rng.choice((1, 2, 2, 2, 3)))]
        text = " = ".join(sides)
    elif kind == "nesting":
        text = nested_text(rng.choice(NESTINGS), rng.randint(1, max_depth))
    else:
        text = long_sum(rng.randint(2, max_terms))
    return text, kind


# --- mutated registry folders ------------------------------------------------------------------------------

# Replacement values for a `key = value` line of a registry TOML file. NaN, infinities and overflowing numbers are
# read by TOML as floats; issue 11 wants them refused where a number enters.
NON_FINITE_TOML = ("nan", "inf", "-inf", "+inf", "1e999", "-1e999", '"1e999 W"', '"nan W"', '"inf W"')
HUGE_TOML = ("1e308", "-1e308", "1e-320", "9" * 40, "-" + "9" * 40, "1.7976931348623157e308", "5e-324")
WRONG_TYPE_TOML = ('"x"', '""', "true", "false", "[]", '["a"]', "[1, 2]", "{}", '{ a = 1 }', "1979-05-27", "0",
                   "-1", "2.5", '"yes"', '"no"', '"' + "x" * 300 + '"')
BROKEN_UNITS = ("Wattz", "W**", "W W", "10**3 W", "W**1000", "1/0", "[W]", "", " ", "degC", "°C", "W/", "(W",
                "W**0.5", "USD**-2", "s**1e9", "kg**(1/0)", "m\u00b2", "µs", "meter)", "lambda: 1", "__class__")


@dataclass
class Mutation:
    """A change made to one file, written so that a reader can redo it."""

    kind: str
    file: str
    line: int | None
    before: str
    after: str
    must_refuse: bool = False   # a change issue 11 wants refused: `ok` after it is a silent wrong answer

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.kind} at {where}: {self.before!r} -> {self.after!r}"[:600]


# units.txt lines that change an existing unit, prefix or dimension: issue 11 item 4 wants each refused
REDEFINITIONS = ("watt = 2 * joule / second", "meter = [length]", "USD = 2 * FLOP", "kilo- = 10**6",
                 "[length] = [time]")
REGISTRY_MUTATIONS = ("delete_line", "duplicate_line", "duplicate_block", "wrong_type", "non_finite", "huge_number",
                      "break_unit", "break_equation", "rename_key", "units_line", "truncate", "non_utf8")


def _value_lines(lines: list[str], keys: Iterable[str] | None = None) -> list[int]:
    wanted = set(keys) if keys is not None else None
    found = []
    for index, line in enumerate(lines):
        match = re.match(r"\s*([A-Za-z_]+)\s*=", line)
        if match and (wanted is None or match.group(1) in wanted):
            found.append(index)
    return found


def mutate_registry(rng: random.Random, folder: Path, kind: str | None = None, *,
                    hang_prone: bool = False) -> Mutation:
    """Change one line (or one block, or the encoding) of one file of a registry folder, in place.

    `kind` is one of REGISTRY_MUTATIONS (random when None); `hang_prone`
    makes 'break_unit' and 'units_line' write, half of the time, a power
    tower pint evaluates for minutes today.
    """
    kind = kind or rng.choice(REGISTRY_MUTATIONS)
    tomls = sorted(p for p in folder.rglob("*.toml") if p.name != "references.toml")
    units_file = folder / "units.txt"
    if kind == "units_line":
        path = units_file
    elif kind in ("delete_line", "duplicate_line", "truncate", "non_utf8"):
        path = rng.choice([*tomls, units_file, folder / "references.toml"])
    else:
        path = rng.choice(tomls)
    raw = path.read_bytes()
    name = str(path.relative_to(folder))
    if kind == "non_utf8":
        position = rng.randrange(len(raw) + 1)
        bad = rng.choice((b"\xff", b"\xc3\x28", b"\x80\x80", b"\xed\xa0\x80"))
        path.write_bytes(raw[:position] + bad + raw[position:])
        return Mutation(kind, name, raw.count(b"\n", 0, position) + 1, "", "invalid UTF-8 bytes")
    text = raw.decode()
    lines = text.split("\n")
    if kind == "truncate":
        cut = rng.randrange(len(text) + 1)
        path.write_text(text[:cut])
        return Mutation(kind, name, text.count("\n", 0, cut) + 1, text[cut:cut + 40], "<end of file>")
    if kind == "delete_line":
        index = rng.randrange(len(lines))
        before = lines.pop(index)
        path.write_text("\n".join(lines))
        return Mutation(kind, name, index + 1, before, "")
    if kind == "duplicate_line":
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index])
        path.write_text("\n".join(lines))
        return Mutation(kind, name, index + 1, lines[index], lines[index] + " (twice)")
    if kind == "duplicate_block":
        starts = [i for i, line in enumerate(lines) if line.strip().startswith("[[")]
        if not starts:
            return mutate_registry(rng, folder, "delete_line")
        first = rng.randrange(len(starts))
        start = starts[first]
        end = starts[first + 1] if first + 1 < len(starts) else len(lines)
        block = lines[start:end]
        lines[end:end] = block
        path.write_text("\n".join(lines))
        return Mutation(kind, name, start + 1, lines[start], "the same block again (a duplicate ID)")
    if kind == "units_line":
        units = text.split("\n")
        index = rng.randrange(len(units) + 1)
        new_line = rng.choice((
            "widget = [widget]", *REDEFINITIONS, "meter = 2 * foot", "FLOP = [compute]", "= W", "W =", "=",
            "x = y = z = w", "@alias W = Wx",
            "@defaults", "@end", "foo = nan * W", "foo = inf * W", "foo = 1e999 * W", "foo = 10**300 * W",
            "foo = bar", "foo = [bar] * W", "token = [token]", "# only a comment", "\t", "1 = W", "é = W",
            "yoctoW = 1e-24 * W", "x" * 300 + " = W", "foo = 1 / 0 * W"))
        if hang_prone and rng.random() < 0.5:
            new_line = "foo = 10**10**10 * W"
        if units and index < len(units) and rng.random() < 0.3:
            before = units.pop(index)
            path.write_text("\n".join(units))
            return Mutation(kind, name, index + 1, before, "")
        units.insert(index, new_line)
        path.write_text("\n".join(units))
        return Mutation(kind, name, index + 1, "", new_line, must_refuse=new_line in REDEFINITIONS)
    # the remaining kinds change one `key = value` line of a TOML file
    keys = {"wrong_type": None, "non_finite": ("min", "max", "nominal", "value"),
            "huge_number": ("min", "max", "nominal", "value"), "break_unit": ("unit", "value"),
            "break_equation": ("eq", "expr", "valid"), "rename_key": None}[kind]
    candidates = _value_lines(lines, keys)
    if not candidates:
        return mutate_registry(rng, folder, "wrong_type")
    index = rng.choice(candidates)
    before = lines[index]
    key, _, old = before.partition("=")
    key = key.strip()
    if kind == "rename_key":
        new_key = rng.choice((key + "x", key[:-1], key.upper(), "__" + key, key + " ", "x" * 100, "é"))
        after = f"{_toml_key(new_key)} = {old.strip()}"
    elif kind == "wrong_type":
        after = f"{key} = {rng.choice(WRONG_TYPE_TOML)}"
    elif kind == "non_finite":
        value = rng.choice(NON_FINITE_TOML)
        if key == "value" and not value.startswith('"'):
            value = f'"{value} W"'
        after = f"{key} = {value}"
    elif kind == "huge_number":
        value = rng.choice(HUGE_TOML)
        after = f'{key} = "{value} W"' if key == "value" else f"{key} = {value}"
    elif kind == "break_unit":
        unit = rng.choice(HANG_PRONE_UNITS if hang_prone and rng.random() < 0.5 else BROKEN_UNITS)
        after = f'{key} = {_toml_string("5 " + unit if key == "value" else unit)}'
    else:  # break_equation
        old_text = old.strip().strip("\"'")
        new_text = _corrupt(rng, old_text) if rng.random() < 0.6 else parser_text(rng)[0]
        after = f"{key} = {_toml_string(new_text)}"
    lines[index] = after
    path.write_text("\n".join(lines))
    return Mutation(kind, name, index + 1, before, after, must_refuse=kind == "non_finite")


# --- mutated scenario and problem files --------------------------------------------------------------------

# Values of a wrong type or out of the finite range, for any key of a scenario or problem file.
WRONG_VALUES: tuple[Any, ...] = (5, -1, 0, 2.5, True, False, "", "x", [], [""], [5], ["a", 5], [[]], {}, {"a": 1},
                                 {"min": "x"}, "nope.nope", "../" * 20 + "etc/passwd", "x" * 300)
NON_FINITE_VALUES: tuple[Any, ...] = (math.nan, math.inf, -math.inf, "nan", "inf", "1e999", "nan W", "inf W",
                                      "1e999 W", "-1e999 W", "5e308 W", 10 ** 400)
ODD_QUANTITIES: tuple[Any, ...] = ("5 10**300 W", "5 W**1000", "5 10**10**2 W", "5 W**-1000", "1e-400 W",
                                   "٥ W", "５ W", "5\u00a0W", "5 W W", "5 [W]", "5W", "W", "5 kWh/s", "5 ", " 5 W ",
                                   "0x10 W", "1_000 W", "5 watt", "5 Wattz", 10 ** 30, 1e308, 5e-324, "2.5", "-0")

SCENARIO_MUTATIONS = ("wrong_type", "non_finite", "odd_quantity", "delete_key", "unknown_key", "delete_line",
                      "duplicate_line", "non_utf8")
# the keys whose wrong type issue 11 names, and where values live
SCENARIO_KEYS = ("kind", "description", "extends", "outputs", "assign", "select")
PROBLEM_KEYS = ("description", "scenarios", "assign", "target", "free", "objective", "constraint", "select",
                "outputs")


def _value_paths(data: Mapping[str, Any], top_keys: Iterable[str]) -> list[tuple[str, ...]]:
    """Key paths worth changing: the named top-level keys, every entry of their tables, and free-table fields."""
    paths: list[tuple[str, ...]] = [(k,) for k in top_keys]
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                paths.append((key, inner))
                if isinstance(item, dict):
                    paths += [(key, inner, field_) for field_ in item]
    return paths


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = data
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value


def _delete(data: dict[str, Any], path: tuple[str, ...]) -> None:
    target: Any = data
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target.pop(path[-1], None)


def scenario_or_problem_base(path: Path) -> dict[str, Any]:
    """A shipped scenario or problem file as data, with paths made absolute so a copy elsewhere still works."""
    data = tomllib.loads(path.read_text())
    folder = path.parent
    for key in ("extends", "scenarios"):
        refs = data.get(key)
        if isinstance(refs, list):
            data[key] = [str((folder / ref).resolve()) for ref in refs]
    return data


def mutate_document(rng: random.Random, data: dict[str, Any], top_keys: Iterable[str], destination: Path,
                    kind: str | None = None) -> Mutation:
    """Write `data` with one change to `destination` (a scenario or problem file).

    `kind` is one of SCENARIO_MUTATIONS (random when None): a wrong type or a
    non-finite value for one key or entry, an odd quantity string, a key
    removed or invented, a line deleted or doubled, bytes that are not UTF-8.
    """
    kind = kind or rng.choice(SCENARIO_MUTATIONS)
    data = json.loads(json.dumps(data))  # a deep copy
    name = destination.name
    if kind in ("delete_line", "duplicate_line", "non_utf8"):
        lines = toml_dumps(data).split("\n")
        index = rng.randrange(len(lines))
        before = lines[index]
        if kind == "delete_line":
            del lines[index]
            after = ""
        elif kind == "duplicate_line":
            lines.insert(index, before)
            after = before + " (twice)"
        else:
            lines[index] = before + "\udcff"
            after = before + " + byte 0xff"
        destination.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
        return Mutation(kind, name, index + 1, before, after)
    paths = _value_paths(data, top_keys)
    path = rng.choice(paths)
    before = repr(_get(data, path))
    if kind == "delete_key":
        _delete(data, path)
        after = "<deleted>"
    elif kind == "unknown_key":
        path = (*path[:-1], rng.choice(("extend", "output", "targets", "frees", "x" * 100, "é", "")))
        value = rng.choice(WRONG_VALUES)
        _set(data, path, value)
        before, after = "<absent>", repr(value)
    else:
        pool = {"wrong_type": WRONG_VALUES, "non_finite": NON_FINITE_VALUES, "odd_quantity": ODD_QUANTITIES}[kind]
        value = rng.choice(pool)
        _set(data, path, value)
        after = repr(value)
    destination.write_text(toml_dumps(data))
    return Mutation(f"{kind} {'.'.join(path)}", name, None, before, after)


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    target: Any = data
    for key in path:
        if not isinstance(target, Mapping) or key not in target:
            return "<absent>"
        target = target[key]
    return target


# --- malformed command lines -------------------------------------------------------------------------------

_GOOD_IDS = ("gpu.tdp", "econ.cost.per_token", "training.wallclock", "par.dp.degree", "gpu.power.total",
             "econ.job.capex_rate", "gpu.peak_flops_power_limited", "training.stall_fraction", "arch.n_layers")
_BAD_IDS = ("gpu.tdpp", "", " ", "x" * 300, "gpu.tdp.__class__", "../etc", "é", "gpu..tdp", "-gpu.tdp", "--json",
            "gpu.tdp=5", "１", "\x00", "a" * 5000)
_PRESETS = ("dense_training_cost_fixture", "runs.llama3_405b_h100_first_order", "nosuch", "x" * 300, "", "/", ".",
            "/etc/passwd", "scenarios.", "../../x", "runs/llama3_405b_h100.toml", "\x00", "a" * 5000)
_VALUES = ("5", "5 W", "-5 W", "nan", "inf", "-inf", "1e999", "1e999 W", "5e308 W", "2.5", "0", "-0", "5 kg", "",
           "W", "١٢٣", "5 10**300 W", "5 W**1000", "16.5", "1e-400", "x" * 300, "5 Wattz", "0x10", "1_000",
           "5 [W]", "(5)", "5 W = 6 W")


def _assign_text(rng: random.Random, values: tuple[str, ...]) -> str:
    form = rng.random()
    if form < 0.8:
        return f"{rng.choice(_GOOD_IDS + _BAD_IDS[:4])}={rng.choice(values)}"
    return rng.choice(("gpu.tdp", "=5", "gpu.tdp=", "==", "gpu.tdp==5", "=", "gpu.tdp 5"))


def _free_text(rng: random.Random) -> str:
    ident = rng.choice(_GOOD_IDS + _BAD_IDS[:3])
    bounds = rng.choice(("", "=1:2", "=16:187", "=16.5:30.5", "=:", "=a:b", "=2:1", "=nan:inf", "=-inf:inf",
                         "=1e999:", "=1", "=1:2:3", "=100 TFLOP/s:10000 TFLOP/s", "=0:1e308", "=5 kg:6 kg"))
    return ident + bounds


def _expression_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(("econ.cost.per_token", "training.tokens_per_sec", "gpu.tdp * 2", "nan", "1e999",
                           "os.system(1)", "(" * 400 + "1" + ")" * 400, "gpu.tdp <= 5 [W]", ""))
    return parser_text(rng)[0]


def malformed_call(rng: random.Random, *, hang_prone: bool = False) -> list[str]:
    """A command line mixing valid and malformed commands, IDs, presets, values and flags.

    With `hang_prone`, a resolve or solve with an --assign or --target of a
    power tower pint evaluates for minutes today: run it with a time limit.
    """
    command = rng.choice(("resolve", "resolve", "solve", "solve", "solve", "explain", "cone", "sensitivity", "verify",
                          "list", "stats", "scenario-report", "root-debt", "nosuch", "--json"))
    if hang_prone:
        command = rng.choice(("resolve", "solve"))
    args = [command]
    if command in ("resolve", "explain", "cone", "sensitivity"):
        args.append(rng.choice(_GOOD_IDS + _BAD_IDS))
    elif command == "list":
        args.append(rng.choice(("scenarios", "problems", "variables", "equations", "nothing", "")))
    elif command == "scenario-report":
        args.append(rng.choice(_PRESETS))
    elif command == "solve" and rng.random() < 0.3:
        args.append(rng.choice((str(THROUGHPUT_PROBLEM), str(DEADLINE_PROBLEM), "required_throughput_for_cost",
                                "problems.nosuch", "x" * 300, "/", str(FIXTURE_SCENARIO))))
    for _ in range(rng.randint(0, 6)):
        flag = rng.choice(("--preset", "--preset", "--assign", "--assign", "--select", "--target", "--target",
                           "--free", "--free", "--minimize", "--maximize", "--constraint", "--units", "--registry",
                           "--json", "--trace", "--missing", "--constraints", "--profile", "--direction", "--limit",
                           "--nosuch", "-x", "--"))
        if flag == "--preset":
            args += [flag, rng.choice(_PRESETS)]
        elif flag == "--assign":
            args += [flag, _assign_text(rng, _VALUES)]
        elif flag == "--select":
            args += [flag, rng.choice(("arch.flops_per_token=nope", "gpu.tdp=x", "=", "x", "a=b=c", ""))]
        elif flag == "--target":
            args += [flag, _assign_text(rng, _VALUES)]
        elif flag == "--free":
            args += [flag, _free_text(rng)]
        elif flag in ("--minimize", "--maximize", "--constraint"):
            args += [flag, _expression_text(rng)]
        elif flag == "--units":
            args += [flag, rng.choice(("human", "declared", "HUMAN", "si", ""))]
        elif flag == "--registry":
            args += [flag, rng.choice(("builtin", "/nonexistent", str(FIXTURE_SCENARIO), "/", "", "x" * 300))]
        elif flag == "--profile":
            args += [flag, rng.choice(("fast", "slow", ""))]
        elif flag == "--direction":
            args += [flag, rng.choice(("up", "down", "sideways"))]
        elif flag == "--limit":
            args += [flag, rng.choice(("3", "-1", "0", "x", "1e999", "99999999999999999999"))]
        else:
            args.append(flag)
    if hang_prone:
        args += [rng.choice(("--assign", "--target")), f"{rng.choice(_GOOD_IDS)}=5 {HANG_PRONE_UNITS[0]}"]
    if rng.random() < 0.5 and "--json" not in args:
        args.append("--json")
    return args


def sensible_solve_call(rng: random.Random) -> tuple[list[str], str | None]:
    """A well-formed question behind one of issue 11's silent wrong answers, and, when `ok` is itself the wrong
    answer (an optimum at infinity, a free variable the objective does not reach), why."""
    fixture = ["solve", "--preset", "dense_training_cost_fixture"]
    return rng.choice((
        (["solve", "--preset", "runs.llama3_405b_h100_first_order", "--target",
          f"training.wallclock={rng.uniform(60, 95):.6g} day", "--free", "par.dp.degree=16:187", "--json"], None),
        ([*fixture, "--minimize", "econ.cost.per_token", "--free", "gpu.peak_flops_power_limited", "--json"],
         "ok although the optimum lies at infinity (unbounded)"),
        ([*fixture, "--maximize", "training.tokens_per_sec", "--free", "gpu.peak_flops_power_limited", "--json"],
         "ok although the optimum lies at infinity (unbounded)"),
        ([*fixture, "--minimize", "econ.cost.per_token", "--free", "econ.job.capex_rate", "--free", "arch.n_layers",
          "--json"], "ok although arch.n_layers is outside the objective's cone (underdetermined)"),
        ([*fixture, "--target", f"econ.cost.per_token={rng.uniform(2, 4):.6g}e-6 USD/token", "--free",
          "econ.job.capex_rate", "--json"], None),
        (["resolve", "par.n_gpus", "--preset", "runs.llama3_405b_h100_first_order", "--assign",
          f"par.dp.degree={rng.choice((2.5, 16, 127.5))}", "--trace", "--json"], None),
    ))


# --- judging an answer -------------------------------------------------------------------------------------

def verdict(exit_code: int, stdout: str, stderr: str, exception: BaseException | None = None) -> str | None:
    """None when a command's end is an acceptable answer to any input; otherwise why it is a crash.

    Acceptable: exit 0 or 1 (an answer), or exit 2 with a message on stderr
    (`error: …` from gpu-stack, or click's usage error) and no traceback.
    """
    if exception is not None and not isinstance(exception, SystemExit):
        return f"crash: uncaught {type(exception).__name__}: {exception}"[:300]
    if exit_code == 3 or "internal error" in stderr:
        return "crash: exit 3: " + stderr.strip().splitlines()[0][:300] if stderr.strip() else "crash: exit 3"
    if "Traceback (most recent call last)" in stdout + stderr:
        return "crash: traceback in the output"
    if exit_code not in (0, 1, 2):
        return f"crash: exit {exit_code}"
    if exit_code == 2 and not stderr.strip():
        return "exit 2 without a message"
    return None


_NON_FINITE_WORD = re.compile(r"(?<![\w.])[-+]?(?:nan|inf|infinity)(?![\w.])", re.I)


def _numbers(data: Any) -> Iterable[tuple[str, Any]]:
    """(path, value) of every number-like leaf of a JSON answer."""
    if isinstance(data, dict):
        for key, value in data.items():
            for path, leaf in _numbers(value):
                yield (f"{key}.{path}" if path else key), leaf
    elif isinstance(data, list):
        for index, value in enumerate(data):
            for path, leaf in _numbers(value):
                yield (f"{index}.{path}" if path else str(index)), leaf
    else:
        yield "", data


def silent_wrong_answer(args: list[str], exit_code: int, stdout: str,
                        integer_variables: Callable[[str], bool]) -> str | None:
    """Why an answered (exit 0) command's output is wrong although it says ok, or None.

    Non-finite numbers anywhere in the answer; a fractional value on an
    integer variable that the question assigned or freed.
    """
    if exit_code != 0:
        return None
    if "--json" not in args:
        match = _NON_FINITE_WORD.search(stdout)
        return f"non-finite value in the answer: {match.group()!r}" if match else None
    try:
        data = json.loads(stdout)
    except ValueError:
        return None  # `list` and friends print JSON too; a non-JSON answer has no numbers to judge
    for path, value in _numbers(data):
        if isinstance(value, float) and not math.isfinite(value):
            return f"non-finite value at {path}: {value}"
        if isinstance(value, str) and _NON_FINITE_WORD.fullmatch(value.strip()):
            return f"non-finite value at {path}: {value}"
    if not isinstance(data, dict) or data.get("status") != "ok":
        return None
    chosen = {text.partition("=")[0].strip() for flag, text in zip(args, args[1:]) if flag in ("--assign", "--free")}
    assigned = {step["id"]: step for step in data.get("trace", []) if step.get("source") in ("assign", "override")}
    for ident, item in {**data.get("free", {}), **assigned}.items():
        value = item.get("value") if isinstance(item, dict) else None
        if ident in chosen and isinstance(value, float) and integer_variables(ident) and value != round(value):
            return f"ok with {ident} = {value} on an integer variable"
    return None


# --- inverses ----------------------------------------------------------------------------------------------

@dataclass
class InverseCheck:
    """One perturbed inverse and what re-resolving its answer forward gave."""

    question: str
    status: str
    free: dict[str, float] = field(default_factory=dict)
    worst_miss: float = 0.0          # largest relative miss of a target, forward
    problems: list[str] = field(default_factory=list)   # silent wrong answers found


INVERSES = ("throughput_for_cost", "stall_for_deadline", "dp_degree_for_deadline")


def perturbed_inverse(registry: Any, which: str, factor: float) -> InverseCheck:
    """Solve one inverse with its target scaled by `factor`; when `ok`, put the free values back as assignments
    and resolve the targets forward with the audit resolver (`gpu_stack.audit.resolver.resolve`).

    which: 'throughput_for_cost' (problems/required_throughput_for_cost.toml),
    'stall_for_deadline' (problems/llama3_405b_mfu_for_deadline.toml) or
    'dp_degree_for_deadline' (issue 11: the first-order Llama run, target
    wallclock, free the integer par.dp.degree in 16..187).
    """
    from gpu_stack.audit.resolver import resolve
    from gpu_stack.core import Assignment
    from gpu_stack.model.problems import inline_problem, load_problem
    from gpu_stack.model.scenarios import load_scenario
    from gpu_stack.solver.solve import solve_problem

    if which == "dp_degree_for_deadline":
        days = 80 * factor
        problem = inline_problem(registry, [load_scenario(registry, "runs.llama3_405b_h100_first_order")],
                                 targets=[f"training.wallclock={days!r} day"], free=["par.dp.degree=16:187"])
        question = f"solve --preset runs.llama3_405b_h100_first_order --target 'training.wallclock={days!r} day' " \
                   f"--free par.dp.degree=16:187"
    else:
        path = THROUGHPUT_PROBLEM if which == "throughput_for_cost" else DEADLINE_PROBLEM
        problem = load_problem(registry, path)
        for ident in problem.targets:
            problem.targets[ident] *= factor
        question = f"solve {path.relative_to(REPO)} with " + ", ".join(
            f"target {ident} = {value!r} {registry.variables[ident].unit}" for ident, value in problem.targets.items())
    answer = solve_problem(registry, problem)
    check = InverseCheck(question, answer.status)
    if answer.status != "ok":
        return check
    check.free = {ident: item.value for ident, item in answer.free.items()}
    for ident, item in answer.values.items():
        if not math.isfinite(item.value):
            check.problems.append(f"ok with non-finite {ident} = {item.value}")
    for ident, value in check.free.items():
        if registry.variables[ident].integer and value != round(value):
            check.problems.append(f"ok with {ident} = {value!r} on an integer variable")
    assign = {ident: item for ident, item in problem.assign.items() if ident not in problem.free}
    for ident, value in check.free.items():
        unit = registry.variables[ident].unit
        assign[ident] = Assignment(ident, value, unit, f"{value!r}", "fuzz: the inverse's answer")
    forward = resolve(registry, list(problem.targets), assign, problem.select)
    for ident, target in problem.targets.items():
        if ident not in forward.values:
            check.problems.append(f"forward: {ident} did not resolve ({forward.errors.get(ident, 'missing roots')})")
            continue
        miss = abs(forward.values[ident] - target) / abs(target) if target else abs(forward.values[ident])
        check.worst_miss = max(check.worst_miss, miss)
        if miss > 1e-9:
            check.problems.append(f"forward {ident} = {forward.values[ident]!r} misses the target {target!r} "
                                  f"by {miss:.3g} (relative)")
    return check
