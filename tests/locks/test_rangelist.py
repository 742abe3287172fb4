"""RangeListLock specifics: FIFO, shards, spanning requests, cheat mode, cleanup, memory bound, check()."""

from __future__ import annotations

import random
import threading
import time
import weakref
from typing import Any

import pytest

import structures.locks.api as api
from structures import TASK_SIZE, InvalidRangeError, InvariantError
from structures.locks import RangeListLock
from structures.locks.api import LockHandle
from tests.locks.helpers import Waiter, states, wait_until

MIB = 1 << 20
REGION = 2 * MIB  # the default region: 2 MiB


def chains(lock: RangeListLock) -> list[int]:
    """Parts linked in each shard."""
    out = []
    for head in lock._shards:
        n, cur = 0, head.next
        while cur is not None:
            n, cur = n + 1, cur.next
        out.append(n)
    return out


def shard(lock: RangeListLock, addr: int) -> int:
    """The shard of the byte at ``addr`` (regions are offset by one byte)."""
    region = (addr + 1) >> lock.region_shift
    return (region ^ (region >> 5) ^ (region >> 9)) & (lock.shards - 1)


def test_fifo_among_conflicting_requests() -> None:
    lock = RangeListLock()
    w0 = lock.acquire_write(0, 100)
    assert w0 is not None
    w1 = Waiter(lock, True, 50, 60)  # waits for W0
    r2 = Waiter(lock, False, 0, 100)  # waits for W0 and W1 (earlier writers it meets)
    w3 = Waiter(lock, True, 90, 95)  # waits for W0 and R2; W1 is disjoint from it
    r4 = Waiter(lock, False, 10, 20)  # waits for W0 only: readers share, W1 and W3 are disjoint
    assert states(lock) == {
        (0, 100, True): ("granted", 0),
        (50, 60, True): ("waiting", 1),
        (0, 100, False): ("waiting", 2),
        (90, 95, True): ("waiting", 2),
        (10, 20, False): ("waiting", 1),
    }
    lock.check()
    lock.release(w0)
    assert w1.done.wait(5) and r4.done.wait(5)
    time.sleep(0.05)
    assert not r2.done.is_set() and not w3.done.is_set()  # R2 still behind W1, W3 behind R2
    lock.check()
    w1.release()
    assert r2.done.wait(5)
    time.sleep(0.05)
    assert not w3.done.is_set()
    r2.release()
    assert w3.done.wait(5)
    w3.release()
    r4.release()
    assert len(lock) == 0 and chains(lock) == [0] * lock.shards
    lock.check()


