"""The ``rangelock`` suite: what a lock costs alone (uncontended) and how it scales (contended).

Op mix
------
**Uncontended** — one op is ``with lock.read(start, end): pass`` or ``with
lock.write(start, end): pass`` from a single thread — the fixed cost a lock
adds to every ``mmap``/``munmap``/fault when nobody else is around.  ``LOOP``
ops per timed loop; pyperf's value is seconds per op.  Axes:

* lock: ``range`` (``RangeLock``, Bueso's interval-tree range lock),
  ``rwsem`` (``RWSemaphore``, the ``mmap_sem`` baseline), ``mutex``
  (``threading.Lock``, the floor: no reader/writer logic, no ranges), and
  with ``--extra lock=...`` any kind of ``LOCK_KINDS`` (``range-list``);
* span: ``small`` (one page at 1 GiB) or ``full`` (``[0, TASK_SIZE)``);
* tree: ``0`` (the lock is otherwise empty) or ``1000`` (1,000 read ranges of
  one page each are held on other addresses during the measurement, so the
  range lock's interval tree is 1,000 deep and every request must count its
  overlaps; for ``rwsem`` they are 1,000 held readers).

A write request that the held ranges would block (``full`` write over a
1,000 tree, any ``rwsem`` write over held readers) is not uncontended and is
not generated.  ``mutex`` has no ranges and no shared mode: only ``write`` on
an empty lock.  The seed's finding to compare with: an extent lock in a B-tree
beat the rbtree range lock for the full range.

**Contended** — ``T`` threads, started together by a barrier, each do
``CONTENDED_OPS`` ops of ``with lock.write(start_i, end_i): pass`` — no work
inside: the lock is all there is.  Patterns (``stream``):

* ``disjoint`` — thread ``i`` locks its own page, 1 GiB apart from the next
  (threads in regions of their own: other shards of ``range-list``);
* ``adjacent`` — thread ``i`` locks page ``i`` of one 2 MiB region (disjoint
  ranges, one shard: the list itself is shared);
* ``overlapping`` — thread ``i`` locks pages ``[i, i + 2)``: each range meets
  its neighbours', so requests wait for one another.

Beside the locks, two ceilings (``disjoint`` and ``adjacent`` only, where no
two threads ever meet): ``private`` — each thread its own ``threading.Lock``,
created by that thread (nothing shared at all); ``regions`` — one shared
object whose ``write(start, end)`` hands each thread the ``threading.Lock`` of
its 1 GiB region (what any shared lock object costs on a free-threaded build:
the object and its table are touched by every thread; ``adjacent`` threads
share one region's lock, so there it is a shared mutex).  pyperf's value is
seconds per op of the aggregate (``T x CONTENDED_OPS`` ops per loop), so
``1 / value`` is ops/s; ``vmalab compare`` shows the scaling table.

Names: ``rangelock/<mode>/<span>/tree=<k>/<lock>`` (uncontended) and
``rangelock/contended/<stream>/threads=<T>/<lock>``.  Options (``--extra``):
``lock`` (default ``range,rwsem,mutex``; ``mutex`` is uncontended only, the
ceilings always join the contended cases when a range lock is selected, and
``ideal``, an ``io`` lock, is ignored here).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bench.suites import Case, SuiteOptions
from structures.locks import LOCK_KINDS, make_lock
from structures.vma import PAGE_SIZE, TASK_SIZE

SUITE = "rangelock"
DESCRIPTION = "acquire+release cost of the locks alone, and T threads hammering disjoint/overlapping tiny ranges"

LOOP = 1000
SMALL = (1 << 30, (1 << 30) + PAGE_SIZE)
FULL = (0, TASK_SIZE)
HELD_BASE = 1 << 40  # the held ranges live far from SMALL
#: the uncontended kinds when --extra lock is not given (the suite's case list before range-list)
DEFAULT_LOCKS = ("range", "rwsem", "mutex")
CEILINGS = ("private", "regions")
KNOWN_LOCKS = (*sorted(LOCK_KINDS), "mutex", *CEILINGS)
PATTERNS = ("disjoint", "adjacent", "overlapping")
CONTENDED_OPS = 2000  # per thread per timed loop
CONTENDED_BASE = 16 << 30
GIB = 1 << 30
EXTRA = {
    "lock": ("strs", f"rangelock: lock kinds among {', '.join(KNOWN_LOCKS)} (default range,rwsem,mutex)"),
}


def _build(kind: str, held: int) -> Any:
    if kind == "mutex":
        return threading.Lock()
    lock: Any = make_lock(kind)
    for i in range(held):
        s = HELD_BASE + 2 * i * PAGE_SIZE
        h = lock.acquire_read(s, s + PAGE_SIZE, blocking=False)
        assert h is not None, "held ranges must not conflict"
    return lock


def _case(kind: str, mode: str, span: str, held: int) -> Case:
    start, end = SMALL if span == "small" else FULL
    state: dict[str, Any] = {}

    def time_func(loops: int) -> float:
        lock = state.get("lock")
        if lock is None:
            lock = state["lock"] = _build(kind, held)
        rng = range(LOOP)
        if kind == "mutex":
            t0 = time.perf_counter()
            for _ in range(loops):
                for _ in rng:
                    with lock:
                        pass
            return time.perf_counter() - t0
        enter = lock.read if mode == "read" else lock.write
        t0 = time.perf_counter()
        for _ in range(loops):
            for _ in rng:
                with enter(start, end):
                    pass
        return time.perf_counter() - t0

    meta = {"suite": SUITE, "op": mode, "stream": span, "n": held, "backend": kind, "lock": kind, "threads": 1}
    return Case(f"rangelock/{mode}/{span}/tree={held:04d}/{kind}", time_func, meta, LOOP)


# ----------------------------------------------------------------------
# contended
# ----------------------------------------------------------------------
class RegionLocks:
    """The ``regions`` ceiling: a shared object handing each caller the ``threading.Lock`` of its region.

    Regions are 1 GiB (the ``disjoint`` pattern's stride), indexed into a list,
    not a dict: on 3.13t a dict lookup whose stored key is an int computed by
    another thread costs ~60 us from a worker thread (measured; a constant key
    costs 0.1 us), which would measure that, not the sharing.
    """

    SLOTS = 64

    def __init__(self, shift: int = 30) -> None:
        self._shift = shift
        self._locks = [threading.Lock() for _ in range(self.SLOTS)]

    def write(self, start: int, end: int) -> threading.Lock:
        return self._locks[(start >> self._shift) & (self.SLOTS - 1)]


def contended_range(pattern: str, tid: int) -> tuple[int, int]:
    """Thread ``tid``'s range in ``pattern``."""
    if pattern == "disjoint":
        start = CONTENDED_BASE + tid * GIB
        return start, start + PAGE_SIZE
    if pattern == "adjacent":
        start = CONTENDED_BASE + tid * PAGE_SIZE
        return start, start + PAGE_SIZE
    if pattern == "overlapping":
        start = CONTENDED_BASE + tid * PAGE_SIZE
        return start, start + 2 * PAGE_SIZE
    raise ValueError(f"unknown pattern {pattern!r}; known: {', '.join(PATTERNS)}")


class Contended:
    """``threads`` threads hammering ``pattern``'s ranges of one lock of ``kind`` (or a ceiling)."""

    def __init__(self, kind: str, pattern: str, threads: int) -> None:
        if kind in CEILINGS and pattern == "overlapping":
            raise ValueError(f"rangelock: the {kind} ceiling is only correct where no two threads meet")
        self.kind = kind
        self.pattern = pattern
        self.threads = threads
        self.shared: Any = RegionLocks() if kind == "regions" else None if kind == "private" else make_lock(kind)
        self.ranges = [contended_range(pattern, i) for i in range(threads)]
        self.done = [0] * threads

    def worker(self, tid: int, ops: int, barrier: threading.Barrier) -> None:
        start, end = self.ranges[tid]
        if self.kind == "private":
            lock = threading.Lock()  # this thread's own: nothing shared at all
            barrier.wait()
            for _ in range(ops):
                with lock:
                    pass
        else:
            enter = self.shared.write
            barrier.wait()
            for _ in range(ops):
                with enter(start, end):
                    pass
        self.done[tid] += ops  # one list item per thread

    def run(self, ops: int) -> float:
        """Seconds from the common start until every thread did ``ops`` ops."""
        barrier = threading.Barrier(self.threads + 1)
        ts = [threading.Thread(target=self.worker, args=(i, ops, barrier)) for i in range(self.threads)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        return time.perf_counter() - t0

    def verify(self) -> None:
        """Every op done, nothing left in the lock."""
        if self.kind not in CEILINGS and self.kind != "mutex":
            st = self.shared.stats()
            if st.get("waiting") or st.get("readers") or st.get("writers") or st.get("writer"):
                raise AssertionError(f"rangelock/contended: requests left in the {self.kind} lock: {st}")
            if st["acquisitions"] != sum(self.done):
                raise AssertionError(f"rangelock/contended: {st['acquisitions']} acquisitions for {sum(self.done)} ops")


def _contended_case(kind: str, pattern: str, threads: int) -> Case:
    state: dict[str, Contended] = {}

    def time_func(loops: int) -> float:
        sc = state.get("sc")
        if sc is None:
            sc = state["sc"] = Contended(kind, pattern, threads)
        return sum(sc.run(CONTENDED_OPS) for _ in range(loops))

    cpus = os.cpu_count() or 1
    meta = {
        "suite": SUITE, "op": "contended", "stream": pattern, "backend": kind, "lock": kind, "threads": threads,
        "ops_per_loop": CONTENDED_OPS * threads, "cpu_count": cpus, "oversubscribed": int(threads > cpus),
    }  # fmt: skip
    name = f"rangelock/contended/{pattern}/threads={threads:02d}/{kind}"
    return Case(name, time_func, meta, CONTENDED_OPS * threads)


def _locks(opts: SuiteOptions) -> tuple[str, ...]:
    locks = tuple(opts.extra.get("lock", DEFAULT_LOCKS))
    unknown = [k for k in locks if k not in KNOWN_LOCKS and k != "ideal"]  # ideal: an io lock, ignored here
    if unknown or not locks:
        raise ValueError(f"rangelock: unknown lock kinds {unknown}; known: {', '.join(KNOWN_LOCKS)}")
    return locks


def cases(opts: SuiteOptions) -> list[Case]:
    locks = _locks(opts)
    kinds = [k for k in locks if k in LOCK_KINDS or k == "mutex"]
    out = []
    trees = (0,) if opts.fast else (0, 1000)
    for mode in ("write", "read"):
        for span in ("small", "full"):
            for held in trees:
                for kind in kinds:
                    if kind == "mutex" and (mode == "read" or held):
                        continue
                    if mode == "write" and held and (kind == "rwsem" or span == "full"):
                        continue  # would block: not an uncontended acquisition
                    out.append(_case(kind, mode, span, held))
    threads = opts.threads
    if opts.fast:
        threads = tuple(t for t in threads if t <= 4) or threads[:1]
    ranged = [k for k in locks if k in LOCK_KINDS and LOCK_KINDS[k].ranged]
    contenders = [k for k in locks if k in LOCK_KINDS]
    for pattern in PATTERNS:
        for t in threads:
            for kind in contenders:
                out.append(_contended_case(kind, pattern, t))
            if ranged and pattern != "overlapping":  # the ceilings beside any range lock
                for kind in CEILINGS:
                    out.append(_contended_case(kind, pattern, t))
    return out
