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
         -> bench.runner.run_plan: for each case (x --passes, pass after pass)
                            python -m bench.runner --case NAME ... --result tmp
                            merge tmp -> suite -> FILE.tmp -> rename FILE
         -> compare(FILE) -> rich tables that fit the terminal
         -> FILE.html (bench.report.html), and both paths printed last

Modes: ``--fast`` = each suite's reduced case set and pyperf ``-p 2 -n 3``
with the loop calibration done in the runner's parent process (pyperf's own
``--fast`` needs 3 processes + 1 calibration process per case; with about 80
cases that doubles the run on 2 cores); ``--rigorous`` = pyperf's
``--rigorous``; neither = pyperf's defaults (20 processes: long).
``--processes/--values/--loops/--min-time/--debug-single-value`` override.
``--passes K`` runs the whole case list K times in turn, each pass with those
pyperf counts, the runs of every pass added to the same benchmarks (each case
gets K x ``-p`` worker processes): a slow phase of a shared machine then hits
every case alike instead of the few that ran during it, which a ratio between
two cases measured minutes apart would otherwise carry.
``--extra KEY=VALUE`` sets a suite option (``SuiteOptions.extra``), typed and
checked against the ``EXTRA`` declarations of the selected suites
(``--list-extra`` prints them): a key no selected suite knows is an error.

Every benchmark written records where it came from (``bench.runner.provenance``:
``vmalab_commit`` in a git checkout, ``vmalab_command``, ``vmalab_packages``).
At the end the tables are printed, the HTML report (``FILE.html``, replacing an
older report of that name; ``--no-report`` skips it) is written next to the
JSON, and both paths are printed last.

Every option is checked before anything runs or is written (a mistake is one
line and exit status 2, see ``bench.cli``): pyperf counts must be positive,
sizes at most what the address space and this machine's memory can hold
(``size_limit()``), your ``trace_files`` readable traces or snapshots, and an
existing ``-o FILE`` is never replaced silently: ``--append`` adds the new
benchmarks (and new runs of the ones already there, as pyperf's ``--append``
does), ``--overwrite`` replaces it.

API
---
``register(subparsers)``, ``run(args) -> int``, ``default_backends()``,
``size_limit()``, ``DEFAULT_SUITES``, ``DEFAULT_SIZES``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.inputs.workloads import parse_size
from bench.report.render import print_comparison
from bench.runner import SuiteWriter, provenance, run_plan
from bench.suites import Case, SuiteOptions, available_suites, load_suite, parse_extra
from structures.registry import split_specs

__all__ = ["DEFAULT_SIZES", "DEFAULT_SUITES", "default_backends", "register", "run", "size_limit"]

#: Suites run when none is named (those that exist).
DEFAULT_SUITES = ("lookup", "insert", "overlap", "gap", "trace")
#: Sizes when none is named: two decades, enough for a slope, fast enough for --fast.
DEFAULT_SIZES = (1000, 10000)
#: pyperf options behind --fast (see the module docstring).
FAST_PYPERF = ("--processes", "2", "--values", "3")
#: Memory one VMA can cost while a case runs, at worst (xarray on a sparse layout: ~3.5 KiB per VMA,
#: plus the layout's VMA objects and the address streams): what --size is checked against.
BYTES_PER_VMA = 4096


def _split(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out.extend(split_specs(v))  # commas inside maple[leaf_slots=8,internal_slots=4] stay
    return list(dict.fromkeys(out))


def default_backends(console: Console | None = None) -> list[str]:
    """Every registered backend that builds, plus ``vmacache+rbtree`` when both parts exist."""
    from structures import available_backends, available_frontends, make_index
    from structures.registry import BackendOptionError

    names = []
    for name in available_backends():
        try:
            make_index(name)
        except BackendOptionError:  # the user's [tool.vmalab.options.<name>] is wrong: say so, do not skip
            raise
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


def _available_memory() -> int | None:
    """Bytes of memory available to a new process (``MemAvailable``), or ``None`` when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def size_limit() -> tuple[int, str]:
    """The largest layout this machine can run, and why: ``(n, reason)``.

    Address space: a synthetic layout spends about 800 pages per VMA (the VMA
    and its share of the gaps, measured on a 10,000-VMA layout here), so
    ``TASK_SIZE`` holds about 40 million; half of that is the limit, leaving the
    random gaps room.  Memory: ``BYTES_PER_VMA`` per VMA of the available memory.
    """
    from bench.inputs.workloads import synthetic_layout
    from structures.vma import TASK_SIZE

    sample = synthetic_layout(10_000, 42)
    per_vma = (sample.mmap_high - sample.mmap_low) / sample.n
    by_space = int(TASK_SIZE / per_vma / 2)
    why = f"the {TASK_SIZE >> 40} TiB address space holds about {by_space:,} VMAs of the synthetic layout"
    memory = _available_memory()
    if memory is not None and memory // BYTES_PER_VMA < by_space:
        by_memory = memory // BYTES_PER_VMA
        return by_memory, (
            f"{memory / 2**30:.1f} GiB of available memory holds about {by_memory:,} VMAs "
            f"at up to {BYTES_PER_VMA // 1024} KiB each; {why}"
        )
    return by_space, why


def _check_sizes(sizes: Sequence[int]) -> None:
    if max(sizes) <= 100_000:  # far below either limit on any machine that runs Python: skip the work
        return
    limit, why = size_limit()
    for n in sizes:
        if n > limit:
            raise ValueError(f"--size {n:,}: too many VMAs for this machine, at most {limit:,} ({why})")


def _check_counts(args: argparse.Namespace) -> None:
    """pyperf's counts, checked here once instead of by every worker (garbled usage text per case)."""
    for flag, value in (("-p/--processes", args.processes), ("-n/--values", args.values), ("--passes", args.passes)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} {value}: must be a positive integer")
    if args.loops is not None and args.loops < 0:
        raise ValueError(f"-l/--loops {args.loops}: must be a positive integer (0: calibrate)")
    if args.min_time is not None and not args.min_time > 0:
        raise ValueError(f"--min-time {args.min_time}: must be a positive number of seconds")


def _check_inputs(opts: SuiteOptions) -> None:
    """Load the user's own trace/snapshot files once now: a bad one fails before any case runs."""
    files = opts.extra.get("trace_files") or ()
    if not files:
        return
    from bench.suites.trace import load_input

    for name in files:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"trace_files: no such file: {path}")
        load_input(path)


