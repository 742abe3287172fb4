"""The torture engine behind ``vmalab torture``: a locktorture-style stress of any lock kind.

Invariant checked
-----------------
N threads take random ranges, shared or exclusive, for T seconds.  A *shadow
occupancy map* — one (readers, writers) pair per cell of the lock space,
updated under its own mutex right after each grant and right before each
release — must never see a writer meet anyone.  Every thread must make
progress (FIFO locks do not starve); per-thread maximum wait is reported (and
bounded by ``--max-wait`` when given).  At the end the lock must be empty (no
phantom range left by a timeout or a downgrade) and its ``check()`` must
pass.  Any violation: exit status 1.

Layout
------
::

    cell c  <->  lock range [c * cell, (c + 1) * cell)      cell = CELL (4 KiB) unless given;
                 2 MiB cells make the ranges of range-list span its shards
    Shadow: readers[c], writers[c]          (mutex held only while marking)

    worker: pick [lo, hi) cells, mode, maybe a timeout
            acquire  -> shadow.enter  -> hold (page work) -> [shadow.downgrade
            -> lock.downgrade]  -> shadow.leave -> release

API
---
``run_torture(threads, seconds, read_ratio, lock, ..., on_tick=None) -> TortureResult``;
``on_tick(reports, elapsed, violations)`` is called about four times a second
from the driving thread (the CLI draws its live table with it).  Nothing here
draws to a terminal.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from structures.locks import make_lock
from structures.mm.address_space import page_work
from structures.vma import TASK_SIZE

CELL = 4096


class Shadow:
    """Occupancy map of the lock space: detects any writer overlapping anyone."""

    def __init__(self, cells: int) -> None:
        self._mutex = threading.Lock()
        self.readers = [0] * cells
        self.writers = [0] * cells
        self.violations: list[str] = []

    def enter(self, who: int, write: bool, lo: int, hi: int) -> None:
        with self._mutex:
            for c in range(lo, hi):
                if self.writers[c] or (write and self.readers[c]):
                    mode = "writer" if write else "reader"
                    self.violations.append(
                        f"thread {who}: {mode} [{lo}, {hi}) entered cell {c} held by "
                        f"{self.writers[c]} writer(s) and {self.readers[c]} reader(s)"
                    )
                    break
            counts = self.writers if write else self.readers
            for c in range(lo, hi):
                counts[c] += 1

    def downgrade(self, lo: int, hi: int) -> None:
        with self._mutex:
            for c in range(lo, hi):
                self.writers[c] -= 1
                self.readers[c] += 1

    def leave(self, who: int, write: bool, lo: int, hi: int) -> None:
        with self._mutex:
            counts = self.writers if write else self.readers
            for c in range(lo, hi):
                counts[c] -= 1
                if counts[c] < 0:
                    self.violations.append(f"thread {who}: cell {c} count went negative")


@dataclass
class ThreadReport:
    """Progress of one torture thread."""

    ident: int
    ops: int = 0
    reads: int = 0
    writes: int = 0
    timeouts: int = 0
    downgrades: int = 0
    max_wait: float = 0.0
    total_wait: float = 0.0
    error: str = ""


@dataclass
class TortureResult:
    lock: str
    seconds: float
    threads: list[ThreadReport]
    violations: list[str] = field(default_factory=list)
    lock_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def ops(self) -> int:
        return sum(t.ops for t in self.threads)


def _worker(
    who: int, lock: Any, shadow: Shadow, stop: threading.Event, rep: ThreadReport, cfg: dict[str, Any]
) -> None:
    rng = random.Random(cfg["seed"] * 1000 + who)
    cells, max_len, cell = cfg["cells"], cfg["max_len"], cfg["cell"]
    try:
        while not stop.is_set():
            lo = rng.randrange(cells)
            hi = min(cells, lo + rng.randint(1, max_len))
            write = rng.random() >= cfg["read_ratio"]
            timeout = cfg["timeout"] if rng.random() < cfg["timeout_ratio"] else None
            acquire = lock.acquire_write if write else lock.acquire_read
            t0 = monotonic()
            h = acquire(lo * cell, hi * cell, timeout=timeout)
            waited = monotonic() - t0
            rep.total_wait += waited
            if waited > rep.max_wait:
                rep.max_wait = waited
            if h is None:
                rep.timeouts += 1
                continue
            # a crash while holding releases what it holds (shadow marks, then the lock),
            # so the driver reports the thread's own exception, not a phantom range
            mode, entered = write, False
            try:
                shadow.enter(who, write, lo, hi)
                entered = True
                if cfg["hold"]:
                    page_work(cfg["hold"])
                if write and rng.random() < cfg["downgrade_ratio"]:
                    shadow.downgrade(lo, hi)  # before the lock admits readers
                    mode = False
                    lock.downgrade(h)
                    rep.downgrades += 1
                    if cfg["hold"]:
                        page_work(cfg["hold"])
            finally:
                if entered:
                    shadow.leave(who, mode, lo, hi)
                lock.release(h)
            rep.ops += 1
            if write:
                rep.writes += 1
            else:
                rep.reads += 1
    except BaseException as exc:  # a crash is a violation, reported by the driver
        rep.error = f"{type(exc).__name__}: {exc}"


def run_torture(
    threads: int = 4,
    seconds: float = 2.0,
    read_ratio: float = 0.5,
    lock: Any = "range",
    *,
    cells: int = 256,
    max_len: int = 16,
    cell: int = CELL,
    hold: int = 0,
    timeout: float = 0.001,
    timeout_ratio: float = 0.1,
    downgrade_ratio: float = 0.1,
    max_wait: float | None = None,
    seed: int = 0,
    on_tick: Callable[[list[ThreadReport], float, int], None] | None = None,
) -> TortureResult:
    """Run the torture test in-process; see the module docstring."""
    if threads < 1:
        raise ValueError(f"--threads={threads} must be at least 1")
    if seconds <= 0:
        raise ValueError(f"--seconds={seconds} must be positive")
    if not 0.0 <= read_ratio <= 1.0:
        raise ValueError(f"--read-ratio={read_ratio} must be in [0, 1]")
    if cells < 1 or max_len < 1:
        raise ValueError("--cells and --max-len must be at least 1")
    if cell < 1 or cells * cell > TASK_SIZE:
        raise ValueError(f"--cell={cell}: {cells} cells of it must fit in [0, TASK_SIZE)")
    the_lock = make_lock(lock)
    name = lock if isinstance(lock, str) else type(lock).__name__
    shadow = Shadow(cells)
    stop = threading.Event()
    cfg = dict(
        seed=seed, cells=cells, max_len=max_len, cell=cell, read_ratio=read_ratio, hold=hold, timeout=timeout,
        timeout_ratio=timeout_ratio, downgrade_ratio=downgrade_ratio,
    )
    reports = [ThreadReport(i) for i in range(threads)]
    workers = [
        threading.Thread(target=_worker, args=(i, the_lock, shadow, stop, reports[i], cfg), daemon=True)
        for i in range(threads)
    ]
    t0 = monotonic()
    for w in workers:
        w.start()
    deadline = t0 + seconds
    if on_tick is not None:
        while monotonic() < deadline:
            stop.wait(min(0.25, max(0.0, deadline - monotonic())))
            on_tick(reports, monotonic() - t0, len(shadow.violations))
    else:
        stop.wait(seconds)
    stop.set()
    stuck = []
    for w in workers:
        w.join(max(10.0, seconds))
        if w.is_alive():
            stuck.append(f"{w.name} still blocked 10s after the end: deadlock or lost wake-up")
    elapsed = monotonic() - t0
    # a thread's own exception first: whatever else went wrong likely follows from it
    violations = [f"thread {r.ident} crashed: {r.error}" for r in reports if r.error]
    violations += list(shadow.violations) + stuck
    for r in reports:
        if r.error:
            continue
        if r.ops == 0:
            violations.append(f"thread {r.ident} made no progress in {elapsed:.1f}s (starved)")
        if max_wait is not None and r.max_wait > max_wait:
            violations.append(f"thread {r.ident} waited {r.max_wait:.3f}s > --max-wait {max_wait}s")
    if all(not w.is_alive() for w in workers):
        if hasattr(the_lock, "__len__"):
            left = len(the_lock)
        else:
            st = the_lock.stats()
            left = st.get("waiting", 0) + st.get("readers", 0) + int(bool(st.get("writer", False)))
        if left:
            violations.append(f"{left} phantom range(s) left in the lock after every thread finished")
        if hasattr(the_lock, "check"):
            try:
                the_lock.check()
            except AssertionError as exc:
                violations.append(f"lock check() failed: {exc}")
    stats = the_lock.stats()
    return TortureResult(name, elapsed, reports, violations, stats)
