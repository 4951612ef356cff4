"""gpu_stack: an open, unit-checked, acausal equation model of AI training infrastructure.

The data flow is the architecture: files → models (`models`, `loader`) →
`Registry` → graph (`graph`) → audit resolver (`resolver`) or structural
analysis and CasADi solve → reports (`reports`, rendered by the CLI).
"""

from gpu_stack.errors import GpuStackError, InputError
from gpu_stack.model.registry import Registry, load_registry

__all__ = ["Registry", "load_registry", "GpuStackError", "InputError", "__version__"]
__version__ = "0.1.0"
