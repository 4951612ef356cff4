"""Samples of uncertain inputs: unit-cube designs, a Gaussian copula, and each distribution's inverse CDF.

A design of N points in the unit cube [0, 1)^D (Monte Carlo, Latin
hypercube, or a scrambled Sobol sequence: `scipy.stats.qmc`) is made
correlated through a Gaussian copula (Φ⁻¹, the copula's correlation factor,
Φ), then each column goes through its input's inverse CDF. The same seed
gives the same numbers on every machine (numpy's PCG64 and scipy's qmc are
platform-independent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from scipy import special
from scipy.stats import qmc

from gpu_stack.core import Correlation, Uncertain
from gpu_stack.errors import ProblemError
from gpu_stack.model.uncertain import rank_to_gaussian

__all__ = ["Method", "METHODS", "unit_design", "correlate", "inverse_cdf", "median", "sample_inputs"]

Method = Literal["mc", "lhs", "sobol"]
METHODS: tuple[str, ...] = ("mc", "lhs", "sobol")
# Keep u away from 0 and 1, where an unbounded inverse CDF is infinite (MC may draw exactly 0.0).
_EDGE = 1e-12


def unit_design(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """N×D points in the unit cube: `mc` independent uniforms, `lhs` a Latin hypercube, `sobol` a scrambled
    Sobol sequence (N a power of two, so that every prefix of 2^k points stays balanced)."""
    if n < 2:
        raise ProblemError(f"--samples {n}: at least 2 samples are needed")
    if method == "mc":
        u = np.random.default_rng(seed).random((n, d))
    elif method == "lhs":
        u = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(n)
    elif method == "sobol":
        if n & (n - 1):
            lower = 1 << (n.bit_length() - 1)
            raise ProblemError(f"--method sobol needs a power of two samples (got {n})",
                               hint=f"use --samples {lower} or {2 * lower}")
        u = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(seed)).random(n)
    else:
        raise ProblemError(f"unknown sampling method {method!r}", hint="use one of " + ", ".join(METHODS))
    return np.clip(u, _EDGE, 1.0 - _EDGE)


def correlate(u: np.ndarray, ids: Sequence[str], correlations: Sequence[Correlation]) -> np.ndarray:
    """Impose each block's rank correlations on the columns of `u` (Gaussian copula); margins stay uniform.

    The copula's normal correlation R = 2 sin(π ρ_s / 6) is factored as V √Λ (an eigen-decomposition, so a
    singular but valid matrix, ρ = 1, works too).
    """
    u = u.copy()
    column = {ident: k for k, ident in enumerate(ids)}
    for block in correlations:
        columns = [column[ident] for ident in block.ids]
        eigenvalues, vectors = np.linalg.eigh(rank_to_gaussian(np.array(block.matrix)))
        factor = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        z = special.ndtri(u[:, columns]) @ factor.T
        u[:, columns] = np.clip(special.ndtr(z), _EDGE, 1.0 - _EDGE)
    return u


def inverse_cdf(uncertain: Uncertain, u: np.ndarray) -> np.ndarray:
    """The quantiles of `uncertain` at probabilities `u`, in the variable's declared unit."""
    p = uncertain.params
    dist = uncertain.dist
    if dist == "normal":
        return p["mean"] + p["std"] * special.ndtri(u)
    if dist == "lognormal":
        return p["median"] * np.exp(p["sigma"] * special.ndtri(u))
    if dist == "uniform":
        return p["low"] + u * (p["high"] - p["low"])
    if dist == "loguniform":
        return np.exp(np.log(p["low"]) + u * (np.log(p["high"]) - np.log(p["low"])))
    width = p.get("high", 0.0) - p.get("low", 0.0)
    if dist == "triangular":   # the inverse of the two quadratic pieces of the CDF, split at F(mode)
        rising = u < (p["mode"] - p["low"]) / width
        return np.where(rising, p["low"] + np.sqrt(u * width * (p["mode"] - p["low"])),
                        p["high"] - np.sqrt((1.0 - u) * width * (p["high"] - p["mode"])))
    if dist == "pert":   # the PERT Beta: shapes 1 + 4 (mode-low)/width and 1 + 4 (high-mode)/width on [low, high]
        a = 1.0 + 4.0 * (p["mode"] - p["low"]) / width
        b = 1.0 + 4.0 * (p["high"] - p["mode"]) / width
        return p["low"] + width * special.betaincinv(a, b, u)
    if dist == "empirical":   # the sample's quantile function, linear between order statistics
        return np.quantile(np.array(uncertain.values), u)
    raise ValueError(f"no inverse CDF for {dist!r}")   # parse_uncertain admits only the distributions above


def median(uncertain: Uncertain) -> float:
    """The distribution's median (where the elasticities are taken)."""
    return float(inverse_cdf(uncertain, np.array([0.5]))[0])


def sample_inputs(uncertain: Mapping[str, Uncertain], correlations: Sequence[Correlation], n: int, seed: int,
                  method: str) -> dict[str, np.ndarray]:
    """N samples of every uncertain input (ID → array, declared unit), in the order of `uncertain`."""
    ids = list(uncertain)
    u = correlate(unit_design(method, n, len(ids), seed), ids, correlations)
    return {ident: inverse_cdf(uncertain[ident], u[:, k]) for k, ident in enumerate(ids)}
