"""The xarray's bulk build: sorted VMAs placed level by level into nodes made in address order.

Invariant
---------
``_bulk_store`` runs on an empty index, with the writer mutex held and inside
one write section, and leaves the tree the incremental build would leave
(the node invariants of ``structures.backends.xarray.node`` and ``.index``):
each VMA ``[first, end)`` (pages) stored as its minimal aligned power-of-two
blocks, each block in the one node with ``shift <= order < shift + C``.  The
tree is built detached and published with one store of ``_root`` at the end.

The input is sorted and non-overlapping, so the runs are placed in ascending
page order, every level's slots fill up in ascending order and a node gets no
content once a later address at its level or above was placed: the build
keeps a root-to-node ``path`` (one node per level, the last one made there),
makes a node (and the missing ones above it) when a run is placed past the
path's node of its level, and fills each slot once.  The ``full`` bits of
child slots are set at the end, every node visited after its children.

Layout
------
A VMA's pages at level ``L`` (shift ``s = L * C``) are the units
``[ceil(first / 2**s), end // 2**s)`` not inside a unit of level ``L + 1``:
a head run (up to the first whole unit above) and a tail run (after the last
one); at the highest level it reaches, the units left (one run, or two when
it crosses one node boundary).  Placed in address order -- heads going up,
tails coming down -- each run fills slots of the path's node at its level
(made, with the nodes above it, when the path moves there); the leaf's
bitmaps stay in locals while it is filled.  A run of slots ``a..b`` is one
slice store of cached values (``slot_fill``: the shared siblings, None at
the canonical slots) and then the VMA in each canonical slot::

    level 2            [ .. M  M  M .. ]          M: the units left at the top level
    level 1      [ .. H1 H1 ]     [ T1 .. ]       H/T: head and tail runs, as aligned
    level 0   [ .. H0 ]                [ T0 .. ]  runs (canonical VMA, SIBLINGS slots)

    path[L]: the last node made at level L (keys[L]: its first page >> its
             reach); a leaf's full bits are its present bits

API
---
``XArrayBulk`` (mixin under ``XArrayIndex``, above ``store.XArrayWriter``):
``_bulk_store(vmas)``, ``_bulk_units(vma, lo, hi, path, keys, descend)`` (the
runs of level 1 and up, but for whole leaves inside one level-1 node);
``slot_fill(a, b)`` (one run's slice store, cached in ``SLOT_FILLS``),
``fill_units(node, a, b, vma)`` (a run of whole units stored in an upper node).
"""

from __future__ import annotations

from collections.abc import Callable

from structures.backends.xarray.node import SIBLINGS, XANode, XASibling, new_node
from structures.backends.xarray.store import SLOT_RUNS, XArrayWriter, slot_runs
from structures.vma import PAGE_SHIFT, VMA

__all__ = ["SLOT_FILLS", "XArrayBulk", "fill_units", "slot_fill"]

Fill = tuple[slice, tuple[XASibling | None, ...], tuple[int, ...], int]

#: slot_fill(a, b) by ``a << 8 | b`` (slot offsets < 256), filled lazily; two writers filling
#: one item store equal immutable tuples (one list-item store each)
SLOT_FILLS: list[Fill | None] = [None] * (1 << 16)


def slot_fill(a: int, b: int) -> Fill:
    """Slots ``a..b`` of one VMA as one slice store: the slice, its values (the shared
    ``SIBLINGS`` where the runs of ``slot_runs`` put siblings, None at their canonical
    slots), the canonical slots (where the VMA goes after), the bits of ``a..b``; cached.
    Measured against a ``[SIBLINGS[j]] * n`` list and a slice store per run: see
    ``XArrayBulk._bulk_store``."""
    values: list[XASibling | None] = [None] * (b - a + 1)
    canonical = []
    for j, sib_first, sib_end, sibs in SLOT_RUNS[a << 8 | b] or slot_runs(a, b):
        canonical.append(j)
        values[sib_first - a : sib_end - a] = [SIBLINGS[j]] * sibs
    fill = (slice(a, b + 1), tuple(values), tuple(canonical), ((2 << (b - a)) - 1) << a)
    SLOT_FILLS[a << 8 | b] = fill
    return fill


def fill_units(node: XANode, a: int, b: int, vma: VMA) -> None:
    """Store ``vma`` over slots ``a..b`` of an upper node, whole units each (one slice
    store, then the canonical slots), and count them as present and full.  One copy for
    the bulk build's two callers rather than one written out in each: 145.64M -> 145.85M
    instructions per 10k build (callgrind, GC off)."""
    slots = node.slots
    span, values, canonical, bits = SLOT_FILLS[a << 8 | b] or slot_fill(a, b)
    slots[span] = values
    for j in canonical:
        slots[j] = vma
    node.count += b - a + 1
    node.present |= bits
    node.full |= bits


