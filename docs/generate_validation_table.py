"""Write the README's validation table from `gpu-stack validate --markdown`.

Run from the repository root after a change that moves a validation error:
    python3 docs/generate_validation_table.py
tests/test_validate.py checks that the README holds what `validate` gives now.
"""

from __future__ import annotations

import re
from pathlib import Path

from gpu_stack.audit.validate import markdown_table, validate_suite
from gpu_stack.model.registry import load_registry
from gpu_stack.model.validation import load_validation

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = re.compile(r"(<!-- BEGIN validation table[^\n]*-->\n).*?(<!-- END validation table -->)", re.S)


def readme_with_table(text: str, table: str) -> str:
    """`text` (the README) with the validation section replaced by `table`."""
    if not SECTION.search(text):
        raise SystemExit("README.md has no '<!-- BEGIN validation table' … '<!-- END validation table -->' section")
    return SECTION.sub(lambda match: match.group(1) + table + match.group(2), text)


def main() -> None:
    """Regenerate the section in place."""
    registry = load_registry()
    table = markdown_table(validate_suite(registry, load_validation(registry)))
    README.write_text(readme_with_table(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    print(f"wrote the validation table of {README.name}")


if __name__ == "__main__":
    main()
