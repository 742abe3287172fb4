"""The ``rangelock`` suite: uncontended acquire+release cost of the locks.

Op mix
------
One op is ``with lock.read(start, end): pass`` or ``with lock.write(start,
end): pass`` from a single thread — the fixed cost a lock adds to every
``mmap``/``munmap``/fault when nobody else is around.  ``LOOP`` ops per timed
loop; pyperf's value is seconds per op.  Axes:

* lock: ``range`` (``RangeLock``, Bueso's interval-tree range lock),
  ``rwsem`` (``RWSemaphore``, the ``mmap_sem`` baseline), ``mutex``
  (``threading.Lock``, the floor: no reader/writer logic, no ranges);
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

Names: ``rangelock/<mode>/<span>/tree=<k>/<lock>``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.suites import Case, SuiteOptions
from structures.locks.rangelock import RangeLock
from structures.locks.rwsem import RWSemaphore
from structures.vma import PAGE_SIZE, TASK_SIZE

SUITE = "rangelock"
DESCRIPTION = "uncontended acquire+release: RangeLock vs RWSemaphore vs threading.Lock, small/full range, 0/1000 held"

LOOP = 1000
SMALL = (1 << 30, (1 << 30) + PAGE_SIZE)
FULL = (0, TASK_SIZE)
HELD_BASE = 1 << 40  # the held ranges live far from SMALL


def _build(kind: str, held: int) -> Any:
    if kind == "mutex":
        return threading.Lock()
    lock: Any = RangeLock() if kind == "range" else RWSemaphore()
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


def cases(opts: SuiteOptions) -> list[Case]:
    out = []
    trees = (0,) if opts.fast else (0, 1000)
    for mode in ("write", "read"):
        for span in ("small", "full"):
            for held in trees:
                for kind in ("range", "rwsem", "mutex"):
                    if kind == "mutex" and (mode == "read" or held):
                        continue
                    if mode == "write" and held and (kind == "rwsem" or span == "full"):
                        continue  # would block: not an uncontended acquisition
                    out.append(_case(kind, mode, span, held))
    return out
