"""What a ``RangeListLock`` holds, read from its shard lists: requests, stats, ranges, and ``check()``.

Invariant
---------
Nothing here changes the lock.  The walks follow ``next`` pointers without a
lock (a part linked throughout a walk is met, see ``rangelist``), so every
view is exact while the lock is quiescent; ``check()`` alone holds every
head's lock (in shard order) while it recomputes the invariants of
``structures.locks.rangelist`` from scratch, which makes it exact at any time:
every link, unlink, registration and wake-up happens under a head's lock.
Parts are known here only by their public fields (``start``, ``end``,
``write``, ``seq``, ``state``, ``next``, ``marked``, ``waiters``, ``gate``,
``head``, ``parts``); heads by ``next``, ``lk``, ``index``, ``ticket`` and
their counters.

Layout
------
::

    RangeListIntrospection      mixed into RangeListLock (which supplies
      _requests  -> handles     _shards, _shift, _mask)
      __len__, held, waiting, ranges, _occupancy, stats
      check -> _check_shard (order, arrival numbers, membership)
               _check_request (granted exactly when unblocked; a sleeper
                               is on an earlier conflicting part's waiters)

API
---
``RangeListIntrospection``; ``chain(head)`` (a shard's parts in list order),
``conflicts(p, q)``, ``shard_of(region, mask)`` (the shard hash).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from structures.locks.api import GRANTED, WAITING
from structures.vma import InvariantError

__all__ = ["RangeListIntrospection", "chain", "conflicts", "shard_of"]


def shard_of(region: int, mask: int) -> int:
    """The shard of ``region`` (``start >> region_shift``): consecutive regions and 64 MiB / 1 GiB strides spread."""
    return (region ^ (region >> 5) ^ (region >> 9)) & mask


def conflicts(p: Any, q: Any) -> bool:
    """Two parts overlap and one of them writes."""
    return bool(p.start < q.end and q.start < p.end and (p.write or q.write))


def chain(head: Any) -> Iterator[Any]:
    """The parts linked in ``head``'s shard, in list order."""
    cur = head.next
    while cur is not None:
        yield cur
        cur = cur.next


