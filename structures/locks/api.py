"""The lock API every index lock speaks, and the waiting protocol every kind shares.

Invariant
---------
A ``LockHandle`` is granted at most once and released at most once; a lock
never hands out a handle that is not granted, and ``release``/``downgrade`` of
a handle that is not currently held (by this lock) raises ``RuntimeError`` and
changes nothing.  A request that must wait sleeps on its own *gate*, a
``threading.Lock`` closed when it is queued; the only way the gate opens is a
grant (``state = GRANTED`` set under the lock's mutex, then the gate released).
Timeouts and exceptions (``KeyboardInterrupt`` included) while waiting never
leave a waiter queued or a range held: ``LockBase._wait_for_grant`` withdraws
the request, or releases a grant that raced them.  ``LockStats`` counters
change only under the lock's mutex.

Without the GIL (DESIGN §10) this relies on nothing but ``threading.Lock``:
every field a kind shares (its queue or tree, ``state``, ``blocking``, the
counters) is read and written under ``_mutex``; a grant is handed over by the
granter releasing the gate the sleeper is blocked on (a ``threading.Lock`` may
be released by another thread).  A ``_Guard`` is per ``with`` statement and is
not meant to be shared between threads.

Layout
------
::

    LockHandle  write: bool   [start, end) half-open   state   gate
                seq, blocking (the range lock's arrival number and count)
                 ^ returned by acquire_*; passed back to release/downgrade

    state:  waiting --grant-------------------> granted --release--> released
            waiting --timeout / interrupt-------> abandoned

    with lock.read(start, end):   ->  _Guard  -> _acquire / release
    with lock.write():            ->  full range [0, TASK_SIZE)

    LockBase                       a kind (rwsem, rangelock) supplies
      _mutex, _stats                 its queue / tree, guarded by _mutex
      read/write/acquire_*/try_*     _acquire: grant now, or queue its own way,
        (input: _validate_span,        then _new_gate + _wait_for_grant
         _validate_timeout)          _release_granted, _withdraw_waiting (mutex held)
      _new_gate, _wait_for_grant     _occupancy (mutex held)
      stats, _validate_downgrade     release, downgrade, check

API
---
``LockBase`` (alias ``RangeLockBase``): ``read``, ``write``, ``acquire_read``,
``acquire_write``, ``try_read``, ``try_write``, ``stats``; abstract
``release``, ``downgrade``, ``check``.  ``LockHandle``, ``LockStats``; the states
``WAITING``, ``GRANTED``, ``RELEASED``, ``ABANDONED``; ``closed_gate()``, the
one place gates are made (a kind with its own waiting, ``range-list``, makes
its gates there too, so a test that scripts the gates covers every kind).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from time import monotonic
from typing import Any

from structures.vma import TASK_SIZE, InvalidRangeError, validate_range

__all__ = [
    "ABANDONED", "GRANTED", "RELEASED", "WAITING",
    "LockBase", "LockHandle", "LockStats", "RangeLockBase", "closed_gate",
]  # fmt: skip

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
        self.seq = 0  # arrival number (kinds that order requests by arrival)
        self.blocking = 0  # earlier conflicting requests still in the way (range lock)

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


def _validate_span(start: int | None, end: int | None) -> tuple[int, int]:
    """``[start, end)`` as given, or the full range for ``(None, None)``; ``InvalidRangeError`` otherwise."""
    if type(start) is int and type(end) is int and 0 <= start < end <= TASK_SIZE:
        # the common case, without validate_range's calls: 160 ns vs 515 ns per call (timeit, CPython 3.11)
        return start, end
    if start is None and end is None:
        return 0, TASK_SIZE
    if start is None or end is None:
        raise InvalidRangeError(f"give both start and end, or neither (full range): start={start!r} end={end!r}")
    return validate_range(start, end, aligned=False)


def _validate_timeout(timeout: float | None) -> float | None:
    """Seconds as a float (``None`` = wait forever); ``InvalidRangeError`` for a non-number or a negative."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidRangeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if timeout < 0:
        raise InvalidRangeError(f"timeout={timeout} must not be negative")
    return float(timeout)


def closed_gate() -> threading.Lock:
    """A new gate, already closed: a waiter sleeps on it until another thread opens (releases) it."""
    gate = threading.Lock()
    gate.acquire()
    return gate


class _Guard:
    """Context manager returned by ``read()``/``write()``: one ``with`` at a time, in one thread."""

    __slots__ = ("_end", "_lock", "_start", "_write", "handle")

    def __init__(self, lock: LockBase, write: bool, start: int, end: int) -> None:
        self._lock = lock
        self._write = write
        self._start = start
        self._end = end
        self.handle: LockHandle | None = None

    def __enter__(self) -> LockHandle:
        handle = self._lock._acquire(self._write, self._start, self._end, True, None)
        assert handle is not None, "a blocking acquire without a timeout returned no handle"
        self.handle = handle
        return handle

    def __exit__(self, *exc: object) -> None:
        handle = self.handle
        self.handle = None
        if handle is not None:
            self._lock.release(handle)


