"""The ``maple`` backend: a B-tree of ranges like ``lib/maple_tree.c``, with lock-free readers.

Invariant
---------
The tree covers the whole index space ``[0, TASK_SIZE)``: every address is in
exactly one leaf slot, which holds the ``VMA`` mapped there or ``None`` (an
explicit empty range).  Pivots are inclusive upper bounds; a slot's lower
bound comes from its left neighbour (or the node's ``min``, from the parent).
No two ``None`` slots are ever adjacent (stores swallow neighbouring
empties, also across leaves), so every maximal free run is one slot and an
insert always lands inside one ``None`` slot of one leaf.  Internal nodes
track the largest free run below each child (``gaps``), so ``find_gap`` in
both directions descends only into children whose gap fits: O(log n).  See
``structures/maple_node.py`` for the node picture and the validator.

Concurrency (RCU mode: the kernel's node swap + a write seqcount)
-----------------------------------------------------------------
Writers are serialised by the base class's mutex; readers never lock.  The
rules a writer keeps:

* a **published leaf is never modified**; a published internal node changes
  only by single list-item stores: a child swapped for a new child covering
  the same range (``slots[i] = new``), or a ``gaps[i]`` value.  Pivot lists
  are never modified once published, no list ever changes length;
* every write builds the nodes that change and publishes them with **one
  reference store**, then marks the replaced nodes ``dead``:

  - *fast path* (most inserts/removes: the store stays inside one leaf that
    keeps its fill limits): one new leaf built by slicing, stored into its
    parent's slot; ancestors' gaps updated in place up to the first
    unchanged one (``mas_wr_slot_store`` / ``mas_update_gap``);
  - *one-parent rebuild* (``_rebuild``: leaf split, push into a sibling,
    merge/borrow on underflow, joining a None with the neighbouring leaf's):
    new leaves and a new copy of their parent, stored into the grandparent's
    slot (or as the root);
  - *general path* (the parent itself changes shape, height changes,
    ``replace``, ``clear``): path copying into private nodes (``_wpath``,
    ``_fixup``), first tried below the leaf's great-grandparent (*subtree
    mode*, published by one slot store; if the change climbs higher the
    private copies are thrown away -- nothing live was touched -- and it
    redoes the write copying from the root), else published by
    ``self._root = new_root``;
* around each publish the writer bumps the write **seqcount** ``_wseq``
  (odd while the stores are in progress, ``write_seqcount_begin/end``).

What readers get:

* single-leaf readers (``lookup``, ``find`` and ``find_prev`` when the
  answer is in the first leaf, ``intersection``, ``probe``) need no
  validation: each node they load was current at some instant after they
  started, and the leaf they reach is an immutable snapshot of its range at
  that instant (linearizable);
* multi-node readers (``overlapping``, ``_batch_from`` behind ``__iter__``,
  ``find_gap`` which trusts gap values, and ``find``/``find_prev`` when they
  cross into another leaf) run under ``_validated``: read ``_wseq``, walk,
  re-read it and retry if it changed (``read_seqcount_begin/retry``; an odd
  value yields the CPU first).  A walk over a half-updated tree cannot crash
  or loop (lists keep their lengths, every walk is bounded); it only retries.
  Retries are counted in ``stats()["restarts"]``;
* the resumable ``_iter_from`` cursor (``mas_find``-like, yields lazily while
  writers run) checks each leaf it steps onto; on a ``dead`` leaf it
  restarts from the root at the address reached (never repeating a VMA),
  counted in ``restarts``; the first leaf after a (re)start is always
  consumed, so every restart makes progress;
* ``len`` reads one counter, stored with the publish.

``replace`` (base class, mutex held throughout) runs every primitive on the
general path into one private version and ``_commit`` publishes it with one
root store: *every* reader, single-point ones included, sees either the old
or the new window, never the half-done state (``mm.py``, ``mm_policy.py``'s
``vma`` policy rely on it).  Nothing here relies on the GIL beyond single
reference loads/stores and single list-item stores.

Layout
------
::

                          root (gap node)            [0, TASK_SIZE-1]
                 +-------+-------+-------+
      pivots     |  p0   |  p1   |  max  |
      slots      |  c0   |  c1   |  c2   |   gaps: largest None run below ci
                 +---|---+---|---+---|---+
                     v       v       v
                  leaf: | VMA | None | VMA | VMA | None | ... (<= 16 slots)

Writes: ``insert`` stores the VMA over its ``None`` slot (1 slot becomes up
to 3); ``remove`` stores ``None`` over its slot and swallows neighbouring
``None`` slots (also the neighbouring leaf's edge ``None``: ``_rebuild``, or
``_join_nulls`` which moves a leaf boundary on the general path).  Maple
overrides ``insert``/``remove`` so one descent serves both the base's
overlap/presence check and the store (same errors as the base), and
``find_gap`` to skip the base's per-field validation for plain valid ints.
On the general path ``_fixup`` walks up: a node over its width first pushes
into a sibling with room (left, then right), else splits; a node under its
minimum fill merges with or borrows from a sibling; the root splits (height
+1) or, with one child, is replaced by it (height -1).  Gap values propagate
upward and stop as soon as a parent's entry is unchanged.

API
---
``MapleIndex(*, leaf_slots=16, internal_slots=10, lock=None)``, registry name
``maple``: the full ``VMAIndex`` interface, ``lockless_reads = True``;
``stats()`` adds ``leaf_nodes``, ``internal_nodes``, ``fill``, ``restarts``,
``bytes_per_vma``.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from structures.backends.maple.cow import PathCopyWriter
from structures.backends.maple.node import LAST, Node, min_fill, node_gap, null_slots, tree_stats, validate
from structures.base import VMAIndex
from structures.vma import PAGE_SIZE, TASK_SIZE, VMA, InvariantError, NotMappedError, OverlapError

__all__ = ["MapleIndex"]

_DONE = object()  # _remove_at: the VMA was removed


def _leaf_gap_after(piv: list[int], slots: list[Any], lo: int) -> int:
    """``leaf_gap`` of a new leaf's lists (a plain loop: ``list.index(None)`` would call
    ``VMA.__eq__`` on every VMA it passes, measured 2x slower)."""
    g = 0
    prev = lo - 1
    for p, v in zip(piv, slots, strict=False):  # equal lengths; strict costs a check
        if v is None and p - prev > g:
            g = p - prev
        prev = p
    return g


def _gap_inside(node: Node, lo: int, length: int) -> int | None:
    """Highest fit of ``length`` in ``node`` (range starting at ``lo``), which lies wholly
    inside the search window and whose parent's gap entry says it fits.  Bounded loops
    only: on a tree a writer is changing it may return a wrong value (or None), which the
    caller's seqcount check discards."""
    while True:
        piv = node.pivots
        gaps = node.gaps
        if gaps is None:
            break
        j = len(piv) - 1
        while j and gaps[j] < length:
            j -= 1
        if j:
            lo = piv[j - 1] + 1
        node = node.slots[j]
    nulls = node.nulls
    if nulls is None:
        nulls = null_slots(node)
    for k in reversed(nulls):
        e = piv[k] + 1
        if e - (piv[k - 1] + 1 if k else lo) >= length:
            return e - length
    return None


