"""The waiting protocol ``LockBase`` runs for every kind: interrupts and timeouts leave no trace.

Each case replaces the gate a waiter sleeps on with a scripted one (the gates
are made in ``structures.locks.api``, by every kind) so that the race it names
happens every time: interrupted while still queued, interrupted just after
being granted, timed out just after being granted.  (``range-list`` waiters
grant themselves once their blocker is gone: "just after being granted" is
"woken by its blocker's release, before its re-scan" there, with the same
outcome.)
"""

from __future__ import annotations

import threading

import pytest

import structures.locks.api as api
from structures.locks import LOCK_KINDS
from structures.locks.api import LockBase, LockHandle
from tests.locks.helpers import wait_until

KINDS = [LOCK_KINDS[name] for name in sorted(LOCK_KINDS)]


class ScriptedGate:
    """A gate whose sleeper, once woken (or told to), does what ``script`` says."""

    script = "interrupt-when-told"
    told = threading.Event()

    def __init__(self) -> None:
        self.inner = threading.Lock()
        self.closed = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self.closed:  # the lock closing the gate before the request sleeps on it
            self.closed = True
            return self.inner.acquire()
        if self.script == "interrupt-when-told":
            assert self.told.wait(5)
            raise KeyboardInterrupt
        assert self.inner.acquire(timeout=5), "never granted"
        if self.script == "interrupt-after-grant":
            raise KeyboardInterrupt
        return False  # "timeout-after-grant": the timeout fired, but the grant got there first

    def release(self) -> None:
        self.inner.release()

    def locked(self) -> bool:
        return self.inner.locked()


class FakeThreading:
    Lock = ScriptedGate


def run_scripted(lock: LockBase, script: str, monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Thread, list[object]]:
    """Start a writer on ``[0, 8192)`` that waits on a scripted gate; its outcome lands in the list."""
    monkeypatch.setattr(ScriptedGate, "script", script)
    monkeypatch.setattr(ScriptedGate, "told", threading.Event())
    monkeypatch.setattr(api, "threading", FakeThreading)
    outcome: list[object] = []

    def writer() -> None:
        try:
            outcome.append(lock.acquire_write(0, 8192, timeout=5))
        except KeyboardInterrupt as exc:
            outcome.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wait_until(lambda: lock.waiting() == 1)
    monkeypatch.setattr(api, "threading", threading)  # later waiters get real gates
    return thread, outcome


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_interrupted_waiter_withdraws_and_wakes_who_it_blocked(kind: type, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = kind()
    reader = lock.acquire_read(0, 4096)
    assert reader is not None
    writer, outcome = run_scripted(lock, "interrupt-when-told", monkeypatch)
    got: list[LockHandle | None] = []
    late_reader = threading.Thread(target=lambda: got.append(lock.acquire_read(0, 4096, timeout=5)), daemon=True)
    late_reader.start()  # queued behind the writer: FIFO / writer preference
    wait_until(lambda: lock.waiting() == 2)
    lock.check()
    ScriptedGate.told.set()
    writer.join(5)
    late_reader.join(5)
    assert isinstance(outcome[0], KeyboardInterrupt)
    assert got and got[0] is not None, "the reader behind the withdrawn writer was never woken"
    stats = lock.stats()
    assert stats["timeouts"] == 1 and stats["waiting"] == 0 and stats["readers"] == 2
    lock.check()
    lock.release(got[0])
    lock.release(reader)
    assert lock.try_write() is not None  # nothing phantom left


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_interrupt_racing_a_grant_releases_it(kind: type, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = kind()
    holder = lock.acquire_write(0, 4096)
    assert holder is not None
    writer, outcome = run_scripted(lock, "interrupt-after-grant", monkeypatch)
    lock.release(holder)  # grants the writer, whose sleep then ends in KeyboardInterrupt
    writer.join(5)
    assert isinstance(outcome[0], KeyboardInterrupt)
    stats = lock.stats()
    assert stats["waiting"] == 0 and stats["readers"] == 0 and stats["timeouts"] == 0
    lock.check()
    again = lock.try_write()
    assert again is not None, "the interrupted grant was left held"
    lock.release(again)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_timeout_racing_a_grant_keeps_it(kind: type, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = kind()
    holder = lock.acquire_write(0, 4096)
    assert holder is not None
    writer, outcome = run_scripted(lock, "timeout-after-grant", monkeypatch)
    lock.release(holder)
    writer.join(5)
    handle = outcome[0]
    assert isinstance(handle, LockHandle) and handle.granted and handle.write
    stats = lock.stats()
    assert stats["timeouts"] == 0 and stats["acquisitions"] == 2 and stats["contended"] == 1
    assert lock.try_read(0, 4096) is None  # we hold it
    lock.check()
    lock.release(handle)
    assert lock.try_write() is not None
