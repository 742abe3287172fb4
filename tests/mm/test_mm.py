"""AddressSpace: golden split/merge cases, faults, errors, a page-model state machine, threads."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from structures import available_backends, make_index
from structures.locks import LOCK_KINDS
from structures.mm.address_space import AddressSpace, AddressSpaceFull, can_merge
from structures.mm.policy import POLICIES
from structures.vma import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    VMA,
    InvalidRangeError,
    NotMappedError,
    OverlapError,
    SegmentationFault,
)

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
FIXED = ANON | MAP_FIXED
BASE = 0x1000_0000

# only cheap, built-in backends; every registered one when the registry has it
BACKENDS = [b for b in ("list", "rbtree", "maple", "xarray") if b in available_backends()] or ["list"]


def anon(start: int, end: int, prot: int = RW) -> VMA:
    return VMA(start, end, prot, ANON, "", start >> PAGE_SHIFT)


LOCKS = sorted(LOCK_KINDS)
#: every backend under every policy with the index's default lock, and the range policy with each lock kind
MM_SPECS = [(b, p, None) for b in BACKENDS for p in POLICIES] + [(b, "range", k) for b in BACKENDS for k in LOCKS]


@pytest.fixture(params=MM_SPECS, ids=lambda s: "-".join(str(x) for x in s if x))
def mm(request: pytest.FixtureRequest) -> AddressSpace:
    backend, policy, lock = request.param
    return AddressSpace(backend, policy=policy, lock=lock)


def live_requests(lock: Any) -> int:
    """Requests in an index lock, any kind (the rwsem has no len())."""
    if hasattr(lock, "__len__"):
        return len(lock)
    readers, writer = lock.held()
    return int(readers) + int(writer) + lock.waiting()


@pytest.mark.parametrize("kind", LOCKS)
def test_lock_keyword_builds_the_index_with_that_lock(kind: str) -> None:
    mm = AddressSpace("list", lock=kind)
    assert type(mm.index.lock) is LOCK_KINDS[kind]
    assert AddressSpace(None, lock=kind).index.lock.__class__ is LOCK_KINDS[kind]
    ready = make_index("list", lock=kind)
    assert AddressSpace(ready, lock=kind).index is ready  # the kind it already carries: fine
    assert AddressSpace(ready, lock=ready.lock).index.lock is ready.lock
    other = next(k for k in LOCKS if k != kind)
    with pytest.raises(ValueError, match="never swaps its index's lock"):
        AddressSpace(ready, lock=other)
    with pytest.raises(ValueError, match="never swaps its index's lock"):
        AddressSpace(ready, lock=LOCK_KINDS[kind]())  # another lock object, even of the same kind
    with pytest.raises(ValueError, match="unknown lock kind 'nope'"):
        AddressSpace("list", lock="nope")
    with pytest.raises(ValueError, match="unknown lock kind 'nope'"):
        AddressSpace(ready, lock="nope")


# ----------------------------------------------------------------------
# golden cases
# ----------------------------------------------------------------------
def test_unmap_middle_splits_in_two(mm: AddressSpace) -> None:
    mm.mmap(10 * P, addr=BASE, flags=FIXED)
    mm.munmap(BASE + 4 * P, 2 * P)
    assert mm.vmas() == [anon(BASE, BASE + 4 * P), anon(BASE + 6 * P, BASE + 10 * P)]
    mm.munmap(BASE + 20 * P, P)  # unmapping nothing is fine
    mm.munmap(BASE, 5 * P)  # a hole and a split edge
    assert mm.vmas() == [anon(BASE + 6 * P, BASE + 10 * P)]
    mm.check()


def test_mprotect_middle_three_then_back_to_one(mm: AddressSpace) -> None:
    mm.mmap(10 * P, addr=BASE, flags=FIXED)
    mm.mprotect(BASE + 3 * P, 4 * P, PROT_READ)
    assert mm.vmas() == [
        anon(BASE, BASE + 3 * P),
        anon(BASE + 3 * P, BASE + 7 * P, PROT_READ),
        anon(BASE + 7 * P, BASE + 10 * P),
    ]
    mm.check()
    mm.mprotect(BASE + 3 * P, 4 * P, RW)
    assert mm.vmas() == [anon(BASE, BASE + 10 * P)]
    mm.check()


def test_mprotect_merges_with_neighbour_and_across_range(mm: AddressSpace) -> None:
    mm.mmap(4 * P, addr=BASE, flags=FIXED, prot=PROT_READ)
    mm.mmap(4 * P, addr=BASE + 4 * P, flags=FIXED)
    assert len(mm.vmas()) == 2
    mm.mprotect(BASE + 4 * P, 2 * P, PROT_READ)  # first half joins the left neighbour
    assert mm.vmas() == [anon(BASE, BASE + 6 * P, PROT_READ), anon(BASE + 6 * P, BASE + 8 * P)]
    mm.mprotect(BASE, 8 * P, PROT_READ | PROT_EXEC)  # both VMAs, one result
    assert mm.vmas() == [anon(BASE, BASE + 8 * P, PROT_READ | PROT_EXEC)]
    mm.check()


def test_mprotect_with_hole_changes_nothing(mm: AddressSpace) -> None:
    mm.mmap(2 * P, addr=BASE, flags=FIXED)
    mm.mmap(2 * P, addr=BASE + 3 * P, flags=FIXED)
    before = mm.vmas()
    with pytest.raises(NotMappedError):
        mm.mprotect(BASE, 5 * P, PROT_READ)
    with pytest.raises(NotMappedError):
        mm.mprotect(BASE - P, 2 * P, PROT_READ)
    assert mm.vmas() == before
    mm.check()


def test_map_fixed_replaces_several(mm: AddressSpace) -> None:
    mm.mmap(3 * P, addr=BASE, flags=FIXED, prot=PROT_READ)
    mm.mmap(3 * P, addr=BASE + 4 * P, flags=FIXED, prot=PROT_NONE)
    mm.mmap(3 * P, addr=BASE + 8 * P, flags=FIXED, prot=PROT_READ)
    mm.fault(BASE + 8 * P)  # populate a page that MAP_FIXED will zap
    assert mm.rss() == 1
    got = mm.mmap(6 * P, addr=BASE + 2 * P, flags=MAP_SHARED | MAP_FIXED, name="f", pgoff=7)
    assert got == BASE + 2 * P
    assert mm.vmas() == [
        anon(BASE, BASE + 2 * P, PROT_READ),
        VMA(BASE + 2 * P, BASE + 8 * P, RW, MAP_SHARED, "f", 7),
        anon(BASE + 8 * P, BASE + 11 * P, PROT_READ),
    ]
    mm.munmap(BASE + 8 * P, P)
    assert mm.rss() == 0
    mm.check()


def test_fixed_anon_over_compatible_anon_merges_back(mm: AddressSpace) -> None:
    mm.mmap(10 * P, addr=BASE, flags=FIXED)
    mm.mmap(2 * P, addr=BASE + 3 * P, flags=FIXED)
    assert mm.vmas() == [anon(BASE, BASE + 10 * P)]


def test_file_mappings_merge_only_with_contiguous_pgoff(mm: AddressSpace) -> None:
    mm.mmap(2 * P, addr=BASE, flags=MAP_SHARED | MAP_FIXED, name="lib", pgoff=0)
    mm.mmap(2 * P, addr=BASE + 2 * P, flags=MAP_SHARED | MAP_FIXED, name="lib", pgoff=2)
    assert mm.vmas() == [VMA(BASE, BASE + 4 * P, RW, MAP_SHARED, "lib", 0)]
    mm.mmap(2 * P, addr=BASE + 4 * P, flags=MAP_SHARED | MAP_FIXED, name="lib", pgoff=9)
    assert len(mm.vmas()) == 2
    mm.check()


def test_noreplace_hint_and_top_down(mm: AddressSpace) -> None:
    mm.mmap(2 * P, addr=BASE, flags=FIXED)
    with pytest.raises(OverlapError):
        mm.mmap(2 * P, addr=BASE + P, flags=ANON | MAP_FIXED_NOREPLACE)
    assert mm.mmap(P, addr=BASE + 2 * P) == BASE + 2 * P  # a free hint is honoured (then merges)
    assert mm.vmas() == [anon(BASE, BASE + 3 * P)]
    elsewhere = mm.mmap(P, addr=BASE + P)  # a taken hint is not
    assert elsewhere >= BASE + 3 * P
    a = mm.mmap(4 * P, prot=PROT_READ)
    b = mm.mmap(4 * P, prot=PROT_READ)
    assert a + 4 * P <= mm.mmap_base and b + 4 * P == a  # top-down, touching, merged
    assert mm.index.lookup(a) == VMA(b, a + 4 * P, PROT_READ, ANON, "", b >> PAGE_SHIFT)
    mm.check()


def test_faults(mm: AddressSpace) -> None:
    mm.mmap(2 * P, addr=BASE, flags=FIXED, prot=PROT_READ)
    mm.mmap(P, addr=BASE + 2 * P, flags=FIXED, prot=PROT_NONE)
    assert mm.fault(BASE + 5) == anon(BASE, BASE + 2 * P, PROT_READ)
    with pytest.raises(SegmentationFault) as exc:
        mm.fault(BASE + P, write=True)
    assert exc.value.addr == BASE + P
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 2 * P)  # PROT_NONE
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 3 * P)  # unmapped
    with pytest.raises(InvalidRangeError):
        mm.fault(TASK_SIZE)
    assert mm.rss() == 1
    assert mm.stats()["faults"] >= 1
    mm.check()


def test_brk_grows_shrinks_and_collides(mm: AddressSpace) -> None:
    b0 = mm.brk()
    assert b0 == mm.start_brk
    assert mm.brk(b0 + 100) == b0 + 100
    assert mm.brk(b0 + 3 * P) == b0 + 3 * P
    heap = mm.index.lookup(b0)
    assert heap is not None and (heap.start, heap.end, heap.name) == (b0, b0 + 3 * P, "[heap]")
    mm.brk(b0 + P + 1)
    assert mm.index.lookup(b0) == heap.evolve(end=b0 + 2 * P)
    mm.mmap(P, addr=b0 + 4 * P, flags=FIXED)
    with pytest.raises(OverlapError):
        mm.brk(b0 + 8 * P)
    assert mm.brk() == b0 + P + 1
    with pytest.raises(InvalidRangeError):
        mm.brk(b0 - P)
    mm.brk(b0)
    assert mm.index.lookup(b0) is None
    mm.check()


def test_invalid_arguments_change_nothing(mm: AddressSpace) -> None:
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    before = mm.vmas()
    bad: list[Any] = [
        lambda: mm.mmap(0),
        lambda: mm.mmap(-P),
        lambda: mm.mmap(P, flags=MAP_ANONYMOUS),  # neither shared nor private
        lambda: mm.mmap(P, flags=ANON | MAP_SHARED),
        lambda: mm.mmap(P, flags=FIXED),  # fixed without addr
        lambda: mm.mmap(P, addr=BASE + 1, flags=FIXED),
        lambda: mm.mmap(P, addr=TASK_SIZE - P, flags=FIXED, prot=8),
        lambda: mm.mmap(2 * P, addr=TASK_SIZE - P, flags=FIXED),
        lambda: mm.mmap(P, addr=0, flags=FIXED),  # below mmap_min_addr
        lambda: mm.munmap(BASE + 1, P),
        lambda: mm.munmap(BASE, 0),
        lambda: mm.munmap(True, P),
        lambda: mm.mprotect(BASE, P, -1),
        lambda: mm.mprotect(BASE, "1", PROT_READ),
    ]
    for call in bad:
        with pytest.raises(InvalidRangeError):
            call()
    assert mm.vmas() == before
    with pytest.raises(InvalidRangeError):
        AddressSpace("list", policy="nope")
    mm.check()


def test_address_space_full() -> None:
    mm = AddressSpace("list", policy="range", mmap_min_addr=BASE, mmap_base=BASE + 4 * P)
    mm.mmap(TASK_SIZE - BASE, addr=BASE, flags=FIXED)
    with pytest.raises(AddressSpaceFull):
        mm.mmap(P)


def test_range_policy_retries_when_the_span_grows() -> None:
    mm = AddressSpace("list", policy="range")
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    v = mm.vmas()[0]
    lock = mm.index.lock
    h = lock.acquire_write(BASE - P, BASE + 8 * P)
    done = threading.Event()
    t = threading.Thread(target=lambda: (mm.munmap(BASE + P, P), done.set()))
    t.start()
    # the munmap has computed its hull [BASE, BASE+4P) and now waits on our lock;
    # grow the VMA under it (we hold a lock covering both extents)
    while lock.stats()["waiting"] == 0:
        threading.Event().wait(0.001)
    mm.index.replace([v], [anon(BASE, BASE + 12 * P)])
    lock.release(h)
    t.join(5)
    assert done.is_set()
    assert mm.stats()["retries"] == 1
    assert mm.vmas() == [anon(BASE, BASE + P), anon(BASE + 2 * P, BASE + 12 * P)]


def test_range_policy_walks_once_when_nothing_mutated_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hull is re-checked under the lock only when the index mutated since it was computed."""
    from structures.mm.policy import RangePolicy

    mm = AddressSpace("list", policy="range")
    walks: list[tuple[int, int]] = []
    real = RangePolicy._hull
    monkeypatch.setattr(RangePolicy, "_hull", lambda self, lo, hi: walks.append((lo, hi)) or real(self, lo, hi))
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    mm.brk(mm.brk() + P)
    assert len(walks) == 2  # one walk per mutation: nobody mutated between the walk and the grant
    mm.check()


