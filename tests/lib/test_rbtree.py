"""The generic red-black core (rbtree.py) and the ``rbtree`` VMA backend (rbindex.py).

Property tests of the core with a subtree-size augmentation (random and
adversarial insert/erase sequences, every invariant after every step), then
the backend's own contract: one-descent readers, exact ``find_gap`` against
the ``list`` oracle for every window, ``check()`` naming the broken node,
``probe``/``stats``.
"""

from __future__ import annotations

import gc
import math
import random
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structures import PAGE_SIZE, TASK_SIZE, VMA, InvariantError, make_index
from structures.backends.rbtree import RBTreeIndex
from structures.lib.rbtree import AugmentCallbacks, RBNode, RBTree

P = PAGE_SIZE


# ----------------------------------------------------------------------
# a tiny keyed tree with a "subtree size" augmentation, to test the core
# ----------------------------------------------------------------------
class KNode(RBNode):
    __slots__ = ("key", "size")

    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key
        self.size = 1

    def describe(self) -> str:
        return f"KNode({self.key})"


def _size(n: Any) -> int:
    return n.size if n is not None else 0


class SizeAugment(AugmentCallbacks):
    def __init__(self) -> None:
        self.calls = {"propagate": 0, "copy": 0, "rotate": 0}

    def propagate(self, node: Any, stop: Any) -> None:
        self.calls["propagate"] += 1
        while node is not stop:
            node.size = 1 + _size(node.left) + _size(node.right)
            node = node.parent

    def copy(self, old: Any, new: Any) -> None:
        self.calls["copy"] += 1
        new.size = old.size

    def rotate(self, old: Any, new: Any) -> None:
        self.calls["rotate"] += 1
        new.size = old.size
        old.size = 1 + _size(old.left) + _size(old.right)


def verify_size(node: Any) -> None:
    if node.size != 1 + _size(node.left) + _size(node.right):
        raise InvariantError(f"size: node {node.describe()} slot size={node.size}")


class KeyTree:
    def __init__(self) -> None:
        self.aug = SizeAugment()
        self.t = RBTree(self.aug)
        self.nodes: dict[int, KNode] = {}

    def insert(self, key: int) -> None:
        parent, left, cur = None, False, self.t.root
        while cur is not None:
            parent = cur
            left = key < cur.key
            cur = cur.left if left else cur.right
        node = KNode(key)
        self.nodes[key] = node
        self.t.insert(node, parent, left)

    def erase(self, key: int) -> None:
        self.t.erase(self.nodes.pop(key))

    def check(self) -> None:
        self.t.check(key=lambda n: n.key, verify=verify_size)
        assert [n.key for n in self.t] == sorted(self.nodes)
        n = len(self.nodes)
        assert len(self.t) == n
        if n:
            # red-black height bound: h <= 2 log2(n + 1)
            assert self.t.height() <= 2 * math.log2(n + 1) + 1e-9
            assert self.t.root.size == n


def run_ops(ops: list[tuple[str, int]]) -> KeyTree:
    kt = KeyTree()
    for op, key in ops:
        if op == "i" and key not in kt.nodes:
            kt.insert(key)
        elif op == "e" and key in kt.nodes:
            kt.erase(key)
        kt.check()
    return kt


@pytest.mark.parametrize(
    "keys",
    [
        list(range(200)),  # ascending
        list(range(200, 0, -1)),  # descending
        [i // 2 if i % 2 else 1000 - i // 2 for i in range(200)],  # alternating ends
        [(i * 37) % 211 for i in range(211)],  # a permutation
    ],
    ids=["ascending", "descending", "alternating", "permutation"],
)
def test_adversarial_sequences(keys: list[int]) -> None:
    ops = [("i", k) for k in keys]
    # erase from the front, the back, then the middle
    order = keys[: len(keys) // 3] + keys[::-1][: len(keys) // 3] + keys[len(keys) // 3 : 2 * len(keys) // 3]
    ops += [("e", k) for k in order]
    kt = run_ops(ops)
    for k in list(kt.nodes):
        kt.erase(k)
        kt.check()
    assert kt.t.root is None and kt.t.first is None and kt.t.last is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("iie"), st.integers(0, 60)), max_size=150))
def test_random_sequences(ops: list[tuple[str, int]]) -> None:
    run_ops(ops)


