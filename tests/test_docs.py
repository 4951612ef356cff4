"""docs/ against the code: schemas, JSON shapes, commands and options, canonical IDs, links.

The documentation is the contract; these tests make the parts a machine can
check fail when code and docs drift apart.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from types import ModuleType
from typing import Any

import pytest
import typer.main

from conftest import REPO
from gpu_stack.audit.graph import HEADLINES
from gpu_stack.interface.cli import app
from gpu_stack.reports import json_schemas

DOCS = REPO / "docs"
REGENERATE = "regenerate with: python3 docs/generate_schema.py"


def _generator() -> ModuleType:
    """docs/generate_schema.py, loaded as a module (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_schema", DOCS / "generate_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section(text: str, heading: str) -> str:
    """The body of the markdown section that starts with `heading` (a full heading line), up to the next
    heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(heading + "\n") + len(heading) + 1
    following = re.compile(r"^#{1,%d} " % level, re.M).search(text, start)
    return text[start:following.start() if following else len(text)]


# ------------------------------------------------------------------ schemas


def test_schema_files_equal_the_generated_schemas():
    schemas = json_schemas()
    committed = sorted(p.stem for p in (DOCS / "schema").glob("*.json"))
    assert committed == sorted(schemas), f"docs/schema/ holds {committed}; {REGENERATE}"
    stale = [c for c, schema in schemas.items()
             if json.loads((DOCS / "schema" / f"{c}.json").read_text(encoding="utf-8")) != schema]
    assert not stale, f"docs/schema/ is stale for {stale}; {REGENERATE}"


def test_json_md_key_tables_equal_the_generated_ones():
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    for command in json_schemas():
        assert f"<!-- BEGIN keys {command}:" in text, f"docs/json.md has no key table for {command}"
    assert _generator().fill_key_tables(text, json_schemas()) == text, f"docs/json.md key tables are stale; {REGENERATE}"


_KEYWORDS = {"$ref", "anyOf", "enum", "type", "properties", "required", "items", "additionalProperties"}
_ANNOTATIONS = {"$schema", "$defs", "title", "description", "default"}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(instance: Any, schema: dict, root: dict | None = None, path: str = "$") -> list[str]:
    """Where `instance` breaks `schema`: the subset of JSON Schema pydantic emits for the report models.

    A keyword outside that subset fails the test instead of being skipped, so a
    schema this validator cannot judge is never passed as valid.
    """
    root = root if root is not None else schema
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    assert not unknown, f"{path}: the test's validator does not know {sorted(unknown)}"
    if "$ref" in schema:
        return schema_errors(instance, root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root, path)
    if "anyOf" in schema:
        if all(schema_errors(instance, option, root, path) for option in schema["anyOf"]):
            return [f"{path}: {instance!r} matches none of {schema['anyOf']}"]
        return []
    if "type" in schema and not _TYPES[schema["type"]](instance):
        return [f"{path}: {instance!r} is not of type {schema['type']}"]
    errors = []
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if isinstance(instance, dict):
        errors += [f"{path}: missing key '{key}'" for key in schema.get("required", []) if key not in instance]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            if key in properties:
                errors += schema_errors(value, properties[key], root, f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += schema_errors(value, extra, root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key '{key}'")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            errors += schema_errors(item, schema["items"], root, f"{path}[{index}]")
    return errors


FIXTURE = "dense_training_cost_fixture"
COMMANDS = {
    "resolve": ("resolve", "econ.cost.per_token", "--preset", FIXTURE, "--trace", "--constraints"),
    "scenario-report": ("scenario-report", FIXTURE),
    "stats": ("stats",),
    "root-debt": ("root-debt", "--preset", FIXTURE, "--all"),
    "verify": ("verify",),
    "solve": ("solve", str(REPO / "problems" / "required_throughput_for_cost.toml")),
    "sensitivity": ("sensitivity", "econ.cost.per_token", "--preset", FIXTURE),
    "sweep": ("sweep", "econ.cost.per_token", "--preset", FIXTURE, "--vary", "gpu.power.total=400:600:3"),
    "pareto": ("pareto", str(REPO / "problems" / "cheapest_gpus_under_power_and_deadline.toml"),
               "--objectives", "econ.run.total_cost,training.wallclock", "--points", "2"),
    "validate": ("validate", "--case", "korthikanti2022_22b_full"),
    "calibrate": ("calibrate", "h100_sxm_gemm", "--fit", "kernel.gemm.peak_fraction=0.5:1", "--fit",
                  "kernel.gemm.depth_half_k=0:5000", "--fit", "kernel.launch.cpu_time_per_kernel=1e-6:5e-5",
                  "--holdout", "bf16_8192_sustained"),
    "uncertainty": ("uncertainty", "econ.cost.per_token", "--preset", "runs.llama3_405b_h100_uncertain",
                    "--samples", "512"),
}


@pytest.fixture(scope="module")
def outputs(cli) -> dict[str, Any]:
    """The real --json output of each command with a schema."""
    found = {}
    for command, args in COMMANDS.items():
        result = cli(*args, "--json")
        assert result.exit_code == 0, (command, result.stderr)
        found[command] = result.json()
    return found


def test_every_schema_has_a_real_output_checked():
    assert set(COMMANDS) == set(json_schemas())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_real_json_output_validates_against_its_schema(outputs, command):
    assert schema_errors(outputs[command], json_schemas()[command]) == []


def test_real_outputs_hold_what_the_docs_promise(outputs):
    # docs/json.md: values in declared units, the trace with --trace, constraint sides in SI base units
    resolved = outputs["resolve"]
    assert resolved["status"] == "ok" and resolved["unit"] == "USD/token"
    assert resolved["value"] == pytest.approx(3.000078e-06, rel=1e-12)
    sources = {step["source"] for step in resolved["trace"]}
    assert {"override", "equation"} <= sources
    tdp = next(c for c in resolved["constraints"] if c["id"] == "gpu.ineq.power_within_tdp")
    assert tdp["kind"] == "constraint" and tdp["status"] == "unresolved"  # the fixture assigns no gpu.tdp
    solved = outputs["solve"]
    assert solved["status"] == "ok" and solved["problem"] == "required_throughput_for_cost"
    peak = solved["free"]["gpu.peak_flops_power_limited"]
    assert peak["unit"] == "TFLOP/s"
    assert peak["value"] == pytest.approx(1e15 / (8 * 0.09999675008449785) / 1e12, rel=1e-9)
    assert solved["outputs"]["econ.cost.per_token"]["value"] == pytest.approx(2.5e-6, rel=1e-9)


def test_the_validator_rejects_broken_outputs(outputs):
    schema = json_schemas()["resolve"]
    broken = copy.deepcopy(outputs["resolve"])
    del broken["status"]
    broken["value"] = "3e-6"
    broken["trace"][0]["source"] = "guess"
    errors = schema_errors(broken, schema)
    assert "$: missing key 'status'" in errors
    assert any(e.startswith("$.value:") for e in errors)
    assert any(e.startswith("$.trace[0].source:") and "not one of" in e for e in errors)
    solved = copy.deepcopy(outputs["solve"])
    solved["values"]["gpu.peak_flops_power_limited"] = {"value": 1.0}
    assert schema_errors(solved, json_schemas()["solve"]) == [
        "$.values.gpu.peak_flops_power_limited: missing key 'unit'"]


# ------------------------------------------------------------------ command line


def test_every_command_and_option_is_in_cli_md():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    shared = _section(text, "## Options shared by the commands")
    group = typer.main.get_command(app)
    undocumented = [option for param in group.params for option in param.opts
                    if option.startswith("--") and option != "--help" and f"`{option}" not in text]
    for name, command in group.commands.items():
        heading = f"## {name}"
        assert heading + "\n" in text, f"docs/cli.md has no '{heading}' section"
        section = _section(text, heading)
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help" and f"`{option}" not in section + shared:
                    undocumented.append(f"{name} {option}")
    assert not undocumented, f"options missing from docs/cli.md: {undocumented}"


# ------------------------------------------------------------------ canonical IDs


def _table_rows(section: str) -> list[list[str]]:
    """Cells of each body row of the markdown tables in `section`, backticks removed."""
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split(" | ")])
    return rows


def test_canonical_ids_and_units_match_the_registry(registry):
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    rows = _table_rows(_section(text, "## Canonical IDs").split("### Headline outputs")[0])
    assert len(rows) >= 125
    wrong = []
    for ident, _meaning, unit in rows:
        declared = registry.variables[ident].unit if ident in registry.variables else \
            registry.constant_units.get(ident, "(absent)")
        if declared != unit:
            wrong.append(f"{ident}: docs say {unit!r}, registry declares {declared!r}")
    assert not wrong, "docs/json.md canonical IDs disagree with the registry:\n" + "\n".join(wrong)


def test_spine_relations_match_the_registry(registry):
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    rows = _table_rows(_section(text, "### The spine"))
    assert len(rows) == 27
    defining = registry.defining_equations()
    wrong = []
    for equation_id, relation in rows:
        lhs = relation.split("=", 1)[0].strip()
        equation = registry.equations.get(equation_id)
        if equation is None or equation.model.eq != relation or defining.get(lhs) is not equation:
            wrong.append(f"{equation_id}: {relation}")
    assert not wrong, "docs/json.md spine rows the registry does not hold (as the default definition):\n" + \
        "\n".join(wrong)


def test_headlines_and_alternatives_match_the_code(registry):
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    headlines = re.findall(r"`([a-z_.]+)`", _section(text, "### Headline outputs").split("—")[0])
    assert tuple(headlines) == HEADLINES
    for group, equations in _table_rows(_section(text, "### Alternatives with canonical equation IDs")):
        listed = re.findall(r"`([a-z_.]+)`", "`" + equations + "`")
        assert registry.groups[group][0] == listed[0], f"{group}: the default is {registry.groups[group][0]}"
        assert set(listed) <= set(registry.groups[group])


# ------------------------------------------------------------------ links and citations


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_resolve():
    broken = []
    for page in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and path.suffix == ".md":
                slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(encoding="utf-8"), re.M)}
                if anchor not in slugs:
                    broken.append(f"{page.name}: {target}#{anchor}")
    assert not broken, f"broken links: {broken}"


def test_no_citation_of_the_external_design_document():
    """Code, tests, data and README cite docs/ files, not the design document the project started from.

    Only docs/README.md may name it, once, to say where the contract came from.
    (The pattern is spelled with a character class so that this file does not match itself.)
    """
    pattern = re.compile(r"\bD[E]SIGN\b")
    found = []
    for folder in ("gpu_stack", "tests", "benchmarks", "registry", "scenarios", "problems", "examples", "docs"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".toml", ".md", ".txt"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found += [f"README.md: {line}" for line in readme.splitlines() if pattern.search(line)]
    origin = [line for line in found if line.startswith("docs/README.md:")]
    assert len(origin) <= 1, origin
    rest = [line for line in found if line not in origin]
    assert not rest, "cite the docs/ file instead:\n" + "\n".join(rest)