def _leaf_fit_down(node: Node, lo: int, j: int, length: int, low: int, high: int) -> int | None:
    """Highest fit among a leaf's None slots ``<= j`` clipped to ``[low, high)``."""
    piv = node.pivots
    nulls = node.nulls
    if nulls is None:
        nulls = null_slots(node)
    for k in reversed(nulls):
        if k > j:
            continue
        s = piv[k - 1] + 1 if k else lo
        e = piv[k] + 1
        if e > high:
            e = high
        if s <= low:
            return e - length if e - low >= length else None
        if e - s >= length:
            return e - length
    return None


def _gap_low(node: Node, lo: int, length: int, low: int) -> int | None:
    """Highest fit in ``node`` (range starting at ``lo``), which holds ``low`` and lies below
    the window's high end: unclipped children right of the one holding ``low`` are certain
    fits; that one is entered last and, if it fails, so does the search."""
    while True:
        piv = node.pivots
        gaps = node.gaps
        if gaps is None:
            return _leaf_fit_down(node, lo, len(piv) - 1, length, low, TASK_SIZE)
        i = bisect_left(piv, low)
        j = len(piv) - 1
        while j > i:
            if gaps[j] >= length:
                return _gap_inside(node.slots[j], piv[j - 1] + 1, length)
            j -= 1
        if gaps[i] < length or piv[i] + 1 - low < length:
            return None
        if i:
            lo = piv[i - 1] + 1
        node = node.slots[i]


