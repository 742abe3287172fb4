"""The maple tree's fast-path writers: one new leaf, or an exact fill in place.

Invariant
---------
Most inserts and removes stay inside one leaf that keeps its fill limits.
Such a write builds one new leaf (copies of the leaf's two lists with the
store made in them) and publishes it with one slot store into its live
parent, inside a write section of the index's ``SeqCount`` (``seq`` odd
from just before that store until the gaps above it are updated), then
marks the old leaf ``dead``; the gaps above change in place, up to the
first unchanged entry (``mas_wr_slot_store`` / ``mas_update_gap``).

The exact fill (``_insert_at``: the VMA spans a None slot's whole range,
``mas_wr_slot_store``) makes no node at all: the VMA itself is the one
store, into the published leaf's ``slots[i]``.  It is the only change a
published leaf ever sees: one slot goes from None to the VMA spanning
exactly its range, and never back in the same leaf (a remove builds a new
leaf), so a leaf's slots only ever go None -> VMA and its pivots never
change.  Why every lock-free reader stays correct with the exact fill:
``index``'s module docstring.

A write that does not fit one leaf goes to ``rebuild`` (a split, a merge
or borrow, a None joining the neighbouring leaf's); the two commonest
rebuilds are written out here or there (the insert's split below, a
remove's ``_respread_leaf``).  Writers are serialised by the index mutex, so
they use plain locals and the scratch path lists kept on the index.

Layout
------
::

    parent.slots[i] = new_node(copy of leaf + the store)   # fast path
                               ^ the single publishing store
    leaf.slots[i] = vma                                    # exact fill
    path  = parents (root .. the leaf's parent) + idxs (slot taken in each)

API
---
``InPlaceWriter`` (a ``rebuild.RebuildWriter``; ``MapleIndex`` supplies the
state): ``_insert_at`` (False: the VMA fits no None slot, nothing changed),
``_remove_at`` (``REMOVED``, else the slot's content).  Write costs:
``_leaf_copies`` (one per fast-path write but an exact fill) and the base's
counters.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Any

from structures.backends.maple.gap import leaf_gap_of
from structures.backends.maple.node import (
    LAST,
    edge_slot,
    new_node,
    path_min,
    shrink_gaps,
)
from structures.backends.maple.rebuild import RebuildWriter
from structures.backends.maple.reshape import split_child
from structures.vma import VMA

__all__ = ["REMOVED", "InPlaceWriter"]

REMOVED = object()  # _remove_at: the VMA was removed


class InPlaceWriter(RebuildWriter):
    """The fast-path writers (falling back to the rebuilds, then the path copies); mutex held."""

    _leaf_copies: int

    def _insert_at(self, vma: VMA) -> bool:
        """Store ``vma`` if its range is one free (None) slot; False (nothing changed) if not.

        The fast path (most inserts) builds one new leaf and publishes it with one slot
        store; an overflowing leaf goes to ``_rebuild``.  The descent is written out
        here, and so is the publish (``_replace_child``'s stores); with the same in
        ``_remove_at`` and the climbing ``_rebuild``: 38.8k -> 37.4k instructions per
        insert/remove op (10k VMAs, random order, callgrind), then 37.2k with the scratch
        path lists; the leaf's ``node_min`` found only where needed (``path_min``, ~0.4
        times per op), not tracked per level: 27.07k -> 26.69k.  Each long ``+``/``-``
        allocates (addresses are two-digit longs): the overflow test on the new list's
        length, not ``len + bool + bool``, 26.31k; the slot's min - 1 (``below``) in
        place of its min, 26.05k (with ``_remove_at``'s gap)."""
        start, last = vma.start, vma.end - 1
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._insert_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return True
        node = self._root
        parents = self._path_nodes  # scratch, reused by every write (the mutex is held)
        idxs = self._path_idxs
        depth = 0
        while not node.leaf:  # the leaf's node_min only where needed (path_min)
            i = bisect_left(node.pivots, start)
            parents[depth] = node
            idxs[depth] = i
            depth += 1
            node = node.slots[i]
        leaf = node
        pivots = leaf.pivots
        slots = leaf.slots
        i = bisect_left(pivots, start)
        slot_last = pivots[i]
        if slots[i] is not None or slot_last < last:
            return False
        below = pivots[i - 1] if i else path_min(parents, idxs, depth) - 1  # the slot's min - 1
        # fast path (the common case, measured ~80 % of a random build): the VMA fits the
        # leaf: build one new leaf by slicing and publish it with one slot store
        # copy + insert in place (private lists): 450 -> 200 ns against slice + concatenate
        start_1 = start - 1
        if start_1 != below:  # start > the slot's min (no long add: below + 1 is never made)
            new_pivots = pivots.copy()
            new_slots = slots.copy()
            new_slots[i] = vma
            if last < slot_last:
                new_pivots.insert(i, last)
                new_slots.insert(i + 1, None)
            new_pivots.insert(i, start_1)
            new_slots.insert(i, None)
        elif last < slot_last:
            new_pivots = pivots.copy()
            new_pivots.insert(i, last)
            new_slots = slots.copy()
            new_slots.insert(i + 1, None)
            new_slots[i] = vma
        else:  # an exact fill: one slot store into the published leaf (mas_wr_slot_store)
            # None -> VMA over the None's whole range, pivots untouched: the one change a
            # published leaf allows (module docstring); 30.0k -> 29.5k instructions per op
            # fast paths run with _wroot is _root: _wcount == _count, one add: 25.19k -> 24.94k
            self._count = self._wcount = self._wcount + 1
            seqcount = self._seqcount
            seqcount.seq += 1  # odd: multi-node readers retry (and the gaps below change)
            slots[i] = vma  # the single publishing store
            k = depth - 1
            if k >= 0 and slot_last - below >= parents[k].gaps[idxs[k]]:  # the widest None
                # node_min is read only for a None slot 0 (unchanged when i > 0): no path_min else
                node_min = below + 1 if not i else path_min(parents, idxs, depth) if slots[0] is None else 0
                gap = leaf_gap_of(pivots, slots, node_min)
                shrink_gaps(parents, idxs, k, gap)
            seqcount.seq += 1  # even: published
            return True
        if len(new_slots) > self.leaf_slots:  # the leaf overflows: split (up the tree as needed)
            node_min = below + 1 if not i else path_min(parents, idxs, depth)
            # an append: the store is into the last slot of the last leaf (a prepend: the first of the first)
            edge = 1 if slot_last == LAST else -1 if below < 0 else 0
            if depth and len(parents[depth - 1].slots) < self.internal_slots:
                # _rebuild's commonest case written out here (reshape.split_child): the leaf
                # splits in two under a new copy of its parent, which has room for one more
                # (a method till now: a call fewer, 23.72k -> 23.69k instructions per op)
                k = depth - 1
                parent = parents[k]
                j = idxs[k]
                # the new lists' gap, unknown (-1) if the filled None was the widest: else
                # split_child may skip a half's scan, 23.78k -> 23.76k instructions per op
                old = gap = parent.gaps[j]  # type: ignore[index]
                if slot_last - below >= gap:
                    gap = -1
                n = len(new_slots)  # split as part_sizes does (an append / prepend unevenly)
                cut = (n + 1) >> 1
                if edge and n - self._leaf_fill_min <= self.leaf_slots:
                    cut = n - self._leaf_fill_min if edge > 0 else self._leaf_fill_min
                new = split_child(parent, j, new_pivots, new_slots, node_min, cut, gap)
                # the new parent's gap: its entry above, unchanged if the leaf's old gap was not
                # the widest (an insert only shrinks it), else a max(): 23.32k -> 23.26k per op
                gap = parents[k - 1].gaps[idxs[k - 1]] if k else 0  # type: ignore[index]
                if k and old >= gap:
                    gap = max(new.gaps)  # type: ignore[arg-type]
                self._replace_child(parents, idxs, k, new, gap)
                leaf.dead = True
                parent.dead = True
                self._rebalances += 1
                self._nodes_allocated += 3
                self._nodes_freed += 2
            elif not self._rebuild(parents, idxs, depth, new_pivots, new_slots, False, False, node_min, edge):
                self._slow(self._insert_slow, vma, depth + 1)
                return True
            self._count = self._wcount = self._wcount + 1  # (equal here: see the exact fill)
            return True
        self._count = self._wcount = self._wcount + 1  # (equal here: see the exact fill)
        self._leaf_copies += 1
        # (new_node written out here and in _remove_at: 23.95k -> 23.61k instructions per op,
        # random build + teardown of 10k VMAs, callgrind, but no time: 1.00x over 52
        # interleaved rounds in one process; not kept)
        new = new_node(new_pivots, new_slots)
        seqcount = self._seqcount
        seqcount.seq += 1  # odd: a write is in progress (see _replace_child)
        if depth:
            k = depth - 1
            parent = parents[k]
            parent.slots[idxs[k]] = new  # the single publishing store
            gaps = parent.gaps
            j = idxs[k]
            gap = gaps[j]  # type: ignore[index]
            if slot_last - below >= gap:  # the filled None was the widest: recount
                # node_min is read only for a None slot 0 (slots[0]'s when i > 0): no path_min else
                node_min = below + 1 if not i else path_min(parents, idxs, depth) if slots[0] is None else 0
                gap = leaf_gap_of(new_pivots, new_slots, node_min)
                shrink_gaps(parents, idxs, k, gap)
        else:
            self._root = self._wroot = new
        seqcount.seq += 1  # even: published
        leaf.dead = True
        return True

    def _remove_at(self, vma: VMA) -> Any:
        """Store None over ``vma`` if it is stored (``REMOVED``); else the slot's content."""
        start = vma.start
        if self._wroot is not self._root or (self._deferring and threading.get_ident() in self._deferring):
            self._remove_slow(vma)  # inside replace (validated): path copy, one publish at the end
            return REMOVED
        node = self._root
        parents = self._path_nodes  # scratch, reused by every write (the mutex is held)
        idxs = self._path_idxs
        depth = 0
        while not node.leaf:  # the leaf's node_min only where needed (path_min)
            i = bisect_left(node.pivots, start)
            parents[depth] = node
            idxs[depth] = i
            depth += 1
            node = node.slots[i]
        leaf = node
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
        new_slots = slots.copy()
        if end - first > 1:  # copy + delete in place (private lists), like the insert side
            new_pivots = pivots.copy()
            if end - first == 2:  # one None beside: item deletes, no slices, 23.17k -> 23.10k
                del new_pivots[first]
                del new_slots[first + 1]
            else:
                del new_pivots[first : end - 1]
                del new_slots[first + 1 : end]
            short = len(new_slots) < self._leaf_fill_min  # (only a leaf that shrank can be underfull)
        else:  # VMAs on both sides: the pivots stay, share the published list (never modified)
            new_pivots = pivots  # as the insert side's exact fill: 30.1k -> 30.0k instructions per op
            short = False
        new_slots[first] = None
        # the None reaches the leaf's first or last slot, or the leaf is underfull: a join with
        # the neighbouring leaf or a rebalance may be due; the rest (most removes) skip all
        # the tests below (node_min, read for the gap only when first is 0, is set in there):
        # 23.88k -> 23.84k instructions, 546.6 -> 543.8 bytecodes per op (callgrind, opcode trace)
        if depth and (short or not first or end == n):
            node_min = -1 if first else path_min(parents, idxs, depth)  # -1: not needed yet
            # the neighbour's edge None can meet ours only if the removed slot is the edge one
            join_prev = not i and node_min and edge_slot(parents, idxs, depth, -1) is None
            join_next = i == n - 1 and edge_slot(parents, idxs, depth, 1) is None
            if join_prev or join_next or short:
                if node_min < 0:
                    node_min = path_min(parents, idxs, depth)
                # the None meets the neighbouring leaf's None, or the leaf is underfull: merge
                # with / borrow from the sibling it joins (or the previous one, else the next)
                step = -1 if join_prev or (not join_next and idxs[depth - 1]) else 1
                # the new leaf's gap, its old one or the new None's run (for respread_pair)
                gap = pivots[end - 1] - pivots[first - 1] if first else pivots[end - 1] + 1 - node_min
                gap_j = parents[depth - 1].gaps[idxs[depth - 1]]  # type: ignore[index]
                if gap_j > gap:
                    gap = gap_j
                if not (join_prev and join_next) and self._respread_leaf(  # (both: three leaves, _rebuild)
                    parents, idxs, depth, new_pivots, new_slots, node_min, step, gap
                ):
                    self._count = self._wcount = self._wcount - 1  # (equal here: see _insert_at)
                    return REMOVED
                if not self._rebuild(
                    parents, idxs, depth, new_pivots, new_slots, bool(join_prev), join_next, node_min
                ) and not (
                    bool(join_prev) != join_next  # one None join, across parents (underfull too)
                    and self._join_across(parents, idxs, depth, new_pivots, new_slots, node_min, step, gap)
                ):
                    self._slow(self._remove_slow, cur, depth + 1)
                    return REMOVED
                self._count = self._wcount = self._wcount - 1  # (equal here: see _insert_at)
                return REMOVED
        self._count = self._wcount = self._wcount - 1  # (equal here: see _insert_at)
        self._leaf_copies += 1
        new = new_node(new_pivots, new_slots)
        seqcount = self._seqcount
        seqcount.seq += 1
        if depth:
            k = depth - 1
            parent = parents[k]
            j = idxs[k]
            parent.slots[j] = new  # the single publishing store
            # the new None's run, with one long subtraction (was three ops: 26.31k -> 26.15k)
            gap = pivots[end - 1] - pivots[first - 1] if first else pivots[end - 1] + 1 - node_min
            # a gap only grows here: grow_gaps written out, the parent and slot loaded once for
            # the store and the first test (as a call: 24.77k -> 24.55k per op, callgrind)
            gaps = parent.gaps
            while gaps[j] < gap:  # type: ignore[index]
                gaps[j] = gap  # type: ignore[index]
                if not k:
                    break
                k -= 1
                gaps = parents[k].gaps
                j = idxs[k]
        else:
            self._root = self._wroot = new
        seqcount.seq += 1
        leaf.dead = True
        return REMOVED
