"""Maple tree nodes and the tree validator (``mt_validate``) for ``structures.backends.maple.index``.

Invariant
---------
A maple tree maps every address of ``[0, TASK_SIZE)`` to exactly one slot.
Each node covers an inclusive range ``[min, max]`` given by its parent (the
root covers ``[0, TASK_SIZE - 1]``); slot ``i`` of a node covers
``[pivots[i-1] + 1, pivots[i]]`` (slot 0 starts at the node's ``min``), so
the pivots are strictly increasing *inclusive* upper bounds and the last one
equals the node's ``max``.  Leaves hold a ``VMA`` or ``None`` (an explicit
empty range) per slot; a VMA's slot spans exactly ``[vma.start, vma.last]``;
two ``None`` slots are never adjacent, within a node or across neighbouring
leaves, so every maximal free run is exactly one slot.  Internal (gap) nodes
hold children and ``gaps[i]`` = the longest ``None`` run inside child ``i``.
All leaves sit at the same depth.  Non-root nodes hold at least ``min_fill``
slots; the root is exempt (an internal root has at least two children).

A published node is immutable: writers copy it first (``gen`` tells a copy
made by the running write from a published node) and mark the original
``dead`` once the new version is published.

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
    slot i covers [piv[i-1]+1, piv[i]];  piv[-1] == node max (kept even when the
    node is full, where the kernel leaves it implied by the parent: it lets one
    ``bisect_left(pivots, addr)`` pick the slot with no bounds special case).

API
---
``Node`` (``__slots__``: ``pivots slots gaps leaf dead gen nulls``), ``null_slots(node)``, ``leaf_gap(node, lo)``,
``node_gap(node, lo)``, ``min_fill(width, leaf)``, ``validate(root, ...)`` (the
named sub-checks), ``tree_stats(root, ...)``.
"""

from __future__ import annotations

import sys
from typing import Any

from structures.vma import TASK_SIZE, VMA, InvariantError

__all__ = ["LAST", "Node", "leaf_gap", "min_fill", "node_gap", "null_slots", "tree_stats", "validate"]

#: inclusive last address of the index space (the root's max)
LAST = TASK_SIZE - 1


class Node:
    """One maple node; ``gaps is None`` and ``leaf`` is True for leaves."""

    __slots__ = ("dead", "gaps", "gen", "leaf", "nulls", "pivots", "slots")

    def __init__(self, pivots: list[int], slots: list[Any], gaps: list[int] | None, leaf: bool, gen: int) -> None:
        self.pivots = pivots
        self.slots = slots
        self.gaps = gaps
        self.leaf = leaf
        self.dead = False
        self.gen = gen
        self.nulls: tuple[int, ...] | None = None  # leaf: indices of None slots, filled lazily

    def __repr__(self) -> str:
        kind = "leaf" if self.leaf else "node"
        return f"<maple {kind} {len(self.slots)} slots max={self.pivots[-1]:#x}{' dead' if self.dead else ''}>"


