"""Tests of the xarray-like radix tree backend (structures/backends/xarray/)."""

from __future__ import annotations

import gc
import itertools
import random
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.inputs.workloads import synthetic_layout
from structures import make_index
from structures.backends.list import ListIndex
from structures.backends.xarray.index import XArrayIndex
from structures.backends.xarray.node import (
    NO_MARKS,
    SIBLINGS,
    XA_MARK_0,
    XA_MARK_1,
    XANode,
    XASibling,
    blocks_of,
    new_node,
    nodes_of,
)
from structures.backends.xarray.scan import PRESENT, collect, collect_all, scan_fwd_from
from structures.lib.seqcount import Torn
from structures.vma import PAGE_SIZE, TASK_SIZE, VMA, InvariantError, NotMappedError, OverlapError

P = PAGE_SIZE


def pages(first: int, n: int, **kw: object) -> VMA:
    return VMA(first * P, (first + n) * P, **kw)  # type: ignore[arg-type]


def build(vmas: list[VMA], chunk_shift: int = 6) -> XArrayIndex:
    idx = XArrayIndex(chunk_shift=chunk_shift)
    for v in vmas:
        idx.insert(v)
        idx.check()
    return idx


# ----------------------------------------------------------------------
# block decomposition
# ----------------------------------------------------------------------
@given(st.integers(0, 1 << 20), st.integers(1, 1 << 12))
@settings(max_examples=200, deadline=None)
def test_blocks_are_minimal_aligned_cover(first: int, n: int) -> None:
    blocks = blocks_of(first, first + n)
    pos = first
    for index, order in blocks:
        assert index == pos and index % (1 << order) == 0
        pos += 1 << order
    assert pos == first + n
    # minimal: no two neighbours of equal order could merge into one aligned block
    for (i, k), (_j, k2) in itertools.pairwise(blocks):
        assert not (k == k2 and i % (1 << (k + 1)) == 0)
    assert len(blocks) <= 2 * n.bit_length()


def test_blocks_examples() -> None:
    assert blocks_of(5, 18) == [(5, 0), (6, 1), (8, 3), (16, 1)]
    assert blocks_of(0, 64) == [(0, 6)]
    assert blocks_of(3, 4) == [(3, 0)]


# ----------------------------------------------------------------------
# structure: multi-index entries, deep trees, growth and shrink
# ----------------------------------------------------------------------
@pytest.mark.parametrize("chunk_shift", [2, 3])
def test_straddling_vma_blocks_and_every_page(chunk_shift: int) -> None:
    # pages 5..17 straddle leaf and level-1 node boundaries for C=2 and C=3
    v = pages(5, 13)
    idx = build([v], chunk_shift)
    st_ = idx.stats()
    assert st_["blocks"] == len(blocks_of(5, 18)) == 4
    assert st_["height"] >= 2
    for p in range(0, 40):
        want = v if 5 <= p < 18 else None
        assert idx.lookup(p * P) is want
        assert idx.lookup(p * P + 123) is want
    assert idx.find(0) is v and idx.find(18 * P) is None
    assert idx.find_prev(18 * P) is v and idx.find_prev(17 * P) is None


def test_sibling_slots_point_to_canonical() -> None:
    # an order-4 block with C=3 lives at shift 3 as a canonical slot plus one sibling
    idx = build([pages(16, 16)], chunk_shift=3)
    root = idx._root
    assert root is not None and root.shift == 3
    assert root.slots[2] == pages(16, 16)
    sib = root.slots[3]
    assert type(sib) is XASibling and sib.offset == 2 and sib is SIBLINGS[2]  # shared, names slot 2 only
    assert root.count == 2 and root.present == 0b1100 and root.full == 0b1100


