"""Where and how a result file was made: machine, interpreter build, packages, commit, command line.

Invariant
---------
Everything here is read from the pyperf metadata the file already holds
(pyperf records the machine and the interpreter; ``vmalab bench`` adds
``vmalab_commit``, ``vmalab_command`` and ``vmalab_packages``; a free-threaded
run may add ``python_build``, ``free_threaded`` and ``gil_enabled``).  A key a
file lacks is shown as missing, never guessed, except the interpreter build,
which falls back to ``python_config_args`` (``--disable-gil``) and otherwise
reads as the default GIL build.  Nothing here prints.

Layout
------
::

    pyperf suite --run_info(label, suite)--> RunInfo(machine, python, build, packages, dates, ...)
                                                  .rows() -> [(field, value)]   (the report's table)
    [RunInfo]    --differences(infos)-------> ["different machines: a.json: vm (AMD EPYC, 2 CPUs); ..."]
    one suite    --mixed(label, suite)------> the same, between benchmarks of one file (--append)

API
---
``RunInfo``, ``run_info(label, suite)``, ``differences(infos)``, ``mixed(label, suite)``,
``python_build(metadata)``, ``is_free_threaded(metadata)``, ``build_kind(metadata)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyperf

__all__ = ["RunInfo", "build_kind", "differences", "is_free_threaded", "mixed", "python_build", "run_info"]


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() not in ("", "0", "false", "no", "off", "none")


def is_free_threaded(md: Mapping[str, Any]) -> bool:
    """True when the metadata says the interpreter was a free-threaded (``--disable-gil``) build."""
    if "free_threaded" in md:
        return _truthy(md["free_threaded"])
    build = str(md.get("python_build", "")).lower()
    if build:
        return "free" in build or "nogil" in build or "disable-gil" in build
    return "--disable-gil" in str(md.get("python_config_args", ""))


def build_kind(md: Mapping[str, Any]) -> str:
    """``"free-threaded"`` or ``"GIL"``: the two kinds of interpreter a comparison must tell apart."""
    return "free-threaded" if is_free_threaded(md) else "GIL"


def python_build(md: Mapping[str, Any]) -> str:
    """A readable interpreter build: ``"free-threaded (GIL disabled)"``, ``"GIL (default build)"``."""
    if not is_free_threaded(md):
        return str(md["python_build"]) if md.get("python_build") else "GIL (default build)"
    base = str(md["python_build"]) if md.get("python_build") else "free-threaded"
    if "gil_enabled" in md:
        return f"{base} (GIL {'enabled' if _truthy(md['gil_enabled']) else 'disabled'} at run time)"
    return base


@dataclass(frozen=True)
class RunInfo:
    """What one result file says about where and how it was made."""

    label: str
    benchmarks: int
    suites: tuple[str, ...]
    hostname: str | None
    cpu: str | None
    cpus: int | None
    platform: str | None
    python: str | None
    build: str
    free_threaded: bool
    compiler: str | None
    packages: str | None
    first: str | None  # date of the first run
    last: str | None  # date of the last run
    command: str | None
    commit: str | None
    extra: dict[str, str] = field(default_factory=dict)  # other pyperf facts worth a line

    @property
    def machine(self) -> str:
        parts = [p for p in (self.cpu, f"{self.cpus} CPUs" if self.cpus else None) if p]
        host = self.hostname or "unknown host"
        return f"{host} ({', '.join(parts)})" if parts else host

    @property
    def interpreter(self) -> str:
        return f"{self.python or 'unknown Python'}, {self.build}"

    def rows(self) -> list[tuple[str, str]]:
        """``(field, value)`` pairs for a metadata table; a missing value says so."""
        missing = "not recorded"
        dates = self.first or missing
        if self.last and self.last != self.first:
            dates = f"{self.first} … {self.last}"
        rows = [
            ("benchmarks", f"{self.benchmarks} ({', '.join(self.suites)})"),
            ("machine", self.machine),
            ("CPU model", self.cpu or missing),
            ("CPUs", str(self.cpus) if self.cpus else missing),
            ("platform", self.platform or missing),
            ("Python", self.python or missing),
            ("Python build", self.build),
            ("compiler", self.compiler or missing),
            ("packages", self.packages or missing),
            ("date", dates),
            ("command", self.command or missing),
            ("vmalab commit", self.commit or missing),
        ]
        return rows + sorted(self.extra.items())


def _common(suite: pyperf.BenchmarkSuite) -> dict[str, Any]:
    benches = suite.get_benchmarks()
    if not benches:
        return {}
    common = dict(benches[0].get_metadata())
    for bench in benches[1:]:
        md = bench.get_metadata()
        for key in list(common):
            if md.get(key) != common[key]:
                del common[key]
    return common


def _dates(suite: pyperf.BenchmarkSuite) -> tuple[str | None, str | None]:
    starts, ends = [], []
    for bench in suite.get_benchmarks():
        try:
            start, end = bench.get_dates()
        except (TypeError, ValueError, KeyError):
            continue
        if start is not None:
            starts.append(start)
        if end is not None:
            ends.append(end)
    if not starts:
        return None, None
    fmt = "%Y-%m-%d %H:%M"
    return min(starts).strftime(fmt), max(ends or starts).strftime(fmt)


def _packages(md: Mapping[str, Any]) -> str | None:
    listed = str(md.get("vmalab_packages", "")).strip()
    if listed:
        return listed
    if md.get("perf_version"):
        return f"pyperf {md['perf_version']}"
    return None


def _commit(md: Mapping[str, Any]) -> str | None:
    commit = md.get("vmalab_commit")
    if not commit:
        return None
    return f"{commit} (with uncommitted changes)" if md.get("vmalab_worktree") == "modified" else str(commit)


def run_info(label: str, suite: pyperf.BenchmarkSuite) -> RunInfo:
    """The ``RunInfo`` of one loaded result file (metadata common to all its benchmarks)."""
    md = _common(suite)
    benches = suite.get_benchmarks()
    suites = tuple(dict.fromkeys(str(b.get_metadata().get("suite", b.get_name().split("/", 1)[0])) for b in benches))
    first, last = _dates(suite)
    python = None
    if md.get("python_version"):
        impl = str(md.get("python_implementation", "")).replace("cpython", "CPython")
        python = f"{impl} {md['python_version']}".strip()
    extra: dict[str, str] = {k: str(md[k]) for k in ("cpu_config", "cpu_freq", "aslr", "boot_time") if k in md}
    cpus = md.get("cpu_count")
    return RunInfo(
        label=label,
        benchmarks=len(benches),
        suites=suites,
        hostname=md.get("hostname"),
        cpu=md.get("cpu_model_name"),
        cpus=int(cpus) if isinstance(cpus, int) else None,
        platform=md.get("platform"),
        python=python,
        build=python_build(md),
        free_threaded=is_free_threaded(md),
        compiler=md.get("python_compiler"),
        packages=_packages(md),
        first=first,
        last=last,
        command=md.get("vmalab_command"),
        commit=_commit(md),
        extra=extra,
    )


#: What must agree for results to be compared as like with like: (what differs, attribute).
_ASPECTS = (
    ("machines", "machine"),
    ("interpreters", "interpreter"),
    ("platforms", "platform"),
    ("vmalab commits", "commit"),
)


def differences(infos: Sequence[RunInfo]) -> list[str]:
    """One line per aspect in which the files differ (machine, interpreter build, platform, commit)."""
    out = []
    for what, attr in _ASPECTS:
        values = {info.label: getattr(info, attr) for info in infos}
        known = {v for v in values.values() if v}
        if len(known) > 1:
            detail = "; ".join(f"{label}: {value or 'not recorded'}" for label, value in values.items())
            out.append(f"different {what}: {detail}")
    return out


def mixed(label: str, suite: pyperf.BenchmarkSuite) -> list[str]:
    """Lines for the aspects in which the benchmarks of one file differ (a file grown with --append)."""
    keys = (
        ("machines", ("hostname", "cpu_model_name", "cpu_count")),
        ("interpreters", ("python_version", "python_implementation", "python_build", "free_threaded")),
        ("vmalab commits", ("vmalab_commit",)),
    )
    out = []
    benches = suite.get_benchmarks()
    for what, names in keys:
        seen = {tuple(str(b.get_metadata().get(k, "")) for k in names) for b in benches}
        if len(seen) > 1:
            shown = ", ".join(" ".join(v for v in values if v) or "not recorded" for values in sorted(seen))
            out.append(f"{label} mixes results of different {what}: {shown}")
    return out
