"""The ``xarray`` backend: a radix tree keyed by page number, like ``lib/xarray.c``.

Invariant
---------
Every stored VMA ``[start, end)`` covers the pages ``start >> PAGE_SHIFT ..
(end >> PAGE_SHIFT) - 1``, split into the *minimal* set of naturally aligned
power-of-two blocks (``xa_store_range`` style).  A block of order ``k``
(``2**k`` pages at an index that is a multiple of ``2**k``) lives in the one
node whose ``shift`` satisfies ``shift <= k < shift + C`` (``C`` =
``chunk_shift``, ``XA_CHUNK_SHIFT = 6`` by default): its *canonical* slot holds
the VMA itself and the ``2**(k - shift) - 1`` following *sibling* slots hold an
``XASibling`` naming the canonical offset (and the VMA, so that a lock-free
reader gets it with one reference load).  For every node:

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

Layout
------
::

    XANode (chunk_shift C, 2**C slots)           index bits of a page number
    +--------+--------+--------+-------+          | ... | C bits | C bits |
    | shift  | offset | count  | dead  |                  ^ shift=C  ^ shift=0
    | parent | reach = shift + C        |
    | present: int  full: int  marks: [int, int, int]       (bit i <-> slot i)
    +---------------------------------------------------------------+
    | slots[0] | slots[1] | ... | slots[2**C - 1]                    |
    +---------------------------------------------------------------+
      None | XANode (child) | VMA (canonical) | XASibling(vma, canonical offset)

    VMA V = pages 5..17 (13 pages), C = 2 -> blocks (index/order) 5/0, 6/1, 8/3, 16/1

    root shift 4 [0..63]:      [ n0 | n1 |  .  |  .  ]
    n0 shift 2 [0..15]:        [ .  | l1 |  V  | sib ]   8/3: canonical slot 2 + 1 sibling
    l1 shift 0 [4..7]:         [ .  | V  |  V  | sib ]   5/0 at slot 1; 6/1 at slots 2-3
    n1 shift 2 [16..31]:       [ l2 | .  |  .  |  .  ]
    l2 shift 0 [16..19]:       [ V  | sib|  .  |  .  ]   16/1

Lock-free readers (``lockless_reads = True``)
----------------------------------------------
Writers hold the index mutex, publish every slot change with one reference
store (a new node is filled before the store that links it), mark every
unlinked node ``dead`` and never touch a dead node again.  A VMA is several
blocks, written one by one, so a single reference store cannot make its
insertion atomic; every write therefore runs inside a *write sequence* section
(seqlock): ``_wseq`` becomes odd before the first store and even after the
last.  A reader samples ``_wseq`` (waits while odd), walks, and accepts its
answer only if ``_wseq`` is unchanged (the section opens at a mutation's
first store and closes in the base's ``_commit`` hook); otherwise it restarts
(counted in ``stats()["restarts"]``; walks that meet a dead node or a torn bitmap restart
at once, counted in ``dead_restarts``).  So every read — a point lookup, a
multi-entry ``overlapping`` snapshot, an ``__iter__`` batch, a gap search, a
mark query (mark writes are write sections too) — observed one quiescent
state between two complete writes, and a reader can return a VMA only if it
was stored at that instant: a half-inserted or half-removed VMA is never
returned, and ``replace(old, new)`` (its removes and inserts share one
section) is one instant too.  Readers never take
a lock; they only retry.  Python gives memory safety for free (a stale node
stays valid), so the sequence check is what makes answers linearizable.

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

API
---
``XArrayIndex(*, chunk_shift=6, lock=None)`` (registry name ``xarray``): the
full ``VMAIndex`` interface plus ``set_mark(addr, mark=XA_MARK_0)``,
``clear_mark``, ``get_mark``, ``find_marked(start=0, end=TASK_SIZE, mark)``;
module helpers ``blocks_of(first_page, end_page)``; constants
``XA_CHUNK_SHIFT``, ``XA_MARK_0..2``.  ``check()``'s named sub-checks live in
``structures/xarray_check.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from structures.base import VMAIndex
from structures.vma import PAGE_SHIFT, TASK_SIZE, VMA, InvariantError, NotMappedError, check_addr, check_range

__all__ = ["XA_CHUNK_SHIFT", "XA_MARK_0", "XA_MARK_1", "XA_MARK_2", "XANode", "XASibling", "XArrayIndex", "blocks_of"]

XA_CHUNK_SHIFT = 6
XA_MARK_0 = 0
XA_MARK_1 = 1
XA_MARK_2 = 2
XA_MAX_MARKS = 3
#: sizeof(struct xa_node) on 64-bit Linux with XA_CHUNK_SHIFT = 6 (for the kernel-equivalent estimate)
KERNEL_XA_NODE_BYTES = 576

_MAX_PAGES = TASK_SIZE >> PAGE_SHIFT
# scan modes: which bitmap a walk follows
_PRESENT = -2
_FREE = -1  # modes >= 0 are mark numbers

T = TypeVar("T")


class _Torn(Exception):
    """A lock-free walk met a dead node or an inconsistent bitmap: restart it."""


class XANode:
    """One radix-tree node (``struct xa_node``); see the module docstring."""

    __slots__ = ("count", "dead", "full", "marks", "offset", "parent", "present", "reach", "shift", "slots")

    def __init__(self, shift: int, offset: int, parent: XANode | None, chunk_shift: int) -> None:
        self.shift = shift
        self.reach = shift + chunk_shift
        self.offset = offset
        self.parent = parent
        self.count = 0
        self.present = 0
        self.full = 0
        self.marks = [0] * XA_MAX_MARKS
        self.dead = False
        self.slots: list[Any] = [None] * (1 << chunk_shift)

    def base(self) -> int:
        """First page index this node covers (walks the parent links)."""
        b, n = 0, self
        while n.parent is not None:
            b += n.offset << n.parent.shift
            n = n.parent
        return b

    def __repr__(self) -> str:
        return f"<XANode shift={self.shift} base={self.base():#x} count={self.count}>"


class XASibling:
    """A sibling slot of a multi-index entry: points at the canonical slot (and its VMA)."""

    __slots__ = ("offset", "vma")

    def __init__(self, vma: VMA, offset: int) -> None:
        self.vma = vma
        self.offset = offset

    def __repr__(self) -> str:
        return f"<sibling of slot {self.offset}>"


def blocks_of(first: int, end: int) -> list[tuple[int, int]]:
    """The minimal naturally aligned power-of-two blocks covering pages ``[first, end)``,
    as ``(index, order)`` in ascending order."""
    out = []
    while first < end:
        k = (first & -first).bit_length() - 1 if first else 63
        while first + (1 << k) > end:
            k -= 1
        out.append((first, k))
        first += 1 << k
    return out


def _entry_vma(x: Any) -> VMA:
    return x if type(x) is VMA else x.vma


class XArrayIndex(VMAIndex):
    """Radix tree keyed by page number, multi-index entries, lock-free readers."""

    name = "xarray"
    description = "xarray-like radix tree keyed by page number: multi-index entries, bitmaps, lock-free readers"
    lockless_reads = True

    def __init__(self, *, chunk_shift: int = XA_CHUNK_SHIFT, lock: object = None) -> None:
        if type(chunk_shift) is not int or not 1 <= chunk_shift <= 8:
            raise ValueError(f"chunk_shift must be an int in [1, 8], got {chunk_shift!r}")
        super().__init__(lock=lock)
        self._C = chunk_shift
        self._mask = (1 << chunk_shift) - 1
        self._all = (1 << (1 << chunk_shift)) - 1
        self._root: XANode | None = None
        self._count = 0
        self._wseq = 0
        self._wopen = False
        self._writer: int | None = None
        # statistics only: bumped by readers without a lock, so a lost update
        # under free-threading just undercounts
        self._restarts = 0
        self._dead_restarts = 0

    # ------------------------------------------------------------------
    # write sections (seqlock)
    # ------------------------------------------------------------------
    def _write_begin(self) -> None:
        """Open the write section (idempotent): the first store of a mutation."""
        if not self._wopen:
            self._wopen = True
            self._writer = threading.get_ident()
            self._wseq += 1  # odd: readers wait / retry

    def _write_end(self) -> None:
        """Close the write section: a new quiescent state is published."""
        if self._wopen:
            self._wseq += 1  # even
            self._writer = None
            self._wopen = False

    def _commit(self) -> None:
        # the base calls this once at the end of every successful insert/remove/
        # replace/clear, so a whole replace(old, new) is one write section
        self._write_end()

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a raw walk until it saw one quiescent state (see the module docstring)."""
        waits = 0
        while True:
            seq = self._wseq
            if seq & 1:
                if self._writer == threading.get_ident():
                    return fn(*args)  # the writer itself, between two of its steps
                waits += 1
                if waits > 16:
                    time.sleep(0)  # let the writer run; never a lock
                continue
            try:
                r = fn(*args)
            except _Torn:
                self._dead_restarts += 1
                continue
            except Exception:
                if self._wseq == seq:
                    raise
                self._restarts += 1
                continue
            if self._wseq == seq:
                return r
            self._restarts += 1

    # ------------------------------------------------------------------
    # tree surgery (writer side, mutex held, inside a write section)
    # ------------------------------------------------------------------
    def _fix_up(self, node: XANode) -> None:
        """Propagate ``node``'s full/mark summary bits to its ancestors."""
        all_ = self._all
        while True:
            p = node.parent
            if p is None:
                return
            bit = 1 << node.offset
            changed = False
            want = bit if node.full == all_ else 0
            if p.full & bit != want:
                p.full ^= bit
                changed = True
            pm, nm = p.marks, node.marks
            for m in range(XA_MAX_MARKS):
                want = bit if nm[m] else 0
                if pm[m] & bit != want:
                    pm[m] ^= bit
                    changed = True
            if not changed:
                return
            node = p

    def _grow_for(self, last: int, order: int) -> XANode:
        """Make the root reach page ``last`` and hold blocks of ``order``; returns the root."""
        C = self._C
        root = self._root
        if root is None:
            shift = (order // C) * C
            while last >> (shift + C):
                shift += C
            root = XANode(shift, 0, None, C)
            self._root = root
            return root
        while last >> root.reach or order >= root.reach:
            new = XANode(root.shift + C, 0, None, C)
            new.slots[0] = root
            new.count = 1
            new.present = 1
            new.full = 1 if root.full == self._all else 0
            for m in range(XA_MAX_MARKS):
                new.marks[m] = 1 if root.marks[m] else 0
            root.parent = new
            root.offset = 0
            self._root = new  # publish: one reference store
            root = new
        return root

    def _store_block(self, index: int, order: int, vma: VMA) -> None:
        C = self._C
        mask = self._mask
        node = self._grow_for(index + (1 << order) - 1, order)
        shift = (order // C) * C
        while node.shift > shift:
            off = (index >> node.shift) & mask
            child = node.slots[off]
            if child is None:
                child = XANode(node.shift - C, off, node, C)
                bit = 1 << off
                node.count += 1
                node.present |= bit
                node.slots[off] = child  # publish the (empty) child
            elif type(child) is not XANode:
                raise InvariantError(f"xarray store: slot {off} of {node!r} holds {child!r} over free pages")
            node = child
        off = (index >> shift) & mask
        n = 1 << (order - shift)
        slots = node.slots
        if n > 1:
            sib = XASibling(vma, off)
            for j in range(off + 1, off + n):
                slots[j] = sib
        slots[off] = vma
        bits = ((1 << n) - 1) << off
        node.count += n
        node.present |= bits
        node.full |= bits
        self._fix_up(node)

    def _node_for_block(self, index: int, order: int) -> XANode:
        shift = (order // self._C) * self._C
        node = self._root
        mask = self._mask
        while node is not None and node.shift > shift:
            node = node.slots[(index >> node.shift) & mask]
            if type(node) is not XANode:
                break
        if type(node) is not XANode or node.shift != shift:
            raise InvariantError(f"xarray: no node at shift {shift} for block {index:#x}/{order}")
        return node

    def _erase_block(self, index: int, order: int) -> None:
        node = self._node_for_block(index, order)
        off = (index >> node.shift) & self._mask
        n = 1 << (order - node.shift)
        slots = node.slots
        for j in range(off + n - 1, off, -1):
            slots[j] = None
        slots[off] = None
        keep = ~(((1 << n) - 1) << off)
        node.count -= n
        node.present &= keep
        node.full &= keep
        for m in range(XA_MAX_MARKS):
            node.marks[m] &= keep
        self._prune(node)

    def _prune(self, node: XANode) -> None:
        """Free ``node`` and its ancestors while empty, fix summaries, then shrink the root."""
        while node.count == 0:
            node.dead = True
            p = node.parent
            if p is None:
                self._root = None
                return
            off = node.offset
            p.slots[off] = None
            keep = ~(1 << off)
            p.count -= 1
            p.present &= keep
            p.full &= keep
            for m in range(XA_MAX_MARKS):
                p.marks[m] &= keep
            node = p
        self._fix_up(node)
        self._shrink()

    def _shrink(self) -> None:
        root = self._root
        while root is not None and root.count == 1 and type(root.slots[0]) is XANode:
            child: XANode = root.slots[0]
            child.parent = None
            self._root = child  # publish, then retire the old root
            root.dead = True
            root = child

    # ------------------------------------------------------------------
    # primitives: mutators
    # ------------------------------------------------------------------
    def _insert(self, vma: VMA) -> None:
        self._write_begin()
        try:
            for index, order in blocks_of(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT):
                self._store_block(index, order, vma)
            self._count += 1
        except BaseException:
            self._write_end()  # never leave readers waiting on a failed write
            raise

    def _remove(self, vma: VMA) -> None:
        self._write_begin()
        try:
            for index, order in blocks_of(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT):
                self._erase_block(index, order)
            self._count -= 1
        except BaseException:
            self._write_end()
            raise

    def _clear(self) -> None:
        self._write_begin()
        try:
            root, self._root = self._root, None
            stack = [root] if root is not None else []
            while stack:
                n = stack.pop()
                n.dead = True
                stack.extend(x for x in n.slots if type(x) is XANode)
            self._count = 0
        except BaseException:
            self._write_end()
            raise

    # ------------------------------------------------------------------
    # raw walks (called through _read, or by the writer itself)
    # ------------------------------------------------------------------
    def _load(self, idx: int) -> Any:
        """The slot value covering page ``idx`` (VMA, sibling or None): the radix walk."""
        node = self._root
        if node is None or idx >> node.reach:
            return None
        mask = self._mask
        x = node.slots[(idx >> node.shift) & mask]
        while type(x) is XANode:
            x = x.slots[(idx >> x.shift) & mask]
        return x

    def _bitmap(self, node: XANode, mode: int) -> int:
        if mode == _PRESENT:
            return node.present
        if mode == _FREE:
            return ~node.full & self._all
        return node.marks[mode]

    def _terminal(self, x: Any, mode: int) -> bool:
        if mode == _FREE:
            return x is None
        if mode == _PRESENT:
            return x is not None
        return type(x) is VMA

    def _scan_fwd(self, idx: int, mode: int) -> tuple[int, Any] | None:
        """First page ``>= idx`` whose slot matches ``mode`` (present / free / marked
        canonical), as ``(page, slot value)``; ``None`` if there is none (``xa_find``)."""
        node = self._root
        if node is None or idx >> node.reach:
            return (idx, None) if mode == _FREE and idx < _MAX_PAGES else None
        node, off, hit = self._descend_matching(node, idx, mode)
        if hit is not None:
            return hit
        return self._scan_fwd_from(node, off, idx, mode)

    def _descend_matching(
        self, node: XANode, idx: int, mode: int
    ) -> tuple[XANode, int, tuple[int, Any] | None]:
        """Walk down towards ``idx`` while the slots on the way match ``mode``: either the
        entry at ``idx`` matches (``hit`` = ``(idx, entry)``), or ``(node, off)`` is where the
        match bit first fails, the place a forward or backward scan continues from."""
        mask = self._mask
        while True:
            off = (idx >> node.shift) & mask
            if not (self._bitmap(node, mode) >> off) & 1:
                return node, off, None
            x = node.slots[off]
            if type(x) is XANode:
                node = x
                continue
            if not self._terminal(x, mode):
                raise _Torn
            return node, off, (idx, x)

    def _scan_fwd_from(self, node: XANode, off: int, idx: int, mode: int) -> tuple[int, Any] | None:
        """Continue a forward scan after slot ``off`` of ``node`` (which covers ``idx``)."""
        while True:
            bits = self._bitmap(node, mode) >> (off + 1)
            if bits:
                off += (bits & -bits).bit_length()
                page = ((idx >> node.reach) << node.reach) + (off << node.shift)
                x = node.slots[off]
                while type(x) is XANode:
                    node = x
                    b = self._bitmap(node, mode)
                    if not b:
                        raise _Torn
                    off = (b & -b).bit_length() - 1
                    page += off << node.shift
                    x = node.slots[off]
                if not self._terminal(x, mode):
                    raise _Torn
                return page, x
            if node.dead:
                raise _Torn
            parent = node.parent
            if parent is None:
                page = 1 << node.reach
                return (page, None) if mode == _FREE and page < _MAX_PAGES else None
            off = node.offset
            node = parent

    def _scan_bwd(self, idx: int, mode: int) -> tuple[int, Any] | None:
        """Last page ``<= idx`` whose slot matches ``mode``, as ``(page, slot value)``."""
        if idx < 0:
            return None
        node = self._root
        if node is None:
            return (idx, None) if mode == _FREE else None
        if idx >> node.reach:
            if mode == _FREE:
                return idx, None
            idx = (1 << node.reach) - 1
        node, off, hit = self._descend_matching(node, idx, mode)
        if hit is not None:
            return hit
        while True:
            bits = self._bitmap(node, mode) & ((1 << off) - 1)
            if bits:
                off = bits.bit_length() - 1
                page = ((idx >> node.reach) << node.reach) + (off << node.shift)
                x = node.slots[off]
                while type(x) is XANode:
                    node = x
                    b = self._bitmap(node, mode)
                    if not b:
                        raise _Torn
                    off = b.bit_length() - 1
                    page += off << node.shift
                    x = node.slots[off]
                if not self._terminal(x, mode):
                    raise _Torn
                return page + (1 << node.shift) - 1, x
            if node.dead:
                raise _Torn
            parent = node.parent
            if parent is None:
                return None
            off = node.offset
            node = parent

    def _find_raw(self, idx: int) -> VMA | None:
        """The VMA holding page ``idx`` or the next one after it."""
        node = self._root
        if node is None or idx >> node.reach:
            return None
        mask = self._mask
        while True:
            off = (idx >> node.shift) & mask
            x = node.slots[off]
            if type(x) is XANode:
                node = x
                continue
            if x is not None:
                return x if type(x) is VMA else x.vma
            break
        # page idx is free: the next present slot to the right, climbing while none
        # (_scan_fwd_from specialised to the present bitmap: find/span ~25% faster)
        while True:
            bits = node.present >> (off + 1)
            if bits:
                x = node.slots[off + (bits & -bits).bit_length()]
                while type(x) is XANode:
                    b = x.present
                    x = x.slots[(b & -b).bit_length() - 1]
                if x is None:
                    raise _Torn
                return x if type(x) is VMA else x.vma
            if node.dead:
                raise _Torn
            parent = node.parent
            if parent is None:
                return None
            off = node.offset
            node = parent

    def _find_prev_raw(self, addr: int) -> VMA | None:
        p = (addr >> PAGE_SHIFT) - 1
        if p < 0:
            return None
        x = self._load(p)
        if x is not None:
            v = _entry_vma(x)
            if v.end <= addr:
                return v
            p = (v.start >> PAGE_SHIFT) - 1
        r = self._scan_bwd(p, _PRESENT)
        return None if r is None else _entry_vma(r[1])

    def _collect_raw(self, start: int, end: int, limit: int) -> list[VMA]:
        out: list[VMA] = []
        v = self._find_raw(start >> PAGE_SHIFT)
        while v is not None and v.start < end and len(out) < limit:
            out.append(v)
            if v.end >= TASK_SIZE:
                break
            v = self._find_raw(v.end >> PAGE_SHIFT)
        return out

    def _gap_raw(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        n = length >> PAGE_SHIFT
        lo = low >> PAGE_SHIFT
        hi = high >> PAGE_SHIFT
        if not top_down:
            s = lo
            while True:
                r = self._scan_fwd(s, _FREE)
                if r is None or r[0] + n > hi:
                    return None
                s = r[0]
                r = self._scan_fwd(s, _PRESENT)
                e = _MAX_PAGES if r is None else r[0]
                if e - s >= n:
                    return s << PAGE_SHIFT
                s = e
        e = hi  # exclusive end of the part still to search
        while e - lo >= n:
            r = self._scan_bwd(e - 1, _FREE)
            if r is None:
                return None
            end = r[0] + 1
            if end - lo < n:
                return None
            r = self._scan_bwd(end - 1, _PRESENT)
            start = 0 if r is None else r[0] + 1
            if end - max(start, lo) >= n:
                return (end - n) << PAGE_SHIFT
            e = start
        return None

    def _marked_raw(self, start: int, end: int, mark: int) -> VMA | None:
        idx = start >> PAGE_SHIFT
        x = self._load(idx)
        if x is not None:
            v = _entry_vma(x)
            if self._mark_of(v, mark):
                return v
        r = self._scan_fwd(idx + 1, mark) if idx + 1 < _MAX_PAGES else None
        if r is None:
            return None
        v = _entry_vma(r[1])
        return v if v.start < end else None

    def _mark_of(self, vma: VMA, mark: int) -> bool:
        """Whether ``vma``'s first block carries ``mark`` (all its blocks agree)."""
        first = vma.start >> PAGE_SHIFT
        index, order = blocks_of(first, vma.end >> PAGE_SHIFT)[0]
        node = self._root
        if node is None:
            return False
        shift = (order // self._C) * self._C
        while node.shift > shift:
            nxt = node.slots[(index >> node.shift) & self._mask]
            if type(nxt) is not XANode:
                raise _Torn
            node = nxt
        return bool((node.marks[mark] >> ((index >> shift) & self._mask)) & 1)

    # ------------------------------------------------------------------
    # primitives: readers
    # ------------------------------------------------------------------
    def _lookup(self, addr: int) -> VMA | None:
        idx = addr >> PAGE_SHIFT
        mask = self._mask
        Node = XANode
        while True:
            seq = self._wseq
            node = self._root
            if node is None or idx >> node.reach:
                x = None
            else:
                x = node.slots[(idx >> node.shift) & mask]
                while type(x) is Node:
                    node = x
                    x = x.slots[(idx >> x.shift) & mask]
            if seq == self._wseq and not seq & 1:
                return x if x is None or type(x) is VMA else x.vma
            if seq & 1 and self._writer == threading.get_ident():
                return x if x is None or type(x) is VMA else x.vma
            return self._read(self._lookup_raw, idx)

    def _lookup_raw(self, idx: int) -> VMA | None:
        x = self._load(idx)
        return None if x is None else _entry_vma(x)

    def _find(self, addr: int) -> VMA | None:
        # _find_raw inlined for the common, quiescent case: the radix walk of
        # _lookup, then the present-bitmap scan on a miss (measured: -25% on hits)
        idx = addr >> PAGE_SHIFT
        seq = self._wseq
        node = self._root
        if seq & 1 or node is None or idx >> node.reach:
            return self._read(self._find_raw, idx)
        mask = self._mask
        Node = XANode
        x = node.slots[(idx >> node.shift) & mask]
        while type(x) is Node:
            node = x
            x = x.slots[(idx >> x.shift) & mask]
        if x is None:
            off = (idx >> node.shift) & mask
            while True:
                bits = node.present >> (off + 1)
                if bits:
                    x = node.slots[off + (bits & -bits).bit_length()]
                    while type(x) is Node:
                        b = x.present
                        x = x.slots[(b & -b).bit_length() - 1]
                    break
                if node.dead:
                    return self._read(self._find_raw, idx)
                parent = node.parent
                if parent is None:
                    break
                off = node.offset
                node = parent
        if seq != self._wseq:
            return self._read(self._find_raw, idx)
        return x if x is None or type(x) is VMA else x.vma

    def _find_prev(self, addr: int) -> VMA | None:
        return self._read(self._find_prev_raw, addr)

    def _intersection(self, start: int, end: int) -> VMA | None:
        v = self._find(start)
        return v if v is not None and v.start < end else None

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        return self._read(self._collect_raw, start, end, _MAX_PAGES)

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        return self._read(self._collect_raw, addr, TASK_SIZE, n)

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
        return self._read(self._gap_raw, length, low, high, top_down)

    def _len(self) -> int:
        return self._count

    # ------------------------------------------------------------------
    # marks
    # ------------------------------------------------------------------
    @staticmethod
    def _check_mark(mark: object) -> int:
        if type(mark) is not int or not 0 <= mark < XA_MAX_MARKS:
            raise ValueError(f"mark must be one of XA_MARK_0..XA_MARK_{XA_MAX_MARKS - 1}, got {mark!r}")
        return mark

    def _set_mark(self, addr: int, mark: int, on: bool) -> VMA:
        check_addr(addr)
        mark = self._check_mark(mark)
        with self._mutex:
            v = self._lookup_raw(addr >> PAGE_SHIFT)
            if v is None:
                raise NotMappedError(f"no VMA contains {addr:#x}")
            self._write_begin()
            try:
                for index, order in blocks_of(v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT):
                    node = self._node_for_block(index, order)
                    bit = 1 << ((index >> node.shift) & self._mask)
                    if on:
                        node.marks[mark] |= bit
                    else:
                        node.marks[mark] &= ~bit
                    self._fix_up(node)
            finally:
                self._write_end()
            return v

    def set_mark(self, addr: int, mark: int = XA_MARK_0) -> VMA:
        """Mark the VMA containing ``addr`` (``NotMappedError`` if none); returns it."""
        return self._set_mark(addr, mark, True)

    def clear_mark(self, addr: int, mark: int = XA_MARK_0) -> VMA:
        """Clear ``mark`` on the VMA containing ``addr``; returns it."""
        return self._set_mark(addr, mark, False)

    def get_mark(self, addr: int, mark: int = XA_MARK_0) -> bool:
        """Whether the VMA containing ``addr`` carries ``mark`` (False if unmapped)."""
        check_addr(addr)
        mark = self._check_mark(mark)

        def raw(idx: int) -> bool:
            x = self._load(idx)
            return x is not None and self._mark_of(_entry_vma(x), mark)

        return self._read(raw, addr >> PAGE_SHIFT)

    def find_marked(self, start: int = 0, end: int = TASK_SIZE, mark: int = XA_MARK_0) -> VMA | None:
        """First VMA meeting ``[start, end)`` that carries ``mark`` (``xa_find`` on a mark)."""
        check_range(start, end, aligned=False)
        mark = self._check_mark(mark)
        return self._read(self._marked_raw, start, end, mark)

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def _probe(self, addr: int) -> int:
        idx = addr >> PAGE_SHIFT

        def raw() -> int:
            node = self._root
            if node is None:
                return 0
            visited = 1
            if idx >> node.reach:
                return visited
            x = node.slots[(idx >> node.shift) & self._mask]
            while type(x) is XANode:
                visited += 1
                x = x.slots[(idx >> x.shift) & self._mask]
            return visited

        return self._read(raw)

    def _nodes(self) -> Iterator[tuple[XANode, int]]:
        """Every node with its base page index, depth first."""
        if self._root is None:
            return
        stack = [(self._root, 0)]
        while stack:
            node, base = stack.pop()
            yield node, base
            for off in range(len(node.slots) - 1, -1, -1):
                x = node.slots[off]
                if type(x) is XANode:
                    stack.append((x, base + (off << node.shift)))

    def _stats(self) -> dict[str, Any]:
        nodes = slots_used = blocks = siblings = 0
        py_bytes = 0
        sib_size = sys.getsizeof(XASibling.__new__(XASibling))
        seen_sib: set[int] = set()
        for node, _ in self._nodes():
            nodes += 1
            slots_used += node.count
            py_bytes += sys.getsizeof(node) + sys.getsizeof(node.slots) + sys.getsizeof(node.marks)
            py_bytes += sys.getsizeof(node.present) + sys.getsizeof(node.full)
            py_bytes += sum(sys.getsizeof(m) for m in node.marks)
            for x in node.slots:
                if type(x) is VMA:
                    blocks += 1
                elif type(x) is XASibling and id(x) not in seen_sib:
                    seen_sib.add(id(x))
                    siblings += 1
        py_bytes += siblings * sib_size
        root = self._root
        return {
            "height": 0 if root is None else root.shift // self._C + 1,
            "nodes": nodes,
            "slots_used": slots_used,
            "slots_total": nodes << self._C,
            "blocks": blocks,
            "blocks_per_vma": blocks / self._count if self._count else 0.0,
            "bytes": py_bytes,
            "kernel_bytes": nodes * KERNEL_XA_NODE_BYTES * (1 << self._C) // 64,
            "chunk_shift": self._C,
            "restarts": self._restarts,
            "dead_restarts": self._dead_restarts,
        }

    def _check(self) -> None:
        from structures.backends.xarray.check import check_tree  # the sub-checks live in their own module

        check_tree(self)

    def __repr__(self) -> str:
        return f"<XArrayIndex 'xarray' chunk_shift={self._C} vmas={self._count}>"
