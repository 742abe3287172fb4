"""The pyperf driver script: runs exactly one benchmark case, by name, in its own process tree.

Invariant
---------
``python -m bench.runner --suite S --case NAME ... --result FILE`` is a normal
pyperf ``Runner`` script that registers exactly one benchmark: the case
``NAME`` of suite ``S``, rebuilt from the same ``SuiteOptions`` in the parent
and in every worker (``cases()`` is deterministic, so the worker finds the same
case).  One ``Runner`` per process, created once in ``main()``; our options
reach the workers through ``add_cmdline_args``; workers re-run the module with
``program_args=("-m", "bench.runner")``.  Only the parent writes ``--result``:
a one-benchmark pyperf suite, with the case's untimed ``measure()`` numbers
merged into the benchmark's metadata.  Nothing here draws to the terminal
(``vmalab bench`` owns the progress bar).

Layout
------
::

    vmalab bench (driver, rich progress)
      `- python -m bench.runner --case C --result tmp.json [pyperf options]
           |- python -m bench.runner --worker ... --calibrate-loops
           `- python -m bench.runner --worker ...      (x processes)

API
---
``runner_command(suite, case, opts, result, pyperf_args) -> list[str]`` (the
driver's command line for one case), ``find_case(suite, name, opts)``,
``main(argv=None)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from bench.suites import Case, SuiteOptions, load_suite
from structures.registry import split_specs

__all__ = ["find_case", "main", "options_args", "runner_command"]

_MODULE = "bench.runner"


def options_args(suite: str, case: str, opts: SuiteOptions) -> list[str]:
    """The command-line form of ``(suite, case, opts)``; parsed back by ``_add_options``."""
    out = [
        "--suite", suite,
        "--case", case,
        "--backends", ",".join(opts.backends),
        "--sizes", ",".join(str(n) for n in opts.sizes),
        "--seed", str(opts.seed),
        "--threads", ",".join(str(t) for t in opts.threads),
    ]  # fmt: skip
    if opts.fast:
        out.append("--fast-cases")
    if opts.extra:
        out += ["--extra", json.dumps(opts.extra, sort_keys=True)]
    return out


def runner_command(
    suite: str, case: str, opts: SuiteOptions, result: str, pyperf_args: Sequence[str] = ()
) -> list[str]:
    """The full command the driver runs for one case."""
    return [sys.executable, "-m", _MODULE, *options_args(suite, case, opts), "--result", result, *pyperf_args]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x for x in (p.strip() for p in text.split(",")) if x)


def _add_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("vmalab case selection")
    g.add_argument("--suite", required=True)
    g.add_argument("--case", required=True)
    g.add_argument("--backends", required=True)
    g.add_argument("--sizes", required=True)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--threads", default="1,2,4")
    g.add_argument("--fast-cases", action="store_true", help="the suite's reduced (--fast) case set")
    g.add_argument("--extra", default="", help="JSON object passed as SuiteOptions.extra")
    g.add_argument("--result", default=None, help="write the one-benchmark pyperf suite here (parent only)")
    g.add_argument(
        "--calibrate-in-parent",
        action="store_true",
        help="calibrate loops here (doubling until --min-time) instead of in an extra pyperf worker",
    )


def _suite_options(args: argparse.Namespace) -> SuiteOptions:
    return SuiteOptions(
        backends=tuple(split_specs(args.backends)),
        sizes=tuple(int(x) for x in _csv(args.sizes)),
        fast=bool(args.fast_cases),
        seed=int(args.seed),
        threads=tuple(int(x) for x in _csv(args.threads)),
        extra=json.loads(args.extra) if args.extra else {},
    )


def find_case(suite: str, name: str, opts: SuiteOptions) -> Case:
    """The case called ``name`` among ``load_suite(suite).cases(opts)``."""
    for case in load_suite(suite).cases(opts):
        if case.name == name:
            return case
    raise ValueError(f"suite {suite!r} has no case {name!r} for these options")


def _add_cmdline_args(cmd: list[str], args: argparse.Namespace) -> None:
    cmd += options_args(args.suite, args.case, _suite_options(args))


def _calibrate(case: Case, min_time: float) -> int:
    """Loops per value so that one value takes at least ``min_time`` s (pyperf's doubling rule).

    The first call runs the case's set-up, which ``measure()`` reuses later, so
    this costs the parent one set-up instead of costing one more worker process
    (about a quarter of a ``--fast`` case on 2 cores).
    """
    case.time_func(1)  # set-up + one warm-up loop
    loops = 1
    while loops < 2**32:
        if case.time_func(loops) >= min_time:
            return loops
        loops *= 2
    return loops


def main(argv: Sequence[str] | None = None) -> int:
    import pyperf

    if argv is not None:
        sys.argv[1:] = list(argv)
    runner = pyperf.Runner(add_cmdline_args=_add_cmdline_args, program_args=("-m", _MODULE))
    _add_options(runner.argparser)
    args = runner.parse_args()
    opts = _suite_options(args)
    case = find_case(args.suite, args.case, opts)
    if args.calibrate_in_parent and not args.worker and not args.loops:
        args.loops = _calibrate(case, float(args.min_time))
    kwargs: dict[str, Any] = {"metadata": dict(case.metadata)}
    if case.inner_loops:
        kwargs["inner_loops"] = case.inner_loops
    bench = runner.bench_time_func(case.name, case.time_func, **kwargs)
    if bench is None or args.worker or not args.result:
        return 0
    measure = getattr(case, "measure", None)
    if callable(measure):
        extra = {k: v for k, v in measure().items() if isinstance(v, (int, float, str)) and v != ""}
        bench.update_metadata(extra)
    pyperf.BenchmarkSuite([bench]).dump(args.result, replace=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
