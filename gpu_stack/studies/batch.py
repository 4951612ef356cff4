"""Evaluate one compiled function over a batch of points: in this process, or on a Dask cluster.

The function is a scalar CasADi function `v -> (outputs, residual_max, bound_violation)` (as
`Model.function` builds it). A batch is a D×N matrix of inputs; it is cut into chunks, each
chunk goes through the function mapped over the chunk (CasADi `map`, never a Python loop per
point), and a point whose solve fails its check (residual above tolerance, a value outside its
min/max) is NaN. Every point is computed by the same instructions wherever it runs, so the
in-process and the Dask results are bit-for-bit the same.

In this process the function can also run as C (`native`): CasADi generates
its code, gcc -O2 compiles it into a shared library once (kept in the disk
cache folder), and `casadi.external` loads it; about twice as fast per point
as CasADi's virtual machine on the Llama run (benchmarks/studies.py).

On Dask the function travels once per worker as CasADi's own serialization (a string), is
deserialized there once and kept; each task carries only its chunk of inputs. The workers need
casadi, numpy and gpu_stack installed (the same versions as the client).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import casadi as ca
import numpy as np

from gpu_stack.errors import InputError
from gpu_stack.solver.fastcall import FastCall
from gpu_stack.studies.optional import require

__all__ = ["Runner", "InProcess", "OnDask", "runner", "native", "CHUNK"]

CHUNK = 16384          # points per mapped call (and per Dask task): large enough to hide the call overhead
Progress = Callable[[int, int], None]   # (points done, points in all)


class Runner(Protocol):
    """Evaluates a compiled function over a D×N batch: returns outputs × N, NaN where a point failed."""

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


def native(function: ca.Function) -> ca.Function:
    """`function` as C: CasADi's generated code compiled by gcc -O2 into a shared library, loaded with
    `casadi.external`. The library is kept in the cache folder (`native/`, keyed by the function's serialization
    and the CasADi version) so a function is compiled once; without a writable cache folder, in a temporary one.

    Raises `InputError` when no C compiler (gcc or cc) is on the PATH, or it fails.
    """
    from gpu_stack.model.cache import cache_folder, fingerprint
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise InputError("--jit needs a C compiler (gcc or cc) on the PATH", hint="install gcc, or leave out --jit")
    digest = fingerprint(function.serialize(), ca.__version__)[:32]
    folder = cache_folder()
    try:
        folder = (folder / "native") if folder is not None else Path(tempfile.mkdtemp(prefix="gpu_stack_native_"))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="gpu_stack_native_"))
    library = folder / f"{digest}.so"
    if not library.exists():
        with tempfile.TemporaryDirectory() as work:
            generator = ca.CodeGenerator(f"batch_{digest}.c")
            generator.add(function)
            source = generator.generate(work + os.sep)
            built = Path(work) / library.name
            compiled = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(built), source, "-lm"],
                                      capture_output=True, text=True)
            if compiled.returncode != 0:
                raise InputError(f"--jit: {compiler} could not compile the batch function: "
                                 f"{compiled.stderr.strip()[-300:]}", hint="leave out --jit")
            shutil.move(str(built), library)   # whole or not at all: another process may read it
    return ca.external(function.name(), str(library))


class InProcess:
    """Evaluate in this process: chunks through CasADi `map` with one thread per core; as C with `jit`."""

    def __init__(self, chunk: int = CHUNK, threads: int | None = None, jit: bool = False) -> None:
        self.chunk = chunk
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.threads = threads or cores
        self.jit = jit

    def __call__(self, function: ca.Function, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        if self.jit:
            function = native(function)
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
        # digest -> the function's text on the workers; holding the future keeps it there for later calls
        self._shipped: dict[str, Any] = {}

    def __call__(self, function: ca.Function, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        distributed = require("distributed", "--dask")
        n = inputs.shape[1]
        size = min(self.chunk, n)
        serialized = function.serialize()
        digest = hashlib.sha256(serialized.encode()).hexdigest()
        shipped = self._shipped.get(digest)
        if shipped is None:
            shipped = self._shipped[digest] = self.client.scatter(serialized, broadcast=True, hash=False)
        starts = list(range(0, n, size))
        futures = [self.client.submit(_evaluate_chunk, shipped, digest, _padded(inputs, start, size), pure=False)
                   for start in starts]
        position = {future.key: k for k, future in enumerate(futures)}
        n_outputs = function.nnz_out(0)
        answers = np.empty((n_outputs, n))
        done = 0
        for future in distributed.as_completed(futures):
            start = starts[position[future.key]]
            stop = min(start + size, n)
            answers[:, start:stop] = checked(future.result(), n_outputs, size)[:, :stop - start]
            done += stop - start
            if progress is not None:
                progress(done, n)
        return answers


@contextlib.contextmanager
def runner(dask: str | None = None, *, chunk: int = CHUNK, jit: bool = False) -> Iterator[Runner]:
    """The runner for `--dask`: None → in this process (as C with `jit`); "local" → a `LocalCluster` of 2 worker
    processes on the loopback interface, closed afterwards; any other text → the scheduler at that address."""
    if dask is None:
        yield InProcess(chunk, jit=jit)
        return
    if jit:
        raise InputError("--jit compiles the batch for this process; a Dask cluster runs CasADi's own",
                         hint="leave out --jit or --dask")
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
