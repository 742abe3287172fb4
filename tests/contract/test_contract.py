"""The ``VMAIndex`` contract, run against every registered backend (see conftest).

Edges of every method, the bad-input table (each error leaves the index exactly
as it was), randomized differential runs against the ``list`` oracle, a
threaded run of churning writers beside readers of VMAs that never change, and
the index's carried lock of every kind guarding compound operations.
"""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

import pytest

from structures import (
    PAGE_SIZE,
    TASK_SIZE,
    VMA,
    InvalidRangeError,
    NotMappedError,
    OverlapError,
    make_index,
)
from structures.base import VMAIndex
from structures.locks import LOCK_KINDS

P = PAGE_SIZE


def v(a: int, b: int, **kw: Any) -> VMA:
    """A VMA over pages [a, b)."""
    return VMA(a * P, b * P, **kw)


def snapshot(idx: VMAIndex) -> tuple[list[VMA], int]:
    return list(idx), len(idx)


def fill(idx: VMAIndex, vmas: list[VMA]) -> None:
    for x in vmas:
        idx.insert(x)


def random_layout(rng: random.Random, n: int, span_pages: int = 1 << 20) -> list[VMA]:
    out: list[VMA] = []
    page = rng.randrange(0, 64)
    for _ in range(n):
        size = rng.choice((1, 1, 2, 3, 4, 8, 16, 64, 512))
        if page + size > span_pages:
            break
        out.append(v(page, page + size, prot=rng.choice((1, 3, 5))))
        page += size + rng.choice((0, 0, 1, 2, 5, 100))
    return out


# ----------------------------------------------------------------------
# empty index and single-VMA edges
# ----------------------------------------------------------------------
def test_empty_index(idx: VMAIndex) -> None:
    assert len(idx) == 0
    assert list(idx) == []
    assert not idx
    for addr in (0, P, TASK_SIZE - 1):
        assert idx.find(addr) is None
        assert idx.lookup(addr) is None
        assert idx.find_prev(addr) is None
    assert idx.find_prev(TASK_SIZE) is None
    assert idx.intersection(0, TASK_SIZE) is None
    assert idx.overlapping(0, TASK_SIZE) == []
    assert idx.find_gap(P) == 0
    assert idx.find_gap(P, top_down=True) == TASK_SIZE - P
    assert idx.find_gap(TASK_SIZE) == 0
    assert idx.find_gap(TASK_SIZE, top_down=True) == 0
    assert idx.find_gap(4 * P, low=8 * P, high=12 * P) == 8 * P
    assert idx.find_gap(4 * P, low=8 * P, high=12 * P, top_down=True) == 8 * P
    assert idx.find_gap(5 * P, low=8 * P, high=12 * P) is None
    idx.check()
    st = idx.stats()
    for key in ("vmas", "height", "nodes", "bytes"):
        assert key in st
    assert st["vmas"] == 0
    assert idx.probe(0) >= 0


def test_vma_at_address_zero_and_top(idx: VMAIndex) -> None:
    low = VMA(0, P)
    top = VMA(TASK_SIZE - P, TASK_SIZE)
    idx.insert(low)
    idx.insert(top)
    idx.check()
    assert idx.find(0) == low
    assert idx.lookup(0) == low
    assert idx.lookup(P - 1) == low
    assert idx.lookup(P) is None
    assert idx.find(P) == top
    assert idx.lookup(TASK_SIZE - 1) == top
    assert idx.find(TASK_SIZE - 1) == top
    assert idx.find_prev(0) is None
    assert idx.find_prev(P) == low
    assert idx.find_prev(TASK_SIZE - 1) == low
    assert idx.find_prev(TASK_SIZE) == top
    assert idx.intersection(P, TASK_SIZE - P) is None
    assert idx.intersection(P, TASK_SIZE - P + 1) == top
    assert idx.overlapping(0, TASK_SIZE) == [low, top]
    assert idx.find_gap(P) == P
    assert idx.find_gap(P, top_down=True) == TASK_SIZE - 2 * P
    assert idx.find_gap(TASK_SIZE - 2 * P) == P
    assert idx.find_gap(TASK_SIZE - 2 * P, top_down=True) == P
    assert idx.find_gap(TASK_SIZE - P) is None
    assert idx.find_gap(TASK_SIZE - P, top_down=True) is None
    assert idx.probe(TASK_SIZE - 1) >= 1


