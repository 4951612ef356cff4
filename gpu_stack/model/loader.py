"""Files → models: read registry folders (TOML) into pydantic models.

Only reading and validating the shape of each entry happens here; the rules
that need the whole registry (unknown IDs, units, duplicates across files)
live in `registry.py`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gpu_stack.errors import InputError, ParseError
from gpu_stack.model.entries import Constant, Constraint, Equation, Origin, Reference, Variable
from gpu_stack.model.limits import check_file_size

__all__ = ["LayerFiles", "read_text", "read_toml", "read_layer", "source_files", "line_of", "line_index",
           "describe_validation_error", "validate_file"]

_SECTIONS: dict[str, type[BaseModel]] = {
    "variable": Variable,
    "equation": Equation,
    "constraint": Constraint,
    "constant": Constant,
}
ModelT = TypeVar("ModelT", bound=BaseModel)
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_text(path: Path) -> str:
    """A file's text: at most `MAX_FILE_BYTES`, UTF-8, else a `ParseError` naming the file."""
    check_file_size(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParseError("file not found", file=path) from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ParseError("file is not UTF-8 text", file=path, line=line, hint="save it as UTF-8") from None
    except OSError as exc:
        raise ParseError(f"cannot read the file: {exc.strerror}", file=path) from None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse one TOML file; a syntax error becomes a `ParseError` with its line."""
    text = read_text(path)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        message = _TOML_LINE.sub("", str(exc)).strip()
        raise ParseError(f"malformed TOML: {message}", file=path, line=line,
                         hint="fix the syntax at that line") from None


def line_of(text: str, key: str, value: str) -> int | None:
    """1-based line where `key = "value"` is written, if it can be found."""
    pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=\s*[\"']" + re.escape(value) + r"[\"']", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


_ID_LINE = re.compile(r"^\s*id\s*=\s*[\"']([^\"']+)[\"']", re.M)


def line_index(pattern: re.Pattern[str], text: str) -> dict[str, int]:
    """What `pattern`'s first group captures -> its 1-based line, in one pass (first occurrence wins).

    One pass per file instead of one search per ID: with a compiled pattern
    per ID, a scenario of 170 assignments spent longer finding lines than
    reading its values.
    """
    lines: dict[str, int] = {}
    line, position = 1, 0
    for match in pattern.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.setdefault(match.group(1), line)
    return lines


def header_line(text: str, header: str) -> int | None:
    """1-based line of a TOML table header `[header]`."""
    pattern = re.compile(r"^\s*\[\s*" + re.escape(header) + r"\s*\]", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def describe_validation_error(exc: ValidationError) -> str:
    """One line out of pydantic's report: which key, what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "entry"
        if error["type"] == "missing":
            parts.append(f"missing key '{where}'")
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown key '{where}'")
        else:
            message = error["msg"].removeprefix("Value error, ")
            parts.append(f"'{where}': {message}")
    return "; ".join(parts)


_EXPECTED = {
    "dict_type": "a table", "list_type": "a list", "string_type": "a string", "bool_type": "true or false",
    "float_type": "a number", "int_type": "a whole number", "string_too_short": "a non-empty string",
    "model_type": "a table", "finite_number": "a finite number",
}


def validate_file(model: type[ModelT], data: dict[str, Any], text: str, path: Path,
                  error: type[InputError]) -> ModelT:
    """`data` (a parsed scenario or problem file) as `model`, or one `error` naming the file, the line,
    the key and the type expected there."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(part) for part in first["loc"] if not isinstance(part, int)]
        key = ".".join(location) or "file"
        got = first.get("input")
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{key}'"
        elif first["type"] == "missing":
            message = f"missing key '{key}'"
        elif first["type"] in _EXPECTED:
            shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "…"
            message = f"key '{key}' must be {_EXPECTED[first['type']]} (got {shown})"
        else:
            message = f"key '{key}': {first['msg'].removeprefix('Value error, ')}"
        raise error(message, file=path, line=_key_line(text, location),
                    hint="see docs/file-formats.md for the keys of this file and their types") from None


def _key_line(text: str, location: list[str]) -> int | None:
    """Line of the innermost key of `location` found written as `key =` or `[key]` (else None)."""
    for key in reversed(location):
        pattern = re.compile(r"^\s*(?:[\"']?" + re.escape(key) + r"[\"']?\s*=|\[+\s*" + re.escape(key) + r"\s*\]+)",
                             re.M)
        match = pattern.search(text)
        if match:
            return text.count("\n", 0, match.start()) + 1
    return None


@dataclass
class LayerFiles:
    """Everything one registry folder holds, as models."""

    folder: Path
    units_text: str | None = None
    references: list[Reference] = field(default_factory=list)
    entries: dict[str, list[BaseModel]] = field(default_factory=lambda: {k: [] for k in _SECTIONS})


def source_files(folder: Path) -> list[Path]:
    """The files a registry folder is read from: units.txt and references.toml if present, then every
    other *.toml in sorted order (the order `read_layer` reads them in)."""
    special = [folder / "units.txt", folder / "references.toml"]
    return [p for p in special if p.is_file()] + \
        [p for p in sorted(folder.rglob("*.toml")) if p != special[1]]


def read_layer(folder: Path) -> LayerFiles:
    """Read one registry folder: units.txt, references.toml and every other *.toml."""
    if not folder.is_dir():
        raise ParseError("registry folder not found", file=folder,
                         hint="give --registry a folder of TOML files, or 'builtin'")
    layer = LayerFiles(folder=folder)
    units_file = folder / "units.txt"
    if units_file.is_file():
        layer.units_text = read_text(units_file)
    references_file = folder / "references.toml"
    if references_file.is_file():
        data, text = read_toml(references_file)
        for key, body in data.items():
            line = header_line(text, key)
            if not isinstance(body, dict):
                raise ParseError(f"reference '{key}' must be a table [{key}]", file=references_file, line=line)
            try:
                layer.references.append(Reference(**{**body, "key": key, "origin": Origin(file=str(references_file), line=line)}))
            except ValidationError as exc:
                raise ParseError(f"reference '{key}': {describe_validation_error(exc)}",
                                 file=references_file, line=line) from None
    for path in source_files(folder):
        if path in (units_file, references_file):
            continue
        data, text = read_toml(path)
        id_lines = line_index(_ID_LINE, text)
        for section, items in data.items():
            model = _SECTIONS.get(section)
            if model is None:
                raise ParseError(
                    f"unknown section '{section}'",
                    file=path, line=header_line(text, "[" + section + "]") or header_line(text, section),
                    hint="registry files hold [[variable]], [[equation]], [[constraint]] and [[constant]] arrays",
                )
            if not isinstance(items, list):
                raise ParseError(f"'{section}' must be an array of tables: write [[{section}]]", file=path)
            for item in items:
                ident = str(item.get("id", "")) if isinstance(item, dict) else ""
                line = id_lines.get(ident) if ident else None
                try:
                    entry = model(**{**item, "origin": Origin(file=str(path), line=line)})
                except ValidationError as exc:
                    raise ParseError(f"{section} '{ident or '?'}': {describe_validation_error(exc)}",
                                     file=path, line=line) from None
                except TypeError:
                    raise ParseError(f"{section} entries must be tables", file=path, line=line) from None
                layer.entries[section].append(entry)
    return layer