def test_readers_coexist_over_overlapping_ranges() -> None:
    lock = RangeListLock()
    inside, leave = threading.Barrier(6), threading.Barrier(6)
    errors: list[BaseException] = []

    def reader(i: int) -> None:
        try:
            with lock.read(i * 100, i * 100 + 5000):  # all overlap one another
                inside.wait(5)  # every reader inside at once, plus the main thread
                leave.wait(5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    inside.wait(5)
    assert lock.held() == (5, 0)
    assert lock.try_write(4000, 4001) is None
    leave.wait(5)
    for t in threads:
        t.join(5)
    assert not errors and len(lock) == 0
    assert lock.stats()["contended"] == 0


@pytest.mark.parametrize("span", ["narrow", "spanning"])
def test_writer_not_starved_by_a_stream_of_overlapping_readers(span: str) -> None:
    lock = RangeListLock()
    stop = threading.Event()
    reads = [0] * 4

    def reader(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            s = rng.randrange(0, 8) * 4096
            with lock.read(s, s + 6 * 4096):  # always overlaps the writer's pages
                time.sleep(0.0002)
            reads[i] += 1

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            h = lock.acquire_write(4 * 4096, 6 * 4096, timeout=5) if span == "narrow" else lock.acquire_write(timeout=5)
            assert h is not None, "writer starved behind readers"
            lock.release(h)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert all(reads) and len(lock) == 0
    lock.check()


@pytest.mark.parametrize("layout", ["same-region", "other-regions"])
def test_disjoint_ranges_never_wait(layout: str) -> None:
    """Threads hammering their own page never sleep, in one shard's list or in shards of their own."""
    lock = RangeListLock()
    stride = 4096 if layout == "same-region" else 1 << 30
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        s = (1 << 32) + i * stride
        try:
            for k in range(3000):
                h = lock.acquire_write(s, s + 4096) if k % 2 else lock.acquire_read(s, s + 4096)
                assert h is not None
                lock.release(h)
        except BaseException as exc:
            errors.append(exc)

    if layout == "other-regions":
        assert len({shard(lock, (1 << 32) + i * stride) for i in range(4)}) == 4
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    st = lock.stats()
    assert st["acquisitions"] == 12_000 and st["contended"] == 0 and st["wait_time"] == 0.0
    assert len(lock) == 0


def test_downgrade_of_a_spanning_writer_admits_readers_everywhere() -> None:
    lock = RangeListLock()
    w = lock.acquire_write()  # a part in every shard
    assert w is not None
    readers = [Waiter(lock, False, a, a + 4096) for a in (0, 5 * REGION, 1 << 40)]
    writer = Waiter(lock, True, 5 * REGION, 5 * REGION + 4096)
    lock.downgrade(w)
    for r in readers:
        assert r.done.wait(5) and r.result == "granted"
    time.sleep(0.05)
    assert not writer.done.is_set()  # writers still wait for the (now reading) full range
    lock.check()
    with pytest.raises(RuntimeError):
        lock.downgrade(w)
    for r in readers:
        r.release()
    lock.release(w)
    assert writer.done.wait(5)
    writer.release()
    assert len(lock) == 0


def test_spanning_request_gives_up_every_part_on_timeout() -> None:
    lock = RangeListLock()
    high = next(a for a in range(0, 64 * REGION, REGION) if shard(lock, a) == lock.shards - 1)
    low = next(a for a in range(0, 64 * REGION, REGION) if shard(lock, a) == 0)
    blocker = lock.acquire_write(high, high + 4096)  # the last shard
    assert blocker is not None
    t0 = time.monotonic()
    assert lock.acquire_write(timeout=0.1) is None  # through shards 0..K-2, then waits in K-1
    assert time.monotonic() - t0 >= 0.09
    assert len(lock) == 1 and sum(chains(lock)) == 1
    st = lock.stats()
    assert st["timeouts"] == 1 and st["contended"] == 1 and st["acquisitions"] == 1
    h = lock.try_write(low, low + 4096)  # nothing of the full range was left in shard 0
    assert h is not None
    lock.release(h)
    lock.release(blocker)
    lock.check()


def test_spanning_request_interrupted_withdraws_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = RangeListLock()
    high = next(a for a in range(0, 64 * REGION, REGION) if shard(lock, a) == lock.shards - 1)
    blocker = lock.acquire_write(high, high + 4096)
    assert blocker is not None

    class Gate:
        def __init__(self) -> None:
            self.inner = threading.Lock()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if self.inner.locked():
                raise KeyboardInterrupt
            return self.inner.acquire()

        def release(self) -> None:
            self.inner.release()

    class FakeThreading:
        Lock = Gate

    monkeypatch.setattr(api, "threading", FakeThreading)
    with pytest.raises(KeyboardInterrupt):
        lock.acquire_write()
    monkeypatch.undo()
    assert len(lock) == 1 and sum(chains(lock)) == 1 and lock.waiting() == 0
    assert lock.stats()["timeouts"] == 1
    lock.check()
    lock.release(blocker)
    again = lock.try_write()
    assert again is not None
    lock.release(again)


def test_spanning_request_is_ordered_per_shard_the_documented_departure() -> None:
    """A request spanning shards arrives in shard k only once through the lower ones: a later request
    arriving in shard k first is ordered before it there (the module's fairness statement)."""
    lock = RangeListLock()
    low = next(a for a in range(0, 64 * REGION, REGION) if shard(lock, a) == 0)
    high = next(a for a in range(0, 64 * REGION, REGION) if shard(lock, a) == lock.shards - 1)
    a = lock.acquire_write(low, low + 4096)
    assert a is not None
    full = Waiter(lock, True, 0, TASK_SIZE)  # waits in shard 0, not yet in the last shard
    late = lock.try_read(high, high + 4096)  # arrives later, in the last shard: granted at once
    assert late is not None
    lock.release(a)
    time.sleep(0.05)
    assert not full.done.is_set()  # now waits in the last shard behind the later reader
    lock.check()
    lock.release(late)
    assert full.done.wait(5)
    full.release()
    assert len(lock) == 0


def test_dying_holder_leaves_nothing() -> None:
    lock = RangeListLock()

    def holder() -> None:
        with lock.write(0, 4096), lock.read(1 << 30, (1 << 30) + REGION * 3):
            raise RuntimeError("the holder dies inside the lock")

    errors: list[BaseException] = []
    t = threading.Thread(target=lambda: _catch(holder, errors))
    t.start()
    t.join(5)
    assert isinstance(errors[0], RuntimeError)
    assert len(lock) == 0 and chains(lock) == [0] * lock.shards
    h = lock.try_write()
    assert h is not None
    lock.release(h)


def _catch(fn: Any, errors: list[BaseException]) -> None:
    try:
        fn()
    except BaseException as exc:
        errors.append(exc)


def test_a_million_acquisitions_leave_only_live_requests() -> None:
    """Released parts are unlinked at once: the lists never hold more than the live requests,
    and an idle lock after a million acquisitions holds nothing and keeps no released node alive.
    Two threads in regions of their own (in parallel without the GIL), 500,000 acquisitions each."""
    lock = RangeListLock()
    far = 1 << 44
    acquire, release = lock._acquire, lock.release  # the API minus argument checking: a tight loop
    held = [acquire(True, far + i * 8192, far + i * 8192 + 4096, True, None) for i in range(3)]
    probe = acquire(False, 1 << 32, (1 << 32) + 4096, True, None)
    gone = weakref.ref(probe)
    release(probe)
    del probe
    errors: list[BaseException] = []
    seen = [0, 0]

    def hammer(t: int) -> None:
        base = (1 << 32) + t * (1 << 30)  # 1 GiB apart: other shards
        try:
            for i in range(62_500):  # 8 acquisitions per round (a refused one would fail its release)
                s = base + (i & 7) * 4096
                release(acquire(True, s, s + 4096, False, None))
                release(acquire(False, s, s + 4096, False, None))
                release(acquire(True, s + 8192, s + 12288, False, None))
                release(acquire(False, s, s + 8192, False, None))
                release(acquire(True, s, s + 4096, False, None))
                release(acquire(False, s + 4096, s + 8192, False, None))
                release(acquire(True, base + REGION, base + REGION + 4096, False, None))
                release(acquire(False, base, base + 2 * REGION, False, None))  # parts in 2 shards
                if i % 10_000 == 0:
                    seen[t] = max(seen[t], sum(chains(lock)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    assert max(seen) <= 3 + 2 * 2  # the held ones and at most one request (two parts) per thread
    assert gone() is None, "a released node is still referenced"
    assert sum(chains(lock)) == 3 and len(lock) == 3
    for h in held:
        release(h)
    assert len(lock) == 0 and chains(lock) == [0] * lock.shards
    assert lock.stats()["acquisitions"] == 1_000_004
    lock.check()


def test_many_threads_many_timeouts_leave_no_trace() -> None:
    lock = RangeListLock()
    errors: list[BaseException] = []
    linked_max = [0]
    stop = threading.Event()

    def worker(i: int) -> None:
        rng = random.Random(i)
        try:
            for _ in range(1500):
                s = rng.randrange(0, 24) * REGION // 4
                e = s + rng.randrange(1, 12) * REGION // 4
                acq = lock.acquire_write if rng.random() < 0.4 else lock.acquire_read
                h = acq(s, e, timeout=rng.choice([None, 0.0, 0.001]))
                if h is not None:
                    if rng.random() < 0.1 and h.write:
                        lock.downgrade(h)
                    lock.release(h)
        except BaseException as exc:
            errors.append(exc)

    def sampler() -> None:
        while not stop.is_set():  # each thread has at most one request: one part per shard at most
            linked_max[0] = max(linked_max[0], max(chains(lock)))
            time.sleep(0.001)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    watch = threading.Thread(target=sampler)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    watch.join()
    assert not errors, errors[0]
    assert linked_max[0] <= 6
    assert len(lock) == 0 and chains(lock) == [0] * lock.shards
    st = lock.stats()
    assert st["waiting"] == st["readers"] == st["writers"] == 0
    lock.check()


def test_release_misuse_changes_nothing() -> None:
    lock = RangeListLock()
    h = lock.acquire_write(0, 3 * REGION)  # spans shards
    assert h is not None
    with pytest.raises(RuntimeError):
        lock.release(LockHandle(True, 0, 4096))
    with pytest.raises(RuntimeError):
        RangeListLock().release(h)
    lock.release(h)
    with pytest.raises(RuntimeError):
        lock.release(h)
    assert len(lock) == 0 and lock.stats()["acquisitions"] == 1


def test_windows_around_region_aligned_mappings_stay_in_one_shard() -> None:
    """The range policy locks [s - 1, e + 1) to meet its neighbours: with regions offset by one byte,
    such a window around a mapping that starts on a region boundary has one part, in the mapping's shard."""
    lock = RangeListLock(cheat=False)  # every request in the lists: the parts are what is tested
    for s in (16 << 30, (16 << 30) + 7 * REGION):
        h = lock.acquire_write(s - 1, s + 64 * 4096 + 1)
        assert h is not None and h.parts is None and h.head.index == shard(lock, s)
        lock.release(h)
    last_page = (16 << 30) + REGION - 4096  # what pays instead: a fault on a region's last page
    h = lock.acquire_read(last_page, last_page + 4096)
    assert h is not None and h.parts is not None and len(h.parts) == 2
    lock.release(h)


def test_shards_spread_the_usual_strides() -> None:
    lock = RangeListLock()
    for stride in (REGION, 64 * MIB, 1 << 30):
        assert len({shard(lock, (16 << 30) + i * stride) for i in range(8)}) == 8, stride
    assert RangeListLock(shards=1).shards == 1
    for bad in (0, 3, -2, 2.0):
        with pytest.raises(InvalidRangeError):
            RangeListLock(shards=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidRangeError):
        RangeListLock(region_shift=11)


def test_check_recomputes_the_invariant() -> None:
    lock = RangeListLock()
    a = lock.acquire_write(0, 4096)
    b = lock.acquire_write(8192, 12288)
    assert a is not None and b is not None
    w = Waiter(lock, True, 0, 8192)  # waits for A
    lock.check()
    b.start, b.end = 0, 12288  # corrupt: two granted writers overlap
    with pytest.raises(InvariantError, match="granted beside an earlier conflicting request"):
        lock.check()
    b.start, b.end = 8192, 12288
    head = a.head  # corrupt: the waiter's registration vanishes
    saved = a.waiters
    a.waiters = []
    with pytest.raises(InvariantError, match="lost wake-up"):
        lock.check()
    a.waiters = saved
    a.marked = True  # corrupt: a marked part still linked
    with pytest.raises(InvariantError, match="marked but still linked"):
        lock.check()
    a.marked = False
    a.seq, saved_seq = head.ticket + 5, a.seq  # corrupt: an arrival number never issued
    with pytest.raises(InvariantError, match="arrival number"):
        lock.check()
    a.seq = saved_seq
    lock.check()
    lock.release(a)
    w.release()
    lock.release(b)
    wait_until(lambda: len(lock) == 0)


# ----------------------------------------------------------------------
# cheat mode: the lone request, and the inflation at the first overlap in time
# ----------------------------------------------------------------------
def test_cheat_mode_grants_a_lone_request_outside_the_lists() -> None:
    lock = RangeListLock()
    for write in (True, False, True):
        h = lock.acquire_write(0, 4096) if write else lock.acquire_read(0, 1 << 40)
        assert h is not None and h.granted and h.head is None and h.seq == 0
        assert chains(lock) == [0] * lock.shards and len(lock) == 1
        assert lock.held() == ((0, 1) if write else (1, 0))
        assert lock.ranges() == [(h.start, h.end, write, "granted", 0)]
        lock.check()
        lock.release(h)
        assert len(lock) == 0 and lock._cheating  # one at a time: never inflated
    assert lock.stats()["acquisitions"] == 3
    lock.check()


def test_the_next_arrival_inflates_the_lock_in_arrival_order() -> None:
    """The lone writer becomes the first arrival of its shard; a conflicting newcomer queues behind
    it (FIFO), a disjoint one is granted at once; the lock never cheats again."""
    lock = RangeListLock()
    w0 = lock.acquire_write(0, 100)
    assert w0 is not None and w0.head is None
    w1 = Waiter(lock, True, 50, 60)
    assert w1.result == "pending"  # asleep behind the lone writer, which is now linked
    assert w0.head is not None and w0.seq == 1 and not lock._cheating
    r2 = lock.acquire_read(1 << 30, (1 << 30) + 4096)  # disjoint: no wait
    assert r2 is not None
    assert states(lock) == {
        (0, 100, True): ("granted", 0),
        (50, 60, True): ("waiting", 1),
        ((1 << 30), (1 << 30) + 4096, False): ("granted", 0),
    }
    lock.check()
    lock.release(w0)
    assert w1.done.wait(5) and w1.result == "granted"
    w1.release()
    lock.release(r2)
    wait_until(lambda: len(lock) == 0)
    assert chains(lock) == [0] * lock.shards and not lock._cheating
    h = lock.acquire_write(0, 4096)  # list mode from now on: a part in its shard
    assert h is not None and h.head is not None and sum(chains(lock)) == 1
    lock.release(h)
    lock.check()


def test_a_thread_holding_the_lone_range_takes_a_second_disjoint_one_without_waiting() -> None:
    """FreeBSD's cheat mode drains on a conflict, where this thread would wait for itself."""
    lock = RangeListLock()
    a = lock.acquire_write(0, 4096)
    b = lock.acquire_write(1 << 30, (1 << 30) + 4096, timeout=1.0)
    c = lock.acquire_read(8192, 12288, timeout=1.0)
    assert a is not None and b is not None and c is not None and lock.held() == (1, 2)
    lock.check()
    for h in (b, a, c):
        lock.release(h)
    assert len(lock) == 0
    lock.check()


@pytest.mark.parametrize("how", ["try", "timeout"])
def test_a_refused_newcomer_still_inflates_and_changes_nothing_else(how: str) -> None:
    lock = RangeListLock()
    w = lock.acquire_write(0, 8192)
    assert w is not None
    if how == "try":
        got = lock.try_read(4096, 8192)
    else:
        got = lock.acquire_read(4096, 8192, timeout=0.05)
    assert got is None
    assert not lock._cheating and len(lock) == 1 and lock.held() == (0, 1) and sum(chains(lock)) == 1
    stats = lock.stats()
    assert stats["acquisitions"] == 1 and stats["timeouts"] == (1 if how == "timeout" else 0)
    lock.check()
    lock.release(w)
    assert len(lock) == 0 and chains(lock) == [0] * lock.shards
    lock.check()


def test_downgrade_of_the_lone_writer_then_inflation() -> None:
    lock = RangeListLock()
    w = lock.acquire_write(0, 1 << 22)
    assert w is not None
    lock.downgrade(w)
    assert not w.write and lock.held() == (1, 0) and lock._cheating
    r = lock.acquire_read(0, 4096, timeout=1.0)  # inflates; reader beside reader
    assert r is not None and not lock._cheating
    writer = Waiter(lock, True, 0, 4096)
    assert writer.result == "pending"
    lock.check()
    lock.release(w)
    lock.release(r)
    assert writer.done.wait(5) and writer.result == "granted"
    writer.release()
    wait_until(lambda: len(lock) == 0)
    lock.check()


def test_a_spanning_lone_request_inflates_into_a_part_per_shard() -> None:
    lock = RangeListLock()
    span = lock.acquire_read(0, 3 * REGION)  # meets regions 0..3 (offset by a byte)
    assert span is not None and span.parts is None and span.head is None
    other = lock.acquire_write(5 * REGION, 5 * REGION + 4096)
    assert other is not None
    assert span.parts is not None and len(span.parts) == 4 and span.parts[0] is span
    assert all(p.state == "granted" and p.seq == 1 for p in span.parts)
    assert sum(chains(lock)) == 5
    blocked = Waiter(lock, True, 2 * REGION, 2 * REGION + 4096)  # meets the lone reader's third part
    assert blocked.result == "pending"
    lock.check()
    lock.release(span)
    assert blocked.done.wait(5)
    blocked.release()
    lock.release(other)
    wait_until(lambda: len(lock) == 0)
    assert chains(lock) == [0] * lock.shards
    lock.check()


def test_releases_racing_the_inflation_leave_no_trace() -> None:
    """Two threads take and drop tiny ranges of their own on fresh locks, many times: whichever
    of a lone release and an inflation comes first, the lock ends empty and consistent."""
    errors: list[BaseException] = []
    for _ in range(200):
        lock = RangeListLock()
        start = threading.Barrier(2)

        def work(base: int, lock: RangeListLock = lock, start: threading.Barrier = start) -> None:
            try:
                start.wait()
                for i in range(20):
                    h = lock.acquire_write(base + i * 4096, base + (i + 1) * 4096)
                    assert h is not None
                    lock.release(h)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(b,)) for b in (0, 1 << 30)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors[0]
        assert len(lock) == 0 and chains(lock) == [0] * lock.shards and lock._lone is None
        assert lock.stats()["acquisitions"] == 40
        lock.check()


def test_check_sees_a_broken_cheat_mode() -> None:
    lock = RangeListLock()
    h = lock.acquire_write(0, 4096)
    assert h is not None
    lock.check()
    h.state = api.RELEASED  # corrupt: the lone request is not granted
    with pytest.raises(InvariantError, match="lone request"):
        lock.check()
    h.state = api.GRANTED
    lock._shards[3].next = h  # corrupt: a part linked while cheating
    with pytest.raises(InvariantError, match="cheating, but shard 3"):
        lock.check()
    lock._shards[3].next = None
    lock.release(h)
    lock.check()


def test_cheat_must_be_a_bool() -> None:
    with pytest.raises(InvalidRangeError, match="cheat=1 must be a bool"):
        RangeListLock(cheat=1)  # type: ignore[arg-type]
