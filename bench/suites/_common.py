"""Shared plumbing of the structure suites (lookup, insert, overlap, gap).

Invariant
---------
Set-up happens once per worker process, lazily, inside the first call of a
case's ``time_func`` and before its timer starts (``Lazy``); the timed loop
touches nothing but the index method under test and a pre-built list.  A
``MeasuredCase`` may carry ``measure()``: extra, untimed numbers (probe depth,
bytes per VMA) that ``bench.runner`` computes once in its parent process and
stores as benchmark metadata.

Layout
------
::

    MeasuredCase(Case) + measure: () -> {"probe_depth": 4.2, ...}
    Lazy(setup)        -> .get() runs setup() once, caches the result
    case_name("lookup", "find", "uniform", 1000, "maple")
                       -> "lookup/find/uniform/n=001000/maple"

API
---
``MeasuredCase``, ``Lazy``, ``case_name``, ``base_metadata``,
``build_index``, ``probe_depth``, ``memory_per_vma``, ``STREAM_LEN``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bench.suites import Case
from structures import VMA, VMAIndex, make_index

__all__ = [
    "STREAM_LEN",
    "Lazy",
    "MeasuredCase",
    "base_metadata",
    "build_index",
    "case_name",
    "memory_per_vma",
    "probe_depth",
]

#: Operations per timed loop in the read suites; pyperf reports the time per operation.
STREAM_LEN = 2048

T = TypeVar("T")


@dataclass
class MeasuredCase(Case):
    """A ``Case`` with optional untimed measurements stored as metadata."""

    measure: Callable[[], dict[str, Any]] | None = field(default=None)


class Lazy(Generic[T]):
    """Run ``setup`` on first ``get()`` and keep the result (one set-up per worker)."""

    __slots__ = ("_setup", "_value")

    def __init__(self, setup: Callable[[], T]) -> None:
        self._setup: Callable[[], T] | None = setup
        self._value: T | None = None

    def get(self) -> T:
        if self._setup is not None:
            self._value = self._setup()
            self._setup = None
        return self._value  # type: ignore[return-value]


def case_name(suite: str, op: str, stream: str, n: int, backend: str) -> str:
    """Sortable benchmark name: ``suite/op/stream/n=000100/backend``."""
    return f"{suite}/{op}/{stream}/n={n:06d}/{backend}"


def base_metadata(suite: str, op: str, stream: str, n: int, backend: str, seed: int) -> dict[str, Any]:
    return {"suite": suite, "op": op, "stream": stream, "n": n, "backend": backend, "seed": seed}


def build_index(backend: str, vmas: Iterable[VMA]) -> VMAIndex:
    """A fresh ``backend`` index holding ``vmas`` (inserted in the given order)."""
    idx = make_index(backend)
    insert = idx.insert
    for v in vmas:
        insert(v)
    return idx


def probe_depth(idx: VMAIndex, addrs: Iterable[int]) -> dict[str, Any]:
    """Mean and max ``probe()`` over ``addrs``, plus the index's height and node count."""
    depths = [idx.probe(a) for a in addrs]
    st = idx.stats()
    return {
        "probe_depth": round(sum(depths) / max(1, len(depths)), 3),
        "probe_depth_max": max(depths, default=0),
        "height": int(st.get("height", 0)),
        "nodes": int(st.get("nodes", 0)),
    }


def memory_per_vma(backend: str, vmas: list[VMA]) -> dict[str, Any]:
    """Bytes per VMA allocated while building (``tracemalloc``), and the index's own estimate.

    The VMA objects themselves are built before tracing starts, so the number is
    the structure's overhead per VMA (nodes, slots, bookkeeping).
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        idx = build_index(backend, vmas)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    n = max(1, len(vmas))
    est = int(idx.stats().get("bytes", 0))
    return {"bytes_per_vma": round((after - before) / n, 1), "stats_bytes_per_vma": round(est / n, 1)}
