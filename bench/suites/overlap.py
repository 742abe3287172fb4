"""The ``overlap`` suite: ``intersection`` and ``overlapping`` over ranges.

Op mix
------
Each benchmark times 1,024 calls of ``idx.intersection(start, end)``
(``find_vma_intersection``: mmap's "is anything there?") or
``idx.overlapping(start, end)`` (the list munmap/mprotect walk) on an index
pre-built in address order from ``synthetic_layout(n, seed)``, over
pre-built page-aligned ranges meeting exactly 0 VMAs (inside a hole),
1 VMA (inside one) or 8 VMAs (``range_stream``).  pyperf reports time per call.

Cases: ops x meets (0, 1, 8) x sizes x backends; with ``--fast``
``intersection`` meets=0 and ``overlapping`` meets=8.

Names: ``overlap/<op>/meets=<k>/n=<n>/<backend>``.
"""

from __future__ import annotations

import time
from typing import Any

from bench.inputs.workloads import range_stream, synthetic_layout
from bench.suites import Case, SuiteOptions
from bench.suites._common import Lazy, MeasuredCase, base_metadata, build_index, case_name

SUITE = "overlap"
DESCRIPTION = "intersection/overlapping for ranges meeting 0, 1 and 8 VMAs"

OPS = ("intersection", "overlapping")
MEETS = (0, 1, 8)
FAST = (("intersection", 0), ("overlapping", 8))
RANGES = 1024


def _case(backend: str, n: int, op: str, meets: int, seed: int) -> Case:
    def setup() -> tuple[Any, list[tuple[int, int]]]:
        layout = synthetic_layout(n, seed)
        return build_index(backend, layout.vmas), range_stream(layout, RANGES, meets, seed)

    state = Lazy(setup)

    def time_func(loops: int) -> float:
        idx, ranges = state.get()
        fn = getattr(idx, op)
        t0 = time.perf_counter()
        for _ in range(loops):
            for s, e in ranges:
                fn(s, e)
        return time.perf_counter() - t0

    stream = f"meets={meets}"
    return MeasuredCase(
        case_name(SUITE, op, stream, n, backend),
        time_func,
        base_metadata(SUITE, op, stream, n, backend, seed),
        inner_loops=RANGES,
    )


def cases(opts: SuiteOptions) -> list[Case]:
    combos = FAST if opts.fast else tuple((op, m) for op in OPS for m in MEETS)
    return [_case(b, n, op, m, opts.seed) for op, m in combos for n in opts.sizes for b in opts.backends]