def test_height_grows_and_shrinks_and_nodes_are_freed() -> None:
    idx = XArrayIndex(chunk_shift=2)
    low = pages(1, 1)
    idx.insert(low)
    assert idx.stats()["height"] == 1 and idx.stats()["nodes"] == 1
    high = pages(1 << 20, 1)
    idx.insert(high)
    idx.check()
    h = idx.stats()["height"]
    assert h == 11  # page 2**20 needs 21 index bits: ceil(21 / 2) levels
    assert idx.lookup(high.start) == high and idx.lookup(low.start) == low
    idx.remove(high)
    idx.check()
    assert idx.stats()["height"] == 1 and idx.stats()["nodes"] == 1
    idx.remove(low)
    idx.check()
    assert idx.stats()["height"] == 0 and idx.stats()["nodes"] == 0 and idx._root is None


def test_empty_nodes_freed_at_once_and_dead() -> None:
    idx = build([pages(0, 1), pages(1000, 3)], chunk_shift=2)
    leaf = idx._root
    while leaf is not None and leaf.shift:
        leaf = next(x for x in reversed(leaf.slots) if type(x) is XANode)
    assert leaf is not None
    before = idx.stats()["nodes"]
    idx.remove(pages(1000, 3))
    idx.check()
    assert leaf.dead
    assert idx.stats()["nodes"] < before
    # a walk that starts in the dead node restarts instead of trusting stale links
    with pytest.raises(Torn):
        scan_fwd_from(leaf, 3, 1003, PRESENT, idx._mask)


def test_top_of_address_space() -> None:
    top = VMA(TASK_SIZE - 5 * P, TASK_SIZE)
    idx = build([pages(0, 1), top])
    assert idx.lookup(TASK_SIZE - 1) == top
    assert idx.find(TASK_SIZE - 6 * P) == top
    assert idx.find_prev(TASK_SIZE) == top
    assert idx.find_gap(P, top_down=True) == TASK_SIZE - 6 * P
    assert idx.find_gap(5 * P, low=TASK_SIZE - 5 * P) is None
    assert list(idx) == [pages(0, 1), top]


def test_probe_counts_nodes_on_the_path() -> None:
    idx = build([pages(5, 13)], chunk_shift=2)
    assert idx.probe(5 * P) == idx.stats()["height"]  # order-0 block: down to a leaf
    assert idx.probe(8 * P) == idx.stats()["height"] - 1  # order-3 block at shift 2
    assert XArrayIndex().probe(0) == 0


def test_stats_keys() -> None:
    idx = build([pages(5, 13), pages(128, 64)])
    s = idx.stats()
    for key in ("vmas", "height", "nodes", "bytes", "slots_used", "blocks", "blocks_per_vma", "restarts"):
        assert key in s
    assert s["vmas"] == 2 and s["blocks"] == 5 and s["blocks_per_vma"] == 2.5
    assert s["slots_used"] >= 13 + 1 and s["bytes"] > 0


def test_insert_overlap_and_remove_missing_change_nothing() -> None:
    idx = build([pages(10, 10)], chunk_shift=2)
    before = idx.stats()
    with pytest.raises(OverlapError):
        idx.insert(pages(19, 5))
    with pytest.raises(NotMappedError):
        idx.remove(pages(10, 9))
    idx.check()
    assert idx.stats() == before


# ----------------------------------------------------------------------
# marks
# ----------------------------------------------------------------------
def test_marks_set_find_clear_and_propagate() -> None:
    a, b, c = pages(5, 13), pages(300, 70), pages(5000, 1)
    idx = build([a, b, c], chunk_shift=2)
    assert idx.find_marked() is None
    assert idx.set_mark(310 * P) == b
    idx.check()  # propagation recomputed from scratch
    assert idx.get_mark(b.start) and idx.get_mark(b.end - 1) and not idx.get_mark(a.start)
    assert not idx.get_mark(b.start, XA_MARK_1)
    assert idx.find_marked() == b
    assert idx.find_marked(0, b.start) is None
    assert idx.find_marked(b.end - 1) == b  # starting inside a sibling/later block
    assert idx.find_marked(b.end) is None
    root = idx._root
    assert root is not None and root.marks[XA_MARK_0] and not root.marks[XA_MARK_1]
    idx.set_mark(c.start)
    assert idx.find_marked(b.end) == c
    idx.clear_mark(b.start + P)
    idx.check()
    assert idx.find_marked() == c
    idx.remove(c)
    idx.check()
    assert idx.find_marked() is None and idx._root is not None and not idx._root.marks[XA_MARK_0]
    with pytest.raises(NotMappedError):
        idx.set_mark(0)
    with pytest.raises(ValueError):
        idx.set_mark(a.start, 7)


