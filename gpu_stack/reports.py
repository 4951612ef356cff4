"""Reports: the answers of each command as pydantic models.

`model_dump()` of each is the documented `--json` shape (docs/json.md); the
CLI renders the same objects as tables. Values are plain numbers in each
variable's declared unit (the `unit` key beside a value names it). Keys are
kept from release to release; more may be added.

`json_schemas()` gives the JSON Schema of every shape; the files in
`docs/schema/` are written from it by `docs/generate_schema.py`, and a test
keeps the two equal.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TraceItem", "ConstraintItem", "ResolveReport", "TargetItem", "ScenarioReport", "StatsReport",
    "DebtRoot", "DebtFamily", "RootDebtReport", "VerifyProblem", "VerifyReport",
    "ValueItem", "StructureItem", "SolveResult", "SensitivityRoot", "SensitivityReport",
    "SweepColumn", "SweepPoint", "SweepReport", "ParetoPoint", "ParetoReport",
    "ValidationCaseItem", "ValidationFileItem", "ValidationReport",
    "FittedParameter", "ObservationRow", "CalibrationReport",
    "SobolIndex", "UncertaintyTarget", "UncertaintyReport", "SCHEMA_MODELS", "json_schemas",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Report(BaseModel):
    # Attribute docstrings become the schema's field descriptions; every key is
    # always present in `model_dump()`, so the output schema lists all as required.
    # Validators are built when a report of the kind is first made, not at import: a
    # command makes two or three kinds, and building them all cost ~60 ms of every start.
    model_config = ConfigDict(use_attribute_docstrings=True, json_schema_serialization_defaults_required=True,
                              defer_build=True)


class TraceItem(_Report):
    """One hop of an audit trace: a variable's value and where it came from."""

    id: str
    """The variable (or constant) ID."""
    value: float
    """Its value, in `unit`."""
    unit: str
    """The variable's declared unit (a constant's own unit)."""
    source: Literal["assign", "equation", "constant", "override"]
    """assign: set by a scenario or --assign (no equation defines it); override: set although an equation
    defines it, which cuts that equation; equation: computed by `equation`; constant: a physical constant."""
    equation: str | None = None
    """The equation used (source equation) or cut (source override); null otherwise."""
    origin: str | None = None
    """Who set an assigned or overriding value: a scenario name, 'command line', or a problem name."""


class ConstraintItem(_Report):
    """A constraint or a validity range, checked on resolved values."""

    id: str
    """The constraint ID, or for a validity range the ID of the equation it belongs to."""
    expr: str
    """The inequality as written."""
    kind: Literal["constraint", "validity"]
    """constraint: a registry [[constraint]]; validity: an equation's `valid` range."""
    status: Literal["ok", "violated", "unresolved"]
    """unresolved: some variable of the inequality was not resolved."""
    lhs: float | None = None
    """Left side, in SI base units (pint root units: also USD, FLOP, token, bit); null when unresolved."""
    rhs: float | None = None
    """Right side, in the same units as `lhs`."""
    unit: str = ""
    """A declared unit to show both sides in: that of the first variable of the left side with the side's dimension; empty when none."""


