"""The model: registry, scenario and problem files → validated, unit-checked objects.

Enters: folders of TOML (`registry/`), `units.txt`, scenario and problem files.
Leaves: a `Registry` (variables, equations, constraints, constants,
references, alternatives groups, parsed expression trees with their unit
factors), `Scenario`s and `Problem`s whose values are in declared units.

Modules, in the order data passes through them: `paths` (where the shipped
files are), `loader` (TOML → frozen pydantic `entries`), `units` (pint with
the project's dimensions), `expressions` (the safe parser and evaluator),
`registry` (layers, indexes, load-time checks), `scenarios` and `problems`.
`cache` keeps what `units` and `registry` work out (pint's answers, whole
loaded registries) under a fingerprint of their inputs, for the next start.
"""
