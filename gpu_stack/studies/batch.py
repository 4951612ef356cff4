"""Evaluate one compiled function over a batch of points: in this process, or on a Dask cluster.

The function is a scalar CasADi function `v -> (outputs, residual_max, bound_violation)` (as
`Model.batch_function` builds it). A batch is a D×N matrix of inputs; it is cut into chunks, each
chunk goes through the function mapped over the chunk (CasADi `map`, never a Python loop per
point), and a point whose solve fails its check (residual above tolerance, a value outside its
min/max) is NaN. Every point is computed by the same instructions wherever it runs, so the
in-process and the Dask results are bit-for-bit the same.

On Dask the function travels once per worker as CasADi's own serialization (a string), is
deserialized there once and kept; each task carries only its chunk of inputs. The workers need
casadi, numpy and gpu_stack installed (the same versions as the client).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import casadi as ca
import numpy as np

from gpu_stack.errors import InputError
from gpu_stack.solver.fastcall import FastCall
from gpu_stack.studies.optional import require

__all__ = ["Runner", "InProcess", "OnDask", "runner", "CHUNK"]

CHUNK = 16384          # points per mapped call (and per Dask task): large enough to hide the call overhead
Progress = Callable[[int, int], None]   # (points done, points in all)


class Runner(Protocol):
    """Something that evaluates a compiled function over a D×N batch: returns outputs × N, NaN where a point failed."""

    def __call__(self, function: ca.Function, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        ...


def checked(results: list[np.ndarray], n_outputs: int, n: int) -> np.ndarray:
    """The mapped function's results as outputs × N, NaN at the points that failed their check."""
    from gpu_stack.solver.blocks import RESIDUAL_TOL   # here, not at the top: a Dask worker imports this module
    out, residual_max, bound_violation = results
    good = (residual_max <= RESIDUAL_TOL) & (bound_violation <= 0.0)
    return np.where(good, out.reshape(n_outputs, n, order="F"), np.nan)


def _padded(inputs: np.ndarray, start: int, size: int) -> np.ndarray:
    """Columns start … start+size of `inputs`; a short last chunk repeats its last column (trimmed after)."""
    block = inputs[:, start:start + size]
    if block.shape[1] < size:
        block = np.pad(block, ((0, 0), (0, size - block.shape[1])), mode="edge")
    return block


class InProcess:
    """Evaluate in this process: chunks through CasADi `map` with one thread per core."""

    def __init__(self, chunk: int = CHUNK, threads: int | None = None) -> None:
        self.chunk = chunk
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.threads = threads or cores

    def __call__(self, function: ca.Function, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        n = inputs.shape[1]
        size = min(self.chunk, n)
        mapped = FastCall(function.map(size, "thread", self.threads) if self.threads > 1 else function.map(size))
        n_outputs = function.nnz_out(0)
        answers = np.empty((n_outputs, n))
        for start in range(0, n, size):
            stop = min(start + size, n)
            answers[:, start:stop] = checked(mapped(_padded(inputs, start, size)), n_outputs, size)[:, :stop - start]
            if progress is not None:
                progress(stop, n)
        return answers


# On a Dask worker: serialized function text -> (its mapped FastCall per chunk size); built once per worker.
_WORKER_FUNCTIONS: dict[tuple[str, int], FastCall] = {}


def _evaluate_chunk(serialized: str, digest: str, block: np.ndarray) -> list[np.ndarray]:
    """A Dask task: one chunk through the function, deserialized once per worker and chunk size; the raw
    results (outputs, residual, bound violation), checked on the client."""
    key = (digest, block.shape[1])
    mapped = _WORKER_FUNCTIONS.get(key)
    if mapped is None:
        function = ca.Function.deserialize(serialized)
        mapped = _WORKER_FUNCTIONS[key] = FastCall(function.map(block.shape[1]))
    return mapped(block)


class OnDask:
    """Evaluate on a `dask.distributed` cluster: one task per chunk, the function sent once per worker."""

    def __init__(self, client: Any, chunk: int = CHUNK) -> None:
        self.client = client
        self.chunk = chunk

    def __call__(self, function: ca.Function, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        distributed = require("distributed", "--dask")
        n = inputs.shape[1]
        size = min(self.chunk, n)
        serialized = function.serialize()
        digest = hashlib.sha256(serialized.encode()).hexdigest()
        shipped = self.client.scatter(serialized, broadcast=True, hash=True)
        starts = list(range(0, n, size))
        futures = [self.client.submit(_evaluate_chunk, shipped, digest, _padded(inputs, start, size), pure=False)
                   for start in starts]
        position = {future.key: k for k, future in enumerate(futures)}
        n_outputs = function.nnz_out(0)
        answers = np.empty((n_outputs, n))
        done = 0
        for future, results in distributed.as_completed(futures, with_results=True):
            start = starts[position[future.key]]
            stop = min(start + size, n)
            answers[:, start:stop] = checked(results, n_outputs, size)[:, :stop - start]
            done += stop - start
            if progress is not None:
                progress(done, n)
        return answers


@contextlib.contextmanager
def runner(dask: str | None = None, *, chunk: int = CHUNK) -> Iterator[Runner]:
    """The runner for `--dask`: None → in this process; "local" → a `LocalCluster` of 2 worker processes on
    the loopback interface, closed afterwards; any other text → the scheduler at that address."""
    if dask is None:
        yield InProcess(chunk)
        return
    distributed = require("distributed", "--dask")
    if dask == "local":
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
            yield OnDask(client, chunk)
        return
    try:
        client = distributed.Client(dask, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--dask {dask}: cannot reach a Dask scheduler there ({exc})",
                         hint="give the scheduler's address, e.g. tcp://10.0.0.5:8786, or 'local'") from None
    with client:
        yield OnDask(client, chunk)