class ResolveReport(_Report):
    """`resolve --json`: one target computed forward by the audit resolver."""

    target: str
    """The variable asked for, or a constraint ID."""
    kind: Literal["variable", "constraint"] = "variable"
    """variable: the target's value is computed; constraint: every variable of the inequality is resolved and
    its check is the first item of `constraints`."""
    status: Literal["ok", "missing", "error"]
    """ok: computed; missing: some root it needs has no value; error: a loop or a failed evaluation."""
    value: float | None
    """The target's value in `unit`; null unless status is ok, and for a constraint."""
    unit: str
    """The target's declared unit (empty for a constraint)."""
    trace: list[TraceItem] = Field(default_factory=list)
    """Every hop behind the target, dependencies first (when not ok: every hop the walk made). The CLI
    fills it only with --trace."""
    missing: list[str] = Field(default_factory=list)
    """Roots reached without a value, sorted; empty when status is ok."""
    errors: list[str] = Field(default_factory=list)
    """Messages for variables that could not be computed (algebraic loops, math errors)."""
    loops: list[list[str]] = Field(default_factory=list)
    """Algebraic loops met in the target's cone, each a sorted list of variable IDs."""
    constraints: list[ConstraintItem] = Field(default_factory=list)
    """Violated validity ranges; with --constraints every validity range met and every registry constraint."""
    presets: list[str] = Field(default_factory=list)
    """The scenarios given with --preset, in order."""
    selection: dict[str, str] = Field(default_factory=dict)
    """Alternatives chosen explicitly (by presets or --select): group -> equation ID."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: an input a later layer changed that an earlier pack's override cuts off."""


class TargetItem(_Report):
    """One output of a scenario report."""

    id: str
    """The output variable."""
    status: Literal["ok", "missing", "error"]
    """As in `resolve`."""
    value: float | None
    """Its value in `unit`; null unless status is ok."""
    unit: str
    """The variable's declared unit."""
    missing: list[str] = Field(default_factory=list)
    """Roots without a value that block this output (status missing)."""
    error: str | None = None
    """Why it could not be computed (status error)."""


class ScenarioReport(_Report):
    """`scenario-report --json` (a list of these when several scenarios are given)."""

    scenario: str
    """The scenario's name: its dotted path under scenarios/, or the file stem."""
    kind: str
    """synthetic, cited or measured."""
    description: str
    """The scenario's own description."""
    status: Literal["ok", "missing", "error"]
    """error if any output failed, else missing if any output lacks a root, else ok."""
    assignment_count: int
    """Assignments after composition (extended scenarios included)."""
    target_count: int
    """Number of outputs reported."""
    ok_count: int
    """Outputs with status ok."""
    error_count: int
    """Outputs with status error."""
    missing_count: int
    """Outputs with status missing."""
    targets: list[TargetItem]
    """The scenario's `outputs`, in the order the file gives them."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: an input a later layer changed that an earlier pack's override cuts off."""


class StatsReport(_Report):
    """`stats --json`: counts that describe the registry (default alternatives)."""

    variables: int
    """Variables declared."""
    constants: int
    """Physical constants (`const.` IDs)."""
    equations: int
    """Equations loaded (every alternative counted)."""
    constraints: int
    """Registry inequalities."""
    roots: int
    """Variables no active equation defines (nor ties in an implicit equation)."""
    leaves: int
    """Variables nothing depends on and no constraint uses."""
    families: int
    """Distinct families (an ID without its last segment)."""
    equations_unit_checked: int
    """Equations that passed the dimension check at load."""
    equations_with_refs: int
    """Equations citing at least one reference."""
    variables_with_refs: int
    """Variables citing at least one reference."""
    equations_reaching_headline: int
    """Equations (any alternative) whose result flows into a headline output."""
    groups: int
    """Alternatives groups."""
    loops: int
    """Algebraic loops (strongly connected sets of variables) under the default alternatives."""
    references: int
    """Entries in references.toml."""
    citations: int
    """`refs` entries of variables, equations, constraints and constants."""
    citations_whole_source: int
    """Citations of a whole source (`"key"`)."""
    citations_checked_places: int
    """Citations of a place (`"key:place"`) recorded in the key's `locations` (checked against the source)."""
    citations_unchecked_places: int
    """Citations of a place not recorded in the key's `locations` (`verify` warns: unchecked-place)."""
    checked_place_share: float
    """citations_checked_places / (citations_checked_places + citations_unchecked_places); 1 with no places."""
    equation_citations: int
    """`refs` entries of equations alone."""
    equation_citations_checked_places: int
    """Equation citations of a place recorded in the key's `locations`; the rest cite a whole source or an unchecked place."""
    roots_by_boundary: dict[str, int]
    """Roots per boundary: scenario, primitive, debt."""


