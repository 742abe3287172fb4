"""Range locks (Bueso's ``range``, the list-based ``range-list``): Bueso's ordering example, sharing,
exclusion, FIFO, timeouts, cleanup, downgrade — every test over both kinds."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from structures import TASK_SIZE, make_index
from structures.locks import make_lock
from structures.locks.api import LockHandle
from structures.locks.rangelock import RangeLock
from structures.vma import InvariantError
from tests.locks.helpers import RANGE_KINDS, Waiter, letters, states


@pytest.fixture(params=RANGE_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_bueso_ordering_example(kind: str) -> None:
    lock = make_lock(kind)
    a = lock.acquire_write(*letters("a", "n"))
    assert a is not None
    b = Waiter(lock, True, *letters("g", "z"))
    c = Waiter(lock, True, *letters("b", "m"))
    st = states(lock)
    assert st[(*letters("g", "z"), True)] == ("waiting", 1)
    assert st[(*letters("b", "m"), True)] == ("waiting", 2)
    lock.check()
    lock.release(a)
    assert b.done.wait(5) and b.result == "granted"
    st = states(lock)
    assert st[(*letters("b", "m"), True)] == ("waiting", 1)  # C still waits for B
    assert not c.done.is_set()
    lock.check()
    b.release()
    assert c.done.wait(5) and c.result == "granted"
    c.release()
    assert len(lock) == 0


def test_readers_share_writers_exclude(kind: str) -> None:
    lock = make_lock(kind)
    r1 = lock.acquire_read(0, 100)
    r2 = lock.acquire_read(50, 150)
    assert r1 is not None and r2 is not None
    assert lock.held() == (2, 0)
    assert lock.try_write(99, 120) is None
    assert lock.try_write(0, 1) is None
    w = lock.try_write(150, 200)  # disjoint: granted
    assert w is not None
    assert lock.try_read(149, 151) is None  # meets the writer
    lock.release(r1)
    lock.release(r2)
    lock.release(w)
    assert len(lock) == 0
    assert lock.stats()["acquisitions"] == 3


def test_full_range_is_an_rwsem(kind: str) -> None:
    lock = make_lock(kind)
    r = lock.acquire_read()
    assert r is not None and (r.start, r.end) == (0, TASK_SIZE)
    r2 = lock.try_read(TASK_SIZE - 1, TASK_SIZE)
    assert r2 is not None
    assert lock.try_write(12345, 12346) is None
    lock.release(r)
    lock.release(r2)
    with lock.write():
        assert lock.try_read(0, 1) is None
        assert lock.try_read(TASK_SIZE - 1, TASK_SIZE) is None
    assert len(lock) == 0


def test_fifo_writer_before_later_readers(kind: str) -> None:
    lock = make_lock(kind)
    r1 = lock.acquire_read(0, 100)
    assert r1 is not None
    w = Waiter(lock, True, 10, 20)
    r2 = Waiter(lock, False, 0, 100)  # arrives after the writer: must not overtake it
    assert not w.done.is_set() and not r2.done.is_set()
    assert states(lock)[(0, 100, False)] in {("granted", 0), ("waiting", 1)}
    lock.check()
    lock.release(r1)
    assert w.done.wait(5) and w.result == "granted"
    assert not r2.done.is_set()
    w.release()
    assert r2.done.wait(5) and r2.result == "granted"
    r2.release()
    assert len(lock) == 0


def test_disjoint_ranges_never_wait(kind: str) -> None:
    lock = make_lock(kind)
    w = lock.acquire_write(0, 4096)
    assert w is not None
    blocked = Waiter(lock, True, 0, 8192)  # waits on w, spans into the next range
    # a request disjoint from everything granted and waiting is granted at once
    h = lock.try_write(8192, 12288)
    assert h is not None
    # but one that meets only the *waiting* request must queue behind it (FIFO)
    assert lock.try_write(4096, 8192) is None
    lock.release(h)
    lock.release(w)
    blocked.release()
    assert len(lock) == 0


def test_timeout_decrements_exactly_the_later_requests(kind: str) -> None:
    lock = make_lock(kind)
    a = lock.acquire_write(0, 100)
    assert a is not None
    b = Waiter(lock, True, 50, 150, timeout=1.0)  # waits on A, then times out (after C queued: loaded CI)
    c = Waiter(lock, True, 60, 70)  # counts A and B
    assert states(lock)[(60, 70, True)] == ("waiting", 2)
    assert b.done.wait(5) and b.result == "timeout"
    assert states(lock)[(60, 70, True)] == ("waiting", 1)
    assert lock.stats()["timeouts"] == 1
    lock.check()
    lock.release(a)
    assert c.done.wait(5) and c.result == "granted"
    c.release()
    assert len(lock) == 0


def test_timed_out_reader_does_not_unblock_later_readers(kind: str) -> None:
    """The reader-ness of the leaving request decides whom it decrements (the posted code's bug)."""
    lock = make_lock(kind)
    a = lock.acquire_write(0, 100)
    assert a is not None
    r = Waiter(lock, False, 0, 100, timeout=1.0)  # outlives the two Waiters after it, even loaded
    r2 = Waiter(lock, False, 0, 100)  # counted only A, not the reader R
    w = Waiter(lock, True, 0, 100)  # counted A, R and R2
    assert states(lock)[(0, 100, True)] == ("waiting", 3)
    assert r.done.wait(5) and r.result == "timeout"
    assert not r2.done.is_set()  # still behind the writer A
    assert states(lock)[(0, 100, True)] == ("waiting", 2)
    lock.check()
    lock.release(a)
    assert r2.done.wait(5) and r2.result == "granted"
    assert not w.done.is_set()
    r2.release()
    assert w.done.wait(5)
    w.release()
    assert len(lock) == 0


def test_nonblocking_leaves_nothing(kind: str) -> None:
    lock = make_lock(kind)
    a = lock.acquire_write(0, 10)
    assert a is not None
    assert lock.acquire_write(5, 6, blocking=False) is None
    assert lock.acquire_read(0, 10, timeout=0) is None
    assert len(lock) == 1
    lock.release(a)
    assert len(lock) == 0


def test_exception_in_with_releases(kind: str) -> None:
    lock = make_lock(kind)
    with pytest.raises(ZeroDivisionError), lock.write(0, 4096):
        assert len(lock) == 1
        _ = 1 / 0
    assert len(lock) == 0
    with lock.read(0, 4096), lock.read(0, 8192):
        assert lock.held() == (2, 0)
    assert len(lock) == 0


def test_interrupted_waiter_leaves_cleanly(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = make_lock(kind)
    a = lock.acquire_write(0, 100)
    assert a is not None
    c = Waiter(lock, True, 0, 10)  # counts A

    class Gate:
        def __init__(self) -> None:
            self.inner = threading.Lock()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if self.inner.locked():
                raise KeyboardInterrupt
            return self.inner.acquire()

        def release(self) -> None:
            self.inner.release()

    import structures.locks.api as api  # the gates are made by the shared waiting protocol

    class FakeThreading:
        Lock = Gate

    monkeypatch.setattr(api, "threading", FakeThreading)
    with pytest.raises(KeyboardInterrupt):
        lock.acquire_write(0, 100)  # arrives after C, interrupted while waiting
    monkeypatch.undo()
    assert states(lock)[(0, 10, True)] == ("waiting", 1)
    assert len(lock) == 2
    lock.check()
    lock.release(a)
    assert c.done.wait(5)
    c.release()
    assert len(lock) == 0
    assert lock.stats()["timeouts"] == 1


def test_downgrade_wakes_readers_only(kind: str) -> None:
    lock = make_lock(kind)
    w = lock.acquire_write(0, 100)
    assert w is not None
    r = Waiter(lock, False, 0, 50)  # blocked only by W's writer-ness
    w2 = Waiter(lock, True, 40, 60)  # counts W and R
    assert states(lock)[(40, 60, True)] == ("waiting", 2)
    lock.downgrade(w)
    assert not w.write
    assert r.done.wait(5) and r.result == "granted"
    assert states(lock)[(40, 60, True)] == ("waiting", 2)  # writers still count a reader
    lock.check()
    with pytest.raises(RuntimeError):
        lock.downgrade(w)  # already a reader
    lock.release(w)
    r.release()
    assert w2.done.wait(5)
    w2.release()
    assert len(lock) == 0


def test_release_errors(kind: str) -> None:
    lock = make_lock(kind)
    h = lock.acquire_read(0, 1)
    assert h is not None
    lock.release(h)
    with pytest.raises(RuntimeError):
        lock.release(h)
    with pytest.raises(RuntimeError):
        lock.release(LockHandle(True, 0, 1))
    assert len(lock) == 0


def test_random_schedule_keeps_counts_exact(kind: str) -> None:
    """Random arrivals/releases/timeouts; after each step the counts match a from-scratch recount."""
    rng = random.Random(1234)
    lock = make_lock(kind)
    waiters: list[Waiter] = []
    held: list[Any] = []
    for _ in range(60):
        op = rng.random()
        s = rng.randrange(0, 64)
        e = s + rng.randrange(1, 16)
        if op < 0.45:
            waiters.append(Waiter(lock, rng.random() < 0.5, s, e, timeout=rng.choice([None, None, 0.01])))
        elif op < 0.6:
            h = lock.try_write(s, e) if rng.random() < 0.5 else lock.try_read(s, e)
            if h is not None:
                held.append(h)
        elif op < 0.8 and held:
            lock.release(held.pop(rng.randrange(len(held))))
        else:
            granted = [w for w in waiters if w.done.is_set() and w.result == "granted"]
            if granted:
                w = rng.choice(granted)
                w.release()
                waiters.remove(w)
        lock.check()
        # safety: no two granted requests conflict
        g = [(s2, e2, w2) for s2, e2, w2, st, _ in lock.ranges() if st == "granted"]
        for i, (s1, e1, w1) in enumerate(g):
            for s2, e2, w2 in g[i + 1 :]:
                assert not (s1 < e2 and s2 < e1 and (w1 or w2))
    for h in held:
        lock.release(h)
    deadline = time.monotonic() + 10
    while waiters:
        assert time.monotonic() < deadline
        for w in list(waiters):
            if w.done.is_set():
                if w.result == "granted":
                    w.release()
                waiters.remove(w)
        time.sleep(0.001)
    assert len(lock) == 0
    lock.check()


def test_is_the_default_index_lock() -> None:
    idx = make_index("list")
    assert isinstance(idx.lock, RangeLock)
    assert type(make_index("list", lock="rwsem").lock).__name__ == "RWSemaphore"


def test_check_names_each_broken_invariant() -> None:
    """check() recomputes the live count, the tree's spans and the blocking counts from scratch."""
    lock = RangeLock()
    a = lock.acquire_write(0, 8192)
    b = lock.acquire_read(4096, 12288, blocking=False)  # blocked by a: refused, leaves nothing
    assert b is None and len(lock) == 1
    lock.check()
    lock._live = 2  # corrupt: the fast path's count disagrees with the tree
    with pytest.raises(InvariantError, match="counts 2 live requests, the tree holds 1"):
        lock.check()
    lock._live = 1
    assert isinstance(a, LockHandle)
    a.blocking = 1  # corrupt: a granted request that says it waits for one
    with pytest.raises(InvariantError, match="blocking=1, recounted 0"):
        lock.check()
    a.blocking = 0
    lock.release(a)
    assert len(lock) == 0 and lock._live == 0
    lock.check()


def test_a_lone_request_stays_out_of_the_tree_until_a_second_arrives() -> None:
    """The uncontended fast path: a request at an empty lock is parked, and linked with its own
    arrival number when the next request comes, so the FIFO rules see it as always there."""
    lock = RangeLock()
    a = lock.acquire_write(0, 8192)
    assert a is not None and a.granted
    assert len(lock._tree) == 0 and len(lock) == 1
    assert lock.ranges() == [(0, 8192, True, "granted", 0)]
    lock.check()
    lock.downgrade(a)  # lone: nobody to wake
    assert lock.ranges() == [(0, 8192, False, "granted", 0)]
    b = lock.acquire_read(4096, 12288)  # shares with the downgraded reader; links it first
    assert b is not None and b.granted
    assert len(lock._tree) == 2 and a.seq < b.seq
    lock.check()
    w = Waiter(lock, True, 0, 4096)  # a writer behind the (once lone) reader a
    assert states(lock)[(0, 4096, True)] == ("waiting", 1)
    lock.release(b)
    assert not w.done.wait(0.05)  # still behind a
    lock.release(a)
    assert w.done.wait(5) and w.result == "granted"
    w.release()
    assert len(lock) == 0 and lock.ranges() == []
    c = lock.acquire_read(0, 4096)  # the lock is empty again: c is the new lone request
    assert c is not None and len(lock._tree) == 0 and len(lock) == 1
    lock.release(c)
    with pytest.raises(RuntimeError, match="not held"):
        lock.release(c)  # a released lone handle is refused like any other
    lock.check()


def test_check_names_a_broken_lone_request() -> None:
    lock = RangeLock()
    a = lock.acquire_write(0, 4096)
    assert isinstance(a, LockHandle)
    lock._live = 0  # corrupt: the count forgets the lone request
    with pytest.raises(InvariantError, match="counts 0 live requests, the tree holds 0 and one lone request"):
        lock.check()
    lock._live = 1
    a.state = "waiting"  # corrupt: a lone request is granted by definition
    with pytest.raises(InvariantError, match="is not a granted, unlinked request"):
        lock.check()
    a.state = "granted"
    lock.check()
    lock.release(a)
    lock.check()
