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

Concurrency (RCU mode, copy-on-write by path copying)
-----------------------------------------------------
Writers are serialised by the base class's mutex.  A write never modifies a
published node: it copies every node it touches (the path from the root down,
plus any sibling it pushes into, borrows from or merges with), edits the
private copies, and publishes the new version with **one reference store**
(``self._root = new_root``).  Then the replaced originals are marked
``dead``.  So every version reachable from a root is immutable, and:

* a point query (``find``, ``lookup``, ``find_prev``, ``intersection``,
  ``probe``) or an eager walk (``overlapping``, ``_batch_from`` behind
  ``__iter__``, ``find_gap``) loads the root once and runs on that version:
  the result is exactly the state at the instant of the load -- an atomic
  snapshot, linearizable, with no restart needed;
* a *resumable* walk (the ``_iter_from`` cursor, like the kernel's
  ``mas_find``/``mas_next`` loop, which yields lazily while writers run)
  checks each leaf it steps onto; on a ``dead`` leaf it restarts from the
  current root at the address it has reached (never repeating a VMA) and
  counts the restart (``stats()["restarts"]``).  The first leaf after a
  (re)start is always consumed, so every restart makes progress.

We choose path copying over the kernel's in-place parent slot swap because
it makes multi-leaf walks (``overlapping``'s atomic snapshot) consistent
without per-leaf validation; the price is ``height`` node copies per write.
``replace`` publishes once, so readers never see half of a split or merge.
Nothing here relies on the GIL beyond single reference loads and stores.

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

Writes: ``_insert`` stores the VMA over its ``None`` slot (1 slot becomes up
to 3); ``_remove`` stores ``None`` over its slot and swallows neighbouring
``None`` slots (``_join_nulls`` moves a leaf boundary when the neighbour is in
the next leaf).  ``_fixup`` then walks up: a node over its width first pushes
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
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

from .base import VMAIndex
from .maple_node import LAST, Node, leaf_gap, min_fill, node_gap, tree_stats, validate
from .vma import TASK_SIZE, VMA, InvariantError

__all__ = ["MapleIndex"]

Path = tuple[list[Node], list[int], list[int]]  # nodes root..leaf, slot taken at each, node mins


class MapleIndex(VMAIndex):
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

    # ------------------------------------------------------------------
    # readers (lock-free: each loads self._root once)
    # ------------------------------------------------------------------
    def _find(self, addr: int) -> VMA | None:
        root = node = self._root
        while True:
            # one descent: bisect on each node's pivot list (C speed)
            while not node.leaf:
                node = node.slots[bisect_left(node.pivots, addr)]
            piv = node.pivots
            i = bisect_left(piv, addr)
            v = node.slots[i]
            if v is not None:
                return v
            if i + 1 < len(piv):
                return node.slots[i + 1]  # type: ignore[no-any-return]
            # addr is in the leaf's trailing None: the answer starts the next leaf
            addr = piv[-1] + 1
            if addr >= TASK_SIZE:
                return None
            node = root

    def _lookup(self, addr: int) -> VMA | None:
        node = self._root
        while not node.leaf:
            node = node.slots[bisect_left(node.pivots, addr)]
        return node.slots[bisect_left(node.pivots, addr)]  # type: ignore[no-any-return]

    def _intersection(self, start: int, end: int) -> VMA | None:
        v = self._find(start)
        return v if v is not None and v.start < end else None

    def _find_prev(self, addr: int) -> VMA | None:
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
            while i > 0:  # at most two steps back: Nones are never adjacent
                i -= 1
                v = slots[i]
                if v is not None:
                    return v  # type: ignore[no-any-return]
            addr = lo  # nothing ends in this leaf below addr: try the previous leaf
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
                    tid = threading.get_ident()
                    self._restarts[tid] = self._restarts.get(tid, 0) + 1
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

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        root = self._root
        if top_down:
            return self._gap_down(root, 0, LAST, length, low, high)
        return self._gap_up(root, 0, LAST, length, low, high)

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
            while i <= j:
                if slots[i] is None:
                    s = piv[i - 1] + 1 if i else lo
                    if s < low:
                        s = low
                    e = piv[i] + 1
                    if (e if e < high else high) - s >= length:
                        return s
                i += 1
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

    def _gap_down(self, node: Node, lo: int, hi: int, length: int, low: int, high: int) -> int | None:
        """Highest fit in ``node`` (range ``[lo, hi]``), like ``mas_empty_area_rev``."""
        piv = node.pivots
        slots = node.slots
        i = bisect_left(piv, low) if low > lo else 0
        j = bisect_left(piv, high - 1) if high <= hi else len(piv) - 1
        if node.leaf:
            while j >= i:
                if slots[j] is None:
                    e = piv[j] + 1
                    if e > high:
                        e = high
                    s = piv[j - 1] + 1 if j else lo
                    if e - (s if s > low else low) >= length:
                        return e - length
                j -= 1
            return None
        gaps = node.gaps
        assert gaps is not None
        while j >= i:
            if gaps[j] >= length:
                clo = piv[j - 1] + 1 if j else lo
                chi = piv[j]
                if (chi + 1 if chi < high else high) - (clo if clo > low else low) >= length:
                    r = self._gap_down(slots[j], clo, chi, length, low, high)
                    if r is not None:
                        return r
            j -= 1
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
    def _copy(self, node: Node) -> Node:
        """A private copy of a published node (copy-on-write); the original dies at publish."""
        self._replaced.append(node)
        gaps = node.gaps
        return Node(node.pivots.copy(), node.slots.copy(), None if gaps is None else gaps.copy(), node.leaf, self._gen)

    def _wpath(self, addr: int) -> Path:
        """Descend the version being built to ``addr``, making every node on the path private."""
        gen = self._gen
        node = self._wroot
        if node.gen != gen:
            node = self._wroot = self._copy(node)
        nodes = [node]
        idxs: list[int] = []
        mins = [0]
        lo = 0
        while not node.leaf:
            piv = node.pivots
            i = bisect_left(piv, addr)
            if i:
                lo = piv[i - 1] + 1
            child = node.slots[i]
            if child.gen != gen:
                child = node.slots[i] = self._copy(child)
            idxs.append(i)
            nodes.append(child)
            mins.append(lo)
            node = child
        return nodes, idxs, mins

    def _publish(self) -> None:
        """Make the version being built visible with one reference store, then kill the old nodes."""
        if self._deferring and threading.get_ident() in self._deferring:
            return
        self._count = self._wcount
        self._root = self._wroot  # the single publishing store
        self._gen += 1
        for node in self._replaced:
            node.dead = True
        self._replaced = []

    def _insert(self, vma: VMA) -> None:
        start, last = vma.start, vma.end - 1
        path = self._wpath(start)
        leaf = path[0][-1]
        piv = leaf.pivots
        i = bisect_left(piv, start)
        lo = piv[i - 1] + 1 if i else path[2][-1]
        hi = piv[i]
        if leaf.slots[i] is not None or hi < last:
            raise InvariantError(f"maple insert: {vma!r} does not fit the None slot {i} [{lo:#x}, {hi:#x}]")
        newp = [last]
        news: list[VMA | None] = [vma]
        if start > lo:
            newp.insert(0, start - 1)
            news.insert(0, None)
        if last < hi:
            newp.append(hi)
            news.append(None)
        piv[i : i + 1] = newp
        leaf.slots[i : i + 1] = news
        self._wcount += 1
        self._fixup(path)
        self._publish()

    def _remove(self, vma: VMA) -> None:
        start = vma.start
        path = self._wpath(start)
        leaf = path[0][-1]
        piv = leaf.pivots
        slots = leaf.slots
        i = bisect_left(piv, start)
        if slots[i] != vma or piv[i] != vma.end - 1:
            raise InvariantError(f"maple remove: slot {i} holds {slots[i]!r}, not {vma!r}")
        slots[i] = None
        if i + 1 < len(slots) and slots[i + 1] is None:  # swallow the None after
            del piv[i]
            del slots[i]
        if i > 0 and slots[i - 1] is None:  # and the None before
            del piv[i - 1]
            del slots[i - 1]
            i -= 1
        self._wcount -= 1
        n = len(slots)
        if self._fixup(path) or (i == 0 and path[2][-1] > 0) or (i >= n - 1 and piv[-1] < LAST):
            # a rebalance moved slots, or the None sits at a leaf edge: check the neighbours
            self._join_nulls(start)
        self._publish()

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
            super().replace(old, new)
        finally:
            self._deferring.discard(tid)
            with self._mutex:
                self._publish()

    # rebalancing ---------------------------------------------------------
    def _fixup(self, path: Path) -> bool:
        """Restore widths and minimum fill bottom-up along a private path; propagate gaps.

        ``path``'s leaf has just been edited in place.  Gap propagation stops
        as soon as a parent's gap entry is unchanged (nothing above can change).
        """
        nodes, idxs, mins = path
        k = len(nodes) - 1
        moved = False
        while k > 0:
            node = nodes[k]
            parent = nodes[k - 1]
            i = idxs[k - 1]
            n = len(node.slots)
            if node.leaf:
                cap, low = self.leaf_slots, self._lmin
            else:
                cap, low = self.internal_slots, self._imin
            if n > cap:
                self._overflow(parent, i, mins[k - 1], cap)
            elif n < low:
                j = i - 1 if i > 0 else i  # merge with / borrow from a sibling
                total = len(parent.slots[j].slots) + len(parent.slots[j + 1].slots)
                self._redistribute(parent, j, 2, 1 if total <= cap else 2, mins[k - 1])
            else:
                g = leaf_gap(node, mins[k]) if node.leaf else max(node.gaps)  # type: ignore[arg-type]
                gaps = parent.gaps
                assert gaps is not None
                if gaps[i] == g:
                    return moved  # propagation stops: nothing above changes
                gaps[i] = g
                k -= 1
                continue
            moved = True
            k -= 1
        root = nodes[0]
        n = len(root.slots)
        if n > (self.leaf_slots if root.leaf else self.internal_slots):
            new_root = Node([LAST], [root], [0], False, self._gen)
            self._redistribute(new_root, 0, 1, 2, 0)  # height + 1
            self._wroot = new_root
            moved = True
        elif not root.leaf and n == 1:
            self._wroot = root.slots[0]  # height - 1 (root is private: nothing to kill)
        return moved

    def _overflow(self, parent: Node, i: int, plo: int, cap: int) -> None:
        """Child ``i`` is over width: push into a sibling with room, else split it."""
        n = len(parent.slots[i].slots)
        if i > 0 and len(parent.slots[i - 1].slots) + n <= 2 * cap - 2:
            self._redistribute(parent, i - 1, 2, 2, plo)
        elif i + 1 < len(parent.slots) and len(parent.slots[i + 1].slots) + n <= 2 * cap - 2:
            self._redistribute(parent, i, 2, 2, plo)
        else:
            self._redistribute(parent, i, 1, 2, plo)

    def _redistribute(self, parent: Node, i: int, count: int, parts: int, plo: int) -> None:
        """Replace children ``i .. i+count-1`` of private ``parent`` by ``parts`` new nodes
        holding the same slots, spread evenly (split, push, merge and borrow all use this)."""
        gen = self._gen
        olds = parent.slots[i : i + count]
        leaf = olds[0].leaf
        piv: list[int] = []
        sl: list[Any] = []
        gp: list[int] = []
        for c in olds:
            piv += c.pivots
            sl += c.slots
            if not leaf:
                gp += c.gaps
            if c.gen != gen:
                self._replaced.append(c)
        n = len(sl)
        size, extra = divmod(n, parts)
        lo = parent.pivots[i - 1] + 1 if i else plo
        new: list[Node] = []
        newp: list[int] = []
        newg: list[int] = []
        a = 0
        for p in range(parts):
            b = a + size + (1 if p < extra else 0)
            nd = Node(piv[a:b], sl[a:b], None if leaf else gp[a:b], leaf, gen)
            new.append(nd)
            newp.append(piv[b - 1])
            newg.append(node_gap(nd, lo))
            lo = piv[b - 1] + 1
            a = b
        parent.slots[i : i + count] = new
        parent.pivots[i : i + count] = newp
        gaps = parent.gaps
        assert gaps is not None
        gaps[i : i + count] = newg

    def _join_nulls(self, addr: int) -> None:
        """Keep Nones non-adjacent across leaves: merge the None at ``addr`` with a
        neighbouring leaf's edge None by moving the leaf boundary (a spanning store)."""
        while True:
            path = self._wpath(addr)
            leaf = path[0][-1]
            piv = leaf.pivots
            i = bisect_left(piv, addr)
            if leaf.slots[i] is not None:
                return
            slots = leaf.slots
            if (i + 1 < len(slots) and slots[i + 1] is None) or (i > 0 and slots[i - 1] is None):
                j = i if slots[i + 1 : i + 2] == [None] else i - 1  # a merge below put Nones side by side
                del piv[j]
                del slots[j]
                self._fixup(path)
                continue
            lo = path[2][-1]
            if i == 0 and lo > 0:
                prev = self._wpath(lo - 1)
                if prev[0][-1].slots[-1] is None:
                    self._pair(prev, path)
                    continue
            if i == len(piv) - 1 and piv[-1] < LAST:
                nxt = self._wpath(piv[-1] + 1)
                if nxt[0][-1].slots[0] is None:
                    self._pair(path, nxt)
                    continue
            return

    def _pair(self, pa: Path, pb: Path) -> None:
        """Leaves A (``pa``) and B (``pb``, the next leaf) meet with None on both sides:
        merge those Nones and spread the slots over A and B, moving their boundary."""
        an, ai, _ = pa
        bn, bi, _ = pb
        a, b = an[-1], bn[-1]
        piv = a.pivots[:-1] + b.pivots
        sl = a.slots[:-1] + b.slots
        k = len(sl) // 2
        m = piv[k - 1]  # the new boundary: A's max
        a.pivots, a.slots = piv[:k], sl[:k]
        b.pivots, b.slots = piv[k:], sl[k:]
        d = 0  # the lowest common ancestor holds the boundary pivot
        while an[d + 1] is bn[d + 1]:
            d += 1
        an[d].pivots[ai[d]] = m
        for node in an[d + 1 : -1]:  # A's spine below it ends at the boundary too
            node.pivots[-1] = m
        self._regap(an, ai)
        self._regap(bn, bi)
        self._fixup(self._wpath(m))
        self._fixup(self._wpath(m + 1))

    @staticmethod
    def _regap(nodes: list[Node], idxs: list[int]) -> None:
        """Recompute every gap along a private path (after a boundary moved)."""
        mins = [0]
        for k in range(1, len(nodes)):
            i = idxs[k - 1]
            mins.append(nodes[k - 1].pivots[i - 1] + 1 if i else mins[-1])
        for k in range(len(nodes) - 1, 0, -1):
            gaps = nodes[k - 1].gaps
            assert gaps is not None
            gaps[idxs[k - 1]] = node_gap(nodes[k], mins[k])

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
