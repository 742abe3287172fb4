"""Index locks by kind name: ``make_lock("range")`` builds what an index carries as ``idx.lock``.

Invariant
---------
``LOCK_KINDS`` maps every kind's name to its class; each class subclasses
``LockBase`` and is built with no arguments.  ``DEFAULT_LOCK`` is one of its
names.  ``make_lock`` returns a new lock of a registered kind, or passes through
an object that has ``read``, ``write`` and ``release``; anything else raises
(``ValueError`` for an unknown name, ``TypeError`` for an object lacking the API).

Layout
------
::

    api        LockHandle, LockStats, LockBase (alias RangeLockBase): the API, the
               guards, and the waiting protocol every kind shares
    rwsem      RWSemaphore: the FIFO reader/writer semaphore (mmap_sem)    "rwsem"
    rangelock  RangeLock: Bueso's interval-tree range lock (the default)   "range"
    rangelist  RangeListLock: the list-based lock of Kogan, Dice & Issa,
               sharded by address region, FIFO among conflicts      "range-list"
    rangelist_view  its views (len, held, ranges, stats) and check()
    here       LOCK_KINDS, DEFAULT_LOCK, make_lock — imported by structures.base
               (which re-exports them); this package never imports structures.base

Adding a kind is one line in ``LOCK_KINDS`` (next to the import of its class).

API
---
``make_lock(lock=None)``, ``LOCK_KINDS``, ``DEFAULT_LOCK``; re-exported:
``LockBase``, ``RangeLockBase``, ``LockHandle``, ``LockStats``, ``RangeLock``,
``RangeListLock``, ``RWSemaphore``.
"""

from __future__ import annotations

from typing import Any

from structures.locks.api import LockBase, LockHandle, LockStats, RangeLockBase
from structures.locks.rangelist import RangeListLock
from structures.locks.rangelock import RangeLock
from structures.locks.rwsem import RWSemaphore

__all__ = [
    "DEFAULT_LOCK",
    "LOCK_KINDS",
    "LockBase",
    "LockHandle",
    "LockStats",
    "RWSemaphore",
    "RangeListLock",
    "RangeLock",
    "RangeLockBase",
    "make_lock",
]

#: Lock kinds an index can carry: name -> class (built with no arguments).
LOCK_KINDS: dict[str, type[LockBase]] = {
    "rwsem": RWSemaphore,
    "range": RangeLock,
    "range-list": RangeListLock,
}
#: The lock an index gets when none is named.
DEFAULT_LOCK = "range"

#: What a lock object passed in (not by name) must offer.
_LOCK_METHODS = ("read", "write", "release")


def make_lock(lock: object = None) -> Any:
    """Build a lock by kind name (``None`` = ``DEFAULT_LOCK``), or pass a lock object through."""
    if lock is None:
        lock = DEFAULT_LOCK
    if isinstance(lock, str):
        try:
            kind = LOCK_KINDS[lock]
        except KeyError:
            raise ValueError(f"unknown lock kind {lock!r}; known: {', '.join(sorted(LOCK_KINDS))}") from None
        return kind()
    for method in _LOCK_METHODS:
        if not hasattr(lock, method):
            raise TypeError(f"lock object {lock!r} lacks {method}()")
    return lock
