"""The ``gap`` suite: ``find_gap`` (``vm_unmapped_area``) for mmap-like lengths.

Op mix
------
Each benchmark times 1,024 calls of
``idx.find_gap(length, low=mmap_low, high=mmap_high, top_down=...)`` on an
index pre-built in address order from ``synthetic_layout(n, seed)``; the
lengths are ``gap_lengths`` (log-uniform 1..512 pages 90 %, 8 MiB thread
stacks 5 %, 64 MiB arena reserves 5 %).  ``[low, high)`` is the layout's
mmap area, densely packed as in a real process, so the search must skip the
holes that are too small.  Read-only: nothing is inserted, every call sees the
same index.  pyperf reports time per call.

Cases: ``bottom-up`` (legacy layout) and ``top-down`` (x86-64 default)
x sizes x backends, also with ``--fast``.

Names: ``gap/find_gap/<direction>/n=<n>/<backend>``.
"""

from __future__ import annotations

import time
from typing import Any

from bench.inputs.workloads import gap_lengths, synthetic_layout
from bench.suites import Case, SuiteOptions
from bench.suites._common import Lazy, MeasuredCase, base_metadata, build_index, case_name

SUITE = "gap"
DESCRIPTION = "find_gap bottom-up and top-down for mmap-like lengths"

OP = "find_gap"
DIRECTIONS = ("bottom-up", "top-down")
REQUESTS = 1024


def _case(backend: str, n: int, direction: str, seed: int) -> Case:
    def setup() -> tuple[Any, list[int], int, int]:
        layout = synthetic_layout(n, seed)
        idx = build_index(backend, layout.vmas)
        return idx, gap_lengths(REQUESTS, seed), layout.mmap_low, layout.mmap_high

    state = Lazy(setup)
    top_down = direction == "top-down"

    def time_func(loops: int) -> float:
        idx, lengths, low, high = state.get()
        fn = idx.find_gap
        t0 = time.perf_counter()
        for _ in range(loops):
            for length in lengths:
                fn(length, low, high, top_down)
        return time.perf_counter() - t0

    return MeasuredCase(
        case_name(SUITE, OP, direction, n, backend),
        time_func,
        base_metadata(SUITE, OP, direction, n, backend, seed),
        inner_loops=REQUESTS,
    )


def cases(opts: SuiteOptions) -> list[Case]:
    return [_case(b, n, d, opts.seed) for d in DIRECTIONS for n in opts.sizes for b in opts.backends]
