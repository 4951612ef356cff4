"""Optional dependencies of the studies (pip install 'gpu-stack[studies]'): a clear message when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from gpu_stack.errors import InputError

__all__ = ["require"]


def require(module: str, purpose: str) -> ModuleType:
    """Import `module`, or raise an `InputError` (exit 2) saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"SALib": "SALib", "distributed": "dask[distributed]", "pyarrow": "pyarrow"}.get(
            module.split(".")[0], module.split(".")[0])
        extra = "" if package == "pyarrow" else " (or pip install 'gpu-stack[studies]')"
        raise InputError(f"{purpose} needs the Python package {package}, which is not installed",
                         hint=f"pip install '{package}'{extra}") from None
