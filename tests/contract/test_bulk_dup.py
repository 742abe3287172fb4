"""``bulk_load``, ``dup`` and ``write_stats`` of the ``VMAIndex`` contract, on every backend spec.

A bulk-built index and a duplicate must be indistinguishable from an index built
by ``insert``: ``check()`` passes and every query answers as the ``list``
oracle does, also after further writes.  A refused ``bulk_load`` changes
nothing; a duplicate is independent of its original both ways (checked against
two oracles) and can be made while readers and writers use the original.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from structures import PAGE_SIZE, TASK_SIZE, VMA, InvalidRangeError, OverlapError, make_index
from structures.base import WRITE_STATS, NotEmptyError, VMAIndex, sorted_vmas

P = PAGE_SIZE


def v(a: int, b: int, **kw: Any) -> VMA:
    return VMA(a * P, b * P, **kw)


def layout(rng: random.Random, n: int) -> list[VMA]:
    """``n`` sorted VMAs: mostly touching (as a process maps them), some holes, some
    at the edges of the address space."""
    out: list[VMA] = []
    page = rng.choice((0, 0, 1, rng.randrange(1 << 20)))
    for i in range(n):
        size = rng.choice((1, 1, 2, 3, 8, 64, 2048))
        if (page + size) * P > TASK_SIZE:
            break
        out.append(v(page, page + size, prot=rng.choice((1, 3, 5)), name=f"v{i}"))
        page += size + rng.choice((0, 0, 0, 1, 7, 1 << 12))
    return out


def assert_same_answers(idx: VMAIndex, ref: VMAIndex, rng: random.Random, probes: int = 150) -> None:
    """Every query of the contract answers as the oracle does (edges, stored bounds, random)."""
    assert len(idx) == len(ref)
    assert list(idx) == list(ref)
    assert idx.to_list() == ref.to_list()
    vmas = ref.to_list()
    addrs = [0, P, TASK_SIZE - 1]
    for x in rng.sample(vmas, min(len(vmas), probes)):
        addrs += [x.start, x.end - 1, x.end, max(0, x.start - 1)]
    addrs += [rng.randrange(TASK_SIZE) for _ in range(20)]
    if vmas:
        hi = vmas[-1].end + 8 * P
        addrs += [rng.randrange(min(hi, TASK_SIZE)) for _ in range(probes)]
    for a in addrs:
        a = min(a, TASK_SIZE - 1)
        assert idx.find(a) == ref.find(a), hex(a)
        assert idx.lookup(a) == ref.lookup(a), hex(a)
        assert idx.find_prev(a) == ref.find_prev(a), hex(a)
        end = min(TASK_SIZE, a + rng.choice((1, P, 9 * P, 300 * P)))
        assert idx.intersection(a, end) == ref.intersection(a, end)
        assert idx.overlapping(a, end) == ref.overlapping(a, end)
    for _ in range(40):
        length = rng.choice((1, 2, 3, 9, 100, 5000)) * P
        low = rng.choice((0, rng.randrange(0, TASK_SIZE, P)))
        high = rng.choice((TASK_SIZE, min(TASK_SIZE, low + rng.choice((1, 50, 1 << 14)) * P)))
        if high <= low:
            continue
        for top in (False, True):
            assert idx.find_gap(length, low, high, top) == ref.find_gap(length, low, high, top)


def churn(idx: VMAIndex, ref: VMAIndex, rng: random.Random, steps: int) -> None:
    """Random inserts and removes on both, in step (the built structure must take writes)."""
    for _ in range(steps):
        live = ref.to_list()
        if live and rng.random() < 0.5:
            x = rng.choice(live)
            idx.remove(x)
            ref.remove(x)
            continue
        a = rng.randrange(1 << 21)
        x = v(a, a + rng.choice((1, 2, 5, 40)))
        try:
            ref.insert(x)
        except OverlapError:
            with pytest.raises(OverlapError):
                idx.insert(x)
        else:
            idx.insert(x)


# ----------------------------------------------------------------------
# bulk_load
# ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 17, 40, 130, 700])
def test_bulk_load_equals_incremental(make: Any, n: int) -> None:
    rng = random.Random(n)
    vmas = layout(rng, n)
    idx = make()
    seq = idx.mutation_seq
    idx.bulk_load(vmas)
    idx.check()
    assert idx.mutation_seq == seq + (1 if vmas else 0)
    ref = make_index("list")
    for x in vmas:
        ref.insert(x)
    assert_same_answers(idx, ref, rng)
    churn(idx, ref, rng, 120)
    idx.check()
    assert_same_answers(idx, ref, rng, probes=40)


def test_bulk_load_then_remove_all(make: Any) -> None:
    rng = random.Random(5)
    vmas = layout(rng, 300)
    idx = make()
    idx.bulk_load(iter(vmas))  # any iterable
    order = vmas[:]
    rng.shuffle(order)
    for i, x in enumerate(order):
        idx.remove(x)
        if i % 37 == 0:
            idx.check()
    assert len(idx) == 0 and list(idx) == []
    idx.check()
    idx.bulk_load(vmas[:10])  # empty again: allowed
    assert list(idx) == vmas[:10]
    idx.check()


@pytest.mark.parametrize("source", [None, "list", "xarray"])
def test_bulk_load_from_an_index(make: Any, source: str | None) -> None:
    """An index as the source (``fork``'s copy): its one snapshot, unchecked (its
    invariant), gives the index a list of its VMAs gives; an empty source, an index
    into itself (empty: nothing; not empty: refused, unchanged)."""
    rng = random.Random(11)
    vmas = layout(rng, 300)
    src = make() if source is None else make_index(source)
    first = make()
    first.bulk_load(src)  # an empty source: nothing
    assert len(first) == 0
    for x in vmas:
        src.insert(x)
    idx = make()
    seq = idx.mutation_seq
    idx.bulk_load(src)
    idx.check()
    assert idx.mutation_seq == seq + 1
    ref = make_index("list")
    ref.bulk_load(vmas)
    assert_same_answers(idx, ref, rng)
    with pytest.raises(NotEmptyError):
        idx.bulk_load(idx)
    assert idx.to_list() == vmas
    empty = make()
    empty.bulk_load(empty)
    assert len(empty) == 0
    churn(idx, ref, rng, 60)  # the source is untouched by writes to the copy
    assert src.to_list() == vmas


def test_bulk_load_whole_address_space(make: Any) -> None:
    idx = make()
    vmas = [VMA(0, P), VMA(P, 2 * P), VMA(TASK_SIZE - 2 * P, TASK_SIZE - P), VMA(TASK_SIZE - P, TASK_SIZE)]
    idx.bulk_load(vmas)
    idx.check()
    ref = make_index("list")
    ref.bulk_load(vmas)
    assert_same_answers(idx, ref, random.Random(1))
    assert idx.find_gap(P) == 2 * P
    assert idx.find_gap(P, top_down=True) == TASK_SIZE - 3 * P


def _refusals() -> list[tuple[str, Any, type]]:
    a, b, c = v(10, 20), v(20, 30), v(40, 50)
    return [
        ("unsorted", [b, a], InvalidRangeError),
        ("unsorted far", [a, c, b], InvalidRangeError),
        ("overlapping", [a, v(15, 25)], OverlapError),
        ("duplicate", [a, a], OverlapError),
        ("same start", [a, v(10, 12)], OverlapError),
        ("not a VMA", [a, (20 * P, 30 * P)], TypeError),
        ("not a VMA first", ["x"], TypeError),
    ]


@pytest.mark.parametrize("label,items,exc", _refusals(), ids=[r[0] for r in _refusals()])
def test_bulk_load_refuses_bad_input_and_changes_nothing(make: Any, label: str, items: Any, exc: type) -> None:
    idx = make()
    seq = idx.mutation_seq
    with pytest.raises(exc) as info:
        idx.bulk_load(items)
    assert "bulk_load" in str(info.value) or exc is TypeError
    assert len(idx) == 0 and list(idx) == [] and idx.mutation_seq == seq
    idx.check()
    idx.insert(v(1, 2))  # still usable
    assert list(idx) == [v(1, 2)]


def test_sorted_vmas_names_the_first_bad_item_anywhere() -> None:
    good = [v(10 * i, 10 * i + 5) for i in range(1, 40)]
    assert sorted_vmas(iter(good)) == good and sorted_vmas([good[3]]) == [good[3]] and sorted_vmas([]) == []
    for i in (1, 17, 38):
        with pytest.raises(OverlapError, match=rf"VMA #{i} .* overlaps #{i - 1} ") as info:
            sorted_vmas([*good[:i], v(10 * i + 4, 10 * i + 6), *good[i + 1 :]])
        assert info.value.existing == good[i - 1]
        with pytest.raises(InvalidRangeError, match=rf"VMA #{i} .* starts below #{i - 1} "):
            sorted_vmas([*good[:i], v(1, 2), *good[i:]])
        with pytest.raises(TypeError, match="tuple"):
            sorted_vmas([*good[:i], (0, P), *good[i:]])
    # the first bad item wins, whichever test it fails
    with pytest.raises(TypeError):
        sorted_vmas([*good[:5], "x", *good[:3]])
    with pytest.raises(OverlapError, match="VMA #5 "):
        sorted_vmas([*good[:5], good[4], "x"])


def test_bulk_load_refuses_a_non_empty_index(make: Any) -> None:
    idx = make()
    idx.insert(v(100, 101))
    seq = idx.mutation_seq
    with pytest.raises(NotEmptyError) as info:
        idx.bulk_load([v(1, 2), v(3, 4)])
    assert isinstance(info.value, ValueError) and "empty" in str(info.value)
    assert list(idx) == [v(100, 101)] and idx.mutation_seq == seq
    idx.check()


def test_bulk_load_overlap_error_names_the_pair(make: Any) -> None:
    idx = make()
    a = v(10, 20)
    with pytest.raises(OverlapError) as info:
        idx.bulk_load([a, v(19, 30)])
    assert info.value.existing == a


# ----------------------------------------------------------------------
# dup
# ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 4, 60, 500])
def test_dup_is_equal_and_independent(make: Any, spec: tuple[str, dict[str, Any]], n: int) -> None:
    rng = random.Random(100 + n)
    idx = make()
    ref = make_index("list")
    vmas = layout(rng, n)
    order = vmas[:]
    rng.shuffle(order)
    for x in order:  # an incrementally built original (not a bulk-built one)
        idx.insert(x)
        ref.insert(x)
    child = idx.dup()
    child.check()
    assert type(child) is type(idx) and child.name == idx.name
    assert child.lock is not idx.lock and type(child.lock) is type(idx.lock)
    for key, value in spec[1].items():
        assert getattr(child, key) == value
    child_ref = ref.dup()
    assert_same_answers(child, child_ref, rng)
    # mutate the original: the child does not see it, and the other way round
    churn(idx, ref, rng, 150)
    idx.check()
    child.check()
    assert_same_answers(child, child_ref, rng, probes=40)
    churn(child, child_ref, rng, 150)
    child.check()
    assert_same_answers(idx, ref, rng, probes=40)
    assert_same_answers(child, child_ref, rng, probes=40)
    idx.clear()
    assert list(child) == list(child_ref)
    child.check()


def test_dup_of_a_duplicate_and_of_a_bulk_load(make: Any) -> None:
    rng = random.Random(9)
    vmas = layout(rng, 250)
    idx = make()
    idx.bulk_load(vmas)
    a = idx.dup()
    b = a.dup()
    for x in vmas[::3]:
        a.remove(x)
    for t in (idx, a, b):
        t.check()
    assert list(idx) == vmas and list(b) == vmas
    assert list(a) == [x for i, x in enumerate(vmas) if i % 3]


def test_dup_lock_kind_is_kept(make: Any) -> None:
    idx = make(lock="rwsem")
    idx.insert(v(1, 2))
    child = idx.dup()
    assert type(child.lock) is type(idx.lock) and child.lock is not idx.lock
    with child.lock.write(), idx.lock.write(0, P):  # the child's lock is its own: the parent's stays free
        pass


def test_dup_while_readers_and_a_writer_run(make: Any) -> None:
    """Readers of stable VMAs keep getting them during dups; every dup is a consistent
    snapshot (all stable VMAs, valid structure) while a writer churns other ranges."""
    idx = make()
    stable = [v(i * 1000, i * 1000 + 10, name=f"stable{i}") for i in range(30)]
    idx.bulk_load(stable)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                s = rng.choice(stable)
                if idx.lookup(s.start + rng.randrange(10 * P)) != s:
                    raise AssertionError(f"reader lost {s!r}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        rng = random.Random(7)
        mine: list[VMA] = []
        try:
            while not stop.is_set():
                if mine and rng.random() < 0.5:
                    idx.remove(mine.pop(rng.randrange(len(mine))))
                else:
                    start = rng.randrange(30) * 1000 + 100 + rng.randrange(800)
                    x = v(start, start + rng.randrange(1, 40))
                    try:
                        idx.insert(x)
                        mine.append(x)
                    except OverlapError:
                        pass
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(2)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    try:
        for _ in range(15):
            child = idx.dup()
            child.check()
            got = [x for x in child if x.name.startswith("stable")]
            assert got == stable
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    idx.check()
# ----------------------------------------------------------------------
# write_stats
# ----------------------------------------------------------------------
def test_write_stats_counts_and_resets(make: Any) -> None:
    idx = make()
    st = idx.write_stats()
    assert set(st) in (set(), set(WRITE_STATS))
    if not st:
        return  # list and the peers do not count
    assert all(st[k] == 0 for k in WRITE_STATS)
    rng = random.Random(3)
    vmas = layout(rng, 200)
    for x in vmas:
        idx.insert(x)
    st = idx.write_stats(reset=True)
    assert st["nodes_allocated"] >= 1
    assert all(isinstance(st[k], int) and st[k] >= 0 for k in WRITE_STATS)
    assert idx.write_stats() == dict.fromkeys(WRITE_STATS, 0)
    child = idx.dup()
    cst = child.write_stats()  # the copy's nodes are the child's: counted there, and only there
    assert cst["nodes_allocated"] >= 1 and cst["nodes_freed"] == 0
    assert cst["nodes_copied"] <= cst["nodes_allocated"]
    assert idx.write_stats() == dict.fromkeys(WRITE_STATS, 0)
    for x in vmas:
        idx.remove(x)
    assert idx.write_stats()["nodes_freed"] >= 1
