"""The ``wis`` suite: will-it-scale's address-space tests on an ``AddressSpace``, threads mode.

Op mix
------
``T`` threads share one ``AddressSpace(backend, policy, page_work)``; thread
``i`` works in a region of its own, ``BASE + i GiB`` (so no two threads'
mappings ever touch and merge — will-it-scale lets the kernel place them
with ``mmap(NULL)``; here each thread maps ``MAP_FIXED`` in its region, the
range lock's best case, as the issue asks).  Per timed loop every thread runs
its test ``ITERATIONS[test]`` times; one *op* is what will-it-scale counts:

* ``page_fault1`` — ``mmap`` ``PF_PAGES`` pages, write-fault every page (each
  fault does ``page_work`` page hashes with the GIL released: the page
  clearing), ``munmap`` (whose zap does ``zap_work`` hashes, by default the
  same, for every page under the policy's write lock: the page's freeing).
  Ops: faults.
* ``mmap1`` — ``mmap`` + ``munmap`` of ``MMAP1_BYTES`` (128 MiB, as
  will-it-scale), never touched.  Ops: mmap/munmap pairs.
* ``malloc1`` — a large ``malloc``/``free`` as glibc serves it: ``mmap`` at the
  mmap threshold (128 KiB + the chunk header's page), the first-touch write
  fault of the header page, ``munmap``.  Ops: malloc/free pairs.
* ``brk1`` — ``brk`` up one page and down again, every thread on the one
  shared program break, from the break it read once at its start (as
  will-it-scale's threads do, so every thread's last call restores it): the
  case a range lock cannot help — every call locks the top of the one heap
  VMA, and ``brk`` serializes anyway.
  Ops: ``brk`` calls.

Threads are bound to CPUs as will-it-scale binds its tasks (``main.c``: task
``i`` on core ``i mod cores``, ``pthread_attr_setaffinity_np``): thread ``i``
runs on the ``i mod n``-th of the ``n`` logical CPUs the process may use
(``os.sched_setaffinity`` at the thread's start; ``--extra affinity=none``
leaves placement to the scheduler).  Unbound, each ``run()``'s new threads were
placed by the scheduler, and on this lab's 2-CPU VM both threads of a 2-thread
cell sometimes shared one CPU for seconds on end (3.13t, page_fault1 under
``ideal``: 10.4-11.1k faults/s at 1.2-1.3 CPUs busy for the first 1.4 s of a
process, then 16.6-17.5k at 1.8-1.9; bound, 15.1-18.3k at 1.8-1.9 from the
start in each of five processes): the bimodal pyperf processes of the earlier
reference files.

Policies: ``full`` (the ``full`` policy over an ``RWSemaphore``: mmap_sem, as a
stock kernel), ``range`` (the ``range`` policy over each range lock of
``--extra lock``, default ``range,range-list``), ``vma`` (per-VMA locks, an
``RWSemaphore`` as the mmap lock) and ``ideal`` (the ``threaded`` suite's
``IdealPolicy``: a private lock per thread, correct here because no two
threads touch one VMA — and in ``brk1`` because ``brk`` serializes).

pyperf's value is seconds per op of the aggregate, so ``1 / value`` is ops/s;
``vmalab compare`` prints will-it-scale's table — rows thread counts, a
column per policy, and ``linear`` (T x the best single-thread figure) with
each cell's efficiency against it.  Untimed metadata (``MEASURE_LOOPS``
loops, outside pyperf's timing): lock wait seconds, retries, fallbacks, and for
``page_fault1`` the two phases of an iteration, averaged per thread —
``fault_phase_us`` (the 64 faults) and ``map_phase_us`` (mmap + munmap with its
zap).  From one thread's phases ``F`` and ``M`` follows what a *perfect*
``full`` allows at ``T`` threads (no more threads than cores): its mutations
exclude everything and only the faults overlap, so ``T`` iterations take at
least ``F + T*M``, against ``F + M`` with no shared lock: ``(F + T*M) / (F +
M)`` is what ``ideal`` gains over an rwsem that costs nothing.  A real one
costs more (its writers wait for the readers to drain and wake them again),
so ``ideal / full`` measures above it (3.13t, threads bound, 20 processes:
``full`` at 0.95 of that perfect rwsem, ``ideal`` 1.54x ``full`` at 2 threads
against ``(F + 2M) / (F + M)`` = 1.47).

Names: ``wis/<test>/threads=<T>/<policy>+<backend>`` (plus ``/lock=<kind>``
for the range policy over a lock other than ``range``).  Options
(``--extra``): ``tests`` (default all four), ``policies`` (default
``full,range,vma,ideal``), ``lock`` (default ``range,range-list``),
``page_work`` (default 16), ``zap_work`` (page hashes per populated page a munmap zaps;
default ``page_work``, the model's; ``page_work // 8`` is the kernel's proportion, see
``AddressSpace``), ``downgrade`` (1: munmap zaps with the policy's lock downgraded to read,
as Linux since 4.20; default 0, the zap under the write lock), ``affinity`` (``cores``, the
default, or ``none``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from bench.suites import Case, SuiteOptions
from bench.suites._common import MeasuredCase
from bench.suites.threaded import IdealPolicy, lock_variant, range_lock_kinds
from structures import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, available_backends, make_index
from structures.mm.address_space import AddressSpace

SUITE = "wis"
DESCRIPTION = "will-it-scale's page_fault1/mmap1/malloc1/brk1, a thread per region, full/range/vma/ideal"

TESTS = ("page_fault1", "mmap1", "malloc1", "brk1")
POLICIES = ("full", "range", "vma", "ideal")
LOCKS = ("range", "range-list")
PAGE_WORK = 16
P = PAGE_SIZE
GIB = 1 << 30
BASE = 16 * GIB
PF_PAGES = 64  # page_fault1's mapping: 256 KiB (will-it-scale: 128 MiB; the zap stays below ZAP_SCAN_LIMIT)
MMAP1_BYTES = 128 << 20  # will-it-scale's MEMSIZE
MALLOC_PAGES = 33  # glibc's initial M_MMAP_THRESHOLD, 128 KiB, + the chunk header's page
#: iterations of the test per thread per timed loop
ITERATIONS = {"page_fault1": 1, "mmap1": 8, "malloc1": 8, "brk1": 16}
#: will-it-scale's ops per iteration
OPS = {"page_fault1": PF_PAGES, "mmap1": 1, "malloc1": 1, "brk1": 2}
MEASURE_LOOPS = 3
FLAGS = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
MM_BACKENDS = ("maple", "rbtree", "vmacache+rbtree", "xarray")

EXTRA = {
    "tests": ("strs", f"wis: will-it-scale tests among {', '.join(TESTS)} (default all)"),
    "policies": ("strs", "wis: policies among full,range,vma,ideal (default all)"),
    "lock": ("strs", "wis: the range policy's lock kinds (default range,range-list)"),
    "page_work": ("int", "wis: GIL-free page hashes per fault and per zapped page (default 16)"),
    "zap_work": ("int", "wis: page hashes per zapped page (default page_work; the kernel's share: page_work // 8)"),
    "downgrade": ("int", "wis: 1 = munmap zaps under the policy's lock downgraded to read, as Linux (default 0)"),
    "affinity": ("str", "wis: 'cores' binds thread i to the (i mod n)-th usable CPU, as will-it-scale; 'none'"),
}
AFFINITIES = ("cores", "none")


def usable_cpus() -> list[int] | None:
    """The CPUs this process may run on, in order, or ``None`` where threads cannot be bound."""
    if not hasattr(os, "sched_setaffinity") or not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


class WisScenario:
    """One address space, ``threads`` threads each running ``test`` in a region of its own."""

    def __init__(
        self, test: str, policy: str, threads: int, backend: str, page_work: int, lock: str, affinity: str = "cores",
        zap_work: int | None = None, downgrade: bool = False,
    ) -> None:
        if affinity not in AFFINITIES:
            raise ValueError(f"wis: unknown affinity {affinity!r}; known: {', '.join(AFFINITIES)}")
        if test not in TESTS:
            raise ValueError(f"wis: unknown test {test!r}; known: {', '.join(TESTS)}")
        if policy not in POLICIES:
            raise ValueError(f"wis: unknown policy {policy!r}; known: {', '.join(POLICIES)}")
        # mmap_sem is an rwsem: the full and vma policies' mmap lock, and the ideal policy's private locks
        index = make_index(backend, lock=lock if policy == "range" else "rwsem")
        self.mm = AddressSpace(
            index, policy=IdealPolicy if policy == "ideal" else policy, page_work=page_work, zap_work=zap_work,
            munmap_downgrade=downgrade,
        )
        self.test = test
        self.threads = threads
        self.regions = [BASE + i * GIB for i in range(threads)]
        self.initial = self.mm.vmas()
        self.brk0 = self.mm.brk()
        #: thread i's CPU is cpus[i % len(cpus)] (None: unbound)
        self.cpus = usable_cpus() if affinity == "cores" else None
        self.ops = 0
        self._done = [0] * threads
        #: base -> [fault seconds, map seconds] of that thread (page_fault1, measure() only)
        self._phases: dict[int, list[float]] | None = None

    # -- the tests: one iteration each, returning will-it-scale's op count -------------
    def page_fault1(self, base: int) -> int:
        mm, phases = self.mm, self._phases
        t0 = time.perf_counter() if phases is not None else 0.0
        mm.mmap(PF_PAGES * P, addr=base, flags=FLAGS)
        t1 = time.perf_counter() if phases is not None else 0.0
        fault = mm.fault
        for k in range(PF_PAGES):
            fault(base + k * P, True)
        t2 = time.perf_counter() if phases is not None else 0.0
        mm.munmap(base, PF_PAGES * P)
        if phases is not None:  # only in measure(): the timed runs never get here
            mine = phases[base]  # this thread's own list
            mine[0] += t2 - t1
            mine[1] += (t1 - t0) + (time.perf_counter() - t2)
        return PF_PAGES

    def time_phases(self) -> None:
        """From now on, ``page_fault1`` adds up each thread's fault and map phases (``counters``)."""
        self._phases = {base: [0.0, 0.0] for base in self.regions}

    def mmap1(self, base: int) -> int:
        self.mm.mmap(MMAP1_BYTES, addr=base, flags=FLAGS)
        self.mm.munmap(base, MMAP1_BYTES)
        return 1

    def malloc1(self, base: int) -> int:
        mm = self.mm
        mm.mmap(MALLOC_PAGES * P, addr=base, flags=FLAGS)
        mm.fault(base, True)  # malloc writes the chunk header: the first touch
        mm.munmap(base, MALLOC_PAGES * P)
        return 1

    def brk1(self, base: int) -> int:
        mm, top = self.mm, self.brk0  # the break every thread read once, at its start (will-it-scale's sbrk(0))
        mm.brk(top + P)
        mm.brk(top)
        return 2

    def worker(self, tid: int, iterations: int, barrier: threading.Barrier, span: list[float],
               errors: list[BaseException]) -> None:  # fmt: skip
        step = getattr(self, self.test)
        base = self.regions[tid]
        done = 0
        try:
            cpus = self.cpus
            if cpus:  # this thread only (pid 0: the calling thread)
                os.sched_setaffinity(0, (cpus[tid % len(cpus)],))
            barrier.wait()
            span[2 * tid] = time.perf_counter()
            for _ in range(iterations):
                done += step(base)
            span[2 * tid + 1] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()  # the others, still waiting at the start, leave with BrokenBarrierError
        self._done[tid] += done  # one list item per thread; summed after the joins

    def run(self, iterations: int | None = None) -> float:
        """Seconds from the first thread's start to the last thread's end, as the threads saw them.

        The workers read the clock themselves, after the barrier that starts them all
        and after their last iteration: the calling thread's clock would also count its
        own wake-up, which waits for a CPU when the workers are bound to every CPU: on this
        lab's 2-CPU VM, 3.13t, page_fault1's 2-thread processes read 15.6-31.1k faults/s
        (range-list) and 18.4-28.6k (ideal) by the caller's clock, 15.6-19.2k and
        18.9-19.8k by the threads' own, with 9.1-9.8k for one thread."""
        n = ITERATIONS[self.test] if iterations is None else iterations
        errors: list[BaseException] = []
        barrier = threading.Barrier(self.threads)
        span = [0.0] * (2 * self.threads)  # thread i's start and end: items 2i and 2i + 1
        args = [(i, n, barrier, span, errors) for i in range(self.threads)]
        ts = [threading.Thread(target=self.worker, args=a) for a in args]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        self.ops = sum(self._done)  # every run so far
        return max(span[1::2]) - min(span[0::2])

    def verify(self) -> None:
        """Every test leaves the address space as it found it: its VMAs, no page, the break back."""
        self.mm.check()
        if self.mm.vmas() != self.initial or self.mm.rss():
            raise AssertionError(f"wis/{self.test}: left {self.mm.vmas()!r}, {self.mm.rss()} pages")
        if self.mm.brk() != self.mm.start_brk:
            raise AssertionError(f"wis/{self.test}: the break ended at {self.mm.brk():#x}")
        expected = self.threads * OPS[self.test]
        if self.ops % expected:
            raise AssertionError(f"wis/{self.test}: {self.ops} ops is not a multiple of {expected}")

    def counters(self) -> dict[str, Any]:
        st = self.mm.stats()
        lock = st.get("lock", {}) or {}
        return {
            "lock_wait_s": round(float(lock.get("wait_time", 0.0)), 6),
            "lock_contended": int(lock.get("contended", 0)),
            "retries": int(st.get("retries", 0)),
            "fallbacks": int(st.get("fallbacks", 0)),
            "ops_counted": self.ops,
            **self._phase_means(),
        }

    def _phase_means(self) -> dict[str, float]:
        """Mean fault / map phase per iteration per thread, microseconds (page_fault1 after ``time_phases``)."""
        if self._phases is None or self.test != "page_fault1" or not self.ops:
            return {}
        iterations = self.ops // OPS[self.test]  # over all threads
        fault_s = sum(p[0] for p in self._phases.values())
        map_s = sum(p[1] for p in self._phases.values())
        per = 1e6 / iterations
        return {"fault_phase_us": round(fault_s * per, 1), "map_phase_us": round(map_s * per, 1)}


