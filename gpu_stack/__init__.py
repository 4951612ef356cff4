"""gpu_stack: an open, unit-checked, acausal equation model of AI training infrastructure.

The data flow is the architecture: files → models (`gpu_stack.model`) →
`Registry` → graph and audit resolver (`gpu_stack.audit`) or structural
analysis and CasADi solve (`gpu_stack.solver`) → reports (`gpu_stack.reports`,
rendered by `gpu_stack.interface`). `Model` is the compiled Python API.

Heavy modules (CasADi, the registry loader) are imported on first use, so
`import gpu_stack` and `gpu-stack --help` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpu_stack.errors import GpuStackError, InputError

if TYPE_CHECKING:
    from gpu_stack.model.registry import Registry, load_registry
    from gpu_stack.solver.compiled import Model

__all__ = ["Model", "Registry", "load_registry", "GpuStackError", "InputError", "__version__"]
__version__ = "0.2.0"

_LAZY = {"Model": "gpu_stack.solver.compiled", "Registry": "gpu_stack.model.registry",
         "load_registry": "gpu_stack.model.registry"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gpu_stack' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)
