"""The ``trace`` suite: real program traces and maps snapshots replayed through ``AddressSpace``.

Invariant
---------
Every case replays one input from scratch per loop (a fresh ``AddressSpace``
per Linux ``mm``), so every loop does identical work and every backend ends
in the same state (``tests/harness/test_traces.py`` checks that against ``list``).
Loading and parsing happen once per worker, before the first timer starts.

Op mix
------
* ``bench/traces/*.trace.gz`` (see ``bench/traces/README.md``): the recorded
  program's own mix, e.g. ``python-stdlib`` = 19k events, ~97% page faults
  (``find``), the rest mmap/munmap/mprotect/mremap/brk (``replace`` windows);
  ``gcc-hello`` = 4.3k events over 5 processes (fork/vfork + exec);
  ``git-log-status`` = 0.8k events, threads sharing one space.
* ``bench/maps/*.maps`` (``bench.inputs.traces.snapshot_trace``): every VMA mapped
  ``MAP_FIXED`` in address order (ascending inserts + merges), one fault on
  the first and the last page of each, then every VMA unmapped.

Layout
------
::

    trace/replay/<input>/n=<events>/<backend>      metadata: suite op stream n backend
                                                   policy events kind, + untimed
                                                   final_vmas unexplained_faults

``--fast`` skips inputs of more than ``FAST_MAX_EVENTS`` events (the
``python-stdlib`` trace) so that ``vmalab bench --fast`` stays short.
``opts.extra["trace_files"]`` adds the user's own traces / snapshots;
``opts.extra["policy"]`` picks the lock policy (default ``range``).

API
---
``SUITE``, ``DESCRIPTION``, ``cases(opts)``, ``inputs(opts)``, ``load_input(path)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.inputs.maps import load_snapshot
from bench.inputs.traces import Trace, load_trace, read_header, replay, snapshot_trace
from bench.suites import Case, SuiteOptions
from bench.suites._common import Lazy, MeasuredCase, case_name

SUITE = "trace"
DESCRIPTION = "real program traces (strace+perf) and /proc/PID/maps snapshots replayed through AddressSpace"
EXTRA = {
    "trace_files": ("strs", "trace: your own .trace(.gz) or maps files to replay as well"),
    "policy": ("str", "trace: lock policy of the replay's AddressSpace, full/range/vma (default range)"),
}

BENCH_DIR = Path(__file__).resolve().parent.parent
TRACE_DIR = BENCH_DIR / "traces"
MAPS_DIR = BENCH_DIR / "maps"
FAST_MAX_EVENTS = 10_000


def _is_snapshot(path: Path) -> bool:
    return path.name.endswith((".maps", ".maps.gz"))


def _stream(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".trace", ".maps"):
        name = name.removesuffix(suffix)
    return ("maps-" if _is_snapshot(path) else "") + name


def _size(path: Path) -> int:
    """Events of a trace (from its header) or VMAs of a snapshot (lines): cheap."""
    meta = read_header(path)
    if "events" in meta and meta["events"].isdigit():
        return int(meta["events"])
    if _is_snapshot(path):
        return 4 * len(load_snapshot(path))  # seed + 2 faults + munmap per VMA
    return len(load_trace(path))


def inputs(opts: SuiteOptions) -> list[tuple[Path, int]]:
    """The inputs this run replays, in a fixed order, with their event counts."""
    files = sorted(TRACE_DIR.glob("*.trace.gz")) + sorted(MAPS_DIR.glob("*.maps"))
    files += [Path(p) for p in opts.extra.get("trace_files", ())]
    out = [(f, _size(f)) for f in files]
    if opts.fast:
        out = [(f, n) for f, n in out if n <= FAST_MAX_EVENTS]
    return out


def load_input(path: Path) -> Trace:
    return snapshot_trace(load_snapshot(path)) if _is_snapshot(path) else load_trace(path)


def _case(path: Path, n: int, backend: str, policy: str, seed: int) -> Case:
    trace: Lazy[Trace] = Lazy(lambda: load_input(path))

    def time_func(loops: int) -> float:
        tr = trace.get()
        t0 = time.perf_counter()
        for _ in range(loops):
            replay(tr, backend, policy=policy)
        return time.perf_counter() - t0

    def measure() -> dict[str, Any]:
        res = replay(trace.get(), backend, policy=policy)
        return {
            "final_vmas": sum(len(mm.index) for mm in res.spaces.values()),
            "address_spaces": len(res.spaces),
            "unexplained_faults": res.unexplained,
            "model_errors": sum(res.errors.values()),
        }

    stream = _stream(path)
    meta = {
        "suite": SUITE, "op": "replay", "stream": stream, "n": n, "backend": backend, "seed": seed,
        "policy": policy, "events": n, "kind": "snapshot" if _is_snapshot(path) else "trace",
    }
    return MeasuredCase(case_name(SUITE, "replay", stream, n, backend), time_func, meta, measure=measure)


def cases(opts: SuiteOptions) -> list[Case]:
    policy = str(opts.extra.get("policy", "range"))
    from structures.mm.policy import POLICIES

    if policy not in POLICIES:
        raise ValueError(f"trace: unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    return [_case(path, n, b, policy, opts.seed) for path, n in inputs(opts) for b in opts.backends]