def _case(
    test: str, policy: str, threads: int, backend: str, page_work: int, lock: str, affinity: str, zap_work: int,
    downgrade: bool = False,
) -> Case:
    state: dict[str, WisScenario] = {}

    def build() -> WisScenario:
        return WisScenario(test, policy, threads, backend, page_work, lock, affinity, zap_work, downgrade)

    def time_func(loops: int) -> float:
        sc = state.get("sc")
        if sc is None:
            sc = state["sc"] = build()
        return sum(sc.run() for _ in range(loops))

    def measure() -> dict[str, Any]:
        sc = build()
        if test == "page_fault1":
            sc.time_phases()
        for _ in range(MEASURE_LOOPS):
            sc.run()
        sc.verify()
        return {**sc.counters(), "measure_loops": MEASURE_LOOPS}

    suffix, variant = lock_variant(policy, lock) if policy == "range" else ("", policy)
    cpus = os.cpu_count() or 1
    ops = threads * ITERATIONS[test] * OPS[test]
    meta = {
        "suite": SUITE, "op": test, "stream": "own-region", "backend": f"{policy}+{backend}", "policy": policy,
        "index": backend, "lock": lock if policy == "range" else "rwsem", "variant": variant, "threads": threads,
        "page_work": page_work, "zap_work": zap_work, "downgrade": int(downgrade), "affinity": affinity,
        "ops_per_loop": ops, "cpu_count": cpus,
        "oversubscribed": int(threads > cpus),
        "gil": int(getattr(sys, "_is_gil_enabled", lambda: True)()),
    }  # fmt: skip
    name = f"wis/{test}/threads={threads:02d}/{policy}+{backend}{suffix}"
    return MeasuredCase(name, time_func, meta, ops, measure=measure)


