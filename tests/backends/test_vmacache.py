"""The ``vmacache+X`` front end: hits, lazy flushes, per-thread isolation, and
never serving a removed VMA (a deterministic stale-fill race and a threaded run)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from structures import PAGE_SIZE, PMD_SHIFT, VMA, make_index
from structures.backends.list import ListIndex
from structures.backends.vmacache import VMACacheIndex
from structures.base import VMAIndex

P = PAGE_SIZE
PMD = 1 << PMD_SHIFT


def pmd_vmas(n: int) -> list[VMA]:
    """One 1-page VMA at the start of each of n consecutive PMDs."""
    return [VMA(i * PMD, i * PMD + P, name=f"v{i}") for i in range(n)]


def cache_over(vmas: list[VMA], **kw: Any) -> VMACacheIndex:
    idx = make_index("vmacache+list", **kw)
    assert isinstance(idx, VMACacheIndex)
    for v in vmas:
        idx.insert(v)
    return idx


def test_registry_builds_over_any_backend() -> None:
    for inner in ("list", "rbtree"):
        idx = make_index(f"vmacache+{inner}", slots=2, hash="page")
        assert isinstance(idx, VMACacheIndex)
        assert idx.inner.name == inner and idx.name == f"vmacache+{inner}"
        assert idx._mutex is idx.inner._mutex
        assert idx.lockless_reads == idx.inner.lockless_reads
    with pytest.raises(ValueError):
        VMACacheIndex(ListIndex(), hash="pud")
    with pytest.raises(ValueError):
        VMACacheIndex(ListIndex(), slots=0)
    with pytest.raises(TypeError):
        VMACacheIndex(object())  # type: ignore[arg-type]


def test_hits_misses_and_counts() -> None:
    vmas = pmd_vmas(8)
    idx = cache_over(vmas)
    st0 = idx.cache_stats()
    assert st0["cache_calls"] == 0
    assert idx.lookup(vmas[1].start) == vmas[1]  # first call: flush (new thread) + miss
    assert idx.lookup(vmas[1].start) == vmas[1]  # hit
    assert idx.find(vmas[1].start) == vmas[1]  # find goes through the cache too
    assert idx.lookup(vmas[1].start + P) is None  # unmapped: miss, nothing cached
    st = idx.stats()
    assert st["cache_calls"] == 4 and st["cache_hits"] == 2 and st["cache_flushes"] == 1
    assert st["hit_rate"] == pytest.approx(0.5)
    assert st["vmas"] == 8


def test_slot_hash_and_probe_all_slots() -> None:
    vmas = pmd_vmas(8)
    idx = cache_over(vmas)
    for v in vmas[:4]:  # PMDs 0..3 fill slots 0..3
        idx.lookup(v.start)
    c = idx._tls.c
    assert c.slots == vmas[:4]
    # PMD 4 hashes to slot 0 and evicts vmas[0]
    idx.lookup(vmas[4].start)
    assert c.slots[0] == vmas[4]
    hits = idx.cache_stats()["cache_hits"]
    idx.lookup(vmas[3].start)  # found by probing from its own slot
    assert idx.cache_stats()["cache_hits"] == hits + 1
    # a big VMA found at an address hashing to slot 2 is a hit from any slot
    big = VMA(100 * PMD, 104 * PMD)
    idx.insert(big)
    idx.lookup(102 * PMD)
    assert c.slots[(102 * PMD >> PMD_SHIFT) % 4] == big
    hits = idx.cache_stats()["cache_hits"]
    idx.lookup(101 * PMD + 5 * P)
    assert idx.cache_stats()["cache_hits"] == hits + 1


def test_page_hash_variant() -> None:
    idx = cache_over([VMA(0, 16 * P)], hash="page")
    idx.lookup(5 * P)
    assert idx._tls.c.slots[1] == VMA(0, 16 * P)


def test_every_mutation_flushes_lazily() -> None:
    vmas = pmd_vmas(4)
    idx = cache_over(vmas)
    idx.lookup(vmas[0].start)
    assert idx.lookup(vmas[0].start) == vmas[0]
    flushes = idx.cache_stats()["cache_flushes"]
    new = VMA(vmas[0].start, vmas[0].end, name="new")
    idx.replace([vmas[0]], [new])
    assert idx.lookup(vmas[0].start) == new
    assert idx.cache_stats()["cache_flushes"] == flushes + 1
    idx.remove(new)
    assert idx.lookup(vmas[0].start) is None
    idx.lookup(vmas[2].start)
    idx.clear()
    assert idx.lookup(vmas[2].start) is None
    idx.insert(vmas[2])
    idx.lookup(vmas[2].start)
    idx.flush_cache()
    before = idx.cache_stats()
    assert idx.lookup(vmas[2].start) == vmas[2]
    after = idx.cache_stats()
    assert after["cache_flushes"] == before["cache_flushes"] + 1
    assert after["cache_hits"] == before["cache_hits"]
    idx.check()


def test_mutation_through_the_inner_index_also_flushes() -> None:
    vmas = pmd_vmas(2)
    idx = cache_over(vmas)
    assert idx.lookup(vmas[0].start) == vmas[0]
    idx.inner.remove(vmas[0])
    assert idx.lookup(vmas[0].start) is None


def test_per_thread_isolation() -> None:
    vmas = pmd_vmas(8)
    idx = cache_over(vmas)
    idx.lookup(vmas[0].start)
    idx.lookup(vmas[0].start)
    mine = idx._tls.c
    seen: dict[str, Any] = {}

    def other() -> None:
        seen["first"] = idx.cache_stats()["cache_hits"]
        idx.lookup(vmas[0].start)  # a miss here: another thread's slots are not shared
        seen["slots"] = list(idx._tls.c.slots)
        seen["mine_is_theirs"] = idx._tls.c is mine

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["mine_is_theirs"] is False
    assert seen["slots"][0] == vmas[0]
    st = idx.cache_stats()
    assert st["cache_threads"] == 2
    assert st["cache_hits"] == seen["first"] == 1  # the other thread's lookup missed
    assert st["cache_calls"] == 3
    # two front ends over separate indexes never share slots either
    idx2 = cache_over(vmas)
    assert idx2.cache_stats()["cache_calls"] == 0


class _RacyList(ListIndex):
    """A list index read without the mutex (``lockless_reads``, as maple's
    readers are) whose ``_lookup``/``_find`` let a writer run right after the
    answer is computed: the window between the query of X and the cache fill."""

    lockless_reads = True

    def __init__(self) -> None:
        super().__init__()
        self.hook: Any = None

    def _after(self) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            t = threading.Thread(target=hook)
            t.start()
            t.join()

    def _lookup(self, addr: int) -> VMA | None:
        v = super()._lookup(addr)
        self._after()
        return v

    def _find(self, addr: int) -> VMA | None:
        v = super()._find(addr)
        self._after()
        return v


@pytest.mark.parametrize("op", ["lookup", "find"])
def test_stale_fill_is_never_served(op: str) -> None:
    inner = _RacyList()
    idx = VMACacheIndex(inner)
    read = getattr(idx, op)
    v = VMA(0, PMD)
    idx.insert(v)
    inner.hook = lambda: idx.remove(v)  # removed after X answered, before the fill
    assert read(P) == v  # linearizes before the remove: fine
    assert read(P) is None  # the fill carries the old seq: flushed, not served
    assert idx.lookup(P) is None and idx.find(P) is None


@pytest.mark.parametrize("inner_name", ["list", "rbtree"])
def test_threaded_readers_never_see_a_removed_vma(inner_name: str) -> None:
    """A writer cycles distinct VMAs through the same range; ``removed`` is
    published only after ``remove()`` returned, so a lookup that starts after
    reading ``removed = k`` must never return VMA number <= k."""
    idx: VMAIndex = make_index(f"vmacache+{inner_name}")
    base = PMD
    keep = VMA(0, P, name="keep")
    idx.insert(keep)
    rounds = 400
    removed = [-1]
    errors: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        for k in range(rounds):
            v = VMA(base, base + 4 * P, pgoff=k)
            idx.insert(v)
            idx.remove(v)
            removed[0] = k
        stop.set()

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            done = removed[0]
            got = idx.lookup(base + rng.randrange(4) * P)
            if got is not None and got.pgoff <= done:
                errors.append(f"lookup returned {got!r} after remove #{done} returned")
            if idx.lookup(0) != keep:
                errors.append("lost the stable VMA")

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    writer()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    st = idx.stats()
    assert st["cache_calls"] >= st["cache_hits"] > 0
    idx.check()


@pytest.mark.parametrize("inner_name", ["maple", "xarray", "list"])
def test_fill_during_an_unpublished_mutation_is_never_served_after_it(inner_name: str) -> None:
    """A lookup that runs while a writer sits between its publish steps (``_commit``) may
    see the old VMA, but once the mutation has returned the cache must not serve it."""
    import threading

    from structures import available_backends

    if inner_name not in available_backends():
        pytest.skip(f"{inner_name} is not registered")
    idx = make_index(f"vmacache+{inner_name}")
    inner = idx.inner
    vmas = [VMA(i * 4 * P, i * 4 * P + P) for i in range(200)]
    for x in vmas:
        idx.insert(x)
    victim = vmas[100]
    res: dict[str, object] = {}
    go, filled, go2 = threading.Event(), threading.Event(), threading.Event()

    def reader() -> None:
        go.wait(5)
        res["during"] = idx.lookup(victim.start)
        filled.set()
        go2.wait(5)
        res["after"] = idx.lookup(victim.start)

    t = threading.Thread(target=reader)
    t.start()
    orig = inner._commit

    def preempted_commit() -> None:
        go.set()
        # a lock-free inner (maple) answers while we wait here; a locked one (list) or a
        # seqcount-validated one (xarray) makes the reader wait for the write instead
        filled.wait(0.3)
        orig()

    inner._commit = preempted_commit  # type: ignore[method-assign]
    try:
        idx.replace([victim], [])  # what munmap does
    finally:
        inner._commit = orig  # type: ignore[method-assign]
    go2.set()
    t.join(5)
    assert res["during"] in (victim, None)
    assert res["after"] is None
    assert inner.lookup(victim.start) is None


def test_exited_threads_are_folded_not_kept() -> None:
    import threading

    idx = make_index("vmacache+list")
    idx.insert(VMA(0, P))

    def worker() -> None:
        for _ in range(3):
            assert idx.lookup(0) == VMA(0, P)

    for _ in range(20):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    worker()  # this thread registers last: every exited thread is folded
    st = idx.cache_stats()
    assert st["cache_threads"] <= 2
    assert st["cache_calls"] == 21 * 3
    assert st["cache_hits"] == 21 * 2