class DebtRoot(_Report):
    """A root ranked by its blast radius."""

    id: str
    """The root variable."""
    weight: int
    """Variables strictly downstream of it (the listed roots themselves not counted)."""
    boundary: str
    """scenario, primitive or debt."""
    unit: str
    """Its declared unit."""
    description: str
    """Its description."""
    assigned: bool | None = None
    """With --preset: whether the presets assign it; null without presets."""


class DebtFamily(_Report):
    """The listed roots of one family."""

    family: str
    """The family (an ID without its last segment)."""
    total_weight: int
    """Size of the union of its roots' downstream sets (shared descendants count once; roots excluded)."""
    root_count: int
    """Listed roots in this family."""
    top_roots: list[DebtRoot]
    """Its heaviest roots, at most five."""


class RootDebtReport(_Report):
    """`root-debt --json`: roots ranked by how much of the model hangs on them."""

    total_roots: int
    """Roots listed (before --limit)."""
    families: list[DebtFamily]
    """Families by total_weight, heaviest first (cut to --limit)."""
    roots: list[DebtRoot]
    """Roots by weight, heaviest first (cut to --limit)."""
    boundaries: list[str]
    """The boundaries listed: ["debt"], or all three with --all."""
    presets: list[str] = Field(default_factory=list)
    """With --preset: the scenarios whose outputs' cone restricts the ranking."""


class VerifyProblem(_Report):
    """One finding of `verify`."""

    severity: Literal["error", "warning"]
    """error: the registry breaks a rule (exit 1); warning: wiring left undone."""
    check: str
    """Which check: load, references, dead-ends, unused, scenarios or problems."""
    message: str
    """What is wrong and where (file:line, ID)."""


class VerifyReport(_Report):
    """`verify --json`: the registry checks."""

    profile: Literal["fast", "full"]
    """fast: registry checks; full: also every scenario resolved and every problem solved."""
    status: Literal["ok", "problems"]
    """problems when there is at least one error (warnings alone leave it ok)."""
    error_count: int
    """Problems with severity error."""
    warning_count: int
    """Problems with severity warning."""
    problems: list[VerifyProblem]
    """Every finding."""
    checked: dict[str, Any]
    """What was checked: variables, equations (counts), loops (lists of IDs), scenarios, problems (counts)."""


class ValueItem(_Report):
    """A value with its unit."""

    value: float
    """The value, in `unit`."""
    unit: str
    """The variable's declared unit."""


class StructureItem(_Report):
    """The structural analysis of a solve (matching and Dulmage–Mendelsohn decomposition)."""

    equations: int
    """Equations in the solve (registry equations plus one per target)."""
    unknowns: int
    """Unknowns in the solve."""
    blocks: int
    """Blocks of the well-determined part, in solve order."""
    loops: list[list[str]] = Field(default_factory=list)
    """Unknowns of each block with more than one unknown (solved together by Newton)."""
    under_variables: list[str] = Field(default_factory=list)
    """Unknowns in the under-determined part."""
    over_equations: list[str] = Field(default_factory=list)
    """Equations in the over-determined part; `target:ID` is the equation holding target ID."""
    missing_roots: list[str] = Field(default_factory=list)
    """Under-determined roots that nothing defines: values still to be given."""
    unpinned_free: list[str] = Field(default_factory=list)
    """Free variables that no equation pins (add a target or an objective)."""
    conflicts: list[str] = Field(default_factory=list)
    """Targets and assignments involved in an over-determination, as phrases."""


