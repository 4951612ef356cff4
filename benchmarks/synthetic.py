"""Synthetic registries for the scale benchmark.

`write_synthetic(folder, n_equations, seed)` writes a registry layer (one
TOML file of variables and equations, and a references.toml declaring the
key `toy_bench` as a synthetic dataset) and a scenario assigning every root,
under `folder/registry` and `folder/scenarios`.

The equations form a random but reproducible (seeded) DAG over five
dimensions — power, energy, time, length, dimensionless — each variable
declared in a randomly chosen unit of its dimension (W, kW, MW, mW; J, kJ,
Wh, kWh, MJ; s, ms, min, hour; m, km, cm, mm; 1, percent), so unit factors
are exercised everywhere. Forms: weighted sums (same dimension, different
units), sums with a unit literal (`0.3 [kW]`), products and quotients that
change dimension (energy = power × time, power = energy / time, …), powers
of ratios, and exp of ratios. Inputs are drawn preferring variables nothing
reads yet, and whatever is still unread at the end is reduced by sum trees
into one dimensionless final output `toy.final.score`, so every variable
feeds it. Magnitudes stay O(1) in base units (W ~ 1e3, J ~ 1e5, s ~ 1e2,
m ~ 10) by construction.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SyntheticModel", "write_synthetic", "FINAL"]

FINAL = "toy.final.score"

# dimension -> (base magnitude in SI, [(unit, factor to SI)])
DIMENSIONS: dict[str, tuple[float, list[tuple[str, float]]]] = {
    "power": (1e3, [("W", 1.0), ("kW", 1e3), ("MW", 1e6), ("mW", 1e-3)]),
    "energy": (1e5, [("J", 1.0), ("kJ", 1e3), ("Wh", 3600.0), ("kWh", 3.6e6), ("MJ", 1e6)]),
    "time": (1e2, [("s", 1.0), ("ms", 1e-3), ("min", 60.0), ("hour", 3600.0)]),
    "length": (1e1, [("m", 1.0), ("km", 1e3), ("cm", 1e-2), ("mm", 1e-3)]),
    "ratio": (1.0, [("1", 1.0), ("percent", 1e-2)]),
}
LITERAL_UNIT = {"power": "kW", "energy": "kJ", "time": "min", "length": "cm", "ratio": None}


@dataclass
class SyntheticModel:
    folder: Path
    registry: Path
    scenario: Path
    n_equations: int
    n_variables: int
    roots: list[str]
    final: str = FINAL
    depth: int = 0
    forms: dict[str, int] = field(default_factory=dict)
    expected: float = float("nan")   # the final output, computed by the generator in floats


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def write_synthetic(folder: Path, n_equations: int, seed: int = 20240601, per_file: int = 100) -> SyntheticModel:
    """Write the registry layer and its scenario; `per_file` entries per TOML file (0: one file)."""
    rng = random.Random(seed * 1_000_003 + n_equations)
    folder = Path(folder)
    reg_dir = folder / "registry"
    scen_dir = folder / "scenarios"
    reg_dir.mkdir(parents=True, exist_ok=True)
    scen_dir.mkdir(parents=True, exist_ok=True)
    dims = list(DIMENSIONS)
    factor_of = {dim: dict(units) for dim, (_, units) in DIMENSIONS.items()}

    variables: list[tuple[str, str, str]] = []   # id, dimension, unit
    dim_of: dict[str, str] = {}
    value: dict[str, float] = {}                 # base units: magnitudes are kept O(1) per dimension
    pool: dict[str, list[str]] = {d: [] for d in dims}
    unused: dict[str, deque[str]] = {d: deque() for d in dims}
    used: set[str] = set()
    depth: dict[str, int] = {}
    equations: list[tuple[str, str]] = []
    forms: dict[str, int] = {}
    roots: list[str] = []
    root_values: dict[str, tuple[float, str]] = {}

    def new_var(kind: str, dim: str) -> str:
        ident = f"toy.{kind}.{dim}_{len(variables):06d}"
        unit, _ = rng.choice(DIMENSIONS[dim][1])
        variables.append((ident, dim, unit))
        dim_of[ident] = dim
        return ident

    unread_count = {d: 0 for d in dims}

    def unread(dim: str) -> int:
        return unread_count[dim]

    def mark_used(candidate: str) -> None:
        if candidate not in used:
            used.add(candidate)
            unread_count[dim_of[candidate]] -= 1

    # roots: one per four equations (at least ten), every dimension
    n_roots = max(10, n_equations // 4)
    for i in range(n_roots):
        dim = dims[i % len(dims)]
        ident = new_var("root", dim)
        unit = variables[-1][2]
        factor = factor_of[dim][unit]
        number = float(_fmt(DIMENSIONS[dim][0] * rng.uniform(0.5, 2.0) / factor))
        root_values[ident] = (number, unit)
        value[ident] = number * factor
        roots.append(ident)
        pool[dim].append(ident)
        unused[dim].append(ident)
        unread_count[dim] += 1
        depth[ident] = 0

    def pick(dim: str, chosen: list[str]) -> str:
        queue = unused[dim]
        if rng.random() < 0.6:
            # the oldest variable nothing reads yet: every variable gets used, the DAG stays shallow
            while queue and queue[0] in used:
                queue.popleft()
            for candidate in list(itertools.islice(queue, 4)):
                if candidate not in used and candidate not in chosen:
                    mark_used(candidate)
                    chosen.append(candidate)
                    return candidate
        for _ in range(50):
            candidate = rng.choice(pool[dim])
            if candidate not in chosen:
                mark_used(candidate)
                chosen.append(candidate)
                return candidate
        raise RuntimeError("pool too small")

    def add_equation(target: str, rhs: str, inputs: list[str], form: str, result: float) -> None:
        equations.append((f"toy.eq.e{len(equations):06d}", f"{target} = {rhs}"))
        depth[target] = 1 + max((depth[v] for v in inputs), default=0)
        forms[form] = forms.get(form, 0) + 1
        value[target] = result

    def coefficient(dim: str, raw: float) -> tuple[str, float]:
        """A dimensionless factor bringing `raw` back near the dimension's magnitude."""
        k = _fmt(DIMENSIONS[dim][0] * rng.uniform(0.5, 2.0) / raw)
        return k, float(k) * raw

    def reduction_cost() -> int:
        total = 1  # the final equation
        waiting = {d: 0 for d in dims}
        for v in pending:
            waiting[dim_of[v]] += 1
        for dim in dims:
            k = unread(dim) + waiting[dim]
            while k > 1:
                groups = (k + 7) // 8
                total += groups
                k = groups
        return total

    def main_equation() -> None:
        dim = rng.choice(dims)
        x: list[str] = []
        form = rng.choices(["sum", "literal", "product", "power", "exp"], weights=[3, 1, 3, 2, 1])[0]
        if form == "sum":
            k = rng.randint(2, 4)
            for _ in range(k):
                pick(dim, x)
            weights = [rng.uniform(0.2, 1.0) for _ in range(k)]
            weights = [float(_fmt(w / sum(weights))) for w in weights]
            rhs = " + ".join(f"{_fmt(w)} * {v}" for w, v in zip(weights, x))
            result = sum(w * value[v] for w, v in zip(weights, x))
        elif form == "literal":
            a = pick(dim, x)
            w = float(_fmt(rng.uniform(0.3, 0.9)))
            unit = LITERAL_UNIT[dim]
            factor = factor_of[dim][unit] if unit else 1.0
            literal = float(_fmt((1 - w) * DIMENSIONS[dim][0] * rng.uniform(0.5, 2.0) / factor))
            rhs = f"{_fmt(w)} * {a} + {_fmt(literal)}" + (f" [{unit}]" if unit else "")
            result = w * value[a] + literal * factor
        elif form == "product":
            if dim == "energy":
                p, t = pick("power", x), pick("time", x)
                k, result = coefficient(dim, value[p] * value[t])
                rhs = f"{k} * {p} * {t}"
            elif dim == "power":
                e, t = pick("energy", x), pick("time", x)
                k, result = coefficient(dim, value[e] / value[t])
                rhs = f"{k} * {e} / {t}"
            elif dim == "time":
                e, p = pick("energy", x), pick("power", x)
                k, result = coefficient(dim, value[e] / value[p])
                rhs = f"{k} * {e} / {p}"
            elif dim == "length":
                a, p, q = pick("length", x), pick("power", x), pick("power", x)
                k, result = coefficient(dim, value[a] * value[p] / value[q])
                rhs = f"{k} * {a} * {p} / {q}"
            else:
                other = rng.choice(dims)
                a, b = pick(other, x), pick(other, x)
                k, result = coefficient(dim, value[a] / value[b])
                rhs = f"{k} * {a} / {b}"
        elif form == "power":
            other = rng.choice(dims)
            a, b, c = pick(dim, x), pick(other, x), pick(other, x)
            exponent = rng.choice([0.5, 1.5, -0.7, 2, 0.25])
            k, result = coefficient(dim, value[a] * (value[b] / value[c]) ** exponent)
            rhs = f"{k} * {a} * ({b} / {c}) ** {exponent}"
        else:
            other = rng.choice(dims)
            a, b, c = pick(dim, x), pick(other, x), pick(other, x)
            rate = float(_fmt(rng.uniform(0.1, 0.4)))
            k, result = coefficient(dim, value[a] * math.exp(rate * (1 - value[b] / value[c])))
            rhs = f"{k} * {a} * exp({_fmt(rate)} * (1 - {b} / {c}))"
        target = new_var("v", dim)
        add_equation(target, rhs, x, form, result)
        pending.append(target)

    def flush() -> None:
        for v in pending:
            pool[dim_of[v]].append(v)
            unused[dim_of[v]].append(v)
            unread_count[dim_of[v]] += 1
        pending.clear()

    # levels: an equation reads only variables of earlier levels, so the depth is at most `levels`
    levels = max(5, round(10 * math.log10(max(n_equations, 10))))
    per_level = max(1, n_equations // levels)
    pending: list[str] = []
    while len(equations) + reduction_cost() < n_equations:
        main_equation()
        if len(pending) >= per_level:
            flush()
    flush()

    # reduce what nothing reads yet, by sum trees, to one total per dimension; then the final score
    totals: dict[str, str] = {}
    for dim in dims:
        layer = [v for v in unused[dim] if v not in used] or [pool[dim][-1]]
        while len(layer) > 1:
            nxt = []
            for start in range(0, len(layer), 8):
                group = layer[start:start + 8]
                if len(group) == 1:
                    nxt.append(group[0])
                    continue
                target = new_var("sum", dim)
                weight = float(_fmt(1.0 / len(group)))
                add_equation(target, " + ".join(f"{_fmt(weight)} * {v}" for v in group), group, "reduce",
                             sum(weight * value[v] for v in group))
                nxt.append(target)
            layer = nxt
        totals[dim] = layer[0]
    reference = {dim: next(r for r in roots if dim_of[r] == dim) for dim in dims}
    variables.append((FINAL, "ratio", "1"))
    dim_of[FINAL] = "ratio"
    add_equation(FINAL, " + ".join(f"0.2 * {totals[d]} / {reference[d]}" for d in dims),
                 [totals[d] for d in dims] + list(reference.values()), "final",
                 sum(0.2 * value[totals[d]] / value[reference[d]] for d in dims))

    blocks: list[str] = []
    for ident, dim, unit in variables:
        blocks.append(f'[[variable]]\nid = "{ident}"\nunit = "{unit}"\n'
                      f'description = "Synthetic {dim} variable (scale benchmark)."\nrefs = ["toy_bench"]\nmin = 0\n')
    for ident, text in equations:
        blocks.append(f'[[equation]]\nid = "{ident}"\neq = "{text}"\nrefs = ["toy_bench"]\n')
    size = per_file or len(blocks)
    for index, start in enumerate(range(0, len(blocks), size)):
        sub = reg_dir / f"part{index // 100:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"toy_{index:05d}.toml").write_text("\n".join(blocks[start:start + size]), encoding="utf-8")
    (reg_dir / "references.toml").write_text(
        '[toy_bench]\ntitle = "Synthetic benchmark registry: a random seeded DAG, not a model of anything"\n'
        'authors = "gpu_stack benchmarks/synthetic.py"\nyear = 2024\nkind = "dataset"\n'
        f'note = "seed {seed}, {n_equations} equations requested"\n', encoding="utf-8")
    lines = ['kind = "synthetic"',
             f'description = "Every root of the synthetic benchmark registry ({len(equations)} equations)."',
             "extends = []", f'outputs = ["{FINAL}"]', "", "[assign]"]
    lines += [f'"{ident}" = "{number!r} {unit}"' for ident, (number, unit) in root_values.items()]
    scenario = scen_dir / "toy_bench.toml"
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SyntheticModel(folder, reg_dir, scenario, len(equations), len(variables), roots,
                          depth=max(depth.values()), forms=forms, expected=value[FINAL])
