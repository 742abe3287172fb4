"""The xarray's raw walks: radix loads and bitmap scans (``xa_load``, ``xa_find``, gaps).

Invariant
---------
Every function here is a *raw* walk over the tree below ``root``: it takes
no lock and stores nothing, each loop is bounded by the tree's height and
its slot count, so on a tree a writer is changing it returns a wrong answer,
or raises ``Torn`` (a dead node, a summary bit with no matching slot below),
or some other exception -- never loops or corrupts anything.
``structures.backends.xarray.index`` runs it under its seqcount
(``SeqCount.read``), which discards every answer a write overlapped; on a
quiescent tree the answers are exact.  Pages are page numbers
(``addr >> PAGE_SHIFT``); ranges are half-open ``[start, end)``.

A sibling slot names only its canonical offset (the shared ``SIBLINGS``):
every walk that meets one reads the canonical slot of the same node (a
second single slot load, bounded: the offset is one of that node's slots).
On a quiescent tree that slot holds the block's VMA; under a writer it may
hold anything, and the seqcount check discards the answer, as it does any
other torn read.  Relied on: single list-item loads of slots (atomic with or
without the GIL).

A scan follows one bitmap (its *mode*): ``PRESENT`` (slot non-empty),
``FREE`` (slot not wholly mapped: ``~full``) or a mark number ``>= 0`` (a
canonical entry carrying the mark, or a child with the mark below).  It
descends while the bits on the way match, then moves sideways to the next
(previous) set bit, climbing to the parent when a node has none: whole empty
or full subtrees are skipped, O(h) nodes per scan.

Layout
------
::

    scan_fwd(idx):  root ... node --(bit of idx clear)--> next set bit at off' > off
                      ^                                    |
                      +-- parent (no bit right of off) <---+ descend lowest set bits
                                                             to the leaf entry

API
---
Modes ``PRESENT``, ``FREE``; ``load(root, page, mask)``, ``scan_fwd(root, page,
mode, mask)``, ``scan_fwd_from(node, off, page, mode, mask)``,
``scan_bwd(root, page, mode, mask)``, ``find_entry(root, page, mask)``,
``find_prev_entry(root, addr, mask)``, ``collect(root, start, end, limit,
mask)``, ``collect_all(root, mask)``, ``gap_search(root, length, low, high, top_down, mask)``,
``mark_of(root, vma, mark, mask)``, ``marked(root, start, end, mark, mask)``.
``mask`` is ``2**C - 1`` for chunk shift ``C``.
"""

from __future__ import annotations

from typing import Any

from structures.backends.xarray.node import MAX_PAGES, XANode, XASibling, blocks_of
from structures.lib.seqcount import Torn
from structures.vma import PAGE_SHIFT, VMA

__all__ = [
    "FREE",
    "PRESENT",
    "collect",
    "collect_all",
    "find_entry",
    "find_prev_entry",
    "gap_search",
    "load",
    "mark_of",
    "marked",
    "scan_bwd",
    "scan_fwd",
    "scan_fwd_from",
]

# scan modes: which bitmap a walk follows (modes >= 0 are mark numbers)
PRESENT = -2
FREE = -1


def _bitmap(node: XANode, mode: int, all_slots: int) -> int:
    if mode == PRESENT:
        return node.present
    if mode == FREE:
        return ~node.full & all_slots
    return node.marks[mode]


def _terminal(x: Any, mode: int) -> bool:
    """Whether leaf entry ``x`` matches ``mode`` (a match bit that leads elsewhere is torn)."""
    if mode == FREE:
        return x is None
    if mode == PRESENT:
        return x is not None
    return type(x) is VMA


def load(root: XANode | None, page: int, mask: int) -> Any:
    """The entry covering ``page`` (its VMA, or None): the radix walk, a sibling read
    through to its canonical slot in the same node (a second slot load: on a tree a
    writer is changing it may be anything, which the seqcount check discards)."""
    node = root
    if node is None or page >> node.reach:
        return None
    slots = node.slots
    x = slots[(page >> node.shift) & mask]
    while type(x) is XANode:
        slots = x.slots
        x = slots[(page >> x.shift) & mask]
    return slots[x.offset] if type(x) is XASibling else x


def _descend_matching(
    node: XANode, page: int, mode: int, mask: int, all_slots: int
) -> tuple[XANode, int, tuple[int, Any] | None]:
    """Walk down towards ``page`` while the slots on the way match ``mode``: either the
    entry at ``page`` matches (``hit`` = ``(page, entry)``), or ``(node, off)`` is where
    the match bit first fails, the place a forward or backward scan continues from."""
    while True:
        off = (page >> node.shift) & mask
        if not (_bitmap(node, mode, all_slots) >> off) & 1:
            return node, off, None
        x = node.slots[off]
        if type(x) is XANode:
            node = x
            continue
        if not _terminal(x, mode):
            raise Torn
        return node, off, (page, node.slots[x.offset] if type(x) is XASibling else x)