def test_unmarked_nodes_share_no_marks_until_their_first_mark() -> None:
    a, b = pages(5, 13), pages(300, 70)
    idx = build([a, b], chunk_shift=2)
    bulk = XArrayIndex(chunk_shift=2)
    bulk.bulk_load([a, b])
    for tree in (idx, bulk):
        assert all(node.marks is NO_MARKS for node, _ in nodes_of(tree._root))
    assert NO_MARKS == (0, 0, 0)
    idx.clear_mark(b.start)  # clearing an unset mark gives no node a list of its own
    assert all(node.marks is NO_MARKS for node, _ in nodes_of(idx._root))
    idx.set_mark(b.start, XA_MARK_1)
    idx.check()
    owned = [node for node, _ in nodes_of(idx._root) if node.marks is not NO_MARKS]
    assert owned and all(type(node.marks) is list and node.marks[XA_MARK_1] for node in owned)
    assert NO_MARKS == (0, 0, 0)  # the shared tuple itself never changed
    assert idx.find_marked(0, TASK_SIZE, XA_MARK_1) == b and idx.find_marked() is None
    child = idx.dup()  # a marked node's list is copied, an unmarked one keeps the shared tuple
    child.check()
    pairs = list(zip((n for n, _ in nodes_of(idx._root)), (n for n, _ in nodes_of(child._root)), strict=True))
    for old, new in pairs:
        assert (new.marks is NO_MARKS) == (old.marks is NO_MARKS) and new.marks == old.marks
        assert new.marks is NO_MARKS or new.marks is not old.marks
    child.clear_mark(b.start, XA_MARK_1)
    child.check()
    assert child.find_marked(0, TASK_SIZE, XA_MARK_1) is None
    assert idx.find_marked(0, TASK_SIZE, XA_MARK_1) == b  # the parent's marks untouched
    idx.clear_mark(b.start, XA_MARK_1)
    idx.check()  # cleared bits leave zeros in the node's own list
    assert all(not any(node.marks) for node, _ in nodes_of(idx._root))


# ----------------------------------------------------------------------
# check() catches corruption, naming node and slot
# ----------------------------------------------------------------------
def _leaf(idx: XArrayIndex) -> XANode:
    node = idx._root
    assert node is not None
    while node.shift:
        node = next(x for x in node.slots if type(x) is XANode)
    return node


@pytest.mark.parametrize(
    "corrupt, words",
    [
        (lambda n: setattr(n, "count", n.count + 1), "count"),
        (lambda n: setattr(n, "present", n.present ^ 0b1000), "present"),
        (lambda n: setattr(n, "full", 0), "full"),
        (lambda n: setattr(n, "marks", [1 << 3, 0, 0]), "mark"),
        (lambda n: setattr(n, "offset", n.offset + 1), "offset"),
        (lambda n: n.slots.__setitem__(3, n.slots[1]), "slots"),
    ],
)
def test_check_detects_corruption(corrupt: object, words: str) -> None:
    idx = build([pages(1, 2), pages(40, 9)], chunk_shift=2)
    corrupt(_leaf(idx))  # type: ignore[operator]
    with pytest.raises(InvariantError, match="node shift=") as err:
        idx.check()
    first, *rest = str(err.value).splitlines()
    assert words in first
    assert rest == idx._dump().splitlines()  # a small tree: the error carries the dump