class SolveResult(_Report):
    """`solve --json`: a simultaneous, inverse or optimization solve."""

    status: Literal["ok", "infeasible", "unbounded", "underdetermined", "overdetermined", "failed"]
    """ok: solved and checked; infeasible: the constraints or bounds cannot all hold (or the targets need a
    fraction of an integer variable); unbounded: the objective keeps improving as a free variable runs off to
    infinity (the message names it); underdetermined: values or equations missing, or a free variable nothing
    asked depends on; overdetermined: targets or assignments conflict; failed: no converged point within the
    variables' bounds, or the optimizer stopped short of its tolerance."""
    values: dict[str, ValueItem] = Field(default_factory=dict)
    """Every unknown of the solve at the solution (status ok)."""
    free: dict[str, ValueItem] = Field(default_factory=dict)
    """The free variables at the solution."""
    objective: float | None = None
    """The objective at the optimum (problems with an objective)."""
    objective_unit: str | None = None
    """The objective variable's declared unit, or 'SI base units' for an expression."""
    active_constraints: list[str] = Field(default_factory=list)
    """Inequalities at their bound with a non-zero multiplier."""
    multipliers: dict[str, float] = Field(default_factory=dict)
    """Shadow prices: d(objective)/d(constraint bound) per active constraint, in `multiplier_units`."""
    multiplier_units: dict[str, str] = Field(default_factory=dict)
    """Unit of each multiplier: '<objective unit> per <constraint unit>'."""
    message: str = ""
    """What happened, in one line (the reason when status is not ok)."""
    problem: str = ""
    """The problem's name: the file stem, or 'command line'."""
    solver: str = ""
    """explicit, newton, ipopt or bonmin; empty when the structure decided the status."""
    iterations: int | None = None
    """Optimizer iterations (ipopt, bonmin); null for block solves."""
    residual_max: float | None = None
    """Largest scaled equation residual at the returned point."""
    conflicting_constraints: list[str] = Field(default_factory=list)
    """When infeasible: the inequalities that cannot hold together (from an elastic re-solve)."""
    structure: StructureItem | None = None
    """The structural analysis."""
    outputs: dict[str, ValueItem] = Field(default_factory=dict)
    """The problem's (or its scenarios') outputs evaluated at the solution."""
    notes: list[str] = Field(default_factory=list)
    """Where flags replaced a problem file's entries (flags win)."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: an input a later layer changed that an earlier pack's override cuts off."""


class SensitivityRoot(_Report):
    """The sensitivity of the target to one assigned input."""

    id: str
    """The assigned variable."""
    value: float
    """Its assigned value, in `unit`."""
    unit: str
    """Its declared unit."""
    derivative: float
    """d target / d input, in the target's declared unit per the input's declared unit."""
    elasticity: float
    """d ln(target) / d ln(input) = derivative × value / target value (0 when the target is 0)."""
    source: Literal["assign", "override"]
    """override when an equation would otherwise define the input."""


class SensitivityReport(_Report):
    """`sensitivity --json`: exact derivatives of a target (algorithmic differentiation)."""

    target: str
    """The variable differentiated."""
    value: float
    """Its value, in `unit`."""
    unit: str
    """Its declared unit."""
    roots: list[SensitivityRoot]
    """Every assigned variable the target's solve reads, by |elasticity|, largest first."""
    presets: list[str] = Field(default_factory=list)
    """The scenarios given with --preset, in order."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: an input a later layer changed that an earlier pack's override cuts off."""


# ------------------------------------------------------------------ studies: sweep and pareto

PointStatus = Literal["ok", "infeasible", "unbounded", "underdetermined", "overdetermined", "failed"]


class SweepColumn(_Report):
    """One column of a sweep: a varied input or a value reported at every point."""

    id: str
    """A variable ID, or 'objective' for the problem's objective."""
    unit: str
    """The variable's declared unit (the objective's unit for 'objective')."""
    role: Literal["input", "output", "free", "objective"]
    """input: varied by the sweep; output: asked for (TARGET); free: moved by the solver; objective: the
    problem's objective at the optimum."""