def scan_fwd(root: XANode | None, page: int, mode: int, mask: int) -> tuple[int, Any] | None:
    """First page ``>= page`` whose slot matches ``mode`` (present / free / marked
    canonical), as ``(page, entry)`` (a sibling read through to its canonical slot: the
    VMA, or None for ``FREE``); ``None`` if there is none (``xa_find``)."""
    node = root
    if node is None or page >> node.reach:
        return (page, None) if mode == FREE and page < MAX_PAGES else None
    all_slots = (2 << mask) - 1  # once per scan, passed down: -1.5 % instructions per find_gap
    node, off, hit = _descend_matching(node, page, mode, mask, all_slots)
    if hit is not None:
        return hit
    return _scan_fwd_from(node, off, page, mode, all_slots)


def scan_fwd_from(node: XANode, off: int, page: int, mode: int, mask: int) -> tuple[int, Any] | None:
    """Continue a forward scan after slot ``off`` of ``node`` (which covers ``page``)."""
    return _scan_fwd_from(node, off, page, mode, (2 << mask) - 1)


def _scan_fwd_from(node: XANode, off: int, page: int, mode: int, all_slots: int) -> tuple[int, Any] | None:
    while True:
        bits = _bitmap(node, mode, all_slots) >> (off + 1)
        if bits:
            off += (bits & -bits).bit_length()
            found = ((page >> node.reach) << node.reach) + (off << node.shift)
            x = node.slots[off]
            while type(x) is XANode:
                node = x
                child_bits = _bitmap(node, mode, all_slots)
                if not child_bits:
                    raise Torn
                off = (child_bits & -child_bits).bit_length() - 1
                found += off << node.shift
                x = node.slots[off]
            if not _terminal(x, mode):
                raise Torn
            return found, node.slots[x.offset] if type(x) is XASibling else x
        if node.dead:
            raise Torn
        parent = node.parent
        if parent is None:
            found = 1 << node.reach
            return (found, None) if mode == FREE and found < MAX_PAGES else None
        off = node.offset
        node = parent


def scan_bwd(root: XANode | None, page: int, mode: int, mask: int) -> tuple[int, Any] | None:
    """Last page ``<= page`` whose slot matches ``mode``, as ``(page, entry)`` (as ``scan_fwd``)."""
    if page < 0:
        return None
    node = root
    if node is None:
        return (page, None) if mode == FREE else None
    if page >> node.reach:
        if mode == FREE:
            return page, None
        page = (1 << node.reach) - 1
    all_slots = (2 << mask) - 1
    node, off, hit = _descend_matching(node, page, mode, mask, all_slots)
    if hit is not None:
        return hit
    while True:
        bits = _bitmap(node, mode, all_slots) & ((1 << off) - 1)
        if bits:
            off = bits.bit_length() - 1
            found = ((page >> node.reach) << node.reach) + (off << node.shift)
            x = node.slots[off]
            while type(x) is XANode:
                node = x
                child_bits = _bitmap(node, mode, all_slots)
                if not child_bits:
                    raise Torn
                off = child_bits.bit_length() - 1
                found += off << node.shift
                x = node.slots[off]
            if not _terminal(x, mode):
                raise Torn
            return found + (1 << node.shift) - 1, node.slots[x.offset] if type(x) is XASibling else x
        if node.dead:
            raise Torn
        parent = node.parent
        if parent is None:
            return None
        off = node.offset
        node = parent


def find_entry(root: XANode | None, page: int, mask: int) -> VMA | None:
    """The VMA holding ``page`` or the next one after it (``find_vma``)."""
    node = root
    if node is None or page >> node.reach:
        return None
    while True:
        off = (page >> node.shift) & mask
        x = node.slots[off]
        if type(x) is XANode:
            node = x
            continue
        if x is not None:
            return x if type(x) is VMA else node.slots[x.offset]  # type: ignore[no-any-return]
        break
    # page is free: the next present slot to the right, climbing while none
    # (scan_fwd_from specialised to the present bitmap: find/span ~25% faster)
    while True:
        bits = node.present >> (off + 1)
        if bits:
            x = node.slots[off + (bits & -bits).bit_length()]
            while type(x) is XANode:
                present = x.present
                x = x.slots[(present & -present).bit_length() - 1]
            if type(x) is not VMA:  # a block's first slot is canonical: a sibling here is torn
                raise Torn
            return x
        if node.dead:
            raise Torn
        parent = node.parent
        if parent is None:
            return None
        off = node.offset
        node = parent


