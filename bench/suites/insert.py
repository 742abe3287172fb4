"""The ``insert`` suite: build an index of n VMAs from empty, then remove them all.

Op mix
------
One timed loop = ``make_index(backend)``, ``n`` ``insert`` calls in the
chosen order, then ``n`` ``remove`` calls in the same order; pyperf reports
the time per operation (``inner_loops = 2 n``).  Orders:

* ``random``     -- a seeded shuffle (a process mapping things in no order);
* ``ascending``  -- address order (``fork``: ``dup_mmap`` appends);
* ``descending`` -- reverse order (top-down ``mmap`` allocation).

The VMAs come from ``synthetic_layout(n, seed)``, built before the timer.
Cases: orders x sizes x backends; with ``--fast`` only ``random``.  Untimed
metadata: ``bytes_per_vma`` (``tracemalloc`` growth while building, VMA
objects excluded) and ``stats_bytes_per_vma`` (the index's own estimate).

Names: ``insert/build+remove/<order>/n=<n>/<backend>``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.workloads import synthetic_layout
from structures import VMA
from structures.registry import index_factory

from . import Case, SuiteOptions
from ._common import Lazy, MeasuredCase, base_metadata, case_name, memory_per_vma

SUITE = "insert"
DESCRIPTION = "build n VMAs from empty (random/ascending/descending), then remove all"

OP = "build+remove"
ORDERS = ("random", "ascending", "descending")
FAST_ORDERS = ("random",)


def _ordered(vmas: tuple[VMA, ...], order: str, seed: int) -> list[VMA]:
    if order == "ascending":
        return list(vmas)
    if order == "descending":
        return list(reversed(vmas))
    out = list(vmas)
    random.Random(f"vmalab-insert-{len(vmas)}-{seed}").shuffle(out)
    return out


def _case(backend: str, n: int, order: str, seed: int) -> Case:
    state = Lazy(lambda: (_ordered(synthetic_layout(n, seed).vmas, order, seed), index_factory(backend)))

    def time_func(loops: int) -> float:
        vmas, new_index = state.get()  # the config is resolved once, outside the timer
        t0 = time.perf_counter()
        for _ in range(loops):
            idx = new_index()
            insert, remove = idx.insert, idx.remove
            for v in vmas:
                insert(v)
            for v in vmas:
                remove(v)
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        return memory_per_vma(backend, state.get()[0])

    return MeasuredCase(
        case_name(SUITE, OP, order, n, backend),
        time_func,
        base_metadata(SUITE, OP, order, n, backend, seed),
        inner_loops=2 * n,
        measure=measure,
    )


def cases(opts: SuiteOptions) -> list[Case]:
    orders = FAST_ORDERS if opts.fast else ORDERS
    return [_case(b, n, order, opts.seed) for order in orders for n in opts.sizes for b in opts.backends]
