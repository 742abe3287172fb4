"""Statistics counters that threads bump without sharing anything: one dict per thread.

Invariant
---------
Every thread counts into a dict of its own, reached through a
``threading.local``; no other thread ever writes it.  ``totals()`` sums a copy
of each live thread's dict plus the folded counts of threads that have exited,
so no update is lost, with or without the GIL, and no object is written by two
threads per count (on free-threaded CPython a shared dict or mutex touched on
every operation serialises the threads on its cache line; the per-VMA lock
policy's fault counter was such an object).

Relies on, without the GIL: a ``threading.local`` attribute load; ``d.get`` and
``d[k] = v`` on a dict only its owner writes; ``dict.copy()`` of a dict another
thread writes (one critical section on free-threaded CPython).  The registry of
live threads changes only under ``_mutex``, once per thread.

Layout
------
::

    LocalCounters
      _tls.counts  -> {key: n}       this thread's dict (owner writes only)
      _live        [(thread, dict)]  every registered thread's dict
      _retired     {key: n}          counts of threads that have exited

API
---
``LocalCounters(keys=())``: ``add(key, n=1)``, ``totals() -> dict``,
``reset()`` (quiescent only).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["LocalCounters"]


class LocalCounters:
    """Named counters, one dict per thread; ``totals()`` sums them."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = tuple(keys)
        self._tls = threading.local()
        self._mutex = threading.Lock()
        self._live: list[tuple[threading.Thread, dict[str, int]]] = []
        self._retired: dict[str, int] = dict.fromkeys(self._keys, 0)

    def add(self, key: str, n: int = 1) -> None:
        """Count ``n`` under ``key`` for the calling thread."""
        try:
            counts: dict[str, int] = self._tls.counts
        except AttributeError:
            counts = self._register()
        counts[key] = counts.get(key, 0) + n

    def totals(self) -> dict[str, int]:
        """Every key's sum over all threads, past and present."""
        with self._mutex:
            out = dict(self._retired)
            parts = [counts.copy() for _, counts in self._live]
        for part in parts:
            for key, n in part.items():
                out[key] = out.get(key, 0) + n
        return out

    def reset(self) -> None:
        """Zero every count (call it while no thread is counting)."""
        with self._mutex:
            self._retired = dict.fromkeys(self._keys, 0)
            for _, counts in self._live:
                for key in counts:
                    counts[key] = 0

    def _register(self) -> dict[str, int]:
        counts = dict.fromkeys(self._keys, 0)
        me = threading.current_thread()
        with self._mutex:
            live = []
            for thread, old in self._live:
                if thread.is_alive():
                    live.append((thread, old))
                else:  # fold an exited thread's counts: the registry stays bounded
                    for key, n in old.items():
                        self._retired[key] = self._retired.get(key, 0) + n
            live.append((me, counts))
            self._live = live
        self._tls.counts = counts
        return counts
