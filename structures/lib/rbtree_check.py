"""Every invariant of the red-black core (``rbtree.RBTree``) recomputed from scratch.

Invariant
---------
Reads only: a tree it checks is left as it was.  Each check walks the nodes
afresh (trusting neither ``count`` nor the threads) and raises
``InvariantError`` naming the first broken node and what is wrong with it:
shape (parent links, no node reached twice, ``count``), colours (black root,
no red-red edge, one black height), threads (``prev``/``next``/``first``/
``last`` against the in-order walk), order (``key``), then the caller's
augmentation check (``verify``), children before parents.

Layout
------
Functions of a tree object with the ``RBTree`` fields (``root``, ``first``,
``last``, ``count``) and nodes with the ``RBNode`` slots and ``describe()``.

API
---
``check_tree(tree, key=None, verify=None)``: what ``RBTree.check`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from structures.vma import InvariantError

__all__ = ["check_tree"]


def check_tree(
    tree: Any,
    key: Callable[[Any], Any] | None = None,
    verify: Callable[[Any], None] | None = None,
) -> None:
    """Recompute every invariant of ``tree`` from scratch (see ``RBTree.check``)."""
    order = _check_shape(tree)
    _check_colours(tree)
    _check_threads(tree, order)
    if key is not None:
        _check_order(order, key)
    if verify is not None:
        for node in _postorder(tree):
            verify(node)


def _check_shape(tree: Any) -> list[Any]:
    """Parent links, no cycles, count; returns the in-order node list."""
    root = tree.root
    if root is not None and root.parent is not None:
        raise InvariantError(f"rbtree shape: root {root.describe()} has parent {root.parent.describe()}")
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[Any] = []
    node = root
    while stack or node is not None:
        while node is not None:
            if id(node) in seen:
                raise InvariantError(f"rbtree shape: node {node.describe()} reached twice (cycle)")
            seen.add(id(node))
            for side in ("left", "right"):
                c = getattr(node, side)
                if c is not None and c.parent is not node:
                    raise InvariantError(
                        f"rbtree shape: node {c.describe()} (the {side} child of {node.describe()}) "
                        f"has parent {c.parent.describe() if c.parent is not None else None}"
                    )
            stack.append(node)
            node = node.left
        node = stack.pop()
        order.append(node)
        node = node.right
    if len(order) != tree.count:
        raise InvariantError(f"rbtree shape: {len(order)} nodes reachable but count={tree.count}")
    return order


def _check_colours(tree: Any) -> None:
    """Black root, no red-red edge, equal black height on every path."""
    root = tree.root
    if root is None:
        return
    if root.red:
        raise InvariantError(f"rbtree colour: root {root.describe()} is red")

    def black_height(node: Any) -> int:
        if node is None:
            return 1
        if node.red:
            for c in (node.left, node.right):
                if c is not None and c.red:
                    raise InvariantError(f"rbtree colour: red node {node.describe()} has red child {c.describe()}")
        lh = black_height(node.left)
        rh = black_height(node.right)
        if lh != rh:
            raise InvariantError(
                f"rbtree colour: node {node.describe()}: black height {lh} on the left, {rh} on the right"
            )
        return lh + (not node.red)

    black_height(root)


def _check_threads(tree: Any, order: list[Any]) -> None:
    """``prev``/``next``/``first``/``last`` equal the in-order walk."""
    first = order[0] if order else None
    last = order[-1] if order else None
    if tree.first is not first:
        raise InvariantError(f"rbtree thread: first is {_name(tree.first)}, in-order first is {_name(first)}")
    if tree.last is not last:
        raise InvariantError(f"rbtree thread: last is {_name(tree.last)}, in-order last is {_name(last)}")
    for i, node in enumerate(order):
        want_prev = order[i - 1] if i else None
        want_next = order[i + 1] if i + 1 < len(order) else None
        if node.prev is not want_prev:
            raise InvariantError(
                f"rbtree thread: node {node.describe()}.prev is {_name(node.prev)}, expected {_name(want_prev)}"
            )
        if node.next is not want_next:
            raise InvariantError(
                f"rbtree thread: node {node.describe()}.next is {_name(node.next)}, expected {_name(want_next)}"
            )


def _check_order(order: list[Any], key: Callable[[Any], Any]) -> None:
    for a, b in pairwise(order):
        if key(b) < key(a):
            raise InvariantError(f"rbtree order: node {b.describe()} follows {a.describe()} but has a smaller key")


def _postorder(tree: Any) -> list[Any]:
    out: list[Any] = []
    stack = [tree.root] if tree.root is not None else []
    while stack:
        node = stack.pop()
        out.append(node)
        if node.left is not None:
            stack.append(node.left)
        if node.right is not None:
            stack.append(node.right)
    out.reverse()  # children before parents
    return out


def _name(node: Any) -> str:
    return "None" if node is None else node.describe()
