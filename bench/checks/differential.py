"""Randomized differential runs: a backend against the ``list`` oracle.

Invariant
---------
A run is a deterministic (seeded) sequence of operations — inserts (some
deliberately overlapping), removes, point queries, range queries and gap
searches in both directions — applied to the backend under test and to the
oracle side by side.  Every answer and every error class must agree, and the
backend's ``check()`` must pass every ``check_every`` steps and at the end.

Layout
------
::

    rng(seed) -> op -> backend under test ---\
                   -> list oracle ------------> compare answers + error classes
                                                 -> DiffResult.divergences
    every check_every ops: idx.check(), contents == oracle's

Op mix (per step): 45 % insert (about a third of them collide), 25 % remove,
30 % a query round (find, lookup, find_prev, intersection, overlapping,
find_gap bottom-up and top-down with random ``low``/``high`` windows).

API
---
``differential_run(spec, ops=2000, seed=0, check_every=100) -> DiffResult``
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from structures import PAGE_SIZE, TASK_SIZE, VMA, make_index
from structures.vma import VMAError

__all__ = ["DiffResult", "differential_run"]

P = PAGE_SIZE


@dataclass
class DiffResult:
    """What one differential run saw."""

    spec: str
    ops: int = 0
    inserts: int = 0
    removes: int = 0
    queries: int = 0
    checks: int = 0
    divergences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    final_vmas: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.divergences


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except VMAError as exc:
        return type(exc).__name__, None


def differential_run(
    spec: str, ops: int = 2000, seed: int = 0, check_every: int = 100, max_divergences: int = 10, **options: Any
) -> DiffResult:
    """Run ``ops`` random operations on ``spec`` and on ``list``; record every disagreement."""
    if ops < 0:
        raise ValueError(f"ops={ops} must not be negative")
    if check_every <= 0:
        raise ValueError(f"check_every={check_every} must be positive")
    rng = random.Random(seed)
    idx = make_index(spec, **options)
    ref = make_index("list")
    res = DiffResult(spec)
    universe = max(256, ops * 4)  # pages; dense enough that inserts collide
    live: list[VMA] = []
    t0 = time.perf_counter()

    def diverge(what: str) -> None:
        res.divergences.append(f"op {res.ops}: {what}")

    def compare(label: str, fn_name: str, *args: Any) -> None:
        got = _outcome(getattr(idx, fn_name), *args)
        want = _outcome(getattr(ref, fn_name), *args)
        if got != want:
            diverge(f"{label}: {spec} -> {got}, list -> {want}")

    for step in range(ops):
        res.ops = step + 1
        r = rng.random()
        if r < 0.45 or not live:
            a = rng.randrange(universe)
            size = rng.choice((1, 1, 2, 3, 5, 8, 16, 64, 512))
            b = min(universe + 1024, a + size)
            x = VMA(a * P, b * P, prot=rng.choice((1, 3, 5)), name=rng.choice(("", "[heap]", "libc.so.6")))
            got = _outcome(idx.insert, x)[0]
            want = _outcome(ref.insert, x)[0]
            if got != want:
                diverge(f"insert({x!r}): {spec} -> {got}, list -> {want}")
            if want == "ok":
                live.append(x)
            res.inserts += 1
        elif r < 0.70:
            x = live.pop(rng.randrange(len(live)))
            got = _outcome(idx.remove, x)[0]
            ref.remove(x)
            if got != "ok":
                diverge(f"remove({x!r}): {spec} -> {got}")
            res.removes += 1
        else:
            addr = min(TASK_SIZE - 1, rng.randrange(universe + 1100) * P + rng.choice((0, 1, P - 1)))
            compare(f"find({addr:#x})", "find", addr)
            compare(f"lookup({addr:#x})", "lookup", addr)
            compare(f"find_prev({addr:#x})", "find_prev", addr)
            end = min(TASK_SIZE, addr + rng.choice((1, P, 8 * P, 200 * P)))
            compare(f"intersection({addr:#x}, {end:#x})", "intersection", addr, end)
            compare(f"overlapping({addr:#x}, {end:#x})", "overlapping", addr, end)
            length = rng.choice((1, 2, 4, 16, 128)) * P
            low = rng.randrange(universe) * P
            high = min(TASK_SIZE, low + rng.choice((16, 512, 1 << 20, 1 << 35)) * P)
            for top in (False, True):
                label = f"find_gap({length:#x}, {low:#x}, {high:#x}, top_down={top})"
                compare(label, "find_gap", length, low, high, top)
            res.queries += 1
        if (step + 1) % check_every == 0:
            try:
                idx.check()
            except AssertionError as exc:
                diverge(f"check() failed: {exc}")
            res.checks += 1
            if list(idx) != list(ref):
                diverge("contents differ from the oracle")
        if len(res.divergences) >= max_divergences:
            break
    try:
        idx.check()
        res.checks += 1
    except AssertionError as exc:
        diverge(f"final check() failed: {exc}")
    if list(idx) != list(ref) or len(idx) != len(ref):
        diverge(f"final contents differ: {len(idx)} VMAs vs oracle's {len(ref)}")
    res.seconds = time.perf_counter() - t0
    res.final_vmas = len(idx)
    res.stats = idx.stats()
    return res
