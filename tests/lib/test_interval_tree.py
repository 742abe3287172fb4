"""The interval tree (``structures.lib.rbtree.IntervalTree``) against brute force.

This is the API the range lock builds on: ``insert(start, last, value)``
returns a node, ``remove(node)``, ``overlaps(start, last)`` yields the nodes
meeting the closed interval in ``(start, insertion)`` order.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structures import InvariantError
from structures.lib.interval_tree import IntervalNode, IntervalTree


def brute(nodes: list[IntervalNode], start: int, last: int) -> list[IntervalNode]:
    hits = [n for n in nodes if n.start <= last and start <= n.last]
    return sorted(hits, key=lambda n: (n.start, n.seq))


def test_reexported_and_basic() -> None:
    t = IntervalTree()
    assert len(t) == 0 and list(t) == [] and list(t.overlaps(0, 10)) == []
    a = t.insert(10, 20, "a")
    assert (a.start, a.last, a.value) == (10, 20, "a")
    b = t.insert(10, 20, "b")  # an equal interval is allowed
    c = t.insert(15, 15, "c")
    assert [n.value for n in t.overlaps(20, 30)] == ["a", "b"]
    assert [n.value for n in t.overlaps(15, 15)] == ["a", "b", "c"]
    assert list(t.overlaps(21, 100)) == []
    assert list(t.overlaps(0, 9)) == []
    assert t.first_overlap(0, 10) is a
    t.remove(a)
    assert [n.value for n in t] == ["b", "c"]
    t.check()
    t.remove(b)
    t.remove(c)
    assert len(t) == 0
    t.check()


def test_bad_input() -> None:
    t = IntervalTree()
    with pytest.raises(ValueError):
        t.insert(5, 4, None)
    n = t.insert(1, 2)
    t.remove(n)
    with pytest.raises(KeyError):
        t.remove(n)


def test_equal_starts_keep_insertion_order() -> None:
    t = IntervalTree()
    nodes = [t.insert(0, 100 - i, i) for i in range(50)]
    assert [n.value for n in t.overlaps(0, 0)] == list(range(50))
    for n in nodes[::2]:
        t.remove(n)
    assert [n.value for n in t.overlaps(60, 1000)] == [i for i in range(1, 41, 2)]
    t.check()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 200), st.integers(0, 40), st.integers(0, 10**6)),
        max_size=120,
    ),
    st.lists(st.tuples(st.integers(0, 260), st.integers(0, 80)), min_size=1, max_size=8),
)
def test_overlaps_match_brute_force(ops: list[tuple[bool, int, int, int]], queries: list[tuple[int, int]]) -> None:
    t = IntervalTree()
    live: list[IntervalNode] = []
    for remove, start, span, pick in ops:
        if remove and live:
            t.remove(live.pop(pick % len(live)))
        else:
            live.append(t.insert(start, start + span, pick))
    t.check()
    assert len(t) == len(live)
    assert list(t) == sorted(live, key=lambda n: (n.start, n.seq))
    for start, span in queries:
        assert list(t.overlaps(start, start + span)) == brute(live, start, start + span)


def test_large_random_run_checks_every_step() -> None:
    rng = random.Random(7)
    t = IntervalTree()
    live: list[IntervalNode] = []
    for step in range(1500):
        if live and rng.random() < 0.45:
            t.remove(live.pop(rng.randrange(len(live))))
        else:
            s = rng.randrange(0, 5000)
            live.append(t.insert(s, s + rng.choice((0, 1, 10, 100, 2000)), step))
        if step % 25 == 0:
            t.check()
            a = rng.randrange(0, 6000)
            b = a + rng.randrange(0, 300)
            assert list(t.overlaps(a, b)) == brute(live, a, b)


def test_check_names_the_node() -> None:
    t = IntervalTree()
    nodes = [t.insert(i * 10, i * 10 + 5, i) for i in range(20)]
    nodes[4].subtree_last += 1000
    with pytest.raises(InvariantError, match=r"IntervalNode\[0x28, 0x2d\]#5 slot subtree_last"):
        t.check()
