"""``RangeListLock``: the list-based range lock (Kogan, Dice & Issa 2020), sharded, FIFO among conflicts.

Invariant
---------
The address space is cut into regions of ``R = 2**region_shift`` bytes
(default 2 MiB, ``PMD_SHIFT``), offset by one byte: byte ``x`` is in region
``(x + 1) >> region_shift``, region ``r`` spans ``[r R - 1, (r + 1) R - 1)``
(why: below).  Region ``r`` belongs to shard ``h(r) = (r ^ r >> 5 ^ r >> 9) &
(shards - 1)`` (consecutive 2 MiB regions, 64 MiB strides and 1 GiB strides
all land in different shards).  A request ``[start, end)`` has one
*part* — a list node carrying the whole ``[start, end)`` — in the shard of
every region it meets (in every shard once it meets ``shards`` regions).
Each shard is one singly linked list, sorted by ``start``, of the parts of the
*live* requests (granted or waiting), hanging from the shard's head.  Each
part has the shard's arrival number ``seq``, taken in the same step that
links it (so every linked part has its ``seq``), and::

    conflict(p, q)  == overlap(p, q) and (p.write or q.write)
    blockers(p)     == { q linked in p's shard : q.seq < p.seq and conflict(p, q) }

A part is *through* when ``blockers(p)`` is empty; a request is granted when
all its parts are through, taken one shard at a time in ascending shard order
(the part in the next shard is linked once the previous one is through).
Released and withdrawn parts are marked and unlinked in one step, so the
lists hold exactly the live requests: an idle lock's lists are empty, after
any number of acquisitions.  A request sleeps (``gate`` set) only while it is
on the ``waiters`` of one of its blockers, which wakes it when it leaves or
downgrades; the waker clears ``gate`` (no lost wake-up: ``check()``).

Cheat mode (FreeBSD's ``kern_rangelock.c`` has one; this is a stricter
form of it): a new lock starts *cheating*.  A request that finds it empty
is granted at once, without a part in any list: it is the *lone* request,
kept beside the lists.  The next request to arrive while the lone one is
still held -- any mode, any range, any thread -- *inflates* the lock: under
the cheat lock it links the lone request into the (empty) lists as a
granted part of every shard it meets, with the first arrival number there,
and turns cheating off for good; then it takes its own part as any request
does.  Nothing ever waits in cheat mode, so no rule below changes: the lone
request arrived before everything that meets it in a list, and a thread
holding one range that asks for a second one only inflates the lock
(FreeBSD's cheat mode drains instead, and such a thread would wait for
itself).  Until the first overlap in time every acquisition passes through
the cheat lock; after it, one attribute load more.  The lock never goes
back to cheating: knowing that every list is empty again would take every
shard's lock.

Fairness, exactly: within a shard, conflicting requests are granted in arrival
(``seq``) order — a request waits for every earlier conflicting request of
the shard, granted or still waiting, and for nothing else.  So readers share
with readers, a writer waits only for the requests that arrived before it
(readers arriving after a waiting writer queue behind it: no writer starves
under a stream of readers, no reader under a stream of writers), disjoint
ranges never wait, and a full-range request behaves as a FIFO rwsem.  This is
FIFO among conflicting requests, as Bueso's ``RangeLock`` grants, with one
departure: a request spanning shards arrives in shard ``k`` only once it is
through every lower shard, so a conflicting request that arrives in shard
``k`` in between is ordered before it there although it arrived at the lock
later.  That is safe: the overtakers in shard ``k`` are only those already
there when the spanning request arrives (bounded, no starvation), and the
wait-for graph stays acyclic — an edge goes to a lower ``seq`` in the same
shard or to a request waiting in a higher shard — so there is no deadlock.
(The paper's lock, and FreeBSD's, make no FIFO promise: a waiter restarts its
insertion once its conflict leaves and may be overtaken any number of times.)

Without the GIL (DESIGN §10) this relies on single attribute loads and stores
being atomic and on ``threading.Lock``, nothing else.  Each compare-and-set of
the paper — linking after ``pred``, and marking + unlinking a part — is one
short critical section under the lock of its shard's head (``lk``), which
also issues the shard's arrival numbers and guards ``waiters``/``gate``.
Nothing else is locked: the insertion walk and the blocker scan read the
list without a lock (``next`` of an unlinked part stays as it was when it was
unlinked, so a walk never loses a part that stayed linked, and a part linked
before the scanner's ticket was issued was linked before its scan began).
Once the lock has inflated there is no lock that every acquisition passes
through: an acquisition takes its shard's head lock twice (link, unlink), a
request spanning shards once per part and shard.

Measured choices (pyperf, 2-core AMD EPYC VM shared with other jobs, so
+-30 %; CPython 3.11 / 3.13.15t with the GIL off; ``vmalab bench --suite
rangelock`` has the lock-level numbers):

* emulated CAS, not a real atomic: ``cereggii`` imports and works here (its
  3.13t wheel), and its ``AtomicRef.compare_and_set`` is cheaper than a
  lock-emulated one (100 / 127 ns against 240 / 265 ns with ``with lock:``),
  but a list of atomics needs an atomic per part (allocating one: 102 / 173 ns
  vs no allocation), a wrapper object per release for Harris's mark bit, a
  method call per hop of every walk, and a separate atomic ticket (156 / 205
  ns) with a bakery "choosing" wait between link and ticket.  Emulating each
  shard's CASes with its head's lock does link + ticket in one section: two
  sections per acquisition (~500 ns) against ~690 ns of atomics, and no
  dependency.  A lock per *node* (the lazy list; this module's first
  version) costs a third section (~250 ns) and a ``threading.Lock`` per part
  (71 / 111 ns) for nothing, because the FIFO ticket already sends every
  acquisition through its head's lock.
* FIFO tickets (the paper has none): Bueso's lock, which this one stands in
  for, promises FIFO among conflicting ranges; the ticket costs nothing but
  one store, as it shares the link's critical section.
* shards (the paper has one list): on the free-threaded build every object
  that two threads touch per operation costs scaling (DESIGN §10); with one
  list, every acquisition links after the same head.  With shards, threads in
  different regions share only the lock object and its tuple of heads.  The
  price: a request meeting ``k`` regions costs ``k`` parts (a full-range one,
  ``shards`` parts: ~10x an rwsem's full-range acquisition at 8 shards).
* regions offset by one byte: the ``range`` policy locks a window one byte
  wider than a mapping on each side (``[s - 1, e + 1)``, to meet the
  neighbours it may merge with), so with plain ``[r R, (r + 1) R)`` regions
  every ``mmap`` at a region boundary — a thread's arena, a THP-aligned
  buffer — also took a part in its lower neighbour's shard (counted in the
  ``wis`` page_fault1/malloc1 and ``threaded`` mm runs: every mmap, one
  acquisition in 66 of page_fault1, took two shards, the second one another
  thread's).  Offset, such windows stay in one region; what pays instead is a
  fault on the last page of a region (one page in 512: two shards).
* eager unlinking (the paper's walks unlink marked nodes lazily): the
  releaser marks and unlinks its part in one section — two stores more under
  a lock it takes anyway — so the lists hold only live requests, and no walk
  ever pays for a dead node or for unlinking someone else's.
* cheat mode (FreeBSD's, made stricter: the lone request inflates rather than
  drains): acquire_write + release of one page on an empty lock 1.67 -> 1.22
  us on 3.11 and 3.44 -> 2.71 us on 3.13t with the GIL off (timeit, best of
  15 x 20,000; the rwsem 1.24 / 2.79, Bueso's tree lock, whose lone request is
  parked beside its tree, 1.21 / 2.81).  A lock that only ever has one
  request at a time in it pays that on every acquisition (``wis`` at one
  thread; ``brk1`` at every thread count, whose break mutex admits one
  request at a time; not the mm experiment, whose fault and mapper threads
  inflate it at once); after the inflation, one attribute load.
  ``RangeListLock(cheat=False)`` starts in list mode.
* with ``with lock:`` rather than ``acquire()``/``release()`` (about 100 ns
  cheaper per section on 3.11): a ``KeyboardInterrupt`` between the two would
  leave a head locked and wedge its shard; ``with`` leaves no such window.

Layout
------
::

    RangeListLock
      _cheating, _lone, _cheat_lk             cheat mode: the lone request, in no list
      _shards: (head_0, ..., head_{K-1})      K = shards, a power of two
                 |
    head_k  [ lk | next | ticket | entered failed contended timeouts wait_time max_wait ]
              |     |
              |     v
              |   +----------------------------------+      +-------------+
              |   | part (a LockHandle)              | next | part        |
              |   |   start, end  [start, end)       |----->| start >= the|--> None
              |   |   write       (downgrade clears) |      | one before  |
              |   |   seq         arrival in shard   |      +-------------+
              |   |   state       waiting / granted  |
              |   |   marked      left (unlinked)    |
              |   |   waiters     handles asleep on  |
              |   |               it (their gate set)|
              |   |   parts       None, or all parts |
              |   |               of a spanning req. |
              |   |               (handle = parts[0])|
              |   +----------------------------------+
              +-- guards: next of every part of the shard (link/unlink), ticket, waiters, gate, counters

    acquire:  walk (no lock) to pred; lk: check pred.next, link, seq = ticket++;
              scan (no lock) for the first blocker; none: through; else lk: put
              the handle on the blocker's waiters (gate set); sleep; scan again
    release:  per part: walk to pred; lk: mark, unlink, wake the waiters

API
---
``RangeListLock(shards=8, region_shift=21, cheat=True)`` with the ``LockBase`` API:
``read``, ``write``, ``acquire_read``, ``acquire_write`` (``timeout``,
``blocking``), ``try_read``, ``try_write``, ``release``, ``downgrade``,
``stats``, ``check``; ``len(lock)`` = live requests; ``held()``,
``waiting()``, ``ranges()`` for tests and the torture command (those, and
``check()``, in ``structures.locks.rangelist_view``).
"""

