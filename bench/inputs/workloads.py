"""Synthetic workloads: address-space layouts modelled on real processes, and address streams.

Invariant
---------
Every generator is a pure function of its arguments: the same ``(n, seed)``
gives the same layout, the same ``(layout, count, seed)`` the same stream, in
any process (pyperf re-runs the script in every worker, so this is what makes
a benchmark measure the same data everywhere).  A layout is ``n`` pairwise
non-overlapping, page-aligned ``VMA`` values in ascending address order; a
stream is a list of plain ints (or ``(start, end)`` pairs) built entirely
*outside* the timed region.

Layout
------
A layout is laid out the way Linux x86-64 lays out a process (legacy-free,
top-down mmap)::

    0x5555_5555_4000  program binary (5 VMAs: r--p r-xp r--p r--p rw-p)
          + brk gap   [heap]
          ...         (tens of TB free)
    mmap_low          +-----------------------------------------------+
                      | regions packed top-down from mmap_high:       |
                      |   library cluster  r--p r-xp r--p r--p rw-p   |
                      |                    (+ optional anon .bss)     |
                      |   anonymous mmap   rw-p                       |
                      |   thread stack     ---p guard + rw-p 8 MiB    |
                      |   malloc arena     rw-p + ---p reserve (64MiB)|
    mmap_high         +-----------------------------------------------+
          [vvar] [vdso], stack gap (>= 128 MiB)
    0x7ffd_....       [stack]

Distributions, and why (measured on this machine: ``/proc/self/maps`` of a
CPython 3.11 that imported numpy, matplotlib, ssl, sqlite3, ctypes, asyncio,
multiprocessing; 420 VMAs; and the ``bash``/coreutils processes, 38-44 VMAs):

* **libraries**: 74 files mapped 4.99 VMAs each (63 files with 5, 8 with 6
  i.e. with an anonymous .bss, 1 with 4) -> a cluster is the 5 ELF segments
  ``r--p`` header, ``r-xp`` text, ``r--p`` rodata, ``r--p`` RELRO, ``rw-p``
  data; P(4 segments, no separate header) = 0.10, P(+ anon .bss) = 0.12.
  Segment sizes in pages: header log-uniform 1..32, text log-normal (median
  32, sigma 1.6, <= 16384), rodata log-normal (median 8, sigma 1.4),
  RELRO and data geometric (P(1 page) = 0.6, <= 8; the snapshot's 1-page
  VMAs are mostly these), .bss geometric (p 0.3, <= 16).  Segments of one library touch (gap 0).
* **sizes overall**: the snapshot's log2(pages) histogram is 1: 36 %, 2-3: 17 %,
  4-7: 15 %, 8-15: 7 %, ... up to 2^15 pages; median 3 pages.  The mixture
  above reproduces that shape (tests check median <= 8 pages and >= 25 % single
  pages).
* **anonymous regions** (~24 % of VMAs in the snapshot): small anonymous
  mmaps log-uniform 1..512 pages (pymalloc arenas are 1 MiB = 256 pages);
  thread stacks = 1 guard page ``---p`` + 2048 pages (8 MiB, RLIMIT_STACK);
  glibc malloc arenas = ``rw-p`` 33..1024 pages + ``---p`` rest of 64 MiB.
  Region mix by count: library 0.45, small anon 0.40, thread stack 0.08,
  arena 0.07 (-> ~76 % of VMAs are library segments, as in the snapshot).
* **gaps between regions**: 403 of 419 neighbouring pairs touch (top-down mmap
  packs new mappings against the previous one); the rest are munmap holes of
  1..64 pages and a few big holes.  Gap = 0 with p 0.85, log-uniform
  1..64 pages with p 0.13, log-uniform 1k..256k pages with p 0.02 (a
  long-running process has more holes than a fresh one, hence 15 % not 4 %;
  the holes give ``find_gap`` and the 0-VMA ``overlap`` ranges something to do).

Sizes are ``SIZES = (100, 1000, 10000, 65530)``; 65,530 is the default
``vm.max_map_count``.

Streams (the op mix of the suites that use them)
------------------------------------------------
* ``uniform``: every access picks a VMA uniformly and a byte address uniformly
  inside it (all hits; the tree is walked to a random leaf every time).
* ``locality``: fault-like; a run (geometric, mean 16 accesses) of consecutive
  pages inside one VMA, the VMA chosen Zipf-like (weight ``1/rank**s``,
  ``s = 1.0``, ranks a seeded permutation of the VMAs) -- the access pattern
  the per-thread vmacache was built for (PMD-local repeats).
* ``range_stream(meets=0|1|8)``: ``[start, end)`` ranges meeting exactly that
  many VMAs (inside a hole, inside one VMA, from inside VMA i to inside VMA
  i+7).
* ``gap_lengths``: mmap-like request lengths: log-uniform 1..512 pages with
  p 0.9, 8 MiB (thread stack) p 0.05, 64 MiB (arena reserve) p 0.05.

API
---
``Layout`` (``vmas``, ``n``, ``seed``, ``mmap_low``, ``mmap_high``),
``synthetic_layout(n, seed=42)``, ``uniform_stream``, ``locality_stream``,
``make_stream(layout, kind, count, seed)``, ``range_stream``,
``gap_lengths``, ``STREAMS``, ``SIZES``, ``parse_size``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from structures.vma import PAGE_SHIFT, PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, TASK_SIZE, VMA

__all__ = [
    "SIZES",
    "STREAMS",
    "Layout",
    "gap_lengths",
    "locality_stream",
    "make_stream",
    "parse_size",
    "range_stream",
    "synthetic_layout",
    "uniform_stream",
]

#: The layout sizes of the lab; 65,530 is the default ``vm.max_map_count``.
SIZES: tuple[int, ...] = (100, 1000, 10000, 65530)
#: Address-stream kinds understood by ``make_stream``.
STREAMS: tuple[str, ...] = ("uniform", "locality")

#: Smallest layout: binary (5) + heap + [vvar] + [vdso] + [stack].
MIN_VMAS = 9

R, RW, RX = PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC
#: VM_* style flags carried in VMA.flags (informational only).
FLAG_FILE = 0x1
FLAG_STACK = 0x100

_EXE_BASE = 0x5555_5555_4000
_STACK_TOP = 0x7FFD_0000_0000
_STACK_GAP = 128 << 20  # the minimum gap the kernel keeps below RLIMIT_STACK
_GAP_ZERO, _GAP_SMALL = 0.85, 0.13  # the rest (0.02) are big holes
_MIX = (("library", 0.45), ("anon", 0.40), ("thread_stack", 0.08), ("arena", 0.07))
_ARENA_PAGES = (64 << 20) >> PAGE_SHIFT
_THREAD_STACK_PAGES = (8 << 20) >> PAGE_SHIFT


def parse_size(text: str | int) -> int:
    """``"1k"`` -> 1000, ``"65530"`` -> 65530, ``"64K"`` -> 64000 (``ValueError`` otherwise)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        s = str(text).strip().lower().replace("_", "").replace(",", "")
        mult = 1
        if s.endswith("k"):
            s, mult = s[:-1], 1000
        elif s.endswith("m"):
            s, mult = s[:-1], 1_000_000
        try:
            value = int(float(s) * mult) if "." in s else int(s) * mult
        except ValueError:
            raise ValueError(f"bad size {text!r}: expected an integer like 1000, 1k or 65530") from None
    if value < MIN_VMAS:
        raise ValueError(f"bad size {text!r}: a layout needs at least {MIN_VMAS} VMAs")
    return value


