"""``RangeLock``: a range reader/writer lock (Bueso 2019) over an interval tree.

Invariant
---------
Every request — granted *or* waiting — is one node ``[start, last]`` of one
interval tree, guarded by one internal mutex.  Each request carries an
arrival number ``seq`` (strictly increasing) and a ``blocking`` count::

    blocking(r) == #{ q in tree : q.seq < r.seq and conflict(q, r) }
    conflict(q, r) == overlap(q, r) and (q.write or r.write)

and ``r`` is granted exactly when ``blocking(r) == 0``.  Therefore a request
waits only for conflicting requests that arrived *before* it (FIFO among
conflicting ranges, no starvation, no deadlock: the wait-for graph follows
arrival order), and disjoint ranges never wait for each other.  A full-range
lock behaves as a FIFO rwsem.

The count is maintained, never recomputed:

* arrival: count the conflicting overlaps already in the tree, insert;
* leave (release, timeout, interrupt): remove, then decrement every *later*
  overlapping request that conflicted with us — judged with our mode as it is
  now, captured before anything is cleared — waking those that reach zero;
* downgrade (write -> read): later overlapping *readers* counted us only
  because we were a writer: decrement them; later writers still count us.

Layout
------
::

    _mutex ── guards ──> _tree  IntervalTree of nodes [start, last] -> _Request
                         _seq   last arrival number handed out

    _Request(LockHandle)   write start end state seq blocking gate node
        gate: a pre-acquired threading.Lock the waiter sleeps on; whoever
              drops its ``blocking`` to 0 grants it and releases the gate
              (one wake-up per grant: no polling, no broadcast)

API
---
``RangeLock()`` with the ``LockBase`` API: ``read``, ``write``,
``acquire_read``, ``acquire_write``, ``try_read``, ``try_write``,
``release``, ``downgrade``, ``stats``; plus ``held()``, ``waiting()``,
``ranges()`` and ``check()`` for tests and the torture command.
"""

from __future__ import annotations

import threading
from typing import Any

from structures.lib.interval_tree import IntervalTree
from structures.locks.api import ABANDONED, GRANTED, RELEASED, WAITING, LockBase, LockHandle
from structures.vma import InvariantError

__all__ = ["RangeLock"]


class _Request(LockHandle):
    """A lock handle that also remembers its interval-tree node."""

    __slots__ = ("node",)

    def __init__(self, write: bool, start: int, end: int, owner: object = None) -> None:
        # LockHandle's fields, set directly: this is on every acquisition's path
        self.owner = owner
        self.write = write
        self.start = start
        self.end = end
        self.state = WAITING
        self.gate: threading.Lock | None = None
        self.seq = 0
        self.blocking = 0
        self.node: Any = None


