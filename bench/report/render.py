"""Rendering a ``Comparison``: a rich table for the terminal and the same table in Markdown.

Invariant
---------
Rendering never computes statistics: every number shown comes from the
``bench.report.compare.Comparison`` it is given, so the terminal table, the Markdown
table and the tests agree by construction.  Both renderings show the same
cells::

    mean ± stdev            (time per operation, scaled to ns/us/ms/s)
    1.83x faster            (ratio to the row's baseline cell)
    ~ 1.02x slower          (~ : not significant, Welch t-test at 95 %)
    baseline                (the baseline column itself)

and mark the best cell of each row (bold green / **bold**), then one
``geomean`` row per group (suite) with the geometric mean of the ratios.

Layout
------
::

    suite | op | stream | n  || list          | rbtree            | maple ...
    ------+----+--------+----++---------------+-------------------+------
    lookup| .. |        |    || 1.2 us ± 0.0  | 2.3 us ± 0.1      |
          |    |        |    || baseline      | 1.9x slower       |

API
---
``format_value(seconds, unit)``, ``format_ratio(ratio, cmp)``,
``cell_lines(cell, cmp) -> (value, ratio)``, ``render_table(cmp, title=None)``
(a ``rich.table.Table``), ``render_markdown(cmp, title=None) -> str``,
``print_comparison(files, baseline=None, pivot=..., markdown=False, title=None)``
(what ``vmalab compare`` and the end of ``vmalab bench`` print: the backend
table, then one thread-scaling table per concurrency family).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.report.compare import DEFAULT_PIVOT, Cell, Comparison, Pivot, compare_files, load_suites
from bench.report.scaling import is_scaling, scaling_comparisons

__all__ = [
    "cell_lines", "format_ratio", "format_value", "print_comparison", "print_table", "render_markdown", "render_table",
]

NOT_SIGNIFICANT = "~"

_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))


def _sig3(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def format_value(value: float, unit: str = "second", *, scale: float | None = None) -> str:
    """``1.5e-6`` -> ``"1.50 us"`` (times); ``61234`` -> ``"61.2k"`` (rates, as the seed's IOPS)."""
    if unit != "second":
        for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= factor:
                return f"{_sig3(value / factor)}{suffix}"
        return _sig3(value)
    factor, name = _pick_scale(value) if scale is None else (scale, _scale_name(scale))
    return f"{_sig3(value / factor)} {name}"


def _pick_scale(value: float) -> tuple[float, str]:
    for factor, name in _TIME_UNITS:
        if abs(value) >= factor:
            return factor, name
    return _TIME_UNITS[-1]


def _scale_name(scale: float) -> str:
    return dict(_TIME_UNITS)[scale]


def format_ratio(ratio: float | None, cmp: Comparison) -> str:
    """``1.83`` -> ``"1.83x faster"``, ``0.5`` -> ``"2.00x slower"`` (words from the pivot)."""
    if ratio is None:
        return ""
    if ratio >= 1.0:
        return f"{ratio:.2f}x {cmp.pivot.better}"
    return f"{1.0 / ratio:.2f}x {cmp.pivot.worse}"


def cell_lines(cell: Cell, cmp: Comparison) -> tuple[str, str]:
    """The two lines of a cell: the value and the ratio (with the not-significant mark)."""
    factor, _ = _pick_scale(cell.mean) if cmp.pivot.unit == "second" else (1.0, "")
    mean = format_value(cell.mean, cmp.pivot.unit)
    if cmp.pivot.unit == "second":
        value = f"{mean} ± {_sig3(cell.stdev / factor)}"
    else:
        value = f"{mean} ± {format_value(cell.stdev, cmp.pivot.unit)}"
    if cell.baseline:
        return value, "baseline"
    ratio = format_ratio(cell.ratio, cmp)
    if ratio and cell.significant is False:
        ratio = f"{NOT_SIGNIFICANT} {ratio}"
    return value, ratio


def _key_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _summary_text(ratio: float | None, col: str, cmp: Comparison) -> str:
    if col == cmp.baseline:
        return "baseline"
    return format_ratio(ratio, cmp) or "-"


def _title(cmp: Comparison, title: str | None) -> str:
    if title:
        return title
    unit = "time per operation" if cmp.pivot.unit == "second" else cmp.pivot.unit
    what = "runs" if cmp.mode == "runs" else f"{cmp.pivot.column}s"
    return f"{unit}: {what} vs baseline {cmp.baseline!r} (~ = not significant)"


def render_table(cmp: Comparison, title: str | None = None) -> Table:
    """The comparison as a rich ``Table``."""
    table = Table(title=_title(cmp, title), show_lines=False, header_style="bold")
    for k in cmp.pivot.rows:
        table.add_column(
            k, style="cyan" if k == cmp.pivot.group else None, justify="right" if k == "n" else "left", no_wrap=True
        )
    for col in cmp.columns:
        table.add_column(col, justify="right", no_wrap=True)
    groups = cmp.groups()
    for gi, group in enumerate(groups):
        rows = [r for r in cmp.rows if r.group == group]
        for row in rows:
            keys = [_key_text(v) for v in row.key]
            if row is not rows[0] and cmp.pivot.group in cmp.pivot.rows:  # the group name once per section
                keys[cmp.pivot.rows.index(cmp.pivot.group)] = ""
            cells: list[Text | str] = []
            for col in cmp.columns:
                cell = row.cells.get(col)
                if cell is None:
                    cells.append(Text("-", style="dim"))
                    continue
                value, ratio = cell_lines(cell, cmp)
                text = Text(value, style="bold green" if cell.best else "")
                if ratio:
                    style = (
                        "dim"
                        if (cell.baseline or cell.significant is False)
                        else ("green" if (cell.ratio or 0) >= 1 else "red")
                    )
                    text.append("\n" + ratio, style=style)
                cells.append(text)
            table.add_row(*keys, *cells)
        summary = cmp.summaries.get(group, {})
        label = [""] * len(cmp.pivot.rows)
        if len(label) > 1:
            label[0], label[1] = group, "geomean"
        else:
            label[0] = f"{group} geomean".strip()
        table.add_row(
            *[Text(x, style="bold") for x in label],
            *[Text(_summary_text(summary.get(c), c, cmp), style="bold") for c in cmp.columns],
            end_section=gi < len(groups) - 1,
        )
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table`` unwrapped: on a pipe or file the full width, not rich's 80 columns."""
    console = console or Console()
    if not console.is_terminal:
        wide = Console(width=4096, file=console.file)
        console = Console(width=max(console.width, wide.measure(table).maximum), file=console.file)
    console.print(table)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(cmp: Comparison, title: str | None = None) -> str:
    """The same table as GitHub Markdown (best cell in bold, ratio under the value)."""
    head = [*cmp.pivot.rows, *cmp.columns]
    lines = [f"**{_md_escape(_title(cmp, title))}**", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in head) + " |")
    aligns = ["---:" if k == "n" else "---" for k in cmp.pivot.rows] + ["---:"] * len(cmp.columns)
    lines.append("| " + " | ".join(aligns) + " |")
    for group in cmp.groups():
        for row in (r for r in cmp.rows if r.group == group):
            out = [_md_escape(_key_text(v)) for v in row.key]
            for col in cmp.columns:
                cell = row.cells.get(col)
                if cell is None:
                    out.append("-")
                    continue
                value, ratio = cell_lines(cell, cmp)
                value = f"**{value}**" if cell.best else value
                out.append(_md_escape(f"{value}<br>{ratio}" if ratio else value))
            lines.append("| " + " | ".join(out) + " |")
        summary = cmp.summaries.get(group, {})
        label = [""] * len(cmp.pivot.rows)
        label[0] = f"**{group} geomean**" if group else "**geomean**"
        lines.append(
            "| "
            + " | ".join([*label, *(_md_escape(_summary_text(summary.get(c), c, cmp)) for c in cmp.columns)])
            + " |"
        )
    return "\n".join(lines) + "\n"


def print_comparison(
    files: list[Path], baseline: str | None = None, pivot: Pivot = DEFAULT_PIVOT, markdown: bool = False,
    title: str | None = None,
) -> None:
    """Print the comparison of ``files``: the backend table for the structure suites, and one
    thread-scaling table (rows thread counts, columns locks/policies, ops/s) per concurrency family."""
    loaded = load_suites(files)
    benches = [b for _, suite in loaded for b in suite.get_benchmarks()]
    scaling = [b for b in benches if is_scaling(b)]
    if len(scaling) < len(benches):
        cmp = compare_files(files, baseline=baseline, pivot=pivot, keep=lambda b: not is_scaling(b))
        if markdown:
            print(render_markdown(cmp, title), end="")
        else:
            print_table(render_table(cmp, title))
    if scaling:
        for family_title, cmp in scaling_comparisons(files):
            if markdown:
                print()
                print(render_markdown(cmp, family_title), end="")
            else:
                print_table(render_table(cmp, family_title))
