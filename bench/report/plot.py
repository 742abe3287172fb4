"""Size-scaling charts from a pyperf result file (matplotlib, the optional extra ``plot``).

Invariant
---------
Plots read only what ``vmalab bench`` stored: benchmark means (pyperf values,
seconds per operation) and metadata (``suite``, ``op``, ``stream``, ``n``,
``backend``, ``probe_depth``, ``bytes_per_vma``).  Each backend keeps one
colour and marker across every chart of a run, so charts can be read side by
side.  matplotlib is imported lazily with the non-interactive ``Agg`` backend;
when it is missing, ``PlotError`` says how to install it.

Layout
------
::

    DIR/time_lookup.png     one panel per (op, stream): time/op vs n, log-log
    DIR/time_insert.png     (also overlap, gap: every suite whose benchmarks carry n)
    DIR/probe_depth.png     probe() nodes per lookup vs n, log x
    DIR/memory_per_vma.png  tracemalloc bytes per VMA vs n, log x
    DIR/threads_<k>.png     ops/s vs threads per lock/policy (io, threaded, rangelock
                            contended, wis families; wis with the dashed ``linear`` line)

API
---
``PlotError``, ``series(suite) -> {...}``, ``plot_file(path, outdir) -> [png paths]``.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyperf

from bench.report.scaling import LINEAR, throughput_series

__all__ = ["PlotError", "plot_file", "series"]

_MARKERS = "osD^v<>pPX*h"
_TIME_SUITES = ("lookup", "insert", "overlap", "gap")


class PlotError(RuntimeError):
    """Plotting is impossible (matplotlib missing, nothing to plot)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotError(
            "vmalab plot needs matplotlib, the optional extra 'plot': pip install 'vmalab[plot]' "
            f"(or pip install matplotlib) [{exc}]"
        ) from None
    return plt


Series = dict[str, dict[str, list[tuple[int, float]]]]


def series(suite: pyperf.BenchmarkSuite) -> dict[str, Any]:
    """``{"time": {suite: {(op, stream): {backend: [(n, mean)]}}}, "probe": {backend: [(n, depth)]},
    "memory": {backend: [(n, bytes)]}, "backends": [...]}`` sorted by n."""
    time: dict[str, dict[tuple[str, str], dict[str, list[tuple[int, float]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    probe: dict[str, dict[int, float]] = defaultdict(dict)
    memory: dict[str, dict[int, float]] = defaultdict(dict)
    backends: dict[str, None] = {}
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        n, backend = md.get("n"), md.get("backend")
        if not isinstance(n, int) or not backend:
            continue
        backends.setdefault(backend, None)
        s = str(md.get("suite", ""))
        time[s][(str(md.get("op", "")), str(md.get("stream", "")))][backend].append((n, bench.mean()))
        if "probe_depth" in md and (n not in probe[backend] or md.get("stream") == "uniform"):
            probe[backend][n] = float(md["probe_depth"])
        if "bytes_per_vma" in md:
            memory[backend][n] = float(md["bytes_per_vma"])
    return {
        "time": {s: {k: {b: sorted(v) for b, v in d.items()} for k, d in panels.items()} for s, panels in time.items()},
        "probe": {b: sorted(d.items()) for b, d in probe.items()},
        "memory": {b: sorted(d.items()) for b, d in memory.items()},
        "backends": list(backends),
    }


def _style(backends: list[str]) -> dict[str, dict[str, Any]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {b: {"color": cmap(i % 10), "marker": _MARKERS[i % len(_MARKERS)]} for i, b in enumerate(backends)}


def _time_chart(plt: Any, suite: str, panels: dict[tuple[str, str], dict[str, list[tuple[int, float]]]],
                style: dict[str, dict[str, Any]], out: Path) -> Path:  # fmt: skip
    keys = sorted(panels)
    cols = min(2, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for backend, pts in panels[key].items():
            xs, ys = [p[0] for p in pts], [p[1] * 1e6 for p in pts]
            ax.plot(xs, ys, label=backend, linewidth=1.6, markersize=6, **style[backend])
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_ticks(ax.yaxis)
        ax.set_title(f"{suite}: {key[0]} ({key[1]})" if key[1] else f"{suite}: {key[0]}")
        ax.set_xlabel("VMAs in the index (n)")
        ax.set_ylabel("time per operation (µs)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 7), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path = out / f"time_{suite}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plain_ticks(axis: Any) -> None:
    """Log-axis labels as plain numbers (2, 5, 10) instead of 2x10^0."""
    from matplotlib.ticker import FuncFormatter

    def label(y: float, _pos: int) -> str:
        if y <= 0:
            return ""
        lead = round(y / 10 ** math.floor(math.log10(y)), 6)
        return f"{y:g}" if lead in (1.0, 2.0, 5.0) else ""

    fmt = FuncFormatter(label)
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(fmt)


def _metric_chart(plt: Any, data: dict[str, list[tuple[int, float]]], style: dict[str, dict[str, Any]],
                  title: str, ylabel: str, path: Path) -> Path:  # fmt: skip
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for backend, pts in data.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=backend, linewidth=1.6, markersize=6, **style[backend])
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel("VMAs in the index (n)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scaling_chart(plt: Any, title: str, lines: dict[str, list[tuple[int, float]]], path: Path) -> Path:
    """Throughput vs threads, one line per lock/policy (the seed's fio table as a chart)."""
    style = _style(list(lines))
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for col, pts in lines.items():
        if col == LINEAR:  # will-it-scale's T x single-thread line: dashed, no marker
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=col, color="0.45", linestyle="--", linewidth=1.2)
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=col, linewidth=1.6, markersize=6, **style[col])
    ax.set_xscale("log", base=2)
    threads = sorted({p[0] for pts in lines.values() for p in pts})
    ax.set_xticks(threads)
    ax.set_xticklabels([str(t) for t in threads])
    ax.set_ylim(bottom=0)
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)
    ax.set_xlabel("threads")
    ax.set_ylabel("ops/s (all threads)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_file(path: str | Path, outdir: str | Path) -> list[Path]:
    """Write the charts of result file ``path`` into ``outdir``; return the PNG paths."""
    plt = _pyplot()
    suite = pyperf.BenchmarkSuite.load(str(path))
    data = series(suite)
    scaling = throughput_series([path])
    if not data["backends"] and not scaling:
        raise PlotError(f"{path}: no benchmark carries n/backend or thread-count metadata; nothing to plot")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = [_scaling_chart(plt, title, lines, out / f"threads_{i + 1}.png") for i, (title, lines) in
               enumerate(scaling.items())]  # fmt: skip
    if not data["backends"]:
        return written
    style = _style(data["backends"])
    for s in _TIME_SUITES:
        if s in data["time"]:
            written.append(_time_chart(plt, s, data["time"][s], style, out))
    if data["probe"]:
        written.append(_metric_chart(plt, data["probe"], style, "probe(): nodes visited per lookup",
                                     "nodes visited (mean over the stream)", out / "probe_depth.png"))  # fmt: skip
    if data["memory"]:
        written.append(_metric_chart(plt, data["memory"], style, "memory per VMA while building (tracemalloc)",
                                     "bytes per VMA", out / "memory_per_vma.png"))  # fmt: skip
    return written
