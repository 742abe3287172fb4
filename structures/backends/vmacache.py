"""The ``vmacache+X`` front end: a per-thread VMA cache over any index X.

Invariant
---------
Each thread has, per front end, a few slots (4 by default, ``mm/vmacache.c``)
holding VMAs it recently found, plus the sequence number ``seq`` they were
found under.  The sequence number is the inner index's ``mutation_seq``: the
base class bumps it, under the writer mutex, after every successful mutation.
A thread's slots are only ever served while the index's current sequence
number equals the one stored with them; a mismatch flushes them (lazily, on
the thread's next lookup, as ``vmacache_valid`` does).

Why a removed VMA is never returned, even under concurrent writers: a miss
reads ``seq`` *before* it asks X, and the slot it fills is tagged with that
value (the slots' ``seq`` is only set when they are flushed, before any fill).
If a writer removes the VMA after X answered but before the fill, the writer
bumps ``seq`` before ``remove()`` returns, so the stale fill carries an old
tag and the next lookup flushes it instead of serving it.  A hit reads the
current ``seq`` and serves only slots filled under that very value, i.e.
VMAs present while no mutation has completed since.

Layout
------
::

    VMACacheIndex ----------> inner X (any VMAIndex; shares its _mutex)
      _tls (threading.local)
        .c --> _ThreadCache   (one per thread per front end)
                 seq    : int             tag of the slots
                 slots  : [VMA|EMPTY] * 4 slot = (addr >> PMD_SHIFT) % 4
                 hits, misses, flushes    touched by the owner thread only
      _caches : [_ThreadCache, ...]       every thread's counters, summed by stats()

``find``/``lookup`` probe the slots starting at the hashed one (a hit needs
``start <= addr < end``); on a miss they ask X and store the answer in the
hashed slot.  Every other method delegates to X.

API
---
``VMACacheIndex(inner, *, slots=4, hash="pmd", lock=None)`` (registry front
end ``vmacache``, e.g. ``make_index("vmacache+rbtree")``); ``hash="page"`` is
the 3.15 ``PAGE_SHIFT`` variant.  ``stats()`` adds ``cache_calls``,
``cache_hits``, ``cache_flushes``, ``hit_rate``, ``cache_slots``,
``cache_threads``; ``cache_stats()`` returns only those; ``flush_cache()``
invalidates every thread's slots; ``inner`` is X.  ``bulk_load`` and
``write_stats`` are X's; ``dup()`` is a fresh front end (empty caches, the same
slots and hash, a fresh lock of the same kind) over ``X.dup()``, as a forked
child starts with an empty ``vmacache``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from structures.base import VMAIndex
from structures.vma import PAGE_SHIFT, PMD_SHIFT, TASK_SIZE, VMA, InvariantError, validate_addr

__all__ = ["HASH_SHIFTS", "VMACacheIndex"]

#: ``hash=`` option -> the address shift of the slot hash.
HASH_SHIFTS: dict[str, int] = {"pmd": PMD_SHIFT, "page": PAGE_SHIFT}


class _Empty:
    """An empty slot: contains no address, so a probe needs no ``is None`` test
    (the 4-slot miss scan: 0.64 -> 0.46 us under load, 28% less)."""

    __slots__ = ()
    start = TASK_SIZE + 1
    end = 0

    def __repr__(self) -> str:
        return "<empty slot>"


_EMPTY: Any = _Empty()


class _ThreadCache:
    """One thread's slots and counters (only its owner thread writes them)."""

    __slots__ = ("flushes", "hits", "misses", "seq", "slots", "thread")

    def __init__(self, nslots: int, seq: int) -> None:
        self.thread = threading.current_thread()
        self.slots: list[VMA] = [_EMPTY] * nslots
        self.seq = seq
        self.hits = 0
        self.misses = 0  # calls = hits + misses (one counter bump per call)
        self.flushes = 0


