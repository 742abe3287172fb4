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
Second op, ``churn`` -- the steady state of a process that maps and unmaps
while it runs: on an index pre-built with the whole layout (outside the
timer), one timed loop removes and re-inserts ``CHURN`` (1,024) VMAs chosen
by a seeded draw, each ``remove`` immediately followed by the ``insert`` of
the same VMA, so the index keeps its ``n`` VMAs throughout; pyperf reports
the time per operation (``inner_loops = 2 * CHURN``).

Cases: orders x sizes x backends, plus ``churn`` x sizes x backends; with
``--fast`` only ``random`` and ``churn``.  Untimed metadata on the build
cases: ``bytes_per_vma`` (``tracemalloc`` growth while building, VMA objects
excluded) and ``stats_bytes_per_vma`` (the index's own estimate); and the
write cost, language independent like ``probe()`` for reads, from one
build and teardown in the case's order (``VMAIndex.write_stats()``, for the
backends that count it): ``insert_<counter>`` per insert and
``remove_<counter>`` per remove, for the counters ``nodes_allocated``,
``nodes_copied``, ``nodes_freed`` and ``rebalances``; on the churn cases
``churn_<counter>`` per operation.

Names: ``insert/build+remove/<order>/n=<n>/<backend>``,
``insert/churn/random/n=<n>/<backend>``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.inputs.workloads import synthetic_layout
from bench.suites import Case, SuiteOptions
from bench.suites._common import Lazy, MeasuredCase, base_metadata, case_name, memory_per_vma
from structures import VMA
from structures.registry import index_factory

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
        vmas, new_index = state.get()
        out = memory_per_vma(backend, vmas)
        idx = new_index()
        for v in vmas:
            idx.insert(v)
        out.update(_per_op("insert", idx.write_stats(reset=True), len(vmas)))
        for v in vmas:
            idx.remove(v)
        out.update(_per_op("remove", idx.write_stats(reset=True), len(vmas)))
        return out

    return MeasuredCase(
        case_name(SUITE, OP, order, n, backend),
        time_func,
        base_metadata(SUITE, OP, order, n, backend, seed),
        inner_loops=2 * n,
        measure=measure,
    )


CHURN = 1024


def _per_op(prefix: str, stats: dict[str, int], ops: int) -> dict[str, float]:
    """Write-cost counters divided by the number of operations, as metadata keys."""
    return {f"{prefix}_{k}": round(v / max(1, ops), 4) for k, v in stats.items()}


def _churn_case(backend: str, n: int, seed: int) -> Case:
    def setup() -> tuple[Any, list[VMA]]:
        vmas = synthetic_layout(n, seed).vmas
        idx = index_factory(backend)()
        for v in vmas:
            idx.insert(v)
        rng = random.Random(f"vmalab-churn-{n}-{seed}")
        return idx, [vmas[rng.randrange(len(vmas))] for _ in range(CHURN)]

    state = Lazy(setup)

    def time_func(loops: int) -> float:
        idx, victims = state.get()
        insert, remove = idx.insert, idx.remove
        t0 = time.perf_counter()
        for _ in range(loops):
            for v in victims:
                remove(v)
                insert(v)
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        idx, victims = state.get()
        idx.write_stats(reset=True)
        for v in victims:
            idx.remove(v)
            idx.insert(v)
        return _per_op("churn", idx.write_stats(reset=True), 2 * len(victims))

    return MeasuredCase(case_name(SUITE, "churn", "random", n, backend), time_func,
                        base_metadata(SUITE, "churn", "random", n, backend, seed), inner_loops=2 * CHURN,
                        measure=measure)  # fmt: skip


def cases(opts: SuiteOptions) -> list[Case]:
    orders = FAST_ORDERS if opts.fast else ORDERS
    out = [_case(b, n, order, opts.seed) for order in orders for n in opts.sizes for b in opts.backends]
    return out + [_churn_case(b, n, opts.seed) for n in opts.sizes for b in opts.backends]