def test_vma_policy_falls_back_when_marked() -> None:
    mm = AddressSpace("list", policy="vma")
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    mm.fault(BASE)
    assert mm.stats()["fallbacks"] == 0
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 8 * P)  # no VMA: falls back, then faults
    assert mm.stats()["fallbacks"] == 1
    pol: Any = mm.policy
    h = mm.index.lock.acquire_write()  # play a writer: hold the mmap lock and mark the VMA
    pol._mark(mm.vmas()[0])
    out: list[VMA] = []
    t = threading.Thread(target=lambda: out.append(mm.fault(BASE + P)))
    t.start()
    while mm.stats()["fallbacks"] < 2:
        threading.Event().wait(0.001)
    assert not out  # blocked on the mmap lock
    pol._mm_seq += 1
    mm.index.lock.release(h)
    t.join(5)
    assert out == [anon(BASE, BASE + 4 * P)]
    mm.fault(BASE + 2 * P)
    assert mm.stats()["fallbacks"] == 2
    mm.check()


def test_vma_policy_mark_waits_for_a_reader_already_in() -> None:
    """vma_start_write: the mark is visible at once (later faults fall back), and the writer
    waits for a fault that took the VMA's read lock before the mark."""
    mm = AddressSpace("list", policy="vma")
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    pol: Any = mm.policy
    v = mm.vmas()[0]
    entry = pol._vl[id(v)]
    reader = pol._reader_lock(entry).try_read()  # a fault in progress inside the VMA
    h = mm.index.lock.acquire_write()
    marked = threading.Event()
    t = threading.Thread(target=lambda: (pol._mark(v), marked.set()))
    t.start()
    assert not marked.wait(0.05)  # blocked behind the reader
    assert entry.seq == pol._mm_seq  # yet already marked: a new fault would fall back
    pol._reader_lock(entry).release(reader)
    assert marked.wait(5)
    t.join(5)
    pol._mm_seq += 1
    mm.index.lock.release(h)
    mm.check()


