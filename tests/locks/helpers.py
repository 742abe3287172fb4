"""What the lock tests share: the lock kinds, polling, and a thread that holds one request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from structures.locks import LOCK_KINDS, LockBase, RangeListLock, RangeLock
from structures.locks.api import LockHandle

#: every registered kind, by name (pytest ids)
ALL_KINDS = sorted(LOCK_KINDS)
#: the kinds that lock ranges (the rwsem treats every range as the full range)
RANGE_KINDS = sorted(name for name, kind in LOCK_KINDS.items() if kind.ranged)
assert {"range": RangeLock, "range-list": RangeListLock}.items() <= LOCK_KINDS.items()


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.001)


def presence(lock: Any) -> int:
    """Requests in the lock (granted + waiting), for any kind."""
    if hasattr(lock, "__len__"):
        return len(lock)
    readers, writer = lock.held()
    return int(readers) + int(writer) + lock.waiting()


class Waiter:
    """A thread that takes one lock request and holds it until told to release.

    The constructor returns once the request has been answered (granted, or
    timed out) or sleeps in the lock (``stats()["contended"]`` counted it: its
    gate is made), so tests can line requests up in arrival order.
    """

    def __init__(self, lock: LockBase, write: bool, start: int, end: int, timeout: float | None = None) -> None:
        self.lock = lock
        self.handle: LockHandle | None = None
        self.done = threading.Event()
        self.go = threading.Event()
        self.result: str = "pending"
        asleep = lock.stats()["contended"]

        def run() -> None:
            acq = lock.acquire_write if write else lock.acquire_read
            self.handle = acq(start, end, timeout=timeout)
            self.result = "granted" if self.handle is not None else "timeout"
            self.done.set()
            if self.handle is not None:
                self.go.wait(10)
                lock.release(self.handle)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.done.is_set() or lock.stats()["contended"] > asleep)

    def release(self) -> None:
        assert self.done.wait(5), "request never granted"
        self.go.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


def states(lock: Any) -> dict[tuple[int, int, bool], tuple[str, int]]:
    """``{(start, end, write): (state, blockers)}`` of a range lock's ``ranges()``."""
    return {(s, e, w): (st, b) for s, e, w, st, b in lock.ranges()}


def letters(a: str, z: str) -> tuple[int, int]:
    """Bueso's example uses letters as addresses: [a, n] inclusive -> [ord(a), ord(n) + 1)."""
    return ord(a), ord(z) + 1
