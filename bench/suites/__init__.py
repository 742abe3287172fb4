"""pyperf suites, one module each: the benchmarks as data.

Protocol
--------
Each module ``bench/suites/<suite>.py`` defines::

    SUITE = "<suite>"                      # the --suite name
    DESCRIPTION = "one line"
    def cases(opts: SuiteOptions) -> list[Case]
    EXTRA = {"key": ("int", "help")}       # optional: the suite's --extra options

``EXTRA`` declares the ``--extra KEY=VALUE`` options a suite reads from
``SuiteOptions.extra`` and their kinds (``int``, ``ints``, ``str``, ``strs``:
the plural kinds take comma-separated lists); ``parse_extra`` turns the
command line's strings into those values and refuses a key no selected suite
declares.

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
can pivot on them.  ``build_metadata()`` is what the runner adds to every
benchmark: the interpreter's build and whether the GIL is on at run time.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Case", "SuiteOptions", "available_suites", "build_metadata", "gil_enabled", "load_suite", "parse_extra",
]


def gil_enabled() -> bool:
    """Is the GIL on in this process now (always, on a build that has one)?"""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def build_metadata() -> dict[str, str]:
    """The interpreter a benchmark ran on: ``python_build`` (``GIL`` or ``free-threaded``),
    ``free_threaded`` and ``gil_enabled`` (``yes``/``no``, the latter at run time: a
    free-threaded build runs with the GIL when ``PYTHON_GIL=1`` or an extension asks for it),
    ``python_version``."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return {
        "python_build": "free-threaded" if free else "GIL",
        "free_threaded": "yes" if free else "no",
        "gil_enabled": "yes" if gil_enabled() else "no",
        "python_version": platform.python_version(),
    }


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


_KINDS = ("int", "ints", "str", "strs")


def _convert(key: str, kind: str, text: str) -> Any:
    items = [t.strip() for t in text.split(",")] if kind in ("ints", "strs") else [text.strip()]
    if any(not t for t in items):
        raise ValueError(f"--extra {key}={text!r}: empty value")
    if kind in ("int", "ints"):
        try:
            nums = [int(t, 0) for t in items]
        except ValueError:
            what = "integers" if kind == "ints" else "an integer"
            raise ValueError(f"--extra {key}={text!r}: {key} takes {what}") from None
        return nums[0] if kind == "int" else list(dict.fromkeys(nums))  # a repeat would name two cases alike
    return items[0] if kind == "str" else list(dict.fromkeys(items))


def parse_extra(items: list[str] | tuple[str, ...], suites: list[str]) -> dict[str, Any]:
    """``["block=262144", "policies=full,range"]`` -> typed values, per the ``EXTRA`` of ``suites``.

    ``ValueError`` names the offending item: no ``=``, a key given twice, a key
    none of the selected suites declares (listing those it knows), or a value of
    the wrong kind.  Repeated list items are dropped (they would name two cases alike).
    """
    declared: dict[str, tuple[str, str]] = {}
    for name in suites:
        for key, (kind, help_) in getattr(load_suite(name), "EXTRA", {}).items():
            if kind not in _KINDS:
                raise ValueError(f"suite {name!r} declares --extra {key} of unknown kind {kind!r}")
            declared.setdefault(key, (kind, help_))
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--extra {item!r}: give KEY=VALUE, e.g. block=262144")
        if key in out:
            raise ValueError(f"--extra {key!r} given twice")
        if key not in declared:
            known = ", ".join(sorted(declared)) or "(none)"
            raise ValueError(f"--extra {key!r}: not an option of the suites {', '.join(suites)}; known: {known}")
        out[key] = _convert(key, declared[key][0], text)
    return out
