"""Compiled functions, kept across calls and across processes.

In a process, each loaded `Registry` has one `SolverCache` (held weakly, so
it goes with the registry): question shapes → formulations, structures and
compiled CasADi functions. On disk, a compiled block solve is kept as
CasADi's own serialization, keyed by the registry's content hash (every
file of every layer, the gpu_stack and CasADi versions) and the question's
structure, so a changed file never meets a stale function.

The disk cache lives in `$GPU_STACK_CACHE_DIR`, else
`$XDG_CACHE_HOME/gpu_stack`, else `~/.cache/gpu_stack`;
`GPU_STACK_CACHE_DIR=off` turns it off. A folder that cannot be written is
skipped silently: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import casadi as ca

from gpu_stack.model.cache import cache_folder
from gpu_stack.model.registry import Registry

__all__ = ["SolverCache", "cache_for", "cache_folder", "registry_hash"]

T = TypeVar("T")


def registry_hash(registry: Registry) -> str:
    """A content hash of every file the registry was loaded from (and of the code that compiles it).

    A strict load already fingerprinted every file it read (`Registry.content_key`); that is reused
    rather than reading the files again.
    """
    from gpu_stack import __version__
    digest = hashlib.sha256(f"gpu_stack {__version__} casadi {ca.__version__}".encode())
    if registry.content_key is not None:
        digest.update(registry.content_key.encode())
        return digest.hexdigest()
    for layer in registry.layers:
        root = Path(layer)
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".toml", ".txt")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class SolverCache:
    """What one registry has compiled: in memory always, on disk when a folder is available."""

    registry_key: str | None = None                 # content hash, computed on first disk use
    memory: dict[Any, Any] = field(default_factory=dict)
    disk_hits: int = 0
    disk_writes: int = 0

    def get(self, key: Any, build: Callable[[], T]) -> T:
        """The cached value for `key`, built once."""
        try:
            return self.memory[key]
        except KeyError:
            value = self.memory[key] = build()
            return value

    def functions(self, registry: Registry, key: Any, build: Callable[[], tuple[dict[str, ca.Function], dict]]
                  ) -> tuple[dict[str, ca.Function], dict]:
        """Named CasADi functions and JSON metadata for `key`: from memory, else disk, else `build()`.

        `key` must describe the question's structure completely (its repr is hashed).
        """
        hit = self.memory.get(("functions", key))
        if hit is not None:
            return hit
        folder = cache_folder()
        path = None
        if folder is not None:
            if self.registry_key is None:
                self.registry_key = registry_hash(registry)
            name = hashlib.sha256((self.registry_key + repr(key)).encode()).hexdigest()[:32]
            path = folder / f"casadi-{name}.json"
            loaded = _load(path)
            if loaded is not None:
                self.disk_hits += 1
                self.memory[("functions", key)] = loaded
                return loaded
        value = build()
        self.memory[("functions", key)] = value
        if path is not None and _save(path, *value):
            self.disk_writes += 1
        return value


def _load(path: Path) -> tuple[dict[str, ca.Function], dict] | None:
    try:
        data = json.loads(path.read_text())
        functions = {name: ca.Function.deserialize(text) for name, text in data["functions"].items()}
        return functions, data["meta"]
    except (OSError, ValueError, KeyError, RuntimeError, TypeError):
        return None


def _save(path: Path, functions: dict[str, ca.Function], meta: dict) -> bool:
    try:
        text = json.dumps({"functions": {name: f.serialize() for name, f in functions.items()}, "meta": meta})
        path.parent.mkdir(parents=True, exist_ok=True)
        # write whole or not at all: a reader never sees half a file
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
        _prune(path.parent)
        return True
    except (OSError, RuntimeError):
        return False


KEEP_FUNCTIONS = 64   # compiled question shapes kept on disk; the oldest go first


def _prune(folder: Path) -> None:
    """Keep the most recently written compiled functions only (best effort)."""
    try:
        entries = sorted(folder.glob("casadi-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[KEEP_FUNCTIONS:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


_CACHES: "weakref.WeakKeyDictionary[Registry, SolverCache]" = weakref.WeakKeyDictionary()


def cache_for(registry: Registry) -> SolverCache:
    """The cache of one loaded registry."""
    cache = _CACHES.get(registry)
    if cache is None:
        cache = _CACHES[registry] = SolverCache()
    return cache
