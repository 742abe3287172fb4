"""Tests for the seqcount the lock-free readers of maple and xarray share."""

from __future__ import annotations

import threading

import pytest

from structures.lib.seqcount import SeqCount, Torn


def test_sections_flip_parity_and_nest_idempotently() -> None:
    sc = SeqCount()
    assert sc.seq == 0 and sc.writer is None
    sc.begin()
    assert sc.seq == 1 and sc.writer == threading.get_ident()
    sc.begin()  # already open: a multi-step write (replace) is one section
    assert sc.seq == 1
    sc.end()
    assert sc.seq == 2 and sc.writer is None
    sc.end()  # already closed
    assert sc.seq == 2


def test_read_returns_a_quiescent_walk_at_once() -> None:
    sc = SeqCount()
    assert sc.read(lambda a, b: a + b, 2, 3) == 5
    assert sc.retries() == 0 and sc.torn() == 0


def test_read_retries_a_walk_that_overlapped_a_write() -> None:
    sc = SeqCount()
    calls: list[int] = []

    def walk() -> int:
        calls.append(1)
        if len(calls) == 1:
            sc.seq += 2  # a complete write happened during this walk
        return len(calls)

    assert sc.read(walk) == 2
    assert sc.retries() == 1 and sc.torn() == 0


def test_torn_walks_restart_and_are_counted_apart() -> None:
    sc = SeqCount()
    calls: list[int] = []

    def walk() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Torn
        return "ok"

    assert sc.read(walk) == "ok"
    assert sc.torn() == 2 and sc.retries() == 0


def test_errors_of_a_quiescent_walk_propagate_and_torn_ones_retry() -> None:
    sc = SeqCount()

    def bad() -> None:
        raise KeyError("real")

    with pytest.raises(KeyError):
        sc.read(bad)
    calls: list[int] = []

    def torn_read() -> int:
        calls.append(1)
        if len(calls) == 1:
            sc.seq += 2
            raise AttributeError("garbage seen mid-write")
        return 7

    assert sc.read(torn_read) == 7 and sc.retries() == 1


def test_the_writer_reads_its_own_half_done_state() -> None:
    sc = SeqCount()
    sc.begin()
    assert sc.read(lambda: "mine") == "mine"  # would spin forever for anyone else
    sc.end()


def test_readers_wait_for_an_open_section() -> None:
    sc = SeqCount()
    state = {"v": 0}
    got: list[int] = []
    sc.begin()
    state["v"] = 1  # a half-done write
    reader = threading.Thread(target=lambda: got.append(sc.read(lambda: state["v"])))
    reader.start()
    reader.join(0.05)
    assert reader.is_alive() and not got  # it waits (spinning, then yielding)
    state["v"] = 2
    sc.end()
    reader.join()
    assert got == [2]


def test_restarts_are_counted_per_thread_and_summed() -> None:
    """Readers count their restarts without a shared read-modify-write; none is lost."""
    sc = SeqCount()
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(2000):
            sc.retried()
        sc.restarted_torn()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sc.retries() == 8 * 2000 and sc.torn() == 8
