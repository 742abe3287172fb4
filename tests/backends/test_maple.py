"""Tests for the maple backend: structure, gap search, copy-on-write and lock-free readers."""

from __future__ import annotations

import random
import sys
import threading
import time
from bisect import bisect_left
from itertools import pairwise
from typing import Any

import pytest

from structures import make_index
from structures.backends.list import ListIndex
from structures.backends.maple import rebuild
from structures.backends.maple.index import MapleIndex
from structures.backends.maple.node import LAST, Node
from structures.vma import PAGE_SIZE, TASK_SIZE, VMA, InvariantError

P = PAGE_SIZE
WIDTHS = [(4, 4), (5, 4), (6, 5), (16, 10)]


def _vma(start_page: int, pages: int) -> VMA:
    return VMA(start_page * P, (start_page + pages) * P)


def _compare(m: MapleIndex, ref: ListIndex, rnd: random.Random, span: int) -> None:
    assert list(m) == list(ref)
    assert len(m) == len(ref)
    for _ in range(4):
        a = rnd.randrange(span + 4) * P + rnd.randrange(P)
        assert m.find(a) == ref.find(a)
        assert m.lookup(a) == ref.lookup(a)
        assert m.find_prev(a) == ref.find_prev(a)
        b = a + rnd.randint(1, 40) * P
        assert m.intersection(a, b) == ref.intersection(a, b)
        assert m.overlapping(a, b) == ref.overlapping(a, b)
        length = rnd.randint(1, 8) * P
        lo = rnd.randrange(span) * P
        hi = lo + rnd.randint(1, 120) * P
        for td in (False, True):
            assert m.find_gap(length, lo, hi, td) == ref.find_gap(length, lo, hi, td)


@pytest.mark.parametrize("widths", WIDTHS, ids=[f"{a}x{b}" for a, b in WIDTHS])
@pytest.mark.parametrize("seed", [1, 2])
def test_stress_against_list_with_check_every_step(widths: tuple[int, int], seed: int) -> None:
    rnd = random.Random(seed)
    m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
    ref = ListIndex()
    live: list[VMA] = []
    span = 300
    heights = set()
    for _ in range(500):
        if live and rnd.random() < 0.45:
            v = live.pop(rnd.randrange(len(live)))
            m.remove(v)
            ref.remove(v)
        else:
            s = rnd.randrange(span)
            v = _vma(s, rnd.randint(1, 4))
            r = rnd.random()
            if r < 0.04:
                v = _vma(0, rnd.randint(1, 3))
            elif r < 0.08:
                v = VMA(TASK_SIZE - rnd.randint(1, 3) * P, TASK_SIZE)
            if ref.intersection(v.start, v.end) is None:
                m.insert(v)
                ref.insert(v)
                live.append(v)
        m.check()
        heights.add(m.stats()["height"])
        _compare(m, ref, rnd, span)
    if widths == (4, 4):
        assert len(heights) >= 3  # grew and shrank through several heights
    for v in live:  # drain: the tree shrinks back to a single empty leaf
        m.remove(v)
        m.check()
    st = m.stats()
    assert st["height"] == 1 and st["nodes"] == 1 and st["vmas"] == 0


def test_sequential_fill_and_drain_changes_height() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    vs = [_vma(3 * i, 2) for i in range(200)]
    for v in vs:
        m.insert(v)
    m.check()
    tall = m.stats()["height"]
    assert tall >= 4
    for v in reversed(vs):
        m.remove(v)
        m.check()
    assert m.stats()["height"] == 1 and len(m) == 0


def test_adjacent_vmas_and_null_merging() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    vs = [_vma(10 + i, 1) for i in range(40)]  # touching VMAs: no None between them
    for v in vs:
        m.insert(v)
    m.check()
    assert m.stats()["null_slots"] == 2
    for v in vs[::2]:
        m.remove(v)
        m.check()
    for v in vs[1::2]:
        m.remove(v)
        m.check()
    assert m.stats()["null_slots"] == 1  # one None covering the whole space


