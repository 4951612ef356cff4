"""The long fuzz run of issue 11: crashes, hangs and silent wrong answers, counted.

    python3 benchmarks/fuzz.py [--parser N] [--registries N] [--calls N] [--inverses N] [--seed S] [--json FILE]

Four families of input, drawn from a seeded random source by the generators
of tests/fuzzing.py (the suite's tests/test_fuzz.py draws a few of each with
hypothesis):
- parser: texts for `parse_expression` and `parse_equation` (random and
  Unicode characters, generated and corrupted expressions, deep nesting,
  long sums), then a few extreme ones (nesting 1,000-5,000 deep, sums of
  20,000 and 100,000 terms, a 10 MB equation);
- registries: a small registry folder (one in five: a copy of the whole
  built-in registry) with one file changed, then `gpu-stack verify`;
- calls: malformed command lines, scenario and problem files with one thing
  changed, and well-formed questions behind issue 11's silent wrong answers;
- inverses: the targets of two shipped problems and of issue 11's integer
  inverse scaled at random, each `ok` answer put back as assignments and
  resolved forward.

Every input runs in one worker process (in-process CLI calls, typer's
CliRunner); the parent kills and restarts the worker when an input runs past
the time limit, and counts a hang. Counted as failures: a crash (exit 3, an
escaped exception, a traceback), a hang, and a silent wrong answer (an `ok`
inverse that misses its target forward by more than 1e-9, `ok` with a
fractional integer or a non-finite number, `verify` ok after a change issue
11 wants refused, `ok` for an optimum at infinity). Nothing here asserts:
the counts are printed, with the first reproducers of each kind.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))   # the generators shared with the suite
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

import fuzzing as F  # noqa: E402

FAMILIES = ("parser", "registries", "calls", "inverses")
KINDS = ("crash", "hang", "silent wrong answer")
# the inverses' target factors: wide enough to leave the comfortable middle, most answers still `ok`
FACTORS = {"throughput_for_cost": (0.5, 2.0), "stall_for_deadline": (0.8, 1.3), "dp_degree_for_deadline": (0.75, 1.2)}


# --- the worker: runs one input at a time, in-process ------------------------------------------------------

def _run_job(job: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """One input -> {'failure': (kind, message) or None, 'note': outcome word}."""
    if job["type"] == "parse":
        from gpu_stack.errors import ExpressionError
        from gpu_stack.model.expressions import parse_equation, parse_expression
        notes = []
        for parse in (parse_expression, parse_equation):
            try:
                parse(job["text"])
                notes.append("parsed")
            except ExpressionError:
                notes.append("refused")
            except BaseException as exc:  # noqa: BLE001 -- anything else is the finding
                return {"failure": ("crash", f"{parse.__name__}: {type(exc).__name__}: {str(exc)[:200]}"),
                        "note": "crash"}
        return {"failure": None, "note": "/".join(notes)}
    if job["type"] == "cli":
        from typer.testing import CliRunner
        from gpu_stack.interface.cli import app
        result = CliRunner().invoke(app, job["args"], catch_exceptions=True)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        crash = F.verdict(result.exit_code, result.stdout, result.stderr, exception)
        if crash is not None:
            return {"failure": ("crash", crash), "note": f"exit {result.exit_code}"}
        registry = state["registry"]
        wrong = F.silent_wrong_answer(job["args"], result.exit_code, result.stdout,
                                      lambda ident: ident in registry.variables and registry.variables[ident].integer)
        if wrong is None and result.exit_code == 0 and job.get("ok_is_wrong"):
            status = json.loads(result.stdout).get("status") if "--json" in job["args"] else "ok"
            wrong = job["ok_is_wrong"] if status == "ok" else None
        if wrong is not None:
            return {"failure": ("silent wrong answer", wrong), "note": f"exit {result.exit_code}"}
        return {"failure": None, "note": f"exit {result.exit_code}"}
    check = F.perturbed_inverse(state["registry"], job["which"], job["factor"])
    failure = ("silent wrong answer", "; ".join(check.problems)) if check.problems else None
    return {"failure": failure, "note": check.status, "worst_miss": check.worst_miss, "question": check.question}


def _worker(connection: Connection) -> None:
    from gpu_stack.model.registry import load_registry
    state = {"registry": load_registry()}
    connection.send("ready")
    while True:
        job = connection.recv()
        if job is None:
            return
        try:
            connection.send(_run_job(job, state))
        except BaseException as exc:  # noqa: BLE001 -- the harness itself must survive any input
            connection.send({"failure": ("crash", f"fuzz harness: {type(exc).__name__}: {str(exc)[:200]}"),
                             "note": "crash"})


class Worker:
    """A worker process with a time limit per input: past it, the worker is killed and started again."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.connection: Connection | None = None

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not parent.poll(120) or parent.recv() != "ready":
            raise RuntimeError("the fuzz worker did not start")
        self.connection = parent

    def run(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The job's result, or None when it ran past the time limit (a hang)."""
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.connection is not None
        self.connection.send(job)
        if self.connection.poll(self.limit):
            try:
                return self.connection.recv()
            except EOFError:   # the worker died (killed by the system, out of memory): a crash
                self.stop()
                return {"failure": ("crash", "the worker process died"), "note": "died"}
        self.stop()
        return None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join()
        self.process = self.connection = None


# --- bookkeeping -------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """Counts of one family, and the failures' reproducers."""

    runs: int = 0
    notes: Counter = field(default_factory=Counter)
    failures: dict[str, list[dict[str, str]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    seconds: float = 0.0
    worst_miss: float = 0.0

    def add(self, reproducer: str, result: dict[str, Any] | None, limit: float) -> None:
        self.runs += 1
        if result is None:
            self.notes["hang"] += 1
            self.failures["hang"].append({"input": reproducer, "message": f"still running after {limit:g} s"})
            return
        self.notes[result["note"]] += 1
        self.worst_miss = max(self.worst_miss, result.get("worst_miss", 0.0))
        if result["failure"] is not None:
            kind, message = result["failure"]
            self.failures[kind].append({"input": reproducer, "message": message})


def _short(text: str, limit: int = 300) -> str:
    text = text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


# --- the four families -------------------------------------------------------------------------------------

def fuzz_parser(worker: Worker, rng: random.Random, count: int, tally: Tally) -> None:
    extreme = [(F.nested_text(shape, depth), f"{shape[0]!r} nested {depth} deep")
               for shape in F.NESTINGS[:3] for depth in (1000, 5000)]
    extreme += [(F.long_sum(terms), f"a flat sum of {terms:,} terms") for terms in (20_000, 100_000)]
    extreme.append(("big.x = " + " + ".join(["lin.a"] * 1_300_000), "a 10 MB equation"))
    for index in range(count):
        text, kind = F.parser_text(rng, max_depth=600, max_terms=3000)
        tally.add(f"parse_expression({_short(text)!s})  [{kind}]", worker.run({"type": "parse", "text": text}),
                  worker.limit)
    for text, what in extreme:
        tally.add(f"parse_expression(<{what}>)", worker.run({"type": "parse", "text": text}), worker.limit)


def fuzz_registries(worker: Worker, rng: random.Random, count: int, tally: Tally, work: Path,
                    full_every: int) -> None:
    small_base = F.small_registry(work / "small_base")
    full_base = F.full_registry(work / "full_base")
    for index in range(count):
        folder = work / f"registry_{index}"
        base = full_base if full_every and index % full_every == full_every - 1 else small_base
        shutil.copytree(base, folder)
        mutation = F.mutate_registry(rng, folder, hang_prone=rng.random() < 0.1)
        what = f"{'built-in copy' if base is full_base else 'small registry'}: {mutation.describe()}"
        result = worker.run({"type": "cli", "args": ["verify", "--registry", str(folder)]})
        if result is not None and result["failure"] is None and mutation.must_refuse and result["note"] == "exit 0":
            result = {**result, "failure": ("silent wrong answer", "verify says ok after a change issue 11 wants "
                                                                   "refused")}
        tally.add(f"gpu-stack verify --registry DIR  [{what}]", result, worker.limit)
        shutil.rmtree(folder, ignore_errors=True)


def fuzz_calls(worker: Worker, rng: random.Random, count: int, tally: Tally, work: Path) -> None:
    bases = {"scenario": (F.scenario_or_problem_base(F.FIXTURE_SCENARIO), F.SCENARIO_KEYS),
             "problem": (F.scenario_or_problem_base(F.THROUGHPUT_PROBLEM), F.PROBLEM_KEYS)}
    for index in range(count):
        pick = rng.random()
        job: dict[str, Any] = {"type": "cli"}
        if pick < 0.5:
            job["args"] = F.malformed_call(rng, hang_prone=rng.random() < 0.05)
            what = ""
        elif pick < 0.8:
            which = rng.choice(("scenario", "problem"))
            data, keys = bases[which]
            path = work / f"call_{index}.toml"
            mutation = F.mutate_document(rng, data, keys, path)
            job["args"] = (["resolve", "econ.cost.per_token", "--preset", str(path), "--json"] if which == "scenario"
                           else ["solve", str(path), "--json"])
            what = f"  [{which} file: {mutation.describe()}]"
        else:
            job["args"], job["ok_is_wrong"] = F.sensible_solve_call(rng)
            what = ""
        if "/" in job["args"] and "--registry" in job["args"]:
            job["args"][job["args"].index("/")] = str(work / "nonexistent")  # walking / takes minutes
        shown = " ".join(repr(a) if (" " in a or not a) else a for a in job["args"])
        tally.add(f"gpu-stack {_short(shown, 400)}{what}", worker.run(job), worker.limit)


def fuzz_inverses(worker: Worker, rng: random.Random, count: int, tally: Tally) -> None:
    for index in range(count):
        which = F.INVERSES[index % len(F.INVERSES)]
        factor = rng.uniform(*FACTORS[which])
        result = worker.run({"type": "inverse", "which": which, "factor": factor})
        question = result.get("question", which) if result else f"{which} × {factor!r}"
        tally.add(question, result, worker.limit)


# --- main --------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parser", type=int, default=20_000, help="parser inputs (default 20000)")
    parser.add_argument("--registries", type=int, default=300, help="mutated registries (default 300)")
    parser.add_argument("--calls", type=int, default=200, help="malformed or issue-11 CLI calls (default 200)")
    parser.add_argument("--inverses", type=int, default=30, help="perturbed inverses (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per input before it is a hang")
    parser.add_argument("--full-every", type=int, default=5,
                        help="every Nth mutated registry is a copy of the whole built-in one (0: never)")
    parser.add_argument("--examples", type=int, default=3, help="reproducers printed per failure kind and family")
    parser.add_argument("--json", metavar="FILE", help="write the counts and every failure as JSON")
    args = parser.parse_args(argv)

    # the worker's compiled-registry cache lives in a folder of its own: mutated registries never reach a user's
    os.environ.setdefault("GPU_STACK_CACHE_DIR", tempfile.mkdtemp(prefix="gpu_stack_fuzz_cache_"))
    rng = random.Random(args.seed)
    tallies = {family: Tally() for family in FAMILIES}
    worker = Worker(args.time_limit)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu_stack_fuzz_") as tmp:
        work = Path(tmp)
        steps = (("parser", lambda t: fuzz_parser(worker, rng, args.parser, t)),
                 ("registries", lambda t: fuzz_registries(worker, rng, args.registries, t, work, args.full_every)),
                 ("calls", lambda t: fuzz_calls(worker, rng, args.calls, t, work)),
                 ("inverses", lambda t: fuzz_inverses(worker, rng, args.inverses, t)))
        try:
            for family, step in steps:
                print(f"fuzzing: {family}…", file=sys.stderr, flush=True)
                begin = time.monotonic()
                step(tallies[family])
                tallies[family].seconds = time.monotonic() - begin
        finally:
            worker.stop()
    total = time.monotonic() - started

    print(f"gpu-stack fuzz run (seed {args.seed}, time limit {args.time_limit:g} s per input, {total:.0f} s)")
    print()
    print(f"| {'family':<10} | {'inputs':>7} | {'crashes':>7} | {'hangs':>5} | {'silent wrong':>12} | "
          f"{'time':>6} | outcomes")
    print(f"|{'-' * 12}|{'-' * 9}|{'-' * 9}|{'-' * 7}|{'-' * 14}|{'-' * 8}|---------")
    for family, tally in tallies.items():
        counts = [len(tally.failures[kind]) for kind in KINDS]
        outcomes = ", ".join(f"{note} {n}" for note, n in tally.notes.most_common(6))
        if family == "inverses":
            outcomes += f"; worst forward miss of an ok answer {tally.worst_miss:.1e}"
        print(f"| {family:<10} | {tally.runs:>7} | {counts[0]:>7} | {counts[1]:>5} | {counts[2]:>12} | "
              f"{tally.seconds:>5.0f}s | {outcomes}")
    for kind in KINDS:
        found = [(family, item) for family, tally in tallies.items() for item in tally.failures[kind]]
        if not found:
            continue
        print(f"\n{kind}: {len(found)} in all; first reproducers of each family:")
        for family in FAMILIES:
            for item in tallies[family].failures[kind][:args.examples]:
                print(f"  [{family}] {item['input']}\n      -> {_short(item['message'], 300)}")
    if args.json:
        data = {"seed": args.seed, "time_limit": args.time_limit, "seconds": total,
                "families": {family: {**asdict(tally), "notes": dict(tally.notes),
                                      "counts": {kind: len(tally.failures[kind]) for kind in KINDS}}
                             for family, tally in tallies.items()}}
        Path(args.json).write_text(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
