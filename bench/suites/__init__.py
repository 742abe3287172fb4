"""pyperf suites, one module each: the benchmarks as data.

Protocol
--------
Each module ``bench/suites/<suite>.py`` defines::

    SUITE = "<suite>"                      # the --suite name
    DESCRIPTION = "one line"
    def cases(opts: SuiteOptions) -> list[Case]

``cases`` must be cheap and deterministic (pyperf re-runs the whole script in
every worker, so the list and its order must be identical each time); the heavy
set-up (building an index, generating a stream) happens lazily inside the
case's ``time_func`` *before* the timer starts, cached so that it happens once
per worker.  ``time_func(loops)`` runs the measured operation ``loops`` times
and returns the elapsed seconds (``time.perf_counter``), exactly as pyperf's
``Runner.bench_time_func`` expects.  Threads, when a case uses them, are
started inside ``time_func``.

Names sort well: ``suite/op/stream/n=000100/backend`` style (zero-padded sizes),
and ``metadata`` carries at least ``suite`` and ``backend`` (plus ``n``,
``op``, ``stream``, ``threads``, ``policy`` where they apply) so that reports
can pivot on them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "SuiteOptions", "available_suites", "load_suite"]


@dataclass(frozen=True)
class SuiteOptions:
    """What the user selected on the command line."""

    backends: tuple[str, ...]
    sizes: tuple[int, ...]
    fast: bool = False
    seed: int = 42
    threads: tuple[int, ...] = (1, 2, 4)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    """One pyperf benchmark: a name, a timed function and its metadata."""

    name: str
    time_func: Callable[[int], float]
    metadata: dict[str, Any]
    inner_loops: int | None = None


def available_suites() -> dict[str, str]:
    """Suite name -> description, from the modules of this package."""
    out: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        suite = getattr(mod, "SUITE", None)
        if suite:
            out[suite] = getattr(mod, "DESCRIPTION", "")
    return out


def load_suite(name: str) -> Any:
    """The module of suite ``name`` (``ValueError`` listing the known ones)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if getattr(mod, "SUITE", None) == name:
            return mod
    raise ValueError(f"unknown suite {name!r}; known suites: {', '.join(available_suites()) or '(none)'}")
