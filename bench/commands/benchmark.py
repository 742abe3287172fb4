"""``vmalab bench``: run pyperf suites over backends and sizes into one pyperf JSON file.

Invariant
---------
The output file is, at every moment, a valid pyperf ``BenchmarkSuite``
holding every benchmark finished so far: each case runs in its own
``python -m bench.runner`` process tree (a normal pyperf Runner script with
exactly one benchmark), and its result is merged into the suite, which is
written to a temporary file and atomically renamed over the output.  Ctrl-C
therefore loses at most the case in flight.  The rich progress bar (with an
ETA over the whole run) is drawn here, in the driver, never in pyperf workers.

Layout
------
::

    args -> suites x cases(SuiteOptions)          (cheap, deterministic)
         -> bench.runner.run_plan: for each case
                            python -m bench.runner --case NAME ... --result tmp
                            merge tmp -> suite -> FILE.tmp -> rename FILE
         -> compare(FILE) -> rich table

Modes: ``--fast`` = each suite's reduced case set and pyperf ``-p 2 -n 3``
with the loop calibration done in the runner's parent process (pyperf's own
``--fast`` needs 3 processes + 1 calibration process per case; with about 80
cases that doubles the run on 2 cores); ``--rigorous`` = pyperf's
``--rigorous``; neither = pyperf's defaults (20 processes: long).
``--processes/--values/--loops/--min-time/--debug-single-value`` override.
``--extra KEY=VALUE`` sets a suite option (``SuiteOptions.extra``), typed and
checked against the ``EXTRA`` declarations of the selected suites
(``--list-extra`` prints them): a key no selected suite knows is an error.

API
---
``register(subparsers)``, ``run(args) -> int``, ``default_backends()``,
``DEFAULT_SUITES``, ``DEFAULT_SIZES``.
"""

from __future__ import annotations

import argparse
import fnmatch
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.inputs.workloads import parse_size
from bench.report.render import print_comparison
from bench.runner import SuiteWriter, run_plan
from bench.suites import Case, SuiteOptions, available_suites, load_suite, parse_extra
from structures.registry import split_specs

__all__ = ["DEFAULT_SIZES", "DEFAULT_SUITES", "default_backends", "register", "run"]

#: Suites run when none is named (those that exist).
DEFAULT_SUITES = ("lookup", "insert", "overlap", "gap", "trace")
#: Sizes when none is named: two decades, enough for a slope, fast enough for --fast.
DEFAULT_SIZES = (1000, 10000)
#: pyperf options behind --fast (see the module docstring).
FAST_PYPERF = ("--processes", "2", "--values", "3")