class SweepPoint(_Report):
    """One point of a sweep: its inputs, what came out, and whether it is an answer."""

    status: PointStatus
    """ok: answered and checked. Forward sweeps: failed when the forward solve breaks an equation's residual
    check or a variable's min/max. Solve sweeps: the solve's status (as `solve --json`)."""
    values: dict[str, float | None]
    """Column ID → value in the column's unit; null for an output of a point that is not ok."""
    message: str = ""
    """Why a point is not ok (solve sweeps: the solver's message)."""
    active_constraints: list[str] = Field(default_factory=list)
    """Solve sweeps with an objective: the inequalities at their bound."""


class SweepReport(_Report):
    """`sweep --json`: inputs varied over a grid or a Latin hypercube, values at every point."""

    mode: Literal["forward", "solve"]
    """forward: one batch evaluation of the compiled model; solve: the problem re-solved at every point,
    warm-started from the previous answer."""
    design: Literal["grid", "lhs"]
    """grid: every combination of the --vary values; lhs: a Latin hypercube of --lhs points over the ranges."""
    seed: int | None = None
    """The Latin hypercube's seed (null for a grid)."""
    problem: str | None = None
    """The problem re-solved (solve mode): its name, or 'command line'."""
    presets: list[str] = Field(default_factory=list)
    """The scenarios given with --preset, in order."""
    columns: list[SweepColumn]
    """The varied inputs first, then what is reported at each point."""
    points: list[SweepPoint]
    """One per point, in sweep order (a grid varies its last input fastest)."""
    counts: dict[str, int]
    """How many points ended with each status."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: a varied input no reported value depends on, an override cut off."""


class ParetoPoint(_Report):
    """One ε-constraint solve: minimize the first objective with the second at most ε."""

    epsilon: float | None
    """The bound on the second objective, in its unit (null for the two single-objective anchors)."""
    status: PointStatus
    """The solve's status (as `solve --json`)."""
    first: float | None
    """The first objective at the answer (null unless ok)."""
    second: float | None
    """The second objective at the answer (null unless ok)."""
    free: dict[str, float] = Field(default_factory=dict)
    """The free variables at the answer, in their declared units."""
    active_constraints: list[str] = Field(default_factory=list)
    """Inequalities at their bound with a non-zero multiplier ('pareto.epsilon' is the ε-constraint)."""
    trade_off: float | None = None
    """d(first)/d(second) along the front: the ε-constraint's shadow price, in first's unit per
    second's unit (null when it is not active, or the solver gives no multipliers, as bonmin)."""
    slack: dict[str, float] = Field(default_factory=dict)
    """The problem's own constraints and the ε-constraint: relative slack at the answer (0 at the bound)."""
    message: str = ""
    """The solver's message."""


class ParetoReport(_Report):
    """`pareto --json`: the trade-off front of two objectives, both minimized."""

    problem: str
    """The problem's name."""
    first: SweepColumn
    """The objective minimized at every point."""
    second: SweepColumn
    """The objective bounded by ε."""
    free_units: dict[str, str]
    """Declared unit of each free variable."""
    anchors: list[ParetoPoint]
    """The two single-objective optima: first minimized alone, then second minimized alone."""
    points: list[ParetoPoint]
    """The ε-constraint solves, ε from the second objective's minimum to its value at the first's optimum."""
    front: list[int]
    """Indices into `points` of the distinct, non-dominated ok points, by increasing second objective."""
    notes: list[str] = Field(default_factory=list)
    """What the command changed in the problem (its own objective is replaced)."""
    warnings: list[str] = Field(default_factory=list)
    """About the question: an input a later layer changed that an earlier pack's override cuts off."""