def find_prev_entry(root: XANode | None, addr: int, mask: int) -> VMA | None:
    """The last VMA with ``end <= addr`` (``find_vma_prev``'s ``pprev``)."""
    page = (addr >> PAGE_SHIFT) - 1
    if page < 0:
        return None
    v = load(root, page, mask)
    if v is not None:
        if v.end <= addr:
            return v  # type: ignore[no-any-return]
        page = (v.start >> PAGE_SHIFT) - 1
    hit = scan_bwd(root, page, PRESENT, mask)
    return None if hit is None else hit[1]  # type: ignore[no-any-return]


def collect(root: XANode | None, start: int, end: int, limit: int, mask: int) -> list[VMA]:
    """Up to ``limit`` VMAs meeting ``[start, end)``, in address order.  Each next VMA's
    walk starts from the node where the last one's ended (climbing only while the page
    lies outside it): the next VMA mostly starts at the last one's end, in the same leaf,
    one slot load away; a free page falls back to ``find_entry`` from the root.  Measured
    against ``find_entry`` from the root per VMA: ``list(idx)`` of 10k VMAs of
    ``synthetic_layout`` 8.1 -> 5.9 ms (min of 7), 84.8M -> 46.0M instructions (callgrind).
    A VMA that does not end past the page it was found at is torn (``Torn``): the walk
    always moves forward.  Inside a leaf the next VMAs are read at their offsets from
    the leaf's first page (no climb test, no radix step) while the slot holds a VMA:
    ``list(idx)`` 46.1M -> 42.5M instructions (callgrind, GC off, 10k VMAs; bulk_load
    of it 170.1M -> 166.2M, ascending re-insert 432.9M -> 428.4M)."""
    out: list[VMA] = []
    node = root
    page = start >> PAGE_SHIFT
    if node is None or page >> node.reach:
        return out
    last = page  # a page inside node's span
    while True:
        while (page ^ last) >> node.reach:  # climb to the node holding page too
            parent = node.parent
            if parent is None:
                return out  # past the root's span: nothing more
            node = parent
        x = node.slots[(page >> node.shift) & mask]
        while type(x) is XANode:
            node = x
            x = x.slots[(page >> x.shift) & mask]
        v: VMA | None
        if type(x) is VMA:
            v = x
        elif x is None:
            v = find_entry(root, page, mask)  # a free page: the next present one
            if v is None:
                return out
        else:  # a sibling: the first VMA, begun below start
            v = node.slots[x.offset]
            assert v is not None  # (None only on a torn tree: raises, the walk is retried)
        if v.start >= end:
            return out
        out.append(v)
        last = page
        page = v.end >> PAGE_SHIFT
        if page <= last:
            raise Torn
        if len(out) >= limit or page >= MAX_PAGES:
            return out
        if not node.shift and not (page ^ last) >> node.reach:
            # the next VMAs inside this leaf: each one slot load at its offset from the
            # leaf's first page, while that slot holds a VMA (a block of order < C
            # starting there: its canonical slot); a free slot, a sibling (torn) or an
            # end past the leaf goes back to the general step above
            slots = node.slots
            base = (last >> node.reach) << node.reach  # the leaf's first page
            off = page - base
            while True:
                x = slots[off]
                if type(x) is not VMA:
                    break
                out.append(x)
                nxt = (x.end >> PAGE_SHIFT) - base
                if nxt <= off:
                    raise Torn
                off = nxt
                if off > mask:
                    break
            # the leaf's VMAs taken whole, then the ones past end or limit dropped (at
            # most a leaf's worth read for nothing): the loop above tests neither.
            # Against both tests per VMA: to_list() 39.8M -> 37.5M, list(idx) 42.5M ->
            # 41.2M instructions per 10k VMAs (callgrind, GC off)
            if out[-1].start >= end:
                while out[-1].start >= end:
                    out.pop()
                return out[:limit]
            if len(out) >= limit:
                del out[limit:]
                return out
            last = page
            page = base + off
            if page >= MAX_PAGES:
                return out


