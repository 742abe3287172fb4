"""Thread-scaling comparisons: the seed's table, rows thread counts, columns locks.

Invariant
---------
The benchmarks of the concurrency suites (``io``, ``threaded``, ``wis`` and
the contended ``rangelock`` cases) record seconds per operation of the
aggregate (pyperf's ``inner_loops`` is the number of operations all threads
did in one loop), so ``1 / value`` is the throughput in ops/s.  This module
groups them into *families* — one table each — and pivots every family with
rows = thread counts and columns = the lock or policy, the baseline being the
``mmap_sem``-like column:

==========================  ====================  =================
family                      columns               baseline
==========================  ====================  =================
io / rw / block=B           lock: rwsem range     ``rwsem``
                            range-list ideal
threaded / mm / scenario /  variant: full range   ``full``
index backend               range/range-list vma
                            ideal
threaded / index / op /     backend               ``list`` (or the
scenario                                          first column)
rangelock / contended /     lock: rwsem range     ``range``
pattern                     range-list private
                            regions
wis / test / backend        variant: full range   ``full``
                            range/range-list vma
                            ideal, + ``linear``
==========================  ====================  =================

``variant`` is the policy, or ``policy/lock`` for the range policy over a lock
other than the index's default (files without it: the policy).  The ``wis``
tables are will-it-scale's: a ``linear`` column — ``T`` x the best
single-thread figure of the row ``threads=1`` — and every cell carries its
efficiency against it, ``metadata["efficiency"]`` (mean / linear); the
``linear`` cells carry ``metadata["linear"] = True``.

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
``SCALING_SUITES``, ``THROUGHPUT``, ``LINEAR``, ``is_scaling``,
``scaling_comparisons(paths)`` -> ``[(title, Comparison)]``, ``with_linear(cmp)``,
``throughput_series(paths)`` for plots (the ``linear`` column is a series too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyperf

from bench.report.compare import Cell, Comparison, Measurement, Pivot, compare, load_suites, measurements_from_suite

__all__ = [
    "LINEAR", "SCALING_SUITES", "THROUGHPUT", "is_scaling", "scaling_comparisons", "throughput_series", "with_linear",
]  # fmt: skip

SCALING_SUITES = frozenset({"io", "threaded", "wis"})
#: the column will-it-scale adds: T x the single-thread figure
LINEAR = "linear"


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
    """True for benchmarks of the thread-scaling suites (and the contended ``rangelock`` cases)."""
    md = bench.get_metadata()
    suite = str(md.get("suite", bench.get_name().split("/", 1)[0]))
    return suite in SCALING_SUITES or (suite == "rangelock" and md.get("op") == "contended")


def _family(md: dict[str, Any]) -> tuple[str, str, str]:
    """(title, column key, baseline) of a benchmark's table."""
    suite, op = md.get("suite"), md.get("op")
    column = "variant" if "variant" in md else "policy"  # files before the lock dimension: the policy
    if suite == "io":
        return f"io: T threads, pwrite+pread+digest of {md.get('block', '?')}-byte blocks", "lock", "rwsem"
    if suite == "threaded" and op == "mm":
        return (
            f"threaded mm, {md.get('stream')} scenario, index {md.get('index')}, page_work={md.get('page_work')}, "
            f"map_pages={md.get('map_pages', 8)}: T fault threads + 1 mapping thread",  # files before map_pages: 8
            column,
            "full",
        )
    if suite == "rangelock":
        return f"rangelock contended: T threads write-locking {md.get('stream')} tiny ranges, no work", "lock", "range"
    if suite == "wis":
        return (
            f"will-it-scale {op}, index {md.get('index')}, page_work={md.get('page_work')}: T threads, "
            f"each in its own region",
            column,
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
        cmp = compare(ms, pivot, base)
        if benches[0].get_metadata().get("suite") == "wis":
            cmp = with_linear(cmp)
        out.append((f"{title} — ops/s, ratio to {base}", cmp))
    return out


def with_linear(cmp: Comparison) -> Comparison:
    """will-it-scale's ``linear`` column (T x the best mean of the ``threads=1`` row) and every
    cell's efficiency against it (``metadata["efficiency"]``); unchanged without a 1-thread row."""
    single = next((r for r in cmp.rows if r.key and r.key[0] == 1), None)
    if single is None or not single.cells:
        return cmp
    best = max(cell.mean for cell in single.cells.values())
    rows = []
    for row in cmp.rows:
        threads = int(row.key[0])
        linear = best * threads
        cells = {col: replace(cell, metadata={**cell.metadata, "efficiency": cell.mean / linear})
                 for col, cell in row.cells.items()}  # fmt: skip
        base = row.cells.get(cmp.baseline)
        cells[LINEAR] = Cell(
            linear, 0.0, 1, ratio=linear / base.mean if base is not None and base.mean > 0 else None,
            metadata={"linear": True, "efficiency": 1.0, "threads": threads},
        )  # fmt: skip
        rows.append(replace(row, cells=cells))
    summaries = {group: {**cols, LINEAR: None} for group, cols in cmp.summaries.items()}
    return replace(cmp, columns=(*cmp.columns, LINEAR), rows=tuple(rows), summaries=summaries)


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
