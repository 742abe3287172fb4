"""Load a script that is not part of an installed package (``tools/*.py``, ``results/render.py``)
as a module, so tests can call its functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: the repository's root
ROOT = Path(__file__).resolve().parents[1]


def load_script(relpath: str) -> ModuleType:
    """The module made by running ``ROOT / relpath`` (a fresh one on every call)."""
    path = ROOT / relpath
    name = "vmalab_script_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # registered first, as importlib does: dataclasses look the module up
    spec.loader.exec_module(module)
    return module