def test_dump_draws_one_node_a_line() -> None:
    idx = build([pages(5, 13)], chunk_shift=2)
    assert idx._dump().splitlines() == [
        "shift=4 base=0x0 count=2 present=0x3 full=0x0 marks=[0x0,0x0,0x0] [nn..]",
        "  0: shift=2 base=0x0 count=3 present=0xe full=0xc marks=[0x0,0x0,0x0] [.nVs]",
        "    1: shift=0 base=0x4 count=3 present=0xe full=0xe marks=[0x0,0x0,0x0] [.VVs]",
        "  1: shift=2 base=0x10 count=1 present=0x1 full=0x0 marks=[0x0,0x0,0x0] [n...]",
        "    0: shift=0 base=0x10 count=2 present=0x3 full=0x3 marks=[0x0,0x0,0x0] [Vs..]",
    ]
    assert XArrayIndex()._dump() == "(empty xarray)"
    big = build([pages(4 * i, 1) for i in range(200)], chunk_shift=2)
    big._root.count += 1  # type: ignore[union-attr]
    with pytest.raises(InvariantError, match="count") as err:
        big.check()
    assert "\n" not in str(err.value)  # a big tree: node and slot only


def test_check_detects_a_block_in_a_node_below_its_own() -> None:
    # pages 4..7 (C = 2) are one order-2 block: a root slot, never a leaf's 4 slots
    idx = build([pages(1, 1), pages(4, 4)], chunk_shift=2)
    root = idx._root
    assert root is not None and root.shift == 2 and type(root.slots[1]) is VMA
    v = root.slots[1]
    leaf = new_node(0, 1, root, 2)
    leaf.slots = [v, *[SIBLINGS[0]] * 3]
    leaf.count, leaf.present, leaf.full = 4, 0b1111, 0b1111
    root.slots[1] = leaf  # same count/present/full bits in the root, same (index, order)
    with pytest.raises(InvariantError, match="entry spans 4 slots"):
        idx.check()


def test_check_detects_non_minimal_height() -> None:
    idx = build([pages(1, 1), pages(1 << 10, 1)], chunk_shift=2)
    idx.remove(pages(1 << 10, 1))
    root = new_node(idx._root.shift + 2, 0, None, 2)  # type: ignore[union-attr]
    old = idx._root
    assert old is not None
    root.slots[0], root.count, root.present = old, 1, 1
    old.parent = root
    idx._root = root
    with pytest.raises(InvariantError, match="height"):
        idx.check()


# ----------------------------------------------------------------------
# differential tests against the list oracle
# ----------------------------------------------------------------------
def _compare(x: XArrayIndex, ref: ListIndex, rnd: random.Random, span: int) -> None:
    x.check()
    assert list(x) == list(ref) and len(x) == len(ref)
    for _ in range(15):
        a = rnd.randrange(span * P) if rnd.random() < 0.95 else rnd.randrange(TASK_SIZE)
        assert x.lookup(a) == ref.lookup(a)
        assert x.find(a) == ref.find(a)
        assert x.find_prev(a) == ref.find_prev(a)
        e = min(TASK_SIZE, a + rnd.randint(1, 80) * P)
        assert x.overlapping(a, e) == ref.overlapping(a, e)
        assert x.intersection(a, e) == ref.intersection(a, e)
        length = rnd.randint(1, 48) * P
        low = rnd.randrange(span) * P
        high = TASK_SIZE if rnd.random() < 0.2 else min(TASK_SIZE, low + rnd.randint(1, span) * P)
        for top_down in (False, True):
            assert x.find_gap(length, low, high, top_down) == ref.find_gap(length, low, high, top_down)


