"""The ``threaded`` suite: concurrency on an address space and directly on an index.

Op mix
------
**mm** — the seed's experiment on the address-space model.  ``T`` fault
threads and one mapping thread share one ``AddressSpace(backend, policy,
page_work=PAGE_WORK)``.  Per timed loop each fault thread takes
``FAULTS`` write faults, cycling over the pages of its VMA (each fault does
``PAGE_WORK`` page-sized hashes with the GIL released, the stand-in for
clearing or copying the page); for as long as any of them runs, the mapping
thread repeats rounds of ``mmap(MAP_FIXED)`` of ``map_pages`` pages, a write
fault on each, and ``munmap`` — whose zap does the page work of every touched
page while the policy's write lock is held, which is what makes ``mmap_sem``
hurt.  The default round, 32 pages = 128 KiB, is glibc's initial
``M_MMAP_THRESHOLD`` (before its dynamic adjustment raises it): a buffer that
``malloc`` serves with its own ``mmap`` and ``free`` returns with ``munmap``.
The timed operations are the fault threads' faults (fault throughput under a
concurrent mapper, the seed's scenario); the mapper's rounds are metadata
(``map_rounds``).  Scenarios:

* ``disjoint`` — every fault thread has its own VMA, 1 GiB apart, and the
  mapping thread works 1 GiB beyond the last one: a range lock never makes
  anybody wait;
* ``shared``   — all fault threads fault in one VMA and the mapping thread's
  range *touches* its end, so every ``mmap`` merges into that VMA and every
  ``munmap`` splits it again: each mutation must lock the VMA everybody is
  faulting in, and a range lock cannot help (it must not hurt either).

Policies ``full`` (mmap_sem), ``range`` and ``vma`` (per-VMA locks), plus
``ideal`` in the disjoint scenario — every thread takes a private
``RWSemaphore`` of its own, so the address space has no shared lock at all
(only the index's own synchronization and the policy's operation counters,
which every policy pays alike): the ceiling a policy can approach, as
the ``io`` suite's ``ideal``; it is correct only because no two threads ever
touch the same VMA, so it has no place in the shared scenario or the library
— x backends x thread counts.  Untimed metadata (``MEASURE_LOOPS`` extra loops in
the parent, totals over them): lock wait seconds, retries, fallbacks, map rounds,
``write_locked_frac`` (the share of the fault threads' wall time during which
the mapper held its write lock) and — for lock-free backends — reader restarts.

**index** — threads directly on an index, no address space, no range lock:
the price of the writer mutex for locked readers against the lock-free
readers of ``maple``/``xarray``, and of one writer mutex for many writers.
``op`` picks who is timed:

* ``lookup`` — ``T`` reader threads, ``READS`` ``lookup`` calls each per loop
  on a pre-built stream, while ``W`` writers churn (``background``, default 1);
* ``overlap`` — the same with ``overlapping(start, end)`` of a window that
  meets two neighbouring stable VMAs (and, in ``shared``, whatever the writers
  put in the hole between them);
* ``insert`` — ``T`` writer threads, each inserting then removing its own
  ``WRITES`` VMAs per loop (one op per mutation), while ``R`` readers
  (``background``) look up.

The runs set the GIL's switch interval to ``switch_us`` (default 100 µs,
restored after): with CPython's 5 ms a reader finishes its whole stream
before the writer gets the GIL, so nothing would interleave; at 100 µs the
threads interleave finely, as truly parallel ones do, and a locked reader
can be switched out while it holds the index mutex — what the mutex costs.
The timed threads run flat out; the background thread — the writer of
``lookup``/``overlap``, the reader of ``insert`` — yields the GIL after each
operation, as a thread doing them between other work would (one that never
blocks holds the GIL for whole switch intervals, and the numbers would
measure the GIL's scheduler instead of the index).  ``disjoint``: the writers' VMAs
lie in regions of their own, 1 GiB apart; ``shared``: in the holes between
the VMAs the readers use, different writers' interleaved.  Untimed metadata:
reader restarts, the background thread's ops, whether reads are lock-free.

pyperf's value is seconds per operation of the aggregate (all threads'
operations divided by the loop's wall time), so ``1 / value`` is ops/s.

The ``range`` policy runs once per lock kind of ``--extra lock`` (default:
the index's default lock, ``range``); the other policies keep the index's
default lock.  Metadata ``lock`` is the index's lock kind, ``variant`` the
table's column: the policy, or ``range/<kind>`` for another lock.

Names: ``threaded/mm/<scenario>/page_work=<W>/map_pages=<M>/threads=<T>/<policy>+<backend>``
(plus ``/lock=<kind>`` for a lock other than the default) and
``threaded/index/<op>/<scenario>/switch_us=<S>/background=<B>/threads=<T>/<backend>``.
Options (``--extra``): ``page_work`` (default 16), ``map_pages`` (default 32),
``policies`` (default ``full,range,vma,ideal``), ``lock`` (the range policy's
lock kinds, default ``range``), ``switch_us`` (default 100), ``background``
(default 1).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.suites import Case, SuiteOptions, gil_enabled
from bench.suites._common import Lazy, MeasuredCase
from structures import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, VMA, available_backends, make_index
from structures.locks import DEFAULT_LOCK, LOCK_KINDS
from structures.locks.rwsem import RWSemaphore
from structures.mm.address_space import ZAP_SCAN_LIMIT, AddressSpace
from structures.mm.policy import POLICIES as MM_POLICIES
from structures.mm.policy import LockPolicy

SUITE = "threaded"
DESCRIPTION = "fault threads + a mapper on an AddressSpace (full/range/vma/ideal); readers and writers on an index"

POLICIES = ("full", "range", "vma", "ideal")
MM_BACKENDS = ("maple", "rbtree", "vmacache+rbtree", "xarray")
PAGE_WORK = 16
FAULTS = 64  # per fault thread per loop
MAP_PAGES = 32  # pages the mapping thread maps, touches and unmaps each round: 128 KiB, glibc's initial mmap threshold
#: the largest mapper round: above it AddressSpace zaps by scanning the whole page table (a different cost)
MAX_MAP_PAGES = ZAP_SCAN_LIMIT
REGION_PAGES = 64
GIB = 1 << 30
BASE = 16 * GIB
READS = 512
STABLE = 1000  # the index scenarios' stable VMAs (8 pages each, 8-page holes between)
#: the GIL switch interval of the index runs, microseconds (CPython's default: 5000)
SWITCH_US = 100
MEASURE_LOOPS = 5  # untimed loops behind the metadata counters (totals over these loops)
WRITES = 64
P = PAGE_SIZE
FLAGS = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED


EXTRA = {
    "page_work": ("int", "threaded/mm: GIL-free page hashes per fault and per zapped page (default 16)"),
    "map_pages": ("int", "threaded/mm: pages the mapping thread maps, touches and unmaps per round (default 32)"),
    "policies": ("strs", "threaded/mm: lock policies among full,range,vma,ideal (default all)"),
    "lock": ("strs", "threaded/mm: the range policy's lock kinds, e.g. range,range-list (default range)"),
    "switch_us": ("int", "threaded/index: the GIL switch interval during the runs, in microseconds (default 100)"),
    "background": ("int", "threaded/index: untimed threads: writers under lookup/overlap, readers beside insert (1)"),
}


# ----------------------------------------------------------------------
# mm scenario
# ----------------------------------------------------------------------
class IdealPolicy(LockPolicy):
    """No shared lock: each thread serializes only with itself, on a private ``RWSemaphore``.

    The ceiling of the disjoint scenario (the ``io`` suite's ``ideal``): the same
    lock calls per operation as ``full``, none of the sharing.  Correct only
    while no two threads' operations touch the same VMAs.
    """

    name = "ideal"
    downgrades = True

    def __init__(self, mm: AddressSpace) -> None:
        super().__init__(mm)
        self._own = threading.local()

    def _lock(self) -> RWSemaphore:
        lock: RWSemaphore | None = getattr(self._own, "lock", None)
        if lock is None:
            lock = self._own.lock = RWSemaphore()
        return lock

    def mutate(self, query: Any, apply: Any) -> Any:
        return self._write_locked(self._lock(), query, apply)

    def fault(self, addr: int, write: bool) -> VMA:
        with self._lock().read():
            vma = self.mm.fault_locked(addr, write)
        self.count("faults")
        return vma


def _policy(name: str) -> str | type[LockPolicy]:
    return IdealPolicy if name == "ideal" else name


def range_lock_kinds(opts: SuiteOptions, default: tuple[str, ...], suite: str) -> tuple[str, ...]:
    """The lock kinds of ``--extra lock`` the range policy runs with (``default`` when not given);
    names of other suites' locks (``ideal``, ``mutex``, the ceilings) are skipped."""
    given = tuple(opts.extra.get("lock", default))
    unknown = [k for k in given if k not in LOCK_KINDS and k not in ("ideal", "mutex", "private", "regions")]
    kinds = tuple(k for k in given if k in LOCK_KINDS)
    if unknown or not kinds:
        raise ValueError(f"{suite}: lock={list(given)}: the range policy takes lock kinds among "
                         f"{', '.join(sorted(LOCK_KINDS))}")  # fmt: skip
    return kinds


class MMScenario:
    """One address space, its fault regions and the mapping thread's range."""

    def __init__(
        self,
        backend: str,
        policy: str,
        threads: int,
        scenario: str,
        page_work: int,
        map_pages: int = MAP_PAGES,
        lock: str = DEFAULT_LOCK,
    ) -> None:
        if policy == "ideal" and scenario != "disjoint":
            raise ValueError("threaded: the ideal policy (no shared lock) is only correct in the disjoint scenario")
        self.mm = AddressSpace(make_index(backend, lock=lock), policy=_policy(policy), page_work=page_work)
        self.threads = threads
        self.scenario = scenario
        self.map_pages = map_pages
        if scenario == "disjoint":
            self.regions = [BASE + i * GIB for i in range(threads)]
            for r in self.regions:
                self.mm.mmap(REGION_PAGES * P, addr=r, flags=FLAGS)
            self.map_addr = BASE + threads * GIB
        elif scenario == "shared":
            self.mm.mmap(REGION_PAGES * P, addr=BASE, flags=FLAGS)
            self.regions = [BASE] * threads
            self.map_addr = BASE + REGION_PAGES * P  # touches the shared VMA: merge, then split
        else:
            raise ValueError(f"unknown scenario {scenario!r}; known: disjoint, shared")
        self.initial = self.mm.vmas()
        self.map_rounds = 0
        self._write_spans: list[tuple[float, float]] | None = None  # instrument(): (start, end) of write sections
        self.write_locked_s = 0.0
        self.timed_s = 0.0

    def instrument(self) -> None:
        """Record when every mutation's write-locked section runs (untimed runs only: it costs a
        closure and two clock reads per mmap/munmap).  ``counters()`` then reports
        ``write_locked_frac``: the share of the fault threads' wall time during which the
        mapper held its write lock — the time a ``full`` fault cannot run."""
        spans: list[tuple[float, float]] = []
        self._write_spans = spans
        mutate = self.mm.policy.mutate
        clock = time.perf_counter

        def timed(query: Any, apply: Any) -> Any:
            def locked(arg: Any) -> Any:
                t = clock()
                try:
                    return apply(arg)
                finally:
                    spans.append((t, clock()))

            return mutate(query, locked)

        self.mm.policy.mutate = timed  # type: ignore[method-assign]

    def faulter(self, tid: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
        fault = self.mm.fault
        base = self.regions[tid]
        offset = (tid * 7) % REGION_PAGES
        try:
            barrier.wait()
            for k in range(FAULTS):
                fault(base + ((offset + k) % REGION_PAGES) * P, True)
        except BaseException as exc:
            errors.append(exc)

    def mapper(self, barrier: threading.Barrier, done: threading.Event, errors: list[BaseException]) -> None:
        mm, addr, pages = self.mm, self.map_addr, self.map_pages
        n = pages * P
        fault = mm.fault
        rounds = 0
        try:
            barrier.wait()
            while not done.is_set():  # whole rounds: the address space ends as it began
                mm.mmap(n, addr=addr, flags=FLAGS)
                for k in range(pages):  # touch it, as malloc's arena or a buffer would
                    fault(addr + k * P, True)
                mm.munmap(addr, n)  # zaps the touched pages: page work under the write lock
                rounds += 1
        except BaseException as exc:
            errors.append(exc)
        self.map_rounds += rounds

    def run(self) -> float:
        """Seconds until every fault thread is done; the mapper churns all the while."""
        errors: list[BaseException] = []
        done = threading.Event()
        barrier = threading.Barrier(self.threads + 2)
        faulters = [threading.Thread(target=self.faulter, args=(i, barrier, errors)) for i in range(self.threads)]
        mapper = threading.Thread(target=self.mapper, args=(barrier, done, errors))
        for t in (*faulters, mapper):
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in faulters:
            t.join()
        t1 = time.perf_counter()
        done.set()
        mapper.join()
        if errors:
            raise errors[0]
        if self._write_spans is not None:  # the write sections inside [t0, t1], clipped
            self.write_locked_s += sum(max(0.0, min(e, t1) - max(s, t0)) for s, e in self._write_spans)
            self._write_spans.clear()
        self.timed_s += t1 - t0
        return t1 - t0

    def verify(self) -> None:
        """The state a sequential replay gives: the initial VMAs, every invariant holding."""
        self.mm.check()
        if self.mm.vmas() != self.initial:
            raise AssertionError(f"threaded/mm: final VMAs differ from the sequential replay: {self.mm.vmas()!r}")

    def counters(self) -> dict[str, Any]:
        st = self.mm.stats()
        lock = st.get("lock", {}) or {}
        idx = self.mm.index.stats()
        return {
            "lock_wait_s": round(float(lock.get("wait_time", 0.0)), 6),
            "lock_contended": int(lock.get("contended", 0)),
            "retries": int(st.get("retries", 0)),
            "fallbacks": int(st.get("fallbacks", 0)),
            "restarts": int(idx.get("restarts", 0)),
            "faults": int(st.get("faults", 0)),
            "map_rounds": self.map_rounds,
            "write_locked_frac": round(self.write_locked_s / self.timed_s, 3) if self.timed_s else 0.0,
        }


def _scenario_case(name: str, build: Callable[[], Any], meta: dict[str, Any], ops: int) -> Case:
    """A case over a scenario object with ``run() -> seconds``, ``verify()`` and ``counters()``:
    set up once per worker (``Lazy``); ``measure`` runs a fresh one once, checks it, reports counters."""
    state = Lazy(build)

    def time_func(loops: int) -> float:
        sc = state.get()
        return sum(sc.run() for _ in range(loops))

    def measure() -> dict[str, Any]:
        sc = build()
        if hasattr(sc, "instrument"):
            sc.instrument()
        for _ in range(MEASURE_LOOPS):
            sc.run()
        sc.verify()
        return {**sc.counters(), "measure_loops": MEASURE_LOOPS}

    threads = int(meta["threads"])
    cpus = os.cpu_count() or 1
    meta = {**meta, "suite": SUITE, "threads": threads, "ops_per_loop": ops, "cpu_count": cpus}
    meta["oversubscribed"] = int(threads + 1 > cpus)  # + 1: the mapping / writer thread
    return MeasuredCase(name, time_func, meta, ops, measure=measure)


def lock_variant(policy: str, lock: str) -> tuple[str, str]:
    """(the name's suffix, the table's column) of ``policy`` over an index lock of kind ``lock``:
    nothing new for the default lock, so the names of the cases before the lock dimension stay."""
    if lock == DEFAULT_LOCK:
        return "", policy
    return f"/lock={lock}", f"{policy}/{lock}"


def _mm_case(
    backend: str, policy: str, threads: int, scenario: str, page_work: int, map_pages: int, lock: str = DEFAULT_LOCK
) -> Case:
    suffix, variant = lock_variant(policy, lock)
    meta = {"op": "mm", "stream": scenario, "backend": f"{policy}+{backend}", "policy": policy, "index": backend,
            "threads": threads, "page_work": page_work, "map_pages": map_pages, "lock": lock,
            "variant": variant}  # fmt: skip
    name = f"threaded/mm/{scenario}/page_work={page_work}/map_pages={map_pages}/threads={threads:02d}"
    return _scenario_case(
        f"{name}/{policy}+{backend}{suffix}",
        lambda: MMScenario(backend, policy, threads, scenario, page_work, map_pages, lock),
        meta,
        threads * FAULTS,
    )


# ----------------------------------------------------------------------
# index scenario
# ----------------------------------------------------------------------
INDEX_OPS = ("lookup", "overlap", "insert")


class IndexScenario:
    """Readers and writers directly on an index, no address space.

    ``op`` picks who is timed: ``lookup`` / ``overlap`` — ``threads`` reader
    threads (``lookup(addr)``, or ``overlapping`` of a window meeting two
    stable VMAs and whatever the writers put between them) while
    ``background`` writers churn; ``insert`` — ``threads`` writer threads, each
    inserting then removing its own ``WRITES`` VMAs, while ``background``
    readers look VMAs up.
    """

    def __init__(
        self,
        backend: str,
        threads: int,
        scenario: str,
        op: str = "lookup",
        switch_us: int = SWITCH_US,
        background: int = 1,
    ) -> None:
        if background < 1:
            raise ValueError(f"threaded/index: background={background} must be at least 1")
        if switch_us <= 0:
            raise ValueError(f"threaded/index: switch_us={switch_us} must be positive")
        if scenario not in ("disjoint", "shared"):
            raise ValueError(f"unknown scenario {scenario!r}; known: disjoint, shared")
        if op not in INDEX_OPS:
            raise ValueError(f"unknown index op {op!r}; known: {', '.join(INDEX_OPS)}")
        self.idx = make_index(backend)
        self.threads = threads
        self.scenario = scenario
        self.op = op
        self.switch_us = switch_us
        self.background = background
        self.writes = 0
        self.background_reads = 0
        self._done_ops: list[int] = []
        self._bg_ops: list[int] = []
        # STABLE 8-page VMAs with 8-page holes; readers look them up
        self.stable = [VMA(BASE + i * 16 * P, BASE + i * 16 * P + 8 * P, name="stable") for i in range(STABLE)]
        for v in self.stable:
            self.idx.insert(v)
        n_readers = threads if op != "insert" else background
        self.streams = [[(i * 37 + r * 11) % (STABLE - 1) for i in range(READS)] for r in range(n_readers)]
        n_writers = background if op != "insert" else threads
        self.churn = [self._churn_vmas(w, n_writers) for w in range(n_writers)]

    def _churn_vmas(self, w: int, writers: int) -> list[VMA]:
        """Writer ``w``'s VMAs: in a region of its own (disjoint), or 2-page VMAs in the holes
        between the stable VMAs the readers use, interleaved with the other writers' (shared)."""
        if self.scenario == "disjoint":
            base = BASE + (64 + w) * GIB
            return [VMA(base + i * 8 * P, base + i * 8 * P + 4 * P) for i in range(WRITES)]
        holes = len(self.stable) - 1
        total = WRITES * writers
        if total > 2 * holes:
            raise ValueError(f"threaded/index: {writers} writers need {total} slots; the shared region has {2 * holes}")
        out = []
        for i in range(WRITES):
            slot = i * writers + w
            hole, sub = (slot * (holes // total), 0) if total <= holes else (slot % holes, slot // holes)
            at = self.stable[hole].end + (1 + 3 * sub) * P
            out.append(VMA(at, at + 2 * P))
        return out

    # -- threads --------------------------------------------------------
    def _read_all(self, r: int, done: threading.Event | None = None) -> int:
        """Reader ``r``'s stream, flat out; with ``done`` (the background reader of ``insert``) it
        gives up the GIL after every read and stops when ``done`` is set.  Returns the reads."""
        stable, stream, sleep = self.stable, self.streams[r], time.sleep
        if done is not None:
            lookup = self.idx.lookup
            n = 0
            for k in stream:
                if lookup(stable[k].start + P) is None:
                    raise AssertionError(f"threaded/index: reader {r} lost the VMA at {stable[k].start:#x}")
                n += 1
                sleep(0)
                if done.is_set():
                    break
            return n
        if self.op == "overlap":
            overlapping = self.idx.overlapping
            for k in stream:
                got = overlapping(stable[k].start, stable[k + 1].end)
                if got[0] != stable[k] or got[-1] != stable[k + 1]:
                    raise AssertionError(f"threaded/index: reader {r} saw {got!r} for VMAs {k}, {k + 1}")
        else:
            lookup = self.idx.lookup
            for k in stream:
                if lookup(stable[k].start + P) is None:
                    raise AssertionError(f"threaded/index: reader {r} lost the VMA at {stable[k].start:#x}")
        return len(stream)

    def _churn(self, w: int, done: threading.Event | None) -> int:
        """Insert then remove writer ``w``'s VMAs; returns the mutations.

        Flat out for a timed writer (``done`` is None).  The background writer
        (``done`` given) yields the GIL after each mutation (``sleep(0)``), as a
        thread doing mmap/munmap between other work would — without it a
        CPU-bound Python writer keeps the GIL for whole switch intervals and
        the readers' numbers measure the GIL's scheduling instead of the index's
        locking — and once ``done`` is set it stops inserting and removes without
        yielding, so a run's untimed tail stays short.  Cycles stay whole (what
        was inserted is removed): the index ends as it began.
        """
        ins, rem, sleep = self.idx.insert, self.idx.remove, time.sleep
        inserted = 0
        for v in self.churn[w]:
            ins(v)
            inserted += 1
            if done is not None:
                sleep(0)
                if done.is_set():
                    break
        for v in self.churn[w][:inserted]:
            rem(v)
            if done is not None and not done.is_set():
                sleep(0)
        return 2 * inserted

    def timed_thread(self, i: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
        try:
            barrier.wait()
            if self.op == "insert":
                self._done_ops[i] = self._churn(i, None)  # one list item per thread
            else:
                self._done_ops[i] = self._read_all(i)
        except BaseException as exc:
            errors.append(exc)

    def background_thread(
        self, i: int, barrier: threading.Barrier, done: threading.Event, errors: list[BaseException]
    ) -> None:
        n = 0
        try:
            barrier.wait()
            while not done.is_set():
                if self.op == "insert":
                    n += self._read_all(i, done)
                else:
                    n += self._churn(i, done)
        except BaseException as exc:
            errors.append(exc)
        self._bg_ops[i] = n  # one list item per thread; summed after the joins

    def run(self) -> float:
        """Seconds until every timed thread is done; the background thread runs all the while.
        The GIL's switch interval is ``switch_us`` for the run (restored after); with the
        GIL off there is no interval to set (the metadata says ``n/a``)."""
        if not gil_enabled():
            return self._run()
        saved_us = round(sys.getswitchinterval() * 1e6)
        sys.setswitchinterval((self.switch_us + 0.5) / 1e6)  # CPython truncates to whole microseconds
        try:
            return self._run()
        finally:
            sys.setswitchinterval((saved_us + 0.5) / 1e6)

    def _run(self) -> float:
        errors: list[BaseException] = []
        self._done_ops = [0] * self.threads
        self._bg_ops = [0] * self.background
        done = threading.Event()
        barrier = threading.Barrier(self.threads + self.background + 1)
        timed = [threading.Thread(target=self.timed_thread, args=(i, barrier, errors)) for i in range(self.threads)]
        others = [
            threading.Thread(target=self.background_thread, args=(i, barrier, done, errors))
            for i in range(self.background)
        ]
        for t in (*timed, *others):
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in timed:
            t.join()
        elapsed = time.perf_counter() - t0
        done.set()
        for t in others:
            t.join()
        if errors:
            raise errors[0]
        if self.op == "insert":
            self.writes += sum(self._done_ops)  # the timed writers' own counts
            self.background_reads += sum(self._bg_ops)
        else:
            self.writes += sum(self._bg_ops)
        return elapsed

    def verify(self) -> None:
        self.idx.check()
        if list(self.idx) != self.stable:
            raise AssertionError("threaded/index: final contents differ from the stable VMAs")

    def counters(self) -> dict[str, Any]:
        return {
            "restarts": int(self.idx.stats().get("restarts", 0)),
            "lockless_reads": int(self.idx.lockless_reads),
            "writer_ops": self.writes,
            "background_reads": self.background_reads,
        }


def _index_case(backend: str, threads: int, scenario: str, op: str, switch_us: int, background: int) -> Case:
    ops = threads * (2 * WRITES if op == "insert" else READS)
    readers, writers = (background, threads) if op == "insert" else (threads, background)
    meta = {"op": op, "kind": "index", "stream": scenario, "backend": backend, "threads": threads}
    return _scenario_case(
        f"threaded/index/{op}/{scenario}/switch_us={switch_us}/background={background}/threads={threads:02d}/{backend}",
        lambda: IndexScenario(backend, threads, scenario, op, switch_us, background),
        {
            **meta, "switch_us": switch_us if gil_enabled() else "n/a", "background": background,
            "readers": readers, "writers": writers,
        },
        ops,
    )


def cases(opts: SuiteOptions) -> list[Case]:
    registered = set(available_backends())
    page_work = int(opts.extra.get("page_work", PAGE_WORK))
    if page_work < 0:
        raise ValueError(f"threaded: page_work={page_work} must not be negative")
    map_pages = int(opts.extra.get("map_pages", MAP_PAGES))
    if not 1 <= map_pages <= MAX_MAP_PAGES:
        raise ValueError(f"threaded: map_pages={map_pages} must be between 1 and {MAX_MAP_PAGES}")
    policies = tuple(opts.extra.get("policies", POLICIES))
    switch_us = int(opts.extra.get("switch_us", SWITCH_US))
    if switch_us <= 0:
        raise ValueError(f"threaded: switch_us={switch_us} must be positive")
    background = int(opts.extra.get("background", 1))
    if background < 1:
        raise ValueError(f"threaded: background={background} must be at least 1")
    too_many = [t for t in (*opts.threads, background) if t * WRITES > 2 * (STABLE - 1)]
    if too_many:
        raise ValueError(
            f"threaded: {too_many[0]} writer threads: the shared index region holds the VMAs of at most "
            f"{2 * (STABLE - 1) // WRITES} writer threads"
        )
    unknown = [p for p in policies if p not in MM_POLICIES and p != "ideal"]
    if unknown or not policies:
        raise ValueError(f"threaded: unknown policies {unknown}; known: {', '.join(POLICIES)}")
    range_locks = range_lock_kinds(opts, (DEFAULT_LOCK,), "threaded")
    wanted = [b for b in opts.backends if b.split("+")[-1] in registered] or ["list"]
    mm_backends = [b for b in wanted if b in MM_BACKENDS] or wanted[:1]
    threads = opts.threads
    scenarios = ("disjoint", "shared")
    if opts.fast:
        mm_backends = mm_backends[:1]
        threads = tuple(t for t in threads if t <= 4) or threads[:1]
    out: list[Case] = []
    for scenario in scenarios:
        for t in threads:
            for backend in mm_backends:
                for policy in policies:
                    if policy == "ideal" and scenario != "disjoint":
                        continue  # no shared lock is only correct when nobody shares
                    for lock in range_locks if policy == "range" else (DEFAULT_LOCK,):
                        out.append(_mm_case(backend, policy, t, scenario, page_work, map_pages, lock))
    for op in INDEX_OPS:
        for scenario in scenarios:
            for t in threads:
                for backend in wanted:
                    out.append(_index_case(backend, t, scenario, op, switch_us, background))
    return out
