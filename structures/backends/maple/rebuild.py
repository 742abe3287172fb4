"""The maple tree's structural writers and its single publishing store.

Invariant
---------
Every node a write creates becomes visible to lock-free readers through one
reference store made here, inside a write section of the index's
``SeqCount`` (``seq`` odd from just before that store until the gaps above
it are updated; the writer bumps ``seq`` itself, the section holding no
read), and the nodes it replaces are marked ``dead`` right after:

* ``_replace_child``: one new node stored into its live parent's slot (or
  as the root); the new largest gap is then stored upward in place,
  stopping at the first unchanged entry (``mas_update_gap``).  It serves
  the commonest rebuilds written out (``store``'s insert split,
  ``_respread_leaf``: new leaves under a new copy of the parent; a None join
  that would borrow moves the two leaves' boundary), a None joining across
  two parents (``_join_across``: the two leaves' boundary moved, new copies
  of both spines up to their common ancestor, published at the top; when
  the leaf fell under its minimum fill as well, ``_settle_underfull`` then
  merges or borrows it in a second write, so between the two publishes
  readers see a valid tree with one underfull leaf, which none depends on), the
  climbing rebuild (``_rebuild``: new leaves, then new copies of as many
  ancestors as the split or merge reaches, published at the top) and the
  subtree mode of the general path (``_publish``);
* ``_publish``: the general path's private version (``cow.PathCopyWriter``)
  made visible with one root store (or one slot store in subtree mode).

A published internal node changes only by single list-item stores (a
child swapped for a new one covering the same range, a ``gaps[i]`` value);
pivot lists never change once published, no published list ever changes
length.  The rebuilds fall back to the general path (``_slow``) only when
Nones must join across two parents at both edges of a leaf, when neither
leaf of a join across parents can spare a slot, or a window cannot keep the
minimum fill (4 writes in a random build + teardown of 10k VMAs).

Layout
------
::

    climbing rebuild:
         level 0: leaves [first, end) of the parent (the store, a sibling to merge
                  with / borrow from, a leaf whose edge None joins ours)
                  -> 1..n new leaves, evenly filled (an append/prepend split:
                     the new edge leaf at minimum fill)
         level k: the new lists of the node above; within its limits -> one new
                  copy, published by one slot store into its live parent (or as
                  the root); else spread with a sibling, one level up
    path  = parents (root .. the leaf's parent) + idxs (slot taken in each)

API
---
``RebuildWriter`` (a ``cow.PathCopyWriter``, the fallback; ``MapleIndex``
supplies the state): ``_replace_child``, ``_respread_leaf``, ``_join_across``
(``_settle_underfull``), ``_rebuild`` (``_publish_levels``; new nodes from
``reshape``), ``_publish``.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from structures.backends.maple.cow import PathCopyWriter
from structures.backends.maple.node import (
    Node,
    grow_gaps,
    new_node,
    node_gap,
    node_min_below,
    path_min,
    shrink_gaps,
)
from structures.backends.maple.reshape import (
    join_across,
    move_null,
    part_sizes,
    respread_pair,
    spread_internal,
    spread_leaves,
)
from structures.lib.seqcount import SeqCount
from structures.vma import InvariantError

__all__ = ["RebuildWriter"]


class RebuildWriter(PathCopyWriter):
    """The structural writers and the publishing store (falling back to the path copies); mutex held."""

    _seqcount: SeqCount
    _path_nodes: list[Any]  # the write paths' scratch path (root .. the leaf's parent)
    _path_idxs: list[int]

    def _replace_child(self, parents: list[Node], idxs: list[int], depth: int, new: Node, gap: int) -> None:
        """Publish ``new`` in place of the node below ``parents[depth - 1].slots[idxs[depth - 1]]``
        (as the root when ``depth`` is 0) with one reference store, then store ``gap``, its
        largest gap, upward in place, stopping at the first unchanged entry.  ``depth``, not
        sliced lists: two list copies fewer per rebalance, 23.69k -> 23.47k instructions per
        op (random build + teardown of 10k VMAs, callgrind)."""
        # the write section, opened and closed by bumping ``seq`` itself: no read happens
        # inside it, so the writer's id is not needed, and begin()/end() measured 4-9 % of
        # a maple insert + remove (2 x 10,000, build+remove at n=10,000; 6.9 vs 7.3 us)
        seqcount = self._seqcount
        seqcount.seq += 1  # odd: a write is in progress
        if depth:
            k = depth - 1
            parents[k].slots[idxs[k]] = new  # the single publishing store
            if gap < parents[k].gaps[idxs[k]]:  # type: ignore[index]
                shrink_gaps(parents, idxs, k, gap)  # shrank: every entry above can only shrink
            else:
                grow_gaps(parents, idxs, k, gap)
        else:
            self._root = self._wroot = new
        seqcount.seq += 1  # even: published

    def _respread_leaf(
        self,
        parents: list[Node],
        idxs: list[int],
        depth: int,
        pivots: list[int],
        slots: list[Any],
        node_min: int,
        step: int,
        gap: int,
    ) -> bool:
        """``_rebuild``'s common remove case written out: the leaf below ``parents[depth - 1]``
        (new lists ``(pivots, slots)``: its edge None meets the sibling's, or it is underfull)
        joined with its sibling ``step`` (-1 the previous, +1 the next, under the same
        parent) into one new leaf (a merge) or two evenly filled ones (a borrow), under a
        new copy of the parent, published with one slot store into the grandparent (or as
        the root), gaps above in place.  False, nothing changed, when the sibling is not
        there or the parent would leave its limits (then ``_rebuild`` climbs).  Random
        build + teardown of 10k VMAs: 1,539 of the 1,669 remove rebuilds, 5.8 us each
        against 10.8 for an average ``_rebuild``; 33.2k -> 31.8k instructions per op."""
        k = depth - 1
        parent = parents[k]
        children = parent.slots
        j = idxs[k]
        first = j + step if step < 0 else j  # the window: children [first, first + 2)
        if first < 0 or first + 1 >= len(children):
            return False
        sib = children[j + step]
        n = len(slots)
        fill_min = self._leaf_fill_min
        if (  # a None join that would borrow: the sibling gives up its edge None instead
            n >= fill_min
            and len(sib.slots) > fill_min
            and n + len(sib.slots) > self.leaf_slots + 1
            and (slots[0] if step < 0 else slots[-1]) is None
            and (sib.slots[-1] if step < 0 else sib.slots[0]) is None
        ):
            # (reshape.move_null) 629 of the 1,894 remove rebalances of a random build + teardown
            # of 10k VMAs: 24.14k -> 23.88k instructions per op, though the rebalances go 2,092
            # -> 2,189 (a borrow evens the leaves out); for would-be merges too: 2,443, 24.13k
            new = move_null(parents, idxs, depth, pivots, slots, step)
            self._replace_child(parents, idxs, k, new, max(new.gaps))  # type: ignore[arg-type]
            children[j].dead = True
            sib.dead = True
            parent.dead = True
            self._rebalances += 1
            self._nodes_allocated += 3
            self._nodes_freed += 3
            return True
        if step < 0:  # the window: leaves A (left) and B, joined in respread_pair
            a_pivots, a_slots, b_pivots, b_slots = sib.pivots, sib.slots, pivots, slots
            window_min = parent.pivots[first - 1] + 1 if first else path_min(parents, idxs, k)  # (the parent's)
        else:
            a_pivots, a_slots, b_pivots, b_slots = pivots, slots, sib.pivots, sib.slots
            window_min = node_min
        join = a_slots[-1] is None and b_slots[0] is None  # their edge Nones become one
        total = n + len(sib.slots) - join
        merge = total <= self.leaf_slots  # else a borrow: two leaves, evenly filled
        if merge and (total < self._leaf_fill_min or len(children) - 1 < (self._internal_fill_min if k else 2)):
            return False
        sib_gap = parent.gaps[j + step]  # type: ignore[index]
        if sib_gap > gap:
            gap = sib_gap
        new, parts, gap = respread_pair(
            parent, first, a_pivots, a_slots, b_pivots, b_slots, window_min, merge, gap, join
        )
        # the new parent's gap without a max(): a remove's joined gap is at least both old
        # entries', so the wider of it and the parent's entry above: 23.35k -> 23.32k per op
        if k:
            up = parents[k - 1].gaps[idxs[k - 1]]  # type: ignore[index]
            if up > gap:
                gap = up
        self._replace_child(parents, idxs, k, new, gap)
        children[j].dead = True  # (the old parent's list, never changed: no slice, 23.22k -> 23.17k)
        sib.dead = True
        parent.dead = True
        self._rebalances += 1
        self._nodes_allocated += parts + 1
        self._nodes_freed += 3
        return True

    def _join_across(
        self,
        parents: list[Node],
        idxs: list[int],
        depth: int,
        pivots: list[int],
        slots: list[Any],
        node_min: int,
        step: int,
        gap: int,
    ) -> bool:
        """The leaf's edge None meets the neighbouring leaf's under another parent: move
        their boundary (``reshape.join_across``), publish the new copy of their lowest
        common ancestor with one store; a leaf under its minimum fill is then settled by a
        second write (``_settle_underfull``).  False, nothing changed, if neither leaf can
        spare a slot.  Random build + teardown of 10k VMAs: 201 of the 226 general-path writes
        (``_slow``, ~38 us each) done here at ~11.5 us when written: 31.8k -> 30.3k instructions
        per op; the underfull ones, 25 of the other 29, since ``_settle_underfull``."""
        built = join_across(parents, idxs, depth, pivots, slots, node_min, step, self._leaf_fill_min, gap)
        if built is None:
            return False
        top, new, replaced = built
        replaced.append(parents[depth - 1].slots[idxs[depth - 1]])  # the caller's leaf
        self._publish_levels(parents, idxs, top, new, replaced)
        self._nodes_allocated += len(replaced) - 1  # a new copy of each (the top one counted)
        self._rebalances += 1
        if len(slots) < self._leaf_fill_min:  # underfull as well: a second write evens it out
            self._settle_underfull(node_min)
        return True

    def _settle_underfull(self, addr: int) -> None:
        """The second write of a remove whose leaf both joined its edge None across parents
        (``_join_across``, published: a tree every reader can use, but for one leaf under
        its minimum fill, which no reader depends on) and fell under that minimum: the leaf
        holding ``addr`` merges with or borrows from a sibling (``_respread_leaf``, else the
        climbing ``_rebuild``), published by a second store.  Random build + teardown of 10k
        VMAs: 25 of the 29 general-path writes (``_slow``, ~52 us each) done here, build +
        teardown 0.988x and 0.985x the time (two runs of 21 interleaved rounds in one process)."""
        parents = self._path_nodes
        idxs = self._path_idxs
        node = self._root
        depth = 0
        while not node.leaf:  # a new descent: the join replaced the path below its top
            i = bisect_left(node.pivots, addr)
            parents[depth] = node
            idxs[depth] = i
            depth += 1
            node = node.slots[i]
        k = depth - 1
        j = idxs[k]
        node_min = path_min(parents, idxs, depth)
        gap = parents[k].gaps[j]  # type: ignore[index]
        if not self._respread_leaf(
            parents, idxs, depth, node.pivots, node.slots, node_min, -1 if j else 1, gap
        ) and not self._rebuild(parents, idxs, depth, node.pivots, node.slots, False, False, node_min):
            # not reached: an underfull leaf below the root has a sibling, and the two fill a window
            raise InvariantError(f"maple: the underfull leaf at {addr:#x} found no sibling to settle with")

    def _rebuild(
        self,
        parents: list[Node],
        idxs: list[int],
        depth: int,
        new_pivots: list[int],
        new_slots: list[Any],
        join_prev: bool,
        join_next: bool,
        node_min: int,
        edge: int = 0,
    ) -> bool:
        """A structural write, done level by level up from the leaf's parent and published
        with one store (``mas_split`` / ``mas_rebalance``'s way, in RCU mode):

        the leaf (whose new lists are ``(new_pivots, new_slots)``, ``node_min`` its first
        address, possibly over width or under fill), joined with the previous / next
        leaf when ``join_prev`` / ``join_next`` (their edge Nones merge with ours) and
        with a sibling to merge with or borrow from when underfull, is spread evenly over as few new
        leaves as fit; the parent's new lists take them.  If those fit the parent's
        width and fill, a new copy of the parent is published with one slot store
        (gaps above in place); if not, the parent's new lists are spread the same way
        into new nodes under a new copy of the grandparent, and so on up; at the root
        the height may grow (a root split) or shrink (a root with one child).

        ``edge`` +1 (-1): the write stored into the last slot of the last leaf (the first
        of the first), an append (prepend) as an ascending (descending) build makes:
        an overflowing edge node is then split unevenly, the new edge node taking just
        the minimum fill and its neighbour the rest (the kernel's bulk split,
        ``mab_calc_split`` in ``MA_STATE_BULK``): the full node is left behind for good
        and the next split comes later.  Ascending build of 10k VMAs: 2,037 leaf
        rebuilds + 156 general-path writes -> 946 + 0; build + teardown 45.1k -> 39.0k
        instructions per op (callgrind; random order 37.2k -> 37.9k: the edge test).

        False, nothing changed, when a join reaches a leaf under another parent or a
        window cannot keep the minimum fill (the caller then takes the general path).
        Doing the whole climb here replaced the subtree path copy (``cow``, ~37 us a
        write) for every split or merge that reaches above the leaf's parent: a random
        build + teardown of 10k VMAs takes the general path 573 -> 179 times (the rest:
        Nones joining across parents, now ``_join_across``'s).  The path: the first ``depth``
        levels of the fast path's scratch lists (not sliced copies: 23.47k -> 23.42k)."""
        cap = self.leaf_slots
        n = len(new_slots)
        if not depth:  # the root is the leaf: split it under a new root (height + 1)
            if n <= cap:
                return False
            parts = 2
            if n // parts < self._leaf_fill_min:
                return False
            sizes = part_sizes(n, parts, cap, self._leaf_fill_min, edge)
            leaves, lasts, gaps_ = spread_leaves(new_pivots, new_slots, sizes, 0)
            self._nodes_allocated += 2
            self._publish_levels([], [], 0, new_node(lasts, leaves, gaps_, False), [self._root])
            self._rebalances += 2  # a split and a height change
            return True
        level = depth - 1
        parent = parents[level]
        k = idxs[level]
        children = parent.slots
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
            if n > cap:
                # an overflowing leaf splits alone (an append / prepend unevenly, below); no
                # push into a sibling: a push (allowed up to 2 x 16 - 2 slots) left both leaves
                # nearly full and the next insert into either rebalanced again.  Random build +
                # teardown of 10k VMAs: 4,219 -> 3,298 rebalances, 6.50 -> 5.89 us per op; the
                # price (with no push one level up either): a random build's fill 0.80 -> 0.69,
                # 80.7 -> 87.6 bytes per VMA (stats())
                pass
            elif k:  # underfull: merge with / borrow from a sibling
                first = k - 1
            elif k + 1 < len(children):
                end = k + 2
            else:
                return False
        if end - first == 1:  # a split of the leaf alone: its new lists as they are
            pivots, slots = new_pivots, new_slots
        else:
            pivots = []
            slots = []
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
        if total // parts < self._leaf_fill_min:
            return False
        if first == k:
            window_min = node_min
        elif first:
            window_min = parent.pivots[first - 1] + 1
        else:  # the window starts at the parent's first child: the parent's node_min
            window_min = path_min(parents, idxs, level)
        sizes = part_sizes(total, parts, cap, self._leaf_fill_min, edge if end - first == 1 else 0)
        leaves, lasts, gaps_ = spread_leaves(pivots, slots, sizes, window_min)
        self._nodes_allocated += len(sizes)
        replaced = children[first:end]
        self._rebalances += 1
        # climb: the parent's new lists, spread up while they break the width/fill limits
        # (copy + slice store, not two slices + two concatenations: with the split-alone
        # shortcut above, 37.9k -> 37.2k instructions per op, random build + teardown)
        piv_l = parent.pivots.copy()
        piv_l[first:end] = lasts
        slot_l = children.copy()
        slot_l[first:end] = leaves
        gap_l = parent.gaps.copy()  # type: ignore[union-attr]
        gap_l[first:end] = gaps_
        cap = self.internal_slots
        fill_min = self._internal_fill_min
        while True:
            replaced.append(parent)
            width = len(slot_l)
            if level == 0:  # parent is the root
                if width > cap:  # split the root's lists under a new root (height + 1)
                    sizes = part_sizes(width, 2, cap, fill_min, edge)
                    nodes, nlasts, ngaps = spread_internal(piv_l, slot_l, gap_l, sizes)
                    self._nodes_allocated += 2
                    new_root = new_node(nlasts, nodes, ngaps, False)
                    self._rebalances += 1
                elif width == 1:  # one child left: it becomes the root (height - 1)
                    self._rebalances += 1
                    self._publish_levels([], [], 0, slot_l[0], replaced, False)
                    return True
                else:
                    new_root = new_node(piv_l, slot_l, gap_l, False)
                self._publish_levels([], [], 0, new_root, replaced)
                return True
            if fill_min <= width <= cap:
                self._publish_levels(parents, idxs, level, new_node(piv_l, slot_l, gap_l, False), replaced)
                return True
            # the parent's new lists break its limits: spread them with a sibling under
            # a new copy of the grandparent (split on overflow, merge / borrow on
            # underflow), as the leaves were spread under the parent
            level -= 1
            grand = parents[level]
            k = idxs[level]
            siblings = grand.slots
            first, end = k, k + 1
            if width > cap:
                # splits alone (an append / prepend unevenly), no push, as at the leaf level:
                # 3,303 -> 3,234 rebalances, 30.3k -> 30.1k instructions per op
                pass
            elif k:
                first = k - 1
            else:
                end = k + 2  # an internal node has >= 2 children: a right sibling exists
            wp: list[int] = []
            ws: list[Any] = []
            wg: list[int] = []
            for c in range(first, end):
                if c == k:
                    wp += piv_l
                    ws += slot_l
                    wg += gap_l
                else:
                    sib = siblings[c]
                    wp += sib.pivots
                    ws += sib.slots
                    wg += sib.gaps
                    replaced.append(sib)
            total = len(ws)
            parts = -(-total // cap)
            if total // parts < fill_min:
                return False  # (not reached: a sibling holds >= fill_min) nothing published
            sizes = part_sizes(total, parts, cap, fill_min, edge if end - first == 1 else 0)
            nodes, nlasts, ngaps = spread_internal(wp, ws, wg, sizes)
            self._nodes_allocated += len(sizes)
            self._rebalances += 1
            parent = grand
            piv_l = grand.pivots[:first] + nlasts + grand.pivots[end:]
            slot_l = siblings[:first] + nodes + siblings[end:]
            gap_l = grand.gaps[:first] + ngaps + grand.gaps[end:]  # type: ignore[index]

    def _publish_levels(
        self, parents: list[Node], idxs: list[int], depth: int, new: Node, replaced: list[Node], fresh: bool = True
    ) -> None:
        """Publish ``new`` (a new node, or with ``fresh`` False a surviving child that
        becomes the root) in place of the node below ``parents[depth - 1].slots[idxs[depth - 1]]``
        (the root when ``depth`` is 0) with one store, then kill ``replaced``."""
        self._replace_child(parents, idxs, depth, new, max(new.gaps) if depth else 0)  # type: ignore[arg-type]
        for node in replaced:
            node.dead = True
        self._nodes_allocated += fresh
        self._nodes_freed += len(replaced)

    def _publish(self) -> None:
        """Make the general path's private version visible with one reference store, then
        kill the nodes it replaced."""
        top = self._subtree_top
        if top is not None:  # subtree mode: one slot store into the live parent
            self._subtree_top = None
            parents, idxs, _, new = top
            self._count = self._wcount
            self._replace_child(parents, idxs, len(parents), new, node_gap(new, node_min_below(parents, idxs)))
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
        self._nodes_freed += len(self._replaced)
        self._replaced = []
