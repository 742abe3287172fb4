"""``vmalab plot FILE -o DIR``: PNG charts of a result file (needs the optional extra ``plot``).

Writes time per operation vs n per backend on log axes (one PNG per suite:
lookup, insert, overlap, gap), ``probe()`` depth vs n and memory per VMA vs n;
see ``bench.report.plot``.  Without matplotlib: a one-line message and exit status 2.

API: ``register(subparsers)``, ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plot",
        help="PNG charts (time, probe depth, memory vs n) of a result file",
        description="Draw size-scaling charts of a vmalab/pyperf result file.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
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
    from bench.report.plot import PlotError, plot_file

    console = Console(stderr=True)
    if not args.file.exists():
        raise FileNotFoundError(f"no such result file: {args.file}")
    try:
        paths = plot_file(args.file, args.output)
    except PlotError as exc:
        console.print(f"[bold red]vmalab plot:[/] {exc}", highlight=False)
        return 2
    for p in paths:
        print(p)
    return 0
