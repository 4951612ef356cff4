"""A real `gpu-stack serve` process on a free loopback port (shared by the browser and load tests and
benchmarks/serve.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LLAMA = "runs.llama3_405b_h100"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(presets: tuple[str, ...] = (LLAMA,), timeout: float = 30.0) -> Iterator[tuple[str, int, float]]:
    """Run `gpu-stack serve --port P` from this source tree; yield (base URL, server pid, seconds until it
    answered); stop it afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "gpu_stack.cli", "serve", "--port", str(port)]
    for preset in presets:
        command += ["--preset", preset]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()   # "gpu-stack serve: URL (Ctrl-C stops)" once the port answers
        ready = time.perf_counter() - started
        if "gpu-stack serve: http://127.0.0.1" not in line:
            process.kill()
            raise RuntimeError(f"gpu-stack serve did not start: {line}{process.stderr.read()}")
        yield f"http://127.0.0.1:{port}", process.pid, ready
    finally:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stderr.close()


def resident_kib(pid: int) -> int:
    """Resident memory of a process (Linux /proc), KiB."""
    with open(f"/proc/{pid}/statm") as statm:   # size resident shared … in pages
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def _open(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    return list(await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(count))))


async def _post(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str,
                body: bytes) -> tuple[int, float, bytes]:
    reader, writer = connection
    started = time.perf_counter()
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    length = int(next(line.split(":", 1)[1] for line in head.split("\r\n") if line.lower().startswith("content-length")))
    answer = await reader.readexactly(length)
    return int(head.split(" ", 2)[1]), time.perf_counter() - started, answer


def post_concurrently(base: str, path: str, bodies: list[dict], rounds: int = 1,
                      between: Callable[[int], None] | None = None) -> list[tuple[int, float, bytes]]:
    """POST every body at once over its own keep-alive connection (a small load generator, like wrk: the
    client costs little next to the server), `rounds` times; (status, seconds, body) per request.
    `between(round)` runs before each round."""
    port = int(base.rsplit(":", 1)[1])

    async def run() -> list[tuple[int, float, bytes]]:
        connections = await _open(port, len(bodies))
        results: list[tuple[int, float, bytes]] = []
        try:
            for round_ in range(rounds):
                if between is not None:
                    between(round_)
                encoded = [json.dumps(body).encode() for body in bodies]
                results += await asyncio.gather(*(_post(c, path, b) for c, b in zip(connections, encoded)))
        finally:
            for _reader, writer in connections:
                writer.close()
        return results

    return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()   # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
