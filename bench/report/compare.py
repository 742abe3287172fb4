"""Comparison of pyperf results: a pivot of benchmarks into rows x columns, with ratios and significance.

Invariant
---------
Computing is separate from rendering: this module turns pyperf suites into a
``Comparison`` (plain data: rows, cells, summaries) and never prints;
``bench.report.render`` draws it.  The pivot is a parameter, so every suite reuses
the same code: by default rows are workloads ``(suite, op, stream, n)`` read
from each benchmark's metadata, columns are ``backend``; a threaded suite can
pivot rows on ``threads`` and columns on ``policy``.  For every cell:

* ``ratio`` = how many times better than the baseline cell of its row
  (``baseline_mean / mean`` for times; ``mean / baseline_mean`` when
  ``higher_is_better``), so ratio > 1 always reads "better";
* ``significant`` = a two-sided Welch t-test at 95 % (pyperf's
  ``tdist95conf_level`` critical values) between the cell's values and the
  baseline's; ``None`` when either side has fewer than two values;
* ``best`` marks the best mean of the row;
* ``noisy`` = the cell's standard deviation is over ``NOISY`` (10 %) of its mean.

Each group (``suite`` by default) gets a geometric-mean-of-ratios summary over
the rows where both the column and the baseline have a value, and a
``Verdict`` (the best and worst column by that geomean, how many of the best's
cells are significant).

Files holding *different* benchmarks are merged (backends side by side).  Files
holding the *same* benchmark names are runs (before/after), compared only
when asked (``runs=True``, ``vmalab compare --runs``): the column becomes the
file (``Pivot.column = "file"``), the backend joins the row key, and
benchmarks found in only one file are left out (``Comparison.dropped``).
Repeat rounds of the same benchmarks can instead be pooled (``pool=True``,
``vmalab compare --pool``, ``pool_suites``): each benchmark's runs from every
file become one benchmark, compared as one file's.  Without ``runs`` or
``pool`` such files are refused with a message saying so, rather than silently
switching to a table of another shape.

Layout
------
::

    files --load_measurements--> [Measurement(key, column, values, ...)]
          --compare(pivot, baseline)--> Comparison
                                          columns ["list", "rbtree", ...]
                                          rows    [Row(key, group, {col: Cell})]
                                          summaries {group: {col: geomean ratio}}

API
---
``Pivot``, ``Measurement``, ``Cell``, ``Row``, ``Comparison``, ``Verdict``,
``load_suites``, ``measurements_from_suite``, ``compare``, ``compare_files``,
``pool_suites``, ``load_rounds``, ``shared_benchmarks``, ``verdict``,
``welch_significant``, ``geometric_mean``, ``natural_key``, ``NOISY``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyperf

__all__ = [
    "DEFAULT_PIVOT",
    "NOISY",
    "SUITE_ORDER",
    "Cell",
    "check_distinct",
    "Comparison",
    "Measurement",
    "Pivot",
    "Row",
    "Verdict",
    "compare",
    "compare_files",
    "geometric_mean",
    "load_rounds",
    "load_suites",
    "measurements_from_suite",
    "natural_key",
    "pool_suites",
    "shared_benchmarks",
    "verdict",
    "welch_significant",
]

#: A cell is noisy when its standard deviation exceeds this fraction of its mean.
NOISY = 0.10

#: The order suites are listed in (others follow alphabetically).
SUITE_ORDER = ("lookup", "insert", "overlap", "gap", "trace", "threaded", "rangelock", "io")


def _seconds(bench: pyperf.Benchmark) -> list[float]:
    return list(bench.get_values())


@dataclass(frozen=True)
class Pivot:
    """How benchmarks become a table: metadata keys for rows, the column, the group, the value."""

    rows: tuple[str, ...] = ("suite", "op", "stream", "n")
    column: str = "backend"
    group: str | None = "suite"
    higher_is_better: bool = False
    value: Callable[[pyperf.Benchmark], list[float]] = _seconds
    unit: str = "second"
    better: str = "faster"
    worse: str = "slower"
    best: str = "fastest"
    worst: str = "slowest"


DEFAULT_PIVOT = Pivot()


@dataclass(frozen=True)
class Measurement:
    """One benchmark's values, placed by the pivot."""

    name: str
    key: tuple[Any, ...]
    group: str
    column: str
    values: tuple[float, ...]
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


@dataclass(frozen=True)
class Cell:
    mean: float
    stdev: float
    nvalues: int
    ratio: float | None = None  # > 1: better than the baseline
    significant: bool | None = None
    best: bool = False
    baseline: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def spread(self) -> float:
        """Standard deviation as a fraction of the mean (0 when the mean is 0)."""
        return self.stdev / self.mean if self.mean > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.spread > NOISY


