"""Write docs/schema/<command>.json and the key tables of docs/json.md from gpu_stack/reports.py.

Run after changing a report model:  python3 docs/generate_schema.py
tests/test_docs.py fails while the committed files differ from what this writes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # run from a checkout without installing

from gpu_stack.reports import json_schemas  # noqa: E402

JSON_DOC = DOCS / "json.md"
_KEY_BLOCK = re.compile(r"(<!-- BEGIN keys (?P<command>[\w-]+):[^\n]*-->\n)(?P<body>.*?)(<!-- END keys (?P=command) -->)",
                        re.S)


def schema_text(schema: dict[str, Any]) -> str:
    """The committed form of one schema: indented JSON, keys in the models' order, one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _type_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join(f'`"{value}"`' for value in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type_text(option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_text(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type_text(schema['additionalProperties'])}"
    return kind


def _referenced(schema: dict[str, Any]) -> list[str]:
    """Names of the $defs a schema refers to, in order of first mention."""
    return list(dict.fromkeys(re.findall(r'"\$ref": "#/\$defs/(\w+)"', json.dumps(schema))))


def key_tables(schema: dict[str, Any]) -> str:
    """Markdown tables of a shape's keys: the top object first, then each nested object as it is first met."""
    definitions = schema.get("$defs", {})
    order = [(schema["title"], schema)]
    queue = _referenced({k: v for k, v in schema.items() if k != "$defs"})
    while queue:
        name = queue.pop(0)
        if name in (n for n, _ in order):
            continue
        order.append((name, definitions[name]))
        queue += _referenced(definitions[name])
    parts = []
    for name, part in order:
        lines = [f"**{name}** — {part.get('description', '')}", "", "| key | type | meaning |", "|---|---|---|"]
        for key, field in part["properties"].items():
            meaning = " ".join(field.get("description", "").split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_text(field)} | {meaning} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def fill_key_tables(text: str, schemas: dict[str, dict[str, Any]]) -> str:
    """`text` (docs/json.md) with every generated key block rewritten from `schemas`."""
    def replace(match: re.Match[str]) -> str:
        command = match.group("command")
        return match.group(1) + key_tables(schemas[command]) + match.group(4)

    return _KEY_BLOCK.sub(replace, text)


def main() -> None:
    schemas = json_schemas()
    folder = DOCS / "schema"
    folder.mkdir(exist_ok=True)
    for command, schema in schemas.items():
        path = folder / f"{command}.json"
        path.write_text(schema_text(schema), encoding="utf-8")
        print(f"wrote {path.relative_to(DOCS.parent)}")
    JSON_DOC.write_text(fill_key_tables(JSON_DOC.read_text(encoding="utf-8"), schemas), encoding="utf-8")
    print(f"wrote the key tables of {JSON_DOC.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
