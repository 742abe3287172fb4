"""The lock API every index lock speaks (``RWSemaphore``, ``RangeLock``).

Invariant
---------
A ``LockHandle`` is granted at most once and released at most once; a lock
never hands out a handle that is not granted, and ``release``/``downgrade`` of
a handle that is not currently held raises ``RuntimeError`` and changes
nothing.  Timeouts and exceptions (``KeyboardInterrupt`` included) while
waiting never leave a waiter queued or a range held.

Layout
------
::

    LockHandle  write: bool   start, end: [start, end) half-open   state
                 ^ returned by acquire_*; passed back to release/downgrade

    with lock.read(start, end):   ->  _Guard  -> acquire_read / release
    with lock.write():            ->  full range [0, TASK_SIZE)

API
---
``LockBase`` (alias ``RangeLockBase``; abstract: ``_acquire``, ``release``, ``downgrade``,
``stats``) provides ``read``, ``write``, ``acquire_read``, ``acquire_write``,
``try_read``, ``try_write``.  ``LockHandle``, ``LockStats``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from time import monotonic
from typing import Any

from structures.vma import TASK_SIZE, InvalidRangeError, check_range

__all__ = ["LockBase", "LockHandle", "LockStats", "RangeLockBase"]

WAITING, GRANTED, RELEASED, ABANDONED = "waiting", "granted", "released", "abandoned"


class LockHandle:
    """One lock request: its mode, its range and its state."""

    __slots__ = ("__weakref__", "blocking", "end", "gate", "owner", "seq", "start", "state", "write")

    def __init__(self, write: bool, start: int, end: int, owner: object = None) -> None:
        self.owner = owner  # the lock that handed it out: release() elsewhere is refused
        self.write = write
        self.start = start
        self.end = end
        self.state = WAITING
        self.gate: threading.Lock | None = None
        self.seq = 0
        self.blocking = 0

    @property
    def granted(self) -> bool:
        return self.state == GRANTED

    def __repr__(self) -> str:
        mode = "write" if self.write else "read"
        return f"<LockHandle {mode} [{self.start:#x}, {self.end:#x}) {self.state}>"


@dataclass
class LockStats:
    """Counters a lock keeps (updated under its internal mutex)."""

    acquisitions: int = 0
    contended: int = 0
    timeouts: int = 0
    wait_time: float = 0.0
    max_wait: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _span(start: int | None, end: int | None) -> tuple[int, int]:
    if type(start) is int and type(end) is int and 0 <= start < end <= TASK_SIZE:
        return start, end  # the common case, without the generic validation's calls
    if start is None and end is None:
        return 0, TASK_SIZE
    if start is None or end is None:
        raise InvalidRangeError("give both start and end, or neither (full range)")
    return check_range(start, end, aligned=False)


class _Guard:
    """Context manager returned by ``read()``/``write()``."""

    __slots__ = ("_end", "_lock", "_start", "_write", "handle")

    def __init__(self, lock: LockBase, write: bool, start: int, end: int) -> None:
        self._lock = lock
        self._write = write
        self._start = start
        self._end = end
        self.handle: LockHandle | None = None

    def __enter__(self) -> LockHandle:
        h = self._lock._acquire(self._write, self._start, self._end, True, None)
        assert h is not None
        self.handle = h
        return h

    def __exit__(self, *exc: object) -> None:
        h = self.handle
        self.handle = None
        if h is not None:
            self._lock.release(h)


class LockBase(ABC):
    """Common API of every index lock: range locks and the (full-range) rwsem alike."""

    #: False for locks that treat every range as the full range (rwsem)
    ranged: bool = True

    def __init__(self) -> None:
        self._mutex = threading.Lock()  # guards the kind's queue/tree and _stats
        self._stats = LockStats()

    def read(self, start: int | None = None, end: int | None = None) -> _Guard:
        """``with lock.read(start, end):`` — no arguments = the full range."""
        s, e = _span(start, end)
        return _Guard(self, False, s, e)

    def write(self, start: int | None = None, end: int | None = None) -> _Guard:
        """``with lock.write(start, end):`` — no arguments = the full range."""
        s, e = _span(start, end)
        return _Guard(self, True, s, e)

    def acquire_read(
        self, start: int | None = None, end: int | None = None, timeout: float | None = None, blocking: bool = True
    ) -> LockHandle | None:
        """Take ``[start, end)`` shared; the handle, or ``None`` on timeout / would block."""
        s, e = _span(start, end)
        return self._acquire(False, s, e, blocking, _timeout(timeout))

    def acquire_write(
        self, start: int | None = None, end: int | None = None, timeout: float | None = None, blocking: bool = True
    ) -> LockHandle | None:
        """Take ``[start, end)`` exclusive; the handle, or ``None`` on timeout / would block."""
        s, e = _span(start, end)
        return self._acquire(True, s, e, blocking, _timeout(timeout))

    def try_read(self, start: int | None = None, end: int | None = None) -> LockHandle | None:
        return self.acquire_read(start, end, blocking=False)

    def try_write(self, start: int | None = None, end: int | None = None) -> LockHandle | None:
        return self.acquire_write(start, end, blocking=False)

    # ------------------------------------------------------------------
    # the waiting protocol every kind shares
    # ------------------------------------------------------------------
    def _new_gate(self, handle: LockHandle) -> None:
        """Give a request that must wait its closed gate and count the contention (mutex held).

        The kind queues ``handle`` (its own structure, its own order) under the
        same mutex hold, then calls ``_wait_for_grant`` once the mutex is dropped.
        """
        gate = threading.Lock()
        gate.acquire()
        handle.gate = gate
        self._stats.contended += 1

    def _wait_for_grant(self, handle: LockHandle, timeout: float | None) -> LockHandle | None:
        """Sleep on ``handle``'s gate (mutex *not* held): ``handle`` once granted, ``None`` on timeout.

        The protocol: whoever grants a queued request sets ``state = GRANTED``
        under the mutex, then opens its gate — one wake-up per grant, no polling,
        no broadcast.  Leaving early never leaves a trace:

        * timeout: under the mutex, a request granted in the window after the
          timeout expired is kept (we hold it); otherwise it is withdrawn, which
          wakes the requests it was blocking, and counted in ``timeouts``;
        * an exception while asleep (``KeyboardInterrupt``): a grant that raced
          it is released, a waiting request withdrawn (counted in ``timeouts``),
          and the exception re-raised.

        ``wait_time``/``max_wait`` measure the sleep on the gate.
        """
        gate = handle.gate
        assert gate is not None, f"{handle!r} waits without a gate"
        t0 = monotonic()
        try:
            opened = gate.acquire(timeout=-1 if timeout is None else timeout)
        except BaseException:  # interrupted while waiting: leave no trace, then re-raise
            with self._mutex:
                if handle.state == GRANTED:
                    self._release_granted(handle)
                elif handle.state == WAITING:
                    self._withdraw_waiting(handle)
                    self._stats.timeouts += 1
            raise
        waited = monotonic() - t0
        with self._mutex:
            # not opened but granted: granted in the window after the timeout expired, so we hold it
            granted = opened or handle.state == GRANTED
            stats = self._stats
            if granted:
                stats.acquisitions += 1
            else:
                self._withdraw_waiting(handle)
                stats.timeouts += 1
            stats.wait_time += waited
            if waited > stats.max_wait:
                stats.max_wait = waited
        return handle if granted else None

    # ------------------------------------------------------------------
    # what each kind supplies
    # ------------------------------------------------------------------
    @abstractmethod
    def _acquire(
        self, write: bool, start: int, end: int, blocking: bool, timeout: float | None
    ) -> LockHandle | None:
        """Grant at once, or return ``None`` if not ``blocking``, or queue + ``_new_gate`` + ``_wait_for_grant``."""

    @abstractmethod
    def _release_granted(self, handle: LockHandle) -> None:
        """Mutex held: drop a granted ``handle`` (state ``RELEASED``) and grant whom that unblocks."""

    @abstractmethod
    def _withdraw_waiting(self, handle: LockHandle) -> None:
        """Mutex held: take a waiting ``handle`` out of the queue (state ``ABANDONED``), grant whom that unblocks."""

    @abstractmethod
    def release(self, handle: LockHandle) -> None: ...

    @abstractmethod
    def downgrade(self, handle: LockHandle) -> None: ...

    @abstractmethod
    def stats(self) -> dict[str, Any]: ...


#: The name this base had while only range locks were in mind; other issues
#: speak of "the RangeLockBase API", so it stays an alias of ``LockBase``.
RangeLockBase = LockBase


def _timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidRangeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if timeout < 0:
        raise InvalidRangeError(f"timeout={timeout} must not be negative")
    return float(timeout)
