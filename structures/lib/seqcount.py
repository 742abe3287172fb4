"""A write sequence counter (seqcount) that lock-free readers validate against.

Invariant
---------
``seq`` is even while no write section is open and odd while one is: the
writer bumps it once before the first store of a multi-step publish and once
after the last (``write_seqcount_begin/end``).  A reader that loaded the same
even value before and after its walk (``read_seqcount_begin/retry``) saw no
store of any write: its answer describes one quiescent state between two
complete writes.  Otherwise it throws the answer away and walks again; walks
must therefore be bounded and harmless on a half-updated structure (they may
return garbage or raise, never loop or corrupt).  A walk that notices a torn
state itself (a dead node, a bitmap that disagrees with its slots) raises
``Torn`` to restart at once.  Each restart is counted **per thread**
(``counters.LocalCounters``: every thread its own dict, exited threads
folded), so the counts never need a shared read-modify-write, and
``retries()``/``torn()`` sum them.

What it relies on being atomic on free-threaded CPython (``PYTHON_GIL=0``,
DESIGN section 10) -- nothing else:

* one attribute load or store of an int or a reference (``self.seq``,
  ``self.writer``), observed by other threads in program order: the reader's
  two loads of ``seq`` bracket its walk's loads, the writer's two stores of
  ``seq`` bracket its publishing stores;
* what ``LocalCounters`` relies on (its module says: a ``threading.local``
  load, ``d.get``/``d[k] = v`` on a dict only its owner writes, ``d.copy()``).

``seq += 1`` is a read-modify-write, which is safe only because one writer at a
time runs a section: callers serialise writers with their own mutex.  A
writer whose section holds no read of its own may open and close it by
bumping ``seq`` itself (``seq += 1`` before its first store and after its
last): ``begin()``/``end()`` without recording ``writer`` and without two
calls (maple's publishing stores do: measured 4-9 % of its insert + remove).

Layout
------
::

    SeqCount
    +---------+--------------------------------------------------+
    | seq     | int, odd = section open                          |
    | writer  | thread id inside, or None                        |
    | _counts | LocalCounters("retries", "torn"): per thread     |
    +---------+--------------------------------------------------+

    writer (mutex held):  begin() -> seq odd ... stores ... end() -> seq even
    reader:  s = seq (wait while odd) -> walk -> seq == s ? answer : retry

API
---
``SeqCount()``: ``seq``, ``writer``; writer side ``begin()`` (idempotent inside
an open section), ``end()`` (no-op when closed); reader side ``read(walk,
*args)`` (the retry loop), ``retried()`` / ``restarted_torn()`` for readers
that inline the loop, ``retries()`` / ``torn()`` (sums over threads).
``Torn`` (the walk's "restart me" exception).  Hot paths may inline ``read``'s fast case
(``s = sc.seq``, walk, ``sc.seq == s``) and fall back to ``read`` on a mismatch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from structures.lib.counters import LocalCounters

__all__ = ["SeqCount", "Torn"]

T = TypeVar("T")

#: a reader that finds a section open spins this many times, then yields the CPU per retry
SPINS = 16


class Torn(Exception):
    """A lock-free walk met a dead node or an inconsistent summary: restart it now."""


class SeqCount:
    """``seqcount_t``: a writer's section counter and the readers' retry loop."""

    __slots__ = ("_counts", "seq", "writer")

    def __init__(self) -> None:
        self.seq = 0  # odd while a write section is open
        self.writer: int | None = None  # thread id of the open section's writer
        self._counts = LocalCounters(("retries", "torn"))

    # -- writer side (the caller holds its writer mutex) --------------------
    def begin(self) -> None:
        """Open a write section before the first store; a no-op if one is open."""
        if not self.seq & 1:
            self.writer = threading.get_ident()
            self.seq += 1  # odd: readers wait, walks in progress will retry

    def end(self) -> None:
        """Close the write section after the last store; a no-op if none is open."""
        if self.seq & 1:
            self.seq += 1  # even: a new quiescent state is published
            self.writer = None

    # -- reader side ----------------------------------------------------------
    def read(self, walk: Callable[..., T], *args: Any) -> T:
        """``walk(*args)`` until a run of it overlapped no write section; its answer.

        While a section is open the reader spins ``SPINS`` times, then yields the
        CPU before each new look (never a lock).  The writer itself, reading
        between two of its own steps, walks its half-done state directly.  A
        walk that raises ``Torn`` restarts at once; any other exception is
        re-raised only when no write overlapped the walk (else it was a torn read).
        """
        waits = 0
        while True:
            seq = self.seq
            if seq & 1:
                if self.writer == threading.get_ident():
                    return walk(*args)  # the writer, between two of its own steps
                waits += 1
                if waits > SPINS:
                    time.sleep(0)  # let the writer run
                continue
            try:
                out = walk(*args)
            except Torn:
                self._counts.add("torn")
                continue
            except Exception:
                if self.seq == seq:
                    raise
                self._counts.add("retries")
                continue
            if self.seq == seq:
                return out
            self._counts.add("retries")

    def retried(self) -> None:
        """Count one retry (a reader that inlines ``read`` saw ``seq`` change)."""
        self._counts.add("retries")

    def restarted_torn(self) -> None:
        """Count one restart of a walk that met a torn state (a dead node)."""
        self._counts.add("torn")

    def retries(self) -> int:
        """Walks redone because a write section overlapped them, summed over threads."""
        return self._counts.totals()["retries"]

    def torn(self) -> int:
        """Walks restarted because they met a torn state, summed over threads."""
        return self._counts.totals()["torn"]

    def __repr__(self) -> str:
        state = f"open by {self.writer}" if self.seq & 1 else "closed"
        return f"<SeqCount seq={self.seq} {state}>"