@dataclass(frozen=True)
class Row:
    key: tuple[Any, ...]
    group: str
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Comparison:
    pivot: Pivot
    columns: tuple[str, ...]
    baseline: str
    rows: tuple[Row, ...]
    summaries: dict[str, dict[str, float | None]]
    mode: str = "columns"  # "columns" (e.g. backends) or "runs" (files before/after)
    dropped: int = 0  # runs mode: benchmarks found in only one file, left out
    sources: dict[str, str] = field(default_factory=dict)  # runs mode: file label -> path

    def groups(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.group, None)
        return list(seen)

    def group_rows(self, group: str) -> list[Row]:
        return [r for r in self.rows if r.group == group]


@dataclass(frozen=True)
class Verdict:
    """The one-line answer of a group: its best (and worst) column by the geometric mean of the ratios."""

    group: str
    baseline: str
    best: str
    best_ratio: float  # > 1: better than the baseline (1.0 when the baseline is best)
    worst: str | None
    worst_ratio: float | None
    runner_up: str | None  # when the baseline is best: the next column, and its ratio
    runner_up_ratio: float | None
    cases: int  # rows where the best column and the baseline both have a value
    significant: int  # of those, rows where the difference is significant
    mode: str = "columns"  # the comparison's: "runs" when the columns are files


def verdict(cmp: Comparison, group: str) -> Verdict | None:
    """The group's verdict, or ``None`` when no column other than the baseline has a ratio."""
    summary = {c: r for c, r in cmp.summaries.get(group, {}).items() if r is not None}
    others = {c: r for c, r in summary.items() if c != cmp.baseline}
    if not others:
        return None
    summary.setdefault(cmp.baseline, 1.0)
    ranked = sorted(summary, key=lambda c: -summary[c])
    best, worst = ranked[0], ranked[-1]
    runner = ranked[1] if best == cmp.baseline and len(ranked) > 1 else None
    rows = cmp.group_rows(group)
    probe = best if best != cmp.baseline else (runner or best)
    pairs = [r.cells[probe] for r in rows if probe in r.cells and r.cells[probe].ratio is not None]
    return Verdict(
        group, cmp.baseline, best, summary[best], worst if worst != best else None,
        summary[worst] if worst != best else None, runner, summary[runner] if runner else None,
        len(pairs), sum(1 for c in pairs if c.significant is not False), cmp.mode,
    )  # fmt: skip

# ----------------------------------------------------------------------
# statistics
# ----------------------------------------------------------------------
#: two-sided 95 % critical values of Student's t (df 1..30, then 40, 60, 120, infinity)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_T95_TAIL = ((30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980), (math.inf, 1.960))


def t_critical(df: float) -> float:
    """Two-sided 95 % critical value of Student's t with ``df`` degrees of freedom.

    Exact table values for whole ``df`` up to 30 (fractional Welch ``df`` rounds
    down: the conservative side), then linear in ``1/df`` between the tabled
    40, 60, 120 and infinity, the usual interpolation for a t table.
    """
    if df < 1:
        df = 1
    if df <= 30:
        return _T95[int(df) - 1]
    for (d0, t0), (d1, t1) in pairwise(_T95_TAIL):
        if df <= d1:
            x0, x1, x = 1 / d0, (0.0 if d1 == math.inf else 1 / d1), 1 / df
            return t1 + (t0 - t1) * (x - x1) / (x0 - x1)
    return 1.960


def welch_significant(a: Sequence[float], b: Sequence[float]) -> bool | None:
    """Two-sided Welch t-test at 95 %: do the means of ``a`` and ``b`` differ? ``None``: too few values."""
    if len(a) < 2 or len(b) < 2:
        return None
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0.0:
        return ma != mb
    t = abs(ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va * va) / (len(a) - 1) + (vb * vb) / (len(b) - 1))
    return t >= t_critical(df)


def geometric_mean(xs: Iterable[float]) -> float | None:
    vals = [x for x in xs if x > 0]
    if not vals:
        return None
    return math.exp(statistics.fmean(math.log(x) for x in vals))


