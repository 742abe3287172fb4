"""The ``xarray`` backend: a radix tree keyed by page number, like ``lib/xarray.c``.

Invariant
---------
Every stored VMA ``[start, end)`` covers the pages ``start >> PAGE_SHIFT ..
(end >> PAGE_SHIFT) - 1``, split into the *minimal* set of naturally aligned
power-of-two blocks (``xa_store_range`` style).  A block of order ``k``
(``2**k`` pages at an index that is a multiple of ``2**k``) lives in the one
node whose ``shift`` satisfies ``shift <= k < shift + C`` (``C`` =
``chunk_shift``, ``XA_CHUNK_SHIFT = 6`` by default): its *canonical* slot holds
the VMA itself and the ``2**(k - shift) - 1`` following *sibling* slots hold
the shared ``XASibling`` naming the canonical offset (``SIBLINGS[offset]``,
the kernel's ``xa_mk_sibling``: no object per block; a reader that meets one
loads the canonical slot of the same node, see below).  For every node:

* ``count`` = non-empty slots; ``present`` bit ``i`` set iff ``slots[i]`` is not
  ``None``; a non-root node is never empty (emptied nodes are freed at once);
* ``full`` bit ``i`` set iff every page under slot ``i`` is mapped (an entry or
  sibling, or a child whose ``full`` is all ones) — the inverse of the kernel's
  ``XA_FREE_MARK``;
* ``marks[m]`` bit ``i`` set iff slot ``i`` is a canonical entry carrying mark
  ``m`` or a child node with any ``marks[m]`` bit (upward propagation);
* ``child.parent is node``, ``child.offset == i``, ``child.shift == shift - C``;
* the height is minimal: the root never has slot 0 as its only child node.

Marks
-----
A mark tags a whole *VMA* (for example ``XA_MARK_0`` = "touched since the last
scan", as NUMA balancing or ``MADV_COLD`` scans would use it): ``set_mark``
sets it on the canonical slot of every block of the VMA, so ``find_marked``
skips unmarked subtrees at every level.  Marks die with their VMA (a
``replace`` does not carry them over).

Lock-free readers (``lockless_reads = True``)
----------------------------------------------
Writers hold the index mutex, publish every slot change with one reference
store, mark every unlinked node ``dead`` and never touch a dead node again.
A VMA is several blocks, written in one walk (``store``), so a single
reference store cannot make its insertion atomic; every write therefore runs inside a *write section* of the
index's ``SeqCount`` (``structures.lib.seqcount``): ``seq`` becomes odd before
the first store and even after the last.  A reader samples ``seq`` (waits
while odd), walks, and accepts its answer only if ``seq`` is unchanged (the
section opens at a mutation's first store and closes in the base's
``_commit`` hook); otherwise it restarts (counted per thread, summed in
``stats()["restarts"]``; walks that meet a dead node or a torn bitmap raise
``Torn`` and restart at once, counted in ``dead_restarts``).  So every read —
a point lookup, a multi-entry ``overlapping`` snapshot, an ``__iter__`` batch,
a gap search, a mark query (mark writes are write sections too) — observed
one quiescent state between two complete writes, and a reader can return a
VMA only if it was stored at that instant: a half-inserted or half-removed
VMA is never returned, and ``replace(old, new)`` (its removes and inserts
share one section) is one instant too.  Readers never take a lock; they only
retry.  Python gives memory safety for free (a stale node stays valid), so the
sequence check is what makes answers linearizable.  Atomicity relied on: the
seqcount's (single attribute loads/stores of an int or a reference, one dict
item per thread for the counts) plus single list-item loads/stores of slots.
A sibling costs a reader a second slot load (the canonical slot it names, in
the node it was read from); both loads lie inside the validated walk, so a
write between them makes the answer a retry, never a wrong VMA, and the load
cannot fail (a node's siblings name that node's own slots).

Complexity
----------
``lookup`` is a pure radix walk: at most ``ceil(35 / C)`` nodes (6 for C=6).
``find``/``find_prev``/``intersection`` are a walk plus one bitmap scan up
and down the tree: O(h) nodes, O(1) big-int bit operations per node.
``overlapping``/``__iter__`` cost O(h) per VMA returned.  ``find_gap``
alternates "next free page" (via ``full``) and "next mapped page" (via
``present``) scans, each O(h) and skipping empty or full subtrees whole:
O((g + 1) * h) node visits where ``g`` is the number of free runs too short
for the request that lie between the start point and the answer (never a
scan over pages or slots).

Layout
------
::

    XArrayIndex                              the tree (see .node for one node)
    +------------------+                     root shift 2C ------------------+
    | _root  ----------+-------------------> [ n | . | V | s | ... ]          |
    | _count           |                       |                             |
    | _seqcount (seq)  |                       v  shift C                    |
    | _mutex (base)    |                     [ . | V | s | s | ... ]         |
    +------------------+
    writes: mutex, seqcount section, slot stores bottom-up, summaries fixed upward
    reads:  no lock; raw walks of .scan under SeqCount.read

Modules: ``node`` (nodes, constants, ``blocks_of``, stats, dump), ``scan``
(the raw walks), ``store`` (the writers' tree surgery: one walk per VMA,
the node copy of ``dup``), ``bulk`` (the bulk build), ``check`` (the sub-checks
``check()`` runs), this one (the index: write sections, readers, marks).

Writes: ``insert`` is one walk that checks the pages are free on its way
down and stores the VMA's blocks (``store.XArrayWriter._store``); ``remove``
looks the VMA up, then erases it in one walk, freeing emptied nodes and
lowering the root.  ``bulk_load`` builds the tree detached, level by level
in address order (``bulk``), in one write section, and publishes its root;
``dup`` copies node by node (``_copy_tree``).
``write_stats``: nodes allocated and freed, rebalances = height changes (a
radix tree never rebalances).

API
---
``XArrayIndex(*, chunk_shift=6, lock=None)`` (registry name ``xarray``): the
full ``VMAIndex`` interface plus ``set_mark(addr, mark=XA_MARK_0)``,
``clear_mark``, ``get_mark``, ``find_marked(start=0, end=TASK_SIZE, mark)``;
``chunk_shift``; ``stats()`` adds ``slots_used``, ``slots_total``,
``blocks``, ``blocks_per_vma``, ``kernel_bytes``, ``restarts``,
``dead_restarts``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from structures.backends.xarray.bulk import XArrayBulk
from structures.backends.xarray.check import check_tree
from structures.backends.xarray.node import (
    MAX_PAGES,
    XA_CHUNK_SHIFT,
    XA_MARK_0,
    XA_MAX_MARKS,
    XANode,
    XASibling,
    blocks_of,
    dump,
    own_marks,
    tree_stats,
)
from structures.backends.xarray.scan import (
    collect,
    collect_all,
    find_entry,
    find_prev_entry,
    gap_search,
    load,
    mark_of,
    marked,
)
from structures.base import VMAIndex
from structures.lib.seqcount import SeqCount, Torn
from structures.vma import (
    PAGE_SHIFT,
    TASK_SIZE,
    VMA,
    InvariantError,
    NotMappedError,
    OverlapError,
    validate_addr,
    validate_range,
)

__all__ = ["XArrayIndex"]


class XArrayIndex(XArrayBulk, VMAIndex):
    """Radix tree keyed by page number, multi-index entries, lock-free readers."""

    name = "xarray"
    description = "xarray-like radix tree keyed by page number: multi-index entries, bitmaps, lock-free readers"
    lockless_reads = True

    def __init__(self, *, chunk_shift: int = XA_CHUNK_SHIFT, lock: object = None) -> None:
        if type(chunk_shift) is not int or not 1 <= chunk_shift <= 8:
            raise ValueError(f"chunk_shift must be an int in [1, 8], got {chunk_shift!r}")
        super().__init__(lock=lock)
        self.chunk_shift = chunk_shift
        self._mask = (1 << chunk_shift) - 1  # a slot offset's bits
        self._all_slots = (1 << (1 << chunk_shift)) - 1  # a bitmap with every slot's bit set
        self._root: XANode | None = None
        self._count = 0
        self._seqcount = SeqCount()  # write sections; restarts counted per thread

    def _options(self) -> dict[str, Any]:
        return {"chunk_shift": self.chunk_shift}

    def _commit(self) -> None:
        # the base calls this once at the end of every successful insert/remove/
        # replace/clear, so a whole replace(old, new) is one write section
        self._seqcount.end()

    # ------------------------------------------------------------------
    # primitives: mutators (tree surgery in .store; inside a write section)
    # ------------------------------------------------------------------
    def _node_for_block(self, index: int, order: int) -> XANode:
        shift = (order // self.chunk_shift) * self.chunk_shift
        node = self._root
        mask = self._mask
        while node is not None and node.shift > shift:
            node = node.slots[(index >> node.shift) & mask]
            if type(node) is not XANode:
                break
        if type(node) is not XANode or node.shift != shift:
            raise InvariantError(f"xarray: no node at shift {shift} for block {index:#x}/{order}")
        return node

    def insert(self, vma: VMA) -> None:
        """``VMAIndex.insert`` in one walk: the store checks the pages are free on its way
        (the base walks ``_find`` first), inside a write section opened by bumping
        ``seq`` itself (no read inside: the writer's id is not needed)."""
        if type(vma) is not VMA:
            super().insert(vma)  # raises the base class's TypeError
            return
        with self._mutex:
            seqcount = self._seqcount
            seqcount.seq += 1  # odd: a write is in progress
            try:
                stored = self._store(vma, vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT, True)
                if stored:
                    self._count += 1
            finally:
                seqcount.seq += 1  # even: published
            if not stored:
                hit = self._intersection(vma.start, vma.end)
                raise OverlapError(f"{vma!r} overlaps stored {hit!r}", existing=hit)
            self.seqnum.value += 1  # after the publish, as the base does

    def remove(self, vma: VMA) -> None:
        """``VMAIndex.remove`` with the erase in a write section opened by bumping ``seq``."""
        if type(vma) is not VMA:
            super().remove(vma)  # raises the base class's TypeError
            return
        with self._mutex:
            cur = self._lookup(vma.start)
            if cur is not vma and cur != vma:
                if cur is not None and cur.start == vma.start and cur.end == vma.end:
                    raise NotMappedError(f"{vma!r} is not stored (the range holds {cur!r})")
                raise NotMappedError(f"{vma!r} is not stored")
            seqcount = self._seqcount
            seqcount.seq += 1
            try:
                self._erase(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)
                self._count -= 1
            finally:
                seqcount.seq += 1
            self.seqnum.value += 1

    def _insert(self, vma: VMA) -> None:
        self._seqcount.begin()
        try:
            self._store(vma, vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)
            self._count += 1
        except BaseException:
            self._seqcount.end()  # never leave readers waiting on a failed write
            raise

    def _remove(self, vma: VMA) -> None:
        self._seqcount.begin()
        try:
            self._erase(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)
            self._count -= 1
        except BaseException:
            self._seqcount.end()
            raise

    def __del__(self) -> None:
        """A dropped index empties its internal nodes' ``slots``, so that no node is
        left in a ``parent`` <-> ``slots`` cycle and all of them die by reference
        counting instead of waiting for a full collection of the cyclic GC (the
        kernel's ``xa_destroy``).  Only here, when no reader can hold the index:
        ``_clear`` leaves a lock-free reader its links.  The nodes above level 1 are
        walked for their child nodes; a level-1 node's slots (leaves and entries) are
        cleared in C, unread: 60 of the 3,505 nodes of a 10k-VMA build.

        Measured in the fork suite's way (a child built from a 10k parent, then
        dropped; CPU time, 15-21 interleaved rounds, 3 runs each way): unlinking the
        nodes' ``parent`` links took bulk_load's mean 29.3-33.2 -> 25.4-28.1 ms per
        child (the full collections' spikes gone), median 26.0-28.3 -> 23.9-27.4;
        mean ratio to the ascending re-insert 2.33-2.43x -> 2.54-2.77x.  Emptying the
        internal slots instead of unlinking every leaf's ``parent`` (a Python loop over
        3,840 slots, ~1.0 ms of the ~2.4 ms a drop takes): bulk_load(parent) + drop
        145.89M -> 137.43M instructions per 10k child, the ascending re-insert + drop
        409.7M (callgrind, GC off)."""
        root = getattr(self, "_root", None)  # absent if __init__ refused its arguments
        if root is None or not root.shift:
            return  # no tree, or a leaf root: no cycle
        chunk_shift = self.chunk_shift  # a node of this shift holds leaves and entries only
        stack = [root]
        while stack:
            node = stack.pop()
            slots = node.slots
            if node.shift > chunk_shift:
                for child in slots:
                    if type(child) is XANode:
                        stack.append(child)
            slots.clear()

    def _clear(self) -> None:
        self._seqcount.begin()
        try:
            root, self._root = self._root, None
            stack = [root] if root is not None else []
            while stack:
                node = stack.pop()
                node.dead = True
                self._nodes_freed += 1
                stack.extend(x for x in node.slots if type(x) is XANode)
            self._count = 0
        except BaseException:
            self._seqcount.end()
            raise

    def _bulk_load(self, vmas: list[VMA]) -> None:
        """The level-by-level bulk build (``bulk.XArrayBulk._bulk_store``), in one write
        section, with no overlap check (the base validated the sorted input)."""
        self._seqcount.begin()
        try:
            self._bulk_store(vmas)
            self._count += len(vmas)
        except BaseException:
            self._seqcount.end()
            raise

    def _dup(self) -> VMAIndex:
        child = self._spawn()
        assert isinstance(child, XArrayIndex)
        if self._root is not None:
            child._root = child._copy_tree(self._root)
            child._count = self._count
        return child

    # ------------------------------------------------------------------
    # primitives: readers (raw walks of .scan under the seqcount)
    # ------------------------------------------------------------------
    def _lookup(self, addr: int) -> VMA | None:
        # the seqcount's fast case inlined (one load before, one after the radix walk)
        page = addr >> PAGE_SHIFT
        mask = self._mask
        xa_node = XANode
        seqcount = self._seqcount
        seq = seqcount.seq
        node = self._root
        if node is None or page >> node.reach:
            x = None
        else:
            slots = node.slots
            x = slots[(page >> node.shift) & mask]
            while type(x) is xa_node:
                slots = x.slots
                x = slots[(page >> x.shift) & mask]
            if type(x) is XASibling:  # the canonical slot it names, inside the validated walk
                x = slots[x.offset]  # (the shared siblings cost a lookup +1.9 %: 255.5M -> 260.4M
                # instructions per 30k lookups of a 10k-VMA layout, callgrind; find -0.5 %)
        if seq == seqcount.seq and not seq & 1:
            return x  # type: ignore[no-any-return]
        if seq & 1:
            if seqcount.writer == threading.get_ident():  # the writer, between its own steps
                return x  # type: ignore[no-any-return]
        else:
            seqcount.retried()  # a write overlapped the walk
        return seqcount.read(self._lookup_walk, page)

    def _lookup_walk(self, page: int) -> VMA | None:
        return load(self._root, page, self._mask)  # type: ignore[no-any-return]

    def _find(self, addr: int) -> VMA | None:
        # find_entry inlined for the common, quiescent case: the radix walk of
        # _lookup, then the present-bitmap scan on a miss (measured: -25% on hits)
        page = addr >> PAGE_SHIFT
        seqcount = self._seqcount
        seq = seqcount.seq
        node = self._root
        if seq & 1 or node is None or page >> node.reach:
            return seqcount.read(self._find_walk, page)
        mask = self._mask
        xa_node = XANode
        x = node.slots[(page >> node.shift) & mask]
        while type(x) is xa_node:
            node = x
            x = x.slots[(page >> x.shift) & mask]
        if x is None:
            off = (page >> node.shift) & mask
            while True:
                bits = node.present >> (off + 1)
                if bits:
                    x = node.slots[off + (bits & -bits).bit_length()]
                    while type(x) is xa_node:
                        present = x.present
                        x = x.slots[(present & -present).bit_length() - 1]
                    break
                if node.dead:
                    seqcount.restarted_torn()
                    return seqcount.read(self._find_walk, page)
                parent = node.parent
                if parent is None:
                    break
                off = node.offset
                node = parent
            # (the first present slot right of a free one starts a block: never a sibling,
            # but on a torn tree; the check below discards that)
        elif type(x) is XASibling:  # the canonical slot it names, inside the validated walk
            x = node.slots[x.offset]
        if seq != seqcount.seq:
            seqcount.retried()  # a write overlapped the walk
            return seqcount.read(self._find_walk, page)
        return x  # type: ignore[no-any-return]

    def _find_walk(self, page: int) -> VMA | None:
        return find_entry(self._root, page, self._mask)

    def _find_prev(self, addr: int) -> VMA | None:
        return self._seqcount.read(self._find_prev_walk, addr)

    def _find_prev_walk(self, addr: int) -> VMA | None:
        return find_prev_entry(self._root, addr, self._mask)

    def _intersection(self, start: int, end: int) -> VMA | None:
        v = self._find(start)
        return v if v is not None and v.start < end else None

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        if not start and end >= TASK_SIZE:  # the whole space (to_list, a fork's bulk_load): one walk
            return self._seqcount.read(self._collect_all_walk)
        return self._seqcount.read(self._collect_walk, start, end, MAX_PAGES)

    def _collect_all_walk(self) -> list[VMA]:
        return collect_all(self._root, self._mask)

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        return self._seqcount.read(self._collect_walk, addr, TASK_SIZE, n)

    def _collect_walk(self, start: int, end: int, limit: int) -> list[VMA]:
        return collect(self._root, start, end, limit, self._mask)

    def _iter_from(self, addr: int) -> Iterator[VMA]:
        # each step is one linearizable find; callers that need a snapshot use
        # _overlapping / _batch_from (the base only iterates with the mutex held)
        v = self._find(addr)
        while v is not None:
            yield v
            if v.end >= TASK_SIZE:
                return
            v = self._find(v.end)

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        # the seqcount's fast case inlined, as in _lookup (read() and _gap_walk's two call
        # levels were +4-5 % per find_gap against the pre-seqcount code); the retry loop
        # only when a writer overlapped or the walk raised
        seqcount = self._seqcount
        seq = seqcount.seq
        if not seq & 1:
            try:
                found = gap_search(self._root, length, low, high, top_down, self._mask)
            except Torn:
                seqcount.restarted_torn()
            except Exception:
                if seqcount.seq == seq:
                    raise
                seqcount.retried()
            else:
                if seqcount.seq == seq:
                    return found
                seqcount.retried()
        return seqcount.read(self._gap_walk, length, low, high, top_down)

    def _gap_walk(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        return gap_search(self._root, length, low, high, top_down, self._mask)

    def _len(self) -> int:
        return self._count

    # ------------------------------------------------------------------
    # marks
    # ------------------------------------------------------------------
    @staticmethod
    def _validate_mark(mark: object) -> int:
        if type(mark) is not int or not 0 <= mark < XA_MAX_MARKS:
            raise ValueError(f"mark must be one of XA_MARK_0..XA_MARK_{XA_MAX_MARKS - 1}, got {mark!r}")
        return mark

    def _set_mark(self, addr: int, mark: int, on: bool) -> VMA:
        validate_addr(addr)
        mark = self._validate_mark(mark)
        with self._mutex:
            v = self._lookup_walk(addr >> PAGE_SHIFT)
            if v is None:
                raise NotMappedError(f"no VMA contains {addr:#x}")
            self._seqcount.begin()
            try:
                for index, order in blocks_of(v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT):
                    node = self._node_for_block(index, order)
                    bit = 1 << ((index >> node.shift) & self._mask)
                    if on:
                        own_marks(node)[mark] |= bit  # (NO_MARKS: the node's own list first)
                    elif node.marks[mark] & bit:
                        own_marks(node)[mark] &= ~bit
                    self._fix_up(node)
            finally:
                self._seqcount.end()
            return v

    def set_mark(self, addr: int, mark: int = XA_MARK_0) -> VMA:
        """Mark the VMA containing ``addr`` (``NotMappedError`` if none); returns it."""
        return self._set_mark(addr, mark, True)

    def clear_mark(self, addr: int, mark: int = XA_MARK_0) -> VMA:
        """Clear ``mark`` on the VMA containing ``addr``; returns it."""
        return self._set_mark(addr, mark, False)

    def get_mark(self, addr: int, mark: int = XA_MARK_0) -> bool:
        """Whether the VMA containing ``addr`` carries ``mark`` (False if unmapped)."""
        validate_addr(addr)
        mark = self._validate_mark(mark)
        return self._seqcount.read(self._get_mark_walk, addr >> PAGE_SHIFT, mark)

    def _get_mark_walk(self, page: int, mark: int) -> bool:
        root = self._root
        v = load(root, page, self._mask)
        return v is not None and mark_of(root, v, mark, self._mask)

    def find_marked(self, start: int = 0, end: int = TASK_SIZE, mark: int = XA_MARK_0) -> VMA | None:
        """First VMA meeting ``[start, end)`` that carries ``mark`` (``xa_find`` on a mark)."""
        validate_range(start, end, aligned=False)
        mark = self._validate_mark(mark)
        return self._seqcount.read(self._marked_walk, start, end, mark)

    def _marked_walk(self, start: int, end: int, mark: int) -> VMA | None:
        return marked(self._root, start, end, mark, self._mask)

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def _probe(self, addr: int) -> int:
        return self._seqcount.read(self._probe_walk, addr >> PAGE_SHIFT)

    def _probe_walk(self, page: int) -> int:
        node = self._root
        if node is None:
            return 0
        visited = 1
        if page >> node.reach:
            return visited
        x = node.slots[(page >> node.shift) & self._mask]
        while type(x) is XANode:
            visited += 1
            x = x.slots[(page >> x.shift) & self._mask]
        return visited

    def _stats(self) -> dict[str, Any]:
        st = tree_stats(self._root, self.chunk_shift, self._count)
        st["restarts"] = self._seqcount.retries()
        st["dead_restarts"] = self._seqcount.torn()
        return st

    def _check(self) -> None:
        seqcount = self._seqcount
        if seqcount.seq & 1:
            raise InvariantError(f"xarray: write section open ({seqcount!r})")
        check_tree(self._root, self.chunk_shift, self._count)

    def _dump(self) -> str:
        """A compact text picture of the tree (``node.dump``); check errors of small trees carry it."""
        return dump(self._root)

    def __repr__(self) -> str:
        return f"<XArrayIndex 'xarray' chunk_shift={self.chunk_shift} vmas={self._count}>"
