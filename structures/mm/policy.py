"""Lock policies of ``AddressSpace``: what each operation locks (``full``, ``range``, ``vma``).

Invariant
---------
Whatever the policy, a VMA is only ever changed (split, merged, removed,
created) by a thread that holds, for write, a lock range covering the *whole*
extent of every VMA it changes and of every VMA it creates; and a page fault
reads its VMA only while holding something that conflicts with such a writer.
Hence the VMAs meeting a write-locked span are stable while it is held, and
the VMA a fault sees cannot change under it.

=========  =============================================  ====================================
policy     mutation (mmap / munmap / mprotect / brk)      page fault
=========  =============================================  ====================================
``full``   mmap lock, whole range, write                  mmap lock, whole range, read
``range``  write-lock the hull of the VMAs the window      read-lock just the faulting page
           meets (found lock-free), re-check the hull
           under the lock if the index mutated since,
           retry if it grew (``retries``)
``vma``    mmap lock for write; write-mark each VMA it    look the VMA up lock-free, try-read
           changes (waits for its readers), new VMAs      its own lock, re-check seq + that it
           born marked; unlock = ``mm_lock_seq += 1``     still covers addr; else fall back to
                                                          the mmap lock (``fallbacks``)
=========  =============================================  ====================================

Layout
------
::

    LockPolicy(mm)            lock = mm.index.lock (the mmap lock)
      mutate(query, apply)    query() -> (lo, hi, arg): the byte window the op reads
                              apply(arg) -> result, run with the window's VMAs stable;
                              may raise Retry (an optimistic placement went stale)
      commit(old, new)        index.replace(old, new) (+ per-VMA write marks for ``vma``)
      fault(addr, write)      -> VMA
      exclusive(fn)           fn() with every fault and mutation kept out (fork)

    VmaPolicy._vl : id(vma) -> _VmaLock(vma, seq, rw: RWSemaphore | None, detached)
                    an entry exists for every VMA in the index, except while a
                    writer holding the mmap lock is replacing it; no entry = locked
                    rw is made by the VMA's first fault (under _rw_mutex): most
                    VMAs a brk or an mmap makes go again before any fault
    VmaPolicy._tls.cache : per fault thread, the entries it used (a
                    miss reads _vl); checked like an entry read from _vl

API
---
``make_policy(name_or_class, mm)``, ``POLICIES``; classes ``FullPolicy``,
``RangePolicy``, ``VmaPolicy``; each has ``mutate``, ``commit``, ``fault``,
``exclusive``, ``count``, ``stats``, ``check``.  ``Downgraded(tail)``: an
``apply`` result whose ``tail`` the three policies run with their write lock
downgraded to read (``downgrades = True``): ``full`` the mmap lock, ``range``
the same range, ``vma`` the mmap lock after ``vma_end_write_all``; it is how an
address space made with ``munmap_downgrade=True`` zaps, as Linux's munmap does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

from structures.base import VMAIndex
from structures.lib.counters import LocalCounters
from structures.locks.rwsem import RWSemaphore
from structures.vma import PAGE_SIZE, VMA, InvalidRangeError, InvariantError

__all__ = [
    "POLICIES",
    "Downgraded",
    "FaultHandler",
    "FullPolicy",
    "LockPolicy",
    "RangePolicy",
    "Retry",
    "VmaPolicy",
    "make_policy",
]

T = TypeVar("T")


class Retry(Exception):
    """An optimistic choice went stale between lookup and lock: unlock and start over."""


class Downgraded:
    """What an ``apply`` returns to have its last step, ``tail()``, run with the policy's write
    lock downgraded to read (``mmap_write_downgrade``): munmap's zap, as Linux has done since
    4.20 (``__vm_munmap(..., downgrade=true)``), once the VMAs are out of the index.  The
    policy's ``mutate`` then returns ``None``.  Only produced for an address space made with
    ``munmap_downgrade=True``, which needs a policy whose ``downgrades`` is true."""

    __slots__ = ("tail",)

    def __init__(self, tail: Callable[[], None]) -> None:
        self.tail = tail


class FaultHandler(Protocol):
    """What a policy needs of its address space (``AddressSpace`` is one).

    ``fault_locked(addr, write)`` looks the VMA up and faults the page in, the
    caller's lock holding the VMA stable; ``fault_in(vma, addr, write)`` faults
    in a VMA the caller already found and holds stable (the per-VMA path).
    """

    index: VMAIndex

    def fault_locked(self, addr: int, write: bool) -> VMA: ...

    def fault_in(self, vma: VMA, addr: int, write: bool) -> VMA: ...


Query = Callable[[], tuple[int, int, Any]]
Apply = Callable[[Any], Any]


class LockPolicy:
    """Base: counters and the plain commit; subclasses decide the locking."""

    name: ClassVar[str] = ""
    #: ``mutate`` runs a ``Downgraded`` result's tail under its lock downgraded to read
    downgrades: ClassVar[bool] = False

    def __init__(self, mm: FaultHandler) -> None:
        self.mm = mm
        self.index = mm.index
        self.lock = mm.index.lock
        # per-thread counters: a mutex (or dict) every fault touched serialised the
        # faults of all threads once the GIL was gone (the vma policy fell below full)
        self._counts = LocalCounters(("faults", "mmaps", "munmaps", "mprotects", "brks", "retries", "fallbacks"))

    def count(self, key: str, n: int = 1) -> None:
        self._counts.add(key, n)

    def stats(self) -> dict[str, int]:
        return self._counts.totals()

    def mutate(self, query: Query, apply: Apply) -> Any:
        raise NotImplementedError

    def fault(self, addr: int, write: bool) -> VMA:
        raise NotImplementedError

    def commit(self, old: list[VMA], new: list[VMA]) -> None:
        self.index.replace(old, new)

    def exclusive(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` while no fault and no mutation runs anywhere in the address space
        (``dup_mmap``'s ``mmap_write_lock``): the mmap lock for write, whole range."""
        with self.lock.write():
            return fn()

    def check(self, vmas: list[VMA]) -> None:
        """Policy-specific invariants (called quiescent, the mmap lock held for write)."""

    @staticmethod
    def _finish(result: Any, lock: Any, handle: Any) -> Any:
        """``result``, or, for a ``Downgraded`` one, its tail run with ``handle`` downgraded to read."""
        if type(result) is not Downgraded:
            return result
        lock.downgrade(handle)
        result.tail()
        return None

    def _write_locked(self, lock: Any, query: Query, apply: Apply) -> Any:
        """``_retrying`` with ``lock`` held for write over the whole range, a ``Downgraded``
        result's tail run with it downgraded to read (``_finish``)."""
        h = lock.acquire_write()
        try:
            return self._finish(self._retrying(query, apply), lock, h)
        finally:
            lock.release(h)

    def _retrying(self, query: Query, apply: Apply) -> Any:
        """Run ``apply`` with the whole-range write lock held; a stale choice is re-made."""
        while True:
            _, _, arg = query()
            try:
                return apply(arg)
            except Retry:
                self.count("retries")