def cases(opts: SuiteOptions) -> list[Case]:
    tests = tuple(opts.extra.get("tests", TESTS))
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise ValueError(f"wis: unknown tests {unknown}; known: {', '.join(TESTS)}")
    policies = tuple(opts.extra.get("policies", POLICIES))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise ValueError(f"wis: unknown policies {unknown}; known: {', '.join(POLICIES)}")
    page_work = int(opts.extra.get("page_work", PAGE_WORK))
    if page_work < 0:
        raise ValueError(f"wis: page_work={page_work} must not be negative")
    zap_work = int(opts.extra.get("zap_work", page_work))
    if zap_work < 0:
        raise ValueError(f"wis: zap_work={zap_work} must not be negative")
    downgrade = int(opts.extra.get("downgrade", 0))
    if downgrade not in (0, 1):
        raise ValueError(f"wis: downgrade={downgrade} must be 0 or 1")
    affinity = str(opts.extra.get("affinity", "cores"))
    if affinity not in AFFINITIES:
        raise ValueError(f"wis: unknown affinity {affinity!r}; known: {', '.join(AFFINITIES)}")
    locks = range_lock_kinds(opts, LOCKS, "wis")
    registered = set(available_backends())
    wanted = [b for b in opts.backends if b.split("+")[-1] in registered]
    backend = next((b for b in wanted if b in MM_BACKENDS), wanted[0] if wanted else "maple")
    threads = opts.threads
    if opts.fast:
        threads = tuple(t for t in threads if t <= 4) or threads[:1]
    out: list[Case] = []
    for test in tests:
        for t in threads:
            for policy in policies:
                for lock in locks if policy == "range" else ("rwsem",):
                    out.append(_case(test, policy, t, backend, page_work, lock, affinity, zap_work, bool(downgrade)))
    return out