def natural_key(value: Any) -> tuple[int, Any]:
    """Sort ints numerically before strings, strings alphabetically."""
    if isinstance(value, bool):
        return (1, str(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


# ----------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------
def load_suites(paths: Sequence[str | Path]) -> list[tuple[str, pyperf.BenchmarkSuite]]:
    """``(label, suite)`` per file; labels are file stems, made unique."""
    out: list[tuple[str, pyperf.BenchmarkSuite]] = []
    used: set[str] = set()
    for i, p in enumerate(paths):
        path = Path(p)
        if not path.exists():
            raise FileNotFoundError(f"no such result file: {path}")
        try:
            suite = pyperf.BenchmarkSuite.load(str(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a pyperf result file ({exc})") from exc
        label = path.name.removesuffix(".gz").removesuffix(".json")
        if label in used:
            label = f"{i + 1}:{label}"
        used.add(label)
        out.append((label, suite))
    return out


def measurements_from_suite(
    suite: pyperf.BenchmarkSuite, pivot: Pivot = DEFAULT_PIVOT, *, file_label: str = ""
) -> list[Measurement]:
    """One ``Measurement`` per benchmark; pivot keys come from metadata (``"file"`` = the file label)."""
    out = []
    for bench in suite.get_benchmarks():
        md = dict(bench.get_metadata())
        md.setdefault("file", file_label)
        md.setdefault("suite", bench.get_name().split("/", 1)[0])
        values = tuple(pivot.value(bench))
        if not values:
            continue
        key = tuple(md.get(k, "-") for k in pivot.rows)
        group = str(md.get(pivot.group, "")) if pivot.group else ""
        out.append(Measurement(bench.get_name(), key, group, str(md.get(pivot.column, "?")), values, md))
    return out


# ----------------------------------------------------------------------
# the comparison
# ----------------------------------------------------------------------
def _group_order(group: str) -> tuple[int, str]:
    return (SUITE_ORDER.index(group), "") if group in SUITE_ORDER else (len(SUITE_ORDER), group)


def compare(
    measurements: Sequence[Measurement], pivot: Pivot = DEFAULT_PIVOT, baseline: str | None = None
) -> Comparison:
    """Pivot ``measurements`` into a ``Comparison`` against ``baseline`` (default: ``list`` or the first column)."""
    columns: dict[str, None] = {}
    table: dict[tuple[str, tuple[Any, ...]], dict[str, Measurement]] = {}
    for m in measurements:
        columns.setdefault(m.column, None)
        row = table.setdefault((m.group, m.key), {})
        if m.column in row:
            raise ValueError(f"two benchmarks land in one cell: {row[m.column].name!r} and {m.name!r}")
        row[m.column] = m
    cols = tuple(columns)
    if not cols:
        raise ValueError("no benchmarks to compare")
    if baseline is None:
        baseline = "list" if "list" in columns else cols[0]
    elif baseline not in columns:
        raise ValueError(f"baseline {baseline!r} is not among the columns: {', '.join(cols)}")

    rows: list[Row] = []
    for (group, key), found in sorted(
        table.items(), key=lambda kv: (_group_order(kv[0][0]), tuple(natural_key(x) for x in kv[0][1]))
    ):
        base = found.get(baseline)
        pick = max if pivot.higher_is_better else min
        best_col = pick(found, key=lambda c: found[c].mean)
        cells: dict[str, Cell] = {}
        for col, m in found.items():
            ratio = sig = None
            if base is not None and m.mean > 0 and base.mean > 0:
                ratio = m.mean / base.mean if pivot.higher_is_better else base.mean / m.mean
                sig = None if col == baseline else welch_significant(m.values, base.values)
            cells[col] = Cell(
                m.mean, m.stdev, len(m.values), ratio, sig, best=(col == best_col and len(found) > 1),
                baseline=(col == baseline), metadata=m.metadata,
            )  # fmt: skip
        rows.append(Row(key, group, cells))

    summaries: dict[str, dict[str, float | None]] = {}
    for group in dict.fromkeys(r.group for r in rows):
        summaries[group] = {
            col: geometric_mean(
                ratio for r in rows if r.group == group and col in r.cells and (ratio := r.cells[col].ratio) is not None
            )
            for col in cols
        }
    return Comparison(pivot, cols, baseline, tuple(rows), summaries)


#: Metadata keys tried first when the pivot's rows put two benchmarks in one cell.
ROW_KEY_CANDIDATES = ("threads", "policy", "lock", "scenario", "readers", "writers", "stream", "op")
#: pyperf's own metadata: never a row key.
_PYPERF_KEYS = frozenset(
    (
        "aslr",
        "boot_time",
        "command_max_rss",
        "cpu_affinity",
        "cpu_config",
        "cpu_count",
        "cpu_freq",
        "cpu_model_name",
        "cpu_temp",
        "date",
        "duration",
        "hostname",
        "inner_loops",
        "load_avg_1min",
        "loops",
        "mem_max_rss",
        "mem_peak_pagefile_usage",
        "name",
        "perf_version",
        "platform",
        "python_cflags",
        "python_compiler",
        "python_config_args",
        "python_executable",
        "python_hash_seed",
        "python_implementation",
        "python_version",
        "runnable_threads",
        "timer",
        "tracemalloc_peak",
        "unit",
        "uptime",
        "warmups",
        "calibrate_loops",
        "recalibrate_loops",
        "calibrate_warmups",
        "recalibrate_warmups",
    )
)


def _disambiguate(loaded: list[tuple[str, pyperf.BenchmarkSuite]], pivot: Pivot) -> Pivot:
    """Extend ``pivot.rows`` with metadata keys until no two benchmarks share a cell.

    A file can mix suites with different natural pivots (a threaded suite's rows
    are thread counts); rather than fail, add the keys that tell them apart
    (``ROW_KEY_CANDIDATES`` first, then any other non-pyperf key, sorted).
    """
    metas = [
        ({**b.get_metadata(), "file": label}, b.get_name()) for label, suite in loaded for b in suite.get_benchmarks()
    ]

    def collides(p: Pivot) -> bool:
        seen: set[tuple[Any, ...]] = set()
        for md, name in metas:
            cell = (*(md.get(k, "-") for k in p.rows), md.get(p.column, "?"), md.get("suite", name.split("/", 1)[0]))
            if cell in seen:
                return True
            seen.add(cell)
        return False

    if not collides(pivot):
        return pivot
    others = sorted({k for md, _ in metas for k in md} - _PYPERF_KEYS - set(ROW_KEY_CANDIDATES))
    for key in (*ROW_KEY_CANDIDATES, *others):
        if key in pivot.rows or key == pivot.column or not any(key in md for md, _ in metas):
            continue
        pivot = replace(pivot, rows=(*pivot.rows, key))
        if not collides(pivot):
            return pivot
    return replace(pivot, rows=(*pivot.rows, "name"))


def shared_benchmarks(loaded: Sequence[tuple[str, pyperf.BenchmarkSuite]]) -> dict[str, list[str]]:
    """Benchmark names found in more than one file -> the labels of those files."""
    where: dict[str, list[str]] = {}
    for label, suite in loaded:
        for name in suite.get_benchmark_names():
            where.setdefault(name, []).append(label)
    return {name: labels for name, labels in where.items() if len(labels) > 1}


def check_distinct(loaded: Sequence[tuple[str, pyperf.BenchmarkSuite]]) -> None:
    """``ValueError`` (saying how to compare them) when files share benchmarks but runs were not asked for."""
    shared = shared_benchmarks(loaded)
    if not shared:
        return
    involved = {lab for labs in shared.values() for lab in labs}
    labels = [label for label, _ in loaded if label in involved]
    example = next(iter(shared))
    which = " and ".join(labels) if len(labels) < 4 else f"{len(labels)} of the files"
    raise ValueError(
        f"{which} hold {len(shared)} of the same benchmarks (e.g. {example}): give --runs to compare them as "
        "runs (before/after, the first file the baseline), --pool to pool their runs (repeat rounds), "
        "or compare one file at a time"
    )


def load_rounds(
    paths: Sequence[str | Path], *, runs: bool = False, pool: bool = False
) -> list[tuple[str, pyperf.BenchmarkSuite]]:
    """``load_suites``, or with ``pool`` the files as one suite of pooled rounds (``pool_suites``):
    what ``compare_files`` and ``scaling.scaling_families`` read.  ``ValueError`` for ``runs`` with
    ``pool`` and, pooling, for one path given twice (its runs would count twice)."""
    if runs and pool:
        raise ValueError("--runs compares the files before/after, --pool merges their runs: give one of them")
    if not pool:
        return load_suites(paths)
    seen: dict[Path, str | Path] = {}
    for p in paths:
        first = seen.setdefault(Path(p).resolve(), p)
        if first is not p:
            raise ValueError(f"{p} is given twice (as {first} too): pooled, its runs would count twice")
    return [pool_suites(load_suites(paths))]


def pool_suites(loaded: Sequence[tuple[str, pyperf.BenchmarkSuite]]) -> tuple[str, pyperf.BenchmarkSuite]:
    """The files' benchmarks as one suite, each with the runs of every file that holds it.

    Repeat rounds of the same benchmarks (other ``vmalab bench`` runs, e.g. on
    other days) pooled, as ``pyperf convert --add`` does: a cell's mean and
    significance then come from all of its processes.  A benchmark held by one
    file only keeps that file's runs (``render.pool_note`` says which).  The
    loaded suites are not changed.  ``ValueError`` when fewer than two files
    are given, when two files hold the same run (by its date and values: a file
    given twice, or a copy; ``load_rounds`` also refuses one path given
    twice), when they share no benchmark (nothing to pool), or when a benchmark's runs
    differ in what pyperf requires the runs of one benchmark to share (machine,
    platform, interpreter, inner loops): the error names the benchmark, the
    files and pyperf's reason (its ``current`` is the earlier files' value).
    The label is ``pooled(<labels>)``."""
    if len(loaded) < 2:
        raise ValueError("pooling needs two or more files (repeat rounds of the same benchmarks)")
    if not shared_benchmarks(loaded):
        raise ValueError("these files share no benchmark: there is nothing to pool "
                         "(without --pool, files of different benchmarks are shown side by side)")  # fmt: skip
    pooled: dict[str, pyperf.Benchmark] = {}
    first: dict[str, str] = {}  # benchmark name -> the label of the first file holding it
    seen: dict[tuple[str, str, tuple[float, ...]], str] = {}  # (benchmark, date, values) -> file label
    for label, suite in loaded:
        for bench in suite.get_benchmarks():
            name = bench.get_name()
            for run in bench.get_runs():  # the same run twice: a file given twice, or a copy of one
                date = run.get_metadata().get("date")
                key = (name, str(date), run.values)
                if date is not None and seen.setdefault(key, label) != label:
                    raise ValueError(
                        f"{seen[key]} and {label} hold the same run of {name} (recorded {date}): "
                        "one file given twice, or a copy of it; pooled, its runs would count twice"
                    )
            if name not in pooled:
                first[name] = label
                pooled[name] = pyperf.Benchmark(bench.get_runs())  # a copy: the loaded suite stays as read
                continue
            try:
                pooled[name].add_runs(bench)
            except ValueError as exc:  # pyperf's "incompatible benchmark, metadata X is different: ..."
                raise ValueError(
                    f"cannot pool {name}: its runs in {first[name]} and in {label} differ ({exc}); "
                    "pool only rounds made on one machine with one interpreter"
                ) from exc
    return f"pooled({', '.join(label for label, _ in loaded)})", pyperf.BenchmarkSuite(list(pooled.values()))


def compare_files(
    paths: Sequence[str | Path],
    baseline: str | None = None,
    pivot: Pivot = DEFAULT_PIVOT,
    keep: Callable[[pyperf.Benchmark], bool] | None = None,
    *,
    runs: bool = False,
    pool: bool = False,
) -> Comparison:
    """Compare result files: backends side by side (files merged), or, with ``runs``, the files as
    runs before/after of the benchmarks they share, or, with ``pool``, the files' runs of each
    benchmark pooled into one cell (``pool_suites``).

    ``keep`` selects the benchmarks to include (default: all).  Without ``runs`` or ``pool``,
    files sharing benchmarks are a ``ValueError`` that says how to compare them."""
    loaded = load_rounds(paths, runs=runs, pool=pool)
    sources = {} if pool else {label: str(path) for (label, _), path in zip(loaded, paths, strict=True)}
    if keep is not None:
        loaded = [
            (label, pyperf.BenchmarkSuite(kept))
            for label, suite in loaded
            if (kept := [b for b in suite.get_benchmarks() if keep(b)])
        ]
        if not loaded:
            raise ValueError("no benchmarks to compare")
    shared = shared_benchmarks(loaded)
    dropped = 0
    if runs:
        if len(paths) < 2:
            raise ValueError("comparing runs needs two or more files (the first is the baseline run)")
        if not shared:
            raise ValueError("these files share no benchmark: there is no run to compare with another "
                             "(without --runs, files of different benchmarks are shown side by side)")  # fmt: skip
        names = {n for n, labels in shared.items() if len(labels) == len(loaded)} or set(shared)
        kept_suites = []
        for label, suite in loaded:
            benches = [b for b in suite.get_benchmarks() if b.get_name() in names]
            dropped += len(suite.get_benchmarks()) - len(benches)
            if benches:
                kept_suites.append((label, pyperf.BenchmarkSuite(benches)))
        loaded = kept_suites
        pivot = replace(
            pivot, column="file", rows=(*pivot.rows, pivot.column) if pivot.column != "file" else pivot.rows
        )
        if baseline is None:
            baseline = loaded[0][0]
    else:
        check_distinct(loaded)
    pivot = _disambiguate(loaded, pivot)
    ms: list[Measurement] = []
    for label, suite in loaded:
        ms.extend(measurements_from_suite(suite, pivot, file_label=label))
    cmp = compare(ms, pivot, baseline)
    return replace(cmp, mode="runs", dropped=dropped, sources=sources) if runs else cmp
