"""``vmalab compare FILE [FILE ...]``: the comparison table of pyperf result files.

One file (or several with different benchmarks): rows are workloads
``(suite, op, stream, n)``, columns are backends, each cell is the mean ±
stdev per operation and the ratio to the baseline backend (``~`` when the
difference is not significant), the best cell of each row highlighted, and a
geometric-mean row per suite.  Several files with the same benchmarks: the
columns are the files (runs before/after), the baseline the first file.
Benchmarks of the concurrency suites (``io``, ``threaded``) get thread-scaling
tables instead, shaped like the seed's fio table: rows thread counts, columns
the locks or policies, cells ops/s and the ratio to rwsem / ``full``
(``bench.report.scaling``).
``--markdown`` prints the same table as Markdown (for READMEs).

API: ``register(subparsers)``, ``run(args) -> int`` (the engine is
``bench.report.render.print_comparison``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.report.compare import DEFAULT_PIVOT
from bench.report.render import print_comparison

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare pyperf result files: backends side by side, or runs before/after",
        description="Render the comparison table of one or more vmalab/pyperf JSON result files.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--baseline", help="baseline column: a backend, or a file label when comparing runs")
    p.add_argument("--markdown", action="store_true", help="print GitHub Markdown instead of a terminal table")
    p.add_argument(
        "--rows", default=",".join(DEFAULT_PIVOT.rows), help="metadata keys of the row (default suite,op,stream,n)"
    )
    p.add_argument("--column", default=DEFAULT_PIVOT.column, help="metadata key of the columns (default backend)")
    p.add_argument("--title", help="table title")
    p.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    rows = tuple(k.strip() for k in args.rows.split(",") if k.strip())
    if not rows:
        raise ValueError("--rows needs at least one metadata key")
    pivot = replace(DEFAULT_PIVOT, rows=rows, column=args.column)
    print_comparison(args.files, baseline=args.baseline, pivot=pivot, markdown=args.markdown, title=args.title)
    return 0
