"""Where the shipped registry, scenarios, problems and validation cases live.

In a wheel they are packaged under `gpu_stack/_data/`; in a source checkout
(editable install, tests) they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["builtin_registry", "builtin_scenarios", "builtin_problems", "builtin_validation",
           "builtin_observations"]

_PACKAGE = Path(__file__).resolve().parent.parent  # gpu_stack/


def _data_folder(name: str) -> Path:
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


def builtin_registry() -> Path:
    """The shipped registry folder."""
    return _data_folder("registry")


def builtin_scenarios() -> Path:
    """The shipped scenarios folder."""
    return _data_folder("scenarios")


def builtin_problems() -> Path:
    """The shipped problems folder."""
    return _data_folder("problems")


def builtin_validation() -> Path:
    """The shipped validation folder (published figures of real runs, `gpu-stack validate`)."""
    return _data_folder("validation")

def builtin_observations() -> Path:
    """The shipped observations folder (what `gpu-stack calibrate` fits the calibrated packs to)."""
    return _data_folder("observations")