class RangeListIntrospection:
    """Views and the invariant check of a ``RangeListLock`` (a mixin: the lock supplies ``_shards``)."""

    _shards: tuple[Any, ...]
    _shift: int
    _mask: int
    _part_type: type[Any]  # the class of the lock's list nodes
    _cheating: bool
    _cheat_lk: Any
    _lone: Any  # the request granted in cheat mode (in no list), or None
    _cheat_entered: int

    def _requests(self) -> list[Any]:
        """Every live request once (its handle), in address order."""
        seen: dict[int, Any] = {}
        lone = self._lone
        if lone is not None:
            seen[id(lone)] = lone
        for node in (node for head in self._shards for node in chain(head)):
            handle = node.parts[0] if node.parts else node
            seen.setdefault(id(handle), handle)
        return sorted(seen.values(), key=lambda h: (h.start, h.end, h.head.index if h.head else -1, h.seq))

    def __len__(self) -> int:
        """Live requests (granted + waiting); 0 when the lock is idle."""
        return len(self._requests())

    def held(self) -> tuple[int, int]:
        """(granted readers, granted writers)."""
        occupancy = self._occupancy()
        return occupancy["readers"], occupancy["writers"]

    def waiting(self) -> int:
        """Requests asleep (or about to sleep) behind a blocker."""
        return self._occupancy()["waiting"]

    def _blockers_now(self, head: Any, node: Any) -> int:
        if head is None:  # the lone request (or one an inflation is linking this instant)
            return 0
        return sum(1 for other in chain(head) if other.seq < node.seq and not other.marked and conflicts(node, other))

    def ranges(self) -> list[tuple[int, int, bool, str, int]]:
        """Snapshot of every request: ``(start, end, write, state, blockers)`` in address order, where
        ``blockers`` counts the earlier conflicting requests in its shards (Bueso's ``blocking``)."""
        out = []
        for handle in self._requests():
            parts = handle.parts or (handle,)
            blockers = sum(self._blockers_now(p.head, p) for p in parts if p.seq and not p.marked)
            out.append((handle.start, handle.end, handle.write, handle.state, blockers))
        return out

    def _occupancy(self) -> dict[str, Any]:
        waiting = readers = writers = 0
        for handle in self._requests():
            if handle.state == GRANTED:
                if handle.write:
                    writers += 1
                else:
                    readers += 1
            elif getattr(handle, "gate", None) is not None:
                waiting += 1
        return {"waiting": waiting, "readers": readers, "writers": writers}

    def stats(self) -> dict[str, Any]:
        """Counters summed over the shards (each read under its head's lock) and who is in the lock now.

        ``acquisitions`` counts the requests granted so far: the requests that
        entered, less those never granted and those still waiting.
        """
        with self._cheat_lk:
            entered = self._cheat_entered
        totals: dict[str, Any] = {"entered": entered, "failed": 0, "contended": 0, "timeouts": 0, "wait_time": 0.0}
        max_wait = 0.0
        for head in self._shards:
            with head.lk:
                for key in totals:
                    totals[key] += getattr(head, key)
                max_wait = max(max_wait, head.max_wait)
        occupancy = self._occupancy()
        in_flight = sum(1 for h in self._requests() if h.state == WAITING)
        return {
            "acquisitions": totals["entered"] - totals["failed"] - in_flight,
            "contended": totals["contended"],
            "timeouts": totals["timeouts"],
            "wait_time": totals["wait_time"],
            "max_wait": max_wait,
            **occupancy,
        }

    def check(self) -> None:
        """Recompute every invariant from scratch; ``InvariantError`` naming the part.

        Holds every head's lock (in shard order) meanwhile: every link, unlink,
        registration and wake-up happens under one, so the snapshot is consistent.
        """
        taken = []
        try:
            self._cheat_lk.acquire()  # first, as an inflation takes it before the heads' locks
            taken.append(self._cheat_lk)
            for head in self._shards:
                head.lk.acquire()
                taken.append(head.lk)
            self._check_cheat()
            for head in self._shards:
                self._check_shard(head)
            for handle in self._requests():
                if handle is not self._lone:  # (the lone one: _check_cheat)
                    self._check_request(handle)
        finally:
            for lk in reversed(taken):
                lk.release()

    def _check_cheat(self) -> None:
        """Cheating: every list empty, and the lone request (if any) granted, unlinked, whole.
        Not cheating: no lone request."""
        lone = self._lone
        if not self._cheating:
            if lone is not None:
                raise InvariantError(f"range-list: lone request {lone!r} kept after the lock inflated")
            return
        for head in self._shards:
            if head.next is not None:
                raise InvariantError(f"range-list: cheating, but shard {head.index} links {head.next!r}")
        if lone is not None and (
            type(lone) is not self._part_type or lone.owner is not self or lone.state != GRANTED
            or lone.head is not None or lone.parts is not None or lone.seq != 0
        ):  # fmt: skip
            raise InvariantError(f"range-list: the lone request {lone!r} is not a granted request in no list")

    def _check_shard(self, head: Any) -> None:
        """Sorted by start; only live parts of this lock that belong here; arrival numbers unique and issued."""
        previous = -1
        seqs: set[int] = set()
        mask = self._mask
        for node in chain(head):
            where = f"range-list: shard {head.index} part {node!r} seq={node.seq}"
            if type(node) is not self._part_type or node.owner is not self or node.head is not head:
                raise InvariantError(f"{where} does not belong to this shard of this lock")
            if node.marked:
                raise InvariantError(f"{where} is marked but still linked")
            if node.start < previous:
                raise InvariantError(f"{where} starts before the part linked ahead of it ({previous:#x})")
            previous = node.start
            if not 0 < node.seq < head.ticket or node.seq in seqs:
                raise InvariantError(f"{where}: arrival number not issued once (ticket {head.ticket})")
            seqs.add(node.seq)
            if node.state not in (GRANTED, WAITING):
                raise InvariantError(f"{where} is linked but {node.state}")
            first, last = (node.start + 1) >> self._shift, node.end >> self._shift  # regions offset by a byte
            if last - first + 1 < len(self._shards) and head.index not in {
                shard_of(r, mask) for r in range(first, last + 1)
            }:
                raise InvariantError(f"{where} lies in no region of shard {head.index}")

    def _check_request(self, handle: Any) -> None:
        """Granted exactly when no part has a blocker; a sleeper is on its blocker's waiters (no lost wake-up)."""
        parts = handle.parts or (handle,)
        linked = [p for p in parts if p.seq and not p.marked]
        blocked = [p for p in linked if self._blockers_now(p.head, p)]
        where = f"range-list: request {handle!r}"
        if handle.state == GRANTED:
            if blocked or len(linked) != len(parts):
                raise InvariantError(f"{where} is granted beside an earlier conflicting request")
            return
        if getattr(handle, "gate", None) is not None:  # asleep: on the waiters of an earlier conflicting part
            registered = any(
                handle in (other.waiters or ())
                for p in blocked
                for other in chain(p.head)
                if other.seq < p.seq and conflicts(p, other)
            )
            if not registered:
                raise InvariantError(f"{where} sleeps with no earlier conflicting request to wake it (lost wake-up)")