class ValidationCaseItem(_Report):
    """One validation case: the model's value of a quantity against its published figure."""

    name: str
    """The case's name (unique across validation/)."""
    presets: list[str]
    """The scenario packs that reproduce the run, applied in order."""
    quantity: str
    """The registry ID compared."""
    unit: str
    """The quantity's declared unit; `predicted`, `published` and `rule_of_thumb` are in it."""
    status: Literal["ok", "missing", "error"]
    """As in `resolve`: ok when the model computed the quantity."""
    predicted: float | None
    """The model's value; null unless status is ok."""
    published: float
    """The published figure, converted to `unit`."""
    published_text: str
    """The published figure as the case file writes it."""
    error: float | None
    """Signed relative error (predicted − published) / published; null unless status is ok."""
    rule_of_thumb: float | None
    """The same quantity from 6·N·D FLOPs at 40% of the GPUs' peak and nothing else (N the dense, or for a
    mixture of experts the active, parameters); null for a quantity the rule does not give."""
    rule_of_thumb_error: float | None
    """Signed relative error of the rule of thumb against the published figure."""
    source: str
    """Reference key and the checked place that gives the published figure."""
    flop_convention: str
    """How the paper counts FLOPs, in words."""
    missing: list[str] = Field(default_factory=list)
    """Roots without a value (status missing)."""
    errors: list[str] = Field(default_factory=list)
    """Why the quantity could not be computed (status error)."""


class ValidationFileItem(_Report):
    """The cases of one validation file and their summary."""

    file: str
    """The file's stem under validation/, e.g. korthikanti2022_table5."""
    description: str
    """What the file compares."""
    cases: list[ValidationCaseItem]
    """Its cases, in the file's order (only those asked for with --case)."""
    mean_abs_error: float | None
    """Mean |error| over the cases computed; null when none was."""
    max_abs_error: float | None
    """Largest |error| over the cases computed; null when none was."""
    rule_of_thumb_mean_abs_error: float | None
    """Mean |error| of the rule of thumb over the cases that have one; null when none has."""


class ValidationReport(_Report):
    """`validate --json`: every validation case resolved and compared with its published figure."""

    status: Literal["ok", "incomplete"]
    """ok when every case was computed; incomplete when some case is missing a root or failed."""
    case_count: int
    """Cases compared."""
    files: list[ValidationFileItem]
    """One entry per validation file, sorted by name."""
    warnings: list[str] = Field(default_factory=list)
    """About the packs: an input a later layer changed that an earlier pack's override cuts off."""

class FittedParameter(_Report):
    """One input `calibrate` fitted."""

    id: str
    """The fitted variable."""
    unit: str
    """Its declared unit (every value here is in it)."""
    before: float
    """Its value before the fit: as the observations file's presets assign it, else the registry's nominal value."""
    value: float
    """The least-squares value."""
    low: float | None
    """Lower end of the confidence interval (value − t·standard error); null when the fit leaves no degree of
    freedom or the Jacobian does not determine the value."""
    high: float | None
    """Upper end of the confidence interval; null as `low`."""
    std_error: float | None
    """Standard error from the Jacobian of the relative residuals: sqrt of the diagonal of σ²(JᵀJ)⁻¹, σ² the
    residual sum of squares over the degrees of freedom; null as `low`."""
    bounds: list[float | None]
    """[min, max] the fit allowed (from --fit ID=MIN:MAX, else the variable's own domain)."""
    at_bound: bool
    """True when the value sits on a bound: the interval then describes the other inputs, not this one."""


class ObservationRow(_Report):
    """One observation: what was measured or published, and the model before and after the fit."""

    name: str
    """The row's name in the observations file."""
    role: Literal["fit", "holdout"]
    """fit: used by the least squares; holdout: left out (--holdout) and predicted."""
    quantity: str
    """The variable compared."""
    unit: str
    """Its declared unit."""
    observed: float
    """The observed value, converted to `unit`."""
    before: float | None
    """The model's value with the fitted inputs at their `before` values; null when the model's solve fails there."""
    after: float | None
    """The model's value with the fitted inputs; null when the model's solve fails its check there."""
    error_before: float | None
    """before / observed − 1."""
    error_after: float | None
    """after / observed − 1 (null as `after`)."""
    source: str
    """Where the observed value comes from."""


