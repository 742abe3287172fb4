"""The ``fork`` suite and fork inside trace replay: cases, metadata, and what a fork builds."""

from __future__ import annotations

from typing import Any

import pytest

from bench.inputs.traces import CLONE_VM, Event, Trace, replay
from bench.suites import SuiteOptions, load_suite
from structures import PAGE_SIZE, make_index
from structures.vma import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

fork_suite = load_suite("fork")
insert_suite = load_suite("insert")
BACKENDS = ("maple", "rbtree", "xarray", "list", "sortedcontainers", "bintrees", "vmacache+maple")
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def _cases(fast: bool, backends: tuple[str, ...] = ("maple", "list"), sizes: tuple[int, ...] = (100, 1000)) -> Any:
    return fork_suite.cases(SuiteOptions(backends=backends, sizes=sizes, fast=fast))


def test_case_names_ops_and_fast_mode() -> None:
    full = [c.name for c in _cases(False)]
    assert "fork/dup/layout/n=001000/maple" in full
    assert "fork/bulk_load/layout/n=000100/list" in full
    assert "fork/reinsert/layout/n=001000/list" in full
    assert any(n.startswith("fork/mm.fork/maps-python-stdlib/") for n in full)
    fast = [c.name for c in _cases(True)]
    assert {n.split("/")[1] for n in fast} == {"dup", "reinsert"}  # --fast: no bulk_load, no snapshots
    assert len(fast) == 2 * 2 * 2
    case = next(c for c in _cases(True) if c.name == "fork/dup/layout/n=001000/maple")
    assert case.inner_loops == 1 and case.metadata["op"] == "dup" and case.metadata["n"] == 1000


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_op_builds_an_equal_child_and_reports_its_cost(backend: str) -> None:
    for case in _cases(False, (backend,), (300,)):
        assert case.time_func(2) > 0
        meta = case.measure()
        fn = case.time_func
        state = fn.__closure__[fn.__code__.co_freevars.index("state")].cell_contents  # type: ignore[index]
        if "/mm.fork/" in case.name:
            mm = state.get()
            child = mm.fork()
            assert child.vmas() == mm.vmas() and child.rss() == mm.rss() and meta["vmas"] == len(mm.vmas())
            child.check()
            continue
        parent, new_index = state.get()
        child = fork_suite._child(case.metadata["op"], parent, new_index)
        assert list(child) == list(parent) and len(parent) == 300
        child.check()
        if backend in ("list", "sortedcontainers", "bintrees"):
            assert "nodes_allocated" not in meta  # nothing counted, nothing made up
        else:
            assert meta["nodes_allocated"] > 0 and meta["nodes_per_vma"] > 0
            if case.metadata["op"] == "dup":
                assert meta["nodes_copied"] == meta["nodes_allocated"] and meta["rebalances"] == 0


def test_dup_copies_fewer_nodes_than_reinsert_allocates() -> None:
    """The language-independent form of the ``__mt_dup`` argument: a node copy makes
    each node once; re-inserting copies leaves over and over and rebalances."""
    got = {c.name: c.measure() for c in _cases(False, ("maple", "rbtree"), (1000,)) if "/layout/" in c.name}
    dup, ins = got["fork/dup/layout/n=001000/maple"], got["fork/reinsert/layout/n=001000/maple"]
    assert dup["nodes_allocated"] == dup["nodes"] and dup["rebalances"] == 0
    assert ins["nodes_allocated"] > 5 * dup["nodes_allocated"] and ins["rebalances"] > 0
    rb_dup, rb_ins = got["fork/dup/layout/n=001000/rbtree"], got["fork/reinsert/layout/n=001000/rbtree"]
    assert rb_dup["nodes_allocated"] == rb_ins["nodes_allocated"] == 1000  # one node per VMA either way
    assert rb_dup["rebalances"] == 0 < rb_ins["rebalances"]  # but no rotation when copying


def test_fork_suite_refuses_an_unknown_policy() -> None:
    opts = SuiteOptions(backends=("list",), sizes=(100,), extra={"policy": "bogus"})
    with pytest.raises(ValueError, match="unknown policy 'bogus'"):
        fork_suite.cases(opts)


