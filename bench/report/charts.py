"""The figures: time vs n, metrics vs n, time per case as bars, throughput vs threads with its ratio panel.

Invariant
---------
Each function takes plain series (computed by ``bench.report.plot`` from a
``Comparison`` or metadata) and returns a matplotlib ``Figure``; nothing here
reads files or writes them.  Every figure says what it shows: its title names
the measurement and the baseline, its axes their units; a title that speaks
of a ratio has a panel that plots that ratio.  Lines that coincide stay
visible: each series has its own marker, dash pattern and marker size (the
later ones smaller, drawn on top, hollow every other one), and one colour per
name across all the figures of a report (``Styles``).  Sized for the page
GitHub shows (about 900 px wide at 100 dpi) with 10-11 pt text.

matplotlib is imported lazily with the non-interactive ``Agg`` backend;
``pyplot()`` raises ``PlotError`` saying how to install it when it is missing.

API
---
``PlotError``, ``pyplot()``, ``Styles``, ``time_chart``, ``metric_chart``,
``bar_chart``, ``scaling_chart``, ``builds_chart``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

from bench.report.scaling import LINEAR

__all__ = [
    "PlotError", "Styles", "bar_chart", "builds_chart", "metric_chart", "pyplot", "scaling_chart", "time_chart",
]

Points = list[tuple[float, float]]

_MARKERS = "osD^v<>pPX*h"
_DASHES = ("-", "--", "-.", ":")
_WIDTH = 9.0  # inches: 900 px at 100 dpi, the width GitHub shows an image in a README


class PlotError(ValueError):
    """Plotting is impossible (matplotlib missing, nothing to plot)."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the ``Agg`` backend, or ``PlotError`` saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotError(
            "plots need matplotlib, the optional extra 'plot': pip install 'vmalab[plot]' "
            f"(or pip install matplotlib) [{exc}]"
        ) from None
    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9, "svg.fonttype": "none"})
    return plt