class RangeLock(LockBase):
    """Range reader/writer lock: FIFO among conflicting ranges, disjoint ranges run free."""

    ranged = True

    def __init__(self) -> None:
        super().__init__()
        self._tree = IntervalTree()
        self._seq = 0

    # ------------------------------------------------------------------
    # acquire
    # ------------------------------------------------------------------
    def _acquire(self, write: bool, start: int, end: int, blocking: bool, timeout: float | None) -> LockHandle | None:
        h = _Request(write, start, end, self)
        last = end - 1
        with self._mutex:
            tree = self._tree
            n = 0
            if len(tree):
                if write:
                    for _ in tree.overlaps(start, last):
                        n += 1
                else:
                    for node in tree.overlaps(start, last):
                        if node.value.write:
                            n += 1
            if n == 0:
                self._seq += 1
                h.seq = self._seq
                h.node = tree.insert(start, last, h)
                h.state = GRANTED
                self._stats.acquisitions += 1
                return h
            if not blocking:
                return None
            self._seq += 1
            h.seq = self._seq
            h.blocking = n
            h.node = tree.insert(start, last, h)
            self._new_gate(h)
        return self._wait_for_grant(h, timeout)

    # ------------------------------------------------------------------
    # leave / wake (mutex held)
    # ------------------------------------------------------------------
    def _release_granted(self, handle: LockHandle) -> None:
        assert isinstance(handle, _Request)
        self._leave(handle, RELEASED)

    def _withdraw_waiting(self, handle: LockHandle) -> None:
        assert isinstance(handle, _Request)
        self._leave(handle, ABANDONED)

    def _leave(self, h: _Request, state: str) -> None:
        """Remove ``h`` from the tree and unblock the later requests that counted it."""
        was_writer = h.write  # captured first: the judgement below must use the mode they counted
        tree = self._tree
        tree.remove(h.node)
        h.node = None
        h.state = state
        if not len(tree):
            return
        seq = h.seq
        for node in tree.overlaps(h.start, h.end - 1):
            r = node.value
            if r.seq > seq and (was_writer or r.write):
                self._unblock(r)

    @staticmethod
    def _unblock(r: _Request) -> None:
        r.blocking -= 1
        if r.blocking == 0:
            r.state = GRANTED
            assert r.gate is not None
            r.gate.release()

    # ------------------------------------------------------------------
    # release / downgrade
    # ------------------------------------------------------------------
    def release(self, handle: LockHandle) -> None:
        """Release a granted handle (``RuntimeError`` if it is not held)."""
        with self._mutex:
            if (
                not isinstance(handle, _Request)
                or handle.owner is not self
                or handle.state != GRANTED
                or handle.node is None
            ):
                raise RuntimeError(f"release of a lock handle that is not held: {handle!r}")
            self._leave(handle, RELEASED)

    def downgrade(self, handle: LockHandle) -> None:
        """Turn a held write handle into a read handle, waking the readers only our writer-ness blocked."""
        with self._mutex:
            if (
                not isinstance(handle, _Request)
                or handle.owner is not self
                or handle.state != GRANTED
                or not handle.write
            ):
                raise RuntimeError(f"downgrade needs a held write handle, got {handle!r}")
            handle.write = False
            seq = handle.seq
            for node in self._tree.overlaps(handle.start, handle.end - 1):
                r = node.value
                if r.seq > seq and not r.write:
                    self._unblock(r)

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def held(self) -> tuple[int, int]:
        """(granted readers, granted writers)."""
        with self._mutex:
            rd = wr = 0
            for node in self._tree:
                r = node.value
                if r.state == GRANTED:
                    if r.write:
                        wr += 1
                    else:
                        rd += 1
            return rd, wr

    def waiting(self) -> int:
        with self._mutex:
            return sum(1 for node in self._tree if node.value.state == WAITING)

    def ranges(self) -> list[tuple[int, int, bool, str, int]]:
        """Snapshot of every request in the tree: ``(start, end, write, state, blocking)``, tree order."""
        with self._mutex:
            return [(r.start, r.end, r.write, r.state, r.blocking) for r in (n.value for n in self._tree)]

    def __len__(self) -> int:
        """Requests in the tree (granted + waiting); 0 when the lock is idle."""
        with self._mutex:
            return len(self._tree)

    def check(self) -> None:
        """Recompute every request's blocking count from scratch; ``InvariantError`` on a mismatch."""
        with self._mutex:
            self._tree.check()
            self._check_nodes()
            self._check_counts()

    def _check_nodes(self) -> None:
        for node in self._tree:
            r = node.value
            if not isinstance(r, _Request) or r.node is not node:
                raise InvariantError(f"rangelock: node [{node.start:#x}, {node.last:#x}] does not own {r!r}")
            if node.start != r.start or node.last != r.end - 1:
                raise InvariantError(f"rangelock: node [{node.start:#x}, {node.last:#x}] != request {r!r}")
            if r.state not in (GRANTED, WAITING):
                raise InvariantError(f"rangelock: request {r!r} in the tree is {r.state}")

    def _check_counts(self) -> None:
        for node in self._tree:
            r = node.value
            want = sum(
                1
                for q in self._tree.overlaps(r.start, r.end - 1)
                if q.value.seq < r.seq and (q.value.write or r.write)
            )
            if r.blocking != want:
                raise InvariantError(f"rangelock: request {r!r} slot blocking={r.blocking}, recomputed {want}")
            if (r.state == GRANTED) != (want == 0):
                raise InvariantError(f"rangelock: request {r!r} is {r.state} with {want} blockers")

    def stats(self) -> dict[str, Any]:
        with self._mutex:
            d = self._stats.as_dict()
            rd = wr = wt = 0
            for node in self._tree:
                r = node.value
                if r.state == WAITING:
                    wt += 1
                elif r.write:
                    wr += 1
                else:
                    rd += 1
            d.update(waiting=wt, readers=rd, writers=wr)
            return d

    def __repr__(self) -> str:
        st = self.stats()
        return f"<RangeLock readers={st['readers']} writers={st['writers']} waiting={st['waiting']}>"
