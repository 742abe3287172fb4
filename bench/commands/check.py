"""``vmalab check``: randomized differential runs of backends against ``list``."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.checks.differential import differential_run
from structures import available_backends, make_index


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check",
        help="differential run of backends against the list oracle, with check() along the way",
        description="Run seeded random operations on each backend and on the list oracle side by side; "
        "exit 1 on any divergence or failed check().",
    )
    p.add_argument("--backend", action="append", metavar="NAME", help="backend spec (repeatable; default: all)")
    p.add_argument("--ops", type=int, default=2000, help="operations per backend (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--check-every", type=int, default=100, help="run check() every N operations (default 100)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    specs = args.backend or [b for b in available_backends() if b != "list"] or ["list"]
    for spec in specs:
        make_index(spec)  # unknown names fail here, before any work, with the list of known ones
    if args.ops < 0:
        raise ValueError(f"--ops={args.ops} must not be negative")
    table = Table(title=f"vmalab check: {args.ops} ops, seed {args.seed}", title_justify="left")
    for col in ("backend", "result", "ops", "inserts", "removes", "queries", "checks", "final VMAs", "seconds"):
        table.add_column(col, justify="right" if col not in ("backend", "result") else "left")
    failed = []
    for spec in specs:
        with console.status(f"checking {spec} ..."):
            res = differential_run(spec, ops=args.ops, seed=args.seed, check_every=args.check_every)
        verdict = "[green]ok[/]" if res.ok else f"[bold red]{len(res.divergences)} divergence(s)[/]"
        table.add_row(
            spec, verdict, str(res.ops), str(res.inserts), str(res.removes), str(res.queries),
            str(res.checks), str(res.final_vmas), f"{res.seconds:.2f}",
        )
        if not res.ok:
            failed.append(res)
    console.print(table)
    for res in failed:
        console.print(f"[bold red]{res.spec}[/]:", highlight=False)
        for line in res.divergences:
            console.print(f"  {line}", highlight=False)
    return 1 if failed else 0