@pytest.mark.parametrize("chunk_shift", [2, 3, 6])
@pytest.mark.parametrize("seed", range(3))
def test_randomized_differential(chunk_shift: int, seed: int) -> None:
    rnd = random.Random(seed * 31 + chunk_shift)
    span = 1 << 11
    x, ref = XArrayIndex(chunk_shift=chunk_shift), ListIndex()
    for _ in range(150):
        if rnd.random() < 0.6 or not len(ref):
            s = rnd.randrange(span)
            v = pages(s, rnd.randint(1, 70))
            if rnd.random() < 0.05:
                v = VMA(TASK_SIZE - rnd.randint(1, 8) * P, TASK_SIZE)
            try:
                ref.insert(v)
            except OverlapError:
                with pytest.raises(OverlapError):
                    x.insert(v)
                continue
            x.insert(v)
        elif rnd.random() < 0.8:
            v = rnd.choice(ref.to_list())
            ref.remove(v)
            x.remove(v)
        else:  # split like munmap of a middle part: atomic replace
            v = rnd.choice(ref.to_list())
            if v.pages < 3:
                continue
            cut = v.start + rnd.randint(1, v.pages - 2) * P
            new = [v.with_range(v.start, cut), v.with_range(cut + P, v.end)]
            ref.replace([v], new)
            x.replace([v], new)
        _compare(x, ref, rnd, span)
    x.clear()
    x.check()
    assert len(x) == 0 and x.stats()["nodes"] == 0


@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 40), st.booleans()), min_size=1, max_size=40),
    st.sampled_from([2, 3]),
    st.integers(0, 2**32),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hypothesis_differential(ops: list[tuple[int, int, bool]], chunk_shift: int, seed: int) -> None:
    x, ref = XArrayIndex(chunk_shift=chunk_shift), ListIndex()
    rnd = random.Random(seed)
    for first, n, remove in ops:
        if remove and len(ref):
            v = ref.to_list()[first % len(ref)]
            ref.remove(v)
            x.remove(v)
        else:
            v = pages(first, n)
            if ref.intersection(v.start, v.end) is None:
                ref.insert(v)
                x.insert(v)
        _compare(x, ref, rnd, 400)


def test_registry_and_options() -> None:
    idx = make_index("xarray", chunk_shift=3)
    assert isinstance(idx, XArrayIndex) and idx.lockless_reads and idx.chunk_shift == 3
    with pytest.raises(ValueError):
        XArrayIndex(chunk_shift=0)


# ----------------------------------------------------------------------
# lock-free readers
# ----------------------------------------------------------------------
def test_seqlock_retries_a_read_that_overlapped_a_write() -> None:
    idx = build([pages(1, 1)])
    calls = []

    def raw() -> int:
        calls.append(1)
        if len(calls) == 1:
            idx._seqcount.seq += 2  # a complete write happened during this read
        return len(calls)

    assert idx._seqcount.read(raw) == 2
    assert idx.stats()["restarts"] == 1


def test_replace_is_one_write_section() -> None:
    old = pages(0, 4)
    idx = build([old])
    seen: list[int] = []
    got: list[VMA | None] = []
    reader = threading.Thread(target=lambda: got.append(idx.lookup(0)))
    orig = idx._insert

    def spy(v: VMA) -> None:
        seen.append(idx._seqcount.seq & 1)
        if not reader.is_alive() and not got:
            reader.start()  # a lock-free reader arriving mid-replace waits for the new state
        orig(v)

    idx._insert = spy  # type: ignore[method-assign]
    idx.replace([old], [pages(0, 1), pages(2, 2)])
    reader.join()
    assert seen == [1, 1] and idx._seqcount.seq % 2 == 0
    assert got == [pages(0, 1)]
    idx.check()


