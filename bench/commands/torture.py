"""``vmalab torture``: the command-line face of ``bench.checks.torture``.

Parses the options, runs the engine with a live rich table when stdout is a
terminal, prints the per-thread table and the lock's statistics, and exits 1
on any violation (see ``bench.checks.torture`` for what is checked).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.live import Live
from rich.table import Table

from bench.checks.torture import ThreadReport, TortureResult, run_torture
from structures.locks import LOCK_KINDS

__all__ = ["register", "run"]


def _table(reports: list[ThreadReport], lock: str, elapsed: float, violations: int) -> Table:
    t = Table(title=f"vmalab torture: {lock} lock, {elapsed:.1f}s, {violations} violation(s)", title_justify="left")
    for col in ("thread", "ops", "reads", "writes", "downgrades", "timeouts", "max wait ms", "mean wait us"):
        t.add_column(col, justify="right")
    for r in reports:
        mean = r.total_wait / max(1, r.ops + r.timeouts) * 1e6
        t.add_row(
            str(r.ident), str(r.ops), str(r.reads), str(r.writes), str(r.downgrades), str(r.timeouts),
            f"{r.max_wait * 1e3:.2f}", f"{mean:.1f}",
        )
    return t


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "torture",
        help="locktorture-style stress of a lock kind: detects overlap, starvation, phantom ranges",
        description="N threads take random ranges (shared or exclusive, some with timeouts, some downgraded) "
        "for T seconds; a shadow occupancy map flags any writer overlapping anyone. Exit 1 on any violation.",
    )
    p.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    p.add_argument("--seconds", type=float, default=5.0, help="duration (default 5)")
    p.add_argument("--read-ratio", type=float, default=0.5, help="fraction of shared acquisitions (default 0.5)")
    p.add_argument("--lock", choices=sorted(LOCK_KINDS), default="range", help="lock under test (default range)")
    p.add_argument("--cells", type=int, default=256, help="lock space in 4 KiB cells (default 256)")
    p.add_argument("--max-len", type=int, default=16, help="longest range in cells (default 16)")
    p.add_argument("--cell", type=int, default=4096, help="bytes per cell (default 4096; 2097152 makes range-list "
                   "ranges span its shards)")
    p.add_argument("--hold", type=int, default=0, help="page hashes done while holding (GIL released; default 0)")
    p.add_argument("--timeout-ratio", type=float, default=0.1, help="fraction of timed acquisitions (default 0.1)")
    p.add_argument("--downgrade-ratio", type=float, default=0.1, help="fraction of writes downgraded (default 0.1)")
    p.add_argument("--max-wait", type=float, default=None, help="fail if any wait exceeds this many seconds")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    kwargs = dict(
        cells=args.cells, max_len=args.max_len, cell=args.cell, hold=args.hold, timeout_ratio=args.timeout_ratio,
        downgrade_ratio=args.downgrade_ratio, max_wait=args.max_wait, seed=args.seed,
    )
    res: TortureResult
    if sys.stdout.isatty():
        with Live(_table([], args.lock, 0.0, 0), console=console, refresh_per_second=4) as view:

            def tick(reports: list[ThreadReport], elapsed: float, violations: int) -> None:
                view.update(_table(reports, args.lock, elapsed, violations))

            res = run_torture(args.threads, args.seconds, args.read_ratio, args.lock, **kwargs, on_tick=tick)
    else:
        res = run_torture(args.threads, args.seconds, args.read_ratio, args.lock, **kwargs)
    console.print(_table(res.threads, res.lock, res.seconds, len(res.violations)))
    st = res.lock_stats
    console.print(
        f"total {res.ops} ops ({res.ops / res.seconds:,.0f}/s); lock: {st.get('acquisitions', 0)} acquisitions, "
        f"{st.get('contended', 0)} contended, {st.get('timeouts', 0)} timeouts, "
        f"max wait {st.get('max_wait', 0.0) * 1e3:.2f} ms",
        highlight=False,
    )
    if res.violations:
        for v in res.violations[:20]:
            console.print(f"[bold red]VIOLATION[/] {v}", highlight=False)
        if len(res.violations) > 20:
            console.print(f"... and {len(res.violations) - 20} more", highlight=False)
        return 1
    console.print("[green]no violations[/]")
    return 0
