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
from typing import Any

from pydantic import BaseModel, ValidationError

from gpu_stack.errors import ParseError
from gpu_stack.model.entries import Constant, Constraint, Equation, Origin, Reference, Variable

__all__ = ["LayerFiles", "read_toml", "read_layer", "source_files", "line_of", "line_index",
           "describe_validation_error"]

_SECTIONS: dict[str, type[BaseModel]] = {
    "variable": Variable,
    "equation": Equation,
    "constraint": Constraint,
    "constant": Constant,
}
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse one TOML file; a syntax error becomes a `ParseError` with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParseError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise ParseError("file is not UTF-8 text", file=path) from None
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
        layer.units_text = units_file.read_text(encoding="utf-8")
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
