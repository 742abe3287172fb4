"""The reader/writer API every lock kind gives (first written for the RWSemaphore): sharing, exclusion,
FIFO writer preference, timeouts, cleanup — over every kind, full-range requests unless a test says so."""

from __future__ import annotations

import threading
import time

import pytest

from structures import TASK_SIZE, InvalidRangeError, RWSemaphore, make_index
from structures.locks import LockBase, make_lock
from tests.locks.helpers import ALL_KINDS, wait_until


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def quiet(sem: LockBase) -> bool:
    """Nobody holds or waits for the lock."""
    readers, writers = sem.held()  # type: ignore[attr-defined]
    return not readers and not writers and sem.waiting() == 0  # type: ignore[attr-defined]


def test_readers_share(kind: str) -> None:
    sem = make_lock(kind)
    a = sem.acquire_read()
    b = sem.acquire_read(0, 4096)
    assert a is not None and b is not None
    assert sem.held() == (2, 0)
    assert sem.try_write() is None
    sem.release(a)
    sem.release(b)
    assert quiet(sem)


def test_writer_excludes_everyone(kind: str) -> None:
    sem = make_lock(kind)
    w = sem.acquire_write(0, 4096)
    assert w is not None and w.write
    assert sem.try_read() is None
    far = sem.try_write(1 << 40, (1 << 40) + 4096)
    if sem.ranged:  # a range lock grants a disjoint range beside the writer
        assert far is not None
        sem.release(far)
    else:  # the rwsem treats every range as the full range
        assert far is None
    sem.release(w)
    assert sem.try_read() is not None


def test_waiting_writer_blocks_later_readers(kind: str) -> None:
    sem = make_lock(kind)
    r1 = sem.acquire_read()
    order: list[str] = []

    def writer() -> None:
        with sem.write():
            order.append("writer")

    t = threading.Thread(target=writer)
    t.start()
    wait_until(lambda: sem.waiting() == 1)
    # a reader arriving after the queued writer must not overtake it
    assert sem.try_read() is None

    def late_reader() -> None:
        with sem.read():
            order.append("reader")

    t2 = threading.Thread(target=late_reader)
    t2.start()
    wait_until(lambda: sem.waiting() == 2)
    assert order == []
    sem.release(r1)
    t.join(5)
    t2.join(5)
    assert order == ["writer", "reader"]
    assert quiet(sem)


def test_consecutive_readers_granted_together(kind: str) -> None:
    sem = make_lock(kind)
    w = sem.acquire_write()
    inside = threading.Barrier(4)
    done: list[int] = []

    def reader(i: int) -> None:
        with sem.read():
            inside.wait(5)  # all three readers inside at once, plus the main thread
            done.append(i)

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    wait_until(lambda: sem.waiting() == 3)
    sem.release(w)
    inside.wait(5)
    for t in ts:
        t.join(5)
    assert sorted(done) == [0, 1, 2]


def test_timeout_cleans_up(kind: str) -> None:
    sem = make_lock(kind)
    w = sem.acquire_write()
    t0 = time.monotonic()
    assert sem.acquire_read(timeout=0.05) is None
    assert sem.acquire_write(timeout=0.0) is None
    assert time.monotonic() - t0 >= 0.04
    assert sem.waiting() == 0
    assert sem.stats()["timeouts"] == 2
    sem.release(w)
    assert quiet(sem)
    h = sem.acquire_write(timeout=0.05)
    assert h is not None
    sem.release(h)


def test_timed_out_writer_unblocks_readers_behind_it(kind: str) -> None:
    sem = make_lock(kind)
    r = sem.acquire_read()
    got: list[bool] = []

    def writer() -> None:
        got.append(sem.acquire_write(timeout=1.0) is not None)  # outlives the reader queueing behind it

    def reader() -> None:
        h = sem.acquire_read()  # queued behind the writer
        got.append(h is not None)
        assert h is not None
        sem.release(h)

    tw = threading.Thread(target=writer)
    tw.start()
    wait_until(lambda: sem.waiting() == 1)
    tr = threading.Thread(target=reader)
    tr.start()
    wait_until(lambda: sem.waiting() == 2)
    tw.join(5)
    tr.join(5)
    assert got == [False, True]
    sem.release(r)
    assert quiet(sem) and sem.waiting() == 0


def test_exception_inside_with_releases(kind: str) -> None:
    sem = make_lock(kind)
    with pytest.raises(RuntimeError, match="boom"), sem.write(0, 4096):
        raise RuntimeError("boom")
    assert quiet(sem)
    with pytest.raises(KeyError), sem.read():
        raise KeyError("x")
    assert quiet(sem)


def test_downgrade_admits_readers(kind: str) -> None:
    sem = make_lock(kind)
    w = sem.acquire_write()
    assert w is not None
    entered = threading.Event()

    def reader() -> None:
        with sem.read():
            entered.set()

    t = threading.Thread(target=reader)
    t.start()
    wait_until(lambda: sem.waiting() == 1)
    sem.downgrade(w)
    assert entered.wait(5)
    t.join(5)
    assert sem.held() == (1, 0)
    assert sem.try_write() is None
    sem.release(w)
    assert quiet(sem)


