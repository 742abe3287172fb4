"""``vmalab maps [PID|--self] -o FILE``: record a ``/proc/PID/maps`` snapshot.

The file is the kernel's text under a ``# vmalab-maps v1`` header (see
``bench.inputs.maps``); gzip-compressed when FILE ends in ``.gz``.  ``--show`` loads
a snapshot back and prints a summary (what ``bench.suites.trace`` replays).
"""

from __future__ import annotations

import argparse
from collections import Counter

from rich.console import Console

from bench.inputs.maps import load_snapshot, record_snapshot


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("maps", help="record a /proc/PID/maps snapshot (or --show one)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("pid", nargs="?", type=int, help="process id to snapshot")
    who.add_argument("--self", action="store_true", help="snapshot this vmalab process")
    who.add_argument("--show", metavar="FILE", help="load a snapshot file and summarise it")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the snapshot (.gz compresses)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.show:
        snap = load_snapshot(args.show)
    else:
        if not args.output:
            raise ValueError("-o FILE is required to record a snapshot")
        if args.pid is None and not args.self:
            raise ValueError("give a PID or --self")
        snap = record_snapshot("self" if args.self else args.pid, args.output)
    kinds = Counter("anon" if e.anonymous else "file" for e in snap.entries)
    size = sum(e.end - e.start for e in snap.entries)
    where = args.show or args.output
    console.print(
        f"{where}: {len(snap)} VMAs ({kinds['file']} file, {kinds['anon']} anonymous), "
        f"{size / 2**20:.1f} MiB mapped, {len(snap.skipped)} above TASK_SIZE skipped; "
        f"pid {snap.meta.get('pid', '?')}: {snap.meta.get('command', '?')}",
        highlight=False,
    )
    return 0
