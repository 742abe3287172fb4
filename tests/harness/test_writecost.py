"""``tools/writecost.py``: maple's write time by kind of write, and the A/B without the cross-leaf None join."""

from __future__ import annotations

from types import ModuleType

import pytest

import structures.backends.maple.store as maple_store
from structures.registry import index_factory
from tests.scripts import load_script


def _tool() -> ModuleType:
    return load_script("tools/writecost.py")


def test_random_order_is_the_insert_suites_and_covers_the_layout() -> None:
    tool = _tool()
    a, b = tool.random_order(500), tool.random_order(500)
    assert a == b  # seeded: the same order every time
    assert sorted(a, key=lambda v: v.start) != a  # shuffled
    assert tool.random_order(500, seed=1) != a


def test_classify_sorts_every_call_into_one_kind() -> None:
    tool = _tool()
    vmas = tool.random_order(3000)
    kinds = tool.classify(vmas)
    assert set(kinds) == set(tool.KINDS)
    for op in ("insert", "remove"):
        assert sum(k.count for (o, _), k in kinds.items() if o == op) == len(vmas)
    # at 3,000 VMAs in random order every kind of write happens
    for key, kind in kinds.items():
        assert kind.count > 0, key
        assert min(kind.times) > 0
    assert maple_store.edge_slot.__name__ == "edge_slot"  # the probe is gone again


def test_joins_seen_counts_the_probes_that_meet_a_none_and_restores() -> None:
    tool = _tool()
    vmas = tool.random_order(2000)
    real = maple_store.edge_slot
    idx = index_factory("maple")()
    for v in vmas:
        idx.insert(v)
    with tool.joins_seen() as seen:
        assert maple_store.edge_slot is not real
        for v in vmas:
            idx.remove(v)
    assert maple_store.edge_slot is real
    assert seen[0] > 0
    assert len(idx) == 0
    idx.check()


def test_teardown_without_the_join_rebalances_less_and_ends_valid() -> None:
    tool = _tool()
    vmas = tool.random_order(2000)
    real = maple_store.edge_slot
    rebalances = []
    for join in (True, False):
        idx = index_factory("maple")()
        for v in vmas:
            idx.insert(v)
        idx.write_stats(reset=True)
        if join:
            for v in vmas:
                idx.remove(v)
        else:
            with tool.no_cross_leaf_join():
                for v in vmas:
                    idx.remove(v)
        rebalances.append(idx.write_stats()["rebalances"])
        assert len(idx) == 0
        idx.check()  # merges join the edge Nones, so the emptied tree is one None again
    assert maple_store.edge_slot is real
    assert rebalances[1] < rebalances[0]


def test_ab_times_every_variant_each_round() -> None:
    tool = _tool()
    out = tool.ab(tool.random_order(300), 3)
    assert list(out) == list(tool.VARIANTS)
    assert all(len(times) == 3 and min(times) > 0 for times in out.values())
    assert maple_store.edge_slot.__name__ == "edge_slot"


def test_main_prints_the_kinds_and_the_ab(capsys: pytest.CaptureFixture[str]) -> None:
    _tool().main(["--n", "400", "--rounds", "1"])
    out = capsys.readouterr().out
    for _, name in _tool().KINDS:
        assert name in out
    assert out.count("x sortedcontainers") == 3
    assert "maple, no cross-leaf join" in out


def test_main_refuses_an_empty_run() -> None:
    with pytest.raises(SystemExit):
        _tool().main(["--n", "0"])