class Styles:
    """One colour, marker and dash per name, the same in every figure that uses this object."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self._index: dict[str, int] = {}
        for n in names:
            self.index(n)

    def index(self, name: str) -> int:
        return self._index.setdefault(name, len(self._index))

    def line(self, name: str) -> dict[str, Any]:
        import matplotlib

        i = self.index(name)
        color = matplotlib.colormaps["tab10"](i % 10)
        return {
            "color": color, "marker": _MARKERS[i % len(_MARKERS)], "linestyle": _DASHES[(i // 10) % len(_DASHES)],
            "markersize": max(4.0, 9.0 - 0.7 * (i % 8)), "markerfacecolor": "none" if i % 2 else color,
            "markeredgewidth": 1.4, "linewidth": 1.6, "zorder": 2 + i * 0.01,
        }  # fmt: skip

    def color(self, name: str) -> Any:
        return self.line(name)["color"]


def _wrap(title: str, width: int = 95) -> str:
    return "\n".join(textwrap.wrap(title, width))


def _plain_ticks(axis: Any, span: float = 10.0) -> None:
    """Log-axis labels as plain numbers (2, 5, 10) instead of 2x10^0; every minor tick labelled when the
    data span (max / min) is under about one decade, so a short axis still has numbers on it."""
    from matplotlib.ticker import FuncFormatter

    leads = (1.0, 2.0, 5.0) if span > 4 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)

    def label(y: float, _pos: int) -> str:
        if y <= 0:
            return ""
        lead = round(y / 10 ** math.floor(math.log10(y)), 6)
        return f"{y:g}" if lead in leads else ""

    fmt = FuncFormatter(label)
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(fmt)


def _rate_ticks(axis: Any) -> None:
    """ops/s as 20k, 1.2M (the tables' units) instead of a 1e6 offset."""
    from matplotlib.ticker import FuncFormatter

    def label(y: float, _pos: int) -> str:
        for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(y) >= factor:
                return f"{y / factor:g}{suffix}"
        return f"{y:g}"

    axis.set_major_formatter(FuncFormatter(label))


def _legend_outside(fig: Any, axes: Any, ncol: int) -> None:
    """One legend for all panels, below them (constrained layout makes room for it)."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(max(1, ncol), 5), frameon=False)


def time_chart(
    title: str, panels: dict[str, dict[str, Points]], styles: Styles, *, ylabel: str = "time per operation (µs)",
    xlabel: str = "VMAs in the index (n)",
) -> Any:  # fmt: skip
    """One panel per case family (e.g. ``find uniform``): the value vs n per name, log-log."""
    plt = pyplot()
    keys = list(panels)
    cols = min(2, len(keys))
    rows = (len(keys) + cols - 1) // cols
    names = list(dict.fromkeys(n for p in panels.values() for n in p))
    legend_rows = (len(names) + 4) // 5
    fig, axes = plt.subplots(rows, cols, figsize=(_WIDTH, 3.2 * rows + 0.7 + 0.25 * legend_rows), squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, key in zip(axes.flat, keys, strict=False):
        ys = [p[1] for pts in panels[key].values() for p in pts if p[1] > 0]
        for name, pts in panels[key].items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, **styles.line(name))
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_ticks(ax.yaxis, max(ys) / min(ys) if ys else 10.0)
        ax.set_title(key)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(_wrap(title), fontsize=11)
    _legend_outside(fig, list(axes.flat)[: len(keys)], len(names))
    return fig


def metric_chart(title: str, data: dict[str, Points], styles: Styles, ylabel: str) -> Any:
    """One measurement (probe depth, bytes per VMA) vs n per name, log x."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(_WIDTH, 4.6), layout="constrained")
    for name, pts in data.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, **styles.line(name))
    ax.set_xscale("log")
    fig.suptitle(_wrap(title), fontsize=11)
    ax.set_xlabel("VMAs in the index (n)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    fig.legend(frameon=False, loc="outside right center")
    return fig


def bar_chart(title: str, cases: list[str], data: dict[str, list[tuple[float, float] | None]], styles: Styles,
              xlabel: str, baseline: str) -> Any:  # fmt: skip
    """Horizontal bars: per case (y), one bar per name with its ± (log x: the cases may span decades)."""
    plt = pyplot()
    names = list(data)
    per_case = len(names) + 1
    fig, ax = plt.subplots(figsize=(_WIDTH, max(2.5, 0.22 * per_case * len(cases) + 1.4)), layout="constrained")
    height = 1.0 / per_case
    for j, name in enumerate(names):
        ys, xs, errs = [], [], []
        for i, point in enumerate(data[name]):
            if point is None:
                continue
            ys.append(i + (j - (len(names) - 1) / 2) * height)
            xs.append(point[0])
            errs.append(point[1])
        label = f"{name} (baseline)" if name == baseline else name
        ax.barh(ys, xs, height=height * 0.9, xerr=errs, label=label, color=styles.color(name),
                edgecolor="black" if name == baseline else "none", linewidth=0.8, error_kw={"elinewidth": 0.8})
    ax.set_yticks(range(len(cases)))
    ax.set_yticklabels(cases)
    ax.invert_yaxis()
    ax.set_xscale("log")
    xs_all = [p[0] for pts in data.values() for p in pts if p is not None and p[0] > 0]
    _plain_ticks(ax.xaxis, max(xs_all) / min(xs_all) if xs_all else 10.0)
    ax.set_xlabel(xlabel)
    fig.suptitle(_wrap(title), fontsize=11)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.legend(frameon=False, loc="outside right center")
    return fig


def _threads_axis(ax: Any, threads: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(threads)
    ax.set_xticklabels([str(t) for t in threads])
    ax.minorticks_off()


def _shade_oversubscribed(ax: Any, cpus: int | None, threads: list[int], label: bool) -> None:
    if cpus and threads and max(threads) > cpus:
        ax.axvspan(cpus * 1.25, max(threads) * 1.5, color="0.9", zorder=0,
                   label=f"more threads than the {cpus} CPUs" if label else None)  # fmt: skip
        ax.set_xlim(min(threads) / 1.3, max(threads) * 1.3)


def _ratio_limits(ax: Any, ratios: Sequence[float]) -> None:
    lo, hi = min([1.0, *ratios]), max([1.0, *ratios])
    pad = max(0.05, (hi - lo) * 0.12)
    ax.set_ylim(max(0.0, lo - pad), hi + pad)


def scaling_chart(title: str, lines: dict[str, Points], baseline: str, styles: Styles, cpus: int | None) -> Any:
    """Throughput vs threads per lock/policy/backend, with linear scaling of the baseline's one-thread
    throughput; below it, each line's ratio to the baseline (the ratio the title speaks of)."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(_WIDTH, 6.4), sharex=True, height_ratios=(2.2, 1),
                                      layout="constrained")  # fmt: skip
    threads = sorted({int(p[0]) for pts in lines.values() for p in pts})
    lines = dict(lines)
    linear = lines.pop(LINEAR, None)  # will-it-scale's own column: T x the best one-thread figure
    for name, pts in lines.items():
        top.plot([p[0] for p in pts], [p[1] for p in pts], label=name, **styles.line(name))
    base = dict(lines.get(baseline, []))
    one = base.get(min(threads)) if threads else None
    highest = max(p[1] for pts in lines.values() for p in pts)
    if linear:
        top.plot([p[0] for p in linear], [p[1] for p in linear], color="0.5", linestyle=(0, (4, 3)),
                 linewidth=1.0, label="linear (T x best 1-thread)", zorder=1)  # fmt: skip
    elif one:
        label = f"linear scaling of {baseline}\nfrom {min(threads)} thread"
        top.plot(threads, [one * t / min(threads) for t in threads], color="0.5", linestyle=(0, (4, 3)),
                 linewidth=1.0, label=label, zorder=1)  # fmt: skip
    top.set_ylim(0, highest * 1.15)
    _shade_oversubscribed(top, cpus, threads, True)
    _rate_ticks(top.yaxis)
    top.set_ylabel("ops/s (all threads)")
    top.grid(True, which="both", alpha=0.3)
    ratios: list[float] = []
    for name, pts in lines.items():
        if name == baseline:
            continue
        points = [(t, v / base[t]) for t, v in pts if base.get(t)]
        ratios += [r for _, r in points]
        if points:
            bottom.plot([r[0] for r in points], [r[1] for r in points], **styles.line(name))
    bottom.axhline(1.0, color=styles.color(baseline), linewidth=1.4)
    bottom.annotate(f"{baseline} = 1", xy=(0.005, 1.0), xycoords=("axes fraction", "data"), va="bottom",
                    fontsize=9, color=styles.color(baseline))  # fmt: skip
    _ratio_limits(bottom, ratios)
    _shade_oversubscribed(bottom, cpus, threads, False)
    bottom.set_ylabel(f"ratio to {baseline}")
    bottom.set_xlabel("threads")
    bottom.grid(True, which="both", alpha=0.3)
    _threads_axis(bottom, threads)
    fig.suptitle(_wrap(title, 100), fontsize=10)
    fig.legend(*top.get_legend_handles_labels(), frameon=False, loc="outside right center")
    return fig


def builds_chart(title: str, gil: dict[str, Points], free: dict[str, Points], styles: Styles) -> Any:
    """The same family on a GIL and a free-threaded interpreter: ops/s vs threads (solid: GIL, dashed:
    free-threaded), and below, the free-threaded ÷ GIL ratio per line."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(_WIDTH, 6.4), sharex=True, height_ratios=(2.2, 1),
                                      layout="constrained")  # fmt: skip
    threads = sorted({int(p[0]) for d in (gil, free) for pts in d.values() for p in pts})
    ratios: list[float] = []
    for name in dict.fromkeys([*gil, *free]):
        style = styles.line(name)
        if name in gil:
            pts = gil[name]
            top.plot([p[0] for p in pts], [p[1] for p in pts], label=f"{name}, GIL", **{**style, "linestyle": "-"})
        if name in free:
            pts = free[name]
            top.plot([p[0] for p in pts], [p[1] for p in pts], label=f"{name}, free-threaded",
                     **{**style, "linestyle": "--", "markerfacecolor": "none"})  # fmt: skip
        if name in gil and name in free:
            g = dict(gil[name])
            points = [(t, v / g[t]) for t, v in free[name] if g.get(t)]
            ratios += [r for _, r in points]
            bottom.plot([r[0] for r in points], [r[1] for r in points], **style)
    top.set_ylim(bottom=0)
    _rate_ticks(top.yaxis)
    top.set_ylabel("ops/s (all threads)")
    top.grid(True, which="both", alpha=0.3)
    bottom.axhline(1.0, color="0.4", linewidth=1.0)
    bottom.annotate("same as GIL = 1", xy=(0.005, 1.0), xycoords=("axes fraction", "data"), va="bottom", fontsize=9)
    _ratio_limits(bottom, ratios)
    bottom.set_ylabel("free-threaded ÷ GIL")
    bottom.set_xlabel("threads")
    bottom.grid(True, which="both", alpha=0.3)
    _threads_axis(bottom, threads)
    fig.suptitle(_wrap(title, 100), fontsize=10)
    fig.legend(*top.get_legend_handles_labels(), frameon=False, loc="outside right center")
    return fig