@dataclass(frozen=True)
class Layout:
    """``n`` VMAs in ascending order; ``[mmap_low, mmap_high)`` spans the mmap area."""

    vmas: tuple[VMA, ...]
    seed: int
    mmap_low: int
    mmap_high: int

    @property
    def n(self) -> int:
        return len(self.vmas)

    def sizes_pages(self) -> list[int]:
        return [(v.end - v.start) >> PAGE_SHIFT for v in self.vmas]

    def gaps_pages(self) -> list[int]:
        vs = self.vmas
        return [(vs[i + 1].start - vs[i].end) >> PAGE_SHIFT for i in range(len(vs) - 1)]


# ----------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------
def _log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def _log_normal(rng: random.Random, median: float, sigma: float, hi: int) -> int:
    return min(hi, max(1, round(rng.lognormvariate(math.log(median), sigma))))


def _geometric(rng: random.Random, p: float, hi: int) -> int:
    """1, 2, 3, ... with P(k) = p (1 - p)^(k - 1), capped at ``hi``."""
    k = 1
    while k < hi and rng.random() >= p:
        k += 1
    return k


def _gap_pages(rng: random.Random) -> int:
    u = rng.random()
    if u < _GAP_ZERO:
        return 0
    if u < _GAP_ZERO + _GAP_SMALL:
        return _log_uniform(rng, 1, 64)
    return _log_uniform(rng, 1024, 256 * 1024)