def test_threaded_readers_see_only_real_states() -> None:
    """One writer churns (insert, remove, split/merge via replace); readers check that
    every answer describes a state that existed during the call."""
    rnd = random.Random(7)
    stable = [pages(i * 64 + 3, 20, name=f"s{i}") for i in range(12)]  # never removed
    idx = XArrayIndex(chunk_shift=2)
    for v in stable:
        idx.insert(v)
    done = [0]  # ops completed
    started = [0]  # ops started
    states: list[frozenset[VMA]] = [frozenset(stable)]
    stop = threading.Event()
    errors: list[str] = []
    churn_pages = [i * 64 + 30 for i in range(12)]  # free areas between the stable VMAs

    def writer() -> None:
        cur = set(stable)
        live: list[VMA] = []
        for op in range(1200):
            started[0] = op + 1
            if live and rnd.random() < 0.45:
                v = live.pop(rnd.randrange(len(live)))
                if v.pages >= 3 and rnd.random() < 0.5:
                    a, b = v.with_range(v.start, v.start + P), v.with_range(v.start + 2 * P, v.end)
                    a, b = a.evolve(name=f"{a.name}a{op}"), b.evolve(name=f"{b.name}b{op}")
                    idx.replace([v], [a, b])
                    cur -= {v}
                    cur |= {a, b}
                    live += [a, b]
                else:
                    idx.remove(v)
                    cur.discard(v)
            else:
                p = rnd.choice(churn_pages) + rnd.randrange(20)
                v = pages(p, rnd.randint(1, 12), name=f"c{op}")
                try:
                    idx.insert(v)
                except OverlapError:
                    pass
                else:
                    cur.add(v)
                    live.append(v)
            states.append(frozenset(cur))
            done[0] = op + 1
        stop.set()

    def reader(k: int) -> None:
        r = random.Random(k)
        while not stop.is_set():
            lo = done[0]
            s = stable[r.randrange(len(stable))]
            addr = s.start + r.randrange(s.end - s.start)
            if idx.lookup(addr) != s or idx.find(s.start - P) != s:
                errors.append(f"stable {s!r} not found")
            a = r.choice(churn_pages) * P + r.randrange(24 * P)
            got = [idx.lookup(a), idx.find(a), idx.find_prev(a)] if k % 2 else []
            snap = idx.overlapping(0, TASK_SIZE) if k % 2 == 0 else None
            hi = started[0]
            while len(states) <= hi:  # op hi may have finished its stores but not logged yet
                stop.wait(0.0001)
            window = states[lo : hi + 1]
            for v in got:
                if v is not None and not any(v in stt for stt in window):
                    errors.append(f"reader saw {v!r} which was never stored during its call")
            if snap is not None and frozenset(snap) not in window:
                errors.append(f"snapshot of {len(snap)} VMAs matches no state in ops {lo}..{hi}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
        w = threading.Thread(target=writer)
        for t in threads:
            t.start()
        w.start()
        w.join()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:5]
    idx.check()
    assert set(idx) == states[-1]


# ----------------------------------------------------------------------
# bulk_load builds the very tree that inserts in ascending order build
# ----------------------------------------------------------------------
def _shape(idx: XArrayIndex) -> dict[tuple[int, int], tuple[object, ...]]:
    """Every node by (first page, shift): summaries, offset and slots (siblings by offset,
    whether the shared one, and the VMA of the slot they name)."""
    out = {}
    for node, first in nodes_of(idx._root):
        cells = tuple(
            None
            if x is None
            else "node"
            if type(x) is XANode
            else x
            if type(x) is VMA
            else ("sib", x.offset, x is SIBLINGS[x.offset], node.slots[x.offset])
            for x in node.slots
        )
        out[(first, node.shift)] = (node.count, node.present, node.full, tuple(node.marks), node.offset, cells)
    return out


def _bulk_equals_inserts(vmas: list[VMA], chunk_shift: int) -> None:
    bulk = XArrayIndex(chunk_shift=chunk_shift)
    bulk.bulk_load(vmas)
    bulk.check()
    inc = XArrayIndex(chunk_shift=chunk_shift)
    for v in vmas:
        inc.insert(v)
    assert _shape(bulk) == _shape(inc)
    assert bulk.stats()["nodes"] == bulk.write_stats()["nodes_allocated"] == inc.write_stats()["nodes_allocated"]
    assert list(bulk) == vmas and len(bulk) == len(vmas)


TOP = TASK_SIZE // P  # pages in the address space


