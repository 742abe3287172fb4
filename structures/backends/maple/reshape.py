"""New maple nodes for a structural write, built from joined lists and never published here.

Invariant
---------
Every function here builds new nodes from the lists it is handed (new lists
or published ones, which it only reads) and returns them with their last
pivots and gaps; nothing here stores into a node another thread can see or
publishes anything: ``structures.backends.maple.rebuild`` does, with one
reference store.  A split keeps the slots in order, so when no two Nones are
adjacent in the joined lists, no boundary it makes has a None on both sides.

Layout
------
::

    joined lists  | V | . | V | V | V | . | V | V | ... |   (one window of siblings)
    part_sizes    [ 9 ............ ][ 8 ............ ]     even, the first ones one more
                                                         (an append / prepend: the edge
                                                          part just the minimum fill)
    spread_*      new node per part; lasts = each part's last pivot, gaps = its widest None

API
---
``part_sizes(total, parts, cap, fill_min, edge)``, ``spread_leaves(pivots, slots,
sizes, node_min)``, ``spread_internal(pivots, slots, gaps, sizes)``,
``split_leaf(pivots, slots, node_min, cut, gap)``, ``split_child(parent, j,
pivots, slots, node_min, cut, gap)``, ``join_across(parents, idxs, depth, pivots, slots, node_min, step,
fill_min, gap)``, ``move_null(parents, idxs, depth, pivots, slots, step)``,
``respread_pair(parent, first, a_pivots, a_slots, b_pivots, b_slots, node_min, merge, gap,
join)``.
"""

from __future__ import annotations

from typing import Any

from structures.backends.maple.gap import leaf_gap_of
from structures.backends.maple.node import Node, new_node, node_min_below, path_min

__all__ = [
    "join_across",
    "move_null",
    "part_sizes",
    "respread_pair",
    "split_child",
    "split_leaf",
    "spread_internal",
    "spread_leaves",
]


def part_sizes(total: int, parts: int, cap: int, fill_min: int, edge: int) -> list[int]:
    """How many slots each of ``parts`` new nodes takes: even (the first ones one more),
    or for a split at the ``edge`` of an append (+1) / prepend (-1) the new edge node
    just ``fill_min`` and the other the rest, when that fits."""
    if edge and parts == 2 and total - fill_min <= cap:
        return [total - fill_min, fill_min] if edge > 0 else [fill_min, total - fill_min]
    size, extra = divmod(total, parts)
    return [size + 1 if q < extra else size for q in range(parts)]


def split_leaf(
    pivots: list[int], slots: list[Any], node_min: int, cut: int, gap: int = -1
) -> tuple[Node, Node, int, int, int]:
    """Two new leaves, slots ``[0, cut)`` and ``[cut, n)`` of ``(pivots, slots)`` (the first
    starting at ``node_min``): ``(left, right, left's last pivot, left's gap, right's gap)``;
    ``spread_leaves`` for two parts written out (a split or a borrow).

    ``gap``, when the caller knows it (else -1), is the whole lists' gap: only the
    shorter half is scanned, and if its gap is below ``gap`` the widest None is in the
    other half, whose gap is then ``gap`` without a scan (a split cuts at a slot
    boundary, so no None spans both halves)."""
    left_pivots = pivots[:cut]
    left_slots = slots[:cut]
    right_pivots = pivots[cut:]
    right_slots = slots[cut:]
    boundary = left_pivots[-1]
    if gap < 0:
        left_gap = leaf_gap_of(left_pivots, left_slots, node_min)
        right_gap = leaf_gap_of(right_pivots, right_slots, boundary + 1)
    elif cut + cut <= len(slots):
        left_gap = leaf_gap_of(left_pivots, left_slots, node_min)
        right_gap = gap if left_gap < gap else leaf_gap_of(right_pivots, right_slots, boundary + 1)
    else:
        right_gap = leaf_gap_of(right_pivots, right_slots, boundary + 1)
        left_gap = gap if right_gap < gap else leaf_gap_of(left_pivots, left_slots, node_min)
    return new_node(left_pivots, left_slots), new_node(right_pivots, right_slots), boundary, left_gap, right_gap


