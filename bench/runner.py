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

The driver side lives here too: ``run_plan`` runs a list of cases, each in
its own such process tree, merging every result into one pyperf suite that a
``SuiteWriter`` re-writes (temporary file + atomic rename) after each case, so
the output file is valid at every moment and Ctrl-C loses at most the case in
flight.

API
---
``runner_command(suite, case, opts, result, pyperf_args) -> list[str]`` (the
driver's command line for one case), ``run_plan(plan, opts, writer,
pyperf_args, on_case=None, on_failure=None) -> failed case names``,
``SuiteWriter(path, append=False, metadata=None)`` (a benchmark's runs from
several passes get one value per ``measure()`` number: ``merged_measurements(bench)``,
the keys listed under ``MEASURED_KEY``), ``provenance(argv)`` (what
``vmalab bench`` records in every benchmark it writes: ``vmalab_commit`` and
``vmalab_worktree`` (``clean`` or ``modified``: uncommitted changes to tracked
files outside ``results/``) when run from a git checkout, ``vmalab_command``,
``vmalab_packages``), ``find_case(suite, name, opts)``, ``main(argv=None)``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.suites import Case, SuiteOptions, build_metadata, load_suite
from structures.registry import split_specs

__all__ = ["SuiteWriter", "find_case", "main", "options_args", "provenance", "run_plan", "runner_command"]

