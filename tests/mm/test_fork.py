"""AddressSpace.fork(): an equal, independent child with its own lock and policy, under load."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from structures import available_backends
from structures.mm.address_space import AddressSpace
from structures.mm.policy import POLICIES
from structures.vma import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, VMA

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
FIXED = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
BASE = 0x1000_0000
BACKENDS = [
    b for b in ("list", "rbtree", "maple", "xarray", "vmacache+maple") if b.split("+")[-1] in available_backends()
]


@pytest.fixture(params=[(b, p) for b in BACKENDS for p in POLICIES], ids=lambda bp: f"{bp[0]}-{bp[1]}")
def mm(request: pytest.FixtureRequest) -> AddressSpace:
    backend, policy = request.param
    return AddressSpace(backend, policy=policy)


def populate(mm: AddressSpace, rng: random.Random, n: int = 60) -> None:
    for i in range(n):
        addr = BASE + i * 8 * P
        mm.mmap(rng.choice((1, 2, 4)) * P, addr=addr, flags=FIXED, prot=rng.choice((PROT_READ, RW)), name=f"m{i % 7}")
        mm.fault(addr)
    mm.brk(mm.start_brk + 5 * P)


def test_fork_is_equal(mm: AddressSpace) -> None:
    populate(mm, random.Random(1))
    child = mm.fork()
    child.check()
    mm.check()
    assert child.vmas() == mm.vmas()
    assert child.rss() == mm.rss() and child.brk() == mm.brk() and child.start_brk == mm.start_brk
    assert type(child.index) is type(mm.index) and child.index.name == mm.index.name
    assert child.index is not mm.index
    assert child.index.lock is not mm.index.lock and type(child.index.lock) is type(mm.index.lock)
    assert child.policy is not mm.policy and child.policy.name == mm.policy.name
    assert child.page_work == mm.page_work and child.mmap_base == mm.mmap_base
    assert mm.stats()["forks"] == 1 and "forks" not in child.stats()


def test_fork_is_independent_both_ways(mm: AddressSpace) -> None:
    rng = random.Random(2)
    populate(mm, rng)
    before = mm.vmas()
    child = mm.fork()
    # the child changes: the parent does not see it
    child.munmap(BASE, 16 * P)
    child.mprotect(BASE + 40 * P, P, PROT_READ)
    child.mmap(3 * P, addr=BASE + 1000 * P, flags=FIXED)
    child.brk(child.start_brk + 9 * P)
    child.fault(BASE + 1000 * P, write=True)
    assert mm.vmas() == before and mm.brk() == mm.start_brk + 5 * P
    assert mm.index.lookup(BASE + 1000 * P) is None
    # the parent changes: the child does not see it
    child_before = child.vmas()
    mm.munmap(BASE + 64 * P, 64 * P)
    mm.mmap(P, addr=BASE + 2000 * P, flags=FIXED)
    assert child.vmas() == child_before
    for space in (mm, child):
        space.check()


def test_fork_of_a_fork_and_of_an_empty_space() -> None:
    for backend in BACKENDS:
        empty = AddressSpace(backend)
        c = empty.fork()
        assert c.vmas() == [] and c.rss() == 0
        c.check()
        mm = AddressSpace(backend, policy="vma")
        populate(mm, random.Random(3), 20)
        grand = mm.fork().fork()
        assert grand.vmas() == mm.vmas()
        grand.munmap(BASE, P)
        assert mm.index.lookup(BASE) is not None
        grand.check()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("policy", list(POLICIES))
def test_fork_while_threads_fault_and_map(backend: str, policy: str) -> None:
    """Faulting threads and a mapping thread keep running around forks; every child is
    a consistent snapshot (its own invariants hold) and the parent stays valid."""
    mm = AddressSpace(backend, policy=policy)
    stable = [VMA(BASE + i * 64 * P, BASE + i * 64 * P + 8 * P) for i in range(20)]
    for v in stable:
        mm.mmap(8 * P, addr=v.start, flags=FIXED)
    stop = threading.Event()
    errors: list[BaseException] = []

    def faulter(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                v = rng.choice(stable)
                mm.fault(v.start + rng.randrange(8) * P, write=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def mapper() -> None:
        rng = random.Random(9)
        try:
            while not stop.is_set():
                addr = BASE + rng.randrange(20) * 64 * P + 16 * P + rng.randrange(32) * P
                mm.mmap(P, addr=addr, flags=FIXED)
                mm.munmap(addr, P)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=faulter, args=(s,)) for s in range(2)] + [threading.Thread(target=mapper)]
    for t in threads:
        t.start()
    try:
        for _ in range(8):
            child = mm.fork()
            child.check()
            got = child.index.overlapping(BASE, BASE + 20 * 64 * P)
            assert all(any(g.start <= v.start and v.end <= g.end for g in got) for v in stable)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    mm.check()


def test_fork_under_vma_waits_for_a_fault_in_progress() -> None:
    """Under ``vma`` faults bypass the mmap lock, so fork write-marks every VMA
    (Linux 6.4's ``dup_mmap``): it waits for a fault already inside a VMA, and
    leaves no VMA marked once it returns."""
    mm = AddressSpace("maple", policy="vma")
    mm.mmap(4 * P, addr=BASE, flags=FIXED)
    pol: Any = mm.policy
    entry = pol._vl[id(mm.vmas()[0])]
    fault_in_progress = pol._reader_lock(entry).try_read()
    out: list[AddressSpace] = []
    t = threading.Thread(target=lambda: out.append(mm.fork()))
    t.start()
    t.join(0.05)
    assert t.is_alive() and not out  # fork waits for the fault to be done with its VMA
    pol._reader_lock(entry).release(fault_in_progress)
    t.join(5)
    assert len(out) == 1 and out[0].vmas() == mm.vmas()
    mm.check()  # no VMA left write-marked
    mm.fault(BASE)  # and faults take the per-VMA path again
    assert mm.stats()["fallbacks"] == 0
