"""LocalCounters: per-thread statistics that lose no update, with or without the GIL."""

from __future__ import annotations

import threading

from structures.lib.counters import LocalCounters


def test_concurrent_adds_are_all_counted() -> None:
    c = LocalCounters(("a", "b"))
    start = threading.Barrier(4)

    def work(i: int) -> None:
        start.wait()
        for _ in range(20_000):
            c.add("a")
            c.add("b", i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.totals() == {"a": 80_000, "b": 20_000 * (0 + 1 + 2 + 3)}


def test_exited_threads_are_folded_and_the_registry_stays_bounded() -> None:
    c = LocalCounters(("x",))
    for _ in range(50):
        t = threading.Thread(target=c.add, args=("x", 2))
        t.start()
        t.join()
    c.add("x")  # registering this thread folds every exited one
    assert c.totals() == {"x": 101}
    assert len(c._live) == 1  # only the calling thread is still registered


def test_unknown_keys_count_and_reset_zeroes() -> None:
    c = LocalCounters()
    c.add("new", 5)
    assert c.totals() == {"new": 5}
    c.reset()
    assert c.totals() == {"new": 0}
    c.add("new")
    assert c.totals() == {"new": 1}