def test_adjacent_vmas(idx: VMAIndex) -> None:
    a, b, c = v(10, 20), v(20, 30), v(30, 31)
    fill(idx, [b, a, c])
    idx.check()
    assert list(idx) == [a, b, c]
    assert idx.lookup(20 * P - 1) == a
    assert idx.lookup(20 * P) == b
    assert idx.find(20 * P) == b
    assert idx.find_prev(20 * P) == a
    assert idx.find_prev(20 * P - 1) is None
    assert idx.find_prev(31 * P) == c
    assert idx.intersection(20 * P - 1, 20 * P) == a
    assert idx.intersection(20 * P, 20 * P + 1) == b
    assert idx.overlapping(19 * P, 30 * P + 1) == [a, b, c]
    assert idx.overlapping(20 * P, 30 * P) == [b]
    assert idx.find_gap(P, low=10 * P, high=31 * P) is None
    assert idx.find_gap(P, low=10 * P, high=32 * P) == 31 * P
    assert idx.find_gap(P, low=9 * P, high=31 * P, top_down=True) == 9 * P


def test_find_semantics_between_vmas(idx: VMAIndex) -> None:
    a, b = v(10, 20), v(40, 50)
    fill(idx, [a, b])
    assert idx.find(0) == a
    assert idx.find(25 * P) == b
    assert idx.lookup(25 * P) is None
    assert idx.find(50 * P) is None
    assert idx.find_prev(25 * P) == a
    assert idx.find_prev(45 * P) == a
    assert idx.find_prev(50 * P) == b
    assert idx.intersection(20 * P, 40 * P) is None
    assert idx.intersection(21 * P, 41 * P) == b
    assert idx.overlapping(20 * P, 40 * P) == []
    assert idx.overlapping(15 * P, 45 * P) == [a, b]
    assert 15 * P in idx
    assert 25 * P not in idx
    assert a in idx
    assert v(10, 20, prot=1) not in idx


def test_find_gap_clipping_both_directions(idx: VMAIndex) -> None:
    # holes: [0,10) [20,25) [30,40) [50, TASK)
    fill(idx, [v(10, 20), v(25, 30), v(40, 50)])
    # bottom-up
    assert idx.find_gap(5 * P) == 0
    assert idx.find_gap(10 * P) == 0
    assert idx.find_gap(11 * P) == 50 * P
    assert idx.find_gap(5 * P, low=P) == P
    assert idx.find_gap(10 * P, low=P) == 30 * P
    assert idx.find_gap(5 * P, low=12 * P) == 20 * P
    assert idx.find_gap(6 * P, low=12 * P) == 30 * P
    assert idx.find_gap(10 * P, low=30 * P, high=40 * P) == 30 * P
    assert idx.find_gap(10 * P, low=31 * P, high=60 * P) == 50 * P
    assert idx.find_gap(10 * P, low=31 * P, high=59 * P) is None
    assert idx.find_gap(2 * P, low=22 * P, high=24 * P) == 22 * P
    assert idx.find_gap(3 * P, low=22 * P, high=24 * P) is None
    # top-down
    assert idx.find_gap(5 * P, top_down=True) == TASK_SIZE - 5 * P
    assert idx.find_gap(5 * P, high=50 * P, top_down=True) == 35 * P
    assert idx.find_gap(10 * P, high=50 * P, top_down=True) == 30 * P
    assert idx.find_gap(11 * P, high=50 * P, top_down=True) is None
    assert idx.find_gap(5 * P, high=40 * P, top_down=True) == 35 * P
    assert idx.find_gap(5 * P, high=30 * P, top_down=True) == 20 * P
    assert idx.find_gap(6 * P, high=30 * P, top_down=True) == 4 * P
    assert idx.find_gap(11 * P, high=30 * P, top_down=True) is None
    assert idx.find_gap(5 * P, low=3 * P, high=30 * P, top_down=True) == 20 * P
    assert idx.find_gap(8 * P, low=3 * P, high=30 * P, top_down=True) is None
    assert idx.find_gap(7 * P, low=3 * P, high=30 * P, top_down=True) == 3 * P
    assert idx.find_gap(P, low=45 * P, high=60 * P, top_down=True) == 59 * P
    assert idx.find_gap(10 * P, low=45 * P, high=60 * P, top_down=True) == 50 * P
    # window entirely inside one VMA
    assert idx.find_gap(P, low=41 * P, high=49 * P) is None
    assert idx.find_gap(P, low=41 * P, high=49 * P, top_down=True) is None


