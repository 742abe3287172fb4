"""The maple tree's general write path: path copying into private nodes (the fallback of ``store`` and ``rebuild``).

Invariant
---------
Used for the writes the publishing paths of ``structures.backends.maple.store`` and
``rebuild`` cannot do: a None that must join the neighbouring leaf's None under another parent
(``_join_nulls`` moves the leaf boundary), a window that cannot keep the
minimum fill, ``replace`` (one publish for the whole replacement) and
``clear``.  Every node it edits is a private copy: ``gen ==
self._gen`` marks a copy made by the running write, anything else is
published and is copied (``_copy``) before being touched.  Nothing here makes
a node visible; ``store.InPlaceWriter._publish`` does, with one reference store:

* root mode (``_subtree_depth == 0``): the path from ``_wroot`` down is copied and
  ``_wroot`` becomes the new root;
* subtree mode (``_subtree_depth = d > 0``): only nodes at depth >= ``d`` are
  copied; the copy of the single node at depth ``d`` (``_subtree_top``) replaces
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

    path = (nodes root..leaf, slot taken at each level, each node's node_min)

API
---
``PathCopyWriter`` (mixin under ``store.InPlaceWriter``; ``MapleIndex``
supplies the state, declared here): ``_copy``, ``_wpath``, ``_slow``,
``_insert_slow``, ``_remove_slow``, ``_fixup``, ``_overflow``,
``_redistribute``, ``_join_nulls``, ``_pair``, ``_regap``; ``_Abort``.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from structures.backends.maple.node import LAST, Node, leaf_gap, new_node, node_gap
from structures.vma import VMA, InvariantError

__all__ = ["PathCopyWriter", "Path"]

Path = tuple[list[Node], list[int], list[int]]  # nodes root..leaf, slot taken at each, each node_min


class _Abort(Exception):
    """A subtree-mode write found it must change a live node: redo it with a root path copy."""


class PathCopyWriter:
    """Path-copying writer methods; called with the index mutex held."""

    leaf_slots: int
    internal_slots: int
    _leaf_fill_min: int
    _internal_fill_min: int
    _gen: int
    _root: Node
    _wroot: Node
    _count: int
    _wcount: int
    _replaced: list[Node]
    _deferring: set[int]
    _subtree_depth: int
    _subtree_top: tuple[list[Node], list[int], Node, Node] | None
    _nodes_allocated: int
    _nodes_copied: int
    _nodes_freed: int
    _rebalances: int

    def _copy(self, node: Node) -> Node:
        """A private copy of a published node (copy-on-write); the original dies at publish."""
        self._replaced.append(node)
        self._nodes_allocated += 1
        self._nodes_copied += 1
        gaps = node.gaps
        return new_node(
            node.pivots.copy(), node.slots.copy(), None if gaps is None else gaps.copy(), node.leaf, self._gen
        )

    def _wpath(self, addr: int) -> Path:
        """Descend the version being built to ``addr``, making every node on the path private."""
        gen = self._gen
        depth = self._subtree_depth
        node = self._wroot
        if not depth and node.gen != gen:
            node = self._wroot = self._copy(node)
        nodes = [node]
        idxs: list[int] = []
        mins = [0]
        node_min = 0
        while not node.leaf:
            piv = node.pivots
            i = bisect_left(piv, addr)
            if i:
                node_min = piv[i - 1] + 1
            child = node.slots[i]
            if len(nodes) == depth:  # child is the top of the private subtree; node is live
                top = self._subtree_top
                if top is None:
                    top = self._subtree_top = (nodes.copy(), [*idxs, i], child, self._copy(child))
                elif top[2] is not child:
                    raise _Abort  # a second subtree: needs a path copy from the root
                child = top[3]
            elif child.gen != gen and len(nodes) > depth:
                child = node.slots[i] = self._copy(child)
            idxs.append(i)
            nodes.append(child)
            mins.append(node_min)
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
            self._subtree_depth = height - 3  # _rebuild failed: the leaf's parent changes shape
            try:
                op(vma)
                return
            except _Abort:
                self._subtree_top = None
                self._replaced = []
                self._wcount = self._count
                self._gen += 1  # the discarded copies stay unreachable
            finally:
                self._subtree_depth = 0
        op(vma)

    def _insert_slow(self, vma: VMA) -> None:
        start, last = vma.start, vma.end - 1
        path = self._wpath(start)
        leaf = path[0][-1]
        piv = leaf.pivots
        i = bisect_left(piv, start)
        slot_min = piv[i - 1] + 1 if i else path[2][-1]
        slot_last = piv[i]
        if leaf.slots[i] is not None or slot_last < last:
            raise InvariantError(
                f"maple insert: {vma!r} does not fit the None slot {i} [{slot_min:#x}, {slot_last:#x}]"
            )
        new_pivots = [last]
        new_slots: list[VMA | None] = [vma]
        if start > slot_min:
            new_pivots.insert(0, start - 1)
            new_slots.insert(0, None)
        if last < slot_last:
            new_pivots.append(slot_last)
            new_slots.append(None)
        piv[i : i + 1] = new_pivots
        leaf.slots[i : i + 1] = new_slots
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
        depth = self._subtree_depth
        while k > 0:
            if k <= depth:  # subtree mode: the parent is live; _publish stores the top's gap
                n = len(nodes[k].slots)
                if n > (self.leaf_slots if nodes[k].leaf else self.internal_slots) or n < (
                    self._leaf_fill_min if nodes[k].leaf else self._internal_fill_min
                ):
                    raise _Abort
                return moved
            node = nodes[k]
            parent = nodes[k - 1]
            i = idxs[k - 1]
            n = len(node.slots)
            if node.leaf:
                cap, fill_min = self.leaf_slots, self._leaf_fill_min
            else:
                cap, fill_min = self.internal_slots, self._internal_fill_min
            if n > cap:
                self._overflow(parent, i, mins[k - 1], cap)
            elif n < fill_min:
                j = i - 1 if i > 0 else i  # merge with / borrow from a sibling
                total = len(parent.slots[j].slots) + len(parent.slots[j + 1].slots)
                self._redistribute(parent, j, 2, 1 if total <= cap else 2, mins[k - 1])
            else:
                gap = leaf_gap(node, mins[k]) if node.leaf else max(node.gaps)  # type: ignore[arg-type]
                gaps = parent.gaps
                assert gaps is not None
                if gaps[i] == gap:
                    return moved  # propagation stops: nothing above changes
                gaps[i] = gap
                k -= 1
                continue
            moved = True
            k -= 1
        if depth:
            return moved
        root = nodes[0]
        n = len(root.slots)
        if n > (self.leaf_slots if root.leaf else self.internal_slots):
            new_root = new_node([LAST], [root], [0], False, self._gen)
            self._nodes_allocated += 1
            self._rebalances += 1
            self._redistribute(new_root, 0, 1, 2, 0)  # height + 1
            self._wroot = new_root
            moved = True
        elif not root.leaf and n == 1:
            self._wroot = root.slots[0]  # height - 1 (root is private: nothing to kill)
            self._rebalances += 1
        return moved

    def _overflow(self, parent: Node, i: int, parent_min: int, cap: int) -> None:
        """Child ``i`` is over width: push into a sibling with room, else split it."""
        n = len(parent.slots[i].slots)
        if i > 0 and len(parent.slots[i - 1].slots) + n <= 2 * cap - 2:
            self._redistribute(parent, i - 1, 2, 2, parent_min)
        elif i + 1 < len(parent.slots) and len(parent.slots[i + 1].slots) + n <= 2 * cap - 2:
            self._redistribute(parent, i, 2, 2, parent_min)
        else:
            self._redistribute(parent, i, 1, 2, parent_min)

    def _redistribute(self, parent: Node, i: int, count: int, parts: int, parent_min: int) -> None:
        """Replace children ``i .. i+count-1`` of private ``parent`` by ``parts`` new nodes
        holding the same slots, spread evenly (split, push, merge and borrow all use this)."""
        gen = self._gen
        olds = parent.slots[i : i + count]
        leaf = olds[0].leaf
        pivots: list[int] = []
        slots: list[Any] = []
        child_gaps: list[int] = []
        for child in olds:
            pivots += child.pivots
            slots += child.slots
            if not leaf:
                child_gaps += child.gaps
            if child.gen != gen:
                self._replaced.append(child)
        n = len(slots)
        size, extra = divmod(n, parts)
        node_min = parent.pivots[i - 1] + 1 if i else parent_min
        new: list[Node] = []
        new_lasts: list[int] = []
        new_gaps: list[int] = []
        a = 0
        for q in range(parts):
            b = a + size + (1 if q < extra else 0)  # part q takes slots [a, b)
            node = new_node(pivots[a:b], slots[a:b], None if leaf else child_gaps[a:b], leaf, gen)
            new.append(node)
            new_lasts.append(pivots[b - 1])
            new_gaps.append(node_gap(node, node_min))
            node_min = pivots[b - 1] + 1
            a = b
        self._nodes_allocated += parts
        self._rebalances += 1
        parent.slots[i : i + count] = new
        parent.pivots[i : i + count] = new_lasts
        gaps = parent.gaps
        assert gaps is not None
        gaps[i : i + count] = new_gaps

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
            node_min = path[2][-1]
            if i == 0 and node_min > 0:
                prev = self._wpath(node_min - 1)
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
        a_nodes, a_idxs, _ = pa
        b_nodes, b_idxs, _ = pb
        a, b = a_nodes[-1], b_nodes[-1]
        pivots = a.pivots[:-1] + b.pivots
        slots = a.slots[:-1] + b.slots
        k = len(slots) // 2
        boundary = pivots[k - 1]  # the new boundary: A's node_last
        self._rebalances += 1
        a.pivots, a.slots = pivots[:k], slots[:k]
        b.pivots, b.slots = pivots[k:], slots[k:]
        d = 0  # the lowest common ancestor holds the boundary pivot
        while a_nodes[d + 1] is b_nodes[d + 1]:
            d += 1
        a_nodes[d].pivots[a_idxs[d]] = boundary
        for node in a_nodes[d + 1 : -1]:  # A's spine below it ends at the boundary too
            node.pivots[-1] = boundary
        self._regap(a_nodes, a_idxs, self._subtree_depth)
        self._regap(b_nodes, b_idxs, self._subtree_depth)
        self._fixup(self._wpath(boundary))
        self._fixup(self._wpath(boundary + 1))

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