def test_insert_suite_reports_write_cost_per_op() -> None:
    opts = SuiteOptions(backends=("maple", "rbtree", "list"), sizes=(200,), fast=True)
    got = {c.name: c.measure() for c in insert_suite.cases(opts)}  # type: ignore[attr-defined]
    maple = got["insert/build+remove/random/n=000200/maple"]
    assert maple["insert_nodes_allocated"] > 0 and maple["remove_nodes_freed"] > 0  # an exact fill allocates none
    rb = got["insert/build+remove/random/n=000200/rbtree"]
    assert rb["insert_nodes_allocated"] == 1 and rb["remove_nodes_freed"] == 1 and rb["insert_rebalances"] > 0
    assert "insert_nodes_allocated" not in got["insert/build+remove/random/n=000200/list"]
    churn = got["insert/churn/random/n=000200/maple"]
    assert churn["churn_nodes_allocated"] > 0


# ----------------------------------------------------------------------
# fork inside trace replay
# ----------------------------------------------------------------------
def _ev(t: int, pid: int, op: str, *args: int, name: str = "") -> Event:
    return Event(t, pid, op, tuple(args), name)


A = 0x7F0000000000


def _fork_trace() -> Trace:
    return Trace([
        _ev(0, 1, "exec", name="/bin/sh"),
        _ev(1, 1, "seed", 0x555555554000, 0x555555556000, 5, MAP_PRIVATE, 0, name="/bin/sh"),
        _ev(2, 1, "brk", 0, 0x555555560000),
        _ev(3, 1, "brk", 0x555555564000, 0x555555564000),
        _ev(4, 1, "mmap", 0, 0x4000, RW, ANON, 0, A),
        _ev(5, 1, "fault", A),
        _ev(6, 1, "clone", 2, 0x11),  # fork (SIGCHLD): the child gets a copy
        _ev(7, 2, "munmap", A, 0x1000),  # the child unmaps a page: the parent keeps it
        _ev(8, 1, "mprotect", A + 0x1000, 0x1000, 1),  # the parent changes a page: not the child
        _ev(9, 2, "fault", A + 0x2000),
        _ev(10, 2, "clone", 3, 0x11),  # a grandchild
        _ev(11, 1, "clone", 4, CLONE_VM),  # a thread: shares, no fork
        _ev(12, 3, "exec", name="/bin/ls"),
    ])


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_forks_with_address_space_fork(backend: str) -> None:
    res = replay(_fork_trace(), backend)
    assert res.forks == 2 and res.unexplained == 0 and not res.errors
    assert list(res.spaces) == ["1#1", "2#1", "3#1", "3#2"]
    parent, child, grandchild = (res.spaces[k] for k in ("1#1", "2#1", "3#1"))
    assert child.index is not parent.index and child.index.lock is not parent.index.lock
    assert child.policy is not parent.policy and child.policy.name == parent.policy.name
    assert child.brk() == parent.brk() and child.rss() >= 1  # the break and the page table came along
    assert parent.index.lookup(A) is not None and child.index.lookup(A) is None
    assert parent.index.lookup(A + 0x1000).prot == 1 and child.index.lookup(A + 0x1000).prot == RW
    assert grandchild.vmas() == child.vmas() and res.spaces["3#2"].vmas() == []  # forked, then exec
    ref = replay(_fork_trace(), "list")
    assert res.states() == ref.states()
    for mm in res.spaces.values():
        mm.check()


def test_shipped_traces_have_no_fork() -> None:
    """The shipped traces clone only with CLONE_VM (vfork + exec, threads): their replay
    forks nothing, so the trace suite's fork path runs only on users' traces."""
    from bench.suites.trace import TRACE_DIR, load_input

    for path in sorted(TRACE_DIR.glob("*.trace.gz")):
        tr = load_input(path)
        assert all(ev.args[1] & CLONE_VM for ev in tr.events if ev.op == "clone"), path.name


def test_make_index_dup_keeps_backend_spec_options() -> None:
    idx = make_index("maple[leaf_slots=8,internal_slots=6]")
    for i in range(50):
        idx.insert(make_vma(i))
    child = idx.dup()
    assert (child.leaf_slots, child.internal_slots) == (8, 6)  # type: ignore[attr-defined]
    child.check()


def make_vma(i: int) -> Any:
    from structures import VMA

    return VMA(3 * i * PAGE_SIZE, (3 * i + 2) * PAGE_SIZE)
