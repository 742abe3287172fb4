"""The charts of result files, named for what they show: time vs n, depth, memory, ops/s vs threads.

Invariant
---------
Plots read only what ``vmalab bench`` stored, through the same comparisons
as the tables (``bench.report.compare``, ``bench.report.scaling``), so a chart
and its table never disagree.  A chart is data plus a ``draw()`` that builds
its figure on demand (``bench.report.charts``); its ``name`` says what it
shows and becomes its file name:

==================================  =============================================
``lookup-time``                     time per op vs n, one panel per op/stream
``trace-time``                      time per case as bars (a suite whose n does
                                    not vary within a case family)
``lookup-probe-depth``              ``probe()`` nodes per lookup vs n
``insert-memory-per-vma``           bytes per VMA vs n (tracemalloc)
``threaded-mm-disjoint-maple``      ops/s vs threads per policy + ratio panel
``io-rw-64k``                       ops/s vs threads per lock + ratio panel
``threaded-mm-disjoint-maple-gil-   the same family on a GIL and a free-threaded
vs-free-threaded``                  interpreter (files of both builds given)
==================================  =============================================

With several files, each chart's name starts with its file's label.  A file
with nothing to plot is a ``PlotError`` that says so.

API
---
``Chart``, ``charts(paths)``, ``plot_file(path, outdir) -> [png paths]``,
``render_png(chart, path)``, ``render_svg(chart) -> str``, ``pyplot_available()``, ``PlotError``.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.report.cells import case_keys, key_text
from bench.report.charts import (
    PlotError,
    Styles,
    bar_chart,
    builds_chart,
    metric_chart,
    pyplot,
    scaling_chart,
    time_chart,
)
from bench.report.compare import Comparison, compare_files, load_suites
from bench.report.meta import build_kind
from bench.report.scaling import Family, is_scaling, scaling_families

__all__ = ["Chart", "PlotError", "charts", "plot_file", "pyplot_available", "render_png", "render_svg"]

_DPI = 100
_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


@dataclass(frozen=True)
class Chart:
    """One figure: its file-name stem, what it shows, where it belongs, and how to draw it."""

    name: str  # "lookup-time", "threaded-mm-disjoint-maple"
    title: str  # what it shows, in words (caption, alt text)
    file: str  # the label of the result file it comes from ("" for a cross-file chart)
    group: str  # the suite (structure charts) or the family slug (scaling charts)
    draw: Callable[[], Any]


def _unit(values: Sequence[float]) -> tuple[float, str]:
    mid = statistics.median(values) if values else 1.0
    for factor, name in _UNITS:
        if mid >= factor:
            return factor, name
    return _UNITS[-1]


def _structure_charts(cmp: Comparison, label: str, styles: Styles) -> list[Chart]:
    out: list[Chart] = []
    names = list(cmp.pivot.rows)
    n_at = names.index("n") if "n" in names else None
    for group in cmp.groups():
        ck = case_keys(cmp, group)
        rows = ck.rows
        if all(set(r.cells) <= {"?"} for r in rows):  # no backend metadata: not a vmalab benchmark
            continue
        factor, unit = _unit([c.mean for r in rows for c in r.cells.values()])
        what = f"{group}: time per operation ({unit}), baseline {cmp.baseline}"
        panel_keys = [i for i in ck.key_index if i != n_at]
        panels: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for row in rows:
            panel = " ".join(key_text(row.key[i]) for i in panel_keys) or " ".join(v for _, v in ck.constant)
            for col, cell in row.cells.items():
                n = row.key[n_at] if n_at is not None else None
                if isinstance(n, int) and n > 0:
                    panels.setdefault(panel, {}).setdefault(col, []).append((n, cell.mean / factor))
        lines = n_at is not None and n_at in ck.key_index and all(
            len(pts) > 1 for p in panels.values() for pts in p.values()
        ) and bool(panels) and sum(len(pts) for p in panels.values() for pts in p.values()) == sum(
            len(r.cells) for r in rows
        )  # fmt: skip
        if lines:
            data = {k: {c: sorted(v) for c, v in p.items()} for k, p in panels.items()}
            draw = partial(time_chart, what, data, styles, ylabel=f"time per operation ({unit})")
            out.append(Chart(f"{group}-time", f"{what}, vs n (log-log)", label, group, draw))
        elif rows:
            cases = [
                ", ".join(f"n={key_text(r.key[i])}" if i == n_at else key_text(r.key[i]) for i in ck.key_index)
                for r in rows
            ]
            columns = [c for c in cmp.columns if any(c in r.cells for r in rows)]
            bars: dict[str, list[tuple[float, float] | None]] = {
                c: [(r.cells[c].mean / factor, r.cells[c].stdev / factor) if c in r.cells else None for r in rows]
                for c in columns
            }
            draw = partial(bar_chart, what, cases, bars, styles, f"time per operation ({unit}, log scale)",
                           cmp.baseline)  # fmt: skip
            out.append(Chart(f"{group}-time", f"{what}, per case (bars, ± one standard deviation)", label, group,
                             draw))  # fmt: skip
        for key, stem, ylabel, title in (
            ("probe_depth", "probe-depth", "nodes visited (mean over the stream)", "probe(): nodes visited per lookup"),
            ("bytes_per_vma", "memory-per-vma", "bytes per VMA", "memory per VMA while building (tracemalloc)"),
        ):
            metric = _metric(rows, n_at, key)
            if metric:
                draw = partial(metric_chart, f"{group}: {title}", metric, styles, ylabel)
                out.append(Chart(f"{group}-{stem}", f"{group}: {title}, vs n", label, group, draw))
    return out


def _metric(rows: Sequence[Any], n_at: int | None, key: str) -> dict[str, list[tuple[float, float]]]:
    """{column: [(n, value)]} of a metadata measurement; the uniform stream's when streams differ."""
    found: dict[str, dict[int, float]] = {}
    for row in rows:
        n = row.key[n_at] if n_at is not None else None
        if not isinstance(n, int) or n <= 0:
            continue
        for col, cell in row.cells.items():
            value = cell.metadata.get(key)
            first = n not in found.get(col, {})
            if isinstance(value, (int, float)) and (first or cell.metadata.get("stream") == "uniform"):
                found.setdefault(col, {})[n] = float(value)
    if not found or all(len(v) < 2 for v in found.values()):
        return {}
    return {c: sorted(v.items()) for c, v in found.items()}