@pytest.mark.parametrize("chunk_shift", [2, 6])
@pytest.mark.parametrize(
    "layout",
    [
        [(0, 1)],  # one page at page 0
        [(5, 13)],  # one VMA over several leaves (the node docstring's picture)
        [(0, 64)],  # exactly a whole leaf at C = 6 (a block of the leaf's parent)
        [(0, 4096)],  # exactly a whole level-1 node at C = 6
        [(64, 64), (128, 4096 - 128)],  # whole leaves, then the rest of a level-1 node
        [(3, 1 << 20)],  # a VMA wider than several nodes' reach: heads and tails at every level
        [(0, 1), (1, 62), (63, 2), (65, 63), (4095, 2)],  # neighbours across node boundaries
        [(1, 1), (TOP - 1, 1)],  # both ends of the address space
        [(0, TOP)],  # all of it
        [(1, TOP - 2)],
        [(0, 1 << 20), (TOP - (1 << 20), 1 << 20)],
        [(4 * i + 1, 2) for i in range(300)],  # many VMAs, two per leaf at C = 2
        # the bulk build's in-one-leaf test at its edges (C = 6): up to a leaf's end from
        # inside it, a whole leaf, a leaf's last page alone, the same near the top (pages
        # above 2**30: the addresses are two-digit ints there)
        [(2, 62), (64, 64), (128, 63), (191, 1), (TOP - 128, 64), (TOP - 61, 60), (TOP - 1, 1)],
        # whole leaves inside one level-1 node (C = 6), one run there: with a head and a
        # tail, up to the node's end, from its start, from slot 1 to its end, all of it
        [(197, 645), (4096 - 323, 323), (8192, 449), (3 * 4096 + 64, 4096 - 64), (4 * 4096, 4096)],
    ],
)
def test_bulk_load_equals_ascending_inserts(layout: list[tuple[int, int]], chunk_shift: int) -> None:
    _bulk_equals_inserts([pages(first, n) for first, n in layout], chunk_shift)


@given(
    st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 5000)), min_size=1, max_size=30),
    st.sampled_from([1, 2, 3, 6]),
    st.booleans(),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bulk_load_equals_ascending_inserts_hypothesis(
    gaps: list[tuple[int, int]], chunk_shift: int, from_zero: bool
) -> None:
    vmas, pos = [], 0 if from_zero else 1
    for gap, n in gaps:  # (gap before, length) pairs; the first gap is 0 when from_zero
        pos += gap if vmas or not from_zero else 0
        vmas.append(pages(pos, n))
        pos += n
    _bulk_equals_inserts(vmas, chunk_shift)


def test_bulk_load_of_a_process_layout_equals_ascending_inserts() -> None:
    _bulk_equals_inserts(list(synthetic_layout(2000, 1).vmas), 6)