def _check_output(out: Path, args: argparse.Namespace) -> None:
    if out.is_dir():
        raise ValueError(f"-o {out}: is a directory; give a file name, e.g. {out / 'bench.json'}")
    if out.exists() and not (args.append or args.overwrite):
        raise ValueError(
            f"-o {out}: the file exists and holds earlier results; --append adds to it, "
            "--overwrite replaces it (or choose another name)"
        )
    if args.append and out.exists():
        from bench.report.compare import load_suites

        load_suites([out])  # must be a pyperf file to append to


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
    p.add_argument(
        "--passes", type=int, default=1, metavar="K",
        help="run every case K times in turn (pass after pass), adding the runs up: a noisy phase of the "
        "machine then touches every case alike (default 1)",
    )  # fmt: skip
    p.add_argument("-l", "--loops", type=int, help="pyperf loops per value (skips calibration)")
    p.add_argument("--min-time", type=float, help="pyperf minimum seconds per value")
    p.add_argument("--debug-single-value", action="store_true", help="pyperf: one process, one value (smoke test)")
    p.add_argument("-o", "--output", type=Path, help="output JSON (default results/bench-<timestamp>.json)")
    exists = p.add_mutually_exclusive_group()
    exists.add_argument("--append", action="store_true",
                        help="-o FILE exists: add these benchmarks to it (new runs of the ones it has, as pyperf)")
    exists.add_argument("--overwrite", action="store_true", help="-o FILE exists: replace it")
    p.add_argument("--baseline", help="baseline column of the final table (default list)")
    p.add_argument("--no-table", action="store_true", help="do not print the comparison table at the end")
    p.add_argument("--times", action="store_true", help="the final table shows every backend's time")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report next to the JSON")
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
    _check_sizes(sizes)
    _check_counts(args)
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
    _check_inputs(opts)
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
    _check_output(out, args)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = SuiteWriter(out, append=bool(args.append), metadata=provenance(getattr(args, "argv", [])))
    pyperf_args = _pyperf_args(args)
    passes = f" x {args.passes} passes" if args.passes > 1 else ""
    console.print(
        f"vmalab bench: {len(plan)} benchmarks{passes}, suites {', '.join(suites)}; "
        f"backends {', '.join(opts.backends)}; sizes {', '.join(map(str, opts.sizes))} -> {out}",
        highlight=False,
    )
    runs = plan * args.passes  # pass after pass: case i of pass 2 runs after every case of pass 1
    started = time.monotonic()
    columns = (
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=len(runs))

        def on_case(i: int, case: Case) -> None:
            progress.update(task, description=f"[cyan]{case.name}", completed=i)

        def on_failure(case: Case, tail: str) -> None:
            progress.console.print(f"[red]failed[/] {case.name}: {tail}", highlight=False)

        try:
            failures = run_plan(runs, opts, writer, pyperf_args, on_case=on_case, on_failure=on_failure)
        except KeyboardInterrupt:
            progress.stop()
            kept = f"{writer.count} finished benchmarks kept in {out}" if writer.count else "nothing finished"
            console.print(f"[yellow]interrupted: {kept}[/]")
            return 130
        progress.update(task, description="done", completed=len(runs))
    elapsed = time.monotonic() - started
    done = f"{len(plan)} benchmarks x {args.passes} passes" if args.passes > 1 else f"{writer.count} benchmarks"
    console.print(f"{done} in {elapsed:.0f} s -> {out}", highlight=False)
    if failures:
        failed = list(dict.fromkeys(failures))
        console.print(f"[red]{len(failed)} failed:[/] {', '.join(failed)}", highlight=False)
    if writer.count and not args.no_table:
        print_comparison([out], baseline=args.baseline, times=args.times)
    if writer.count:
        _finish(out, args)
    return 1 if failures else 0


def _finish(out: Path, args: argparse.Namespace) -> None:
    """Write the HTML report next to the results and print both paths, last, where they are seen."""
    lines = [f"results: {out}"]
    if not args.no_report:
        from bench.report.html import write_report

        report = write_report([out], out.with_suffix(".html"))
        lines.append(f"report:  {report}")
    Console(highlight=False, soft_wrap=True).print("\n".join(lines))