def split_child(
    parent: Node, j: int, pivots: list[int], slots: list[Any], node_min: int, cut: int, gap: int
) -> Node:
    """The new copy of ``parent`` whose child ``j`` (a leaf) gives way to the two new leaves
    ``split_leaf`` makes of its new lists ``(pivots, slots)`` (``cut``, ``gap``: there).
    (``split_leaf``'s body written out here saved 0.04k of 23.76k instructions per op:
    not worth a second copy of its gap inference.)

    The insert's split (``store``'s ``_insert_at``): ``_rebuild``'s most common case
    written out, the overflowing leaf split in two under a new copy of its parent, which
    has room for one more child, published with one slot store.  Random build +
    teardown of 10k VMAs: 701 of its 2,842 rebuilds (the others: a full parent, or a
    remove), 6.1 us each against 10.8 for an average ``_rebuild``; 6.07 -> 5.82 us per
    op (write_stats unchanged)."""
    left, right, boundary, left_gap, right_gap = split_leaf(pivots, slots, node_min, cut, gap)
    new_pivots = parent.pivots.copy()
    new_pivots.insert(j, boundary)
    new_children = parent.slots.copy()
    new_children[j] = right
    new_children.insert(j, left)
    new_gaps = parent.gaps.copy()  # type: ignore[union-attr]
    new_gaps[j] = right_gap
    new_gaps.insert(j, left_gap)
    return new_node(new_pivots, new_children, new_gaps, False)


def spread_leaves(
    pivots: list[int], slots: list[Any], sizes: list[int], node_min: int
) -> tuple[list[Node], list[int], list[int]]:
    """New leaves holding ``(pivots, slots)`` in order (the first starting at ``node_min``),
    ``sizes`` slots each; their last pivots and gaps."""
    leaves: list[Node] = []
    lasts: list[int] = []
    gaps: list[int] = []
    a = 0
    for size in sizes:
        b = a + size  # the leaf takes slots [a, b)
        part_pivots = pivots[a:b]
        part_slots = slots[a:b]
        leaves.append(new_node(part_pivots, part_slots))
        lasts.append(part_pivots[-1])
        gaps.append(leaf_gap_of(part_pivots, part_slots, node_min))
        node_min = part_pivots[-1] + 1
        a = b
    return leaves, lasts, gaps


