"""Thread-scaling comparisons: the seed's table, rows thread counts, columns locks.

Invariant
---------
The benchmarks of the concurrency suites (``io`` and ``threaded``) record
seconds per operation of the aggregate (pyperf's ``inner_loops`` is the number
of operations all threads did in one loop), so ``1 / value`` is the
throughput in ops/s.  This module groups them into *families* — one table
each — and pivots every family with rows = thread counts and columns = the
lock or policy, the baseline being the ``mmap_sem``-like column:

==========================  ====================  =================
family                      columns               baseline
==========================  ====================  =================
io / rw / block=B           lock: rwsem range     ``rwsem``
                            ideal
threaded / mm / scenario /  policy: full range    ``full``
index backend               vma ideal
threaded / index / op /     backend               ``list`` (or the
scenario                                          first column)
==========================  ====================  =================

so a cell reads "ops/s ± stdev" and "2.1x more" than the baseline — the shape
of the seed's fio table (rwsem 57k/61k/61k/55k/15k vs range lock
64k/111k/228k/195k/40k IOPS at 1/2/4/8/16 processes).  Computing stays here;
``bench.report.render`` draws the ``Comparison`` objects, like any other.

Layout
------
::

    files -> benchmarks of io/threaded -> family (title, column, baseline)
             (the same benchmark in several files = runs before/after: families per file)
          -> measurements (value = 1 / seconds-per-op) -> compare(THROUGHPUT pivot)
          -> [(title, Comparison)]  -> bench.report.render / bench.report.plot

API
---
``SCALING_SUITES``, ``THROUGHPUT``, ``is_scaling``, ``scaling_comparisons(paths)``
-> ``[(title, Comparison)]``, ``throughput_series(paths)`` for plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyperf

from bench.report.compare import Comparison, Measurement, Pivot, compare, load_suites, measurements_from_suite

__all__ = ["SCALING_SUITES", "THROUGHPUT", "is_scaling", "scaling_comparisons", "throughput_series"]

SCALING_SUITES = frozenset({"io", "threaded"})


def _ops_per_second(bench: pyperf.Benchmark) -> list[float]:
    return [1.0 / v for v in bench.get_values() if v > 0]


THROUGHPUT = Pivot(
    rows=("threads",),
    column="backend",
    group=None,
    higher_is_better=True,
    value=_ops_per_second,
    unit="ops/s",
    better="more",
    worse="less",
)


def is_scaling(bench: pyperf.Benchmark) -> bool:
    """True for benchmarks of the thread-scaling suites."""
    md = bench.get_metadata()
    return str(md.get("suite", bench.get_name().split("/", 1)[0])) in SCALING_SUITES


def _family(md: dict[str, Any]) -> tuple[str, str, str]:
    """(title, column key, baseline) of a benchmark's table."""
    suite, op = md.get("suite"), md.get("op")
    if suite == "io":
        return f"io: T threads, pwrite+pread+digest of {md.get('block', '?')}-byte blocks", "lock", "rwsem"
    if suite == "threaded" and op == "mm":
        return (
            f"threaded mm, {md.get('stream')} scenario, index {md.get('index')}, page_work={md.get('page_work')}, "
            f"map_pages={md.get('map_pages', 8)}: T fault threads + 1 mapping thread",  # files before map_pages: 8
            "policy",
            "full",
        )
    op = op if op in ("lookup", "overlap", "insert") else "lookup"  # files before the index ops: lookup
    bg = md.get("background", 1)
    who = f"T writer threads + {bg} reader(s)" if op == "insert" else f"T reader threads + {bg} writer(s)"
    switch = md.get("switch_us", 5000)  # files before switch_us ran at CPython's default, 5 ms
    return f"threaded index {op}, {md.get('stream')} scenario, switch_us={switch}: {who}", "backend", "list"


def scaling_comparisons(paths: Sequence[str | Path]) -> list[tuple[str, Comparison]]:
    """One ops/s comparison per family found in the files (empty when there is none)."""
    loaded = load_suites(paths)
    # Runs before/after (the same benchmark in several files): one set of tables per file.
    seen: set[str] = set()
    repeated = False
    for _, suite in loaded:
        names = {b.get_name() for b in suite.get_benchmarks() if is_scaling(b)}
        repeated = repeated or bool(names & seen)
        seen |= names
    families: dict[str, tuple[str, str, list[pyperf.Benchmark]]] = {}
    for label, suite in loaded:
        for bench in suite.get_benchmarks():
            if not is_scaling(bench):
                continue
            title, column, baseline = _family(bench.get_metadata())
            if repeated:
                title = f"{title} [{label}]"
            families.setdefault(title, (column, baseline, []))[2].append(bench)
    out: list[tuple[str, Comparison]] = []
    for title, (column, baseline, benches) in families.items():
        pivot = replace(THROUGHPUT, column=column)
        ms: list[Measurement] = measurements_from_suite(pyperf.BenchmarkSuite(benches), pivot)
        cols = {m.column for m in ms}
        base = baseline if baseline in cols else sorted(cols)[0]
        out.append((f"{title} — ops/s, ratio to {base}", compare(ms, pivot, base)))
    return out


def throughput_series(paths: Sequence[str | Path]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{family title: {column: [(threads, ops/s mean), ...]}} for throughput-vs-threads plots."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for title, cmp in scaling_comparisons(paths):
        series: dict[str, list[tuple[int, float]]] = {}
        for row in cmp.rows:
            threads = int(row.key[0])
            for col, cell in row.cells.items():
                series.setdefault(col, []).append((threads, cell.mean))
        out[title] = {c: sorted(v) for c, v in series.items()}
    return out
