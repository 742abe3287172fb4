"""``vmalab report FILE [FILE ...] -o report.html``: one self-contained HTML report of result files.

Per file: its run metadata, then per suite the comparison table, its plots
(inline SVG) and the verdict; benchmarks found in several files side by side;
GIL vs free-threaded charts when files of both builds are given.  No network
and no JavaScript are needed to read it (``bench.report.html``).  Without
matplotlib the report has every table and a note where the plots would be.

API: ``register(subparsers)``, ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.report.html import write_report

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="one self-contained HTML report (tables, plots, verdicts, run metadata) of result files",
        description="Write one HTML file (inline CSS and SVG, no network, no JavaScript) reporting result files.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("-o", "--output", type=Path, default=Path("report.html"), metavar="HTML",
                   help="the report to write (default report.html)")  # fmt: skip
    p.add_argument("--title", help="the report's title")
    p.add_argument("--no-plots", action="store_true", help="tables only (faster, smaller)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output.is_dir():
        raise ValueError(f"-o {args.output}: is a directory; give a file name, e.g. {args.output / 'report.html'}")
    out = write_report(args.files, args.output, title=args.title, plots=not args.no_plots)
    size = out.stat().st_size
    Console(stderr=True, highlight=False).print(f"report: {out} ({size / 1024:,.0f} KiB)")
    return 0