class FullPolicy(LockPolicy):
    """``mmap_sem``: every mutation writes the whole range, every fault reads it."""

    name = "full"
    downgrades = True

    def mutate(self, query: Query, apply: Apply) -> Any:
        return self._write_locked(self.lock, query, apply)

    def fault(self, addr: int, write: bool) -> VMA:
        with self.lock.read():
            vma = self.mm.fault_locked(addr, write)
        self.count("faults")
        return vma


class RangePolicy(LockPolicy):
    """Lock only what an operation can touch; validate after locking, retry if the span grew."""

    name = "range"
    downgrades = True

    def _hull(self, lo: int, hi: int) -> tuple[int, int]:
        """``[lo, hi)`` widened to the whole extent of the VMAs it meets.

        Only the VMAs holding ``lo`` and ``hi - 1`` can stick out (VMAs do not
        overlap), so two point lookups find the hull: 6.5k instructions on a
        maple tree against 15.8k for ``overlapping`` of a one-page window
        (callgrind); per brk call 212k -> 200k instructions over range-list,
        221k -> 210k over range (full: 193k)."""
        lookup = self.index.lookup
        first = lookup(lo)
        if first is not None and first.end >= hi:
            return first.start, first.end
        last = lookup(hi - 1)
        return (lo if first is None else first.start), (hi if last is None else last.end)

    def mutate(self, query: Query, apply: Apply) -> Any:
        lock, index = self.lock, self.index
        while True:
            seq = index.mutation_seq
            lo, hi, arg = query()  # optimistic, lock-free
            ls, le = self._hull(lo, hi)
            h = lock.acquire_write(ls, le)
            try:
                # The hull can only have moved if a mutation completed since ``seq``: whoever changes
                # a VMA meeting [lo, hi) write-locks its whole extent, which overlaps our lock, so it
                # finished (and bumped the index's mutation_seq, under the index mutex) before we
                # were granted.  No mutation since: no second walk (brk1, 1 thread: -9 % instructions).
                if index.mutation_seq != seq:
                    hs, he = self._hull(lo, hi)  # stable now: nobody else may change VMAs meeting [ls, le)
                    stale = not (ls <= hs and he <= le)
                else:
                    stale = False
                if not stale:
                    try:
                        return self._finish(apply(arg), lock, h)  # the zap: its range, read-locked
                    except Retry:
                        pass
            finally:
                lock.release(h)
            self.count("retries")

    def fault(self, addr: int, write: bool) -> VMA:
        page = addr & ~(PAGE_SIZE - 1)
        lock = self.lock
        h = lock.acquire_read(page, page + PAGE_SIZE)
        try:
            vma = self.mm.fault_locked(addr, write)
        finally:
            lock.release(h)
        self.count("faults")
        return vma