def _split(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out.extend(split_specs(v))  # commas inside maple[leaf_slots=8,internal_slots=4] stay
    return list(dict.fromkeys(out))


def default_backends(console: Console | None = None) -> list[str]:
    """Every registered backend that builds, plus ``vmacache+rbtree`` when both parts exist."""
    from structures import available_backends, available_frontends, make_index

    names = []
    for name in available_backends():
        try:
            make_index(name)
        except Exception as exc:  # a backend that does not import is skipped, loudly
            if console is not None:
                console.print(f"[yellow]skipping backend {name!r}: {exc}[/]")
            continue
        names.append(name)
    if "rbtree" in names and "vmacache" in available_frontends():
        names.append("vmacache+rbtree")
    return names


def _check_backends(names: list[str]) -> None:
    from structures import make_index

    for name in names:
        make_index(name)  # raises UnknownBackendError (a ValueError) listing the known ones


def _pyperf_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = ["--quiet"]
    if args.debug_single_value:
        return [*out, "--debug-single-value"]
    if args.rigorous:
        out.append("--rigorous")
    elif args.fast and args.processes is None and args.values is None:
        out.extend(FAST_PYPERF)
        if args.loops is None:
            out.append("--calibrate-in-parent")
    if args.processes is not None:
        out += ["--processes", str(args.processes)]
    if args.values is not None:
        out += ["--values", str(args.values)]
    if args.loops is not None:
        out += ["--loops", str(args.loops)]
    if args.min_time is not None:
        out += ["--min-time", str(args.min_time)]
    return out


def _default_output() -> Path:
    return Path("results") / time.strftime("bench-%Y%m%d-%H%M%S.json")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="run pyperf suites over backends and sizes; write one pyperf JSON file",
        description="Run the benchmark suites over the selected backends and sizes, write one pyperf JSON "
        "suite (python -m pyperf show/compare_to read it) and print the comparison table.",
    )
    p.add_argument(
        "--suite",
        action="append",
        metavar="NAME[,NAME]",
        help=f"suite(s) to run (repeatable; default: {', '.join(DEFAULT_SUITES)} where present)",
    )
    p.add_argument(
        "--backend",
        action="append",
        metavar="NAME[,NAME]",
        help="backend spec(s), e.g. maple or vmacache+rbtree (default: every registered one)",
    )
    p.add_argument(
        "--size", action="append", metavar="N[,N]", help="layout sizes in VMAs, e.g. 1k,10k,65530 (default: 1000,10000)"
    )
    p.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    p.add_argument(
        "--threads",
        default="1,2,4,8,16",
        help="thread counts of the io/threaded suites (default 1,2,4,8,16; --fast: <= 4)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="reduced case set, 2 processes x 3 values")
    mode.add_argument("--rigorous", action="store_true", help="pyperf --rigorous")
    p.add_argument("-p", "--processes", type=int, help="pyperf worker processes per case")
    p.add_argument("-n", "--values", type=int, help="pyperf values per process")
    p.add_argument("-l", "--loops", type=int, help="pyperf loops per value (skips calibration)")
    p.add_argument("--min-time", type=float, help="pyperf minimum seconds per value")
    p.add_argument("--debug-single-value", action="store_true", help="pyperf: one process, one value (smoke test)")
    p.add_argument("-o", "--output", type=Path, help="output JSON (default results/bench-<timestamp>.json)")
    p.add_argument("--baseline", help="baseline column of the final table (default list)")
    p.add_argument("--no-table", action="store_true", help="do not print the comparison table at the end")
    p.add_argument("--list", action="store_true", help="list the cases that would run and exit")
    p.add_argument(
        "--extra", action="append", metavar="KEY=VALUE", default=[],
        help="a suite option (repeatable), e.g. block=262144 (io), page_work=64 or policies=full,vma "
        "(threaded); lists are comma-separated; `vmalab bench --list-extra` shows them all",
    )  # fmt: skip
    p.add_argument(
        "--list-extra", action="store_true",
        help="list the --extra options of the --suite suites (all suites when none is given) and exit",
    )  # fmt: skip
    p.add_argument(
        "--filter", action="append", metavar="GLOB",
        help="run only the cases whose name matches this shell-style pattern (repeatable), "
        "e.g. 'threaded/index/*'",
    )  # fmt: skip
    p.set_defaults(func=run)  # fmt: skip


def _select(args: argparse.Namespace, console: Console) -> tuple[list[str], SuiteOptions]:
    known = available_suites()
    suites = _split(args.suite) or [s for s in DEFAULT_SUITES if s in known]
    for s in suites:
        if s not in known:
            raise ValueError(f"unknown suite {s!r}; known suites: {', '.join(known)}")
    backends = _split(args.backend)
    if backends:
        _check_backends(backends)
    else:
        backends = default_backends(console)
    sizes = tuple(dict.fromkeys(parse_size(s) for s in _split(args.size))) or DEFAULT_SIZES
    try:
        threads = tuple(dict.fromkeys(int(t) for t in _split([args.threads])))
    except ValueError:
        raise ValueError(f"--threads {args.threads!r}: give positive integers, e.g. 1,2,4") from None
    if not threads or min(threads) < 1:
        raise ValueError(f"--threads {args.threads!r}: thread counts must be positive integers")
    if args.baseline is not None and args.baseline not in backends:
        raise ValueError(f"--baseline {args.baseline!r} is not among the backends: {', '.join(backends)}")
    extra = parse_extra(args.extra or [], suites)
    opts = SuiteOptions(
        backends=tuple(backends), sizes=sizes, fast=bool(args.fast), seed=args.seed, threads=threads, extra=extra
    )
    return suites, opts


def run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if args.list_extra:
        known = available_suites()
        for s in _split(args.suite) or list(known):
            for key, (kind, help_) in getattr(load_suite(s), "EXTRA", {}).items():
                print(f"{s:10} {key + '=' + kind:18} {help_}")
        return 0
    suites, opts = _select(args, console)
    plan: list[tuple[str, Case]] = [(s, c) for s in suites for c in load_suite(s).cases(opts)]
    if args.filter:
        plan = [(s, c) for s, c in plan if any(fnmatch.fnmatchcase(c.name, g) for g in args.filter)]
    if args.list:
        for _suite, case in plan:
            print(case.name)
        return 0
    if not plan:
        raise ValueError("nothing to run: the selected suites have no cases for these options")
    names = [c.name for _, c in plan]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two cases are named {twice!r}: the options select the same case twice")
    out = args.output or _default_output()
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = SuiteWriter(out)
    pyperf_args = _pyperf_args(args)
    console.print(
        f"vmalab bench: {len(plan)} benchmarks, suites {', '.join(suites)}; backends {', '.join(opts.backends)}; "
        f"sizes {', '.join(map(str, opts.sizes))} -> {out}",
        highlight=False,
    )
    started = time.monotonic()
    columns = (
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=len(plan))

        def on_case(i: int, case: Case) -> None:
            progress.update(task, description=f"[cyan]{case.name}", completed=i)

        def on_failure(case: Case, tail: str) -> None:
            progress.console.print(f"[red]failed[/] {case.name}: {tail}", highlight=False)

        try:
            failures = run_plan(plan, opts, writer, pyperf_args, on_case=on_case, on_failure=on_failure)
        except KeyboardInterrupt:
            progress.stop()
            kept = f"{writer.count} finished benchmarks kept in {out}" if writer.count else "nothing finished"
            console.print(f"[yellow]interrupted: {kept}[/]")
            return 130
        progress.update(task, description="done", completed=len(plan))
    elapsed = time.monotonic() - started
    console.print(f"{writer.count} benchmarks in {elapsed:.0f} s -> {out}", highlight=False)
    if failures:
        console.print(f"[red]{len(failures)} failed:[/] {', '.join(failures)}", highlight=False)
    if writer.count and not args.no_table:
        print_comparison([out], baseline=args.baseline)
    return 1 if failures else 0
