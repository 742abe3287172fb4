"""Whole-tree maple builders: the bulk build from sorted VMAs and the node-by-node copy (``__mt_dup``).

Invariant
---------
Both return a tree satisfying every invariant of
``structures.backends.maple.node`` (``check_tree`` passes) and build it
privately: nothing is reachable from a published root until the caller
stores the new root (one reference store).  The bulk build packs the slots
densely, as the kernel's bulk store does: every leaf holds ``leaf_slots``
slots and every internal node ``internal_slots`` children, except that the
last two nodes of a level share their slots evenly when the last one would
fall below the minimum fill (the kernel rebalances its last bulk node the
same way, ``mas_bulk_rebalance``).  The slot sequence is the VMAs with one
``None`` for each hole between them (and before the first, after the last),
so no two ``None`` slots are adjacent, and cutting the sequence into leaves
keeps it so across leaves too.

The copy is the kernel's ``memcpy`` of each node: a new ``Node`` with its own
copies of the pivot, slot and gap lists (children replaced by their copies),
so a write to either tree never shows in the other and a ``dead`` mark stays
with the tree whose write made it.  (The published pivot lists and leaf slot
lists are never modified, so they could be shared; copying them costs 0.37
-> 0.65 ms per dup of 10k VMAs and keeps the two trees independent whatever
a future writer does in place.)  Entries are immutable ``VMA`` values, shared
as ``dup_mmap`` would share nothing but copies of equal VMAs.

Layout
------
::

    build_tree:   VMAs -> slot sequence   V . V V . V V V . ... .      (. = None, one per hole)
                  -> leaves of leaf_slots  [V . V V . V V V . ...] [V ...] ... [.. | ..]
                                                                           last two evened out
                  -> internal levels of internal_slots children, gaps = max below, up to one root

    copy_tree:    depth first, pre-order (``mas_dup_build``):
                  node copy = new_node(copies of pivots, slots, gaps) with each child
                  replaced by its copy

API
---
``build_tree(vmas, leaf_slots, internal_slots) -> (root, nodes)``,
``copy_tree(root) -> (root, nodes)`` (``nodes``: how many ``Node`` objects were
made), ``chunks(n, cap, fill_min)``.
"""

from __future__ import annotations

from typing import Any

from structures.backends.maple.gap import leaf_gap_of
from structures.backends.maple.node import LAST, Node, min_fill, new_node
from structures.vma import VMA

__all__ = ["build_tree", "chunks", "copy_tree"]


def chunks(n: int, cap: int, fill_min: int) -> list[tuple[int, int]]:
    """``[a, b)`` bounds cutting ``n`` items into nodes of ``cap`` items, the last two
    evened out when the last would hold fewer than ``fill_min`` (a lone node is exempt)."""
    out = [(a, min(a + cap, n)) for a in range(0, n, cap)]
    if len(out) > 1 and out[-1][1] - out[-1][0] < fill_min:
        a = out[-2][0]
        mid = a + (n - a + 1) // 2
        out[-2:] = [(a, mid), (mid, n)]
    return out


def build_tree(vmas: list[VMA], leaf_slots: int, internal_slots: int) -> tuple[Node, int]:
    """A densely packed tree holding ``vmas`` (sorted by start, non-overlapping, at
    least one); its root and the number of nodes made."""
    pivots: list[int] = []
    slots: list[Any] = []
    prev_end = 0
    for v in vmas:
        if v.start > prev_end:  # the hole before v
            pivots.append(v.start - 1)
            slots.append(None)
        pivots.append(v.end - 1)
        slots.append(v)
        prev_end = v.end
    if prev_end <= LAST:
        pivots.append(LAST)
        slots.append(None)
    level: list[Node] = []
    lasts: list[int] = []
    gaps: list[int] = []
    node_min = 0
    for a, b in chunks(len(slots), leaf_slots, min_fill(leaf_slots, True)):
        part_pivots = pivots[a:b]
        part_slots = slots[a:b]
        level.append(new_node(part_pivots, part_slots, None, True, 0))
        lasts.append(part_pivots[-1])
        gaps.append(leaf_gap_of(part_pivots, part_slots, node_min))
        node_min = part_pivots[-1] + 1
    made = len(level)
    internal_min = min_fill(internal_slots, False)
    while len(level) > 1:
        upper: list[Node] = []
        upper_lasts: list[int] = []
        upper_gaps: list[int] = []
        for a, b in chunks(len(level), internal_slots, internal_min):
            part_gaps = gaps[a:b]
            upper.append(new_node(lasts[a:b], level[a:b], part_gaps, False, 0))
            upper_lasts.append(lasts[b - 1])
            upper_gaps.append(max(part_gaps))
        made += len(upper)
        level, lasts, gaps = upper, upper_lasts, upper_gaps
    return level[0], made


def copy_tree(root: Node) -> tuple[Node, int]:
    """A copy of the tree below ``root``, node by node, depth first in pre-order like
    ``__mt_dup``; its root and the number of nodes made."""
    made = 0

    def copy(node: Node) -> Node:
        nonlocal made
        made += 1
        if node.leaf:
            new = new_node(node.pivots.copy(), node.slots.copy(), None, True, 0)
            new.nulls = node.nulls  # an immutable tuple, equal for the copy
            return new
        new = new_node(node.pivots.copy(), node.slots.copy(), node.gaps.copy(), False, 0)  # type: ignore[union-attr]
        children = new.slots
        for i, child in enumerate(children):
            children[i] = copy(child)
        return new

    return copy(root), made