def test_remove_and_clear(idx: VMAIndex) -> None:
    vmas = [v(i * 10, i * 10 + 5) for i in range(50)]
    fill(idx, vmas)
    for x in vmas[::2]:
        idx.remove(x)
        idx.check()
    assert list(idx) == vmas[1::2]
    assert len(idx) == 25
    idx.clear()
    idx.check()
    assert list(idx) == [] and len(idx) == 0
    fill(idx, vmas[:3])
    assert list(idx) == vmas[:3]


def test_replace_is_atomic_split(idx: VMAIndex) -> None:
    a = v(10, 30, name="lib")
    fill(idx, [a, v(40, 50)])
    pieces = [a.with_range(10 * P, 15 * P), a.with_range(20 * P, 30 * P)]
    idx.replace([a], pieces)
    idx.check()
    assert list(idx)[:2] == pieces
    assert pieces[1].pgoff == 10
    # a replace that fails changes nothing
    before = snapshot(idx)
    with pytest.raises(OverlapError):
        idx.replace([pieces[0]], [v(12, 45)])
    with pytest.raises(NotMappedError):
        idx.replace([v(1, 2)], [])
    with pytest.raises(OverlapError):
        idx.replace([], [v(0, 3), v(2, 4)])
    assert snapshot(idx) == before
    idx.check()


def test_iteration_order_and_batches(idx: VMAIndex) -> None:
    rng = random.Random(7)
    vmas = random_layout(rng, 300)
    shuffled = vmas[:]
    rng.shuffle(shuffled)
    fill(idx, shuffled)
    assert list(idx) == vmas
    assert idx.to_list() == vmas
    idx.check()