def test_vma_policy_makes_a_vmas_lock_at_its_first_fault() -> None:
    """A VMA's own rwsem is made by its first fault, once (brk's VMAs that are never
    faulted never pay for one); a writer's mark on an unfaulted VMA neither makes one
    nor waits."""
    mm = AddressSpace("maple", policy="vma")
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    pol: Any = mm.policy
    entry = pol._vl[id(mm.vmas()[0])]
    assert entry.rw is None
    mm.fault(BASE)
    rw = entry.rw
    assert rw is not None and mm.stats()["fallbacks"] == 0
    mm.fault(BASE + P)
    assert entry.rw is rw and pol._reader_lock(entry) is rw  # made once
    mm.brk(mm.brk() + P)  # the heap VMA: created and never faulted
    heap = [v for v in mm.vmas() if v.name == "[heap]"]
    assert len(heap) == 1 and pol._vl[id(heap[0])].rw is None
    h = mm.index.lock.acquire_write()
    pol._mark(heap[0])  # no reader, no rw: the mark neither blocks nor makes one
    assert pol._vl[id(heap[0])].rw is None and pol._vl[id(heap[0])].seq == pol._mm_seq
    pol._mm_seq += 1
    mm.index.lock.release(h)
    mm.check()


def test_vma_policy_thread_cache_never_admits_a_replaced_vma() -> None:
    """A fault thread keeps the lock entries it used; one whose VMA was replaced (detached)
    is refreshed from the shared map, and the cache stays bounded."""
    from structures.mm.policy import ENTRY_CACHE

    mm = AddressSpace("maple", policy="vma")
    mm.mmap(8 * P, addr=BASE, flags=FIXED)
    pol: Any = mm.policy
    old = mm.vmas()[0]
    mm.fault(BASE)
    assert pol._tls.cache[id(old)].vma is old
    mm.mprotect(BASE + 4 * P, 4 * P, PROT_READ)  # splits: the cached entry is detached
    assert pol._tls.cache[id(old)].detached
    got = mm.fault(BASE + P, write=True)
    assert got == anon(BASE, BASE + 4 * P) and got is not old
    assert pol._tls.cache[id(got)] is pol._vl[id(got)]  # refreshed from the map, fast path
    assert mm.stats()["fallbacks"] == 0
    for i in range(ENTRY_CACHE + 8):  # more VMAs than the cache holds
        mm.mmap(P, addr=BASE + (64 + 2 * i) * P, flags=FIXED)
        mm.fault(BASE + (64 + 2 * i) * P)
    assert len(pol._tls.cache) <= ENTRY_CACHE
    assert mm.stats()["fallbacks"] == 0
    mm.check()