# A region is a list of (pages, prot, flags, name) from low to high address.
_Seg = tuple[int, int, int, str]


def _library(rng: random.Random, serial: int) -> list[_Seg]:
    name = f"/usr/lib/x86_64-linux-gnu/lib{serial:05d}.so"
    segs: list[_Seg] = []
    if rng.random() >= 0.10:
        segs.append((_log_uniform(rng, 1, 32), R, FLAG_FILE, name))
    segs.append((_log_normal(rng, 32, 1.6, 16384), RX, FLAG_FILE, name))
    segs.append((_log_normal(rng, 8, 1.4, 8192), R, FLAG_FILE, name))
    segs.append((_geometric(rng, 0.6, 8), R, FLAG_FILE, name))
    segs.append((_geometric(rng, 0.6, 8), RW, FLAG_FILE, name))
    if rng.random() < 0.12:
        segs.append((_geometric(rng, 0.3, 16), RW, 0, ""))
    return segs


def _region(rng: random.Random, kind: str, serial: int) -> list[_Seg]:
    if kind == "library":
        return _library(rng, serial)
    if kind == "anon":
        return [(_log_uniform(rng, 1, 512), RW, 0, "")]
    if kind == "thread_stack":
        return [(1, PROT_NONE, 0, ""), (_THREAD_STACK_PAGES, RW, FLAG_STACK, "")]
    used = _log_uniform(rng, 33, 1024)  # malloc arena: heap part + PROT_NONE reserve
    return [(used, RW, 0, ""), (_ARENA_PAGES - used, PROT_NONE, 0, "")]