@pytest.mark.parametrize("widths", [(4, 4), (6, 5), (16, 10)], ids=["4x4", "6x5", "16x10"])
def test_remove_moves_a_none_to_the_sibling_instead_of_borrowing(
    widths: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remove whose new edge None meets the sibling's edge None, where a merge would
    overflow, moves the boundary (``reshape.move_null``) in both directions; every step
    checks against a list, and the space ends as one None."""
    steps: list[int] = []
    move = rebuild.move_null

    def counted(*args: Any) -> Node:
        steps.append(args[-1])
        return move(*args)

    monkeypatch.setattr(rebuild, "move_null", counted)
    rnd = random.Random(7)
    m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
    ref = ListIndex()
    vs = [_vma(4 * i + rnd.randrange(2), 1 + rnd.randrange(2)) for i in range(60 * widths[0])]
    for v in rnd.sample(vs, len(vs)):
        m.insert(v)
        ref.insert(v)
    m.check()
    for v in rnd.sample(vs, len(vs)):
        m.remove(v)
        ref.remove(v)
        m.check()
        if rnd.random() < 0.2:
            _compare(m, ref, rnd, 4 * len(vs))
    assert -1 in steps and 1 in steps
    assert m.stats()["null_slots"] == 1 and len(m) == 0


@pytest.mark.parametrize("widths", [(4, 4), (6, 5), (8, 4), (16, 10)], ids=["4x4", "6x5", "8x4", "16x10"])
def test_underfull_leaf_joining_across_parents_settles_without_the_general_path(
    widths: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remove that leaves its leaf under the minimum fill *and* joins its edge None with a
    leaf under another parent moves the boundary (``_join_across``), then merges or borrows
    the leaf (``_settle_underfull``): two publishes (``seq`` up by 4), no general-path write
    (``_gen``, which every private version moves, stays). Between the two publishes the
    readers answer as a list without the VMA does; after them ``check()`` passes and every
    reader answers as the list."""
    settled: list[int] = []
    ref = ListIndex()
    rnd = random.Random(11)
    settle = MapleIndex._settle_underfull

    def counted(self: MapleIndex, addr: int) -> None:
        # between the publishes (ref has already dropped the VMA): one leaf under its minimum fill
        assert list(self) == list(ref)
        for a in (addr, *(rnd.randrange(span) * P for _ in range(6))):
            assert self.lookup(a) == ref.lookup(a)
            assert self.find(a) == ref.find(a)
            assert self.find_prev(a) == ref.find_prev(a)
            assert self.find_gap(P, a) == ref.find_gap(P, a)
        settled.append(addr)
        settle(self, addr)

    monkeypatch.setattr(MapleIndex, "_settle_underfull", counted)
    m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
    vs = [_vma(4 * i + rnd.randrange(2), 1 + rnd.randrange(2)) for i in range(150 * widths[0])]
    span = 4 * len(vs)
    for v in rnd.sample(vs, len(vs)):
        m.insert(v)
        ref.insert(v)
    m.check()
    for v in rnd.sample(vs, len(vs)):
        before, gen, seq = len(settled), m._gen, m._seqcount.seq
        ref.remove(v)
        m.remove(v)
        if len(settled) > before:
            assert m._gen == gen, "an underfull join across parents took the general path"
            assert m._seqcount.seq == seq + 4  # two write sections: the join's and the settle's
            m.check()
            _compare(m, ref, rnd, span)
    assert settled
    m.check()
    assert m.stats()["null_slots"] == 1 and len(m) == 0


# ----------------------------------------------------------------------
# gap search
# ----------------------------------------------------------------------
def test_find_gap_empty_space() -> None:
    m = MapleIndex()
    assert m.find_gap(P) == 0
    assert m.find_gap(P, top_down=True) == TASK_SIZE - P
    assert m.find_gap(TASK_SIZE) == 0
    assert m.find_gap(TASK_SIZE, top_down=True) == 0
    assert m.find_gap(4 * P, 8 * P, 12 * P, True) == 8 * P


def test_find_gap_exact_fit_no_fit_and_clipping() -> None:
    for widths in WIDTHS:
        m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
        # mapped: [0,10) [13,20) [25,26) [30,100); free: [10,13) [20,25) [26,30) [100, ...)
        for s, n in ((0, 10), (13, 7), (25, 1), (30, 70)):
            m.insert(_vma(s, n))
        assert m.find_gap(3 * P) == 10 * P  # exact fit
        assert m.find_gap(5 * P) == 20 * P  # exact fit, bottom-up
        assert m.find_gap(5 * P, 0, 100 * P, True) == 20 * P  # exact fit, top-down
        assert m.find_gap(6 * P, 0, 100 * P) is None  # no fit inside the window
        assert m.find_gap(6 * P, 0, 100 * P, True) is None
        assert m.find_gap(2 * P, 11 * P, 30 * P) == 11 * P  # low clips a free run
        assert m.find_gap(3 * P, 11 * P, 30 * P) == 20 * P
        assert m.find_gap(2 * P, 0, 24 * P, True) == 22 * P  # high clips a free run
        assert m.find_gap(4 * P, 0, 24 * P, True) == 20 * P
        assert m.find_gap(5 * P, 0, 24 * P, True) is None
        assert m.find_gap(P, 26 * P, 27 * P) == 26 * P  # window of one page
        assert m.find_gap(P, 25 * P, 26 * P) is None
        assert m.find_gap(P, top_down=True) == TASK_SIZE - P
        assert m.find_gap(10 * P) == 100 * P


@pytest.mark.parametrize("widths", [(4, 4), (16, 10)])
def test_find_gap_matches_list_everywhere(widths: tuple[int, int]) -> None:
    rnd = random.Random(7)
    m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
    ref = ListIndex()
    a = 1
    while a < 900:
        v = _vma(a, rnd.randint(1, 6))
        m.insert(v)
        ref.insert(v)
        a = v.end // P + rnd.choice((0, 1, 1, 2, 3, 5, 8))
    m.check()
    for length in (1, 2, 3, 5, 8, 9):
        for lo in range(0, 920, 7):
            for hi in (lo + 1, lo + 5, lo + 13, lo + 60, 1000):
                if hi <= lo:
                    continue
                for td in (False, True):
                    got = m.find_gap(length * P, lo * P, hi * P, td)
                    assert got == ref.find_gap(length * P, lo * P, hi * P, td), (length, lo, hi, td)


@pytest.mark.parametrize("widths", [(4, 4), (5, 5), (16, 10)])
def test_find_gap_top_of_space_matches_list(widths: tuple[int, int]) -> None:
    """Windows ending at or near ``TASK_SIZE``: the top-down search starts at the leaf
    holding ``high - 1`` and walks back up its path (also when that leaf holds ``low``)."""
    rnd = random.Random(11)
    m = MapleIndex(leaf_slots=widths[0], internal_slots=widths[1])
    ref = ListIndex()
    top = TASK_SIZE // P
    a = top - 700
    while a < top - 8:
        v = _vma(a, rnd.randint(1, 4))
        m.insert(v)
        ref.insert(v)
        a = v.end // P + rnd.choice((0, 1, 2, 4, 9))
    m.check()
    for _ in range(600):
        lo = rnd.randrange(top - 720, top - 1)
        hi = rnd.choice((top, lo + 1 + rnd.randrange(40), lo + 1 + rnd.randrange(400)))
        hi = min(hi, top)
        length = rnd.choice((1, 2, 3, 6, 10, 30))
        for td in (False, True):
            got = m.find_gap(length * P, lo * P, hi * P, td)
            assert got == ref.find_gap(length * P, lo * P, hi * P, td), (length, lo, hi, td)


# ----------------------------------------------------------------------
# structure, stats, check
# ----------------------------------------------------------------------
def test_stats_probe_and_registry() -> None:
    m = make_index("maple")
    assert isinstance(m, MapleIndex) and m.lockless_reads
    assert (m.leaf_slots, m.internal_slots) == (16, 10)
    for i in range(2000):
        m.insert(_vma(3 * i, 2))
    st = m.stats()
    for key in ("vmas", "height", "nodes", "bytes", "leaf_nodes", "internal_nodes", "fill", "restarts"):
        assert key in st
    assert st["vmas"] == 2000 and st["nodes"] == st["leaf_nodes"] + st["internal_nodes"]
    assert st["height"] >= 3 and 0.4 <= st["fill"] <= 1.0
    assert m.probe(0) == st["height"] == m.probe(TASK_SIZE - 1)
    with pytest.raises(ValueError):
        MapleIndex(leaf_slots=3)


def test_check_names_node_and_slot() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    for i in range(40):
        m.insert(_vma(3 * i, 2))
    m.check()
    root = m._root
    assert not root.leaf and root.gaps is not None
    good = root.gaps[1]
    root.gaps[1] = good + P
    with pytest.raises(InvariantError, match=r"check_gaps: node root slot 1"):
        m.check()
    root.gaps[1] = good
    leaf = root.slots[0]
    while not leaf.leaf:
        leaf = leaf.slots[0]
    saved = leaf.slots[1]
    leaf.slots[1] = VMA(0, P)
    with pytest.raises(InvariantError, match=r"check_entries: node root(/0)+ slot 1"):
        m.check()
    leaf.slots[1] = saved
    m.check()
    child = root.slots[0]
    child.pivots[0] += 1
    with pytest.raises(InvariantError, match=r"node root/0"):
        m.check()


def test_dump_and_small_trees_attach_it_to_check_errors() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    for i in range(6):
        m.insert(_vma(3 * i, 2))
    # an ascending build: each split at the right edge leaves a full leaf behind
    assert m._dump().splitlines() == [
        "root node [0x0, 0x7fffffffffff] gaps=[0x1000, 0x1000, 0x7ffffffef000]",
        "  root/0 leaf [0x0, 0x5fff] V:0x1fff .:0x2fff V:0x4fff .:0x5fff",
        "  root/1 leaf [0x6000, 0xbfff] V:0x7fff .:0x8fff V:0xafff .:0xbfff",
        "  root/2 leaf [0xc000, 0x7fffffffffff] V:0xdfff .:0xefff V:0x10fff .:0x7fffffffffff",
    ]
    m.check()
    assert MapleIndex()._dump() == "root leaf [0x0, 0x7fffffffffff] .:0x7fffffffffff"
    m._root.gaps[2] = 2 * P  # type: ignore[index]
    with pytest.raises(InvariantError) as err:
        m.check()
    first, *rest = str(err.value).splitlines()
    assert first.startswith("maple check_gaps: node root slot 2:")
    assert rest == m._dump().splitlines()
    big = MapleIndex(leaf_slots=4, internal_slots=4)
    for i in range(200):
        big.insert(_vma(3 * i, 2))
    big._root.gaps[0] += P  # type: ignore[index]
    with pytest.raises(InvariantError, match="check_gaps: node root slot 0") as err:
        big.check()
    assert "\n" not in str(err.value)  # a big tree: node and slot only


def test_published_nodes_change_only_by_single_slot_and_gap_stores() -> None:
    """Leaves change only by an exact fill (a None slot becomes the VMA spanning its whole
    range; pivots never change); internal nodes only get single slot (child swap, same
    range) and gap item stores; replaced nodes are dead."""
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    vs = [_vma(3 * i, 2) for i in range(60)]
    for v in vs:
        m.insert(v)
    seen: list[tuple[Node, Any]] = []
    stack = [m._root]
    while stack:
        node = stack.pop()
        seen.append((node, (tuple(node.pivots), tuple(node.slots) if node.leaf else len(node.slots))))
        if not node.leaf:
            stack.extend(node.slots)
    old_leaf = m._root
    while not old_leaf.leaf:
        old_leaf = old_leaf.slots[0]
    m.remove(vs[10])  # fast path: one new leaf
    m.insert(_vma(1000, 5))
    m.remove(vs[0])
    for v in vs[20:40]:  # merges, borrows, height changes
        m.remove(v)
    m.insert(_vma(0, 1))
    for node, before in seen:  # pivots never change; a leaf slot only goes None -> VMA
        pivots, slots = before
        assert tuple(node.pivots) == pivots
        if not node.leaf:
            assert len(node.slots) == slots
            continue
        for k, (was, now) in enumerate(zip(slots, node.slots, strict=True)):
            if was is not now:
                assert was is None and now.start == (pivots[k - 1] + 1 if k else now.start) and now.end - 1 == pivots[k]
    assert old_leaf.dead  # vs[0] lived in the first leaf: it was replaced
    live = set()
    stack = [m._root]
    while stack:
        node = stack.pop()
        live.add(id(node))
        assert not node.dead
        if not node.leaf:
            stack.extend(node.slots)
    assert all(node.dead for node, _ in seen if id(node) not in live)
    m.check()


def test_exact_fill_is_one_slot_store_and_gap_searches_skip_stale_nulls() -> None:
    """An insert spanning a whole None slot stores into the published leaf (no new node,
    the leaf stays live); a gap search whose leaf cached that None before skips it."""
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    vs = [_vma(4 * i, 3) for i in range(40)]
    for v in vs:
        m.insert(v)
    hole = _vma(4 * 7 + 3, 1)  # the one-page None between vs[7] and vs[8]
    assert m.find_gap(P, 4 * 7 * P, 4 * 8 * P) == hole.start  # caches the leaf's nulls
    leaf = m._root
    while not leaf.leaf:
        leaf = leaf.slots[bisect_left(leaf.pivots, hole.start)]
    assert leaf.nulls is not None and leaf.slots.index(None) >= 0
    before = m.write_stats()
    m.insert(hole)
    assert m.write_stats() == before  # no node allocated, copied or freed
    assert not leaf.dead and hole in leaf.slots and leaf.nulls is not None
    assert m.find_gap(P, 4 * 7 * P, 4 * 8 * P + P) is None  # the stale cached None is skipped
    assert m.find_gap(P, 4 * 7 * P, 4 * 8 * P + P, top_down=True) is None
    assert m.lookup(hole.start) == hole and m.find(hole.start) == hole and m.find_prev(hole.end) == hole
    m.check()
    m.remove(hole)  # a removal copies the leaf
    assert leaf.dead and m.find_gap(P, 4 * 7 * P, 4 * 8 * P) == hole.start
    m.check()


def test_clear_and_replace_publish_once() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    vs = [_vma(4 * i, 3) for i in range(30)]
    for v in vs:
        m.insert(v)
    root = m._root
    m.replace(vs[:5], [_vma(0, 2), _vma(2, 1)])
    assert root.dead
    m.check()
    assert m.lookup(0) == _vma(0, 2) and m.lookup(4 * P) is None
    m.clear()
    m.check()
    assert len(m) == 0 and list(m) == [] and root.dead


def test_resumable_iteration_restarts_on_dead_leaf() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    keep = [_vma(10 * i, 2) for i in range(50)]
    for v in keep:
        m.insert(v)
    it = m._iter_from(0)
    seen = [next(it) for _ in range(3)]
    # rewrite every leaf ahead of the cursor
    extra = [_vma(10 * i + 5, 1) for i in range(50)]
    for v in extra:
        m.insert(v)
    seen.extend(it)
    assert m.stats()["restarts"] >= 1
    assert len(seen) == len(set(seen))  # never repeats
    assert all(a.end <= b.start for a, b in pairwise(seen))
    assert set(keep) <= set(seen)


# ----------------------------------------------------------------------
# lock-free readers under a churning writer
# ----------------------------------------------------------------------
def test_lockless_readers_with_churning_writer() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    rnd = random.Random(11)
    permanent = [_vma(100 * i, 3) for i in range(1, 30)]
    for v in permanent:
        m.insert(v)
    ever: set[VMA] = set(permanent)
    ever_lock = threading.Lock()  # guards the test's bookkeeping only, never the index
    done = threading.Event()
    errors: list[str] = []
    rounds = [0] * 4

    def writer() -> None:
        live: list[VMA] = []
        heights = set()
        for step in range(2500):
            if live and (len(live) > 120 or rnd.random() < 0.4):
                v = live.pop(rnd.randrange(len(live)))
                m.remove(v)
            else:
                s = rnd.randrange(3000)
                v = VMA(s * P, (s + rnd.randint(1, 3)) * P, name=f"w{step}")
                if m.intersection(v.start, v.end) is not None:
                    continue
                with ever_lock:
                    ever.add(v)
                m.insert(v)
                live.append(v)
            if step % 200 == 0:
                heights.add(m.stats()["height"])
        for v in live:
            m.remove(v)
        heights.add(m.stats()["height"])
        if len(heights) < 2:
            errors.append(f"writer never changed the height: {heights}")
        done.set()

    def known(v: VMA) -> bool:
        with ever_lock:
            return v in ever

    def reader(seed: int) -> None:
        r = random.Random(seed)
        while not done.is_set():
            rounds[seed] += 1
            p = r.choice(permanent)
            if m.lookup(p.start + P) != p or m.find(p.start) != p or m.find_prev(p.end) != p:
                errors.append(f"permanent {p!r} not found")
            a = r.randrange(3100) * P
            for v in (m.find(a), m.lookup(a), m.find_prev(a), m.intersection(a, a + 50 * P)):
                if v is not None and not known(v):
                    errors.append(f"reader got never-inserted {v!r}")
            ov = m.overlapping(a, a + 300 * P)
            if any(x.end > y.start for x, y in pairwise(ov)):
                errors.append("overlapping result not sorted/disjoint")
            for p2 in permanent:
                if p2.start < a + 300 * P and a < p2.end and p2 not in ov:
                    errors.append(f"overlapping missed permanent {p2!r}")
            items = []
            for v in m._iter_from(a):  # lazy cursor: may restart on dead leaves
                items.append(v)
                if len(items) > 40:
                    break
            if len(items) != len(set(items)) or any(not known(v) for v in items):
                errors.append("cursor repeated or invented a VMA")
            g = m.find_gap(2 * P, 0, 3100 * P, r.random() < 0.5)
            if g is not None and g % P:
                errors.append(f"unaligned gap {g:#x}")
            if errors:
                return

    def guarded(seed: int) -> None:
        try:
            reader(seed)
        except Exception as exc:  # a reader must never crash
            errors.append(f"reader crashed: {exc!r}")

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(4)]
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave readers and the writer finely
    try:
        for t in threads:
            t.start()
        while not all(rounds) and not errors:
            time.sleep(0.001)
        writer()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "reader hung"
    finally:
        sys.setswitchinterval(old_interval)
    assert not errors, errors[:5]
    assert sum(rounds) > 20
    m.check()
    assert list(m) == permanent


