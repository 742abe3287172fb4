"""``RBTreeIndex``: VMAs in an augmented red-black tree, threaded in address order (``mm_rb``).

Invariant
---------
One ``VMANode`` per stored VMA in an ``rbtree.RBTree`` ordered by ``start``
(VMAs never overlap, so in-order is address order and ``next`` threads the
VMA list, the kernel's ``vm_next``/``vm_prev``).  Two augmentations, kept by
the ``propagate``/``copy``/``rotate`` callbacks of ``node.VMAAugment``::

    gap(n)          = n.start - n.prev.end      (n.start for the first VMA)
    subtree_gap(n)  = max(gap(n), subtree_gap(n.left), subtree_gap(n.right))
                      (pre-6.1 rb_subtree_gap: largest free gap just before
                       a VMA of the subtree)
    subtree_last(n) = max(n.end - 1, subtree_last(n.left), subtree_last(n.right))
                      (interval tree ITSUBTREE; VMAs do not overlap, so it is
                       the rightmost VMA's end - 1, and the callbacks read it
                       from the right child alone; check() takes the max)

``gap(n)`` depends on ``n.prev``, so inserting or erasing a VMA also changes
its successor's own gap (see Writes).  The free run after the last VMA,
``[tree.last.end, TASK_SIZE)``, is no node's gap; ``find_gap`` checks it
separately, like the kernel's ``highest_vm_end``.

Layout
------
::

      tree.root                  tree.first <-> ... <-> tree.last   (prev/next: vm_prev/vm_next)
         |
      VMANode [start, end)  gap  subtree_gap  subtree_last      (its slots: node.py)
       /     \
    left     right          (subtrees of lower / higher addresses)

Every read is one descent from the root (``find``/``lookup``/``find_prev``/
``intersection``); ``overlapping`` and iteration follow ``next`` after it.
``find_gap`` is ``unmapped_area`` / ``unmapped_area_topdown`` adapted to the
half-open ``[low, high)`` window: O(log n) using ``subtree_gap`` to skip
subtrees with no large enough gap; each walk starts at the ancestor of the
first (last) VMA nearest ``low`` (``high``), not at the root.

Writes: ``insert`` is one descent that finds both the link position and the
in-order neighbours (the overlap check needs only those two), then the core's
link + fixup; ``remove`` one descent to the node, then the core's erase.  Both
set the successor's new gap first, so that the core's one propagation, which
is sure to reach the successor, covers it.  ``bulk_load`` builds a balanced
tree straight from the sorted VMAs (mid-point roots, the deepest level red when
it is not full); ``dup`` copies the exact shape, colours and augmented values
in one in-order walk of both trees.  Neither rotates nor recomputes anything.
``write_stats``: one node allocated per insert, freed per remove; rebalances =
rotations (the core's ``rotate`` callback).

API
---
``RBTreeIndex`` (registry name ``rbtree``): the full ``VMAIndex`` interface;
``stats()`` adds ``black_height`` and ``red``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from structures.backends.rbtree.node import (
    VMAAugment,
    VMANode,
    bare_node,
    build_balanced,
    copy_tree,
    make_nodes,
    subtree_values,
)
from structures.base import VMAIndex
from structures.lib.rbtree import RBTree
from structures.vma import PAGE_SIZE, TASK_SIZE, VMA, InvariantError, NotMappedError, OverlapError

__all__ = ["RBTreeIndex"]

_PAGE_MASK = PAGE_SIZE - 1


class RBTreeIndex(VMAIndex):
    """Augmented red-black tree keyed by start (subtree_last + subtree_gap)."""

    name = "rbtree"
    description = "augmented red-black tree (subtree_last + subtree_gap), threaded list: pre-6.1 mm_rb"
    lockless_reads = False

    def __init__(self, *, lock: object = None) -> None:
        super().__init__(lock=lock)
        self._augment = VMAAugment()
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
    def insert(self, vma: VMA) -> None:
        """``VMAIndex.insert`` with one descent serving both the overlap check and the link
        (the base descends twice: ``_intersection``, then ``_insert``).  With the same in
        ``remove``: insert + remove of 10k VMAs in random order 34.6k -> 27.1k
        instructions per op (callgrind), 5.0 -> 4.3 us per op (CPU time, min of 7)."""
        if type(vma) is not VMA:
            super().insert(vma)  # raises the base class's TypeError
            return
        start = vma.start
        end = vma.end
        # acquire / try / finally rather than ``with`` (as maple's), here and in remove:
        # 25.8k -> 24.8k instructions per insert/remove op (10k VMAs, random order, callgrind)
        mutex = self._mutex
        mutex.acquire()
        try:
            tree = self._tree
            cur = tree.root
            below = above = None
            while cur is not None:  # below / above: the in-order neighbours of the new node
                if start < cur.start:
                    above = cur
                    cur = cur.left
                else:
                    below = cur
                    cur = cur.right
            if below is not None and below.end > start:
                raise OverlapError(f"{vma!r} overlaps stored {below.vma!r}", existing=below.vma)
            if above is not None and above.start < end:
                raise OverlapError(f"{vma!r} overlaps stored {above.vma!r}", existing=above.vma)
            # VMANode.__init__ written out (no type call, no second frame): 19.18k -> 18.87k
            # instructions per op here (callgrind, random build + teardown of 10k VMAs)
            node = bare_node(VMANode)
            node.vma = vma
            node.start = start
            node.end = end
            node.gap = node.subtree_gap = start - below.end if below is not None else start
            node.subtree_last = end - 1
            if above is not None:
                # The successor's gap now starts at our end, set before the link: the core's
                # one propagation from node's parent covers it, never stopping below it (node
                # is the rightmost VMA of every subtree between: their subtree_last grows).
                # With _erase's twin, one walk not two: 24.2k -> 21.9k instructions per op.
                above.gap = above.start - end
            # The node hangs under the deeper neighbour (the other is its ancestor): above,
            # when above has no left child.  Not tracked at every level: 19.66k -> 19.18k.
            if above is not None and above.left is None:
                tree.insert(node, above, True)
            else:
                tree.insert(node, below, False)
            self._nodes_allocated += 1
            self.seqnum.value += 1  # _commit() is a no-op here: nothing to publish
        finally:
            mutex.release()

    def remove(self, vma: VMA) -> None:
        """``VMAIndex.remove`` with one descent serving both the presence check and the erase."""
        if type(vma) is not VMA:
            super().remove(vma)  # raises the base class's TypeError
            return
        start = vma.start
        mutex = self._mutex
        mutex.acquire()
        try:
            node = self._tree.root
            while node is not None:
                if start < node.start:
                    node = node.left
                elif start < node.end:
                    break
                else:
                    node = node.right
            cur = node.vma if node is not None else None
            if cur is not vma and cur != vma:
                if cur is not None and cur.start == start and cur.end == vma.end:
                    raise NotMappedError(f"{vma!r} is not stored (the range holds {cur!r})")
                raise NotMappedError(f"{vma!r} is not stored")
            self._erase(node)
            self.seqnum.value += 1
        finally:
            mutex.release()

    def _erase(self, node: VMANode) -> None:
        nxt = node.next
        if nxt is not None:
            # The successor's gap now reaches back to node's predecessor, set before the
            # erase, whose propagation covers it (see insert): nxt takes node's place (two
            # children: the walk starts there), or is an ancestor the walk cannot stop below
            # (node was the rightmost VMA between: their subtree_last shrinks), or is node's
            # only child, a red leaf spliced in below the walk (its subtree_gap: its gap).
            prv = node.prev
            nxt.gap = nxt.start - (prv.end if prv is not None else 0)
            if nxt is node.right and node.left is None:
                nxt.subtree_gap = nxt.gap
        self._tree.erase(node)
        self._nodes_freed += 1

    def _insert(self, vma: VMA) -> None:
        tree = self._tree
        start = vma.start
        parent = None
        left = False
        cur = tree.root
        while cur is not None:
            parent = cur
            left = start < cur.start
            cur = cur.left if left else cur.right
        below = above = None  # the neighbours: parent, and its thread on the side we hang
        if parent is not None:
            below, above = (parent.prev, parent) if left else (parent, parent.next)
        node = VMANode(vma, start - below.end if below is not None else start)
        if above is not None:  # the successor's gap now starts at our end (see insert)
            above.gap = above.start - vma.end
        tree.insert(node, parent, left)
        self._nodes_allocated += 1

    def _remove(self, vma: VMA) -> None:
        node = self._find_node(vma.start)
        if node is None or (node.vma is not vma and node.vma != vma):
            raise InvariantError(f"rbtree: _remove({vma!r}) but the tree holds {node!r}")
        self._erase(node)

    def _clear(self) -> None:
        self._nodes_freed += self._tree.count
        self._tree.clear()

    # ------------------------------------------------------------------
    # bulk build and dup: O(n), no rotation
    # ------------------------------------------------------------------
    def _bulk_load(self, vmas: list[VMA]) -> None:
        """A balanced tree straight from the sorted VMAs: node ``mid`` of every range is
        its subtree's root, so subtree sizes differ by at most one and every path from
        the root to a missing child holds ``D - 1`` or ``D`` nodes (``D =
        n.bit_length()``); the nodes at depth ``D`` are red (unless the tree is perfect),
        all others black, so every such path has ``D - 1`` black nodes and no red node
        has a child.  Threads and augmentations are set on the way (children first).
        Bare nodes (``make_nodes``) and ``build_balanced`` (no closure): ``bulk_load(parent)`` + drop of a
        10k child, the fork suite's loop in one process, 11.5 / 13.6 -> 7.0 / 7.5 ms (min /
        median of 8 rounds, GC on; the ascending re-insert 51.8 / 53.1 ms there)."""
        tree = self._tree
        n = len(vmas)
        nodes = make_nodes(vmas)
        red_depth = n.bit_length() if (n + 1) & n else 0  # 0: a perfect tree, all black
        tree.root = build_balanced(nodes, 0, n, None, 1, red_depth)
        tree.first = nodes[0]
        tree.last = nodes[-1]
        tree.count = n
        self._nodes_allocated += n

    def _dup(self) -> VMAIndex:
        """The tree's exact shape, colours and augmented values: ``copy_tree``."""
        child = self._spawn()
        assert isinstance(child, RBTreeIndex)
        src = self._tree
        if src.root is not None:
            tree = child._tree
            tree.root, tree.first, tree.last = copy_tree(src.root)
            tree.count = src.count
            child._nodes_allocated = child._nodes_copied = src.count
        return child

    # ------------------------------------------------------------------
    # find_gap: unmapped_area / unmapped_area_topdown over [low, high)
    # ------------------------------------------------------------------
    def find_gap(self, length: int, low: int = 0, high: int = TASK_SIZE, top_down: bool = False) -> int | None:
        # Fast path when every argument is a plain int and the base would
        # accept it and search (its checks folded into one expression), calling
        # the walks directly; anything else, including the too-short windows it
        # answers None for, goes to the base, which raises its usual errors.
        # Gap suite, 10k VMAs, top-down: 2.05 us per call through the base,
        # 1.69 us here (min of 15 interleaved rounds of 1,024 calls).
        # lockless_reads is False: always under the mutex.
        if (
            type(length) is int
            and type(low) is int
            and type(high) is int
            and 0 <= low < high <= TASK_SIZE
            and 0 < length <= high - low
            and not (length | low | high) & _PAGE_MASK
        ):
            with self._mutex:
                if top_down:
                    return self._gap_topdown(length, low, high)
                return self._gap_bottomup(length, low, high)
        return super().find_gap(length, low, high, top_down)

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        if top_down:
            return self._gap_topdown(length, low, high)
        return self._gap_bottomup(length, low, high)

    # The free run before node n is [gs, ge) = [prev.end or 0, n.start).  A run
    # fits when   max(gs, low) + length <= min(ge, high), i.e.
    #   ge - gs >= length  and  ge >= low + length  and  gs <= high - length
    # (with low + length <= high, checked by the callers).  subtree_gap >=
    # length is necessary for a subtree to hold one.  The run after the last
    # VMA, [last.end, TASK_SIZE), is no node's and is checked apart.

    def _gap_bottomup(self, length: int, low: int, high: int) -> int | None:
        """Lowest fitting start (unmapped_area), or None."""
        tree = self._tree
        node = tree.first
        if node is None:
            return low
        high_limit = high - length  # the highest start that fits
        low_limit = low + length  # the lowest end that fits
        # Start below the root: climb from the first VMA to its nearest
        # ancestor whose run ends at or above low_limit.  Every ancestor of the
        # leftmost node roots a prefix of the VMAs, so the walk below is the
        # one from the root minus part of the left-spine descent (gap suite,
        # 10k VMAs: 24 -> 21 nodes touched per call).
        parent = node.parent
        while parent is not None and node.start < low_limit:
            node = parent
            parent = node.parent
        while True:
            # Descend left while the left subtree may hold a run ending high enough.
            left = node.left
            if left is not None and left.subtree_gap >= length and node.start >= low_limit:
                node = left
                continue
            while True:  # check_current
                gap_end = node.start
                gap = node.gap
                if gap_end - gap > high_limit:
                    return None  # every later run starts even higher
                if gap >= length and gap_end >= low_limit:
                    gap_end -= gap
                    return gap_end if gap_end > low else low
                right = node.right
                if right is not None and right.subtree_gap >= length:
                    node = right
                    break  # descend into the right subtree
                # climb until we come up from a left child: that parent is next in order
                parent = node.parent
                while parent is not None and parent.right is node:
                    node = parent
                    parent = node.parent
                if parent is None:  # no run before a VMA: the one after the last
                    top_end = tree.last.end
                    if top_end <= high_limit:
                        return top_end if top_end > low else low
                    return None
                node = parent

    def _gap_topdown(self, length: int, low: int, high: int) -> int | None:
        """Highest fitting start (unmapped_area_topdown), or None."""
        node = self._tree.last
        high_limit = high - length  # the highest start that fits
        if node is None or node.end <= high_limit:  # the run after the last VMA
            return high_limit
        low_limit = low + length  # the lowest end that fits
        # Start below the root: climb from the last VMA to its nearest
        # ancestor whose run starts at or below high_limit.  Every ancestor of
        # the rightmost node roots a suffix of the VMAs, so the walk below is
        # the one from the root minus the descent down the right spine that
        # the huge runs under [stack] and [vdso] attract (gap suite, 10k VMAs:
        # 39 -> 24 nodes touched per call; `vmalab bench --suite gap --fast`
        # top-down 3.06 -> 1.60 us per find_gap with the fast path above).
        parent = node.parent
        while parent is not None and node.start - node.gap > high_limit:
            node = parent
            parent = node.parent
        while True:
            # Descend right while the right subtree may hold a run starting low enough.
            right = node.right
            if right is not None and right.subtree_gap >= length and node.start - node.gap <= high_limit:
                node = right
                continue
            while True:  # check_current
                gap_end = node.start
                if gap_end < low_limit:
                    return None  # every earlier run ends even lower
                gap = node.gap
                if gap >= length and gap_end - gap <= high_limit:
                    return (gap_end if gap_end < high else high) - length
                left = node.left
                if left is not None and left.subtree_gap >= length:
                    node = left
                    break
                # climb until we come up from a right child: that parent is next in reverse order
                parent = node.parent
                while parent is not None and parent.left is node:
                    node = parent
                    parent = node.parent
                if parent is None:
                    return None
                node = parent

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
            g, m = subtree_values(node)
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

    def _write_stats(self) -> dict[str, int]:
        st = super()._write_stats()
        st["rebalances"] += self._augment.rotations
        return st

    def _reset_write_stats(self) -> None:
        super()._reset_write_stats()
        self._augment.rotations = 0

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