class CalibrationReport(_Report):
    """`calibrate --json`: a least-squares fit of inputs to observations through the compiled model."""

    observations: str
    """The observations file as named on the command line (its path relative to the project when it is shipped)."""
    sha256: str
    """SHA-256 of the observations file's bytes."""
    presets: list[str]
    """The scenario packs every row runs on."""
    parameters: list[FittedParameter]
    """The fitted inputs, in --fit order."""
    rows: list[ObservationRow]
    """Every observation, fit rows and held-out rows, in file order."""
    degrees_of_freedom: int
    """Fit rows minus fitted inputs."""
    confidence: float
    """Level of the intervals (two-sided, Student's t with `degrees_of_freedom`)."""
    rms_error_fit: dict[str, float | None]
    """Root mean square of the relative errors on the fit rows: {"before": …, "after": …}."""
    rms_error_holdout: dict[str, float | None]
    """The same on the held-out rows (null when there are none)."""
    status: Literal["ok", "failed"]
    """ok: IPOPT converged and every row's model solve passed its check."""
    message: str
    """IPOPT's return status."""
    notes: list[str] = Field(default_factory=list)
    """What limits the intervals: a parameter on a bound, no degree of freedom, a rank-deficient Jacobian."""

class SobolIndex(_Report):
    """Variance-based (Sobol) sensitivity of a target to one uncertain input."""

    first: float
    """First-order index: the share of the target's variance due to this input alone (SALib: Saltelli et al. 2010)."""
    total: float
    """Total-order index: the share due to this input with all its interactions (SALib: the Jansen form)."""


class UncertaintyTarget(_Report):
    """The distribution of one target over the sampled inputs."""

    id: str
    """The target variable."""
    unit: str
    """Its declared unit: every value of this object is in it."""
    mean: float
    """Sample mean over the points whose solve passed its check."""
    std: float
    """Sample standard deviation (ddof 1)."""
    median: float
    """50th percentile."""
    p05: float
    """5th percentile: the lower end of the 90% interval."""
    p95: float
    """95th percentile: the upper end of the 90% interval."""
    percentiles: dict[str, float]
    """p01, p05, p10, p25, p50, p75, p90, p95, p99 (linear interpolation between order statistics)."""
    sobol: dict[str, SobolIndex]
    """Uncertain input ID → its Sobol indices (SALib, a Saltelli design of its own); empty when the inputs are
    correlated (the indices assume independent inputs) or some design point failed its check."""
    elasticities: dict[str, float]
    """Uncertain input ID → d ln(target) / d ln(input) at the inputs' medians (exact, AD); 0 outside the cone."""


class UncertaintyReport(_Report):
    """`uncertainty --json`: targets propagated through the uncertain inputs of the presets."""

    samples: int
    """Points sampled."""
    seed: int
    """The seed: the same seed, samples and method give byte-identical output."""
    method: Literal["mc", "lhs", "sobol"]
    """mc: independent uniforms; lhs: a Latin hypercube; sobol: a scrambled Sobol sequence."""
    targets: list[UncertaintyTarget]
    """One per target, in the order asked."""


# command -> the model of its --json output (scenario-report prints a list of them for several scenarios)
SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "resolve": ResolveReport,
    "scenario-report": ScenarioReport,
    "stats": StatsReport,
    "root-debt": RootDebtReport,
    "verify": VerifyReport,
    "solve": SolveResult,
    "sensitivity": SensitivityReport,
    "sweep": SweepReport,
    "pareto": ParetoReport,
    "validate": ValidationReport,
    "calibrate": CalibrationReport,
    "uncertainty": UncertaintyReport,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (draft 2020-12) of each command's `--json` output, keyed by command.

    Generated from the report models in serialization mode, so every key the
    output always holds is listed as required; extra keys are allowed (keys
    are kept, more may be added).

    Examples
    --------
    >>> sorted(json_schemas()["resolve"]["required"])[:3]
    ['constraints', 'errors', 'loops']
    """
    schemas = {}
    for command, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schemas[command] = {"$schema": JSON_SCHEMA_DIALECT, **schema}
    return schemas
