"""The ``rbtree`` backend's nodes: the VMA node, its augmentation callbacks, and the
whole-tree builders (the balanced build from sorted VMAs, the node-by-node copy).

Invariant
---------
A ``VMANode`` holds one VMA and its bounds, copied out for the hot loops, and
three values kept by the callbacks of ``VMAAugment`` (``structures.lib.rbtree``
calls them on every link, erase and rotation)::

    gap(n)          = n.start - n.prev.end      (n.start for the first VMA)
    subtree_gap(n)  = max(gap(n), subtree_gap(n.left), subtree_gap(n.right))
    subtree_last(n) = the rightmost VMA's end - 1 (VMAs never overlap)

``subtree_values`` recomputes the last two from a node's fields and children
(``check()``); the builders set all three without a rotation or a recompute.

Layout
------
::

      VMANode
      +--------+------+-------+-----+------+------+
      | parent | left | right | red | prev | next |   RBNode
      +--------+------+-------+-----+------+------+
      | start  | end  |  vma  | gap | subtree_gap | subtree_last |
      +--------+------+-------+-----+-------------+--------------+

API
---
``VMANode``, ``bare_node(VMANode)`` (a node with no slot set), ``VMAAugment``
(``rotations`` counts the rotations), ``subtree_values(node)``,
``make_nodes(vmas)``, ``build_balanced(nodes, lo, hi, parent, depth,
red_depth)``, ``copy_tree(root) -> (root, first, last)``.
"""

from __future__ import annotations

from typing import Any

from structures.lib.rbtree import AugmentCallbacks, RBNode
from structures.vma import VMA

__all__ = ["VMAAugment", "VMANode", "bare_node", "build_balanced", "copy_tree", "make_nodes", "subtree_values"]


class VMANode(RBNode):
    """A tree node holding one VMA (its bounds copied out for the hot loops)."""

    __slots__ = ("end", "gap", "start", "subtree_gap", "subtree_last", "vma")

    def __init__(self, vma: VMA, gap: int) -> None:
        # Only the VMA's slots: RBTree.insert sets the shape and thread slots (parent, left,
        # right, red, prev, next) when it links the node, bulk builds and dup set them
        # directly.  RBNode.__init__ not called and no slot set twice: 0.32 -> 0.22 us
        # per node (all slots here, min of 30 interleaved rounds), then 25.8k -> 25.5k
        # instructions per insert/remove op (insert + remove of 10k VMAs, callgrind).
        # RBTreeIndex.insert, the hot path, writes this out on a bare node.
        self.vma = vma
        self.start = vma.start
        self.end = vma.end
        self.gap = self.subtree_gap = gap
        self.subtree_last = vma.end - 1

    def describe(self) -> str:
        return f"VMANode[{self.start:#x}-{self.end:#x}]"

    def __repr__(self) -> str:
        return f"<{self.describe()} gap={self.gap:#x} subtree_gap={self.subtree_gap:#x}>"


bare_node = VMANode.__new__  # a bare node: RBTreeIndex.insert sets its slots itself


class VMAAugment(AugmentCallbacks):
    """``subtree_gap`` + ``subtree_last`` callbacks (one compute for both); counts the
    rotations (the core calls ``rotate`` once per rotation: ``write_stats``' rebalances)."""

    def __init__(self) -> None:
        self.rotations = 0

    def propagate(self, node: Any, stop: Any) -> None:
        while node is not stop:
            g = node.gap
            c = node.left
            if c is not None and c.subtree_gap > g:
                g = c.subtree_gap
            c = node.right
            if c is not None:
                # subtree_last: the right child's (the rightmost VMA's), not a max of three,
                # here and in rotate: 21.85k -> 19.66k instructions per op (callgrind)
                if c.subtree_gap > g:
                    g = c.subtree_gap
                m = c.subtree_last
            else:
                m = node.end - 1
            if g == node.subtree_gap and m == node.subtree_last:
                break  # unchanged here: unchanged above
            node.subtree_gap = g
            node.subtree_last = m
            node = node.parent

    def copy(self, old: Any, new: Any) -> None:
        new.subtree_gap = old.subtree_gap
        new.subtree_last = old.subtree_last

    def rotate(self, old: Any, new: Any) -> None:
        self.rotations += 1
        new.subtree_gap = old.subtree_gap
        new.subtree_last = old.subtree_last
        # propagate's compute of old written out: one call less per rotation (insert +
        # remove of 10k VMAs, random order: 27.1k -> 26.6k instructions per op, callgrind)
        g = old.gap
        c = old.left
        if c is not None and c.subtree_gap > g:
            g = c.subtree_gap
        c = old.right
        if c is not None:
            if c.subtree_gap > g:
                g = c.subtree_gap
            m = c.subtree_last
        else:
            m = old.end - 1
        old.subtree_gap = g
        old.subtree_last = m


