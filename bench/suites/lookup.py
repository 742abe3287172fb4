"""The ``lookup`` suite: ``find`` / ``lookup`` over address streams.

Op mix
------
Each benchmark times ``STREAM_LEN`` (2,048) calls of one read method,
``idx.find(addr)`` (``find_vma``) or ``idx.lookup(addr)`` (``vma_lookup``),
over a pre-built address stream on an index pre-built in address order (as
``fork``'s ``dup_mmap`` builds one) from ``synthetic_layout(n, seed)``.
pyperf reports the time per call.  Streams (``bench.inputs.workloads``):

* ``uniform``  -- a uniform VMA, a uniform byte inside it: every call walks to
  a random place, the pure depth-vs-pointer-chasing question;
* ``locality`` -- fault-like runs inside one Zipf-chosen VMA: what the
  per-thread ``vmacache`` was built for.

Cases: ops ``find``, ``lookup`` x streams x sizes x backends; with ``--fast``
only ``lookup`` (both streams).  Untimed metadata: ``probe_depth`` (mean
``probe()`` nodes over the stream), ``probe_depth_max``, ``height``, ``nodes``;
on the ``lookup``/``uniform`` case ``bytes_per_vma`` (tracemalloc while
building) and ``stats_bytes_per_vma``; for a vmacache front end the stream's
``hit_rate``.

Names: ``lookup/<op>/<stream>/n=<n>/<backend>``.
"""

from __future__ import annotations

import time
from typing import Any

from bench.inputs.workloads import STREAMS, make_stream, synthetic_layout
from bench.suites import Case, SuiteOptions
from bench.suites._common import (
    STREAM_LEN,
    Lazy,
    MeasuredCase,
    base_metadata,
    build_index,
    case_name,
    memory_per_vma,
    probe_depth,
)

SUITE = "lookup"
DESCRIPTION = "find/lookup over uniform and fault-like locality address streams"

OPS = ("find", "lookup")
FAST_OPS = ("lookup",)


def _case(backend: str, n: int, op: str, stream: str, seed: int) -> Case:
    def setup() -> tuple[Any, list[int]]:
        layout = synthetic_layout(n, seed)
        idx = build_index(backend, layout.vmas)
        return idx, make_stream(layout, stream, STREAM_LEN, seed)

    state = Lazy(setup)

    def time_func(loops: int) -> float:
        idx, addrs = state.get()
        fn = getattr(idx, op)
        t0 = time.perf_counter()
        for _ in range(loops):
            for a in addrs:
                fn(a)
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        idx, addrs = state.get()
        out = probe_depth(idx, addrs[:512])
        if stream == "uniform" and op == OPS[-1]:  # once per (backend, n): the memory of the structure
            out.update(memory_per_vma(backend, list(synthetic_layout(n, seed).vmas)))
        if hasattr(idx, "cache_stats"):  # a vmacache front end: the hit rate of one pass of the stream
            before = idx.cache_stats()  # (this runs in pyperf's parent, which timed nothing)
            fn = getattr(idx, op)
            for a in addrs:
                fn(a)
            after = idx.cache_stats()
            calls = after["cache_calls"] - before["cache_calls"]
            out["hit_rate"] = round((after["cache_hits"] - before["cache_hits"]) / max(1, calls), 4)
        return out

    return MeasuredCase(
        case_name(SUITE, op, stream, n, backend),
        time_func,
        base_metadata(SUITE, op, stream, n, backend, seed),
        inner_loops=STREAM_LEN,
        measure=measure,
    )


def cases(opts: SuiteOptions) -> list[Case]:
    ops = FAST_OPS if opts.fast else OPS
    return [
        _case(backend, n, op, stream, opts.seed)
        for op in ops
        for stream in STREAMS
        for n in opts.sizes
        for backend in opts.backends
    ]