class LockBase(ABC):
    """Common API of every index lock: range locks and the (full-range) rwsem alike."""

    #: False for locks that treat every range as the full range (rwsem)
    ranged: bool = True

    def __init__(self) -> None:
        self._mutex = threading.Lock()  # guards the kind's queue/tree and _stats
        self._stats = LockStats()

    def read(self, start: int | None = None, end: int | None = None) -> _Guard:
        """``with lock.read(start, end):`` — no arguments = the full range."""
        start, end = _validate_span(start, end)
        return _Guard(self, False, start, end)

    def write(self, start: int | None = None, end: int | None = None) -> _Guard:
        """``with lock.write(start, end):`` — no arguments = the full range."""
        start, end = _validate_span(start, end)
        return _Guard(self, True, start, end)

    def acquire_read(
        self, start: int | None = None, end: int | None = None, timeout: float | None = None, blocking: bool = True
    ) -> LockHandle | None:
        """Take ``[start, end)`` shared; the handle, or ``None`` on timeout / would block."""
        if timeout is None and type(start) is int and type(end) is int and 0 <= start < end <= TASK_SIZE:
            return self._acquire(False, start, end, blocking, None)  # the common case: see acquire_write
        start, end = _validate_span(start, end)
        return self._acquire(False, start, end, blocking, _validate_timeout(timeout))

    def acquire_write(
        self, start: int | None = None, end: int | None = None, timeout: float | None = None, blocking: bool = True
    ) -> LockHandle | None:
        """Take ``[start, end)`` exclusive; the handle, or ``None`` on timeout / would block."""
        if timeout is None and type(start) is int and type(end) is int and 0 <= start < end <= TASK_SIZE:
            # the common case checked inline, without the two validation calls: acquire + release
            # of a one-page range (timeit): range lock 2.82 -> 2.70 us, range-list 1.76 -> 1.66 us (3.11);
            # 6.86 -> 6.65 us and 3.66 -> 3.41 us (3.13t, GIL off)
            return self._acquire(True, start, end, blocking, None)
        start, end = _validate_span(start, end)
        return self._acquire(True, start, end, blocking, _validate_timeout(timeout))

    def try_read(self, start: int | None = None, end: int | None = None) -> LockHandle | None:
        return self.acquire_read(start, end, blocking=False)

    def try_write(self, start: int | None = None, end: int | None = None) -> LockHandle | None:
        return self.acquire_write(start, end, blocking=False)

    def stats(self) -> dict[str, Any]:
        """The counters (``LockStats``) and who is in the lock now (the kind's ``_occupancy``), one snapshot."""
        with self._mutex:
            snapshot = self._stats.as_dict()
            snapshot.update(self._occupancy())
            return snapshot

    def _validate_downgrade(self, handle: LockHandle, handle_type: type[LockHandle]) -> None:
        """Mutex held: ``RuntimeError`` unless ``handle`` is a write handle this lock granted and still holds."""
        if (
            not isinstance(handle, handle_type)
            or handle.owner is not self
            or handle.state != GRANTED
            or not handle.write
        ):
            raise RuntimeError(f"downgrade needs a held write handle, got {handle!r}")

    # ------------------------------------------------------------------
    # the waiting protocol every kind shares
    # ------------------------------------------------------------------
    def _new_gate(self, handle: LockHandle) -> None:
        """Give a request that must wait its closed gate and count the contention (mutex held).

        The kind queues ``handle`` (its own structure, its own order) under the
        same mutex hold, then calls ``_wait_for_grant`` once the mutex is dropped.
        """
        handle.gate = closed_gate()
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
        # From here until the caller holds the handle, an exception raised asynchronously
        # (KeyboardInterrupt, main thread only) would strand a grant: a window every lock
        # written in Python has; the one above, the long sleep, is closed.
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
    def _occupancy(self) -> dict[str, Any]:
        """Mutex held: who is in the lock now (``waiting``, ``readers``, ``writer(s)``) for ``stats()``."""

    @abstractmethod
    def check(self) -> None:
        """Recompute every invariant of the kind from scratch; ``InvariantError`` naming the request."""

    @abstractmethod
    def release(self, handle: LockHandle) -> None:
        """Release a granted handle (``RuntimeError``, changing nothing, if this lock does not hold it)."""

    @abstractmethod
    def downgrade(self, handle: LockHandle) -> None:
        """Turn a held write handle into a read handle, admitting whom only its writing kept out."""


#: The name this base had while only range locks were in mind; other issues
#: speak of "the RangeLockBase API", so it stays an alias of ``LockBase``.
RangeLockBase = LockBase