_MODULE = "bench.runner"
#: Distributions whose versions a result file records (those installed).
_PACKAGES = ("vmalab", "pyperf", "rich", "sortedcontainers", "bintrees", "matplotlib", "cereggii")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        with subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) as proc:  # fmt: skip
            out, _ = proc.communicate(timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() if proc.returncode == 0 else None


def _checkout() -> Path | None:
    """The git checkout this code runs from, or ``None`` (an installed copy inside another repository
    is not it: the checkout's top must hold this very file)."""
    here = Path(__file__).resolve()
    top = _git("rev-parse", "--show-toplevel", cwd=here.parent)
    if not top:
        return None
    mine = Path(top) / "bench" / "runner.py"
    try:
        return Path(top) if mine.exists() and mine.samefile(here) else None
    except OSError:
        return None


def provenance(argv: Sequence[str]) -> dict[str, str]:
    """Metadata naming the code, the command and the packages a run used (strings, one line each)."""
    from importlib import metadata

    out = {"vmalab_command": shlex.join(["vmalab", *argv])}
    top = _checkout()
    if top is not None:
        commit = _git("rev-parse", "HEAD", cwd=top)
        if commit:
            out["vmalab_commit"] = commit
            # results/ holds what runs write (a reference run rewrites its files as it goes): not code
            changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results", cwd=top)
            out["vmalab_worktree"] = "clean" if changed == "" else "modified"
    versions = []
    for name in _PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    if versions:
        out["vmalab_packages"] = ", ".join(versions)
    return out


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


#: the metadata key listing the keys a case's ``measure()`` added (``main``), comma-separated
MEASURED_KEY = "vmalab_measured"


def merged_measurements(bench: Any) -> dict[str, Any]:
    """The ``measure()`` numbers of a benchmark whose runs came from several processes
    trees (``--passes``, ``--append``), one value each: a number's mean over the runs
    that carry it (the value itself when they agree; each pass's runs carry its own
    value, the same number of runs per pass), a string the first run's.  pyperf shows a
    benchmark only the metadata common to all its runs, so without this a number that
    differs from pass to pass (lock waits, phase times, tracemalloc bytes) would vanish
    from the benchmark and stay only in its runs.  The keys are those that any run's
    ``MEASURED_KEY`` lists (a key listed in the runs of one pass only is merged the
    same way)."""
    runs = [run.get_metadata() for run in bench.get_runs()]
    keys: dict[str, None] = {}
    for md in runs:
        for key in str(md.get(MEASURED_KEY, "")).split(","):
            if key:
                keys[key] = None
    out: dict[str, Any] = {}
    if keys:
        out[MEASURED_KEY] = ",".join(keys)
    for key in keys:
        values = [md[key] for md in runs if key in md]
        if not values:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            if all(v == values[0] for v in values):
                out[key] = values[0]
            else:
                out[key] = float(f"{math.fsum(values) / len(values):.6g}")
        else:
            out[key] = values[0]
    return out


class SuiteWriter:
    """Merges one-benchmark results into the output suite, atomically after each.

    ``append``: start from the suite already in ``path`` (a benchmark it holds
    gets the new runs, as pyperf's ``--append`` does); otherwise the file is
    replaced when the first result arrives.  ``metadata`` is added to every
    benchmark written (``vmalab bench`` records its command line and commit).
    """

    def __init__(self, path: Path, *, append: bool = False, metadata: dict[str, Any] | None = None) -> None:
        import pyperf

        self.path = path
        self.suite: Any = pyperf.BenchmarkSuite.load(str(path)) if append and path.exists() else None
        self.metadata = dict(metadata or {})
        self.count = 0

    def add(self, result: Path) -> None:
        """Merge the benchmarks of ``result``; ``ValueError`` (file unchanged) when a benchmark's
        runs cannot join the same-named one already in an appended file (pyperf's metadata check)."""
        import pyperf

        new = pyperf.BenchmarkSuite.load(str(result))
        for bench in new.get_benchmarks():
            if self.metadata:
                bench.update_metadata(self.metadata)
            if self.suite is None:
                self.suite = pyperf.BenchmarkSuite([bench])
            elif bench.get_name() in self.suite.get_benchmark_names():
                joined = self.suite.get_benchmark(bench.get_name())
                try:
                    joined.add_runs(bench)
                except ValueError as exc:
                    raise ValueError(f"cannot append to {self.path}: {exc}") from None
                joined.update_metadata(merged_measurements(joined))
            else:
                self.suite.add_benchmark(bench)
            self.count += 1
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.suite.dump(str(tmp), replace=True)
        os.replace(tmp, self.path)


def run_plan(
    plan: Sequence[tuple[str, Case]],
    opts: SuiteOptions,
    writer: SuiteWriter,
    pyperf_args: Sequence[str] = (),
    *,
    on_case: Callable[[int, Case], None] | None = None,
    on_failure: Callable[[Case, str], None] | None = None,
) -> list[str]:
    """Run every ``(suite, case)`` in its own process tree into ``writer``; the failed cases' names.

    ``on_case(i, case)`` is called before case ``i`` and ``on_case(i + 1, ...)``
    after it finishes (for a progress bar); ``on_failure(case, tail)`` with the
    last lines of a failed case's output.  Ctrl-C propagates: what ``writer``
    holds at that moment is a valid file.
    """
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vmalab-bench-") as tmpdir:
        for i, (suite, case) in enumerate(plan):
            if on_case is not None:
                on_case(i, case)
            result = Path(tmpdir) / f"case{i}.json"
            cmd = runner_command(suite, case.name, opts, str(result), pyperf_args)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0 or not result.exists():
                failures.append(case.name)
                if on_failure is not None:
                    on_failure(case, " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:]))
                continue
            try:
                writer.add(result)
            except ValueError as exc:  # an appended file's benchmark of another machine/interpreter
                failures.append(case.name)
                if on_failure is not None:
                    on_failure(case, str(exc))
    return failures


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
    kwargs: dict[str, Any] = {"metadata": {**build_metadata(), **case.metadata}}
    if case.inner_loops:
        kwargs["inner_loops"] = case.inner_loops
    bench = runner.bench_time_func(case.name, case.time_func, **kwargs)
    if bench is None or args.worker or not args.result:
        return 0
    measure = getattr(case, "measure", None)
    if callable(measure):
        extra = {k: v for k, v in measure().items() if isinstance(v, (int, float, str)) and v != ""}
        if extra:
            extra[MEASURED_KEY] = ",".join(extra)  # which keys merged_measurements joins across passes
        bench.update_metadata(extra)
    pyperf.BenchmarkSuite([bench]).dump(args.result, replace=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