class VMACacheIndex(VMAIndex):
    """Per-thread VMA cache in front of another index (``vmacache+X``)."""

    name = "vmacache"
    description = "per-thread 4-slot VMA cache with a sequence number, in front of any backend"

    def __init__(self, inner: VMAIndex, *, slots: int = 4, hash: str = "pmd", lock: object = None) -> None:
        if not isinstance(inner, VMAIndex):
            raise TypeError(f"vmacache needs a VMAIndex to wrap, got {type(inner).__name__}")
        if type(slots) is not int or slots < 1:
            raise ValueError(f"slots must be a positive int, got {slots!r}")
        if hash not in HASH_SHIFTS:
            raise ValueError(f"hash must be one of {sorted(HASH_SHIFTS)}, got {hash!r}")
        super().__init__(lock=lock)
        self._inner = inner
        # One writer mutex for both layers: base-class paths that lock
        # self._mutex and call a primitive below are serialized with X's own.
        self._mutex = inner.writer_mutex
        # One sequence number for the whole stack: X's base-class mutators bump it
        # (a front end over a front end shares the innermost one the same way).
        self.seqnum = inner.seqnum
        self._raw = inner.primitives
        self.lockless_reads = inner.lockless_reads  # type: ignore[misc]
        self.name = f"vmacache+{inner.name}"  # type: ignore[misc]
        self._nslots = slots
        self._shift = HASH_SHIFTS[hash]
        self.hash = hash
        self._tls = threading.local()
        self._caches: list[_ThreadCache] = []
        self._caches_lock = threading.Lock()
        self._retired = [0, 0, 0]  # hits, misses, flushes of threads that have exited

    @property
    def inner(self) -> VMAIndex:
        return self._inner

    # ------------------------------------------------------------------
    # the cache
    # ------------------------------------------------------------------
    def _thread_cache(self) -> _ThreadCache:
        c = _ThreadCache(self._nslots, -1)
        with self._caches_lock:
            # fold the counters of exited threads (nobody writes them any more) and
            # drop their caches, so a program that starts threads forever stays bounded
            live = []
            for old in self._caches:
                if old.thread.is_alive():
                    live.append(old)
                else:
                    self._retired[0] += old.hits
                    self._retired[1] += old.misses
                    self._retired[2] += old.flushes
            live.append(c)
            self._caches = live
        self._tls.c = c
        return c

    def _flush(self, c: _ThreadCache, seq: int) -> None:
        """vmacache_valid(): the index changed since the slots were filled."""
        c.slots[:] = [_EMPTY] * self._nslots
        c.seq = seq
        c.flushes += 1

    def lookup(self, addr: int) -> VMA | None:
        """The VMA containing ``addr`` (``vma_lookup``), through this thread's cache."""
        if type(addr) is not int:
            validate_addr(addr)  # raises (bool, float, ...); the range is checked on a miss:
            # no cached VMA contains an address outside [0, TASK_SIZE)
        # The slot probe is written out here and in find() (a shared helper
        # cost ~0.1 us of a ~0.3 us hit, pyperf at 10k VMAs); the hashed slot
        # is tried first, then all of them (a VMA sits in at most one epoch, so
        # any containing slot is the answer).
        try:
            c = self._tls.c
        except AttributeError:
            c = self._thread_cache()
        seq = self.seqnum.value  # read once, BEFORE any query of X
        slots = c.slots
        h = (addr >> self._shift) % self._nslots
        if c.seq == seq:
            v = slots[h]
            if v.start <= addr < v.end:
                c.hits += 1
                return v
            for v in slots:
                if v.start <= addr < v.end:
                    c.hits += 1
                    return v
        else:
            self._flush(c, seq)
        if addr < 0 or addr >= TASK_SIZE:
            validate_addr(addr)
        c.misses += 1
        # X's primitive under X's locking rule, no second validation
        if self.lockless_reads:
            v = self._raw.lookup(addr)
        else:
            with self._mutex:
                v = self._raw.lookup(addr)
        # Fill only slots still tagged with the seq read before X answered (a
        # writer that removed v after X answered has bumped seq: the next call
        # flushes this fill instead of serving it).
        if v is not None and c.seq == seq:
            slots[h] = v
        return v

    def find(self, addr: int) -> VMA | None:
        """First VMA with ``end > addr`` (``find_vma``), through this thread's cache."""
        if type(addr) is not int:
            validate_addr(addr)
        try:
            c = self._tls.c
        except AttributeError:
            c = self._thread_cache()
        seq = self.seqnum.value
        slots = c.slots
        h = (addr >> self._shift) % self._nslots
        if c.seq == seq:
            v = slots[h]
            if v.start <= addr < v.end:
                c.hits += 1
                return v
            for v in slots:
                if v.start <= addr < v.end:
                    c.hits += 1
                    return v
        else:
            self._flush(c, seq)
        if addr < 0 or addr >= TASK_SIZE:
            validate_addr(addr)
        c.misses += 1
        if self.lockless_reads:
            v = self._raw.find(addr)
        else:
            with self._mutex:
                v = self._raw.find(addr)
        if v is not None and c.seq == seq:
            slots[h] = v  # may not contain addr: harmless, a hit needs start <= addr
        return v

    def flush_cache(self) -> None:
        """Invalidate every thread's slots (each flushes lazily on its next lookup)."""
        # A sequence bump without a mutation: every tag goes stale at once.
        with self._mutex:
            self.seqnum.bump()

    def cache_stats(self) -> dict[str, Any]:
        """Calls, hits and flushes summed over every thread, and the hit rate."""
        with self._caches_lock:
            caches = list(self._caches)
            r_hits, r_misses, r_flushes = self._retired
        hits = r_hits + sum(c.hits for c in caches)
        calls = hits + r_misses + sum(c.misses for c in caches)
        flushes = r_flushes + sum(c.flushes for c in caches)
        return {
            "cache_calls": calls,
            "cache_hits": hits,
            "cache_flushes": flushes,
            "hit_rate": hits / calls if calls else 0.0,
            "cache_slots": self._nslots,
            "cache_hash": self.hash,
            "cache_threads": len(caches),
        }

    # ------------------------------------------------------------------
    # everything else delegates to X (which validates and locks)
    # ------------------------------------------------------------------
    def find_prev(self, addr: int) -> VMA | None:
        return self._inner.find_prev(addr)

    def intersection(self, start: int, end: int) -> VMA | None:
        return self._inner.intersection(start, end)

    def overlapping(self, start: int, end: int) -> list[VMA]:
        return self._inner.overlapping(start, end)

    def find_gap(self, length: int, low: int = 0, high: int = TASK_SIZE, top_down: bool = False) -> int | None:
        return self._inner.find_gap(length, low, high, top_down)

    def probe(self, addr: int) -> int:
        return self._inner.probe(addr)

    def __iter__(self) -> Iterator[VMA]:
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)

    def insert(self, vma: VMA) -> None:
        self._inner.insert(vma)

    def remove(self, vma: VMA) -> None:
        self._inner.remove(vma)

    def replace(self, old: Iterable[VMA], new: Iterable[VMA]) -> None:
        self._inner.replace(old, new)

    def clear(self) -> None:
        self._inner.clear()

    def bulk_load(self, vmas: Iterable[VMA]) -> None:
        self._inner.bulk_load(vmas)  # bumps the shared seqnum: every thread's slots go stale

    def dup(self) -> VMAIndex:
        return VMACacheIndex(self._inner.dup(), slots=self._nslots, hash=self.hash, lock=type(self.lock)())

    def write_stats(self, reset: bool = False) -> dict[str, int]:
        return self._inner.write_stats(reset)

    def check(self) -> None:
        self._inner.check()
        with self._caches_lock:
            caches = list(self._caches)
        for i, c in enumerate(caches):
            if len(c.slots) != self._nslots:
                raise InvariantError(f"vmacache: thread cache #{i} has {len(c.slots)} slots, not {self._nslots}")
            for j, v in enumerate(c.slots):
                if v is not _EMPTY and type(v) is not VMA:
                    raise InvariantError(f"vmacache: thread cache #{i} slot {j} holds {v!r}")
            if min(c.hits, c.misses, c.flushes) < 0:
                raise InvariantError(f"vmacache: thread cache #{i} has a negative counter")

    def stats(self) -> dict[str, Any]:
        st = dict(self._inner.stats())
        st.update(self.cache_stats())
        return st

    def __repr__(self) -> str:
        return f"<VMACacheIndex {self.name!r} vmas={len(self)}>"

    # ------------------------------------------------------------------
    # primitives: X's, for base-class paths (called with the shared mutex
    # held, or none when X's readers are lockless); the base class bumps the
    # shared seqnum after each mutation, as it does for X
    # ------------------------------------------------------------------
    def _insert(self, vma: VMA) -> None:
        self._raw.insert(vma)

    def _remove(self, vma: VMA) -> None:
        self._raw.remove(vma)

    def _find(self, addr: int) -> VMA | None:
        return self._raw.find(addr)

    def _lookup(self, addr: int) -> VMA | None:
        return self._raw.lookup(addr)

    def _find_prev(self, addr: int) -> VMA | None:
        return self._raw.find_prev(addr)

    def _iter_from(self, addr: int) -> Iterator[VMA]:
        return self._raw.iter_from(addr)

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        return self._raw.batch_from(addr, n)

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        return self._raw.overlapping(start, end)

    def _intersection(self, start: int, end: int) -> VMA | None:
        return self._raw.intersection(start, end)

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        return self._raw.find_gap(length, low, high, top_down)

    def _len(self) -> int:
        return self._raw.len()

    def _clear(self) -> None:
        self._raw.clear()

    def _check(self) -> None:
        self._raw.check()

    def _probe(self, addr: int) -> int:
        return self._raw.probe(addr)

    def _stats(self) -> dict[str, Any]:
        return self._raw.stats()
