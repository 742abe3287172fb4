"""Terminal tables that fit the width: one per suite, compact ratio cells, backends as rows when needed.

Invariant
---------
No cell is ever cut: every table is measured before it is printed and the
first layout that fits the console's width is used, so an 80-column terminal
shows every number and every backend name whole, and a wider one shows more
per line.  Each group (suite, or thread-scaling family) gets a heading, its
table(s) and its one-line verdict.  The layouts, in the order tried:

1. **cases as rows** — one row per case (only the row keys that vary within
   the suite are columns; the constant ones go to the heading), the baseline's
   value in its own column, then one compact speed-up cell per other column,
   a ``geomean`` row last;
2. (runs before/after only) the same with the files numbered ``1``, ``2``, ...
   and named under the table;
3. **columns as rows** (backends as rows) — one row per backend, one column
   per case, a ``geomean`` column; when even that is too wide, the cases are
   split over several tables, each saying which part it is.

``times=True`` (``--times``) shows every column's value with its spread, not
only the baseline's; thread-scaling tables start with it (ops/s are the
answer there) and drop it only when it does not fit.  Should a table not fit
even in its narrowest layout (a 30-column console), its cells fold onto more
lines; they are never cut with an ellipsis.  Nothing here computes a number:
``bench.report.cells`` formats what the ``Comparison`` holds.

Layout
------
::

    Comparison -> per group: [heading Text, Table(s), verdict Text]   (tables(cmp, width))
    Family     -> [heading Text, Table(s), verdict Text]              (family_tables(fam, width))

API
---
``tables(cmp, width, times=False, title=None)``, ``family_tables(family, width, times=True)``,
``table_width(table)``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from bench.report.cells import CaseKeys, case_keys, compact_cell, compact_ratio, key_text, ratio_style, verdict_text
from bench.report.compare import Comparison, Row, verdict
from bench.report.scaling import Family

__all__ = ["family_tables", "table_width", "tables"]

_MEASURE = Console(file=io.StringIO(), width=100_000, color_system=None, legacy_windows=False)


def table_width(table: Table) -> int:
    """The columns ``table`` needs to show every cell whole."""
    return _MEASURE.measure(table).maximum


def _ordered_columns(cmp: Comparison, rows: Sequence[Row]) -> list[str]:
    present = [c for c in cmp.columns if any(c in r.cells for r in rows)]
    return sorted(present, key=lambda c: c != cmp.baseline)


def _cell_text(cmp: Comparison, row: Row, col: str, times: bool) -> Text:
    cell = row.cells.get(col)
    if cell is None:
        return Text("-", style="dim")
    value, ratio = compact_cell(cell, cmp, value=times)
    style_value = "bold" if cell.best else ""
    text = Text(value, style=style_value)
    if ratio:
        style = ratio_style(cell) + (" bold" if cell.best else "")
        if value:
            text.append("\n")
        text.append(ratio, style=style)
    return text


def _geomean_text(cmp: Comparison, group: str, col: str) -> Text:
    if col == cmp.baseline:
        return Text("-", style="dim")
    ratio = cmp.summaries.get(group, {}).get(col)
    if ratio is None:
        return Text("-", style="dim")
    return Text(compact_ratio(ratio), style="bold " + ("green" if ratio >= 1 else "red"))


def _new_table() -> Table:
    return Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), header_style="bold",
        collapse_padding=True,
    )  # fmt: skip


def _labels(cmp: Comparison, columns: Sequence[str], aliases: bool) -> dict[str, str]:
    if not aliases:
        return {c: c for c in columns}
    return {c: str(i + 1) for i, c in enumerate(columns)}


def _cases_as_rows(cmp: Comparison, sec: CaseKeys, times: bool, aliases: bool = False) -> Table:
    columns = _ordered_columns(cmp, sec.rows)
    label = _labels(cmp, columns, aliases)
    table = _new_table()
    for name in sec.key_names:
        table.add_column(Text(name), justify="right" if name in ("n", "threads") else "left", no_wrap=True,
                         overflow="fold")  # fmt: skip
    for col in columns:
        table.add_column(Text(label[col]), justify="right", no_wrap=True, overflow="fold",
                         header_style="bold cyan" if col == cmp.baseline else "bold")  # fmt: skip
    for row in sec.rows:
        keys = [Text(key_text(row.key[i])) for i in sec.key_index]
        table.add_row(*keys, *(_cell_text(cmp, row, col, times) for col in columns))
    if len(sec.rows) > 1:
        first = [Text("geomean", style="bold")] + [Text("")] * (len(sec.key_names) - 1)
        table.add_row(*first[: len(sec.key_names)], *(_geomean_text(cmp, sec.group, c) for c in columns),
                      end_section=False)  # fmt: skip
    return table


def _case_header(sec: CaseKeys, row: Row) -> str:
    return "\n".join(key_text(row.key[i]) for i in sec.key_index) + "\n"


def _columns_as_rows(cmp: Comparison, sec: CaseKeys, rows: Sequence[Row], times: bool, geomean: bool) -> Table:
    columns = _ordered_columns(cmp, sec.rows)
    table = _new_table()
    # the first column's header names the lines of the case headers beside it: stream / n / backend
    name = cmp.pivot.column if cmp.mode != "runs" else "file"
    table.add_column(Text("\n".join([*sec.key_names, name])), no_wrap=True, overflow="fold")
    for row in rows:
        table.add_column(Text(_case_header(sec, row)), justify="right", no_wrap=True, overflow="fold")
    if geomean:
        table.add_column("geomean", justify="right", no_wrap=True, overflow="fold")
    for col in columns:
        cells = [_cell_text(cmp, row, col, times) for row in rows]
        if geomean:
            cells.append(_geomean_text(cmp, sec.group, col))
        table.add_row(Text(col, style="bold cyan" if col == cmp.baseline else "bold"), *cells)
    return table


def _split_cases(cmp: Comparison, sec: CaseKeys, width: int, times: bool) -> list[Table]:
    """Columns as rows, the cases split over as few tables as fit ``width``, as evenly as they fit
    (the geomean column with the last part; at least one case per table)."""
    rows = list(sec.rows)

    def part(lo: int, hi: int) -> Table:
        return _columns_as_rows(cmp, sec, rows[lo:hi], times, hi == len(rows) and len(rows) > 1)

    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(rows):  # greedy: the fewest tables
        end = start + 1
        while end < len(rows) and table_width(part(start, end + 1)) <= width:
            end += 1
        bounds.append((start, end))
        start = end
    k = len(bounds)
    size = -(-len(rows) // k)
    even = [(lo, min(lo + size, len(rows))) for lo in range(0, len(rows), size)]
    if len(even) == k and all(table_width(part(lo, hi)) <= width for lo, hi in even):
        bounds = even
    return [part(lo, hi) for lo, hi in bounds]


def _layouts(cmp: Comparison, sec: CaseKeys, width: int, times_options: Sequence[bool]) -> tuple[list[Table], str]:
    """The first layout that fits: (tables, a note for the reader, e.g. the file numbers)."""
    for times in times_options:
        table = _cases_as_rows(cmp, sec, times)
        if table_width(table) <= width:
            return [table], ""
        if cmp.mode == "runs":
            table = _cases_as_rows(cmp, sec, times, aliases=True)
            if table_width(table) <= width:
                columns = _ordered_columns(cmp, sec.rows)
                note = "; ".join(
                    f"{i + 1} = {cmp.sources.get(c, c)}{' (baseline)' if c == cmp.baseline else ''}"
                    for i, c in enumerate(columns)
                )
                return [table], note
        if len(sec.rows) > 1:
            table = _columns_as_rows(cmp, sec, sec.rows, times, True)
            if table_width(table) <= width:
                return [table], ""
    times = times_options[-1]
    parts = _split_cases(cmp, sec, width, times) if len(sec.rows) > 1 else [_cases_as_rows(cmp, sec, times)]
    note = f"the cases are split over {len(parts)} tables to fit {width} columns" if len(parts) > 1 else ""
    return parts, note


def _heading(title: str) -> Text:
    return Text(title, style="bold", overflow="fold")


def tables(cmp: Comparison, width: int, *, times: bool = False, title: str | None = None) -> list[RenderableType]:
    """Every group of ``cmp`` as heading, table(s) fitting ``width`` and verdict."""
    out: list[RenderableType] = []
    if title:
        out.append(_heading(title))
    for group in cmp.groups():
        sec = case_keys(cmp, group)
        out.append(_heading(sec.heading(cmp)))
        parts, note = _layouts(cmp, sec, width, (True,) if times else (False,))
        out.extend(parts)
        if note:
            out.append(Text(note, style="dim", overflow="fold"))
        out.extend(_verdict_lines(cmp, group))
        out.append(Text(""))
    return out


def _verdict_lines(cmp: Comparison, group: str, name: str | None = None) -> list[RenderableType]:
    v = verdict(cmp, group)
    if v is None:
        return []
    return [Text(verdict_text(v, cmp.pivot, name), style="italic", overflow="fold")]


def family_tables(family: Family, width: int, *, times: bool = True) -> list[RenderableType]:
    """A thread-scaling family: heading (with the CPU count when threads oversubscribe), table, verdict."""
    cmp = family.comparison
    title = family.title
    threads = [int(r.key[0]) for r in cmp.rows if isinstance(r.key[0], int)]
    if family.cpus and threads and max(threads) > family.cpus:
        title += f" ({family.cpus} CPUs: more threads than that oversubscribe them)"
    out: list[RenderableType] = [_heading(title)]
    sec = case_keys(cmp, cmp.groups()[0] if cmp.groups() else "")
    parts, note = _layouts(cmp, sec, width, (True, False) if times else (False,))
    out.extend(parts)
    if note:
        out.append(Text(note, style="dim", overflow="fold"))
    if cmp.groups():
        out.extend(_verdict_lines(cmp, cmp.groups()[0], family.short))
    out.append(Text(""))
    return out