from __future__ import annotations

import threading
from time import monotonic

from structures.locks.api import ABANDONED, GRANTED, RELEASED, WAITING, LockBase, LockHandle, closed_gate
from structures.locks.rangelist_view import RangeListIntrospection, shard_of
from structures.vma import PMD_SHIFT, InvalidRangeError

__all__ = ["DEFAULT_REGION_SHIFT", "DEFAULT_SHARDS", "RangeListLock"]

#: log2 of the region size: 2 MiB, the kernel's PMD_SHIFT (the vmacache hashes on it too)
DEFAULT_REGION_SHIFT = PMD_SHIFT
#: shards (a power of two): a full-range request has a part in each
DEFAULT_SHARDS = 8

_new_lock = threading.Lock


class _Head:
    """A shard: the sentinel its list hangs from, its ticket, and its counters (all under ``lk``)."""

    __slots__ = (
        "contended", "entered", "failed", "index", "lk", "marked", "max_wait", "next", "start", "ticket",
        "timeouts", "wait_time",
    )  # fmt: skip

    def __init__(self, index: int) -> None:
        self.index = index
        self.next: _Node | None = None
        self.lk = _new_lock()
        self.marked = False  # a head is never unlinked; the field lets a head stand where a predecessor may
        self.start = -1
        self.ticket = 1  # the next arrival number
        self.entered = 0  # requests whose first part was linked here
        self.failed = 0  # of those, the ones never granted (try, timeout, interrupt)
        self.contended = 0
        self.timeouts = 0
        self.wait_time = 0.0
        self.max_wait = 0.0


