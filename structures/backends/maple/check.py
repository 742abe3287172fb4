"""``check()`` for the maple backend: every invariant recomputed from scratch (``mt_validate``).

Invariant
---------
What ``structures.backends.maple.node`` promises, split into named sub-checks
(kernel ``mt_validate`` analogues); each ``InvariantError`` names the check,
the node (``root``, ``root/0``, ``root/0/3``: the slot path from the root) and
the slot, and for a small tree (at most ``DUMP_NODES`` nodes) carries the
tree's ``dump``:

* ``check_links``   every node reachable once, live, a ``Node`` whose leaf
  flag agrees with its gap array;
* ``check_fill``    list lengths agree, slot limits, minimum fill, root rules;
* ``check_pivots``  strictly increasing ints inside the node's bounds, the
  last pivot equals the node's ``node_last``;
* ``check_depth``   every leaf at the same depth;
* ``check_entries`` leaf slots hold a ``VMA`` or ``None``; a VMA spans its
  slot exactly;
* ``check_nulls``   no two ``None`` slots adjacent, within or across leaves;
* ``check_gaps``    every gap entry equals the child's recomputed gap;
* ``check_count``   the number of VMAs in the leaves equals the count.

Layout
------
One depth-first walk (``check_tree``) carries the node bounds down and the
recomputed gaps up, calling the sub-checks on each node::

    check_tree(root, leaf_slots, internal_slots, count)
      walk(node, name, node_min, node_last, depth)
        check_links -> check_fill -> check_pivots
        leaf:  check_depth, check_entries, check_nulls   -> leaf_gap
        node:  walk(child i) ... check_gaps(i)            -> max(gaps)
      check_count

API
---
``check_tree(root, leaf_slots, internal_slots, count)``; the sub-checks
``check_links``, ``check_fill``, ``check_pivots``, ``check_depth``,
``check_entries``, ``check_nulls``, ``check_gaps``, ``check_count``;
``DUMP_NODES``.
"""

from __future__ import annotations

from structures.backends.maple.node import LAST, Node, dump, leaf_gap, min_fill
from structures.vma import VMA, InvariantError

__all__ = [
    "DUMP_NODES",
    "check_count",
    "check_depth",
    "check_entries",
    "check_fill",
    "check_gaps",
    "check_links",
    "check_nulls",
    "check_pivots",
    "check_tree",
]

#: a failing check of a tree with at most this many nodes attaches the tree's dump
DUMP_NODES = 32


def _fail(check: str, name: str, slot: int | None, msg: str) -> InvariantError:
    where = f"node {name}" + (f" slot {slot}" if slot is not None else "")
    return InvariantError(f"maple {check}: {where}: {msg}")


def check_links(node: object, name: str, seen: set[int]) -> None:
    """``node`` is a live ``Node`` not reached before, its leaf flag agrees with its gaps."""
    if not isinstance(node, Node):
        raise _fail("check_links", name, None, f"child is {type(node).__name__}, not a Node")
    if id(node) in seen:
        raise _fail("check_links", name, None, "node reachable twice (shared between parents)")
    seen.add(id(node))
    if node.dead:
        raise _fail("check_links", name, None, "dead node reachable from the root")
    if node.leaf != (node.gaps is None):
        raise _fail("check_links", name, None, "leaf flag disagrees with the gap array")


def check_fill(node: Node, name: str, width: int, is_root: bool) -> None:
    """Equal list lengths, at most ``width`` slots, at least the minimum fill (root rules apart)."""
    n = len(node.slots)
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


def check_pivots(node: Node, name: str, node_min: int, node_last: int) -> None:
    """Strictly increasing int pivots from ``node_min``; the last equals ``node_last``."""
    prev = node_min - 1
    for i, p in enumerate(node.pivots):
        if type(p) is not int or p <= prev:
            raise _fail("check_pivots", name, i, f"pivot {p!r} not above {prev:#x}")
        prev = p
    if node.pivots[-1] != node_last:
        last = node.pivots[-1]
        raise _fail("check_pivots", name, len(node.pivots) - 1, f"last pivot {last:#x} != node_last {node_last:#x}")