class MapleIndex(PathCopyWriter, VMAIndex):
    """Maple-like B-tree of ranges with gap tracking and RCU-style lock-free readers."""

    name = "maple"
    description = "maple-like B-tree of ranges (16/10-way, gap-tracking, copy-on-write lock-free readers)"
    lockless_reads = True

    def __init__(self, *, leaf_slots: int = 16, internal_slots: int = 10, lock: object = None) -> None:
        super().__init__(lock=lock)
        for field, v in (("leaf_slots", leaf_slots), ("internal_slots", internal_slots)):
            if type(v) is not int or v < 4:
                raise ValueError(f"{field} must be an int >= 4, got {v!r}")
        self.leaf_slots = leaf_slots
        self.internal_slots = internal_slots
        self._lmin = min_fill(leaf_slots, True)
        self._imin = min_fill(internal_slots, False)
        self._gen = 1  # generation of the unpublished version being built
        self._root = Node([LAST], [None], None, True, 0)  # published root
        self._wroot = self._root  # root of the version being built (== _root between writes)
        self._count = 0  # published
        self._wcount = 0
        self._replaced: list[Node] = []
        self._deferring: set[int] = set()
        self._restarts: dict[int, int] = {}
        self._wseq = 0  # write seqcount: odd while a writer publishes in place
        # subtree mode of a structural write: nodes at depth >= _pdepth are copied, the
        # copy of the one node at depth _pdepth (_ptop: live parent, slot, original, copy)
        # is published by one slot store into its live parent (0: copy from the root)
        self._pdepth = 0
        self._ptop: tuple[list[Node], list[int], Node, Node] | None = None

    # ------------------------------------------------------------------
    # readers (lock-free: each loads self._root once)
    # ------------------------------------------------------------------
    def _find(self, addr: int) -> VMA | None:
        node = self._root
        # one descent: bisect on each node's pivot list (C speed)
        while not node.leaf:
            node = node.slots[bisect_left(node.pivots, addr)]
        piv = node.pivots
        i = bisect_left(piv, addr)
        v = node.slots[i]
        if v is not None:
            return v  # type: ignore[no-any-return]
        if i + 1 < len(piv):
            return node.slots[i + 1]  # type: ignore[no-any-return]
        # addr is in the leaf's trailing None: the answer starts a later leaf,
        # a second descent, so validate the pair against the write sequence
        return self._validated(self._find_walk, addr)

    def _find_walk(self, addr: int) -> VMA | None:
        node = root = self._root
        while True:
            while not node.leaf:
                node = node.slots[bisect_left(node.pivots, addr)]
            piv = node.pivots
            i = bisect_left(piv, addr)
            v = node.slots[i]
            if v is not None:
                return v  # type: ignore[no-any-return]
            if i + 1 < len(piv):
                return node.slots[i + 1]  # type: ignore[no-any-return]
            addr = piv[-1] + 1
            if addr >= TASK_SIZE:
                return None
            node = root

    def _validated(self, walk: Callable[..., Any], *args: Any) -> Any:
        """Run a multi-node read ``walk(*args)`` until no write overlapped it.

        The seqcount (``read_seqcount_begin`` / ``read_seqcount_retry``): an
        odd ``_wseq`` means a writer is publishing; an unchanged even value
        before and after the walk means it saw one version.  The walk itself
        never crashes on a half-updated tree (in-place stores replace one list
        item at a time, lists never change length), so it only needs a retry.
        """
        while True:
            seq = self._wseq
            if seq & 1:
                time.sleep(0)  # a writer is mid-publish: let it finish
                continue
            out = walk(*args)
            if self._wseq == seq:
                return out
            self._restart()

    def _restart(self) -> None:
        tid = threading.get_ident()  # per-thread counters: no shared read-modify-write
        self._restarts[tid] = self._restarts.get(tid, 0) + 1

    def _lookup(self, addr: int) -> VMA | None:
        node = self._root
        while not node.leaf:
            node = node.slots[bisect_left(node.pivots, addr)]
        return node.slots[bisect_left(node.pivots, addr)]  # type: ignore[no-any-return]

    def _intersection(self, start: int, end: int) -> VMA | None:
        v = self._find(start)
        return v if v is not None and v.start < end else None

    def _find_prev(self, addr: int) -> VMA | None:
        if addr > 0:
            a = addr - 1
            node = self._root
            while not node.leaf:
                node = node.slots[bisect_left(node.pivots, a)]
            piv = node.pivots
            slots = node.slots
            i = bisect_left(piv, a)
            v = slots[i]
            if v is not None and piv[i] == a:
                return v  # type: ignore[no-any-return]
            while i > 0:  # at most two steps back: Nones are never adjacent
                i -= 1
                v = slots[i]
                if v is not None:
                    return v  # type: ignore[no-any-return]
        # nothing ends in this leaf below addr: a walk over earlier leaves
        return self._validated(self._find_prev_walk, addr)  # type: ignore[no-any-return]

    def _find_prev_walk(self, addr: int) -> VMA | None:
        root = self._root
        while addr > 0:
            a = addr - 1
            node = root
            lo = 0
            while not node.leaf:
                piv = node.pivots
                i = bisect_left(piv, a)
                if i:
                    lo = piv[i - 1] + 1
                node = node.slots[i]
            piv = node.pivots
            slots = node.slots
            i = bisect_left(piv, a)
            v = slots[i]
            if v is not None and piv[i] == a:
                return v  # type: ignore[no-any-return]
            while i > 0:
                i -= 1
                v = slots[i]
                if v is not None:
                    return v  # type: ignore[no-any-return]
            addr = lo  # try the previous leaf
        return None

    def _seek(self, root: Node, addr: int) -> tuple[list[tuple[Node, int]], Node, int]:
        """Descend to ``addr``: (stack of (internal node, slot), leaf, slot)."""
        stack = []
        node = root
        while not node.leaf:
            i = bisect_left(node.pivots, addr)
            stack.append((node, i))
            node = node.slots[i]
        return stack, node, bisect_left(node.pivots, addr)

    @staticmethod
    def _next_leaf(stack: list[tuple[Node, int]]) -> Node | None:
        """Step ``stack`` to the next leaf in address order (no re-descent from the root)."""
        while stack:
            node, i = stack.pop()
            if i + 1 < len(node.slots):
                stack.append((node, i + 1))
                child = node.slots[i + 1]
                while not child.leaf:
                    stack.append((child, 0))
                    child = child.slots[0]
                return child  # type: ignore[no-any-return]
        return None

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        return self._validated(self._overlapping_walk, start, end)  # type: ignore[no-any-return]

    def _overlapping_walk(self, start: int, end: int) -> list[VMA]:
        stack, leaf, i = self._seek(self._root, start)
        last = end - 1
        out: list[VMA] = []
        while True:
            piv = leaf.pivots
            if piv[-1] >= last:
                out.extend(v for v in leaf.slots[i : bisect_left(piv, last) + 1] if v is not None)
                return out
            out.extend(v for v in leaf.slots[i:] if v is not None)
            nxt = self._next_leaf(stack)
            if nxt is None:
                return out
            leaf, i = nxt, 0

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        return self._validated(self._batch_walk, addr, n)  # type: ignore[no-any-return]

    def _batch_walk(self, addr: int, n: int) -> list[VMA]:
        stack, leaf, i = self._seek(self._root, addr)
        out: list[VMA] = []
        while True:
            out.extend(v for v in leaf.slots[i:] if v is not None)
            if len(out) >= n:
                return out[:n]
            nxt = self._next_leaf(stack)
            if nxt is None:
                return out
            leaf, i = nxt, 0

    def _iter_from(self, addr: int) -> Iterator[VMA]:
        """Resumable cursor: restarts from the root when it steps onto a dead leaf."""
        pos = addr
        while True:
            stack, leaf, i = self._seek(self._root, pos)
            fresh = True
            while True:
                if leaf.dead and not fresh:
                    self._restart()
                    break  # restart at pos from the current root
                fresh = False
                for v in leaf.slots[i:]:
                    if v is not None:
                        pos = v.end
                        yield v
                if pos >= TASK_SIZE:
                    return
                nxt = self._next_leaf(stack)
                if nxt is None:
                    return
                leaf, i = nxt, 0

    def find_gap(self, length: int, low: int = 0, high: int = TASK_SIZE, top_down: bool = False) -> int | None:
        """``VMAIndex.find_gap``; the common all-valid call skips straight to the search
        (the base's field-by-field validation is ~0.5 us of a ~2.5 us call); any other
        call goes through the base class, which raises its ``InvalidRangeError``."""
        if (
            type(length) is int
            and type(low) is int
            and type(high) is int
            and 0 < length <= TASK_SIZE
            and 0 <= low < high <= TASK_SIZE
            and not (length | low | high) & (PAGE_SIZE - 1)
        ):
            if high - low < length:
                return None
            # one seqcount read before and one after, inlined (the retry loop only when a
            # writer overlapped): with _find_gap's call level gone, 2.14 -> 2.10 us per call
            seq = self._wseq
            if not seq & 1:
                if top_down:
                    r = self._gap_top_down(self._root, length, low, high)
                else:
                    r = self._gap_up(self._root, 0, LAST, length, low, high)
                if self._wseq == seq:
                    return r
            return self._find_gap(length, low, high, bool(top_down))
        return super().find_gap(length, low, high, top_down)

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        # _validated inlined: the seqcount retry costs ~0.3 us of a ~2 us search
        while True:
            seq = self._wseq
            if seq & 1:
                time.sleep(0)
                continue
            if top_down:
                r = self._gap_top_down(self._root, length, low, high)
            else:
                r = self._gap_up(self._root, 0, LAST, length, low, high)
            if self._wseq == seq:
                return r
            self._restart()

    @staticmethod
    def _gap_top_down(node: Node, length: int, low: int, high: int) -> int | None:
        """Highest fit, like ``mas_empty_area_rev``: a plain descent to the leaf holding
        ``high - 1`` (its path remembered), that leaf's None slots from there down, then
        back up the path, scanning each node's gaps leftward from the edge child.  A
        child left of the edge lies below ``high``: if it is also above ``low`` its gap
        fit is certain (``_gap_inside``); the one child holding ``low`` ends the search
        (``_gap_low``), so nothing is ever entered twice.  Replaces a clipped descent
        that entered the edge child (whose gap is mostly the hole above ``high``) at
        every level and backed off: walk 1.75 -> 1.23 us per call at n=10,000."""
        h = high - 1
        lo = 0
        path: list[tuple[Node, int, int]] = []
        while True:
            piv = node.pivots
            j = bisect_left(piv, h)
            if node.gaps is None:
                break
            path.append((node, lo, j))
            if j:
                lo = piv[j - 1] + 1
            node = node.slots[j]
        r = _leaf_fit_down(node, lo, j, length, low, high)
        if r is not None or low >= lo:
            return r
        while path:
            node, lo, j = path.pop()
            piv = node.pivots
            gaps = node.gaps
            assert gaps is not None
            i = bisect_left(piv, low) if low > lo else 0
            j -= 1
            while j >= i:
                if gaps[j] >= length:
                    clo = piv[j - 1] + 1 if j else lo
                    if clo >= low:
                        return _gap_inside(node.slots[j], clo, length)
                    if piv[j] + 1 - low >= length:  # the child holding low: the last chance
                        return _gap_low(node.slots[j], clo, length, low)
                    return None
                j -= 1
            if low > lo:  # this node holds low: everything further left is below it
                return None
        return None

    def _gap_up(self, node: Node, lo: int, hi: int, length: int, low: int, high: int) -> int | None:
        """Lowest fit in ``node`` (range ``[lo, hi]``), like ``mas_empty_area``.

        Only slots ``i .. j`` meet the window ``[low, high)`` (two bisects); inside
        it a child is entered only when its gap fits, and only the two clipped
        edge children can fail after being entered, so the search is O(log n).
        """
        piv = node.pivots
        slots = node.slots
        i = bisect_left(piv, low) if low > lo else 0
        j = bisect_left(piv, high - 1) if high <= hi else len(piv) - 1
        if node.leaf:
            for k in null_slots(node):  # only the None slots, lowest first
                if k < i:
                    continue
                if k > j:
                    break
                s = piv[k - 1] + 1 if k else lo
                if s < low:
                    s = low
                e = piv[k] + 1
                if (e if e < high else high) - s >= length:
                    return s
            return None
        gaps = node.gaps
        assert gaps is not None
        while i <= j:
            if gaps[i] >= length:
                clo = piv[i - 1] + 1 if i else lo
                chi = piv[i]
                if (chi + 1 if chi < high else high) - (clo if clo > low else low) >= length:
                    r = self._gap_up(slots[i], clo, chi, length, low, high)
                    if r is not None:
                        return r
            i += 1
        return None

    def _len(self) -> int:
        return self._count

    def _probe(self, addr: int) -> int:
        node = self._root
        visited = 1
        while not node.leaf:
            node = node.slots[bisect_left(node.pivots, addr)]
            visited += 1
        return visited

    # ------------------------------------------------------------------
    # writers (called with self._mutex held)
    # ------------------------------------------------------------------
    def _publish(self) -> None:
        """Make the version being built visible with one reference store, then kill the old nodes."""
        top = self._ptop
        if top is not None:  # subtree mode: one slot store into the live parent
            self._ptop = None
            parents, idxs, _, new = top
            lo = 0
            for k, node in enumerate(parents):
                i = idxs[k]
                if i:
                    lo = node.pivots[i - 1] + 1
            self._wseq += 1
            self._count = self._wcount
            parents[-1].slots[idxs[-1]] = new  # the single publishing store
            self._propagate(parents, idxs, node_gap(new, lo))
            self._wseq += 1
        elif self._wroot is self._root and not self._replaced:
            self._count = self._wcount
            return  # nothing private (a fast-path write already published itself)
        else:
            self._wseq += 1  # odd: multi-node readers started now will retry
            self._count = self._wcount
            self._root = self._wroot  # the single publishing store
            self._wseq += 1
        self._gen += 1
        for node in self._replaced:
            node.dead = True
        self._replaced = []

    def _commit(self) -> None:
        """Base hook, end of every successful mutation: publish a path-copied version."""
        self._publish()

    @staticmethod
    def _propagate(parents: list[Node], idxs: list[int], gap: int) -> None:
        """Store the new largest gap of the child below ``parents[-1]`` upward, in place,
        stopping at the first unchanged entry (writer, seqcount odd)."""
        k = len(parents) - 1
        while k >= 0:
            gaps = parents[k].gaps
            i = idxs[k]
            if gaps[i] == gap:  # type: ignore[index]
                return
            gaps[i] = gap  # type: ignore[index]
            gap = max(gaps)  # type: ignore[arg-type]
            k -= 1

    def insert(self, vma: VMA) -> None:
        """``VMAIndex.insert``, with one descent serving both the overlap check and the store."""
        if type(vma) is not VMA:
            super().insert(vma)  # raises the base class's TypeError
            return
        with self._mutex:
            if not self._insert_at(vma):
                hit = self._intersection(vma.start, vma.end)
                if hit is None:
                    raise InvariantError(f"maple insert: {vma!r} meets no VMA but has no None slot")
                raise OverlapError(f"{vma!r} overlaps stored {hit!r}", existing=hit)
            self.seqnum.value += 1
            if self._replaced:  # _commit(), skipped when the write published itself in place
                self._publish()

    def remove(self, vma: VMA) -> None:
        """``VMAIndex.remove``, with one descent serving both the presence check and the store."""
        if type(vma) is not VMA:
            super().remove(vma)  # raises the base class's TypeError
            return
        with self._mutex:
            cur = self._remove_at(vma)
            if cur is not _DONE:
                if cur is not None and cur.start == vma.start and cur.end == vma.end:
                    raise NotMappedError(f"{vma!r} is not stored (the range holds {cur!r})")
                raise NotMappedError(f"{vma!r} is not stored")
            self.seqnum.value += 1
            if self._replaced:  # _commit(), skipped when the write published itself in place
                self._publish()

    def _insert(self, vma: VMA) -> None:
        if not self._insert_at(vma):
            raise InvariantError(f"maple insert: {vma!r} does not fit a None slot")

    def _remove(self, vma: VMA) -> None:
        if self._remove_at(vma) is not _DONE:
            raise InvariantError(f"maple remove: {vma!r} is not stored")

    @staticmethod
    def _leaf_min(parents: list[Node], idxs: list[int]) -> int:
        """The first address of the leaf below ``parents[-1].slots[idxs[-1]]``."""
        for k in range(len(parents) - 1, -1, -1):
            i = idxs[k]
            if i:
                return parents[k].pivots[i - 1] + 1  # type: ignore[no-any-return]
        return 0

    def _insert_at(self, vma: VMA) -> bool:
        """Store ``vma`` if its range is one free (None) slot; False (nothing changed) if not."""
        start, last = vma.start, vma.end - 1
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._insert_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return True
        # one descent, remembering the path (writers are serialised: plain locals)
        node = self._root
        parents: list[Node] = []
        idxs: list[int] = []
        while not node.leaf:
            i = bisect_left(node.pivots, start)
            parents.append(node)
            idxs.append(i)
            node = node.slots[i]
        piv = node.pivots
        slots = node.slots
        i = bisect_left(piv, start)
        hi = piv[i]
        if slots[i] is not None or hi < last:
            return False
        lo = piv[i - 1] + 1 if i else self._leaf_min(parents, idxs)
        # fast path (the common case, measured ~80 % of a random build): the VMA fits the
        # leaf: build one new leaf by slicing and publish it with one slot store
        grow = len(slots) + (start > lo) + (last < hi) > self.leaf_slots
        # copy + insert in place (private lists): 450 -> 200 ns against slice + concatenate
        if start > lo:
            np = piv.copy()
            ns = slots.copy()
            ns[i] = vma
            if last < hi:
                np.insert(i, last)
                ns.insert(i + 1, None)
            np.insert(i, start - 1)
            ns.insert(i, None)
        elif last < hi:
            np = piv.copy()
            np.insert(i, last)
            ns = slots.copy()
            ns.insert(i + 1, None)
            ns[i] = vma
        else:
            np = piv  # published pivot lists are never modified: share it
            ns = slots.copy()
            ns[i] = vma
        if grow:  # the leaf overflows: push into a sibling or split, under the same parent
            if not parents or not self._rebuild(parents, idxs, np, ns, False, False):
                self._slow(self._insert_slow, vma, len(parents) + 1)
                return True
            self._wcount += 1
            self._count += 1
            return True
        new = Node(np, ns, None, True, 0)
        gap = 0
        if parents:
            gap = parents[-1].gaps[idxs[-1]]  # type: ignore[index]
            if hi - lo + 1 >= gap:  # the filled None was the widest: recount the others
                gap = _leaf_gap_after(np, ns, self._leaf_min(parents, idxs))
        self._wcount += 1
        self._count += 1
        # publish with one slot store; gaps above in place (_swap_leaf inlined)
        self._wseq += 1  # odd: a write is in progress
        if parents:
            k = len(parents) - 1
            parents[k].slots[idxs[k]] = new  # the single publishing store
            while k >= 0:  # inlined _propagate: ~0.2 us of the ~3 us fast path
                gaps = parents[k].gaps
                i = idxs[k]
                if gaps[i] == gap:  # type: ignore[index]
                    break
                gaps[i] = gap  # type: ignore[index]
                gap = max(gaps)  # type: ignore[arg-type]
                k -= 1
        else:
            self._root = self._wroot = new
        self._wseq += 1
        node.dead = True
        return True

    def _remove_at(self, vma: VMA) -> Any:
        """Store None over ``vma`` if it is stored (``_DONE``); else the slot's content."""
        start = vma.start
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._remove_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return _DONE
        node = self._root
        parents: list[Node] = []
        idxs: list[int] = []
        while not node.leaf:
            i = bisect_left(node.pivots, start)
            parents.append(node)
            idxs.append(i)
            node = node.slots[i]
        piv = node.pivots
        slots = node.slots
        i = bisect_left(piv, start)
        cur = slots[i]
        if cur is not vma and (cur is None or cur != vma):
            return cur
        # fast path: the freed slot (merged with the Nones beside it) stays inside one
        # leaf that keeps its minimum fill and meets no None in the neighbouring leaf
        n = len(slots)
        a = i - 1 if i and slots[i - 1] is None else i  # new None = old slots a .. b-1
        b = i + 2 if i + 1 < n and slots[i + 1] is None else i + 1
        np = piv.copy()
        ns = slots.copy()
        if b - a > 1:  # copy + delete in place (private lists), like the insert side
            del np[a : b - 1]
            del ns[a + 1 : b]
        ns[a] = None
        if parents:
            jl = not a and self._edge_slot(parents, idxs, -1) is None
            jr = b == n and self._edge_slot(parents, idxs, 1) is None
            if jl or jr or len(ns) < self._lmin:
                # the None meets the neighbouring leaf's None, or the leaf is underfull
                if not self._rebuild(parents, idxs, np, ns, jl, jr):
                    self._slow(self._remove_slow, cur, len(parents) + 1)
                    return _DONE
                self._wcount -= 1
                self._count -= 1
                return _DONE
        new = Node(np, ns, None, True, 0)
        gap = 0
        if parents:
            gap = parents[-1].gaps[idxs[-1]]  # type: ignore[index]
            run = piv[b - 1] + 1 - (piv[a - 1] + 1 if a else self._leaf_min(parents, idxs))
            if run > gap:
                gap = run
        self._wcount -= 1
        self._count -= 1
        # publish with one slot store; gaps above in place (_swap_leaf inlined)
        self._wseq += 1  # odd: a write is in progress
        if parents:
            k = len(parents) - 1
            parents[k].slots[idxs[k]] = new  # the single publishing store
            while k >= 0:  # inlined _propagate: ~0.2 us of the ~3 us fast path
                gaps = parents[k].gaps
                i = idxs[k]
                if gaps[i] == gap:  # type: ignore[index]
                    break
                gaps[i] = gap  # type: ignore[index]
                gap = max(gaps)  # type: ignore[arg-type]
                k -= 1
        else:
            self._root = self._wroot = new
        self._wseq += 1
        node.dead = True
        return _DONE

    def _rebuild(self, parents: list[Node], idxs: list[int], np: list[int], ns: list[Any], jl: bool, jr: bool) -> bool:
        """Structural write confined to one parent ``P``: its leaf ``k`` becomes ``(np, ns)``
        (possibly over width or under fill), joined with the previous / next leaf when
        ``jl`` / ``jr`` (their edge Nones merge with ours) and with a sibling to push into or
        borrow from; the leaves of that window are spread evenly over as few new leaves as
        fit, and a new copy of ``P`` is published with one slot store (gaps above in place).
        False, nothing changed, when the window leaves ``P`` or ``P`` would leave its fill
        limits (the caller then takes the general path)."""
        P = parents[-1]
        k = idxs[-1]
        children = P.slots
        cap = self.leaf_slots
        n = len(ns)
        j, e = k, k + 1  # window [j, e) of P's children
        if jl:
            if not k:
                return False
            j = k - 1
        if jr:
            if k + 1 >= len(children):
                return False
            e = k + 2
        if j == k and e == k + 1:
            if n > cap:  # overflow: push into a sibling with room, else split
                if k and len(children[k - 1].slots) + n <= 2 * cap - 2:
                    j = k - 1
                elif k + 1 < len(children) and len(children[k + 1].slots) + n <= 2 * cap - 2:
                    e = k + 2
            elif k:  # underfull: merge with / borrow from a sibling
                j = k - 1
            elif k + 1 < len(children):
                e = k + 2
            else:
                return False
        piv: list[int] = []
        sl: list[Any] = []
        for c in range(j, e):
            if c == k:
                cp, cs = np, ns
            else:
                cp, cs = children[c].pivots, children[c].slots
            if sl and sl[-1] is None and cs[0] is None:  # join the Nones across the boundary
                del piv[-1]
                del sl[-1]
            piv += cp
            sl += cs
        total = len(sl)
        parts = -(-total // cap)
        nparent = len(children) - (e - j) + parts
        if total // parts < self._lmin or nparent > self.internal_slots:
            return False
        if nparent < (self._imin if len(parents) > 1 else 2):
            return False
        size, extra = divmod(total, parts)
        lo = P.pivots[j - 1] + 1 if j else self._leaf_min(parents[:-1], idxs[:-1])
        new: list[Node] = []
        newp: list[int] = []
        newg: list[int] = []
        a = 0
        for q in range(parts):
            b = a + size + (1 if q < extra else 0)
            qp = piv[a:b]
            qs = sl[a:b]
            new.append(Node(qp, qs, None, True, 0))
            newp.append(qp[-1])
            newg.append(_leaf_gap_after(qp, qs, lo))
            lo = qp[-1] + 1
            a = b
        gaps = P.gaps
        assert gaps is not None
        newgaps = gaps[:j] + newg + gaps[e:]
        parent = Node(P.pivots[:j] + newp + P.pivots[e:], children[:j] + new + children[e:], newgaps, False, 0)
        old = children[j:e]
        self._wseq += 1  # odd: a write is in progress
        if len(parents) > 1:
            parents[-2].slots[idxs[-2]] = parent  # the single publishing store
            self._propagate(parents[:-1], idxs[:-1], max(newgaps))
        else:
            self._root = self._wroot = parent
        self._wseq += 1
        P.dead = True
        for c in old:
            c.dead = True
        return True

    @staticmethod
    def _edge_slot(parents: list[Node], idxs: list[int], step: int) -> Any:
        """The last slot of the previous leaf (``step=-1``) or the first of the next (``+1``)."""
        k = len(parents) - 1
        while k >= 0:
            j = idxs[k] + step
            if 0 <= j < len(parents[k].slots):
                node = parents[k].slots[j]
                while not node.leaf:
                    node = node.slots[-1 if step < 0 else 0]
                return node.slots[-1 if step < 0 else 0]
            k -= 1
        return 0  # no neighbouring leaf: nothing to join (not None)

    def _clear(self) -> None:
        old = self._root
        self._replaced.append(old)
        self._wroot = Node([LAST], [None], None, True, self._gen)
        self._wcount = 0
        self._publish()
        stack = [old]  # kill every old node so resumable readers restart
        while stack:
            node = stack.pop()
            node.dead = True
            if not node.leaf:
                stack.extend(node.slots)

    def replace(self, old: Iterable[VMA], new: Iterable[VMA]) -> None:
        """Atomic for lock-free readers too: the whole replacement is published once."""
        tid = threading.get_ident()
        self._deferring.add(tid)
        try:
            super().replace(old, new)  # path copies throughout; _commit publishes once
        finally:
            self._deferring.discard(tid)

    # rebalancing ---------------------------------------------------------
    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def _check(self) -> None:
        # the newest version: equal to the published one except in the instant between a
        # ``replace``'s last primitive and its publish (both versions are then valid)
        validate(self._wroot, self.leaf_slots, self.internal_slots, self._wcount)
        if self._wroot is not self._root:
            validate(self._root, self.leaf_slots, self.internal_slots, self._count)

    def _stats(self) -> dict[str, Any]:
        st = tree_stats(self._root, self.leaf_slots, self.internal_slots)
        st["restarts"] = sum(self._restarts.copy().values())
        return st
