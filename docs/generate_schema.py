"""Write docs/schema/<command>.json from the report models in gpu_stack/reports.py.

Run after changing a report model:  python3 docs/generate_schema.py
tests/test_docs.py fails while the committed files differ from what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from gpu_stack.reports import json_schemas  # noqa: E402


def schema_text(schema: dict) -> str:
    """The committed form of one schema: indented JSON, keys in the models' order, one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    folder = HERE / "schema"
    folder.mkdir(exist_ok=True)
    for command, schema in json_schemas().items():
        path = folder / f"{command}.json"
        path.write_text(schema_text(schema), encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