# ----------------------------------------------------------------------
# page model state machine
# ----------------------------------------------------------------------
NPAGES = 24
LOW = BASE
TOP = BASE + NPAGES * P  # == mmap_base: non-fixed mmaps land in the window top-down
PAGE_IDX = st.integers(0, NPAGES - 1)
PROTS = st.sampled_from([PROT_NONE, PROT_READ, RW, PROT_READ | PROT_EXEC])


class PageModel(RuleBasedStateMachine):
    """Each page of the window maps to (prot, flags, name, pgoff of that page) or nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.mm = AddressSpace("list", mmap_min_addr=LOW, mmap_base=TOP)
        self.pages: dict[int, tuple[int, int, str, int]] = {}

    @initialize(backend=st.sampled_from(BACKENDS), policy=st.sampled_from(list(POLICIES)))
    def choose(self, backend: str, policy: str) -> None:
        self.mm = AddressSpace(backend, policy=policy, mmap_min_addr=LOW, mmap_base=TOP)

    def _map(self, s: int, n: int, prot: int, flags: int, name: str, pgoff: int) -> None:
        for i in range(n):
            p = (s >> PAGE_SHIFT) + i
            off = p if flags & MAP_ANONYMOUS else pgoff + i
            self.pages[p] = (prot, flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE), name, off)

    @rule(
        first=PAGE_IDX, n=st.integers(1, 6), prot=PROTS, file=st.booleans(), pgoff=st.integers(0, 3)
    )
    def mmap_fixed(self, first: int, n: int, prot: int, file: bool, pgoff: int) -> None:
        n = min(n, NPAGES - first)
        s = LOW + first * P
        flags = (MAP_SHARED | MAP_FIXED) if file else FIXED
        name = "f" if file else ""
        assert self.mm.mmap(n * P, addr=s, prot=prot, flags=flags, name=name, pgoff=pgoff) == s
        for p in range(s >> PAGE_SHIFT, (s >> PAGE_SHIFT) + n):
            self.pages.pop(p, None)
        self._map(s, n, prot, flags, name, pgoff)

    @rule(n=st.integers(1, 4), prot=PROTS)
    def mmap_placed(self, n: int, prot: int) -> None:
        lo = LOW >> PAGE_SHIFT
        want = None
        for start in range(lo + NPAGES - n, lo - 1, -1):  # highest free run below mmap_base
            if all(p not in self.pages for p in range(start, start + n)):
                want = start << PAGE_SHIFT
                break
        if want is None:  # nothing below mmap_base: bottom-up from mmap_min_addr, may straddle mmap_base
            start = lo
            while any(p in self.pages for p in range(start, start + n)):
                start += 1
            want = start << PAGE_SHIFT
        got = self.mm.mmap(n * P, prot=prot)
        assert got == want
        self._map(got, n, prot, ANON, "", 0)

    @rule(first=PAGE_IDX, n=st.integers(1, 8))
    def munmap(self, first: int, n: int) -> None:
        self.mm.munmap(LOW + first * P, n * P)
        for p in range((LOW >> PAGE_SHIFT) + first, (LOW >> PAGE_SHIFT) + first + n):
            self.pages.pop(p, None)

    @rule(first=PAGE_IDX, n=st.integers(1, 6), prot=PROTS)
    def mprotect(self, first: int, n: int, prot: int) -> None:
        ps = range((LOW >> PAGE_SHIFT) + first, (LOW >> PAGE_SHIFT) + first + n)
        if all(p in self.pages for p in ps):
            self.mm.mprotect(LOW + first * P, n * P, prot)
            for p in ps:
                old = self.pages[p]
                self.pages[p] = (prot, *old[1:])
        else:
            before = self.mm.vmas()
            with pytest.raises(NotMappedError):
                self.mm.mprotect(LOW + first * P, n * P, prot)
            assert self.mm.vmas() == before

    @rule(page=PAGE_IDX, off=st.integers(0, P - 1), write=st.booleans())
    def fault(self, page: int, off: int, write: bool) -> None:
        attrs = self.pages.get((LOW >> PAGE_SHIFT) + page)
        ok = attrs is not None and (attrs[0] & PROT_WRITE if write else attrs[0] != PROT_NONE)
        if ok:
            v = self.mm.fault(LOW + page * P + off, write)
            assert v.contains(LOW + page * P + off)
        else:
            with pytest.raises(SegmentationFault):
                self.mm.fault(LOW + page * P + off, write)

    @invariant()
    def matches_canonical_model(self) -> None:
        want: list[VMA] = []
        for p in sorted(self.pages):
            prot, flags, name, off = self.pages[p]
            v = VMA(p << PAGE_SHIFT, (p + 1) << PAGE_SHIFT, prot, flags, name, off)
            if want and can_merge(want[-1], v):
                want[-1] = want[-1].evolve(end=v.end)
            else:
                want.append(v)
        assert self.mm.vmas() == want

    def teardown(self) -> None:
        self.mm.check()


PageModel.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestPageModel = PageModel.TestCase


# ----------------------------------------------------------------------
# threads on disjoint regions == sequential replay
# ----------------------------------------------------------------------
def _script(seed: int, region: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    ops: list[tuple[Any, ...]] = []
    for _ in range(120):
        first, n = rng.randrange(0, 30), rng.randrange(1, 6)
        s = region + first * P
        r = rng.random()
        if r < 0.3:
            ops.append(("mmap", s, n * P, rng.choice([PROT_READ, RW])))
        elif r < 0.5:
            ops.append(("munmap", s, n * P))
        elif r < 0.7:
            ops.append(("mprotect", s, n * P, rng.choice([PROT_READ, RW])))
        else:
            ops.append(("fault", s + rng.randrange(P), rng.random() < 0.5))
    return ops


def _run(mm: AddressSpace, ops: list[tuple[Any, ...]]) -> list[Any]:
    out: list[Any] = []
    for op in ops:
        try:
            if op[0] == "mmap":
                out.append(mm.mmap(op[2], addr=op[1], prot=op[3], flags=FIXED))
            elif op[0] == "munmap":
                out.append(mm.munmap(op[1], op[2]))
            elif op[0] == "mprotect":
                out.append(mm.mprotect(op[1], op[2], op[3]))
            elif op[0] == "placed":
                a = mm.mmap(op[1])
                mm.fault(a, True)
                mm.munmap(a, op[1])
                out.append(a)
            else:
                out.append(mm.fault(op[1], op[2]))
        except (NotMappedError, SegmentationFault) as exc:
            out.append(type(exc).__name__)
    return out


@pytest.mark.parametrize("lock", LOCKS)
@pytest.mark.parametrize("policy", list(POLICIES))
def test_disjoint_threads_equal_sequential_replay(policy: str, lock: str) -> None:
    regions = [BASE + i * 64 * P for i in range(4)]
    scripts = [_script(100 + i, r) for i, r in enumerate(regions)]
    scripts.append([("placed", (1 + i % 3) * P) for i in range(60)])  # top-down, far above the regions
    mm = AddressSpace("list", policy=policy, page_work=1, lock=lock)
    results: list[list[Any]] = [[] for _ in scripts]
    barrier = threading.Barrier(len(scripts))

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = _run(mm, scripts[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(scripts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ref = AddressSpace("list", policy="full")
    expected = [_run(ref, s) for s in scripts]
    assert results == expected
    assert mm.vmas() == ref.vmas()
    assert mm.rss() == ref.rss()
    mm.check()
    assert live_requests(mm.index.lock) == 0  # no phantom ranges


@pytest.mark.parametrize("lock", LOCKS)
@pytest.mark.parametrize("policy", list(POLICIES))
def test_overlapping_threads_keep_invariants(policy: str, lock: str) -> None:
    """Threads fighting over one region: whatever the interleaving, check() passes and no range is left."""
    mm = AddressSpace("list", policy=policy, page_work=1, lock=lock, mmap_min_addr=BASE, mmap_base=BASE + 64 * P)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                s, n = BASE + rng.randrange(0, 48) * P, rng.randrange(1, 8) * P
                r = rng.random()
                try:
                    if r < 0.25:
                        mm.mmap(n, addr=s, prot=rng.choice([PROT_READ, RW]), flags=FIXED)
                    elif r < 0.4:
                        mm.munmap(mm.mmap(n), n)
                    elif r < 0.55:
                        mm.munmap(s, n)
                    elif r < 0.7:
                        mm.mprotect(s, n, rng.choice([PROT_READ, RW]))
                    else:
                        mm.fault(s + rng.randrange(n), rng.random() < 0.5)
                except (NotMappedError, SegmentationFault):
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    mm.check()
    assert live_requests(mm.index.lock) == 0
    assert all(v.start >= BASE for v in mm.vmas())


def test_sbrk_is_read_and_move_in_one_step() -> None:
    mm = AddressSpace("maple", policy="range")
    start = mm.brk()
    assert mm.sbrk(3 * PAGE_SIZE) == start and mm.brk() == start + 3 * PAGE_SIZE
    assert mm.sbrk(-PAGE_SIZE) == start + 3 * PAGE_SIZE
    with pytest.raises(InvalidRangeError):
        mm.sbrk(-10 * PAGE_SIZE)  # below start_brk: refused, nothing moved
    assert mm.brk() == start + 2 * PAGE_SIZE and len(mm.vmas()) == 1
    with pytest.raises(InvalidRangeError):
        mm.sbrk(1.5)  # type: ignore[arg-type]
    # threads racing up and down one page each always leave the break where it started
    barrier = threading.Barrier(4)

    def churn() -> None:
        barrier.wait()
        for _ in range(300):
            mm.sbrk(PAGE_SIZE)
            mm.sbrk(-PAGE_SIZE)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mm.brk() == start + 2 * PAGE_SIZE
    assert [(v.start, v.end) for v in mm.vmas()] == [(start, start + 2 * PAGE_SIZE)]
    mm.check()


def test_zap_work_is_what_munmap_does_per_populated_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import structures.mm.address_space as asp

    calls: list[int] = []
    monkeypatch.setattr(asp, "page_work", calls.append)
    mm = AddressSpace("maple", policy="full", page_work=16, zap_work=2)
    a = mm.mmap(8 * P, addr=BASE, flags=MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    for k in (0, 3, 5):
        mm.fault(a + k * P, True)
    assert calls == [16, 16, 16]  # a fault clears its page: page_work
    calls.clear()
    mm.munmap(a, 8 * P)
    assert calls == [2, 2, 2]  # the zap frees the three populated pages only: zap_work each
    default = AddressSpace("maple", policy="full", page_work=5)
    assert default.zap_work == 5  # unset: a zap costs a fault's page work, the model's default
    assert default.fork().zap_work == 5 and mm.fork().zap_work == 2


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_zap_work_is_refused_by_name(bad: object) -> None:
    with pytest.raises(InvalidRangeError, match="zap_work must be a non-negative int or None"):
        AddressSpace("maple", page_work=4, zap_work=bad)  # type: ignore[arg-type]


DOWNGRADE_POLICIES = [("full", "rwsem"), ("range", "range"), ("range", "range-list"), ("vma", "rwsem")]


@pytest.mark.parametrize("policy, lock", DOWNGRADE_POLICIES)
def test_munmap_downgrade_zaps_under_the_read_lock_and_keeps_the_semantics(policy: str, lock: str) -> None:
    mm = AddressSpace("maple", policy=policy, lock=lock, page_work=0, munmap_downgrade=True)
    fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
    a = mm.mmap(8 * P, addr=BASE, flags=fixed)
    for k in range(8):
        mm.fault(a + k * P, True)
    mm.munmap(a + 2 * P, 3 * P)  # a split: the middle goes, its three pages with it
    assert [(v.start, v.end) for v in mm.vmas()] == [(a, a + 2 * P), (a + 5 * P, a + 8 * P)]
    assert mm.rss() == 5
    top = mm.brk()
    mm.brk(top + 4 * P)
    mm.fault(top, True)
    mm.brk(top)  # the shrink zaps under the downgraded lock too
    assert mm.rss() == 5 and mm.brk() == top
    mm.check()
    h = mm.index.lock.try_write()  # the downgraded reads were released: the whole range is free
    assert h is not None
    mm.index.lock.release(h)
    child = mm.fork()
    assert child.munmap_downgrade and child.vmas() == mm.vmas()


def test_munmap_downgrade_lets_a_fault_elsewhere_run_beside_the_zap(monkeypatch: pytest.MonkeyPatch) -> None:
    """``full``: without the downgrade the zap holds the mmap lock for write and the fault waits."""
    import structures.mm.address_space as asp

    fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
    results = {}
    for down in (True, False):
        mm = AddressSpace("maple", policy="full", page_work=1, zap_work=7, munmap_downgrade=down)
        a = mm.mmap(4 * P, addr=BASE, flags=fixed)
        b = mm.mmap(4 * P, addr=BASE + 64 * P, flags=fixed)
        mm.fault(a, True)
        faulted = threading.Event()
        threads: list[threading.Thread] = []

        def hook(
            units: int, mm: AddressSpace = mm, b: int = b, faulted: threading.Event = faulted,
            threads: list[threading.Thread] = threads, down: bool = down,
        ) -> None:
            if units == 7:  # the zap's page work: a fault in another thread meanwhile
                t = threading.Thread(target=lambda: (mm.fault(b, True), faulted.set()))
                threads.append(t)
                t.start()
                faulted.wait(0.5)  # it gets in now only if the zap holds the lock for read
                results[down] = faulted.is_set()

        monkeypatch.setattr(asp, "page_work", hook)
        mm.munmap(a, 4 * P)
        monkeypatch.undo()
        for t in threads:
            t.join()  # without the downgrade: once munmap has released its write lock
        assert faulted.is_set() and mm.rss() == 1
        mm.check()
    assert results == {True: True, False: False}


def test_munmap_downgrade_needs_a_policy_that_downgrades() -> None:
    from structures.mm.policy import FullPolicy

    class NoDowngrade(FullPolicy):
        downgrades = False

    with pytest.raises(ValueError, match="munmap_downgrade: policy 'full' cannot run a zap"):
        AddressSpace("maple", policy=NoDowngrade, munmap_downgrade=True)
    assert AddressSpace("maple", policy=NoDowngrade).munmap_downgrade is False
