"""Maple tree nodes: layout, geometry, gap arithmetic, statistics and a text dump.

Invariant
---------
A maple tree maps every address of ``[0, TASK_SIZE)`` to exactly one slot.
Each node covers an inclusive range ``[node_min, node_last]`` given by its
parent (the root covers ``[0, LAST]``, ``LAST = TASK_SIZE - 1``); slot ``i``
of a node covers ``[pivots[i-1] + 1, pivots[i]]`` (slot 0 starts at
``node_min``), so the pivots are strictly increasing *inclusive* upper bounds
and the last one equals ``node_last``.  Leaves hold a ``VMA`` or ``None`` (an
explicit empty range) per slot; a VMA's slot spans exactly ``[vma.start,
vma.end - 1]``; two ``None`` slots are never adjacent, within a node or
across neighbouring leaves, so every maximal free run is exactly one slot.
Internal (gap) nodes hold children and ``gaps[i]`` = the longest ``None`` run
(bytes) inside child ``i``.  All leaves sit at the same depth.  Non-root nodes
hold at least ``min_fill`` slots; the root is exempt (an internal root has at
least two children).  ``structures.backends.maple.check`` recomputes all of
this from scratch.

A published node is immutable except for single-item stores into an
internal node's ``slots`` (a child swapped for one covering the same range)
and ``gaps``, and into a leaf's ``slots`` a VMA over a ``None`` slot whose
range is exactly the VMA's (an exact-fill insert; a slot never goes back to
``None`` in the same leaf, pivots never change): writers copy it first (``gen`` tells a copy made by the running
write from a published node) and mark the original ``dead`` once the new
version is published.

Layout
------
::

    leaf (16 slots, kernel maple_range_64)       gap node (10 slots, maple_arange_64)
    +---------+---------+-----+---------+        +--------+--------+-----+--------+
    | piv[0]  | piv[1]  | ... | piv[15] |        | piv[0] | piv[1] | ... | piv[9] |
    +---------+---------+-----+---------+        +--------+--------+-----+--------+
    | slot[0] | slot[1] | ... | slot[15]|        | child0 | child1 | ... | child9 |
    |  VMA    |  None   |     |  VMA    |        +--------+--------+-----+--------+
    +---------+---------+-----+---------+        | gap[0] | gap[1] | ... | gap[9] |
                                                 +--------+--------+-----+--------+
    slot i covers [piv[i-1]+1, piv[i]];  piv[-1] == node_last (kept even when the
    node is full, where the kernel leaves it implied by the parent: it lets one
    ``bisect_left(pivots, addr)`` pick the slot with no bounds special case).

API
---
``LAST``; ``Node`` (``__slots__``: ``pivots slots gaps leaf dead gen nulls``), made by
``new_node(pivots, slots, gaps=None, leaf=True, gen=0)`` (a new leaf: ``new_node(pivots,
slots)``); ``null_slots(leaf)``, ``leaf_gap(leaf, node_min)``, ``node_gap(node, node_min)``,
``min_fill(width, leaf)``,
``tree_stats(root, leaf_slots, internal_slots)``, ``dump(root)``; path helpers
``node_min_below``, ``path_min``, ``edge_slot``; ``shrink_gaps``, ``grow_gaps`` (gap entries stored upward).
"""

from __future__ import annotations

import sys
from typing import Any

from structures.vma import TASK_SIZE, VMA

__all__ = [
    "LAST",
    "Node",
    "dump",
    "edge_slot",
    "leaf_gap",
    "min_fill",
    "new_node",
    "node_gap",
    "node_min_below",
    "null_slots",
    "path_min",
    "shrink_gaps",
    "tree_stats",
]

#: inclusive last address of the index space (the root's max)
LAST = TASK_SIZE - 1


class Node:
    """One maple node; ``gaps is None`` and ``leaf`` is True for leaves.  Made only by
    ``new_node`` (the class has no ``__init__``: see there)."""

    __slots__ = ("dead", "gaps", "gen", "leaf", "nulls", "pivots", "slots")

    pivots: list[int]
    slots: list[Any]
    gaps: list[int] | None
    leaf: bool
    dead: bool
    gen: int
    nulls: tuple[int, ...] | None  # leaf: indices of None slots, filled lazily (null_slots)

    def __repr__(self) -> str:
        kind = "leaf" if self.leaf else "node"
        return f"<maple {kind} {len(self.slots)} slots max={self.pivots[-1]:#x}{' dead' if self.dead else ''}>"


