"""New maple nodes for a structural write, built from joined lists and never published here.

Invariant
---------
Every function here builds new nodes from the lists it is handed (new lists
or published ones, which it only reads) and returns them with their last
pivots and gaps; nothing here stores into a node another thread can see or
publishes anything: ``structures.backends.maple.store`` does, with one
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
``split_leaf(pivots, slots, node_min, cut)``, ``join_leaves(a_pivots, a_slots,
b_pivots, b_slots)``.
"""

from __future__ import annotations

from typing import Any

from structures.backends.maple.gap import leaf_gap_of
from structures.backends.maple.node import Node

__all__ = ["join_leaves", "part_sizes", "split_leaf", "spread_internal", "spread_leaves"]


def part_sizes(total: int, parts: int, cap: int, fill_min: int, edge: int) -> list[int]:
    """How many slots each of ``parts`` new nodes takes: even (the first ones one more),
    or for a split at the ``edge`` of an append (+1) / prepend (-1) the new edge node
    just ``fill_min`` and the other the rest, when that fits."""
    if edge and parts == 2 and total - fill_min <= cap:
        return [total - fill_min, fill_min] if edge > 0 else [fill_min, total - fill_min]
    size, extra = divmod(total, parts)
    return [size + 1 if q < extra else size for q in range(parts)]


def join_leaves(
    a_pivots: list[int], a_slots: list[Any], b_pivots: list[int], b_slots: list[Any]
) -> tuple[list[int], list[Any]]:
    """The lists of two neighbouring leaves A and B joined, A's trailing None merged with
    B's leading None when both are None (new lists; the inputs are only read)."""
    if a_slots[-1] is None and b_slots[0] is None:
        return a_pivots[:-1] + b_pivots, a_slots[:-1] + b_slots
    return a_pivots + b_pivots, a_slots + b_slots


def split_leaf(
    pivots: list[int], slots: list[Any], node_min: int, cut: int
) -> tuple[Node, Node, int, int, int]:
    """Two new leaves, slots ``[0, cut)`` and ``[cut, n)`` of ``(pivots, slots)`` (the first
    starting at ``node_min``): ``(left, right, left's last pivot, left's gap, right's gap)``;
    ``spread_leaves`` for two parts written out (a split or a borrow)."""
    left_pivots = pivots[:cut]
    left_slots = slots[:cut]
    right_pivots = pivots[cut:]
    right_slots = slots[cut:]
    boundary = left_pivots[-1]
    return (
        Node(left_pivots, left_slots, None, True, 0),
        Node(right_pivots, right_slots, None, True, 0),
        boundary,
        leaf_gap_of(left_pivots, left_slots, node_min),
        leaf_gap_of(right_pivots, right_slots, boundary + 1),
    )


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
        leaves.append(Node(part_pivots, part_slots, None, True, 0))
        lasts.append(part_pivots[-1])
        gaps.append(leaf_gap_of(part_pivots, part_slots, node_min))
        node_min = part_pivots[-1] + 1
        a = b
    return leaves, lasts, gaps


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
        nodes.append(Node(pivots[a:b], slots[a:b], part_gaps, False, 0))
        lasts.append(pivots[b - 1])
        out_gaps.append(max(part_gaps))
        a = b
    return nodes, lasts, out_gaps