class _Node(LockHandle):
    """One part of a request in one shard's list; a single-shard request's handle is its only part."""

    __slots__ = ("head", "marked", "next", "parts", "waiters")
    next: _Node | None  # set by the link, before the part is published

    def __init__(self, owner: RangeListLock, write: bool, start: int, end: int, head: _Head) -> None:
        # Only the slots read before the part is linked: ``next`` and ``seq`` are set by the link,
        # ``gate`` by a wait, ``blocking`` is unused here (LockHandle.__init__ skipped: one call less).
        # 9 stores instead of 13: 350 -> 290 ns per part (timeit, CPython 3.11)
        self.owner = owner
        self.write = write
        self.start = start
        self.end = end
        self.state = WAITING
        self.head = head
        self.marked = False
        self.parts: tuple[_Node, ...] | None = None
        self.waiters: list[_Node] | None = None


# ----------------------------------------------------------------------
# the list operations (module functions: one attribute lookup less per call)
# ----------------------------------------------------------------------
def _enter(head: _Head, node: _Node, first: int) -> _Node | None:
    """Link ``node`` (with its arrival number) and return its first blocker, or ``None``.

    When nothing in the shard started at or before ``node``, the parts that
    arrived before it are the one it was linked in front of and those after
    it: the scan starts there (on an empty shard, there is no scan at all).
    """
    start = node.start
    hlk = head.lk
    while True:
        pred: _Head | _Node = head
        cur = head.next
        while cur is not None and cur.start <= start:
            pred = cur
            cur = cur.next
        with hlk:  # compare-and-set of pred.next, and the ticket
            if pred.next is cur and not pred.marked:
                node.next = cur
                node.seq = seq = head.ticket
                head.ticket = seq + 1
                head.entered += first
                pred.next = node
                break
    if pred is head:
        return None if cur is None or cur.start >= node.end else _first_blocker_from(cur, node)
    return _first_blocker(head, node)


