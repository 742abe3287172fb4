"""The maple tree's publishing writers: in-place stores and the single publishing store.

Invariant
---------
Every node a write creates becomes visible to lock-free readers through one
reference store made here, inside a write section of the index's
``SeqCount`` (``seq`` odd from just before that store until the gaps above
it are updated; the writer bumps ``seq`` itself, the section holding no
read), and the nodes it replaces are marked ``dead`` right after:

* ``_replace_child``: one new node stored into its live parent's slot (or
  as the root); the new largest gap is then stored upward in place,
  stopping at the first unchanged entry (``mas_update_gap``).  It serves the
  fast path (``_insert_at``/``_remove_at``: one new leaf), the one-parent
  rebuild (``_rebuild``: new leaves under one new copy of their parent) and
  the subtree mode of the general path (``_publish``);
* ``_publish``: the general path's private version (``cow.PathCopyWriter``)
  made visible with one root store (or one slot store in subtree mode).

A published leaf is never modified; a published internal node changes only
by single list-item stores (a child swapped for a new one covering the same
range, a ``gaps[i]`` value); pivot lists never change once published, no
published list ever changes length.  Writers are serialised by the index
mutex, so they use plain locals; the fast path and the rebuild fall back to
the general path (``_slow``) whenever their change would leave one parent.

Layout
------
::

    fast path:        parent.slots[i] = Node(copy of leaf + the store)
                                 ^ the single publishing store
    one-parent rebuild:
         grandparent.slots[j] = Node(parent's lists with leaves [first, end)
                                     replaced by 1..n new evenly filled leaves)
    path  = parents (root .. the leaf's parent) + idxs (slot taken in each)

API
---
``InPlaceWriter`` (a ``cow.PathCopyWriter``, the fallback; ``MapleIndex``
supplies the state): ``_descend``,
``_insert_at``, ``_remove_at`` (``REMOVED``), ``_rebuild``, ``_edge_slot``,
``_node_min_below``, ``_replace_child``, ``_publish``.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Any

from structures.backends.maple.cow import PathCopyWriter
from structures.backends.maple.gap import leaf_gap_of
from structures.backends.maple.node import Node, node_gap
from structures.lib.seqcount import SeqCount
from structures.vma import VMA

__all__ = ["REMOVED", "InPlaceWriter"]

REMOVED = object()  # _remove_at: the VMA was removed


class InPlaceWriter(PathCopyWriter):
    """Publishing writer methods (falling back to the path-copying ones); mutex held."""

    _seqcount: SeqCount

    def _descend(self, addr: int) -> tuple[list[Node], list[int], Node]:
        """The published path to ``addr``: internal nodes root first, the slot taken in each, the leaf."""
        node = self._root
        parents: list[Node] = []
        idxs: list[int] = []
        while not node.leaf:
            i = bisect_left(node.pivots, addr)
            parents.append(node)
            idxs.append(i)
            node = node.slots[i]
        return parents, idxs, node

    @staticmethod
    def _node_min_below(parents: list[Node], idxs: list[int]) -> int:
        """The ``node_min`` (first address) of the node below ``parents[-1].slots[idxs[-1]]``."""
        for k in range(len(parents) - 1, -1, -1):
            i = idxs[k]
            if i:
                return parents[k].pivots[i - 1] + 1  # type: ignore[no-any-return]
        return 0

    def _replace_child(self, parents: list[Node], idxs: list[int], new: Node, gap: int) -> None:
        """Publish ``new`` in place of the node below ``parents[-1].slots[idxs[-1]]`` (as the
        root when ``parents`` is empty) with one reference store, then store ``gap``, its
        largest gap, upward in place, stopping at the first unchanged entry."""
        # the write section, opened and closed by bumping ``seq`` itself: no read happens
        # inside it, so the writer's id is not needed, and begin()/end() measured 4-9 % of
        # a maple insert + remove (2 x 10,000, build+remove at n=10,000; 6.9 vs 7.3 us)
        seqcount = self._seqcount
        seqcount.seq += 1  # odd: a write is in progress
        if parents:
            k = len(parents) - 1
            parents[k].slots[idxs[k]] = new  # the single publishing store
            while k >= 0:  # the gaps above, in place (a loop here, not a call: ~0.2 us of ~3 us)
                gaps = parents[k].gaps
                i = idxs[k]
                if gaps[i] == gap:  # type: ignore[index]
                    break
                gaps[i] = gap  # type: ignore[index]
                gap = max(gaps)  # type: ignore[arg-type]
                k -= 1
        else:
            self._root = self._wroot = new
        seqcount.seq += 1  # even: published

    def _insert_at(self, vma: VMA) -> bool:
        """Store ``vma`` if its range is one free (None) slot; False (nothing changed) if not."""
        start, last = vma.start, vma.end - 1
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._insert_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return True
        parents, idxs, leaf = self._descend(start)
        pivots = leaf.pivots
        slots = leaf.slots
        i = bisect_left(pivots, start)
        slot_last = pivots[i]
        if slots[i] is not None or slot_last < last:
            return False
        slot_min = pivots[i - 1] + 1 if i else self._node_min_below(parents, idxs)
        # fast path (the common case, measured ~80 % of a random build): the VMA fits the
        # leaf: build one new leaf by slicing and publish it with one slot store
        grow = len(slots) + (start > slot_min) + (last < slot_last) > self.leaf_slots
        # copy + insert in place (private lists): 450 -> 200 ns against slice + concatenate
        if start > slot_min:
            new_pivots = pivots.copy()
            new_slots = slots.copy()
            new_slots[i] = vma
            if last < slot_last:
                new_pivots.insert(i, last)
                new_slots.insert(i + 1, None)
            new_pivots.insert(i, start - 1)
            new_slots.insert(i, None)
        elif last < slot_last:
            new_pivots = pivots.copy()
            new_pivots.insert(i, last)
            new_slots = slots.copy()
            new_slots.insert(i + 1, None)
            new_slots[i] = vma
        else:
            new_pivots = pivots  # published pivot lists are never modified: share it
            new_slots = slots.copy()
            new_slots[i] = vma
        if grow:  # the leaf overflows: push into a sibling or split, under the same parent
            if not parents or not self._rebuild(parents, idxs, new_pivots, new_slots, False, False):
                self._slow(self._insert_slow, vma, len(parents) + 1)
                return True
            self._wcount += 1
            self._count += 1
            return True
        gap = 0
        if parents:
            gap = parents[-1].gaps[idxs[-1]]  # type: ignore[index]
            if slot_last - slot_min + 1 >= gap:  # the filled None was the widest: recount the others
                gap = leaf_gap_of(new_pivots, new_slots, self._node_min_below(parents, idxs))
        self._wcount += 1
        self._count += 1
        self._replace_child(parents, idxs, Node(new_pivots, new_slots, None, True, 0), gap)
        leaf.dead = True
        return True

    def _remove_at(self, vma: VMA) -> Any:
        """Store None over ``vma`` if it is stored (``REMOVED``); else the slot's content."""
        start = vma.start
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._remove_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return REMOVED
        parents, idxs, leaf = self._descend(start)
        pivots = leaf.pivots
        slots = leaf.slots
        i = bisect_left(pivots, start)
        cur = slots[i]
        if cur is not vma and (cur is None or cur != vma):
            return cur
        # fast path: the freed slot (merged with the Nones beside it) stays inside one
        # leaf that keeps its minimum fill and meets no None in the neighbouring leaf
        n = len(slots)
        first = i - 1 if i and slots[i - 1] is None else i  # the new None = old slots [first, end)
        end = i + 2 if i + 1 < n and slots[i + 1] is None else i + 1
        new_pivots = pivots.copy()
        new_slots = slots.copy()
        if end - first > 1:  # copy + delete in place (private lists), like the insert side
            del new_pivots[first : end - 1]
            del new_slots[first + 1 : end]
        new_slots[first] = None
        if parents:
            join_prev = not first and self._edge_slot(parents, idxs, -1) is None
            join_next = end == n and self._edge_slot(parents, idxs, 1) is None
            if join_prev or join_next or len(new_slots) < self._leaf_fill_min:
                # the None meets the neighbouring leaf's None, or the leaf is underfull
                if not self._rebuild(parents, idxs, new_pivots, new_slots, join_prev, join_next):
                    self._slow(self._remove_slow, cur, len(parents) + 1)
                    return REMOVED
                self._wcount -= 1
                self._count -= 1
                return REMOVED
        gap = 0
        if parents:
            gap = parents[-1].gaps[idxs[-1]]  # type: ignore[index]
            run = pivots[end - 1] + 1 - (pivots[first - 1] + 1 if first else self._node_min_below(parents, idxs))
            if run > gap:
                gap = run
        self._wcount -= 1
        self._count -= 1
        self._replace_child(parents, idxs, Node(new_pivots, new_slots, None, True, 0), gap)
        leaf.dead = True
        return REMOVED

    def _rebuild(
        self,
        parents: list[Node],
        idxs: list[int],
        new_pivots: list[int],
        new_slots: list[Any],
        join_prev: bool,
        join_next: bool,
    ) -> bool:
        """Structural write confined to one parent: its leaf ``k`` becomes ``(new_pivots,
        new_slots)`` (possibly over width or under fill), joined with the previous / next
        leaf when ``join_prev`` / ``join_next`` (their edge Nones merge with ours) and with
        a sibling to push into or borrow from; the leaves of that window are spread evenly
        over as few new leaves as fit, and a new copy of the parent is published with one
        slot store (gaps above in place).  False, nothing changed, when the window leaves
        the parent or the parent would leave its fill limits (the caller then takes the
        general path)."""
        parent = parents[-1]
        k = idxs[-1]
        children = parent.slots
        cap = self.leaf_slots
        n = len(new_slots)
        first, end = k, k + 1  # the window [first, end) of the parent's children
        if join_prev:
            if not k:
                return False
            first = k - 1
        if join_next:
            if k + 1 >= len(children):
                return False
            end = k + 2
        if first == k and end == k + 1:
            if n > cap:  # overflow: push into a sibling with room, else split
                if k and len(children[k - 1].slots) + n <= 2 * cap - 2:
                    first = k - 1
                elif k + 1 < len(children) and len(children[k + 1].slots) + n <= 2 * cap - 2:
                    end = k + 2
            elif k:  # underfull: merge with / borrow from a sibling
                first = k - 1
            elif k + 1 < len(children):
                end = k + 2
            else:
                return False
        pivots: list[int] = []
        slots: list[Any] = []
        for c in range(first, end):
            if c == k:
                child_pivots, child_slots = new_pivots, new_slots
            else:
                child_pivots, child_slots = children[c].pivots, children[c].slots
            if slots and slots[-1] is None and child_slots[0] is None:  # join the Nones across the boundary
                del pivots[-1]
                del slots[-1]
            pivots += child_pivots
            slots += child_slots
        total = len(slots)
        parts = -(-total // cap)
        parent_width = len(children) - (end - first) + parts
        if total // parts < self._leaf_fill_min or parent_width > self.internal_slots:
            return False
        if parent_width < (self._internal_fill_min if len(parents) > 1 else 2):
            return False
        size, extra = divmod(total, parts)
        node_min = parent.pivots[first - 1] + 1 if first else self._node_min_below(parents[:-1], idxs[:-1])
        leaves: list[Node] = []
        leaf_lasts: list[int] = []
        leaf_gaps: list[int] = []
        a = 0
        for q in range(parts):
            b = a + size + (1 if q < extra else 0)  # leaf q takes slots [a, b)
            part_pivots = pivots[a:b]
            part_slots = slots[a:b]
            leaves.append(Node(part_pivots, part_slots, None, True, 0))
            leaf_lasts.append(part_pivots[-1])
            leaf_gaps.append(leaf_gap_of(part_pivots, part_slots, node_min))
            node_min = part_pivots[-1] + 1
            a = b
        gaps = parent.gaps
        assert gaps is not None
        new_gaps = gaps[:first] + leaf_gaps + gaps[end:]
        new_parent = Node(
            parent.pivots[:first] + leaf_lasts + parent.pivots[end:],
            children[:first] + leaves + children[end:],
            new_gaps,
            False,
            0,
        )
        old = children[first:end]
        self._replace_child(parents[:-1], idxs[:-1], new_parent, max(new_gaps))
        parent.dead = True
        for child in old:
            child.dead = True
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

    def _publish(self) -> None:
        """Make the general path's private version visible with one reference store, then
        kill the nodes it replaced."""
        top = self._subtree_top
        if top is not None:  # subtree mode: one slot store into the live parent
            self._subtree_top = None
            parents, idxs, _, new = top
            self._count = self._wcount
            self._replace_child(parents, idxs, new, node_gap(new, self._node_min_below(parents, idxs)))
        elif self._wroot is self._root and not self._replaced:
            self._count = self._wcount
            return  # nothing private (a fast-path write already published itself)
        else:
            seqcount = self._seqcount
            seqcount.seq += 1  # odd: multi-node readers started now will retry (as above)
            self._count = self._wcount
            self._root = self._wroot  # the single publishing store
            seqcount.seq += 1
        self._gen += 1
        for node in self._replaced:
            node.dead = True
        self._replaced = []
