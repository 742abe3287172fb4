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

    files -> benchmarks of io/threaded -> family (title, slug, column, baseline)
             (the same benchmark in several files = runs before/after, only with
              runs=True: families per file, the file label in title and slug;
              or repeat rounds with pool=True: each benchmark's runs pooled,
              compare.load_rounds, one family as from one file)
          -> measurements (value = 1 / seconds-per-op) -> compare(THROUGHPUT pivot)
          -> [Family(title, slug, short, comparison, cpus)]
                -> bench.report.render / .terminal / .html / .plot

A family's ``slug`` names its plot files (``threaded-mm-disjoint-maple``,
``io-rw-64k``, ``threaded-index-lookup-shared``): the parameters that tell two
families of one file apart are added only where two would otherwise share a name.

API
---
``SCALING_SUITES``, ``THROUGHPUT``, ``LINEAR``, ``Family``, ``is_scaling``,
``scaling_families(paths, runs=False, pool=False)``,
``scaling_comparisons(paths, runs=False, pool=False)``
-> ``[(title, Comparison)]``, ``with_linear(cmp)``, ``throughput_series(paths)``
for plots (the ``linear`` column is a series too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyperf

from bench.report.compare import (
    Cell,
    Comparison,
    Measurement,
    Pivot,
    check_distinct,
    compare,
    load_rounds,
    measurements_from_suite,
    shared_benchmarks,
)

__all__ = [
    "LINEAR", "SCALING_SUITES", "THROUGHPUT", "Family", "is_scaling", "scaling_comparisons", "scaling_families",
    "throughput_series", "with_linear",
]

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
    best="most ops/s",
    worst="fewest ops/s",
)


@dataclass(frozen=True)
class Family:
    """One thread-scaling table: its title, file-name slug, short name and comparison."""

    title: str  # the full title, ending in "— ops/s, ratio to BASELINE"
    slug: str  # names its plot files
    short: str  # for verdict lines: "io rw 64k", "threaded mm disjoint maple"
    comparison: Comparison
    cpus: int | None = None  # the fewest CPUs any of its benchmarks saw (thread counts above oversubscribe)
    label: str = ""  # runs mode: the file it came from
    params: dict[str, Any] = field(default_factory=dict, compare=False)  # what tells it apart from siblings


def is_scaling(bench: pyperf.Benchmark) -> bool:
    """True for benchmarks of the thread-scaling suites (and the contended ``rangelock`` cases)."""
    md = bench.get_metadata()
    suite = str(md.get("suite", bench.get_name().split("/", 1)[0]))
    return suite in SCALING_SUITES or (suite == "rangelock" and md.get("op") == "contended")