def _first_blocker(head: _Head, node: _Node) -> _Node | None:
    """The first linked part of ``node``'s shard that arrived before it and conflicts with it, or ``None``.

    No lock: a part linked before ``node`` took its ticket was linked before this
    walk began, so the walk meets it unless it has left (marked and unlinked).
    """
    start, end, write, seq = node.start, node.end, node.write, node.seq
    cur = head.next
    while cur is not None:
        if cur.start >= end:
            return None
        if cur.seq < seq and cur.end > start and (write or cur.write) and not cur.marked:
            return cur
        cur = cur.next
    return None


def _first_blocker_from(cur: _Node | None, node: _Node) -> _Node | None:
    """``_first_blocker`` walking from ``cur`` (every part ahead of it started after ``node``)."""
    start, end, write, seq = node.start, node.end, node.write, node.seq
    while cur is not None:
        if cur.start >= end:
            return None
        if cur.seq < seq and cur.end > start and (write or cur.write) and not cur.marked:
            return cur
        cur = cur.next
    return None


def _unlink(head: _Head, node: _Node) -> bool:
    """Mark ``node`` and unlink it in one step, then open the gates of the requests asleep on it.

    ``False`` (nothing changed) when ``node`` is not linked in this shard.
    """
    start = node.start
    hlk = head.lk
    while True:
        pred: _Head | _Node = head
        cur = head.next
        while cur is not node:
            if cur is None or cur.start > start:
                return False
            pred = cur
            cur = cur.next
        with hlk:  # compare-and-set of pred.next, with node marked in the same step (the walk found pred)
            if node.marked:
                return False
            if pred.next is node and not pred.marked:
                node.marked = True
                pred.next = node.next
                waiters = node.waiters
                if waiters is not None:
                    node.waiters = None
                    _open(waiters)
                return True


def _open(waiters: list[_Node]) -> None:
    """Wake the requests asleep on a part (its head's lock held, so ``gate`` set = asleep, exactly)."""
    for handle in waiters:
        gate = handle.gate
        handle.gate = None
        if gate is not None:
            gate.release()


def _register(blocker: _Node, node: _Node, handle: _Node, gate: threading.Lock) -> bool:
    """Put ``handle`` (asleep on ``gate``) on ``blocker``'s waiters, unless it no longer blocks ``node``."""
    with blocker.head.lk:
        if blocker.marked or not (node.write or blocker.write):
            return False
        handle.gate = gate
        waiters = blocker.waiters
        if waiters is None:
            blocker.waiters = [handle]
        else:
            waiters.append(handle)
        return True


