"""``vmalab plot FILE [FILE ...] -o DIR``: PNG charts of result files, named for what they show.

One PNG per chart of ``bench.report.plot``: ``lookup-time.png`` (time per op
vs n, a panel per op/stream), ``lookup-probe-depth.png``,
``insert-memory-per-vma.png``, ``trace-time.png`` (bars when n does not vary),
``threaded-mm-disjoint-maple.png`` and ``io-rw-64k.png`` (ops/s vs threads with
a ratio panel); with several files each name starts with its file's label,
and files of a GIL and a free-threaded interpreter add
``<family>-gil-vs-free-threaded.png``.  Needs matplotlib (the optional extra
``plot``); without it, or for a file with nothing to plot, a one-line message
and exit status 2.

API: ``register(subparsers)``, ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plot",
        help="PNG charts (time, probe depth, memory vs n; ops/s vs threads) of result files",
        description="Draw the charts of vmalab/pyperf result files into a directory, one PNG per chart.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("plots"),
        metavar="DIR",
        help="directory for the PNG files (default plots/)",
    )
    p.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from bench.report.plot import PlotError, charts, pyplot_available, render_png

    for f in args.files:
        if not f.exists():
            raise FileNotFoundError(f"no such result file: {f}")
    if not pyplot_available():
        raise PlotError("vmalab plot needs matplotlib, the optional extra 'plot': pip install 'vmalab[plot]'")
    found = charts(args.files)
    if not found:
        raise PlotError(
            f"{', '.join(map(str, args.files))}: nothing to plot: no benchmark carries the suite/backend/n or "
            "thread-count metadata that vmalab bench records"
        )
    args.output.mkdir(parents=True, exist_ok=True)
    for chart in found:
        print(render_png(chart, args.output / f"{chart.name}.png"))
    return 0
