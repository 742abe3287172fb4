"""A generic augmented red-black tree with threaded prev/next links.

Invariant
---------
1. Every node is red or black; the root is black.
2. A red node has no red child.
3. Every path from a node down to a missing child (a NIL leaf) passes the same
   number of black nodes (the *black height*).
4. ``parent`` links mirror ``left``/``right``; ``prev``/``next`` thread the nodes
   in in-order (``prev`` of the leftmost and ``next`` of the rightmost are
   ``None``), so successor/predecessor are O(1).
5. Augmented fields: every node's augmented value equals ``compute(node)`` from
   its own fields and its children's augmented values.  The core knows nothing
   about them; it calls the three callbacks of an ``AugmentCallbacks`` object,
   exactly like the kernel's ``struct rb_augment_callbacks``:

   * ``propagate(node, stop)``: recompute from ``node`` up to (not including)
     ``stop`` (``None`` = the root), stopping early once a value is unchanged;
   * ``copy(old, new)``: ``new`` takes over ``old``'s place and subtree, so it
     takes ``old``'s augmented value;
   * ``rotate(old, new)``: a rotation put ``new`` where ``old`` was: ``new``
     takes ``old``'s value and ``old`` is recomputed from its new children.

The tree does not know about keys either: the caller finds the position (one
descent, whatever its ordering) and calls ``insert(node, parent, left)``.
Ordering is the caller's contract; ``check(key=...)`` verifies it.

Layout
------
::

                 +--------+--------+--------+-----+
    RBNode       | parent |  left  | right  | red |   tree shape + colour
                 +--------+--------+--------+-----+
                 |  prev  |  next  |                   in-order thread (O(1) step)
                 +--------+--------+
                 | ...subclass slots: key fields, augmented fields ...

    RBTree: root, leftmost (first), rightmost (last), count, augment

The links make reference cycles (``parent`` against ``left``/``right``,
``prev`` against ``next``): ``erase`` unlinks the node it removes, and
``clear()`` and a dropped tree unlink all of theirs, so nodes are freed by
reference counting, never left to the cyclic GC.

API
---
``RBNode`` (subclass it with ``__slots__``), ``AugmentCallbacks`` (no-op base;
subclass for an augmentation), ``RBTree(augment=None)`` with ``insert(node,
parent, left)``, ``erase(node)``, ``clear()``, ``first``/``last``,
``__len__``, ``__iter__`` (in order), ``height()``, ``black_height()`` and
``check(key=None, verify=None)`` (the checks live in ``rbtree_check``).  The
core knows none of its instances: the ``subtree_last`` interval tree is
``structures.lib.interval_tree``, the VMA index is ``structures.backends.rbtree``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from structures.lib.rbtree_check import check_tree

__all__ = ["AugmentCallbacks", "RBNode", "RBTree"]


class RBNode:
    """A tree node: shape, colour and in-order thread.  Subclass with ``__slots__``."""

    __slots__ = ("left", "next", "parent", "prev", "red", "right")

    def __init__(self) -> None:
        self.parent: Any = None
        self.left: Any = None
        self.right: Any = None
        self.red = True
        self.prev: Any = None
        self.next: Any = None

    def describe(self) -> str:
        """How ``check()`` names this node in an ``InvariantError`` (override with the key)."""
        return f"{type(self).__name__}@{id(self):#x}"


class AugmentCallbacks:
    """No augmentation: the callbacks do nothing.  Subclass for an augmented tree."""

    def propagate(self, node: Any, stop: Any) -> None:
        """Recompute the augmented values from ``node`` up to, not including, ``stop``."""

    def copy(self, old: Any, new: Any) -> None:
        """``new`` replaces ``old`` in the tree: take over its augmented value."""

    def rotate(self, old: Any, new: Any) -> None:
        """After a rotation ``new`` sits where ``old`` sat: ``new`` takes ``old``'s
        value, ``old`` is recomputed from its (new) children."""


_NO_AUGMENT = AugmentCallbacks()


class RBTree:
    """The red-black core: shape, colours, threading; keys and augmentation are the caller's."""

    __slots__ = ("augment", "count", "first", "last", "root")

    def __init__(self, augment: AugmentCallbacks | None = None) -> None:
        self.root: Any = None
        self.first: Any = None  # leftmost node (rb_first_cached)
        self.last: Any = None  # rightmost node
        self.count = 0
        self.augment = augment if augment is not None else _NO_AUGMENT

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Any]:
        node = self.first
        while node is not None:
            nxt = node.next
            yield node
            node = nxt

    def clear(self) -> None:
        """Empty the tree; every node is unlinked (``_unlink_all``), as ``erase`` unlinks one."""
        self._unlink_all()
        self.count = 0

    def __del__(self) -> None:
        self._unlink_all()

    def _unlink_all(self) -> None:
        """Break the reference cycles between the nodes, so that they die by reference
        counting the moment the tree lets go of them instead of waiting for a full
        collection of the cyclic GC, which walks every live object too.  Clearing
        ``parent``, ``prev`` and ``next`` is enough: ``left``/``right`` alone form no
        cycle, and freeing the root frees the rest, at most the height deep.

        Every dropped ``dup()`` child of 10k VMAs (the fork suite) used to leave its
        10k nodes to the GC: dup 60.5M -> 54.4M instructions per child, re-insert
        670.2M -> 663.3M (callgrind), and in time, where the GC's walks miss the
        cache, dup 14.5 / 14.0 -> 11.0 / 9.4 ms per child (CPU time, median of 12
        interleaved rounds, two processes each way)."""
        node = self.first
        self.root = self.first = self.last = None
        while node is not None:
            nxt = node.next
            node.parent = node.prev = node.next = None
            node = nxt

    # ------------------------------------------------------------------
    # rotations
    # ------------------------------------------------------------------
    def _replace_child(self, old: Any, new: Any, parent: Any) -> None:
        if parent is None:
            self.root = new
        elif parent.left is old:
            parent.left = new
        else:
            parent.right = new

    def _rotate_left(self, x: Any) -> Any:
        r"""::

               x                 y
              / \               / \
             a   y      -->    x   c
                / \           / \
               b   c         a   b
        """
        y = x.right
        b = y.left
        x.right = b
        if b is not None:
            b.parent = x
        p = x.parent
        y.parent = p
        if p is None:  # _replace_child written out (see _rotate_right)
            self.root = y
        elif p.left is x:
            p.left = y
        else:
            p.right = y
        y.left = x
        x.parent = y
        self.augment.rotate(x, y)
        return y

    def _rotate_right(self, x: Any) -> Any:
        r"""::

                 x             y
                / \           / \
               y   c   -->   a   x
              / \               / \
             a   b             b   c
        """
        y = x.left
        b = y.right
        x.left = b
        if b is not None:
            b.parent = x
        p = x.parent
        y.parent = p
        # _replace_child written out, in both rotations: one call less per rotation
        # (rbtree backend, random build + teardown of 10k VMAs, with insert's needless
        # `parent is not None` test gone: 18.87k -> 18.66k instructions per op, callgrind)
        if p is None:
            self.root = y
        elif p.left is x:
            p.left = y
        else:
            p.right = y
        y.right = x
        x.parent = y
        self.augment.rotate(x, y)
        return y

    # ------------------------------------------------------------------
    # insert
    # ------------------------------------------------------------------
    def insert(self, node: Any, parent: Any, left: bool) -> None:
        """Link ``node`` as the ``left`` (or right) child of ``parent`` (``None``:
        the tree is empty) and rebalance.  ``node``'s own augmented fields must
        already hold their leaf values; its ancestors are recomputed here."""
        node.left = node.right = None
        node.red = True
        node.parent = parent
        if parent is None:
            if self.root is not None:
                raise ValueError("insert with parent=None into a non-empty tree")
            # the only node: the black root, nothing to propagate or fix up (a range lock's
            # uncontended acquisition; with erase's twin below, range lock acquire + release
            # 2.43 -> 2.20 us (3.11), 6.22 -> 5.52 us (3.13t, GIL off; timeit)
            self.root = self.first = self.last = node
            node.prev = node.next = None
            node.red = False
            self.count = 1
            return
        elif left:
            if parent.left is not None:
                raise ValueError(f"{parent.describe()} already has a left child")
            parent.left = node
            # in-order: prev(parent) < node < parent
            p = parent.prev
            node.prev = p
            node.next = parent
            parent.prev = node
            if p is None:
                self.first = node
            else:
                p.next = node
        else:
            if parent.right is not None:
                raise ValueError(f"{parent.describe()} already has a right child")
            parent.right = node
            # in-order: parent < node < next(parent)
            n = parent.next
            node.next = n
            node.prev = parent
            parent.next = node
            if n is None:
                self.last = node
            else:
                n.prev = node
        self.count += 1
        self.augment.propagate(parent, None)
        self._insert_fixup(node)

    def _insert_fixup(self, node: Any) -> None:
        # Loop invariant: node is red; the only possible violation is
        # "node and its parent are both red".
        while True:
            parent = node.parent
            if parent is None:
                # Case 0 - node is the root: paint it black (black height +1).
                node.red = False
                return
            if not parent.red:
                return  # black parent: nothing is violated
            gparent = parent.parent  # exists: a red parent is never the root
            if parent is gparent.left:
                uncle = gparent.right
                if uncle is not None and uncle.red:
                    # Case 1 - red uncle: colour flip, continue at the grandparent.
                    #
                    #       G            g
                    #      / \          / \
                    #     p   u  -->   P   U
                    #    /            /
                    #   n            n
                    parent.red = uncle.red = False
                    gparent.red = True
                    node = gparent
                    continue
                if node is parent.right:
                    # Case 2 - black uncle, node is an inner child: left rotate at
                    # parent, turning it into case 3.
                    #
                    #      G             G
                    #     / \           / \
                    #    p   U  -->    n   U
                    #     \           /
                    #      n         p
                    self._rotate_left(parent)
                    node, parent = parent, node
                # Case 3 - black uncle, node is an outer child: right rotate at
                # the grandparent and swap colours.
                #
                #        G           P
                #       / \         / \
                #      p   U  -->  n   g
                #     /                 \
                #    n                   U
                self._rotate_right(gparent)
                parent.red = False
                gparent.red = True
                return
            uncle = gparent.left
            if uncle is not None and uncle.red:
                # Case 1 (mirror) - colour flip.
                #
                #     G            g
                #    / \          / \
                #   u   p  -->   U   P
                #        \            \
                #         n            n
                parent.red = uncle.red = False
                gparent.red = True
                node = gparent
                continue
            if node is parent.left:
                # Case 2 (mirror) - right rotate at parent.
                #
                #     G             G
                #    / \           / \
                #   U   p   -->   U   n
                #      /               \
                #     n                 p
                self._rotate_right(parent)
                node, parent = parent, node
            # Case 3 (mirror) - left rotate at the grandparent.
            #
            #     G               P
            #    / \             / \
            #   U   p    -->    g   n
            #        \         /
            #         n       U
            self._rotate_left(gparent)
            parent.red = False
            gparent.red = True
            return

    # ------------------------------------------------------------------
    # erase
    # ------------------------------------------------------------------
    def erase(self, node: Any) -> None:
        """Unlink ``node`` (which must be in this tree) and rebalance.  O(log n)."""
        p, n = node.prev, node.next
        if p is None and n is None:  # the only node (see insert): the tree is empty after it
            self.root = self.first = self.last = None
            self.count = 0
            node.parent = node.left = node.right = None
            return
        # Unthread first: O(1) thanks to the links.
        if p is None:
            self.first = n
        else:
            p.next = n
        if n is None:
            self.last = p
        else:
            n.prev = p
        self.count -= 1

        augment = self.augment
        child = node.right
        tmp = node.left
        parent = node.parent
        rebalance = None
        if tmp is None:
            # Case 1 - at most one child (the right one, possibly None): splice
            # it into node's place.  A removed black leaf leaves a black deficit
            # at ``parent``; a red child takes node's black colour instead.
            #
            #     (p)           (p)
            #      |             |
            #      N     -->     c        (or nothing)
            #       \
            #        c
            self._replace_child(node, child, parent)
            if child is not None:
                child.parent = parent
                child.red = False  # child was red (black height), now black
            elif not node.red:
                rebalance = parent
            start = parent
        elif child is None:
            # Case 1 (mirror) - only a left child: it must be red, node black.
            self._replace_child(node, tmp, parent)
            tmp.parent = parent
            tmp.red = False
            start = parent
        else:
            # Two children: the successor (``node.next``, the leftmost node of
            # the right subtree, found in O(1) through the thread) takes node's
            # place and colour.
            successor = n
            if successor is child:
                # Case 2 - the successor is node's right child.
                #
                #      (n)          (s)
                #      / \          / \
                #    (x) (s)  -->  (x) (c)
                #          \
                #          (c)
                sparent = successor
                child2 = successor.right
                augment.copy(node, successor)
            else:
                # Case 3 - the successor is the leftmost node under node's right child.
                #
                #      (n)          (s)
                #      / \          / \
                #    (x) (y)  -->  (x) (y)
                #        /            /
                #      (p)          (p)
                #      /            /
                #    (s)          (c)
                #      \
                #      (c)
                sparent = successor.parent
                child2 = successor.right
                sparent.left = child2
                if child2 is not None:
                    child2.parent = sparent
                successor.right = child
                child.parent = successor
                augment.copy(node, successor)
                augment.propagate(sparent, successor)
            successor.left = tmp
            tmp.parent = successor
            self._replace_child(node, successor, parent)
            successor.parent = parent
            if child2 is not None:
                child2.red = False  # a red child2 absorbs the removed black
            elif not successor.red:
                rebalance = sparent
            successor.red = node.red
            start = successor
        if start is not None:
            augment.propagate(start, None)
        node.parent = node.left = node.right = node.prev = node.next = None
        if rebalance is not None:
            self._erase_fixup(rebalance)

    def _erase_fixup(self, parent: Any) -> None:
        # Loop invariant: the subtree at ``node`` (a child of ``parent``, None at
        # first) is one black short: every path through it has one black
        # fewer than its sibling's paths.  ``node`` is black or None.
        node = None
        while True:
            sibling = parent.right
            if node is not sibling:
                # node is the left child (the sibling exists: it has black height >= 1)
                if sibling.red:
                    # Case 1 - red sibling: left rotate at parent, recolour; the
                    # new sibling is black.
                    #
                    #     P               S
                    #    / \             / \
                    #   N   s    -->    p   Sr
                    #      / \         / \
                    #     Sl  Sr      N   Sl
                    self._rotate_left(parent)
                    sibling.red = False
                    parent.red = True
                    sibling = parent.right
                sr = sibling.right
                if sr is None or not sr.red:
                    sl = sibling.left
                    if sl is None or not sl.red:
                        # Case 2 - black sibling with black children: paint the
                        # sibling red; the deficit moves up to parent (or ends if
                        # parent was red: paint it black).
                        #
                        #    (p)           (p)
                        #    / \           / \
                        #   N   S    -->  N   s
                        #      / \           / \
                        #     Sl  Sr        Sl  Sr
                        sibling.red = True
                        if parent.red:
                            parent.red = False
                            return
                        node = parent
                        parent = node.parent
                        if parent is None:
                            return
                        continue
                    # Case 3 - black sibling, red inner nephew: right rotate at
                    # the sibling so the red nephew is outer (case 4).
                    #
                    #   (p)           (p)
                    #   / \           / \
                    #  N   S    -->  N   Sl
                    #     / \             \
                    #    sl  Sr            s
                    #                       \
                    #                        Sr
                    self._rotate_right(sibling)
                    sl.red = False
                    sibling.red = True
                    sibling = sl
                # Case 4 - black sibling, red outer nephew: left rotate at parent,
                # the sibling takes parent's colour, parent and nephew go black.
                #
                #     (p)             (s)
                #     / \             / \
                #    N   S     -->   P   Sr
                #       / \         / \
                #     (sl) sr      N  (sl)
                self._rotate_left(parent)
                sibling.red = parent.red
                parent.red = False
                sibling.right.red = False
                return
            # Mirror cases: node is the right child.
            sibling = parent.left
            if sibling.red:
                # Case 1 (mirror) - right rotate at parent.
                #
                #       P           S
                #      / \         / \
                #     s   N  -->  Sl  p
                #    / \             / \
                #   Sl  Sr          Sr  N
                self._rotate_right(parent)
                sibling.red = False
                parent.red = True
                sibling = parent.left
            sl = sibling.left
            if sl is None or not sl.red:
                sr = sibling.right
                if sr is None or not sr.red:
                    # Case 2 (mirror) - sibling colour flip.
                    #
                    #     (p)           (p)
                    #     / \           / \
                    #    S   N   -->   s   N
                    #   / \           / \
                    #  Sl  Sr        Sl  Sr
                    sibling.red = True
                    if parent.red:
                        parent.red = False
                        return
                    node = parent
                    parent = node.parent
                    if parent is None:
                        return
                    continue
                # Case 3 (mirror) - left rotate at the sibling.
                #
                #     (p)           (p)
                #     / \           / \
                #    S   N   -->  Sr   N
                #   / \           /
                #  Sl  sr        s
                #               /
                #              Sl
                self._rotate_left(sibling)
                sr.red = False
                sibling.red = True
                sibling = sr
            # Case 4 (mirror) - right rotate at parent.
            #
            #       (p)           (s)
            #       / \           / \
            #      S   N   -->  Sl   P
            #     / \               / \
            #    sl (sr)          (sr) N
            self._rotate_right(parent)
            sibling.red = parent.red
            parent.red = False
            sibling.left.red = False
            return

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def height(self) -> int:
        """Nodes on the longest root-to-leaf path (0 for an empty tree)."""
        best = 0
        stack = [(self.root, 1)] if self.root is not None else []
        while stack:
            node, d = stack.pop()
            best = max(best, d)
            if node.left is not None:
                stack.append((node.left, d + 1))
            if node.right is not None:
                stack.append((node.right, d + 1))
        return best

    def black_height(self) -> int:
        """Black nodes on the leftmost root-to-leaf path (all paths agree)."""
        h = 0
        node = self.root
        while node is not None:
            h += not node.red
            node = node.left
        return h

    def check(
        self,
        key: Callable[[Any], Any] | None = None,
        verify: Callable[[Any], None] | None = None,
    ) -> None:
        """Recompute every invariant from scratch; ``InvariantError`` names the node.

        ``key(node)`` gives the ordering key (in-order must be non-decreasing);
        ``verify(node)`` checks the node's augmented fields from its children
        (called bottom-up, children first) and raises ``InvariantError``.
        The checks are ``structures.lib.rbtree_check``'s.
        """
        check_tree(self, key, verify)