def test_every_case_and_callback_is_exercised() -> None:
    rng = random.Random(11)
    kt = KeyTree()
    keys = list(range(2000))
    rng.shuffle(keys)
    for k in keys:
        kt.insert(k)
    rng.shuffle(keys)
    for k in keys[:1500]:
        kt.erase(k)
    kt.check()
    assert all(v > 0 for v in kt.aug.calls.values()), kt.aug.calls


def test_threads_are_o1_neighbours() -> None:
    kt = run_ops([("i", k) for k in (5, 1, 9, 3, 7)])
    n = kt.nodes[5]
    assert n.prev.key == 3 and n.next.key == 7
    assert kt.t.first.key == 1 and kt.t.last.key == 9
    assert kt.t.first.prev is None and kt.t.last.next is None


def test_check_names_the_broken_node() -> None:
    kt = run_ops([("i", k) for k in range(20)])
    node = kt.nodes[7]
    node.size += 1
    with pytest.raises(InvariantError, match=r"KNode\(7\)"):
        kt.check()
    node.size -= 1
    kt.t.root.red = True
    with pytest.raises(InvariantError, match="colour"):
        kt.check()
    kt.t.root.red = False
    a, b = kt.nodes[3], kt.nodes[4]
    a.next = kt.nodes[5]
    with pytest.raises(InvariantError, match=r"thread: node KNode\(3\)\.next"):
        kt.check()
    a.next = b
    b.key = 100
    with pytest.raises(InvariantError, match="order"):
        kt.check()


def test_insert_misuse_is_refused() -> None:
    kt = run_ops([("i", 1)])
    with pytest.raises(ValueError):
        kt.t.insert(KNode(0), None, True)


class WeakNode(RBNode):
    __slots__ = ("__weakref__", "key")


def _weak_tree(keys: list[int]) -> tuple[RBTree, list[weakref.ref[WeakNode]]]:
    t = RBTree()
    refs = []
    for key in keys:
        parent, left, cur = None, False, t.root
        while cur is not None:
            parent = cur
            left = key < cur.key
            cur = cur.left if left else cur.right
        node = WeakNode()
        node.key = key
        t.insert(node, parent, left)
        refs.append(weakref.ref(node))
    return t, refs


def test_dropped_or_cleared_tree_frees_its_nodes_without_the_gc() -> None:
    """The links are reference cycles: clear() and dropping the tree unlink every node,
    so reference counting frees them at once, with the cyclic GC switched off."""
    keys = [(i * 37) % 211 for i in range(211)]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t, refs = _weak_tree(keys)
        assert all(r() is not None for r in refs)
        del t
        assert all(r() is None for r in refs)
        t, refs = _weak_tree(keys)
        t.clear()
        assert all(r() is None for r in refs)
        assert (t.root, t.first, t.last, len(t), list(t)) == (None, None, None, 0, [])
        t.insert(WeakNode(), None, True)  # an empty tree again, as good as new
        t.check()
    finally:
        if was_enabled:
            gc.enable()


# ----------------------------------------------------------------------
# the rbtree VMA backend
# ----------------------------------------------------------------------
def layout(rng: random.Random, n: int) -> list[VMA]:
    out, page = [], rng.randrange(0, 4)
    for _ in range(n):
        size = rng.choice((1, 1, 2, 3, 5))
        out.append(VMA(page * P, (page + size) * P))
        page += size + rng.choice((0, 0, 1, 2, 3, 7))
    return out


def filled(name: str, vmas: list[VMA]) -> Any:
    idx = make_index(name)
    for v in vmas:
        idx.insert(v)
    return idx


def _live_vma_nodes() -> int:
    from structures.backends.rbtree import VMANode

    return sum(1 for o in gc.get_objects() if type(o) is VMANode)


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_dropped_bulk_and_dup_children_free_their_nodes_without_the_gc(n: int) -> None:
    """A ``bulk_load``-ed or ``dup``-ed index, dropped, frees every node at once with the
    cyclic GC switched off: nothing the build made (a recursive closure over the node
    list was one such cycle) keeps them for a full collection."""
    vmas = layout(random.Random(n), n)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = _live_vma_nodes()
        idx = make_index("rbtree")
        idx.bulk_load(vmas)
        assert _live_vma_nodes() - before == n
        child = idx.dup()
        assert _live_vma_nodes() - before == 2 * n
        del child
        assert _live_vma_nodes() - before == n
        idx.check()
        assert idx.to_list() == vmas
        del idx
        assert _live_vma_nodes() == before
    finally:
        if was_enabled:
            gc.enable()