#: lock entries a fault thread keeps in its own cache (cleared when full)
ENTRY_CACHE = 64


class _VmaLock:
    """Per-VMA lock state (``vm_lock``, ``vm_lock_seq``, ``detached``)."""

    __slots__ = ("detached", "rw", "seq", "vma")

    def __init__(self, vma: VMA, seq: int) -> None:
        self.vma = vma
        self.seq = seq
        # the VMA's own lock, made by its first fault (VmaPolicy._reader_lock), not here: an
        # RWSemaphore costs 1.4 us to build on 3.13t and brk1's VMAs are never faulted (two brk
        # calls 477k -> 471k instructions, callgrind, 3.13t; a fault 58.9k -> 59.9k)
        self.rw: RWSemaphore | None = None
        self.detached = False


class VmaPolicy(LockPolicy):
    """Linux 6.4 per-VMA locks: faults bypass the mmap lock; mutations write-mark what they change."""

    name = "vma"
    downgrades = True

    def __init__(self, mm: FaultHandler) -> None:
        super().__init__(mm)
        self._mm_seq = 0  # mm_lock_seq: changed only with the mmap lock held for write
        self._vl: dict[int, _VmaLock] = {}
        # makes an entry's rw, and orders a writer's mark against a first reader (see _mark)
        self._rw_mutex = threading.Lock()
        self._tls = threading.local()  # .cache: this thread's id(vma) -> _VmaLock, ENTRY_CACHE at most
        with self.lock.write():
            for v in self.index.to_list():  # VMAs already in the index start unlocked
                self._vl[id(v)] = _VmaLock(v, -1)

    def mutate(self, query: Query, apply: Apply) -> Any:
        h = self.lock.acquire_write()
        writing = True
        try:
            result = self._retrying(query, apply)
            if type(result) is Downgraded:
                # mmap_write_downgrade(): vma_end_write_all() first, then the mmap lock to read
                self._mm_seq += 1
                writing = False
                self.lock.downgrade(h)
                result.tail()
                return None
            return result
        finally:
            if writing:
                self._mm_seq += 1  # vma_end_write_all(): every VMA marked under this lock is free again
            self.lock.release(h)

    def exclusive(self, fn: Callable[[], T]) -> T:
        """The mmap lock for write, and every VMA write-marked: faults bypass the mmap
        lock here, so fork must stop them VMA by VMA (Linux 6.4's fix to ``dup_mmap``,
        which write-locks each VMA it copies)."""
        h = self.lock.acquire_write()
        try:
            for e in list(self._vl.values()):
                self._mark(e.vma)
            return fn()
        finally:
            self._mm_seq += 1
            self.lock.release(h)

    def _mark(self, v: VMA) -> None:
        """``vma_start_write``: wait for the VMA's readers, then mark it locked for this writer."""
        e = self._vl.get(id(v))
        if e is None or e.vma is not v or e.seq == self._mm_seq:
            return
        # Mark first, then wait only if a reader is already in: a fault that try-reads the VMA
        # after the mark sees it (its try_read takes the same mutex as held() below) and falls
        # back; one that got in before is counted by held() and waited for.  Skipping the idle
        # acquire+release: brk under this policy 212k -> 205k instructions (callgrind).
        # A VMA nobody has faulted has no rw yet: _rw_mutex orders our mark against its first
        # reader, which makes rw under that mutex before it try-reads and re-checks the mark --
        # so either we see its rw (and held() counts it) or it sees our mark.
        e.seq = self._mm_seq
        with self._rw_mutex:
            rw = e.rw
        if rw is not None and rw.held()[0]:
            h = rw.acquire_write()
            assert h is not None
            rw.release(h)

    def _reader_lock(self, e: _VmaLock) -> RWSemaphore:
        """``e``'s own lock, made on the VMA's first fault (one per entry: made under ``_rw_mutex``)."""
        rw = e.rw
        if rw is None:
            with self._rw_mutex:
                rw = e.rw
                if rw is None:
                    rw = e.rw = RWSemaphore()
        return rw

    def commit(self, old: list[VMA], new: list[VMA]) -> None:
        for v in old:
            self._mark(v)
        self.index.replace(old, new)
        vl = self._vl
        for v in old:
            e = vl.pop(id(v), None)
            if e is not None:
                e.detached = True
        for v in new:
            vl[id(v)] = _VmaLock(v, self._mm_seq)  # born write-locked until the mmap lock drops

    def _entry(self, v: VMA) -> _VmaLock | None:
        """``v``'s lock entry, from this thread's own cache; the shared map only on a miss.

        The map is rewritten by every mmap/munmap, and reading it on every fault while the
        mapper wrote it halved the fault rate without the GIL (3.13t, threaded mm disjoint,
        T=1: ~7k faults/s with the map read per fault, ~17k without).  A cached entry is
        checked exactly as one read from the map (the same VMA object, not detached; then
        ``seq`` and the second lookup in ``fault``), so it never admits more."""
        try:
            cache: dict[int, _VmaLock] = self._tls.cache
        except AttributeError:
            cache = self._tls.cache = {}
        key = id(v)
        e = cache.get(key)
        if e is None or e.vma is not v or e.detached:
            e = self._vl.get(key)
            if e is not None:
                if len(cache) >= ENTRY_CACHE:
                    cache.clear()
                cache[key] = e
        return e

    def fault(self, addr: int, write: bool) -> VMA:
        idx = self.index
        v = idx.lookup(addr)  # lock_vma_under_rcu: lock-free walk
        if v is not None:
            e = self._entry(v)
            if e is not None and e.vma is v and e.seq != self._mm_seq:
                rw = self._reader_lock(e)
                h = rw.try_read()
                if h is not None:
                    try:
                        # a writer marks (seq) before it replaces; the second lookup catches a
                        # writer that already finished and detached this VMA
                        if e.seq != self._mm_seq and not e.detached and idx.lookup(addr) is v:
                            vma = self.mm.fault_in(v, addr, write)
                            self.count("faults")
                            return vma
                    finally:
                        rw.release(h)
        self.count("fallbacks")
        with self.lock.read():
            vma = self.mm.fault_locked(addr, write)
        self.count("faults")
        return vma

    def check(self, vmas: list[VMA]) -> None:
        ids = {id(v): v for v in vmas}
        for key, e in self._vl.items():
            if key not in ids or ids[key] is not e.vma:
                raise InvariantError(f"mm[vma]: lock entry for {e.vma!r} but the VMA is not in the index")
            if e.detached:
                raise InvariantError(f"mm[vma]: lock entry for {e.vma!r} is detached but still listed")
            if e.seq == self._mm_seq:
                raise InvariantError(f"mm[vma]: {e.vma!r} still write-marked with no writer")
        for key, v in ids.items():
            if key not in self._vl:
                raise InvariantError(f"mm[vma]: {v!r} has no lock entry")


POLICIES: dict[str, type[LockPolicy]] = {"full": FullPolicy, "range": RangePolicy, "vma": VmaPolicy}


def make_policy(name: str | type[LockPolicy], mm: FaultHandler) -> LockPolicy:
    """The policy called ``name`` for ``mm``, or an instance of ``name`` when it is a ``LockPolicy`` class
    (a benchmark's own policy, e.g. the ``threaded`` suite's per-thread-lock ceiling)."""
    if isinstance(name, type) and issubclass(name, LockPolicy):
        return name(mm)
    try:
        cls = POLICIES[name]
    except (KeyError, TypeError):
        raise InvalidRangeError(f"unknown lock policy {name!r}; known: {', '.join(POLICIES)}") from None
    return cls(mm)