def test_probe_and_stats_grow(idx: VMAIndex) -> None:
    rng = random.Random(3)
    vmas = random_layout(rng, 400)
    fill(idx, vmas)
    st = idx.stats()
    assert st["vmas"] == len(vmas)
    assert st["nodes"] >= 1
    assert st["bytes"] > 0
    depth = idx.probe(vmas[len(vmas) // 2].start)
    assert 1 <= depth <= 4 * len(vmas).bit_length() + 8


# ----------------------------------------------------------------------
# differential run against the oracle
# ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_differential_against_list(make: Any, seed: int) -> None:
    rng = random.Random(seed)
    idx = make()
    ref = make_index("list")
    universe = 3000  # pages
    live: list[VMA] = []
    for step in range(900):
        r = rng.random()
        if r < 0.55 or not live:
            a = rng.randrange(universe)
            b = min(universe, a + rng.choice((1, 1, 2, 3, 7, 30, 200)))
            x = v(a, b, prot=rng.choice((1, 3)))
            try:
                ref.insert(x)
            except OverlapError as exc:
                with pytest.raises(OverlapError) as got:
                    idx.insert(x)
                assert got.value.existing is not None and got.value.existing.overlaps(x.start, x.end)
                assert exc.existing is not None
            else:
                idx.insert(x)
                live.append(x)
        else:
            x = live.pop(rng.randrange(len(live)))
            ref.remove(x)
            idx.remove(x)
        if step % 50 == 0:
            idx.check()
        for _ in range(3):
            addr = rng.randrange(universe + 5) * P + rng.choice((0, 1, P - 1))
            assert idx.find(addr) == ref.find(addr)
            assert idx.lookup(addr) == ref.lookup(addr)
            assert idx.find_prev(addr) == ref.find_prev(addr)
            end = addr + rng.choice((1, P, 5 * P, 100 * P))
            assert idx.intersection(addr, end) == ref.intersection(addr, end)
            assert idx.overlapping(addr, end) == ref.overlapping(addr, end)
        length = rng.choice((1, 2, 3, 8, 50)) * P
        low = rng.randrange(universe) * P
        high = min(TASK_SIZE, low + rng.choice((1, 10, 100, 4000, 1 << 30)) * P)
        for top in (False, True):
            assert idx.find_gap(length, low, high, top) == ref.find_gap(length, low, high, top), (
                length,
                low,
                high,
                top,
            )
    assert list(idx) == list(ref)
    assert len(idx) == len(ref)
    idx.check()


# ----------------------------------------------------------------------
# bad input: a clear error and nothing changed
# ----------------------------------------------------------------------
BAD_VMAS = [
    ("non-int start", lambda: VMA("0", P), InvalidRangeError, "start"),
    ("bool start", lambda: VMA(True, P), InvalidRangeError, "start"),
    ("float end", lambda: VMA(0, 4096.0), InvalidRangeError, "end"),
    ("negative start", lambda: VMA(-P, P), InvalidRangeError, "start"),
    ("unaligned start", lambda: VMA(1, P), InvalidRangeError, "start"),
    ("unaligned end", lambda: VMA(0, P + 1), InvalidRangeError, "end"),
    ("start == end", lambda: VMA(P, P), InvalidRangeError, "start"),
    ("start > end", lambda: VMA(2 * P, P), InvalidRangeError, "start"),
    ("beyond TASK_SIZE", lambda: VMA(0, TASK_SIZE + P), InvalidRangeError, "end"),
    ("negative prot", lambda: VMA(0, P, prot=-1), InvalidRangeError, "prot"),
    ("non-str name", lambda: VMA(0, P, name=3), InvalidRangeError, "name"),
]


@pytest.mark.parametrize("label,build,exc,field", BAD_VMAS, ids=[b[0] for b in BAD_VMAS])
def test_bad_vma_values(label: str, build: Any, exc: type, field: str) -> None:
    with pytest.raises(exc) as info:
        build()
    assert field in str(info.value)


def _bad_calls() -> list[tuple[str, Any, type]]:
    return [
        ("overlapping insert", lambda i: i.insert(v(15, 25)), OverlapError),
        ("duplicate insert", lambda i: i.insert(v(10, 20)), OverlapError),
        ("insert covering two", lambda i: i.insert(v(0, 100)), OverlapError),
        ("insert non-VMA", lambda i: i.insert((0, P)), TypeError),
        ("remove absent", lambda i: i.remove(v(60, 70)), NotMappedError),
        ("remove other attributes", lambda i: i.remove(v(10, 20, prot=1)), NotMappedError),
        ("remove sub-range", lambda i: i.remove(v(10, 15)), NotMappedError),
        ("remove non-VMA", lambda i: i.remove("x"), TypeError),
        ("find str", lambda i: i.find("1"), InvalidRangeError),
        ("find bool", lambda i: i.find(True), InvalidRangeError),
        ("find negative", lambda i: i.find(-1), InvalidRangeError),
        ("find beyond", lambda i: i.find(TASK_SIZE), InvalidRangeError),
        ("lookup float", lambda i: i.lookup(1.0), InvalidRangeError),
        ("find_prev beyond", lambda i: i.find_prev(TASK_SIZE + 1), InvalidRangeError),
        ("overlapping empty range", lambda i: i.overlapping(5 * P, 5 * P), InvalidRangeError),
        ("intersection reversed", lambda i: i.intersection(9 * P, 5 * P), InvalidRangeError),
        ("gap zero length", lambda i: i.find_gap(0), InvalidRangeError),
        ("gap negative length", lambda i: i.find_gap(-P), InvalidRangeError),
        ("gap unaligned length", lambda i: i.find_gap(P + 1), InvalidRangeError),
        ("gap float length", lambda i: i.find_gap(4096.0), InvalidRangeError),
        ("gap bool length", lambda i: i.find_gap(True), InvalidRangeError),
        ("gap unaligned low", lambda i: i.find_gap(P, low=1), InvalidRangeError),
        ("gap unaligned high", lambda i: i.find_gap(P, high=TASK_SIZE - 1), InvalidRangeError),
        ("gap low >= high", lambda i: i.find_gap(P, low=8 * P, high=8 * P), InvalidRangeError),
        ("gap high beyond", lambda i: i.find_gap(P, high=TASK_SIZE + P), InvalidRangeError),
        ("gap negative low", lambda i: i.find_gap(P, low=-P), InvalidRangeError),
        ("probe beyond", lambda i: i.probe(TASK_SIZE), InvalidRangeError),
    ]


BAD_CALLS = _bad_calls()


@pytest.mark.parametrize("label,call,exc", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_changes_nothing(idx: VMAIndex, label: str, call: Any, exc: type) -> None:
    fill(idx, [v(10, 20), v(30, 40), v(50, 55)])
    before = snapshot(idx)
    seq = idx.mutation_seq
    with pytest.raises(exc) as info:
        call(idx)
    assert str(info.value)  # the message names the problem
    assert snapshot(idx) == before
    assert idx.mutation_seq == seq
    idx.check()


def test_overlap_error_carries_existing(idx: VMAIndex) -> None:
    a = v(10, 20)
    idx.insert(a)
    with pytest.raises(OverlapError) as info:
        idx.insert(v(19, 21))
    assert info.value.existing == a
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------------
# concurrency: writers churn disjoint regions, readers see stable VMAs
# ----------------------------------------------------------------------
def test_concurrent_writers_and_readers(make: Any) -> None:
    idx = make()
    stable = [v(i * 1000, i * 1000 + 10, name=f"stable{i}") for i in range(40)]
    fill(idx, stable)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(wid: int) -> None:
        rng = random.Random(wid)
        mine: list[VMA] = []
        base = wid * 20_000 + 100  # pages 100.. inside gaps of the stable VMAs' blocks
        try:
            for _ in range(600):
                if mine and (len(mine) > 30 or rng.random() < 0.45):
                    idx.remove(mine.pop(rng.randrange(len(mine))))
                else:
                    blk = rng.randrange(0, 20)
                    start = base + blk * 1000 + rng.randrange(0, 800)
                    x = v(start, start + rng.randrange(1, 50))
                    try:
                        idx.insert(x)
                        mine.append(x)
                    except OverlapError:
                        pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader(rid: int) -> None:
        rng = random.Random(100 + rid)
        try:
            while not stop.is_set():
                s = rng.choice(stable)
                addr = s.start + rng.randrange(0, 10 * P)
                if idx.lookup(addr) != s or idx.find(addr) != s:
                    raise AssertionError(f"reader {rid}: lost {s!r} at {addr:#x}")
                got = idx.overlapping(s.start, s.end)
                if got != [s]:
                    raise AssertionError(f"reader {rid}: overlapping({s!r}) = {got!r}")
                seen = [x for x in idx if x.name.startswith("stable")]
                if seen != stable:
                    raise AssertionError(f"reader {rid}: iteration saw {len(seen)} stable VMAs")
                snap = idx.to_list()  # one atomic snapshot (the xarray's whole-space walk)
                if [x for x in snap if x.name.startswith("stable")] != stable:
                    raise AssertionError(f"reader {rid}: to_list() lost stable VMAs")
                if any(a.end > b.start for a, b in itertools.pairwise(snap)):
                    raise AssertionError(f"reader {rid}: to_list() is not sorted and disjoint")
        except BaseException as exc:
            errors.append(exc)

    # writers work at pages >= 100 and < 1000 + blk*1000 ... keep them off the stable VMAs:
    # stable i covers pages [i*1000, i*1000+10); writers start at page >= 100 within each block.
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors[0]
    idx.check()
    assert [x for x in idx if x.name.startswith("stable")] == stable


# ----------------------------------------------------------------------
# the lock every index carries, of every kind
# ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(LOCK_KINDS))
def test_carried_lock_of_every_kind_guards_check_then_act(make: Any, kind: str) -> None:
    """Threads look for room, then map it, under ``idx.lock.write`` of the pages they test; readers
    check under ``idx.lock.read`` that what they see cannot change. Any kind: no ``OverlapError``,
    no torn read, nothing left in the lock."""
    idx = make(lock=kind)
    assert type(idx.lock) is LOCK_KINDS[kind]
    errors: list[BaseException] = []
    lock = idx.lock

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                a = rng.randrange(0, 64)
                b = a + rng.randrange(1, 6)
                with lock.write(a * P, b * P):  # check-then-act is atomic only under the lock
                    hit = idx.intersection(a * P, b * P)
                    if hit is None:
                        idx.insert(v(a, b))
                    elif rng.random() < 0.5 and hit.start >= a * P and hit.end <= b * P:
                        idx.remove(hit)
        except BaseException as exc:
            errors.append(exc)

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                a = rng.randrange(0, 64)
                with lock.read(a * P, (a + 4) * P):
                    first = idx.overlapping(a * P, (a + 4) * P)
                    if idx.overlapping(a * P, (a + 4) * P) != first:
                        raise AssertionError(f"pages [{a}, {a + 4}) changed under a read lock")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=reader, args=(10 + i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]
    idx.check()
    stats = lock.stats()
    assert stats["waiting"] == 0 and stats["readers"] == 0 and not stats.get("writers", stats.get("writer"))
