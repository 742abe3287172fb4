"""``vmalab trace``: record a real program's address-space trace, replay or show one.

``vmalab trace record -o FILE [--no-perf] -- CMD ...`` runs CMD under strace
(+ perf page faults where permitted; see ``bench.inputs.tracerec``) and writes a
``vmalab-trace v1`` file.  ``vmalab trace replay FILE --backend B`` replays it
through ``structures.mm.address_space.AddressSpace`` and prints per-address-space results;
``--check`` also replays on the ``list`` oracle and compares final states.
``vmalab trace show FILE`` prints the header and op counts.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from bench.inputs.tracerec import record
from bench.inputs.traces import load_trace, replay


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trace", help="record, replay or show a real program's mmap/fault trace")
    tsub = p.add_subparsers(dest="trace_command", metavar="ACTION")
    tsub.required = True
    r = tsub.add_parser("record", help="run CMD under strace (+perf) and write a trace")
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file (.gz compresses)")
    r.add_argument("--no-perf", action="store_true", help="do not record page faults with perf")
    r.add_argument("--keep-raw", metavar="DIR", help="also keep strace's and perf script's raw text in DIR")
    r.add_argument("--label", help="command text stored in the header (default: CMD)")
    r.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the program to run")
    r.set_defaults(func=run_record)
    y = tsub.add_parser("replay", help="replay a trace through an AddressSpace")
    y.add_argument("file", metavar="FILE")
    y.add_argument("--backend", "-b", default=None, help="index backend (default: the configured one)")
    y.add_argument("--policy", default="range", help="AddressSpace lock policy (full, range, vma)")
    y.add_argument("--check", action="store_true", help="compare the final state with the list backend's")
    y.set_defaults(func=run_replay)
    s = tsub.add_parser("show", help="print a trace's header and op counts")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=run_show)


def run_record(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    summary = record(cmd, args.output, use_perf=False if args.no_perf else None, command_label=args.label,
                     keep_raw=args.keep_raw)
    console = Console(stderr=True)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    console.print(f"wrote {summary.path}: {counts}", highlight=False)
    console.print(f"faults: {summary.faults}", highlight=False)
    if summary.returncode:
        console.print(f"[yellow]note:[/] the program exited with status {summary.returncode}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    trace = load_trace(args.file)
    console = Console()
    for key, value in trace.meta.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(trace.counts().items()))
    console.print(f"[bold]events[/]: {len(trace)} ({counts}); threads: {len(trace.pids())}", highlight=False)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from structures import resolve_backend_name

    backend, _ = resolve_backend_name(args.backend)
    trace = load_trace(args.file)
    t0 = time.perf_counter()
    result = replay(trace, backend, policy=args.policy)
    elapsed = time.perf_counter() - t0
    console = Console()
    table = Table(title=f"{args.file} on {backend} ({elapsed * 1e3:.0f} ms)", title_justify="left")
    table.add_column("address space")
    table.add_column("final VMAs", justify="right")
    for label, mm in result.spaces.items():
        table.add_row(label, str(len(mm.index)))
    console.print(table)
    ops = ", ".join(f"{k} {v}" for k, v in sorted(result.ops.items()))
    console.print(f"ops: {ops}", highlight=False)
    console.print(f"faults the model could not explain: {result.unexplained}; "
                  f"events of unknown threads: {result.unknown_pid}", highlight=False)
    if result.errors:
        console.print(f"model errors: {dict(result.errors)}", highlight=False)
    status = 0
    if args.check:
        ref = replay(trace, "list", policy=args.policy).states()
        same = ref == result.states()
        console.print("final state vs list: " + ("[green]identical[/]" if same else "[red]DIFFERENT[/]"))
        status = 0 if same else 1
    for mm in result.spaces.values():
        mm.index.check()
    return status