def _block(value: Any) -> str:
    try:
        b = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{b // 1024}k" if b % 1024 == 0 else str(b)


def _family(md: dict[str, Any]) -> tuple[str, str, str, str, str, dict[str, Any]]:
    """(title, slug, short, column key, baseline, params) of a benchmark's table."""
    suite, op = md.get("suite"), md.get("op")
    column = "variant" if "variant" in md else "policy"  # files before the lock dimension: the policy
    if suite == "io":
        title = f"io: T threads, pwrite+pread+digest of {md.get('block', '?')}-byte blocks"
        slug = f"io-{op or 'rw'}-{_block(md.get('block'))}"
        return title, slug, f"io {op or 'rw'} {_block(md.get('block'))}", "lock", "rwsem", {}
    if suite == "threaded" and op == "mm":
        page_work, map_pages = md.get("page_work"), md.get("map_pages", 8)  # files before map_pages: 8
        title = (
            f"threaded mm, {md.get('stream')} scenario, index {md.get('index')}, page_work={page_work}, "
            f"map_pages={map_pages}: T fault threads + 1 mapping thread"
        )
        slug = f"threaded-mm-{md.get('stream')}-{md.get('index')}"
        short = f"threaded mm {md.get('stream')} {md.get('index')}"
        return title, slug, short, column, "full", {"pw": page_work, "mp": map_pages}
    if suite == "rangelock":
        title = f"rangelock contended: T threads write-locking {md.get('stream')} tiny ranges, no work"
        return title, f"rangelock-contended-{md.get('stream')}", f"rangelock {md.get('stream')}", "lock", "range", {}
    if suite == "wis":
        title = (
            f"will-it-scale {op}, index {md.get('index')}, page_work={md.get('page_work')}: T threads, "
            f"each in its own region"
        )
        return title, f"wis-{op}-{md.get('index')}", f"wis {op} {md.get('index')}", column, "full", {}
    op = op if op in ("lookup", "overlap", "insert") else "lookup"  # files before the index ops: lookup
    bg = md.get("background", 1)
    who = f"T writer threads + {bg} reader(s)" if op == "insert" else f"T reader threads + {bg} writer(s)"
    switch = md.get("switch_us", 5000)  # files before switch_us ran at CPython's default, 5 ms
    title = f"threaded index {op}, {md.get('stream')} scenario, switch_us={switch}: {who}"
    slug = f"threaded-index-{op}-{md.get('stream')}"
    return title, slug, f"threaded index {op} {md.get('stream')}", "backend", "list", {"sw": switch, "bg": bg}


def _slugify(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def scaling_families(paths: Sequence[str | Path], *, runs: bool = False, pool: bool = False) -> list[Family]:
    """One ops/s comparison per family found in the files (empty when there is none).

    Files sharing scaling benchmarks are runs: with ``runs`` each file gets its
    own families (its label in the title and slug); with ``pool`` each
    benchmark's runs from every file are pooled into one (``pool_suites``);
    with neither, ``ValueError``."""
    loaded = [
        (label, pyperf.BenchmarkSuite(kept))
        for label, suite in load_rounds(paths, runs=runs, pool=pool)
        if (kept := [b for b in suite.get_benchmarks() if is_scaling(b)])
    ]
    repeated = bool(shared_benchmarks(loaded))
    if repeated and not runs:
        check_distinct(loaded)
    groups: dict[str, dict[str, Any]] = {}
    for label, suite in loaded:
        for bench in suite.get_benchmarks():
            md = bench.get_metadata()
            title, slug, short, column, baseline, params = _family(md)
            if repeated:
                title, slug, short = f"{title} [{label}]", f"{slug}-{_slugify(label)}", f"{short} [{label}]"
            g = groups.setdefault(title, {"slug": slug, "short": short, "column": column, "baseline": baseline,
                                          "params": params, "label": label if repeated else "", "benches": []})
            g["benches"].append(bench)
    # two families with one slug (other page_work, switch_us, ...): their parameters join the slug
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for g in groups.values():
        by_slug.setdefault(g["slug"], []).append(g)
    for same in by_slug.values():
        if len(same) > 1:
            for g in same:
                g["slug"] += "-" + "-".join(f"{k}{v}" for k, v in g["params"].items())
    out: list[Family] = []
    for title, g in groups.items():
        pivot = replace(THROUGHPUT, column=g["column"])
        ms: list[Measurement] = measurements_from_suite(pyperf.BenchmarkSuite(g["benches"]), pivot)
        cols = {m.column for m in ms}
        base = g["baseline"] if g["baseline"] in cols else sorted(cols)[0]
        cpus = [int(c) for b in g["benches"] if isinstance(c := b.get_metadata().get("cpu_count"), int)]
        cmp = compare(ms, pivot, base)
        if g["benches"][0].get_metadata().get("suite") == "wis":
            cmp = with_linear(cmp)
        out.append(Family(
            f"{title} — ops/s, ratio to {base}", _slugify(g["slug"]), g["short"], cmp,
            min(cpus) if cpus else None, g["label"], g["params"],
        ))  # fmt: skip
    return out


def scaling_comparisons(
    paths: Sequence[str | Path], *, runs: bool = False, pool: bool = False
) -> list[tuple[str, Comparison]]:
    """``[(title, Comparison)]`` of ``scaling_families``."""
    return [(f.title, f.comparison) for f in scaling_families(paths, runs=runs, pool=pool)]


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


def throughput_series(
    paths: Sequence[str | Path], *, runs: bool = False
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{family title: {column: [(threads, ops/s mean), ...]}} for throughput-vs-threads plots."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for fam in scaling_families(paths, runs=runs):
        series: dict[str, list[tuple[int, float]]] = {}
        for row in fam.comparison.rows:
            threads = int(row.key[0])
            for col, cell in row.cells.items():
                series.setdefault(col, []).append((threads, cell.mean))
        out[fam.title] = {c: sorted(v) for c, v in series.items()}
    return out