def subtree_values(node: Any) -> tuple[int, int]:
    """``(subtree_gap, subtree_last)`` of ``node`` from its own fields and children."""
    g = node.gap
    m = node.end - 1
    for c in (node.left, node.right):
        if c is not None:
            g = max(g, c.subtree_gap)
            m = max(m, c.subtree_last)
    return g, m


def make_nodes(vmas: list[VMA]) -> list[VMANode]:
    """One bare node per VMA of sorted, non-overlapping ``vmas`` (at least one), in order:
    the VMA's slots and its ``gap`` set, ``prev``/``next`` threaded; the shape, colours
    and augmentations are ``build_balanced``'s.  Slots set here, as ``RBTreeIndex.insert``
    does, not by ``VMANode()``: the class calls took this loop from 2.43 to 3.72 ms per
    10k (min of 15 rounds, GC off)."""
    nodes: list[VMANode] = []
    append = nodes.append
    prev_end = 0
    prev = None
    for v in vmas:
        node = bare_node(VMANode)
        node.vma = v
        start = node.start = v.start
        node.end = v.end
        node.gap = start - prev_end
        node.prev = prev
        if prev is not None:
            prev.next = node
        prev = node
        prev_end = v.end
        append(node)
    prev.next = None  # type: ignore[union-attr]  # at least one VMA
    return nodes


def build_balanced(
    nodes: list[VMANode], lo: int, hi: int, parent: VMANode | None, depth: int, red_depth: int
) -> VMANode:
    """The subtree of ``nodes[lo:hi]`` (``lo < hi``) under ``parent``, ``nodes[mid]`` its
    root: shape, colours (red only at ``red_depth``) and augmentations, children first.
    A module function, not a closure over ``nodes`` (a recursive closure is a reference
    cycle that kept every node of a dropped child alive until a full collection), and
    no call for an empty range: the shape pass of a 10k build 3.10 -> 2.36 ms (min of
    15 rounds, GC off)."""
    mid = (lo + hi) >> 1
    node = nodes[mid]
    node.parent = parent
    node.red = depth == red_depth
    g = node.gap
    if lo < mid:
        left = node.left = build_balanced(nodes, lo, mid, node, depth + 1, red_depth)
        if left.subtree_gap > g:
            g = left.subtree_gap
    else:
        node.left = None
    if mid + 1 < hi:
        right = node.right = build_balanced(nodes, mid + 1, hi, node, depth + 1, red_depth)
        if right.subtree_gap > g:
            g = right.subtree_gap
        node.subtree_last = right.subtree_last  # the rightmost VMA ends last
    else:
        node.right = None
        node.subtree_last = node.end - 1
    node.subtree_gap = g
    return node


def copy_tree(root: VMANode) -> tuple[VMANode, VMANode, VMANode]:
    """``(root, first, last)`` of a node-for-node copy of the tree under ``root``: one
    in-order walk of both trees in step (copy a node, go left; else thread it, go right;
    else climb both trees to the first ancestor entered from its left), ``head`` above the
    root and before the first node.  No recursion, no stack: the recursive copy, a Python
    call per node, took 54.4M instructions per dup of 10k VMAs, this 52.8M (callgrind)."""
    head = bare_node(VMANode)
    prev = head  # the copy's last node threaded so far
    o, up, left = root, head, True  # copy o as up's left (or right) child
    while True:
        n = bare_node(VMANode)
        n.vma = o.vma
        n.start = o.start
        n.end = o.end
        n.gap = o.gap
        n.subtree_gap = o.subtree_gap
        n.subtree_last = o.subtree_last
        n.red = o.red
        n.parent = up
        if left:
            up.left = n
        else:
            up.right = n
        c = o.left
        if c is not None:
            o, up, left = c, n, True
            continue
        n.left = None
        while True:  # all left of n is copied and threaded: thread n, go right or up
            n.prev = prev
            prev.next = n
            prev = n
            c = o.right
            if c is not None:
                break
            n.right = None
            p = o.parent
            while p is not None and p.right is o:
                o = p
                n = n.parent
                p = o.parent
            if p is None:  # back above the root: all copied
                prev.next = None
                first = head.next
                first.prev = None
                copy = head.left
                copy.parent = None
                return copy, first, prev
            o = p
            n = n.parent
        o, up, left = c, n, False
