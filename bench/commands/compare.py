"""``vmalab compare FILE [FILE ...]``: the comparison tables of pyperf result files.

One table per suite that fits the terminal (``bench.report.terminal``): rows
the cases, the baseline's time (``list`` unless ``--baseline``), each other
backend's speed-up over it (``~`` not significant, ``?`` noisy), a geomean
row and a one-line verdict; ``--times`` shows every backend's time.
Benchmarks of the concurrency suites (``io``, ``threaded``) get
thread-scaling tables instead, shaped like the seed's fio table: rows thread
counts, columns the locks or policies, cells ops/s and the ratio to rwsem /
``full`` (``bench.report.scaling``).  ``--markdown`` prints the tables as
GitHub Markdown, with every cell's ``mean ± stdev`` (for READMEs and mails).

Several files of *different* benchmarks are shown side by side.  Files of the
*same* benchmarks are runs: ``--runs`` compares them before/after (columns the
files, the first the baseline; benchmarks in only one file left out), and
``--pool`` treats them as repeat rounds, each benchmark's runs from every file
pooled into one cell (refused, naming the benchmark and pyperf's reason, when
the rounds come from different machines or interpreters); with neither that is
an error saying so.  Files from different machines or
interpreter builds are flagged above the tables.

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
        help="compare pyperf result files: backends side by side, runs before/after (--runs), rounds pooled (--pool)",
        description="Render the comparison tables of one or more vmalab/pyperf JSON result files.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--baseline", help="baseline column: a backend, or a file label with --runs")
    same = p.add_mutually_exclusive_group()
    same.add_argument("--runs", action="store_true",
                      help="the files are runs of the same benchmarks: compare them before/after (first = baseline)")
    same.add_argument("--pool", action="store_true",
                      help="the files are repeat rounds of the same benchmarks: pool each benchmark's runs in one cell")
    p.add_argument("--times", action="store_true", help="show every column's time, not only the baseline's")
    p.add_argument("--markdown", action="store_true", help="print GitHub Markdown instead of terminal tables")
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
    print_comparison(
        args.files, baseline=args.baseline, pivot=pivot, markdown=args.markdown, title=args.title,
        times=args.times, runs=args.runs, pool=args.pool,
    )  # fmt: skip
    return 0