def test_registered() -> None:
    idx = make_index("rbtree")
    assert isinstance(idx, RBTreeIndex) and idx.name == "rbtree"


@pytest.mark.parametrize("seed", range(4))
def test_find_gap_matches_list_for_every_window(seed: int) -> None:
    rng = random.Random(seed)
    vmas = layout(rng, 14)
    rb, ref = filled("rbtree", vmas), filled("list", vmas)
    top = vmas[-1].end // P + 4
    for length in (1, 2, 3, 4, 8):
        for lo in range(0, top):
            for hi in range(lo + 1, top + 1):
                for td in (False, True):
                    got = rb.find_gap(length * P, lo * P, hi * P, td)
                    want = ref.find_gap(length * P, lo * P, hi * P, td)
                    assert got == want, (length, lo, hi, td)
        for td in (False, True):  # the run after the last VMA, up to TASK_SIZE
            assert rb.find_gap(length * P, 0, TASK_SIZE, td) == ref.find_gap(length * P, 0, TASK_SIZE, td)


def test_find_gap_matches_list_on_a_process_layout() -> None:
    # The gap suite's shape: a packed mmap area under [vdso]/[stack], so the
    # walks start from ancestors of the first/last VMA at many depths.
    from bench.inputs.workloads import gap_lengths, synthetic_layout

    lay = synthetic_layout(1000, 7)
    rb, ref = filled("rbtree", list(lay.vmas)), filled("list", list(lay.vmas))
    rng = random.Random(7)
    lengths = gap_lengths(200, 7)
    starts = sorted({v.start for v in lay.vmas} | {v.end for v in lay.vmas})
    windows = [(lay.mmap_low, lay.mmap_high), (0, TASK_SIZE)]
    for _ in range(40):
        lo, hi = sorted(rng.sample(starts, 2))
        windows.append((lo, hi))
    for lo, hi in windows:
        for length in lengths[:60]:
            for td in (False, True):
                assert rb.find_gap(length, lo, hi, td) == ref.find_gap(length, lo, hi, td), (length, lo, hi, td)


def test_find_gap_fast_path_agrees_with_base_on_odd_arguments() -> None:
    class Int(int):
        pass

    vmas = layout(random.Random(5), 20)
    rb, ref = filled("rbtree", vmas), filled("list", vmas)
    top = vmas[-1].end + 8 * P
    for args in [(Int(P), 0, top), (P, Int(0), top), (P, 0, Int(top)), (P, 0, P), (2 * P, 0, P), (P, 0, TASK_SIZE)]:
        for td in (0, 1, "", "yes", None, True, False):
            assert rb.find_gap(*args, top_down=td) == ref.find_gap(*args, top_down=td)  # type: ignore[arg-type]
    bad: list[tuple[Any, ...]] = [
        (0, 0, top),
        (P + 1, 0, top),
        (TASK_SIZE + P, 0, TASK_SIZE),
        (True, 0, top),
        (P, -P, top),
        (P, 1, top),
        (P, top, top),
        (P, 0, TASK_SIZE + P),
        (P, 0.0, top),
        (P, 0, None),
    ]
    for args in bad:
        with pytest.raises(Exception) as got:
            rb.find_gap(*args)  # type: ignore[arg-type]
        with pytest.raises(Exception) as want:
            ref.find_gap(*args)  # type: ignore[arg-type]
        assert (type(got.value), str(got.value)) == (type(want.value), str(want.value)), args


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_mutations_keep_augmentation_and_match_oracle(data: st.DataObject) -> None:
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    vmas = layout(rng, data.draw(st.integers(0, 40)))
    rb, ref = filled("rbtree", vmas), filled("list", vmas)
    live = list(vmas)
    for _ in range(data.draw(st.integers(0, 30))):
        if live and rng.random() < 0.5:
            v = live.pop(rng.randrange(len(live)))
            rb.remove(v)
            ref.remove(v)
        else:
            s = rng.randrange(0, 250)
            v = VMA(s * P, (s + rng.choice((1, 2, 4))) * P)
            if ref.intersection(v.start, v.end) is None:
                rb.insert(v)
                ref.insert(v)
                live.append(v)
        rb.check()
        for _ in range(4):
            a = rng.randrange(0, 260) * P + rng.randrange(P)
            assert rb.find(a) == ref.find(a)
            assert rb.lookup(a) == ref.lookup(a)
            assert rb.find_prev(a) == ref.find_prev(a)
            length, lo = rng.choice((1, 2, 3, 6)) * P, rng.randrange(0, 250) * P
            hi = lo + rng.randrange(1, 60) * P
            for td in (False, True):
                assert rb.find_gap(length, lo, hi, td) == ref.find_gap(length, lo, hi, td)
            assert rb.overlapping(lo, hi) == ref.overlapping(lo, hi)
    assert list(rb) == list(ref)