def test_replace_is_atomic_for_lockless_readers() -> None:
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    whole = _vma(100, 10)
    left, right = _vma(100, 4), _vma(104, 6)
    for i in range(40):
        m.insert(_vma(3 * i + 200, 2))
    m.insert(whole)
    stop = threading.Event()
    bad: list[Any] = []

    def reader() -> None:
        while not stop.is_set():
            a, b = m.lookup(101 * P), m.lookup(108 * P)
            if a is None or b is None:
                bad.append((a, b))
                return
            if m.overlapping(100 * P, 110 * P) not in ([whole], [left, right]):
                bad.append("torn overlapping")
                return

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(400):
        m.replace([whole], [left, right])
        m.replace([left, right], [whole])
    stop.set()
    t.join()
    assert not bad, bad[:3]
    m.check()
    assert m._root.pivots[-1] == LAST


def test_multi_leaf_readers_never_see_a_state_that_never_existed() -> None:
    """The seqcount: a writer stores A (low leaf), then B (high leaf), removes B, then A,
    each published in place in its own leaf; a multi-leaf reader that saw B without A
    would have read a torn tree (B only exists while A does)."""
    m = MapleIndex(leaf_slots=4, internal_slots=4)
    for i in range(300):
        m.insert(_vma(10 + 3 * i, 2))
    a, b = _vma(2, 3), _vma(2000, 3)
    stop = threading.Event()
    bad: list[Any] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            reads[0] += 1
            ov = m.overlapping(0, 2100 * P)
            if b in ov and a not in ov:
                bad.append("overlapping saw B without A")
            items = list(m)  # batches: each batch is validated, so check within one batch
            if len(items) != len(set(items)):
                bad.append("iteration repeated a VMA")
            if bad:
                return

    t = threading.Thread(target=reader)
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        t.start()
        for _ in range(1500):
            m.insert(a)
            m.insert(b)
            m.remove(b)
            m.remove(a)
            if bad:
                break
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old_interval)
    assert not bad, bad[:3]
    assert reads[0] > 0
    m.check()


def test_mutation_seq_moves_after_a_path_copy_is_published() -> None:
    """vmacache tags what it caches with the ``mutation_seq`` it read *before* asking the
    index: a lookup that runs while a general-path write is publishing (seq already
    bumped, old tree still visible) must not cache a VMA that is about to go."""
    from structures.backends.vmacache import VMACacheIndex

    m = MapleIndex(leaf_slots=4, internal_slots=4)
    cache = VMACacheIndex(m)
    vs = [_vma(3 * i, 2) for i in range(300)]
    for v in vs:
        cache.insert(v)
    publish = m._publish
    probe: list[VMA] = []

    def publishing() -> None:
        if m._replaced and probe:
            cache.lookup(probe[0].start)  # a lockless lookup in the middle of the write
        publish()

    m._publish = publishing  # type: ignore[method-assign]
    # the Nones joining across two parents take the general path (as before _join_across)
    m._join_across = lambda *args: False  # type: ignore[method-assign]
    slow = 0
    for v in vs[::2]:
        probe[:] = [v]
        before = m._gen
        cache.remove(v)
        slow += m._gen != before  # a general-path write published a private version
        assert cache.lookup(v.start) is None, f"{v!r} served from the cache after its removal"
    assert slow > 0
    m.check()