def join_across(
    parents: list[Node], idxs: list[int], depth: int, pivots: list[int], slots: list[Any], node_min: int, step: int,
    fill_min: int, gap: int,
) -> tuple[int, Node, list[Node]] | None:
    """A None joining across two parents: the leaf below ``parents[:depth]`` (new lists
    ``(pivots, slots)``, range from ``node_min``) starts (``step`` -1) / ends (+1) with a
    None that meets the previous / next leaf's edge None, under another parent.  Of the
    two leaves A (left) and B (right) one gives its edge slot to the other, moving their
    boundary: A drops its trailing None (B's leading None then starts lower; B's pivots
    stay), else B drops its leading None into A's.  New copies of A, B, the spines between
    them and their lowest common ancestor (pivots: A's spine ends at the new boundary).
    ``(the ancestor's index in parents, its new copy, the nodes replaced)``, or None
    (nothing built) when neither leaf can spare a slot above ``fill_min``.

    ``gap`` is the leaf's (its new lists') gap, the neighbour's is its parent's entry:
    the leaf whose edge None grows gets the wider of its gap and that None, the one that
    drops its edge None keeps its gap unless that None was its widest (then a scan):
    23.42k -> 23.35k instructions per op (random build + teardown of 10k VMAs, callgrind)."""
    top = depth - 1  # the lowest common ancestor: the deepest parent holding the neighbour
    while top >= 0 and not (0 <= idxs[top] + step < len(parents[top].slots)):
        top -= 1
    if top < 0:
        return None
    lca = parents[top]
    ca = idxs[top] + min(step, 0)  # A's subtree is lca.slots[ca], B's lca.slots[ca + 1]
    replaced = [lca]
    spine: list[Node] = []  # the neighbour's internal nodes below lca, top down
    if step < 0:  # the neighbour A: its node_min (the boundary below A's subtree, then down its right edge)
        node = lca.slots[ca]
        other_min = lca.pivots[ca - 1] + 1 if ca else node_min_below(parents[:top], idxs[:top])
        while not node.leaf:
            spine.append(node)
            if len(node.pivots) > 1:
                other_min = node.pivots[-2] + 1
            node = node.slots[-1]
        a_pivots, a_slots, a_min, b_pivots, b_slots = node.pivots, node.slots, other_min, pivots, slots
        a_spine, b_spine = spine, parents[top + 1 : depth]
        b_gap = gap
        a_gap = spine[-1].gaps[-1] if spine else lca.gaps[ca]  # type: ignore[index]
    else:
        node = lca.slots[ca + 1]
        while not node.leaf:
            spine.append(node)
            node = node.slots[0]
        a_pivots, a_slots, a_min, b_pivots, b_slots = pivots, slots, node_min, node.pivots, node.slots
        a_spine, b_spine = parents[top + 1 : depth], spine
        a_gap = gap
        b_gap = spine[-1].gaps[0] if spine else lca.gaps[ca + 1]  # type: ignore[index]
    replaced.append(node)  # the neighbour leaf (the caller's leaf is the caller's)
    replaced += spine
    replaced += parents[top + 1 : depth]
    a_below = a_pivots[-2] if len(a_pivots) > 1 else a_min - 1  # below A's trailing None
    if len(a_slots) > fill_min:  # A gives its trailing None to B
        if a_pivots[-1] - a_below >= a_gap:  # it was A's widest: recount
            a_gap = -1
        a_pivots, a_slots = a_pivots[:-1], a_slots[:-1]
        grown = b_pivots[0] - a_below  # B's leading None, from A's new boundary
        if grown > b_gap:
            b_gap = grown
    elif len(b_slots) > fill_min:  # B gives its leading None to A
        if b_pivots[0] - a_pivots[-1] >= b_gap:  # it was B's widest: recount
            b_gap = -1
        a_pivots = a_pivots[:-1] + b_pivots[:1]
        b_pivots, b_slots = b_pivots[1:], b_slots[1:]
        grown = a_pivots[-1] - a_below  # A's trailing None, to the new boundary
        if grown > a_gap:
            a_gap = grown
    else:
        return None
    boundary = a_pivots[-1]
    child = new_node(a_pivots, a_slots)
    gap = a_gap if a_gap >= 0 else leaf_gap_of(a_pivots, a_slots, a_min)
    for up in reversed(a_spine):  # A is the last child all the way up: its spine ends at the boundary
        new_pivots = up.pivots.copy()
        new_pivots[-1] = boundary
        new_slots = up.slots.copy()
        new_slots[-1] = child
        new_gaps = up.gaps.copy()  # type: ignore[union-attr]
        new_gaps[-1] = gap
        child = new_node(new_pivots, new_slots, new_gaps, False)
        gap = max(new_gaps)
    a_top, a_gap = child, gap
    child = new_node(b_pivots, b_slots)
    gap = b_gap if b_gap >= 0 else leaf_gap_of(b_pivots, b_slots, boundary + 1)
    for up in reversed(b_spine):  # B is the first child all the way up: pivots unchanged (shared)
        new_slots = up.slots.copy()
        new_slots[0] = child
        new_gaps = up.gaps.copy()  # type: ignore[union-attr]
        new_gaps[0] = gap
        child = new_node(up.pivots, new_slots, new_gaps, False)
        gap = max(new_gaps)
    new_pivots = lca.pivots.copy()
    new_pivots[ca] = boundary
    new_slots = lca.slots.copy()
    new_slots[ca] = a_top
    new_slots[ca + 1] = child
    new_gaps = lca.gaps.copy()  # type: ignore[union-attr]
    new_gaps[ca] = a_gap
    new_gaps[ca + 1] = gap
    return top, new_node(new_pivots, new_slots, new_gaps, False), replaced


def respread_pair(
    parent: Node,
    first: int,
    a_pivots: list[int],
    a_slots: list[Any],
    b_pivots: list[int],
    b_slots: list[Any],
    node_min: int,
    merge: bool,
    gap: int,
    join: bool,
) -> tuple[Node, int, int]:
    """The new copy of ``parent`` whose leaves ``first`` and ``first + 1`` (new or published
    lists ``(a_pivots, a_slots)``, ``(b_pivots, b_slots)``, A starting at ``node_min``)
    give way to their joined lists (two leaves' lists joined here, ``join``: A's
    trailing None and B's leading None become one; a call fewer, and the caller tests
    the joined width before joining: 23.26k -> 23.22k instructions per op) as one new
    leaf (``merge``) or two evenly filled ones (the first one more): (the copy, how many
    new leaves, the joined lists' gap).

    ``gap`` is the wider of the two leaves' gaps; the None a join makes is wider than
    either part, so the joined lists' gap is known without a scan; the merge then scans
    nothing, a borrow one half (``split_leaf``): 23.84k -> 23.74k instructions per op
    (random build + teardown of 10k VMAs, callgrind)."""
    if join:
        at = len(a_slots) - 1  # the joined None's slot
        pivots = a_pivots[:-1] + b_pivots
        slots = a_slots[:-1] + b_slots
        joined = pivots[at] - (pivots[at - 1] if at else node_min - 1)
        if joined > gap:
            gap = joined
    else:
        pivots = a_pivots + b_pivots
        slots = a_slots + b_slots
    new_pivots = parent.pivots.copy()
    new_children = parent.slots.copy()
    new_gaps = parent.gaps.copy()  # type: ignore[union-attr]
    if merge:  # the parent loses a child
        del new_pivots[first]
        new_children[first] = new_node(pivots, slots)
        del new_children[first + 1]
        new_gaps[first] = gap
        del new_gaps[first + 1]
        return new_node(new_pivots, new_children, new_gaps, False), 1, gap
    left, right, boundary, left_gap, right_gap = split_leaf(pivots, slots, node_min, (len(slots) + 1) >> 1, gap)
    new_pivots[first] = boundary
    new_children[first] = left
    new_children[first + 1] = right
    new_gaps[first] = left_gap
    new_gaps[first + 1] = right_gap
    return new_node(new_pivots, new_children, new_gaps, False), 2, gap


