"""Core types shared by every step of the flow: what a question is made of.

An `Assignment` is one value set on one variable (in its declared unit, with
its provenance); a `Scenario` is a named, composed set of them; a `Question`
is what one command asks: presets, assignments and a selection of
alternatives. Solver equations that hold a target are keyed `target:ID`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

__all__ = ["Assignment", "Uncertain", "Correlation", "Scenario", "Question", "TARGET_PREFIX", "target_key", "is_target_key", "target_of"]

TARGET_PREFIX = "target:"


def target_key(ident: str) -> str:
    """The solver's name for the equation (and parameter) holding `ident` at a target value."""
    return TARGET_PREFIX + ident


def is_target_key(key: str) -> bool:
    """Whether a solver equation or parameter name holds a target."""
    return key.startswith(TARGET_PREFIX)


def target_of(key: str) -> str:
    """The variable a `target:ID` key holds."""
    return key[len(TARGET_PREFIX):]


@dataclass(frozen=True)
class Assignment:
    """A value for one variable, in its declared unit, and where it came from."""

    id: str
    value: float
    unit: str
    given: str               # the text as written: '500 W', 8, …
    origin: str              # scenario name, or 'command line'
    source: str | None = None


@dataclass(frozen=True)
class Uncertain:
    """A distribution for one input (a scenario's [uncertain] entry), its parameters in the declared unit.

    `params` holds the distribution's named parameters (normal: mean, std; lognormal: median, sigma of the
    natural log; uniform and loguniform: low, high; triangular and pert: low, mode, high); an empirical
    distribution holds its sorted sample values instead.
    """

    id: str
    dist: str
    params: Mapping[str, float]
    unit: str
    origin: str              # the scenario that declared it
    source: str | None = None
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class Correlation:
    """A rank (Spearman) correlation matrix between uncertain inputs, applied through a Gaussian copula."""

    ids: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    origin: str


@dataclass
class Scenario:
    """A composed scenario: its own entries after those of what it extends."""

    name: str
    path: Path
    kind: str
    description: str
    outputs: list[str]
    assign: dict[str, Assignment] = field(default_factory=dict)
    select: dict[str, str] = field(default_factory=dict)
    extends: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # e.g. an own assignment an extended pack's override cuts off
    uncertain: dict[str, Uncertain] = field(default_factory=dict)   # [uncertain]: [assign] keeps the point value
    correlations: list[Correlation] = field(default_factory=list)


@dataclass
class Question:
    """Presets, assignments and selection of one command-line question, composed."""

    scenarios: list[Scenario]
    assign: dict[str, Assignment]
    select: dict[str, str]
    warnings: list[str] = field(default_factory=list)   # e.g. an --assign an earlier preset's override cuts off
    uncertain: dict[str, Uncertain] = field(default_factory=dict)   # the presets' [uncertain], --assign pins
    correlations: list[Correlation] = field(default_factory=list)

    @property
    def preset_names(self) -> list[str]:
        return [s.name for s in self.scenarios]