class XArrayBulk(XArrayWriter):
    """The bulk build of an empty tree (mutex held, inside a write section)."""

    def _bulk_store(self, vmas: list[VMA]) -> None:
        """Store sorted, non-overlapping ``vmas`` into the empty tree: a root of the final
        height, then every VMA's runs placed into the path's node of their level (see the
        module docstring).  Leaf runs -- a VMA inside one leaf (74 % of a process-like
        layout), a head, a tail -- are stored here, the leaf's bitmaps in locals; the
        whole leaves between a head and a tail are units of level 1: one run of the open
        level-1 node when they lie inside it (not all of it), else ``_bulk_units``.
        Then the full bits, then the root is published.  Measured (min of 7, 10k VMAs of
        ``synthetic_layout``, GC on): the cursor build (each VMA stored from the previous
        one's split node by ``_store``'s walk) 39.7 ms; level by level 35.4 ms (1.65x ->
        1.72x faster than ascending inserts); heads and tails in the leaf's locals too
        33.3 ms (1.83x; with GC off 29.8 -> 27.9 ms).  With the shared siblings, the
        VMA inside one leaf tested first and its new leaf made under the open level-1
        node without ``descend``'s search (``open_leaf``), and every run stored as one slice of cached
        values plus its canonical slots (``slot_fill``) instead of a sibling list and a
        slice store per aligned run: 27.9 -> 20.8 ms (min of 7, same process, GC on;
        callgrind 230.9M -> 190.1M instructions;
        ascending re-insert 65.3 ms there: 2.16x); a tail's new leaf by ``open_leaf`` too
        190.1M -> 181.0M (written out at both places 179.7M: not worth the copy)."""
        chunk_shift = self.chunk_shift
        mask = self._mask
        all_slots = self._all_slots
        first0 = vmas[0].start >> PAGE_SHIFT
        end0 = vmas[0].end >> PAGE_SHIFT
        last_page = (vmas[-1].end >> PAGE_SHIFT) - 1
        top = 0  # the root's shift: reaching the last page and every block (from page 0 only)
        while last_page >> (top + chunk_shift) or (not first0 and end0 >> (top + chunk_shift)):
            top += chunk_shift
        root = new_node(top, 0, None, chunk_shift)
        height = top // chunk_shift + 1
        reaches = [lv * chunk_shift + chunk_shift for lv in range(height)]
        path: list[XANode] = [root] * height  # path[L]: the open node of level L
        keys = [-1] * height  # its first page >> its reach (stale ones never match again)
        keys[-1] = 0
        made = [root]  # every node, parents before children

        def descend(level: int, page: int) -> XANode:
            """The node of ``level`` over ``page``: the deepest path node holding it, the
            nodes below it made."""
            d = level + 1
            while keys[d] != page >> reaches[d]:
                d += 1
            node = path[d]
            for lv in range(d - 1, level - 1, -1):
                a = (page >> reaches[lv]) & mask
                child = new_node(lv * chunk_shift, a, node, chunk_shift)
                made.append(child)
                node.slots[a] = child
                node.count += 1
                node.present |= 1 << a
                path[lv] = child
                keys[lv] = page >> reaches[lv]
                node = child
            return node

        def open_leaf(key: int) -> XANode:
            """``descend(0, key << C)`` when the open level-1 node holds the leaf ``key``
            (``keys[1] == key >> C``): the new leaf made under it without the search."""
            parent = path[1]
            a = key & mask
            leaf = new_node(0, a, parent, chunk_shift)
            made.append(leaf)
            parent.slots[a] = leaf
            parent.count += 1
            parent.present |= 1 << a
            path[0] = leaf
            keys[0] = key
            return leaf

        leaf = new_node(0, 0, None, chunk_shift)  # the leaf being filled (a stand-in first);
        leaf_key = -1  # its first page >> C
        acc = 0  # its present (= full) bits, kept here while it is filled
        slots = leaf.slots
        fills = SLOT_FILLS
        leaf_shift = PAGE_SHIFT + chunk_shift  # a byte address >> leaf_shift: its leaf's key
        slot_bits = mask << PAGE_SHIFT  # a byte address & slot_bits: its slot in the leaf, << PAGE_SHIFT
        for v in vmas:
            # the test below from the byte addresses: one shift, one and, one subtraction
            # on the (two-digit) addresses, the rest on small ints.  Against page numbers
            # first (eight operations on two-digit ints per VMA, each a new int object):
            # bulk_load(parent) 203.2M -> 197.7M instructions per 10k build (callgrind,
            # 11 builds; ascending re-insert 458.2M there: 2.22x -> 2.32x)
            start = v.start
            key = start >> leaf_shift
            a = (start & slot_bits) >> PAGE_SHIFT  # the first page's slot
            b = a + ((v.end - start) >> PAGE_SHIFT) - 1  # the last page's slot, if in the leaf of key
            if b < mask or (b == mask and a):  # inside one leaf (not all of it)
                if key != leaf_key:
                    leaf.present = leaf.full = acc
                    leaf.count = acc.bit_count()
                    if keys[0] == key:
                        leaf = path[0]
                    elif keys[1] == key >> chunk_shift:  # a new leaf of the open level-1 node
                        leaf = open_leaf(key)
                    else:
                        leaf = descend(0, start >> PAGE_SHIFT)
                    leaf_key = key
                    slots = leaf.slots
                    acc = leaf.present
                if a == b:
                    slots[a] = v
                    acc |= 1 << a
                else:
                    span, values, canonical, bits = fills[a << 8 | b] or slot_fill(a, b)
                    slots[span] = values
                    for j in canonical:
                        slots[j] = v
                    acc |= bits
                continue
            # a head (pages first .. the end of the leaf of key) unless first starts a leaf,
            # the whole leaves [lo, hi) as units of level 1 and up, a tail unless end ends one
            first = start >> PAGE_SHIFT
            end = v.end >> PAGE_SHIFT
            last_key = (end - 1) >> chunk_shift
            if a:  # (first & mask)
                if key != leaf_key:
                    leaf.present = leaf.full = acc
                    leaf.count = acc.bit_count()
                    leaf = path[0] if keys[0] == key else descend(0, first)
                    leaf_key = key
                    slots = leaf.slots
                    acc = leaf.present
                span, values, canonical, bits = fills[a << 8 | mask] or slot_fill(a, mask)
                slots[span] = values
                for j in canonical:
                    slots[j] = v
                acc |= bits
            lo = (first + mask) >> chunk_shift
            hi = end >> chunk_shift
            if lo < hi:
                if not (lo ^ (hi - 1)) >> chunk_shift and (lo | hi) & mask:
                    # the whole leaves inside one level-1 node, not all of it (72 % of
                    # the VMAs with whole leaves): one run there, no pieces.  Against
                    # _bulk_units for them too: 158.4M -> 155.0M instructions per 10k build
                    # (callgrind, GC off)
                    node = path[1] if keys[1] == lo >> chunk_shift else descend(1, lo << chunk_shift)
                    fill_units(node, lo & mask, (hi - 1) & mask, v)
                else:
                    self._bulk_units(v, lo, hi, path, keys, descend)
                if not end & mask:
                    continue
            # the tail: pages from the last leaf's first one to end, in a new leaf
            leaf.present = leaf.full = acc
            leaf.count = acc.bit_count()
            if keys[1] == last_key >> chunk_shift:  # under the open level-1 node
                leaf = open_leaf(last_key)
            else:
                leaf = descend(0, last_key << chunk_shift)
            leaf_key = last_key
            slots = leaf.slots
            b = (end - 1) & mask
            if b:
                span, values, canonical, bits = fills[b] or slot_fill(0, b)
                slots[span] = values
                for j in canonical:
                    slots[j] = v
            else:
                slots[0] = v
            acc = (2 << b) - 1
        leaf.present = leaf.full = acc
        leaf.count = acc.bit_count()
        for n in reversed(made):  # full bits upward, every child before its parent
            if n.full == all_slots and n.parent is not None:
                n.parent.full |= 1 << n.offset
        self._nodes_allocated += len(made)
        self._root = root  # publish: one reference store
        self._shrink()  # (never lowers it: the height was computed minimal)

    def _bulk_units(
        self, vma: VMA, lo: int, hi: int, path: list[XANode], keys: list[int], descend: Callable[[int, int], XANode]
    ) -> None:
        """Store ``vma`` over the level-1 units ``[lo, hi)`` (whole leaves): its runs,
        level by level -- heads going up, then tails coming down -- into the path's
        node of their level (``descend`` makes it when the path must move)."""
        chunk_shift = self.chunk_shift
        mask = self._mask
        top = len(path) - 1
        pieces = []
        tails = []
        level = 1
        while True:
            if level == top:
                pieces.append((level, lo, hi))
                break
            lo_up = (lo + mask) >> chunk_shift  # the whole units of the level above: [lo_up, hi_up)
            hi_up = hi >> chunk_shift
            if lo_up >= hi_up:  # none: [lo, hi) crosses at most one node boundary
                cut = ((hi - 1) >> chunk_shift) << chunk_shift
                if lo < cut:
                    pieces.append((level, lo, cut))
                    lo = cut
                pieces.append((level, lo, hi))
                break
            if lo < lo_up << chunk_shift:
                pieces.append((level, lo, lo_up << chunk_shift))
            if hi_up << chunk_shift < hi:
                tails.append((level, hi_up << chunk_shift, hi))
            level += 1
            lo = lo_up
            hi = hi_up
        if tails:
            tails.reverse()
            pieces += tails
        for level, lo, hi in pieces:
            node = path[level] if keys[level] == lo >> chunk_shift else descend(level, lo << level * chunk_shift)
            fill_units(node, lo & mask, (hi - 1) & mask, vma)
