"""``AddressSpace``: mmap / munmap / mprotect / brk / page faults over any ``VMAIndex``.

Invariant
---------
The index holds the mappings in *canonical* form, as Linux keeps them: no two
VMAs that touch (``a.end == b.start``) could be merged — equal ``prot``,
``flags`` and ``name`` and contiguous ``pgoff`` (``a.pgoff + a.pages ==
b.pgoff``).  Every operation rewrites one *window* of the index atomically with
``index.replace(old, new)`` (all-or-nothing), so a failed call changes
nothing and a concurrent reader sees either the old or the new window.
Populated pages (the page table: page number -> 1) all lie inside mapped VMAs
whenever no munmap holds its lock (with ``munmap_downgrade``, the pages of VMAs
just unmapped stay until the zap under the downgraded read lock ends; ``check()``
takes the write lock, so it never sees them, and no mapping can reach their
range before they are gone); the heap (``"[heap]"`` VMAs) lies inside
``[start_brk, PAGE_ALIGN(brk))``.

Which ranges an operation locks is the business of the lock *policy*
(``structures.mm.policy``: ``full``, ``range``, ``vma``); this module is the
semantics, run with the policy's locks held.

Layout
------
::

    AddressSpace
      index       VMAIndex      the VMAs (any backend)   index.lock = mmap lock
      policy      LockPolicy    full | range | vma: what each operation locks
      _pages      dict          page table: populated page numbers
      _brk        int           current break; _brk_mutex serializes brk()

    an operation = window rewrite:
        window = VMAs meeting [s-1, e+1)     (the range plus touching neighbours)
        pieces = window split at s and e; the middle pieces dropped (munmap,
                 MAP_FIXED) or changed (mprotect); the new VMA added (mmap, brk)
        new    = pieces with touching compatible neighbours merged
        index.replace(window - new, new - window)      one atomic step

          [  A  |  B  ]      mprotect the middle of B      [ A |B1|B2|B3]
                                                   ->      then merge B1 into A
                                                           when attributes agree

API
---
``AddressSpace(index=None, policy="range", page_work=0, *, lock=None,
zap_work=None, mmap_base=..., mmap_min_addr=..., start_brk=...)`` (``page_work``:
GIL-free page hashes per write fault, the page's clearing; ``zap_work``: those per
populated page a munmap drops, the page's freeing, ``page_work`` when ``None`` —
this machine's kernel frees a page for 0.11-0.12 of what faulting it costs,
``tools/pagecost.c``, so ``zap_work = page_work // 8`` is the kernel's proportion;
``munmap_downgrade``: munmap and a shrinking brk zap with the policy's write lock
downgraded to read once the VMAs are out of the index, as Linux has since 4.20
(``__vm_munmap(..., downgrade=true)``), so faults elsewhere run beside the zap;
off by default, the model so far, where the zap holds the write lock;
``policy`` a name from
``policy.POLICIES`` or a ``LockPolicy`` subclass; ``lock`` a lock kind of
``structures.locks.LOCK_KINDS`` — ``"rwsem"``, ``"range"``, ``"range-list"`` —
the index is built with when ``index`` is a name or ``None``; with a ready-made
index, ``lock`` may only name the kind it already carries, or be that very
lock object: an index's lock is the mmap lock of every user of the index, so
an address space never swaps it, ``ValueError``): ``mmap``, ``munmap``, ``mprotect``,
``brk``, ``sbrk``, ``fault``, ``fork``, ``vmas``, ``rss``, ``stats``, ``check``;
``index``, ``policy``.  ``fork()`` is ``dup_mmap``: with the parent's break
mutex held and every fault and mutation kept out by the policy's
``exclusive`` (the mmap lock for write, as the kernel's
``mmap_write_lock(oldmm)``; under ``vma`` every VMA write-marked as well, as
Linux 6.4 made ``dup_mmap`` do, since its faults bypass the mmap lock), the child gets
``index.dup()`` (each backend's own copy: maple node by node, rbtree its
shape, xarray its nodes, list a slice), a copy of the page table and the
break, the same mmap layout, page work, zap work and munmap downgrade, and a fresh lock policy of the
same kind over its own fresh lock; nothing is shared after.  The policies
reach back only through ``policy.FaultHandler``:
``fault_locked(addr, write)`` and ``fault_in(vma, addr, write)``.  Helpers ``can_merge``, ``merge_run``, ``page_work``;
error ``AddressSpaceFull``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from structures.base import VMAIndex
from structures.locks import LOCK_KINDS
from structures.mm.policy import Downgraded, LockPolicy, Retry, make_policy
from structures.registry import make_index
from structures.vma import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    VMA,
    InvalidRangeError,
    InvariantError,
    NotMappedError,
    OverlapError,
    SegmentationFault,
    VMAError,
    is_int,
    validate_addr,
)

__all__ = [
    "AddressSpace",
    "AddressSpaceFull",
    "can_merge",
    "merge_run",
    "page_work",
    "DEFAULT_MMAP_BASE",
    "DEFAULT_START_BRK",
    "MMAP_MIN_ADDR",
    "ZAP_SCAN_LIMIT",
]

#: top of the mmap area (x86-64 puts it below the stack gap); top-down placement starts here
DEFAULT_MMAP_BASE = 0x7F00_0000_0000
#: lowest address mmap hands out (``vm.mmap_min_addr``)
MMAP_MIN_ADDR = 0x10000
#: where the heap starts (just above a PIE executable's data)
DEFAULT_START_BRK = 0x5555_5600_0000

_CALL_ONLY_FLAGS = MAP_FIXED | MAP_FIXED_NOREPLACE  # modify the call, never stored on the VMA
_HEAP_NAME = "[heap]"
#: pages: above this, zap by scanning the page table instead of the range
ZAP_SCAN_LIMIT = 1024

_WORK_CHUNK = 64  # pages hashed per call: one GIL release per chunk, not per page
# Each thread hashes zero-filled ``bytes`` of its own, one object per chunk size.
# Not a shared ``memoryview``: CPython documents memoryview as unsafe to share
# across threads, and without the GIL slicing one from several threads raised
# "operation forbidden on released memoryview object".  Thread-local objects
# also keep free-threaded CPython from contending on one shared refcount.
_zero_chunks = threading.local()


class AddressSpaceFull(VMAError, MemoryError):
    """No free range of the requested length (``ENOMEM`` from mmap)."""


def page_work(units: int) -> None:
    """Hash ``units`` pages of data; hashlib releases the GIL for buffers over 2047 bytes.

    The pages are hashed in chunks of up to 64 in one call so that a thread
    gives up the GIL once per chunk rather than once per page (4 faulters + 1
    mapper, page_work=8, full policy, 2 cores: 68.5 us -> 59.3 us per fault).
    """
    try:
        chunks: dict[int, bytes] = _zero_chunks.by_pages
    except AttributeError:
        chunks = _zero_chunks.by_pages = {}
    while units > 0:
        n = min(units, _WORK_CHUNK)
        data = chunks.get(n)
        if data is None:
            data = chunks[n] = bytes(n * PAGE_SIZE)
        hashlib.sha256(data)
        units -= n


def _align_up(x: int) -> int:
    return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def can_merge(a: VMA, b: VMA) -> bool:
    """True when ``a`` ends where ``b`` starts and the two could be one VMA (``vma_merge``)."""
    return (
        a.end == b.start
        and a.prot == b.prot
        and a.flags == b.flags
        and a.name == b.name
        and a.pgoff + ((a.end - a.start) >> PAGE_SHIFT) == b.pgoff
    )


def merge_run(vmas: Iterable[VMA]) -> list[VMA]:
    """Sort by start and merge every touching compatible pair."""
    out: list[VMA] = []
    for v in sorted(vmas, key=lambda x: x.start):
        if out and can_merge(out[-1], v):
            out[-1] = out[-1].evolve(end=v.end)
        else:
            out.append(v)
    return out


def _length(length: object) -> int:
    if not is_int(length):
        raise InvalidRangeError(f"length must be an int, got {type(length).__name__} {length!r}")
    n: int = length  # type: ignore[assignment]
    if n <= 0:
        raise InvalidRangeError(f"length={n:#x} must be positive")
    n = _align_up(n)
    if n > TASK_SIZE:
        raise InvalidRangeError(f"length={n:#x} is larger than TASK_SIZE={TASK_SIZE:#x}")
    return n


def _aligned_range(addr: object, length: object) -> tuple[int, int]:
    a = validate_addr(addr)
    if a % PAGE_SIZE:
        raise InvalidRangeError(f"addr={a:#x} is not page aligned")
    n = _length(length)
    if a + n > TASK_SIZE:
        raise InvalidRangeError(f"[{a:#x}, {a + n:#x}) runs past TASK_SIZE={TASK_SIZE:#x}")
    return a, a + n


def _prot(prot: object) -> int:
    if not is_int(prot) or not 0 <= prot <= (PROT_READ | PROT_WRITE | PROT_EXEC):  # type: ignore[operator]
        raise InvalidRangeError(f"prot must be a combination of PROT_* bits, got {prot!r}")
    return prot  # type: ignore[return-value]


class AddressSpace:
    """A process address space with Linux split/merge semantics and a pluggable lock policy."""

    def __init__(
        self,
        index: str | VMAIndex | None = None,
        policy: str | type[LockPolicy] = "range",
        page_work: int = 0,
        *,
        lock: object = None,
        zap_work: int | None = None,
        munmap_downgrade: bool = False,
        mmap_base: int = DEFAULT_MMAP_BASE,
        mmap_min_addr: int = MMAP_MIN_ADDR,
        start_brk: int = DEFAULT_START_BRK,
    ) -> None:
        if index is None or isinstance(index, str):
            index = make_index(index) if lock is None else make_index(index, lock=lock)
        if not isinstance(index, VMAIndex):
            raise TypeError(f"index must be a backend name or a VMAIndex, got {type(index).__name__}")
        if lock is not None:
            _check_carried_lock(index, lock)
        if not is_int(page_work) or page_work < 0:
            raise InvalidRangeError(f"page_work must be a non-negative int, got {page_work!r}")
        if zap_work is not None and (not is_int(zap_work) or zap_work < 0):
            raise InvalidRangeError(f"zap_work must be a non-negative int or None, got {zap_work!r}")
        for field, v in (("mmap_base", mmap_base), ("mmap_min_addr", mmap_min_addr), ("start_brk", start_brk)):
            if not is_int(v) or v % PAGE_SIZE or not 0 <= v <= TASK_SIZE:
                raise InvalidRangeError(f"{field}={v!r} must be a page-aligned address")
        if mmap_min_addr >= mmap_base:
            raise InvalidRangeError(f"mmap_min_addr={mmap_min_addr:#x} must be below mmap_base={mmap_base:#x}")
        self.index: VMAIndex = index
        self.page_work = page_work
        #: page hashes per populated page a zap drops (``_zap``); page_work unless given
        self.zap_work: int = page_work if zap_work is None else zap_work
        self.mmap_base = mmap_base
        self.mmap_min_addr = mmap_min_addr
        self.start_brk = start_brk
        self._brk = start_brk
        self._brk_mutex = threading.Lock()
        self._pages: dict[int, int] = {}
        self.policy = make_policy(policy, self)
        if munmap_downgrade and not self.policy.downgrades:
            raise ValueError(f"munmap_downgrade: policy {self.policy.name or type(self.policy).__name__!r} "
                             "cannot run a zap under its lock downgraded (LockPolicy.downgrades is false)")
        #: munmap / brk shrink zap under the policy's lock downgraded to read (Linux >= 4.20)
        self.munmap_downgrade = bool(munmap_downgrade)

    # ------------------------------------------------------------------
    # public operations
    # ------------------------------------------------------------------
    def mmap(
        self,
        length: int,
        *,
        addr: int | None = None,
        prot: int = PROT_READ | PROT_WRITE,
        flags: int = MAP_PRIVATE | MAP_ANONYMOUS,
        name: str = "",
        pgoff: int = 0,
    ) -> int:
        """Map ``length`` bytes (rounded up to pages); return the start address.

        ``addr`` is a hint unless ``flags`` has ``MAP_FIXED`` (replace whatever
        is there) or ``MAP_FIXED_NOREPLACE`` (``OverlapError`` if anything is).
        Without a usable hint the range is placed top-down below ``mmap_base``.
        Anonymous mappings take ``pgoff = start >> PAGE_SHIFT``.
        """
        n = _length(length)
        prot = _prot(prot)
        if not is_int(flags) or flags < 0:
            raise InvalidRangeError(f"flags must be a non-negative int, got {flags!r}")
        if bool(flags & MAP_SHARED) == bool(flags & MAP_PRIVATE):
            raise InvalidRangeError(f"flags={flags:#x} must have exactly one of MAP_SHARED, MAP_PRIVATE")
        if not isinstance(name, str):
            raise InvalidRangeError(f"name must be a str, got {type(name).__name__} {name!r}")
        if not is_int(pgoff) or pgoff < 0:
            raise InvalidRangeError(f"pgoff must be a non-negative int, got {pgoff!r}")
        fixed = flags & _CALL_ONLY_FLAGS
        anon = bool(flags & MAP_ANONYMOUS)
        vflags = flags & ~_CALL_ONLY_FLAGS
        if fixed:
            if addr is None:
                raise InvalidRangeError("MAP_FIXED / MAP_FIXED_NOREPLACE need addr")
            s, e = _aligned_range(addr, n)
            if s < self.mmap_min_addr:
                raise InvalidRangeError(f"addr={s:#x} is below mmap_min_addr={self.mmap_min_addr:#x}")
        elif addr is not None:
            validate_addr(addr)

        def make(start: int) -> VMA:
            off = start >> PAGE_SHIFT if anon else pgoff
            return VMA(start, start + n, prot, vflags, name, off)

        if fixed:
            new = make(s)
            noreplace = bool(flags & MAP_FIXED_NOREPLACE)

            def apply_fixed(_: object) -> int:
                if noreplace:
                    hit = self.index.intersection(s, e)
                    if hit is not None:
                        raise OverlapError(f"MAP_FIXED_NOREPLACE: {new!r} overlaps {hit!r}", existing=hit)
                self._rewrite(s, e, drop=True, add=new)
                return s

            r: int = self.policy.mutate(lambda: (*_window(s, e), None), apply_fixed)
        else:

            def query() -> tuple[int, int, int]:
                start = self._place(n, addr)
                return (*_window(start, start + n), start)

            def apply_placed(start: int) -> int:
                if self.index.intersection(start, start + n) is not None:
                    raise Retry  # someone took the gap between our lookup and our lock
                self._rewrite(start, start + n, drop=False, add=make(start))
                return start

            r = self.policy.mutate(query, apply_placed)
        self.policy.count("mmaps")
        return r

    def munmap(self, addr: int, length: int) -> None:
        """Unmap ``[addr, addr+length)``: split partially covered VMAs; unmapping nothing is fine."""
        s, e = _aligned_range(addr, length)
        down = self.munmap_downgrade
        self.policy.mutate(lambda: (s, e, None), lambda _: self._rewrite(s, e, drop=True, add=None, defer_zap=down))
        self.policy.count("munmaps")

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """Change the protection of ``[addr, addr+length)``: split, then merge neighbours.

        ``NotMappedError`` (Linux: ``ENOMEM``) if any page of the range is
        unmapped; nothing changes then.
        """
        s, e = _aligned_range(addr, length)
        prot = _prot(prot)

        def apply(_: object) -> None:
            covered = self.index.overlapping(s, e)
            pos = s
            for v in covered:
                if v.start > pos:
                    break
                pos = v.end
            if pos < e:
                raise NotMappedError(f"mprotect [{s:#x}, {e:#x}): {pos:#x} is not mapped")
            self._rewrite(s, e, drop=False, add=None, prot=prot)

        self.policy.mutate(lambda: (*_window(s, e), None), apply)
        self.policy.count("mprotects")

    def brk(self, new_end: int | None = None) -> int:
        """Move the program break to ``new_end`` (``None``: just report it); returns the break.

        Growing maps ``[PAGE_ALIGN(brk), PAGE_ALIGN(new_end))`` as ``"[heap]"``
        (merged into the heap VMA); ``OverlapError`` if a mapping is in the
        way.  Shrinking unmaps the tail.  ``new_end`` below ``start_brk`` is an
        ``InvalidRangeError``.
        """
        if new_end is None:
            return self._brk
        self._validate_break(new_end)
        with self._brk_mutex:
            return self._move_break(new_end)

    def sbrk(self, increment: int) -> int:
        """Move the break by ``increment`` bytes (may be negative); returns the *old* break.

        Read-and-move is one step under the break's mutex, as the kernel's
        ``brk`` is under the mmap lock: threads calling ``sbrk(+P)`` then
        ``sbrk(-P)`` always leave the break where it was, which ``brk(brk() + P)``
        (a read, then a move) does not guarantee when threads race."""
        if not is_int(increment):
            raise InvalidRangeError(f"sbrk({increment!r}) needs an int increment")
        with self._brk_mutex:
            old = self._brk
            self._validate_break(old + increment)
            self._move_break(old + increment)
            return old

    def _validate_break(self, new_end: object) -> None:
        if not is_int(new_end) or not self.start_brk <= new_end <= TASK_SIZE:  # type: ignore[operator]
            raise InvalidRangeError(f"brk({new_end!r}) must be an int in [start_brk={self.start_brk:#x}, TASK_SIZE]")

    def _move_break(self, new_end: int) -> int:
        """The body of ``brk``; the caller holds ``_brk_mutex``."""
        old_top, new_top = _align_up(self._brk), _align_up(new_end)
        if new_top > old_top:
            heap = VMA(old_top, new_top, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, _HEAP_NAME,
                       old_top >> PAGE_SHIFT)

            def grow(_: object) -> None:
                hit = self.index.intersection(old_top, new_top)
                if hit is not None:
                    raise OverlapError(f"brk: {heap!r} would overlap {hit!r}", existing=hit)
                self._rewrite(old_top, new_top, drop=False, add=heap)

            self.policy.mutate(lambda: (*_window(old_top, new_top), None), grow)
        elif new_top < old_top:
            self.policy.mutate(
                lambda: (new_top, old_top, None),
                lambda _: self._rewrite(new_top, old_top, drop=True, add=None, defer_zap=self.munmap_downgrade),
            )
        self._brk = new_end
        self.policy.count("brks")
        return new_end

    def fork(self) -> AddressSpace:
        """``fork()``: a child address space equal to this one and independent of it (see
        the module docstring); this one is unchanged."""

        def copy() -> AddressSpace:
            child = AddressSpace(
                self.index.dup(),
                type(self.policy),
                self.page_work,
                zap_work=self.zap_work,
                munmap_downgrade=self.munmap_downgrade,
                mmap_base=self.mmap_base,
                mmap_min_addr=self.mmap_min_addr,
                start_brk=self.start_brk,
            )
            child._brk = self._brk
            child._pages = dict(self._pages)  # copy_page_range: one dict copy (atomic)
            return child

        with self._brk_mutex:  # then the policy's locks, the order brk() takes them in too
            child = self.policy.exclusive(copy)
        self.policy.count("forks")
        return child

    def fault(self, addr: int, write: bool = False) -> VMA:
        """A page fault at ``addr``: the VMA, or ``SegmentationFault`` (unmapped / bad permission)."""
        if type(addr) is not int or addr < 0 or addr >= TASK_SIZE:
            validate_addr(addr)
        return self.policy.fault(addr, bool(write))

    # ------------------------------------------------------------------
    # the semantics, run by the policy with the right locks held
    # ------------------------------------------------------------------
    def _place(self, n: int, hint: int | None) -> int:
        """Choose where a non-fixed mapping goes (``get_unmapped_area``); no locks needed."""
        idx = self.index
        if hint is not None:
            h = _align_up(hint)
            if h >= self.mmap_min_addr and h + n <= TASK_SIZE and idx.intersection(h, h + n) is None:
                return h
        s = idx.find_gap(n, self.mmap_min_addr, self.mmap_base, top_down=True)
        if s is None:
            s = idx.find_gap(n, self.mmap_min_addr, TASK_SIZE)
        if s is None:
            raise AddressSpaceFull(f"no free range of {n:#x} bytes")
        return s

    def _rewrite(
        self, s: int, e: int, *, drop: bool, add: VMA | None, prot: int | None = None, defer_zap: bool = False
    ) -> Downgraded | None:
        """Rewrite the window around ``[s, e)`` in one ``replace`` (see the module docstring).

        With ``defer_zap`` the zap is not done here but returned, for the policy to run
        with its lock downgraded to read (``Downgraded``; munmap and brk's shrink only:
        Linux's mmap over a mapping zaps under the write lock)."""
        lo, hi = _window(s, e) if (add is not None or prot is not None) else (s, e)
        window = self.index.overlapping(lo, hi)
        pieces: list[VMA] = []
        for v in window:
            if v.end <= s or v.start >= e:  # a touching neighbour
                pieces.append(v)
                continue
            if v.start < s:
                pieces.append(v.with_range(v.start, s))
            if v.end > e:
                pieces.append(v.with_range(e, v.end))
            if prot is not None:
                mid = v.with_range(max(v.start, s), min(v.end, e))
                pieces.append(mid.evolve(prot=prot))
        if add is not None:
            pieces.append(add)
        new = merge_run(pieces)
        keep = set(window) & set(new)
        old = [v for v in window if v not in keep]
        new = [v for v in new if v not in keep]
        if old or new:
            self.policy.commit(old, new)
        if drop and window:
            if defer_zap:
                return Downgraded(lambda: self._zap(s, e))
            self._zap(s, e)
        return None

    def _zap(self, s: int, e: int) -> None:
        """Drop the populated pages of ``[s, e)``, doing ``zap_work`` per page (``zap_page_range``)."""
        lo, hi = s >> PAGE_SHIFT, e >> PAGE_SHIFT
        pages = self._pages
        if hi - lo <= ZAP_SCAN_LIMIT:
            victims: Iterable[int] = range(lo, hi)
        else:
            victims = [p for p in list(pages) if lo <= p < hi]
        units = self.zap_work
        for p in victims:
            if pages.pop(p, None) is not None and units:
                page_work(units)

    def fault_in(self, vma: VMA, addr: int, write: bool) -> VMA:
        """Permission check, populate the page, do the page work (the VMA is stable)."""
        if write:
            if not vma.prot & PROT_WRITE:
                raise SegmentationFault(f"write fault at {addr:#x} in {vma!r}", addr)
        elif not vma.prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
            raise SegmentationFault(f"read fault at {addr:#x} in {vma!r}", addr)
        self._pages[addr >> PAGE_SHIFT] = 1
        if self.page_work:
            page_work(self.page_work)
        return vma

    def fault_locked(self, addr: int, write: bool) -> VMA:
        """A fault with the page's VMA held stable by the caller's lock."""
        vma = self.index.lookup(addr)
        if vma is None:
            raise SegmentationFault(f"fault at unmapped {addr:#x}", addr)
        return self.fault_in(vma, addr, write)

    # ------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------
    def vmas(self) -> list[VMA]:
        """An atomic snapshot of every VMA, in address order."""
        return self.index.to_list()

    def rss(self) -> int:
        """Populated pages."""
        return len(self._pages)

    def stats(self) -> dict[str, Any]:
        """Operation counts, the policy's counters (``retries``, ``fallbacks``), the lock's stats."""
        d: dict[str, Any] = {"policy": self.policy.name, "vmas": len(self.index), "rss_pages": self.rss()}
        d.update(self.policy.stats())
        d["lock"] = self.index.lock.stats() if hasattr(self.index.lock, "stats") else {}
        return d

    def check(self) -> None:
        """Recompute every invariant (quiesces the address space with the mmap lock for write)."""
        with self.index.lock.write():
            self.index.check()
            vmas = self.index.to_list()
            self._check_canonical(vmas)
            self._check_pages(vmas)
            self._check_heap(vmas)
            self.policy.check(vmas)

    def _check_canonical(self, vmas: list[VMA]) -> None:
        for i in range(1, len(vmas)):
            if can_merge(vmas[i - 1], vmas[i]):
                raise InvariantError(f"mm: VMAs #{i - 1} {vmas[i - 1]!r} and #{i} {vmas[i]!r} should be merged")

    def _check_pages(self, vmas: list[VMA]) -> None:
        for p in list(self._pages):
            if self.index.lookup(p << PAGE_SHIFT) is None:
                raise InvariantError(f"mm: page table: populated page {p << PAGE_SHIFT:#x} is not mapped")

    def _check_heap(self, vmas: list[VMA]) -> None:
        top = _align_up(self._brk)
        for v in vmas:
            if v.name == _HEAP_NAME and not (self.start_brk <= v.start and v.end <= top):
                raise InvariantError(f"mm: heap VMA {v!r} outside [{self.start_brk:#x}, {top:#x})")

    def __repr__(self) -> str:
        return f"<AddressSpace {self.index.name!r} policy={self.policy.name} vmas={len(self.index)}>"


def _check_carried_lock(index: VMAIndex, lock: object) -> None:
    """``ValueError`` unless ``index`` already carries ``lock`` (that object, or a lock of that kind)."""
    carried = index.lock
    if isinstance(lock, str):
        if lock not in LOCK_KINDS:
            raise ValueError(f"unknown lock kind {lock!r}; known: {', '.join(sorted(LOCK_KINDS))}")
        if type(carried) is LOCK_KINDS[lock]:
            return
    elif lock is carried:
        return
    raise ValueError(
        f"AddressSpace(lock={lock!r}): the index given carries a {type(carried).__name__}; an address space "
        f"never swaps its index's lock: build the index with make_index(name, lock=...) or pass a backend name"
    )


def _window(s: int, e: int) -> tuple[int, int]:
    """``[s, e)`` widened by one byte each side: meets the VMAs that touch it (merge candidates)."""
    return max(s - 1, 0), min(e + 1, TASK_SIZE)


