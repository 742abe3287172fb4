"""The maple tree's general write path: path copying into private nodes (``MapleIndex``'s mixin).

Invariant
---------
Used for the writes the in-place paths of ``structures.backends.maple.index`` cannot do: a
leaf's parent changes shape (splits, merges, borrows reaching above the
parent), the height changes, ``replace`` (one publish for the whole
replacement) and ``clear``.  Every node it edits is a private copy: ``gen ==
self._gen`` marks a copy made by the running write, anything else is
published and is copied (``_copy``) before being touched.  Nothing here makes
a node visible; ``MapleIndex._publish`` does, with one reference store:

* root mode (``_pdepth == 0``): the path from ``_wroot`` down is copied and
  ``_wroot`` becomes the new root;
* subtree mode (``_pdepth = d > 0``): only nodes at depth >= ``d`` are
  copied; the copy of the single node at depth ``d`` (``_ptop``) replaces
  its live parent's slot.  If the write must change a node above depth
  ``d`` (``_fixup`` finds the top over width or under fill, or a second
  subtree is needed) it raises ``_Abort``: the private copies are dropped
  (nothing live was touched) and ``_slow`` redoes the write in root mode.

Layout
------
::

    _wroot / live parent --slot--> private copy (gen == _gen) --> private ... --> private leaf
                                        |   edits: slices, pivots, gaps
                                        +-- untouched children are shared with the live tree

    path = (nodes root..leaf, slot taken at each level, each node's min)

API
---
``PathCopyWriter`` (mixin; ``MapleIndex`` supplies the state): ``_copy``,
``_wpath``, ``_slow``, ``_insert_slow``, ``_remove_slow``, ``_fixup``,
``_overflow``, ``_redistribute``, ``_join_nulls``, ``_pair``, ``_regap``;
``_Abort``.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from structures.backends.maple.node import LAST, Node, leaf_gap, node_gap
from structures.vma import VMA, InvariantError

__all__ = ["PathCopyWriter", "Path"]

Path = tuple[list[Node], list[int], list[int]]  # nodes root..leaf, slot taken at each, node mins


class _Abort(Exception):
    """A subtree-mode write found it must change a live node: redo it with a root path copy."""


class PathCopyWriter:
    """Path-copying writer methods; called with the index mutex held."""

    leaf_slots: int
    internal_slots: int
    _lmin: int
    _imin: int
    _gen: int
    _root: Node
    _wroot: Node
    _count: int
    _wcount: int
    _replaced: list[Node]
    _deferring: set[int]
    _pdepth: int
    _ptop: tuple[list[Node], list[int], Node, Node] | None

    def _copy(self, node: Node) -> Node:
        """A private copy of a published node (copy-on-write); the original dies at publish."""
        self._replaced.append(node)
        gaps = node.gaps
        return Node(node.pivots.copy(), node.slots.copy(), None if gaps is None else gaps.copy(), node.leaf, self._gen)

    def _wpath(self, addr: int) -> Path:
        """Descend the version being built to ``addr``, making every node on the path private."""
        gen = self._gen
        d = self._pdepth
        node = self._wroot
        if not d and node.gen != gen:
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
            if len(nodes) == d:  # child is the top of the private subtree; node is live
                top = self._ptop
                if top is None:
                    top = self._ptop = (nodes.copy(), [*idxs, i], child, self._copy(child))
                elif top[2] is not child:
                    raise _Abort  # a second subtree: needs a path copy from the root
                child = top[3]
            elif child.gen != gen and len(nodes) > d:
                child = node.slots[i] = self._copy(child)
            idxs.append(i)
            nodes.append(child)
            mins.append(lo)
            node = child
        return nodes, idxs, mins

    def _slow(self, op: Callable[[VMA], None], vma: VMA, height: int) -> None:
        """A structural write ``_rebuild`` could not confine to one parent: first copy
        only the subtree rooted at the leaf's grandparent (published by one slot store);
        if the change reaches higher, throw the private copies away (nothing live was
        touched) and copy the path from the root."""
        if (
            height >= 4
            and self._wroot is self._root
            and (not self._deferring or threading.get_ident() not in self._deferring)
        ):
            self._pdepth = height - 3  # _rebuild failed: the leaf's parent changes shape
            try:
                op(vma)
                return
            except _Abort:
                self._ptop = None
                self._replaced = []
                self._wcount = self._count
                self._gen += 1  # the discarded copies stay unreachable
            finally:
                self._pdepth = 0
        op(vma)

    def _insert_slow(self, vma: VMA) -> None:
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
        self._fixup(path)  # published by _commit

    def _remove_slow(self, vma: VMA) -> None:
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
        # published by _commit

    def _fixup(self, path: Path) -> bool:
        """Restore widths and minimum fill bottom-up along a private path; propagate gaps.

        ``path``'s leaf has just been edited in place.  Gap propagation stops
        as soon as a parent's gap entry is unchanged (nothing above can change).
        """
        nodes, idxs, mins = path
        k = len(nodes) - 1
        moved = False
        d = self._pdepth
        while k > 0:
            if k <= d:  # subtree mode: the parent is live; _publish stores the top's gap
                n = len(nodes[k].slots)
                if n > (self.leaf_slots if nodes[k].leaf else self.internal_slots) or n < (
                    self._lmin if nodes[k].leaf else self._imin
                ):
                    raise _Abort
                return moved
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
        if d:
            return moved
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
        self._regap(an, ai, self._pdepth)
        self._regap(bn, bi, self._pdepth)
        self._fixup(self._wpath(m))
        self._fixup(self._wpath(m + 1))

    @staticmethod
    def _regap(nodes: list[Node], idxs: list[int], top: int) -> None:
        """Recompute every gap along a private path (after a boundary moved)."""
        mins = [0]
        for k in range(1, len(nodes)):
            i = idxs[k - 1]
            mins.append(nodes[k - 1].pivots[i - 1] + 1 if i else mins[-1])
        for k in range(len(nodes) - 1, top, -1):  # parents above ``top`` are live
            gaps = nodes[k - 1].gaps
            assert gaps is not None
            gaps[idxs[k - 1]] = node_gap(nodes[k], mins[k])