@lru_cache(maxsize=8)
def synthetic_layout(n: int, seed: int = 42) -> Layout:
    """A process-like layout of exactly ``n`` VMAs (see the module docstring for the model)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < MIN_VMAS:
        raise ValueError(f"synthetic_layout needs an int n >= {MIN_VMAS}, got {n!r}")
    rng = random.Random(f"vmalab-layout-{n}-{seed}")
    out: list[VMA] = []

    # program binary and heap
    addr = _EXE_BASE + (rng.randrange(1 << 16) << PAGE_SHIFT)
    exe = "/usr/bin/program"
    for pages, prot in (
        (2, R),
        (_log_normal(rng, 64, 1.0, 4096), RX),
        (_log_normal(rng, 16, 1.0, 2048), R),
        (1, R),
        (1, RW),
    ):
        out.append(VMA(addr, addr + pages * PAGE_SIZE, prot, FLAG_FILE, exe))
        addr += pages * PAGE_SIZE
    addr += rng.randrange(8192) << PAGE_SHIFT  # brk randomization (up to 32 MiB)
    heap = _log_uniform(rng, 33, 65536)
    out.append(VMA(addr, addr + heap * PAGE_SIZE, RW, 0, "[heap]"))

    # stack, then [vvar]/[vdso] at the top of the mmap area
    stack_top = _STACK_TOP + (rng.randrange(1 << 20) << PAGE_SHIFT)
    stack = VMA(stack_top - 33 * PAGE_SIZE, stack_top, RW, FLAG_STACK, "[stack]")
    mmap_high = (stack.start - _STACK_GAP - (rng.randrange(1 << 16) << PAGE_SHIFT)) & ~(PAGE_SIZE - 1)
    top = mmap_high
    mapped: list[VMA] = []
    for pages, prot, name in ((2, RX, "[vdso]"), (4, R, "[vvar]")):
        mapped.append(VMA(top - pages * PAGE_SIZE, top, prot, 0, name))
        top -= pages * PAGE_SIZE

    # the mmap area, packed top-down with the gap distribution between regions
    kinds = [k for k, _ in _MIX]
    weights = [w for _, w in _MIX]
    want = n - len(out) - len(mapped) - 1
    serial = 0
    while want > 0:
        kind = rng.choices(kinds, weights)[0]
        segs = _region(rng, kind, serial)
        serial += 1
        if len(segs) > want:  # the last region is cut to make exactly n
            segs = segs[len(segs) - want :]
        top -= _gap_pages(rng) * PAGE_SIZE
        for pages, prot, flags, name in reversed(segs):
            mapped.append(VMA(top - pages * PAGE_SIZE, top, prot, flags, name))
            top -= pages * PAGE_SIZE
        want -= len(segs)
    mapped.reverse()
    if top <= out[-1].end:  # cannot happen with these distributions (needs ~40 TB)
        raise ValueError(f"layout of {n} VMAs does not fit the address space")
    vmas = (*out, *mapped, stack)
    assert len(vmas) == n and vmas[-1].end <= TASK_SIZE
    return Layout(vmas, seed, top, mmap_high)


# ----------------------------------------------------------------------
# address streams
# ----------------------------------------------------------------------
def uniform_stream(layout: Layout, count: int, seed: int = 42) -> list[int]:
    """``count`` addresses: a uniform VMA, then a uniform byte inside it (all hits)."""
    rng = random.Random(f"vmalab-uniform-{layout.n}-{layout.seed}-{seed}")
    vmas = layout.vmas
    out = []
    for _ in range(count):
        v = vmas[rng.randrange(len(vmas))]
        out.append(v.start + rng.randrange(v.end - v.start))
    return out


def locality_stream(
    layout: Layout, count: int, seed: int = 42, *, zipf_s: float = 1.0, mean_run: float = 16.0
) -> list[int]:
    """Fault-like addresses: runs of consecutive pages in one Zipf-chosen VMA."""
    rng = random.Random(f"vmalab-locality-{layout.n}-{layout.seed}-{seed}")
    vmas = list(layout.vmas)
    rng.shuffle(vmas)  # rank r (0-based) -> vmas[r], weight 1 / (r + 1) ** s
    cum = list(accumulate(1.0 / (r + 1) ** zipf_s for r in range(len(vmas))))
    total = cum[-1]
    p_end = 1.0 / mean_run
    out: list[int] = []
    while len(out) < count:
        v = vmas[min(bisect_right(cum, rng.random() * total), len(vmas) - 1)]
        pages = (v.end - v.start) >> PAGE_SHIFT
        page = rng.randrange(pages)
        while len(out) < count:
            out.append(v.start + (page << PAGE_SHIFT) + rng.randrange(PAGE_SIZE))
            page = (page + 1) % pages
            if rng.random() < p_end:
                break
    return out


def make_stream(layout: Layout, kind: str, count: int, seed: int = 42) -> list[int]:
    """The address stream ``kind`` (one of ``STREAMS``)."""
    if kind == "uniform":
        return uniform_stream(layout, count, seed)
    if kind == "locality":
        return locality_stream(layout, count, seed)
    raise ValueError(f"unknown stream {kind!r}; known: {', '.join(STREAMS)}")


def range_stream(layout: Layout, count: int, meets: int, seed: int = 42) -> list[tuple[int, int]]:
    """``count`` page-aligned ``(start, end)`` ranges meeting exactly ``meets`` VMAs.

    ``meets == 0``: inside a hole between neighbours; ``1``: inside one VMA;
    ``k >= 2``: from a page of VMA ``i`` to a page of VMA ``i + k - 1``.
    """
    if meets < 0 or meets > layout.n:
        raise ValueError(f"meets must be in 0..{layout.n}, got {meets}")
    rng = random.Random(f"vmalab-ranges-{layout.n}-{layout.seed}-{meets}-{seed}")
    vs = layout.vmas
    out: list[tuple[int, int]] = []
    if meets == 0:
        holes = [(vs[i].end, vs[i + 1].start) for i in range(len(vs) - 1) if vs[i + 1].start > vs[i].end]
        for _ in range(count):
            lo, hi = holes[rng.randrange(len(holes))]
            pages = (hi - lo) >> PAGE_SHIFT
            first = rng.randrange(pages)
            length = rng.randint(1, pages - first)
            out.append((lo + first * PAGE_SIZE, lo + (first + length) * PAGE_SIZE))
        return out
    for _ in range(count):
        i = rng.randrange(len(vs) - meets + 1)
        a, b = vs[i], vs[i + meets - 1]
        start = a.start + (rng.randrange((a.end - a.start) >> PAGE_SHIFT) << PAGE_SHIFT)
        if meets == 1:
            end = start + PAGE_SIZE * rng.randint(1, (a.end - start) >> PAGE_SHIFT)
        else:
            end = b.start + PAGE_SIZE * rng.randint(1, (b.end - b.start) >> PAGE_SHIFT)
        out.append((start, end))
    return out


def gap_lengths(count: int, seed: int = 42) -> list[int]:
    """mmap-like request lengths in bytes (see the module docstring)."""
    rng = random.Random(f"vmalab-gaps-{seed}")
    out = []
    for _ in range(count):
        u = rng.random()
        if u < 0.90:
            pages = _log_uniform(rng, 1, 512)
        elif u < 0.95:
            pages = _THREAD_STACK_PAGES
        else:
            pages = _ARENA_PAGES
        out.append(pages * PAGE_SIZE)
    return out