def test_check_names_the_broken_vma_node() -> None:
    rb = filled("rbtree", layout(random.Random(3), 30))
    rb.check()
    node = rb._tree.root.left
    node.subtree_gap += P
    with pytest.raises(InvariantError, match=r"VMANode\[.*subtree_gap"):
        rb.check()
    node.subtree_gap -= P
    node.gap += P
    with pytest.raises(InvariantError, match=r"VMANode\[.*slot gap"):
        rb.check()
    node.gap -= P
    node.subtree_last += 1
    with pytest.raises(InvariantError, match=r"subtree_last"):
        rb.check()
    node.subtree_last -= 1
    rb.check()


@pytest.mark.parametrize("n", [1, 100, 1000])
def test_probe_and_stats(n: int) -> None:
    vmas = [VMA(2 * i * P, (2 * i + 1) * P) for i in range(n)]
    rb = filled("rbtree", vmas)
    st_ = rb.stats()
    assert st_["vmas"] == st_["nodes"] == n
    assert 1 <= st_["black_height"] <= st_["height"] <= 2 * math.log2(n + 1)
    assert st_["bytes"] > 0
    for v in vmas[:: max(1, n // 50)]:
        d = rb.probe(v.start)
        assert 1 <= d <= st_["height"]
    assert rb.probe(vmas[0].start) >= 1
    rb.clear()
    assert rb.stats()["height"] == 0 and len(rb) == 0
    rb.check()


def _shape(idx: Any) -> list[tuple[Any, ...]]:
    """Every node of the backend's tree, in order, with what dup must copy exactly."""

    def key(n: Any) -> int | None:
        return n.start if n is not None else None

    return [
        (n.vma, n.red, n.gap, n.subtree_gap, n.subtree_last, key(n.parent), key(n.left), key(n.right))
        for n in idx._tree
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 600])
def test_dup_copies_shape_colours_and_augmentations(n: int) -> None:
    """The in-order walk copy: the same shape, colours and augmented values, node for
    node, on irregular shapes (random inserts, a third removed), and a child that lives
    on its own."""
    rng = random.Random(n)
    vmas = layout(rng, n + n // 2)
    rng.shuffle(vmas)
    rb = filled("rbtree", vmas)
    for v in vmas[n:]:
        rb.remove(v)
    child = rb.dup()
    child.check()
    assert _shape(child) == _shape(rb)
    assert child.write_stats()["rebalances"] == 0
    assert child._tree.first.prev is None and child._tree.last.next is None
    assert child._tree.root.parent is None
    first = child._tree.first.vma
    child.remove(first)
    child.check()
    rb.check()
    assert first in rb and first not in child


def test_remove_updates_the_successor_gap_in_every_erase_case() -> None:
    """remove sets the successor's grown gap before the core's erase, whose propagation
    must then cover it: with two children (the successor takes node's place), with none
    or only a left child (the successor is an ancestor), and with only a right child (the
    successor is that red leaf, spliced in below the walk).  Each case on a fresh copy."""
    rng = random.Random(5)
    vmas = layout(rng, 300)
    rng.shuffle(vmas)
    rb = filled("rbtree", vmas)
    seen = set()
    for node in list(rb._tree):
        if node.next is None:
            continue
        case = ("two" if node.left is not None else "right") if node.right is not None else "ancestor"
        seen.add(case)
        child = rb.dup()
        child.remove(node.vma)
        child.check()  # gap and subtree_gap of the successor among the rest
        succ = next(n for n in child._tree if n.start == node.next.start)
        assert succ.gap == succ.start - (node.prev.end if node.prev is not None else 0)
    assert seen == {"two", "right", "ancestor"}
