"""The ``fork`` suite: duplicating an address space's index -- node copy, bulk build, or re-insert.

Invariant
---------
Every loop builds a complete, independent child from an unchanged parent, so
every loop does the same work; the parent, and everything a case needs, is
built once per worker before the first timer starts (``Lazy``).  The untimed
numbers come from one more child, built in pyperf's parent process.

Op mix
------
Every case times building a child index equal to a parent that holds
``synthetic_layout(n, seed)`` (built outside the timer, in address order, as
the read suites build theirs); one timed op = one whole child, and pyperf
reports the time per child.  Ops, the three ways kernels have done it:

* ``dup``       -- ``child = parent.dup()``: the backend's own copy (maple node
  by node, depth first, like ``__mt_dup`` in ``dup_mmap`` since Linux 6.8;
  rbtree its shape, colours and augmentations; xarray its nodes; ``list`` a
  slice; the peers their own ``copy``);
* ``bulk_load`` -- ``child.bulk_load(parent)``: the parent walked in order into
  an empty index with the O(n) bulk build (6.1-6.7's ``dup_mmap``: every VMA
  stored in bulk mode, ``mas_expected_entries``);
* ``reinsert``  -- ``for v in parent: child.insert(v)``: one checked insert
  per VMA (the rbtree era's ``__vma_link_rb`` per VMA, and what a program
  without a copy would do).

Plus ``mm.fork`` on each ``bench/maps/*.maps`` snapshot (a real process's
layout, every VMA mapped ``MAP_FIXED`` with its first page faulted in, built
outside the timer): one timed op = ``AddressSpace.fork()`` -- the index
``dup`` plus the page table copy and a fresh lock policy (``dup_mmap`` and
``copy_page_range``, minus the page work).

Cases: ops x sizes x backends (``--fast``: ``dup`` and ``reinsert``), then
``mm.fork`` x snapshots x backends (not with ``--fast``).  The reference
sizes are 1k / 10k / 65,530 VMAs (``vmalab bench --suite fork --size
1k,10k,65530``).  Untimed metadata of each case, from one child built the
case's way: ``nodes_allocated``, ``nodes_copied``, ``nodes_freed``,
``rebalances`` (``VMAIndex.write_stats()`` of the child: what building it
cost, per child), ``nodes_per_vma`` (allocated / n), and the parent's
``height`` and ``nodes``.

Layout
------
::

    fork/dup/layout/n=010000/maple           parent (n VMAs) --dup()--------> child
    fork/bulk_load/layout/n=010000/maple     parent --iter--> child.bulk_load
    fork/reinsert/layout/n=010000/maple      parent --iter--> child.insert x n
    fork/mm.fork/maps-python-stdlib/n=...    AddressSpace --fork()--> child space

API
---
``SUITE``, ``DESCRIPTION``, ``EXTRA`` (``policy``), ``OPS``, ``cases(opts)``,
``snapshot_space(path, backend, policy)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.inputs.maps import load_snapshot
from bench.inputs.traces import Trace, replay, snapshot_trace
from bench.inputs.workloads import synthetic_layout
from bench.suites import Case, SuiteOptions
from bench.suites._common import Lazy, MeasuredCase, base_metadata, build_index, case_name
from structures import VMAIndex
from structures.registry import index_factory

SUITE = "fork"
DESCRIPTION = "duplicate an index: dup() (node copy, __mt_dup) vs bulk_load vs re-insert; AddressSpace.fork on maps"
EXTRA = {"policy": ("str", "fork: lock policy of the mm.fork cases' AddressSpace, full/range/vma (default range)")}

OPS = ("dup", "bulk_load", "reinsert")
FAST_OPS = ("dup", "reinsert")
MAPS_DIR = Path(__file__).resolve().parent.parent / "maps"
WRITE_KEYS = ("nodes_allocated", "nodes_copied", "nodes_freed", "rebalances")


def _child(op: str, parent: VMAIndex, new_index: Any) -> VMAIndex:
    """One child built the ``op`` way (the timed loop's body)."""
    if op == "dup":
        return parent.dup()
    child = new_index()
    if op == "bulk_load":
        child.bulk_load(parent)
    else:
        insert = child.insert
        for v in parent:
            insert(v)
    return child  # type: ignore[no-any-return]


def _write_cost(child: VMAIndex, n: int) -> dict[str, Any]:
    st = child.write_stats()
    out: dict[str, Any] = {k: int(st[k]) for k in WRITE_KEYS if k in st}
    if "nodes_allocated" in out:
        out["nodes_per_vma"] = round(out["nodes_allocated"] / max(1, n), 4)
    return out


def _case(backend: str, n: int, op: str, seed: int) -> Case:
    def setup() -> tuple[VMAIndex, Any]:
        return build_index(backend, synthetic_layout(n, seed).vmas), index_factory(backend)

    state = Lazy(setup)

    def time_func(loops: int) -> float:
        parent, new_index = state.get()
        t0 = time.perf_counter()
        for _ in range(loops):
            _child(op, parent, new_index)
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        parent, new_index = state.get()
        out = _write_cost(_child(op, parent, new_index), n)
        st = parent.stats()
        out["height"] = int(st.get("height", 0))
        out["nodes"] = int(st.get("nodes", 0))
        return out

    meta = base_metadata(SUITE, op, "layout", n, backend, seed)
    return MeasuredCase(case_name(SUITE, op, "layout", n, backend), time_func, meta, inner_loops=1, measure=measure)


def snapshot_space(path: Path, backend: str, policy: str) -> Any:
    """An ``AddressSpace`` holding the snapshot's layout: its ``snapshot_trace`` replayed
    up to the teardown (every VMA mapped, first and last page faulted in)."""
    tr = snapshot_trace(load_snapshot(path))
    setup = Trace([ev for ev in tr.events if ev.op != "munmap"], tr.meta)
    res = replay(setup, backend, policy=policy)
    return next(iter(res.spaces.values()))


def _mm_case(path: Path, backend: str, policy: str, seed: int) -> Case:
    state = Lazy(lambda: snapshot_space(path, backend, policy))
    n = len(load_snapshot(path))
    stream = "maps-" + path.name.removesuffix(".maps")

    def time_func(loops: int) -> float:
        mm = state.get()
        t0 = time.perf_counter()
        for _ in range(loops):
            mm.fork()
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        mm = state.get()
        child = mm.fork()
        out = _write_cost(child.index, len(child.index))
        out["vmas"] = len(mm.index)
        out["rss_pages"] = mm.rss()
        return out

    meta = {**base_metadata(SUITE, "mm.fork", stream, n, backend, seed), "policy": policy}
    name = case_name(SUITE, "mm.fork", stream, n, backend)
    return MeasuredCase(name, time_func, meta, inner_loops=1, measure=measure)


def cases(opts: SuiteOptions) -> list[Case]:
    ops = FAST_OPS if opts.fast else OPS
    out = [_case(b, n, op, opts.seed) for op in ops for n in opts.sizes for b in opts.backends]
    if not opts.fast:
        policy = str(opts.extra.get("policy", "range"))
        from structures.mm.policy import POLICIES

        if policy not in POLICIES:
            raise ValueError(f"fork: unknown policy {policy!r}; known: {', '.join(POLICIES)}")
        snapshots = sorted(MAPS_DIR.glob("*.maps"))
        out += [_mm_case(p, b, policy, opts.seed) for p in snapshots for b in opts.backends]
    return out