def _unregister(blocker: _Node, handle: _Node) -> None:
    """Take an awake ``handle`` off ``blocker``'s waiters (if its waker has not already)."""
    with blocker.head.lk:
        handle.gate = None
        waiters = blocker.waiters
        if waiters is not None and handle in waiters:
            waiters.remove(handle)


class RangeListLock(RangeListIntrospection, LockBase):
    """List-based range reader/writer lock: no lock shared by every acquisition, FIFO among conflicts."""

    ranged = True
    _part_type = _Node

    def __init__(
        self, shards: int = DEFAULT_SHARDS, region_shift: int = DEFAULT_REGION_SHIFT, cheat: bool = True
    ) -> None:
        if type(shards) is not int or shards < 1 or shards & (shards - 1):
            raise InvalidRangeError(f"shards={shards!r} must be a power of two")
        if type(region_shift) is not int or not 12 <= region_shift <= 47:
            raise InvalidRangeError(f"region_shift={region_shift!r} must be an int in [12, 47]")
        if type(cheat) is not bool:
            raise InvalidRangeError(f"cheat={cheat!r} must be a bool")
        super().__init__()  # LockBase's _mutex is never taken here; _stats stays unused (counters are per shard)
        self._shards = tuple(_Head(i) for i in range(shards))
        self._mask = shards - 1
        self._shift = region_shift
        self._cheating = cheat  # True -> False once, under _cheat_lk (the module docstring)
        self._cheat_lk = _new_lock()  # guards _cheating's change, _lone and _cheat_entered
        self._lone: _Node | None = None  # the request granted in cheat mode, in no list
        self._cheat_entered = 0  # requests granted in cheat mode

    @property
    def shards(self) -> int:
        return len(self._shards)

    @property
    def region_shift(self) -> int:
        return self._shift

    # ------------------------------------------------------------------
    # acquire
    # ------------------------------------------------------------------
    def _acquire(self, write: bool, start: int, end: int, blocking: bool, timeout: float | None) -> LockHandle | None:
        if self._cheating:  # cheat mode (written out: as a method, 1.41 us on 3.11 against 1.22)
            # acquire_write + release of one page on an empty lock (timeit, best of 15 x 20,000):
            # 1.67 -> 1.22 us on 3.11, 3.44 -> 2.71 us on 3.13t with the GIL off (rwsem: 1.24, 2.79)
            with self._cheat_lk:
                if self._cheating:
                    lone = self._lone
                    if lone is None:  # the lock is empty: the lone request, in no list
                        node = _Node(self, write, start, end, None)  # type: ignore[arg-type]
                        node.seq = 0
                        node.state = GRANTED
                        self._lone = node
                        self._cheat_entered += 1
                        return node
                    self._inflate(lone)  # the first overlap in time: list mode for good
        shift = self._shift
        region = (start + 1) >> shift  # regions are offset by one byte (the module docstring says why)
        if region != end >> shift:
            return self._acquire_parts(write, start, end, region, end >> shift, blocking, timeout)
        # the common case: one region, one shard, one part; _link and the scan inlined
        head = self._shards[(region ^ (region >> 5) ^ (region >> 9)) & self._mask]
        node = _Node(self, write, start, end, head)
        pred: _Head | _Node = head
        cur = head.next
        while cur is not None and cur.start <= start:
            pred = cur
            cur = cur.next
        with head.lk:
            if pred.next is cur and not pred.marked:
                node.next = cur
                node.seq = seq = head.ticket
                head.ticket = seq + 1
                head.entered += 1
                pred.next = node
                linked = True
            else:
                linked = False
        if not linked:  # the list changed under the walk: the general path
            blocker = _enter(head, node, 1)
        elif pred is head:
            # nothing started at or before us: the earlier parts are cur and those after it
            blocker = None if cur is None or cur.start >= end else _first_blocker_from(cur, node)
        else:
            blocker = _first_blocker(head, node)
        if blocker is None:
            node.state = GRANTED
            return node
        return self._contended((node,), 0, blocker, blocking, timeout)

    def _inflate(self, lone: _Node) -> None:
        """Link the lone request into the empty lists, granted, in ascending shard order, and
        stop cheating for good (the cheat lock held; nothing is linked anywhere yet).

        ``lone.head`` is stored last, once every part is linked: its holder, releasing or
        downgrading meanwhile, sees ``head is None`` and waits for the cheat lock, so it
        never finds a part of its request not linked yet."""
        shift = self._shift
        heads = self._heads_of((lone.start + 1) >> shift, lone.end >> shift)
        if len(heads) > 1:
            parts = (lone, *(_Node(self, lone.write, lone.start, lone.end, h) for h in heads[1:]))
            for part in parts:
                part.parts = parts
                part.state = GRANTED
        else:
            parts = (lone,)
        for part, head in zip(parts, heads, strict=True):
            blocker = _enter(head, part, 0)  # counted in _cheat_entered, not again in the shard
            if blocker is not None:  # (not reached: the lists were empty) a broken invariant, said loudly
                raise RuntimeError(f"range-list: inflating {lone!r} met {blocker!r} in a list that was empty")
        lone.head = heads[0]
        self._lone = None
        self._cheating = False

    def _acquire_parts(
        self, write: bool, start: int, end: int, first: int, last: int, blocking: bool, timeout: float | None
    ) -> LockHandle | None:
        """A request meeting several regions: one part per shard, taken in ascending shard order."""
        parts = tuple(_Node(self, write, start, end, h) for h in self._heads_of(first, last))
        for part in parts:
            part.parts = parts
            part.seq = 0  # not linked yet
        for k, part in enumerate(parts):
            blocker = _enter(part.head, part, 1 if k == 0 else 0)  # the request counts in its first shard
            if blocker is not None:
                return self._contended(parts, k, blocker, blocking, timeout)
        for part in parts:
            part.state = GRANTED
        return parts[0]

    def _heads_of(self, first: int, last: int) -> tuple[_Head, ...]:
        """The heads of the shards of regions ``first..last``, in ascending shard order (the lock order)."""
        shards = self._shards
        if last - first + 1 >= len(shards):
            return shards
        mask = self._mask
        return tuple(shards[i] for i in sorted({shard_of(r, mask) for r in range(first, last + 1)}))

    def _contended(
        self, parts: tuple[_Node, ...], k: int, blocker: _Node | None, blocking: bool, timeout: float | None
    ) -> LockHandle | None:
        """Part ``k`` met ``blocker``: wait (or give up), then take the parts after it the same way.

        Leaving early never leaves a trace: every linked part is unlinked (which
        wakes whoever waits on it) and the request is counted in ``failed``
        (and in ``timeouts`` when it gave up while blocked).  A timeout that
        fires after the last blocker left keeps the grant; an exception while
        asleep is re-raised after the request withdrew.
        """
        handle = parts[0]
        if not blocking:
            self._withdraw(parts, k, timed_out=False)
            return None
        deadline = None if timeout is None else monotonic() + timeout
        t0 = monotonic()
        slept = False
        try:
            while True:
                part = parts[k]
                while blocker is not None:  # sleep on a fresh gate registered on each blocker in turn
                    gate = closed_gate()
                    if _register(blocker, part, handle, gate):
                        if not slept:
                            slept = True
                            self._count(handle, contended=1)
                        opened = gate.acquire(True, -1 if deadline is None else max(0.0, deadline - monotonic()))
                        if not opened:
                            _unregister(blocker, handle)
                            if _first_blocker(part.head, part) is not None:
                                self._withdraw(parts, k, timed_out=True)
                                self._count(handle, waited=monotonic() - t0)
                                return None
                    blocker = _first_blocker(part.head, part)
                k += 1
                if k == len(parts):
                    break
                part = parts[k]
                blocker = _enter(part.head, part, 0)
        except BaseException:  # interrupted while waiting: leave no trace, then re-raise
            if blocker is not None:
                _unregister(blocker, handle)
            k = min(k, len(parts) - 1)
            part = parts[k]
            still_blocked = part.seq != 0 and _first_blocker(part.head, part) is not None
            self._withdraw(parts, k, timed_out=still_blocked)
            raise
        for part in parts:
            part.state = GRANTED
        if slept:
            self._count(handle, waited=monotonic() - t0)
        return handle

    def _withdraw(self, parts: tuple[_Node, ...], k: int, timed_out: bool) -> None:
        """Unlink parts ``k, k-1, ..., 0`` (those linked so far) and count a request never granted."""
        handle = parts[0]
        for part in reversed(parts[: k + 1]):
            if part.seq:  # linked
                _unlink(part.head, part)
            part.state = ABANDONED
        self._count(handle, failed=1, timeouts=int(timed_out))

    @staticmethod
    def _count(handle: _Node, *, contended: int = 0, failed: int = 0, timeouts: int = 0, waited: float = 0.0) -> None:
        """Slow-path counters, kept in the shard of the request's first part (under its head's lock)."""
        counters = handle.head
        with counters.lk:
            counters.contended += contended
            counters.failed += failed
            counters.timeouts += timeouts
            counters.wait_time += waited
            if waited > counters.max_wait:
                counters.max_wait = waited

    # ------------------------------------------------------------------
    # release / downgrade
    # ------------------------------------------------------------------
    def release(self, handle: LockHandle) -> None:
        """Release a granted handle (``RuntimeError``, changing nothing, if this lock does not hold it)."""
        if type(handle) is not _Node or handle.owner is not self or handle.state is not GRANTED:
            raise RuntimeError(f"release of a lock handle that is not held: {handle!r}")
        if handle.head is None:  # the lone request, unless an inflation has just linked it
            with self._cheat_lk:
                if self._lone is handle:
                    self._lone = None
                    handle.state = RELEASED
                    return
        parts = handle.parts
        if parts is None:
            head = handle.head
            with head.lk:  # the first part of its shard: unlink without a walk (_unlink inlined)
                first = head.next is handle and not handle.marked
                if first:
                    handle.marked = True
                    head.next = handle.next
                    waiters = handle.waiters
                    if waiters is not None:
                        handle.waiters = None
                        _open(waiters)
            if not first and not _unlink(head, handle):
                raise RuntimeError(f"release of a lock handle that is not held: {handle!r}")
            handle.state = RELEASED
            return
        for part in reversed(parts):
            if not _unlink(part.head, part):
                raise RuntimeError(f"release of a lock handle that is not held: {handle!r}")
        for part in parts:
            part.state = RELEASED

    def downgrade(self, handle: LockHandle) -> None:
        """Turn a held write handle into a read handle, waking the requests only its writing blocked."""
        if type(handle) is not _Node:
            raise RuntimeError(f"downgrade needs a held write handle, got {handle!r}")
        self._validate_downgrade(handle, _Node)
        if handle.head is None:  # as in release
            with self._cheat_lk:
                if self._lone is handle:  # the lone request: nobody waits behind it
                    handle.write = False
                    return
        for part in handle.parts or (handle,):
            with part.head.lk:
                part.write = False
                waiters = part.waiters
                if waiters is not None:  # each re-scans: readers pass, writers register again
                    part.waiters = None
                    _open(waiters)

    # LockBase's waiting protocol is not used (a waiter here grants itself once its
    # scan finds no blocker); its two hooks leave the same way a timeout does.
    def _release_granted(self, handle: LockHandle) -> None:
        self.release(handle)

    def _withdraw_waiting(self, handle: LockHandle) -> None:
        assert isinstance(handle, _Node), handle
        parts = handle.parts or (handle,)
        self._withdraw(parts, len(parts) - 1, timed_out=True)

    def __repr__(self) -> str:
        occupancy = self._occupancy()
        return (
            f"<RangeListLock shards={len(self._shards)} readers={occupancy['readers']} "
            f"writers={occupancy['writers']} waiting={occupancy['waiting']}>"
        )