def _lines(fam: Family) -> dict[str, list[tuple[float, float]]]:
    """{column: [(threads, ops/s)]}, the baseline first, then the table's column order."""
    series: dict[str, list[tuple[float, float]]] = {}
    cmp = fam.comparison
    for col in sorted(cmp.columns, key=lambda c: c != cmp.baseline):
        for row in cmp.rows:
            if col in row.cells:
                series.setdefault(col, []).append((int(row.key[0]), row.cells[col].mean))
    return {c: sorted(v) for c, v in series.items()}


def _scaling_charts(fams: Sequence[Family], label: str, styles: Styles) -> list[Chart]:
    out = []
    for fam in fams:
        lines = _lines(fam)
        if not lines:
            continue
        base = fam.comparison.baseline
        draw = partial(scaling_chart, fam.title, lines, base, styles, fam.cpus)
        out.append(Chart(fam.slug, f"{fam.title}; ops/s vs threads and the ratio to {base} per thread count",
                         label or fam.label, fam.slug, draw))  # fmt: skip
    return out


def _builds_charts(paths: Sequence[Path], styles: Styles) -> list[Chart]:
    """GIL vs free-threaded: a chart per family found in a file of each build."""
    kinds = {}
    for path, (label, suite) in zip(paths, load_suites(paths), strict=True):
        benches = suite.get_benchmarks()
        if benches and any(is_scaling(b) for b in benches):
            kinds[label] = (path, build_kind(benches[0].get_metadata()))
    gil = [(lab, p) for lab, (p, k) in kinds.items() if k == "GIL"]
    free = [(lab, p) for lab, (p, k) in kinds.items() if k == "free-threaded"]
    out = []
    for glab, gpath in gil:
        gfams = {f.slug: f for f in scaling_families([gpath])}
        for flab, fpath in free:
            for fam in scaling_families([fpath]):
                if fam.slug not in gfams:
                    continue
                suffix = "" if len(gil) == 1 and len(free) == 1 else f"-{glab}-{flab}"
                title = f"{gfams[fam.slug].short}: GIL ({glab}) vs free-threaded ({flab}), ops/s vs threads"
                g, f = _lines(gfams[fam.slug]), _lines(fam)
                draw = partial(builds_chart, title, g, f, styles)
                out.append(Chart(f"{fam.slug}-gil-vs-free-threaded{suffix}", title, "", fam.slug, draw))
    return out


def pyplot_available() -> bool:
    """True when matplotlib imports (the optional extra ``plot``)."""
    try:
        pyplot()
    except PlotError:
        return False
    return True


def charts(paths: Sequence[str | Path], *, styles: Styles | None = None) -> list[Chart]:
    """Every chart of the files (each file on its own; with several, names start with the file label),
    plus the GIL vs free-threaded charts when files of both builds share a family."""
    files = [Path(p) for p in paths]
    styles = styles or Styles()
    loaded = load_suites(files)
    out: list[Chart] = []
    for path, (label, suite) in zip(files, loaded, strict=True):
        prefix = f"{label}-" if len(files) > 1 else ""
        benches = suite.get_benchmarks()
        mine: list[Chart] = []
        if any(not is_scaling(b) for b in benches):
            cmp = compare_files([path], keep=lambda b: not is_scaling(b))
            mine += _structure_charts(cmp, label, styles)
        if any(is_scaling(b) for b in benches):
            mine += _scaling_charts(scaling_families([path]), label, styles)
        out += [Chart(prefix + c.name, c.title, c.file, c.group, c.draw) for c in mine]
    if len(files) > 1:
        out += _builds_charts(files, styles)
    return out


def render_png(chart: Chart, path: Path) -> Path:
    plt = pyplot()
    fig = chart.draw()
    try:
        fig.savefig(path, dpi=_DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def render_svg(chart: Chart) -> str:
    """The chart as an inline SVG element (text kept as text; ids salted by the chart name)."""
    plt = pyplot()
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": chart.name, "svg.fonttype": "none"}):
        fig = chart.draw()
        buf = io.StringIO()
        try:
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def plot_file(path: str | Path, outdir: str | Path) -> list[Path]:
    """Write the charts of result file ``path`` into ``outdir`` as ``NAME.png``; return their paths."""
    pyplot()
    found = charts([path])
    if not found:
        raise PlotError(
            f"{path}: nothing to plot: no benchmark carries the suite/backend/n or thread-count metadata "
            "that vmalab bench records"
        )
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return [render_png(c, out / f"{c.name}.png") for c in found]
