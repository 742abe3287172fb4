"""Rendering comparisons for people: the terminal tables, the same tables in Markdown, and what to print.

Invariant
---------
Rendering never computes statistics: every number shown comes from the
``bench.report.compare.Comparison`` it is given (cell text from
``bench.report.cells``), so the terminal, the Markdown and the HTML report
agree by construction.  ``print_comparison`` is what ``vmalab compare`` and
the end of ``vmalab bench`` print, in this order:

1. notes when the results come from different machines, interpreter builds,
   platforms or commits (files compared with each other, or one file grown
   with ``--append``) — a ratio across them measures the machines too — and,
   with ``pool``, that each cell pools the runs of several files;
2. the structure suites, one table per suite (``bench.report.terminal``
   chooses the layout that fits the terminal), each with its verdict;
3. one thread-scaling table per concurrency family, each with its verdict;
4. the legend of the marks.

The Markdown form (``--markdown``, for READMEs and mailing lists) has the
full cells, ``mean ± stdev`` and the ratio in words, one table per suite::

    **lookup (op lookup): time per operation, baseline list**

    | stream | n | list | rbtree | ...
    |---|---:|---:|---:|
    | uniform | 1,000 | 594 ns ± 5.2 | 653 ns ± 9.1<br>1.10x slower |
    | **geomean** | | baseline | 1.06x slower |

    *lookup: fastest maple, 1.39x faster than list (geomean of 4 cases)*

API
---
``render_markdown(cmp, title=None)``, ``markdown_family(family)``,
``print_comparison(files, baseline=None, pivot=..., markdown=False, title=None,
times=False, runs=False, pool=False, console=None)``, ``environment_notes(files, runs=False)``,
``pool_note(loaded)``;
cell text re-exported from ``bench.report.cells`` (``cell_lines``, ``format_value``,
``format_ratio``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyperf
from rich.console import Console
from rich.text import Text

from bench.report.cells import LEGEND, case_keys, cell_lines, format_ratio, format_value, key_text, verdict_text
from bench.report.compare import (
    DEFAULT_PIVOT,
    Comparison,
    Pivot,
    compare_files,
    load_suites,
    shared_benchmarks,
    verdict,
)
from bench.report.meta import differences, mixed, run_info
from bench.report.scaling import Family, is_scaling, scaling_families
from bench.report.terminal import family_tables, tables

__all__ = [
    "cell_lines", "environment_notes", "format_ratio", "format_value", "markdown_family", "pool_note",
    "print_comparison", "render_markdown",
]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_heading(cmp: Comparison, group: str, title: str | None) -> str:
    return title or case_keys(cmp, group).heading(cmp)


def _md_group(cmp: Comparison, group: str, heading: str, verdict_name: str | None = None) -> list[str]:
    ck = case_keys(cmp, group)
    rows, names, keys = ck.rows, list(cmp.pivot.rows), ck.key_index
    columns = [c for c in cmp.columns if any(c in r.cells for r in rows)]
    columns.sort(key=lambda c: c != cmp.baseline)
    lines = [f"**{_md_escape(heading)}**", ""]
    lines.append("| " + " | ".join(_md_escape(x) for x in [*(names[i] for i in keys), *columns]) + " |")
    aligns = ["---:" if names[i] in ("n", "threads") else "---" for i in keys] + ["---:"] * len(columns)
    lines.append("| " + " | ".join(aligns) + " |")
    for row in rows:
        out = [_md_escape(key_text(row.key[i])) for i in keys]
        for col in columns:
            cell = row.cells.get(col)
            if cell is None:
                out.append("-")
                continue
            value, ratio = cell_lines(cell, cmp)
            value = f"**{value}**" if cell.best else value
            out.append(_md_escape(f"{value}<br>{ratio}" if ratio and not cell.baseline else value))
        lines.append("| " + " | ".join(out) + " |")
    if len(rows) > 1:
        summary = cmp.summaries.get(group, {})
        label = ["**geomean**"] + [""] * (len(keys) - 1)
        cells = [
            "baseline" if c == cmp.baseline else (format_ratio(summary.get(c), cmp.pivot) or "-") for c in columns
        ]
        lines.append("| " + " | ".join([*label, *(_md_escape(x) for x in cells)]) + " |")
    v = verdict(cmp, group)
    if v is not None:
        lines += ["", f"*{_md_escape(verdict_text(v, cmp.pivot, verdict_name))}*"]
    return lines


def render_markdown(cmp: Comparison, title: str | None = None) -> str:
    """GitHub Markdown: one table per group (suite), full cells, a geomean row and the verdict."""
    out: list[str] = []
    for group in cmp.groups():
        if out:
            out.append("")
        out += _md_group(cmp, group, _md_heading(cmp, group, title if len(cmp.groups()) == 1 else None))
    if cmp.mode == "runs" and cmp.dropped:
        out += ["", f"({cmp.dropped} benchmarks found in only one file are left out.)"]
    return "\n".join(out) + "\n"


def markdown_family(family: Family) -> str:
    """A thread-scaling family as Markdown (rows thread counts)."""
    cmp = family.comparison
    group = cmp.groups()[0] if cmp.groups() else ""
    title = family.title
    threads = [int(r.key[0]) for r in cmp.rows if isinstance(r.key[0], int)]
    if family.cpus and threads and max(threads) > family.cpus:
        title += f" ({family.cpus} CPUs)"
    return "\n".join(_md_group(cmp, group, title, family.short)) + "\n"


def environment_notes(files: Sequence[str | Path], runs: bool = False) -> list[str]:
    """Where the results in ``files`` come from different machines, interpreters, platforms or commits."""
    loaded = load_suites(files)
    infos = [run_info(label, suite) for label, suite in loaded]
    notes = differences(infos) if len(infos) > 1 else []
    for label, suite in loaded:
        notes += mixed(label, suite)
    return notes


def pool_note(loaded: Sequence[tuple[str, pyperf.BenchmarkSuite]]) -> str:
    """What ``--pool`` did to the files ``loaded``: how many files, and which benchmarks only one held."""
    shared = shared_benchmarks(loaded)
    names = list(dict.fromkeys(name for _, suite in loaded for name in suite.get_benchmark_names()))
    note = f"pooled: each benchmark's runs from the {len(loaded)} files in one cell"
    lone = [name for name in names if name not in shared]
    if lone:
        note += (f"; {len(lone)} of the {len(names)} benchmarks are in one file only and keep that file's runs "
                 f"(e.g. {lone[0]})")  # fmt: skip
    return note


def print_comparison(
    files: Sequence[str | Path], baseline: str | None = None, pivot: Pivot = DEFAULT_PIVOT, markdown: bool = False,
    title: str | None = None, *, times: bool = False, runs: bool = False, pool: bool = False,
    console: Console | None = None,
) -> None:  # fmt: skip
    """Print the comparison of ``files`` (see the module docstring for what, in which order)."""
    console = console or Console()
    loaded = load_suites(files)
    benches = [b for _, suite in loaded for b in suite.get_benchmarks()]
    if not benches:
        raise ValueError(f"no benchmarks in {', '.join(str(f) for f in files)}")
    structure = [b for b in benches if not is_scaling(b)]
    cmp = None
    if structure:
        cmp = compare_files(
            files, baseline=baseline, pivot=pivot, keep=lambda b: not is_scaling(b), runs=runs, pool=pool
        )
    families = scaling_families(files, runs=runs, pool=pool) if len(structure) < len(benches) else []
    notes = environment_notes(files, runs)
    pooled = [pool_note(loaded)] if pool else []
    if markdown:
        parts = [f"> **note:** {n}" for n in (*pooled, *notes)]
        if cmp is not None:
            parts.append(render_markdown(cmp, title))
        parts += [markdown_family(f) for f in families]
        console.file.write("\n".join(parts) if parts else "")
        return
    width = console.width
    for note in (*pooled, *notes):
        console.print(Text(f"note: {note}", style="yellow", overflow="fold"))
    if notes:
        why = "ratios between them measure the machines or builds as well as the code"
        console.print(Text("each pooled cell mixes them" if pool else why, style="yellow"))
    if pooled or notes:
        console.print()
    if cmp is not None:
        for part in tables(cmp, width, times=times, title=title):
            console.print(part)
        if cmp.mode == "runs" and cmp.dropped:
            console.print(Text(f"{cmp.dropped} benchmarks found in only one file are left out.", style="dim"))
    for family in families:
        for part in family_tables(family, width, times=True):
            console.print(part)
    console.print(Text(LEGEND, style="dim", overflow="fold"))
