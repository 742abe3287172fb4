"""The ``list`` backend: a sorted Python list plus ``bisect`` — the oracle.

Invariant
---------
``_vmas`` holds the stored VMAs sorted by ``start``; ``_ends`` is the parallel
list of their ``end`` values.  Because VMAs never overlap, ``_ends`` is sorted
too, so every query is one ``bisect`` on it::

    find(addr)      = _vmas[bisect_right(_ends, addr)]      first end > addr
    find_prev(addr) = _vmas[bisect_right(_ends, addr) - 1]  last end <= addr

Layout
------
::

    _ends : [ e0 , e1 , e2 , ... ]     sorted, e_i = _vmas[i].end
    _vmas : [ v0 , v1 , v2 , ... ]     sorted by start, non-overlapping

Every other backend's tests compare against this one, so it stays simple and
obviously right; its ``find_gap`` is the plain neighbour walk of the base class
(O(n) in the worst case) — the speed every tree's gap search is measured
against.  ``bulk_load`` takes the sorted input as the two lists; ``dup`` is two
slices (the flat structure's natural copy).  It keeps no write-cost counters:
an insert is one C ``memmove`` of the tail (``write_stats()`` is ``{}``).

API
---
``ListIndex`` (registry name ``list``): the full ``VMAIndex`` interface.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

from structures.base import VMAIndex
from structures.vma import VMA, InvariantError


class ListIndex(VMAIndex):
    """Sorted list + bisect: the reference oracle."""

    name = "list"
    description = "sorted Python list + bisect: the reference oracle (flat, C-speed bisect)"
    lockless_reads = False

    def __init__(self, *, lock: object = None) -> None:
        super().__init__(lock=lock)
        self._ends: list[int] = []
        self._vmas: list[VMA] = []

    # primitives ---------------------------------------------------------
    def _insert(self, vma: VMA) -> None:
        i = bisect_left(self._ends, vma.end)
        self._ends.insert(i, vma.end)
        self._vmas.insert(i, vma)

    def _remove(self, vma: VMA) -> None:
        i = bisect_left(self._ends, vma.end)
        del self._ends[i]
        del self._vmas[i]

    def _find(self, addr: int) -> VMA | None:
        i = bisect_right(self._ends, addr)
        return self._vmas[i] if i < len(self._vmas) else None

    def _lookup(self, addr: int) -> VMA | None:
        i = bisect_right(self._ends, addr)
        if i < len(self._vmas):
            v = self._vmas[i]
            if v.start <= addr:
                return v
        return None

    def _find_prev(self, addr: int) -> VMA | None:
        i = bisect_right(self._ends, addr)
        return self._vmas[i - 1] if i else None

    def _iter_from(self, addr: int) -> Iterator[VMA]:
        vmas = self._vmas
        i = bisect_right(self._ends, addr)
        while i < len(vmas):
            yield vmas[i]
            i += 1

    def _batch_from(self, addr: int, n: int) -> list[VMA]:
        i = bisect_right(self._ends, addr)
        return self._vmas[i : i + n]

    def _overlapping(self, start: int, end: int) -> list[VMA]:
        i = bisect_right(self._ends, start)
        j = i
        vmas = self._vmas
        while j < len(vmas) and vmas[j].start < end:
            j += 1
        return vmas[i:j]

    def _len(self) -> int:
        return len(self._vmas)

    def _bulk_load(self, vmas: list[VMA]) -> None:
        self._ends = [v.end for v in vmas]
        self._vmas = list(vmas)

    def _dup(self) -> VMAIndex:
        child = self._spawn()
        assert isinstance(child, ListIndex)
        child._ends = self._ends[:]
        child._vmas = self._vmas[:]
        return child

    def _write_stats(self) -> dict[str, int]:
        return {}

    def _clear(self) -> None:
        self._ends.clear()
        self._vmas.clear()

    def _check(self) -> None:
        if len(self._ends) != len(self._vmas):
            raise InvariantError(f"list: len(_ends)={len(self._ends)} != len(_vmas)={len(self._vmas)}")
        for i, v in enumerate(self._vmas):
            if self._ends[i] != v.end:
                raise InvariantError(f"list: slot {i}: _ends[{i}]={self._ends[i]:#x} != {v!r}.end")
            if i and self._vmas[i - 1].end > v.start:
                raise InvariantError(f"list: slot {i}: {v!r} overlaps slot {i - 1} {self._vmas[i - 1]!r}")

    def _probe(self, addr: int) -> int:
        # bisect visits about log2(n) + 1 list cells
        n = len(self._vmas)
        return max(1, n.bit_length())

    def _stats(self) -> dict[str, Any]:
        import sys

        n = len(self._vmas)
        return {
            "height": 1,
            "nodes": 1,
            "bytes": sys.getsizeof(self._vmas) + sys.getsizeof(self._ends) + n * 32,
        }