def min_fill(width: int, leaf: bool) -> int:
    """Minimum slots of a non-root node: the kernel's 6/16 (leaf) and 4/10 (gap node), scaled."""
    return max(2, (width * 3) // 8) if leaf else max(2, (width * 2) // 5)


def null_slots(node: Node) -> tuple[int, ...]:
    """Indices of a published leaf's ``None`` slots, computed once and cached on the node.

    A published leaf never changes, so the cache never goes stale; two readers racing
    to fill it store equal immutable tuples (one reference store each).  Gap searches
    then visit 1-3 None slots instead of scanning 16 (measured 2.4 -> 1.x us per
    top-down ``find_gap`` at n=10,000)."""
    nulls = node.nulls
    if nulls is None:
        nulls = node.nulls = tuple([k for k, v in enumerate(node.slots) if v is None])
    return nulls


def leaf_gap(node: Node, lo: int) -> int:
    """Longest ``None`` run (bytes) of a leaf whose range starts at ``lo``."""
    g = 0
    prev = lo - 1
    for last, v in zip(node.pivots, node.slots, strict=True):
        if v is None and last - prev > g:
            g = last - prev
        prev = last
    return g


def node_gap(node: Node, lo: int) -> int:
    """Longest ``None`` run below ``node`` (range starting at ``lo``)."""
    if node.leaf:
        return leaf_gap(node, lo)
    return max(node.gaps)  # type: ignore[arg-type]


# ----------------------------------------------------------------------
# validation (mt_validate)
# ----------------------------------------------------------------------
def _fail(check: str, name: str, slot: int | None, msg: str) -> InvariantError:
    where = f"node {name}" + (f" slot {slot}" if slot is not None else "")
    return InvariantError(f"maple {check}: {where}: {msg}")


def validate(root: Node, leaf_slots: int, internal_slots: int, count: int) -> None:
    """Recompute every invariant from scratch; raise ``InvariantError`` naming node and slot.

    Sub-checks (kernel ``mt_validate`` analogues): ``check_links`` (every node
    reachable once, live, of the right kind for its depth), ``check_depth``
    (uniform leaf depth), ``check_fill`` (slot limits, minimum fill, root rules),
    ``check_pivots`` (strictly increasing, inside the parent's bounds, last
    pivot = node max), ``check_entries`` (slot contents; a VMA spans its slot
    exactly), ``check_nulls`` (no adjacent ``None`` within or across leaves),
    ``check_gaps`` (every gap recomputed from the leaves), ``check_count``.
    """
    seen: set[int] = set()
    leaf_depths: set[int] = set()
    state = {"vmas": 0, "prev_null": False}

    def walk(node: Node, name: str, lo: int, hi: int, depth: int, is_root: bool) -> int:
        # check_links
        if not isinstance(node, Node):
            raise _fail("check_links", name, None, f"child is {type(node).__name__}, not a Node")
        if id(node) in seen:
            raise _fail("check_links", name, None, "node reachable twice (shared between parents)")
        seen.add(id(node))
        if node.dead:
            raise _fail("check_links", name, None, "dead node reachable from the root")
        if node.leaf != (node.gaps is None):
            raise _fail("check_links", name, None, "leaf flag disagrees with the gap array")
        n = len(node.slots)
        # check_fill
        width = leaf_slots if node.leaf else internal_slots
        if len(node.pivots) != n or (node.gaps is not None and len(node.gaps) != n):
            raise _fail("check_fill", name, None, f"{len(node.pivots)} pivots / {n} slots / gaps differ in length")
        if n > width:
            raise _fail("check_fill", name, None, f"{n} slots > width {width}")
        if n < 1:
            raise _fail("check_fill", name, None, "empty node")
        if is_root:
            if not node.leaf and n < 2:
                raise _fail("check_fill", name, None, "internal root with a single child (height not shrunk)")
        elif n < min_fill(width, node.leaf):
            raise _fail("check_fill", name, None, f"{n} slots < minimum {min_fill(width, node.leaf)}")
        # check_pivots
        prev = lo - 1
        for i, p in enumerate(node.pivots):
            if type(p) is not int or p <= prev:
                raise _fail("check_pivots", name, i, f"pivot {p!r} not above {prev:#x}")
            prev = p
        if node.pivots[-1] != hi:
            raise _fail("check_pivots", name, n - 1, f"last pivot {node.pivots[-1]:#x} != node max {hi:#x}")
        if node.leaf:
            leaf_depths.add(depth)
            if len(leaf_depths) > 1:
                raise _fail("check_depth", name, None, f"leaf at depth {depth}, others at {sorted(leaf_depths)}")
            slo = lo
            for i, (p, v) in enumerate(zip(node.pivots, node.slots, strict=True)):
                if v is None:
                    if state["prev_null"]:
                        raise _fail("check_nulls", name, i, f"None [{slo:#x}, {p:#x}] follows another None")
                    state["prev_null"] = True
                else:
                    if type(v) is not VMA:
                        raise _fail("check_entries", name, i, f"slot holds {v!r}, not a VMA or None")
                    if v.start != slo or v.end - 1 != p:
                        raise _fail("check_entries", name, i, f"{v!r} does not span its slot [{slo:#x}, {p:#x}]")
                    state["prev_null"] = False
                    state["vmas"] += 1
                slo = p + 1
            return leaf_gap(node, lo)
        clo = lo
        gaps = node.gaps
        assert gaps is not None
        for i, (p, child) in enumerate(zip(node.pivots, node.slots, strict=True)):
            if not isinstance(child, Node):
                raise _fail("check_links", name, i, f"child is {child!r}, not a Node")
            g = walk(child, f"{name}/{i}", clo, p, depth + 1, False)
            if gaps[i] != g:
                raise _fail("check_gaps", name, i, f"gap {gaps[i]:#x} but the leaves say {g:#x}")
            clo = p + 1
        return max(gaps)

    walk(root, "root", 0, LAST, 1, True)
    if state["vmas"] != count:
        raise InvariantError(f"maple check_count: node root: {state['vmas']} VMAs in the leaves, count says {count}")


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