def collect_all(root: XANode | None, mask: int) -> list[VMA]:
    """Every VMA below ``root``, in address order (``to_list``'s walk): depth first, the
    ancestors on a stack, ``page`` the first page not yet read.  In a node, the slot
    holding ``page`` is read: a VMA is taken and ``page`` moves to its end (which skips
    its other blocks: the next slot read is the one holding that end, at this level or,
    for a block of the level below, in the child made for it); a child node is entered
    at the slot holding ``page``; a free slot moves ``page`` to the next present slot
    (the ``present`` bitmap), or past the node when none is left; past its last slot
    the walk goes back up.  Every step moves ``page`` or the slot forward, and a step
    that would not raises ``Torn``, so a torn tree ends the walk too.  Against
    ``collect`` over the whole space (a climb and a descent from the node at hand for
    each VMA that leaves a leaf): ``to_list()`` of 10k VMAs of ``synthetic_layout``
    3.74 -> 2.96 ms (min of 15, GC off)."""
    out: list[VMA] = []
    if root is None:
        return out
    append = out.append
    stack: list[tuple[XANode, int, int]] = []  # (node, its first page, the slot taken there)
    node = root
    base = 0  # node's first page
    shift = node.shift
    slots = node.slots
    page = 0
    off = 0
    while True:
        if off > mask:  # past the node's last slot: back up, to the slot holding page
            if not stack:
                return out
            node, base, taken = stack.pop()
            shift = node.shift
            slots = node.slots
            off = (page - base) >> shift
            if off <= taken:
                raise Torn
            continue
        x = slots[off]
        if type(x) is VMA:
            append(x)
            end = x.end >> PAGE_SHIFT
            if end <= page:
                raise Torn
            page = end
            off = (page - base) >> shift
        elif type(x) is XANode:
            if x.shift >= shift:
                raise Torn
            stack.append((node, base, off))
            base += off << shift
            node = x
            shift = x.shift
            slots = x.slots
            off = (page - base) >> shift  # page >= base: it is inside the slot just taken
            if off < 0:
                raise Torn
        elif x is None:
            bits = node.present >> (off + 1)
            off = off + (bits & -bits).bit_length() if bits else mask + 1
            page = base + (off << shift)
        else:  # a sibling where a block must start (the free slot's next one, or an end)
            raise Torn


def gap_search(root: XANode | None, length: int, low: int, high: int, top_down: bool, mask: int) -> int | None:
    """Lowest (highest) address ``s`` with ``[s, s + length)`` free inside ``[low, high)``:
    alternating "next free page" (``FREE``) and "next mapped page" (``PRESENT``) scans."""
    pages = length >> PAGE_SHIFT
    low_page = low >> PAGE_SHIFT
    high_page = high >> PAGE_SHIFT  # the window is pages [low_page, high_page)
    if not top_down:
        start = low_page
        while True:
            hit = scan_fwd(root, start, FREE, mask)
            if hit is None or hit[0] + pages > high_page:
                return None
            start = hit[0]  # first free page of a run
            hit = scan_fwd(root, start, PRESENT, mask)
            end = MAX_PAGES if hit is None else hit[0]  # the run is [start, end)
            if end - start >= pages:
                return start << PAGE_SHIFT
            start = end
    end = high_page  # exclusive end of the part still to search
    while end - low_page >= pages:
        hit = scan_bwd(root, end - 1, FREE, mask)
        if hit is None:
            return None
        run_end = hit[0] + 1  # the free run ends at page run_end (exclusive)
        if run_end - low_page < pages:
            return None
        hit = scan_bwd(root, run_end - 1, PRESENT, mask)
        run_start = 0 if hit is None else hit[0] + 1
        if run_end - max(run_start, low_page) >= pages:
            return (run_end - pages) << PAGE_SHIFT
        end = run_start
    return None


def mark_of(root: XANode | None, vma: VMA, mark: int, mask: int) -> bool:
    """Whether ``vma``'s first block carries ``mark`` (all its blocks agree)."""
    index, order = blocks_of(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)[0]
    node = root
    if node is None:
        return False
    chunk_shift = mask.bit_length()
    shift = (order // chunk_shift) * chunk_shift
    while node.shift > shift:
        child = node.slots[(index >> node.shift) & mask]
        if type(child) is not XANode:
            raise Torn
        node = child
    return bool((node.marks[mark] >> ((index >> shift) & mask)) & 1)


def marked(root: XANode | None, start: int, end: int, mark: int, mask: int) -> VMA | None:
    """The first VMA meeting ``[start, end)`` that carries ``mark``."""
    page = start >> PAGE_SHIFT
    v = load(root, page, mask)
    if v is not None and mark_of(root, v, mark, mask):
        return v  # type: ignore[no-any-return]
    hit = scan_fwd(root, page + 1, mark, mask) if page + 1 < MAX_PAGES else None
    if hit is None:
        return None
    v = hit[1]
    return v if v.start < end else None  # type: ignore[no-any-return]