def new_node(
    pivots: list[int], slots: list[Any], gaps: list[int] | None = None, leaf: bool = True, gen: int = 0
) -> Node:
    """A new node (a new leaf: ``new_node(pivots, slots)``), not yet published.

    ``Node`` has no ``__init__``: ``Node()`` then runs only C code (``object``'s new and
    init), and the fields are stored here, in a plain Python-to-Python call.  A class
    call with a Python ``__init__`` goes through ``slot_tp_init`` into a second
    interpreter frame: 200 -> 149 ns per new leaf (timeit, min of 9), ~1.14 per op of a
    random build + teardown of 10k VMAs: 24.63k -> 24.14k instructions per op there
    (callgrind; bytecodes 546.8 -> 551.3, the frame is what costs).  The defaults are a writer's new leaf: three
    constants fewer to pass on every fast-path write (24.77k -> 24.62k instructions per
    op, callgrind)."""
    node = Node()
    node.pivots = pivots
    node.slots = slots
    node.gaps = gaps
    node.leaf = leaf
    node.dead = False
    node.gen = gen
    node.nulls = None
    return node


def min_fill(width: int, leaf: bool) -> int:
    """Minimum slots of a non-root node: the kernel's 6/16 (leaf) and 4/10 (gap node), scaled."""
    return max(2, (width * 3) // 8) if leaf else max(2, (width * 2) // 5)


def null_slots(leaf: Node) -> tuple[int, ...]:
    """Indices of a published leaf's ``None`` slots, computed once and cached on the node:
    a superset of its None slots from then on.

    A published leaf's slot changes only from None to a VMA (an exact-fill insert, one
    slot store), never back and never its pivots, so the cache can only list too many
    slots, never miss one: readers skip a listed slot that is no longer None.  Two
    readers racing to fill it store tuples that are each such a superset (one reference
    store each).  Gap searches then visit 1-3 None slots instead of scanning 16
    (measured 2.4 -> 1.x us per top-down ``find_gap`` at n=10,000)."""
    nulls = leaf.nulls
    if nulls is None:
        nulls = leaf.nulls = tuple([k for k, v in enumerate(leaf.slots) if v is None])
    return nulls


def leaf_gap(leaf: Node, node_min: int) -> int:
    """Longest ``None`` run (bytes) of a leaf whose range starts at ``node_min``."""
    gap = 0
    prev = node_min - 1
    for last, v in zip(leaf.pivots, leaf.slots, strict=True):
        if v is None and last - prev > gap:
            gap = last - prev
        prev = last
    return gap


def node_gap(node: Node, node_min: int) -> int:
    """Longest ``None`` run below ``node`` (range starting at ``node_min``)."""
    if node.leaf:
        return leaf_gap(node, node_min)
    return max(node.gaps)  # type: ignore[arg-type]


def node_min_below(parents: list[Node], idxs: list[int]) -> int:
    """The ``node_min`` (first address) of the node below ``parents[-1].slots[idxs[-1]]``
    (``parents``: a path from the root, ``idxs``: the slot taken in each)."""
    for k in range(len(parents) - 1, -1, -1):
        i = idxs[k]
        if i:
            return parents[k].pivots[i - 1] + 1  # type: ignore[no-any-return]
    return 0


def path_min(parents: list[Node], idxs: list[int], depth: int) -> int:
    """``node_min_below`` on the first ``depth`` levels of a path (the write fast paths'
    scratch lists), a plain loop: the fast paths call it ~0.4 times per op."""
    k = depth - 1
    while k >= 0:
        i = idxs[k]
        if i:
            return parents[k].pivots[i - 1] + 1  # type: ignore[no-any-return]
        k -= 1
    return 0


def shrink_gaps(parents: list[Node], idxs: list[int], k: int, gap: int) -> None:
    """Store ``gap``, the new (not larger) largest gap of the node below ``parents[k]``,
    upward in place up to the first unchanged entry.  A node's largest gap changes only
    if the entry that shrank was it, which the entry above it tells: no max() over the
    node's gaps then (a builtin that parses its keywords): 25.62k -> 25.22k instructions
    per op (random build + teardown of 10k VMAs, callgrind; written inline in both
    insert fast paths, this call costs 0.08k back: not worth a second copy of the loop).
    ``_replace_child`` calls it for a shrunk gap, ``grow_gaps`` for a grown one."""
    gaps = parents[k].gaps
    j = idxs[k]
    while gaps[j] != gap:  # type: ignore[index]
        old = gaps[j]  # type: ignore[index]
        gaps[j] = gap  # type: ignore[index]
        if not k:
            return
        k -= 1
        above = parents[k].gaps
        if old < above[idxs[k]]:  # type: ignore[index]
            return  # not the node's largest: that stays
        gap = max(gaps)  # type: ignore[arg-type]
        gaps = above
        j = idxs[k]


def grow_gaps(parents: list[Node], idxs: list[int], k: int, gap: int) -> None:
    """Store ``gap``, the new (not smaller) largest gap of the node below ``parents[k]``,
    upward in place while it beats the entry: a node's largest is then max(its old one,
    ``gap``), so no max() over its gaps (26.05k -> 25.62k instructions per op, random build
    + teardown of 10k VMAs, callgrind).  ``shrink_gaps``'s twin, for ``_replace_child``'s
    grown gap (a call, not its own copy of the loop: 24.55k -> 24.62k per op); a remove's
    widened run keeps it written out (as a call there 24.77k)."""
    gaps = parents[k].gaps
    j = idxs[k]
    while gaps[j] < gap:  # type: ignore[index]
        gaps[j] = gap  # type: ignore[index]
        if not k:
            return
        k -= 1
        gaps = parents[k].gaps
        j = idxs[k]


def edge_slot(parents: list[Node], idxs: list[int], depth: int, step: int) -> Any:
    """The last slot of the previous leaf (``step=-1``) or the first of the next (``+1``),
    for the leaf below ``parents[:depth]``; 0 (not None) when there is no such leaf."""
    k = depth - 1
    while k >= 0:
        j = idxs[k] + step
        if 0 <= j < len(parents[k].slots):
            node = parents[k].slots[j]
            while not node.leaf:
                node = node.slots[-1 if step < 0 else 0]
            return node.slots[-1 if step < 0 else 0]
        k -= 1
    return 0


def tree_stats(root: Node, leaf_slots: int, internal_slots: int) -> dict[str, Any]:
    """Height, nodes by type, fill factor, slots and a memory estimate (bytes)."""
    leaves = internals = used_leaf = used_int = nbytes = vmas = nulls = 0
    height = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        nbytes += sys.getsizeof(node) + sys.getsizeof(node.pivots) + sys.getsizeof(node.slots)
        nbytes += sum(sys.getsizeof(p) for p in node.pivots)
        if node.leaf:
            leaves += 1
            used_leaf += len(node.slots)
            height = max(height, depth)
            for v in node.slots:
                if v is None:
                    nulls += 1
                else:
                    vmas += 1
        else:
            internals += 1
            used_int += len(node.slots)
            assert node.gaps is not None
            nbytes += sys.getsizeof(node.gaps) + sum(sys.getsizeof(g) for g in node.gaps)
            stack.extend((c, depth + 1) for c in node.slots)
    cap = leaves * leaf_slots + internals * internal_slots
    return {
        "height": height,
        "nodes": leaves + internals,
        "leaf_nodes": leaves,
        "internal_nodes": internals,
        "null_slots": nulls,
        "leaf_fill": used_leaf / (leaves * leaf_slots) if leaves else 0.0,
        "internal_fill": used_int / (internals * internal_slots) if internals else 0.0,
        "fill": (used_leaf + used_int) / cap if cap else 0.0,
        "bytes": nbytes,
        "bytes_per_vma": nbytes / vmas if vmas else float(nbytes),
        "leaf_slots": leaf_slots,
        "internal_slots": internal_slots,
    }


def dump(root: Node, max_nodes: int = 64) -> str:
    """A compact text picture of the tree, one node a line, indented by depth and
    named like the check errors (``root``, ``root/0``, ``root/0/3``)::

        root node [0x0, 0x7fffffffffff] gaps=[0x1000, 0x1000, 0x1000, 0x7ffffffef000]
          root/0 leaf [0x0, 0x4fff] V:0x1fff .:0x2fff V:0x4fff
          root/1 leaf [0x5000, 0x8fff] .:0x5fff V:0x7fff .:0x8fff
          root/2 leaf [0x9000, 0xdfff] V:0xafff .:0xbfff V:0xdfff
          root/3 leaf [0xe000, 0x7fffffffffff] .:0xefff V:0x10fff .:0x7fffffffffff

    A leaf lists its slots as ``V`` (a VMA), ``.`` (None) or ``?``, each with its
    inclusive last address (its pivot); a gap node lists its gaps.  At most
    ``max_nodes`` nodes (then ``...``); dead nodes say ``DEAD``."""
    lines: list[str] = []
    stack: list[tuple[Node, str, int, int, int]] = [(root, "root", 0, LAST, 0)]
    while stack:
        node, name, node_min, node_last, depth = stack.pop()
        if len(lines) >= max_nodes:
            lines.append("  ...")
            break
        head = f"{'  ' * depth}{name} {'leaf' if node.leaf else 'node'} [{_hex(node_min)}, {_hex(node_last)}]"
        if node.dead:
            head += " DEAD"
        if node.leaf:
            cells = " ".join(
                f"{'.' if v is None else 'V' if type(v) is VMA else '?'}:{_hex(p)}"
                for p, v in zip(node.pivots, node.slots, strict=False)
            )
            lines.append(f"{head} {cells}")
            continue
        lines.append(f"{head} gaps=[{', '.join(_hex(g) for g in node.gaps or ())}]")
        child_min = node_min
        children = []
        for i, (p, child) in enumerate(zip(node.pivots, node.slots, strict=False)):
            if isinstance(child, Node):
                children.append((child, f"{name}/{i}", child_min, p, depth + 1))
            child_min = p + 1 if type(p) is int else child_min
        stack.extend(reversed(children))
    return "\n".join(lines)


def _hex(x: object) -> str:
    """An int in hex, anything else (a corrupt field) as its repr."""
    return f"{x:#x}" if type(x) is int else repr(x)
