"""The ``rbtree`` backend: VMAs in an augmented red-black tree (pre-6.1 ``mm_rb``).

Invariant
---------
One ``VMANode`` per stored VMA in an ``rbtree.RBTree`` ordered by ``start``
(VMAs never overlap, so in-order is address order and ``next`` threads the
VMA list, the kernel's ``vm_next``/``vm_prev``).  Two augmentations, kept by
the ``propagate``/``copy``/``rotate`` callbacks of ``_VMAAugment``::

    gap(n)          = n.start - n.prev.end      (n.start for the first VMA)
    subtree_gap(n)  = max(gap(n), subtree_gap(n.left), subtree_gap(n.right))
                      (pre-6.1 rb_subtree_gap: largest free gap just before
                       a VMA of the subtree)
    subtree_last(n) = max(n.end - 1, subtree_last(n.left), subtree_last(n.right))
                      (interval tree ITSUBTREE)

``gap(n)`` depends on ``n.prev``, so inserting or erasing a VMA also changes
its successor's own gap: both writers re-propagate from the successor.  The
free run after the last VMA, ``[tree.last.end, TASK_SIZE)``, is no node's gap;
``find_gap`` checks it separately, like the kernel's ``highest_vm_end``.

Layout
------
::

      VMANode
      +--------+------+-------+-----+------+------+
      | parent | left | right | red | prev | next |   RBNode
      +--------+------+-------+-----+------+------+
      | start  | end  |  vma  | gap | subtree_gap | subtree_last |
      +--------+------+-------+-----+-------------+--------------+

Every read is one descent from the root (``find``/``lookup``/``find_prev``/
``intersection``); ``overlapping`` and iteration follow ``next`` after it.
``find_gap`` is ``unmapped_area`` / ``unmapped_area_topdown`` adapted to the
half-open ``[low, high)`` window: O(log n) using ``subtree_gap`` to skip
subtrees with no large enough gap.

API
---
``RBTreeIndex`` (registry name ``rbtree``): the full ``VMAIndex`` interface;
``stats()`` adds ``black_height`` and ``red``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from .base import VMAIndex
from .rbtree import AugmentCallbacks, RBNode, RBTree
from .vma import VMA, InvariantError

__all__ = ["RBTreeIndex", "VMANode"]


class VMANode(RBNode):
    """A tree node holding one VMA (its bounds copied out for the hot loops)."""

    __slots__ = ("end", "gap", "start", "subtree_gap", "subtree_last", "vma")

    def __init__(self, vma: VMA) -> None:
        # every slot set here, RBNode.__init__ not called: 0.32 -> 0.22 us per node
        # (min of 30 interleaved rounds)
        self.parent = self.left = self.right = self.prev = self.next = None
        self.red = True
        self.vma = vma
        self.start = vma.start
        self.end = vma.end
        self.gap = 0
        self.subtree_gap = 0
        self.subtree_last = vma.end - 1

    def describe(self) -> str:
        return f"VMANode[{self.start:#x}-{self.end:#x}]"

    def __repr__(self) -> str:
        return f"<{self.describe()} gap={self.gap:#x} subtree_gap={self.subtree_gap:#x}>"


class _VMAAugment(AugmentCallbacks):
    """``subtree_gap`` + ``subtree_last`` callbacks (one compute for both)."""

    def propagate(self, node: Any, stop: Any) -> None:
        while node is not stop:
            g = node.gap
            m = node.end - 1
            c = node.left
            if c is not None:
                if c.subtree_gap > g:
                    g = c.subtree_gap
                if c.subtree_last > m:
                    m = c.subtree_last
            c = node.right
            if c is not None:
                if c.subtree_gap > g:
                    g = c.subtree_gap
                if c.subtree_last > m:
                    m = c.subtree_last
            if g == node.subtree_gap and m == node.subtree_last:
                break  # unchanged here: unchanged above
            node.subtree_gap = g
            node.subtree_last = m
            node = node.parent

    def copy(self, old: Any, new: Any) -> None:
        new.subtree_gap = old.subtree_gap
        new.subtree_last = old.subtree_last

    def rotate(self, old: Any, new: Any) -> None:
        new.subtree_gap = old.subtree_gap
        new.subtree_last = old.subtree_last
        old.subtree_gap, old.subtree_last = _compute(old)


def _compute(node: Any) -> tuple[int, int]:
    """``(subtree_gap, subtree_last)`` of ``node`` from its own fields and children."""
    g = node.gap
    m = node.end - 1
    for c in (node.left, node.right):
        if c is not None:
            g = max(g, c.subtree_gap)
            m = max(m, c.subtree_last)
    return g, m


class RBTreeIndex(VMAIndex):
    """Augmented red-black tree keyed by start (subtree_last + subtree_gap)."""

    name = "rbtree"
    description = "augmented red-black tree (subtree_last + subtree_gap), threaded list: pre-6.1 mm_rb"
    lockless_reads = False

    def __init__(self, *, lock: object = None) -> None:
        super().__init__(lock=lock)
        self._augment = _VMAAugment()
        self._tree = RBTree(self._augment)

    # ------------------------------------------------------------------
    # descents
    # ------------------------------------------------------------------
    def _find_node(self, addr: int) -> VMANode | None:
        """First node with end > addr: one descent."""
        node = self._tree.root
        best = None
        while node is not None:
            if node.end > addr:
                best = node
                if node.start <= addr:
                    break  # contains addr: nothing left of it ends above addr
                node = node.left
            else:
                node = node.right
        return best

    def _find(self, addr: int) -> VMA | None:
        # The loop of _find_node written out, root and vma read once per call:
        # 0.638 -> 0.621 us per primitive call at 10k VMAs (3%, min of 30
        # interleaved rounds); kept because find is the hottest reader.
        node = self._tree.root
        best = None
        while node is not None:
            if node.end > addr:
                best = node
                if node.start <= addr:
                    return node.vma
                node = node.left
            else:
                node = node.right
        return best.vma if best is not None else None

    def _lookup(self, addr: int) -> VMA | None:
        node = self._tree.root
        while node is not None:
            if addr < node.start:
                node = node.left
            elif addr < node.end:
                return node.vma
            else:
                node = node.right
        return None

    def _find_prev(self, addr: int) -> VMA | None:
        node = self._tree.root
        best = None
        while node is not None:
            if node.end <= addr:
                best = node
                node = node.right
            else:
                node = node.left
        return best.vma if best is not None else None

    def _intersection(self, start: int, end: int) -> VMA | None:
        node = self._find_node(start)
        return node.vma if node is not None and node.start < end else None

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        out: list[VMA] = []
        node = self._find_node(start)
        while node is not None and node.start < end:
            out.append(node.vma)
            node = node.next
        return out

    def _iter_from(self, addr: int) -> Iterator[VMA]:
        node = self._find_node(addr)
        while node is not None:
            yield node.vma
            node = node.next

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        out: list[VMA] = []
        node = self._find_node(addr)
        while node is not None and len(out) < n:
            out.append(node.vma)
            node = node.next
        return out

    def _len(self) -> int:
        return self._tree.count

    def _probe(self, addr: int) -> int:
        visited = 0
        node = self._tree.root
        while node is not None:
            visited += 1
            if addr < node.start:
                node = node.left
            elif addr < node.end:
                break
            else:
                node = node.right
        return visited

    # ------------------------------------------------------------------
    # writers
    # ------------------------------------------------------------------
    def _insert(self, vma: VMA) -> None:
        tree = self._tree
        node = VMANode(vma)
        start = node.start
        parent = None
        left = False
        cur = tree.root
        while cur is not None:
            parent = cur
            left = start < cur.start
            cur = cur.left if left else cur.right
        # Leaf values before linking: the neighbour below is known from the
        # descent (parent, or parent.prev when we hang left of it).
        below = parent if not left else (parent.prev if parent is not None else None)
        node.gap = node.subtree_gap = start - below.end if below is not None else start
        tree.insert(node, parent, left)
        nxt = node.next
        if nxt is not None:  # the successor's gap now starts at our end
            nxt.gap = nxt.start - node.end
            self._augment.propagate(nxt, None)

    def _remove(self, vma: VMA) -> None:
        node = self._find_node(vma.start)
        if node is None or (node.vma is not vma and node.vma != vma):
            raise InvariantError(f"rbtree: _remove({vma!r}) but the tree holds {node!r}")
        prv, nxt = node.prev, node.next
        self._tree.erase(node)
        if nxt is not None:  # the successor's gap now reaches back to prv
            nxt.gap = nxt.start - (prv.end if prv is not None else 0)
            self._augment.propagate(nxt, None)

    def _clear(self) -> None:
        self._tree.clear()

    # ------------------------------------------------------------------
    # find_gap: unmapped_area / unmapped_area_topdown over [low, high)
    # ------------------------------------------------------------------
    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        # The free run before node n is [gs, ge) = [prev.end or 0, n.start).
        # A run fits when   max(gs, low) + length <= min(ge, high), i.e.
        #   ge - gs >= length  and  ge >= low + length  and  gs <= high - length
        # (with low + length <= high, checked by the caller).  subtree_gap >=
        # length is necessary for a subtree to hold one.
        high_limit = high - length  # the highest start that fits
        low_limit = low + length  # the lowest end that fits
        tree = self._tree
        last = tree.last
        top_end = last.end if last is not None else 0  # the run after the last VMA
        if top_down:
            if top_end <= high_limit:
                return high_limit
            return self._gap_topdown(length, low_limit, high_limit, high)
        found = self._gap_bottomup(length, low_limit, high_limit)
        if found is not None:
            return max(found, low)
        if top_end <= high_limit:
            return max(top_end, low)
        return None

    def _gap_bottomup(self, length: int, low_limit: int, high_limit: int) -> int | None:
        """Start of the lowest fitting run before some VMA, or None (unmapped_area)."""
        node = self._tree.root
        if node is None or node.subtree_gap < length:
            return None
        while True:
            # Descend left while the left subtree may hold a run ending high enough.
            left = node.left
            if node.start >= low_limit and left is not None and left.subtree_gap >= length:
                node = left
                continue
            while True:  # check_current
                gap_start = node.start - node.gap
                if gap_start > high_limit:
                    return None  # every later run starts even higher
                if node.start >= low_limit and node.gap >= length:
                    return gap_start
                right = node.right
                if right is not None and right.subtree_gap >= length:
                    node = right
                    break  # descend into the right subtree
                # climb until we come up from a left child: that parent is next in order
                while True:
                    parent = node.parent
                    if parent is None:
                        return None
                    from_left = parent.left is node
                    node = parent
                    if from_left:
                        break

    def _gap_topdown(self, length: int, low_limit: int, high_limit: int, high: int) -> int | None:
        """Highest fitting start in a run before some VMA, or None (unmapped_area_topdown)."""
        node = self._tree.root
        if node is None or node.subtree_gap < length:
            return None
        while True:
            right = node.right
            if node.start - node.gap <= high_limit and right is not None and right.subtree_gap >= length:
                node = right
                continue
            while True:  # check_current
                gap_end = node.start
                if gap_end < low_limit:
                    return None  # every earlier run ends even lower
                if node.gap >= length and gap_end - node.gap <= high_limit:
                    return min(gap_end, high) - length
                left = node.left
                if left is not None and left.subtree_gap >= length:
                    node = left
                    break
                while True:
                    parent = node.parent
                    if parent is None:
                        return None
                    from_right = parent.right is node
                    node = parent
                    if from_right:
                        break

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def _check(self) -> None:
        tree = self._tree

        def verify(node: VMANode) -> None:
            v = node.vma
            if type(v) is not VMA:
                raise InvariantError(f"rbtree: node {node.describe()} slot vma holds {v!r}")
            if node.start != v.start or node.end != v.end:
                raise InvariantError(f"rbtree: node {node.describe()} slots start/end disagree with {v!r}")
            want_gap = node.start - (node.prev.end if node.prev is not None else 0)
            if node.gap != want_gap:
                raise InvariantError(f"rbtree: node {node.describe()} slot gap={node.gap:#x}, recomputed {want_gap:#x}")
            g, m = _compute(node)
            if node.subtree_gap != g:
                raise InvariantError(
                    f"rbtree: node {node.describe()} slot subtree_gap={node.subtree_gap:#x}, recomputed {g:#x}"
                )
            if node.subtree_last != m:
                raise InvariantError(
                    f"rbtree: node {node.describe()} slot subtree_last={node.subtree_last:#x}, recomputed {m:#x}"
                )

        tree.check(key=lambda n: n.start, verify=verify)
        for node in tree:
            nxt = node.next
            if nxt is not None and nxt.start < node.end:
                raise InvariantError(f"rbtree: node {nxt.describe()} overlaps its predecessor {node.describe()}")

    def _stats(self) -> dict[str, Any]:
        tree = self._tree
        n = tree.count
        red = sum(1 for node in tree if node.red)
        per_node = sys.getsizeof(tree.root) if tree.root is not None else 0
        return {
            "height": tree.height(),
            "black_height": tree.black_height(),
            "nodes": n,
            "red": red,
            "bytes": sys.getsizeof(tree) + n * per_node,
        }