def test_misuse_raises_and_changes_nothing(kind: str) -> None:
    sem = make_lock(kind)
    r = sem.acquire_read()
    assert r is not None
    with pytest.raises(RuntimeError):
        sem.downgrade(r)  # not a writer
    sem.release(r)
    with pytest.raises(RuntimeError):
        sem.release(r)  # double release
    assert quiet(sem)
    with pytest.raises(InvalidRangeError):
        sem.read(10, 5)
    with pytest.raises(InvalidRangeError):
        sem.write(0, TASK_SIZE + 1)
    with pytest.raises(InvalidRangeError):
        sem.acquire_read(timeout=-1)
    with pytest.raises(InvalidRangeError):
        sem.read(0, None)  # type: ignore[arg-type]
    assert quiet(sem) and sem.waiting() == 0


def test_writers_do_not_starve_under_reader_stream(kind: str) -> None:
    sem = make_lock(kind)
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with sem.read():
                time.sleep(0.0005)

    ts = [threading.Thread(target=reader) for _ in range(4)]
    for t in ts:
        t.start()
    try:
        for _ in range(20):
            h = sem.acquire_write(timeout=5)
            assert h is not None, "writer starved behind readers"
            sem.release(h)
    finally:
        stop.set()
        for t in ts:
            t.join(5)
    assert quiet(sem)


def test_mutual_exclusion_counter(kind: str) -> None:
    sem = make_lock(kind)
    state = {"writers": 0, "readers": 0, "bad": 0}
    guard = threading.Lock()

    def worker(i: int) -> None:
        for k in range(300):
            if (i + k) % 3 == 0:
                with sem.write():
                    with guard:
                        state["writers"] += 1
                        if state["writers"] != 1 or state["readers"]:
                            state["bad"] += 1
                    with guard:
                        state["writers"] -= 1
            else:
                with sem.read():
                    with guard:
                        state["readers"] += 1
                        if state["writers"]:
                            state["bad"] += 1
                    with guard:
                        state["readers"] -= 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert state["bad"] == 0
    assert quiet(sem)
    assert sem.stats()["acquisitions"] == 1200
    sem.check()


def test_index_lock_choice() -> None:
    idx = make_index("list", lock="rwsem")
    assert isinstance(idx.lock, RWSemaphore)
    with idx.lock.write(0, 4096):
        assert idx.lock.try_read() is None
    with pytest.raises(ValueError, match="known"):
        make_index("list", lock="nope")


def test_foreign_handles_are_refused_and_change_nothing() -> None:
    from structures import RangeListLock, RangeLock

    pairs = [(a, b) for a in (RWSemaphore, RangeLock, RangeListLock) for b in (RWSemaphore, RangeLock, RangeListLock)]
    for make_a, make_b in pairs:
        a, b = make_a(), make_b()
        h = a.acquire_read(0, 4096)
        assert h is not None
        before = (a.stats()["acquisitions"], b.stats()["acquisitions"])
        with pytest.raises(RuntimeError):
            b.release(h)
        w = a.acquire_write(1 << 30, (1 << 30) + 4096) if a.ranged else None
        if w is not None:
            with pytest.raises(RuntimeError):
                b.downgrade(w)
            a.release(w)
        a.release(h)
        # both locks still work: a writer is granted at once on each
        for lk in (a, b):
            g = lk.try_write()
            assert g is not None
            lk.release(g)
        assert (a.stats()["acquisitions"], b.stats()["acquisitions"])[1] == before[1] + 1


def test_every_kind_shares_one_base_and_the_old_name_stays() -> None:
    from structures import RangeListLock, RangeLock
    from structures.locks.api import LockBase, RangeLockBase

    assert RangeLockBase is LockBase
    assert isinstance(RWSemaphore(), LockBase) and isinstance(RangeLock(), RangeLockBase)
    assert isinstance(RangeListLock(), RangeLockBase)


def test_check_recomputes_the_invariant() -> None:
    from structures import InvariantError

    sem = RWSemaphore()
    w = sem.acquire_write()
    assert w is not None
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(sem.acquire_read(timeout=5)))
    t.start()
    wait_until(lambda: sem.waiting() == 1)
    sem.check()
    sem._readers = 1  # corrupt: a writer beside a reader
    with pytest.raises(InvariantError, match="beside 1 readers"):
        sem.check()
    sem._readers = 0
    sem._writer = False  # corrupt: nobody holds it, yet the reader sleeps
    lost_wakeup = r"head request <LockHandle read .* waiting> could be granted but sleeps \(lost wake-up\)"
    with pytest.raises(InvariantError, match=lost_wakeup):
        sem.check()
    sem._writer = True
    sem.release(w)
    t.join(5)
    assert got and got[0] is not None
    sem.check()
    sem.release(got[0])  # type: ignore[arg-type]
    sem.check()
    assert quiet(sem)