def check_depth(name: str, depth: int, leaf_depths: set[int]) -> None:
    """All leaves at one depth (``leaf_depths`` collects the depths seen so far)."""
    leaf_depths.add(depth)
    if len(leaf_depths) > 1:
        raise _fail("check_depth", name, None, f"leaf at depth {depth}, others at {sorted(leaf_depths)}")


def check_entries(leaf: Node, name: str, node_min: int) -> int:
    """Each slot is ``None`` or a ``VMA`` spanning exactly ``[slot min, pivot]``; the VMA count."""
    vmas = 0
    slot_min = node_min
    for i, (p, v) in enumerate(zip(leaf.pivots, leaf.slots, strict=True)):
        if v is not None:
            if type(v) is not VMA:
                raise _fail("check_entries", name, i, f"slot holds {v!r}, not a VMA or None")
            if v.start != slot_min or v.end - 1 != p:
                raise _fail("check_entries", name, i, f"{v!r} does not span its slot [{slot_min:#x}, {p:#x}]")
            vmas += 1
        slot_min = p + 1
    return vmas


def check_nulls(leaf: Node, name: str, node_min: int, prev_null: bool) -> bool:
    """No ``None`` follows a ``None`` (``prev_null``: the previous leaf ended in one);
    returns whether this leaf ends in one."""
    slot_min = node_min
    for i, (p, v) in enumerate(zip(leaf.pivots, leaf.slots, strict=True)):
        if v is None:
            if prev_null:
                raise _fail("check_nulls", name, i, f"None [{slot_min:#x}, {p:#x}] follows another None")
            prev_null = True
        else:
            prev_null = False
        slot_min = p + 1
    return prev_null


def check_gaps(node: Node, name: str, i: int, child_gap: int) -> None:
    """``gaps[i]`` equals the gap recomputed below child ``i``."""
    gaps = node.gaps
    assert gaps is not None
    if gaps[i] != child_gap:
        raise _fail("check_gaps", name, i, f"gap {gaps[i]:#x} but the leaves say {child_gap:#x}")


def check_count(found: int, count: int) -> None:
    """The leaves hold ``count`` VMAs."""
    if found != count:
        raise InvariantError(f"maple check_count: node root: {found} VMAs in the leaves, count says {count}")


def check_tree(root: Node, leaf_slots: int, internal_slots: int, count: int) -> None:
    """Every sub-check over the tree below ``root``; ``InvariantError`` naming node and slot
    (with the tree's dump attached when it has at most ``DUMP_NODES`` nodes)."""
    seen: set[int] = set()
    leaf_depths: set[int] = set()
    state = {"vmas": 0, "prev_null": False, "nodes": 0}

    def walk(node: Node, name: str, node_min: int, node_last: int, depth: int, is_root: bool) -> int:
        check_links(node, name, seen)
        state["nodes"] += 1
        check_fill(node, name, leaf_slots if node.leaf else internal_slots, is_root)
        check_pivots(node, name, node_min, node_last)
        if node.leaf:
            check_depth(name, depth, leaf_depths)
            state["vmas"] += check_entries(node, name, node_min)
            state["prev_null"] = check_nulls(node, name, node_min, bool(state["prev_null"]))
            return leaf_gap(node, node_min)
        child_min = node_min
        for i, (p, child) in enumerate(zip(node.pivots, node.slots, strict=True)):
            if not isinstance(child, Node):
                raise _fail("check_links", name, i, f"child is {child!r}, not a Node")
            check_gaps(node, name, i, walk(child, f"{name}/{i}", child_min, p, depth + 1, False))
            child_min = p + 1
        return max(node.gaps)  # type: ignore[arg-type]

    try:
        walk(root, "root", 0, LAST, 1, True)
        check_count(state["vmas"], count)
    except InvariantError as err:
        if _node_count(root, DUMP_NODES + 1) > DUMP_NODES:
            raise
        raise InvariantError(f"{err}\n{dump(root)}") from None


def _node_count(root: Node, limit: int) -> int:
    """Nodes below ``root``, counting stops at ``limit`` (safe on a corrupt tree)."""
    n = 0
    stack: list[object] = [root]
    while stack and n < limit:
        node = stack.pop()
        if isinstance(node, Node):
            n += 1
            if not node.leaf:
                stack.extend(node.slots)
    return n