def move_null(
    parents: list[Node], idxs: list[int], depth: int, pivots: list[int], slots: list[Any], step: int
) -> Node:
    """The new copy of ``parents[depth - 1]`` after its leaf below (new lists ``(pivots,
    slots)``, not underfull) that starts (``step`` -1) / ends (+1) with a None meeting the
    edge None of its sibling ``step``, which holds more than the minimum, took that None
    over: the sibling drops it and the boundary moves to the sibling's edge VMA; the
    leaf's None grows over the sibling's (its lists as they are, but for its last pivot
    when the boundary moves up; ``pivots`` is copied first if it is the published leaf's).
    No joined lists and no split, as an even borrow would make; the leaf's gap is its
    old one or the grown None, and ``leaf_gap_of`` runs only when the dropped None was
    the sibling's widest."""
    k = depth - 1
    parent = parents[k]
    j = idxs[k]
    s = j + step
    children = parent.slots
    sib = children[s]
    sp = sib.pivots
    new_pivots = parent.pivots.copy()
    gaps = parent.gaps.copy()  # type: ignore[union-attr]
    if step < 0:  # the previous leaf drops its trailing None: the boundary moves down
        boundary = sp[-2]
        s_pivots = sp[:-1]
        s_slots = sib.slots[:-1]
        new_pivots[s] = boundary
        grown = pivots[0] - boundary  # the leaf's first None: [boundary + 1, pivots[0]]
        dropped = sp[-1] - boundary
    else:  # the next leaf drops its leading None: the boundary moves up
        boundary = sp[0]
        s_pivots = sp[1:]
        s_slots = sib.slots[1:]
        if pivots is children[j].pivots:  # shared with the published leaf (no None beside the VMA)
            pivots = pivots.copy()
        pivots[-1] = boundary
        new_pivots[j] = boundary
        grown = boundary - pivots[-2]  # the leaf's last None: [pivots[-2] + 1, boundary]
        dropped = boundary - parent.pivots[j]
    if gaps[j] < grown:  # the leaf's other Nones are its old ones or inside the grown one
        gaps[j] = grown
    if dropped >= gaps[s]:  # the sibling's widest None may be gone: recount
        if step > 0:
            s_min = boundary + 1
        elif s:
            s_min = parent.pivots[s - 1] + 1
        else:
            s_min = path_min(parents, idxs, k)
        gaps[s] = leaf_gap_of(s_pivots, s_slots, s_min)
    new_children = children.copy()
    new_children[j] = new_node(pivots, slots)
    new_children[s] = new_node(s_pivots, s_slots)
    return new_node(new_pivots, new_children, gaps, False)


def spread_internal(
    pivots: list[int], slots: list[Any], gaps: list[int], sizes: list[int]
) -> tuple[list[Node], list[int], list[int]]:
    """New internal nodes holding the children ``(pivots, slots, gaps)`` in order,
    ``sizes`` children each; their last pivots and gaps."""
    nodes: list[Node] = []
    lasts: list[int] = []
    out_gaps: list[int] = []
    a = 0
    for size in sizes:
        b = a + size
        part_gaps = gaps[a:b]
        nodes.append(new_node(pivots[a:b], slots[a:b], part_gaps, False))
        lasts.append(pivots[b - 1])
        out_gaps.append(max(part_gaps))
        a = b
    return nodes, lasts, out_gaps