@pytest.mark.parametrize("chunk_shift", [1, 2, 3, 6])
def test_whole_space_walk_equals_collect_and_the_oracle(chunk_shift: int) -> None:
    """``collect_all`` (``to_list``'s walk): VMAs from page 0 to the top of the address
    space, blocks of every level (a VMA ending mid-slot of an upper node, whole upper
    slots, free slots above the leaves), after inserts and removes in random order."""
    rng = random.Random(chunk_shift)
    for _ in range(25):
        vmas, page = [], rng.choice((0, 0, 1, 5))
        for _ in range(rng.randrange(0, 120)):
            n = rng.choice((1, 1, 2, 3, 5, 63, 64, 65, 4096, 70000))
            vmas.append(pages(page, n))
            page += n + rng.choice((0, 0, 1, 2, 7, 5000, 1 << 20))
        vmas.append(pages(TOP - 3, 3))
        idx = XArrayIndex(chunk_shift=chunk_shift)
        for v in rng.sample(vmas, len(vmas)):
            idx.insert(v)
        for v in rng.sample(vmas, len(vmas) // 3):
            idx.remove(v)
            vmas.remove(v)
        idx.check()
        assert collect_all(idx._root, idx._mask) == vmas
        assert collect(idx._root, 0, TASK_SIZE, 1 << 62, idx._mask) == vmas
        assert idx.to_list() == vmas == list(idx)
    assert collect_all(None, 63) == []


def test_whole_space_walk_raises_torn_instead_of_looping() -> None:
    """A raw walk on a tree a writer is changing ends, with ``Torn``: a VMA that does not
    end past the page it was found at, a child that is not below its parent's level,
    a sibling where a block must start."""
    vmas = [pages(0, 2), pages(2, 3), pages(100, 1), pages(5000, 300)]
    idx = build(vmas, chunk_shift=2)
    root = idx._root
    assert collect_all(root, idx._mask) == vmas
    leaf = root
    while leaf.shift:
        leaf = next(x for x in leaf.slots if type(x) is XANode)
    leaf.slots[2] = pages(0, 1)  # a stale VMA read after the walk moved past its end
    with pytest.raises(Torn):
        collect_all(root, idx._mask)
    leaf.slots[2] = SIBLINGS[1]  # a sibling where the walk expects a block's first slot
    with pytest.raises(Torn):
        collect_all(root, idx._mask)
    leaf.slots[2] = root  # a node of a level not below the leaf's
    with pytest.raises(Torn):
        collect_all(root, idx._mask)


@pytest.mark.parametrize("chunk_shift", [2, 6])
def test_iteration_and_batches_through_packed_leaves(chunk_shift: int) -> None:
    """``collect``'s leaf step (the next VMAs of a leaf read at their offsets): runs of
    neighbours, a gap inside a leaf, a VMA ending at a leaf's end, one crossing into the
    next leaf, the top of the address space; every batch size and start address agrees
    with the list oracle."""
    leaf = 1 << chunk_shift
    layout = [(0, 1), (1, 2), (3, 1)]  # neighbours from page 0
    layout += [(leaf + 1, 1), (leaf + 3, leaf - 3)]  # a gap inside a leaf, an end at its end
    layout += [(2 * leaf + 1, 1), (2 * leaf + 2, 2 * leaf)]  # one into the leaves after
    layout += [(5 * leaf + i, 1) for i in range(leaf)]  # a whole leaf of one-page VMAs
    layout += [(TOP - leaf + 1, leaf - 3), (TOP - 1, 1)]
    vmas = [pages(first, n) for first, n in layout]
    idx = XArrayIndex(chunk_shift=chunk_shift)
    ref = ListIndex()
    for v in vmas:
        idx.insert(v)
        ref.insert(v)
    assert list(idx) == vmas
    for n in (1, 2, 3, 5, 64):
        for v in vmas:
            for addr in (v.start, v.end - P, v.end):
                if addr < TASK_SIZE:
                    assert idx._batch_from(addr, n) == ref._batch_from(addr, n)
    for v in vmas:
        for w in vmas:
            if w.end > v.start:
                assert idx.overlapping(v.start, w.end) == ref.overlapping(v.start, w.end)


def _live_nodes() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is XANode)


@pytest.mark.parametrize("chunk_shift", [1, 2, 6])
def test_dropped_index_frees_its_nodes_without_the_gc(chunk_shift: int) -> None:
    """A node's ``parent`` and its parent's slot are a reference cycle: a dropped index
    breaks them (``__del__`` empties the internal slots), so its nodes die at once with the cyclic GC switched
    off; a dropped ``dup`` child frees its own nodes and leaves the parent whole."""
    vmas = synthetic_layout(300, 7).vmas
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = _live_nodes()
        idx = build(vmas, chunk_shift)
        made = _live_nodes() - before
        assert made == idx.stats()["nodes"] > 1
        child = idx.dup()
        assert _live_nodes() - before == 2 * made
        del child
        assert _live_nodes() - before == made
        idx.check()
        assert idx.to_list() == sorted(vmas, key=lambda v: v.start)
        del idx
        assert _live_nodes() == before
        one_leaf = build([pages(1, 1)], chunk_shift)  # the root is the only node: a leaf
        assert one_leaf.stats()["nodes"] == 1 and _live_nodes() == before + 1
        del one_leaf
        assert _live_nodes() == before
    finally:
        if was_enabled:
            gc.enable()
