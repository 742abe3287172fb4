"""The text of a comparison's cells, shared by every rendering: values, ratios, marks, verdicts.

Invariant
---------
Text only, computed from a ``bench.report.compare.Comparison`` and never from
the files: the terminal tables (``bench.report.terminal``), the Markdown and
the HTML report all say the same thing in the same words.  Two forms of a
ratio (``Cell.ratio`` > 1 always means better than the baseline):

* full, for Markdown and HTML: ``1.83x faster``, ``2.00x slower``, ``1.82x more``;
* compact, for terminal cells: a speed-up factor, ``1.83x`` (better) or
  ``0.50x`` (worse: the baseline is twice as fast).

Marks: ``~`` before a ratio = not significant (Welch t-test, 95 %); ``?`` after
a value or ratio = noisy (its ± is over 10 % of its mean); the best cell of a
row is bold.  ``LEGEND`` says this once per output.

API
---
``format_value``, ``format_ratio``, ``compact_ratio``, ``ratio_style``,
``cell_lines``, ``compact_cell``, ``spread_text``, ``key_text``,
``verdict_text``, ``case_keys(cmp, group)`` (which row keys name a group's
cases and which are the same for all, said once in its heading), ``LEGEND``,
``NOT_SIGNIFICANT``, ``NOISY_MARK``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.report.compare import Cell, Comparison, Pivot, Row, Verdict

__all__ = [
    "LEGEND", "NOISY_MARK", "NOT_SIGNIFICANT", "CaseKeys", "case_keys", "cell_lines", "compact_cell",
    "compact_ratio", "format_ratio", "format_value", "key_text", "ratio_style", "spread_text", "verdict_text",
]

NOT_SIGNIFICANT = "~"
NOISY_MARK = "?"

#: What the compact cells mean, said once under the terminal tables.
LEGEND = (
    "Cells: the baseline's value, then each column's ratio to it as a speed-up: 1.48x = better "
    "(faster, or more ops/s), 0.68x = worse; ~ = not significant (Welch t-test, 95 %); "
    "? = noisy (± over 10 % of the mean); bold = best of the row; --times shows every value."
)

_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))


def _sig3(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _pick_scale(value: float) -> tuple[float, str]:
    for factor, name in _TIME_UNITS:
        if abs(value) >= factor:
            return factor, name
    return _TIME_UNITS[-1]


def format_value(value: float, unit: str = "second", *, scale: float | None = None) -> str:
    """``1.5e-6`` -> ``"1.50 us"`` (times); ``61234`` -> ``"61.2k"`` (rates, as the seed's IOPS)."""
    if unit != "second":
        for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= factor:
                return f"{_sig3(value / factor)}{suffix}"
        return _sig3(value)
    factor, name = _pick_scale(value) if scale is None else (scale, dict(_TIME_UNITS)[scale])
    return f"{_sig3(value / factor)} {name}"


def format_ratio(ratio: float | None, pivot: Pivot) -> str:
    """``1.83`` -> ``"1.83x faster"``, ``0.5`` -> ``"2.00x slower"`` (words from the pivot)."""
    if ratio is None:
        return ""
    if ratio >= 1.0:
        return f"{ratio:.2f}x {pivot.better}"
    return f"{1.0 / ratio:.2f}x {pivot.worse}"


def compact_ratio(ratio: float | None) -> str:
    """A speed-up factor in at most 7 characters: ``21.4x``, ``1.48x``, ``0.68x``, ``0.046x``, ``0.0017x``."""
    if ratio is None:
        return "-"
    if ratio >= 1.0:
        return f"{_sig3(ratio)}x"
    if ratio >= 0.1:
        return f"{ratio:.2f}x"
    if ratio >= 0.01:
        return f"{ratio:.3f}x"
    return f"{ratio:.2g}x" if ratio >= 1e-4 else f"{ratio:.0e}x"


def ratio_style(cell: Cell) -> str:
    """Rich style of a ratio: green better, red worse, dim when not significant or the baseline."""
    if cell.baseline or cell.ratio is None or cell.significant is False:
        return "dim"
    return "green" if cell.ratio >= 1.0 else "red"


def spread_text(cell: Cell) -> str:
    """``±2%``: the standard deviation as a share of the mean."""
    pct = cell.spread * 100
    return f"±{pct:.0f}%" if pct >= 1 or pct == 0 else f"±{pct:.1f}%"


def cell_lines(cell: Cell, cmp: Comparison) -> tuple[str, str]:
    """The two lines of a full cell: the value (``mean ± stdev``) and the ratio in words, with marks."""
    unit = cmp.pivot.unit
    factor, _ = _pick_scale(cell.mean) if unit == "second" else (1.0, "")
    mean = format_value(cell.mean, unit)
    spread = _sig3(cell.stdev / factor) if unit == "second" else format_value(cell.stdev, unit)
    value = f"{mean} ± {spread}"
    if cell.noisy:
        value += f" {NOISY_MARK}"
    if cell.baseline:
        return value, "baseline"
    ratio = format_ratio(cell.ratio, cmp.pivot)
    if ratio and cell.significant is False:
        ratio = f"{NOT_SIGNIFICANT} {ratio}"
    return value, ratio


def compact_cell(cell: Cell, cmp: Comparison, *, value: bool = False) -> tuple[str, str]:
    """``(value, ratio)`` of a compact terminal cell: the value (``327 ns ±2%``, for the baseline or with
    ``value``) and the speed-up (``1.48x``, ``~1.01x``, ``0.68x?``); either may be empty."""
    noisy = NOISY_MARK if cell.noisy else ""
    shown = f"{format_value(cell.mean, cmp.pivot.unit)}{noisy}" if (value or cell.baseline) else ""
    if value and shown:
        shown = f"{format_value(cell.mean, cmp.pivot.unit)} {spread_text(cell)}{noisy}"
    if cell.baseline:
        return shown, ""
    mark = NOT_SIGNIFICANT if cell.significant is False else ""
    return shown, f"{mark}{compact_ratio(cell.ratio)}{'' if value else noisy}"


def key_text(value: Any) -> str:
    """A row-key value as shown: ints with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _times(ratio: float) -> str:
    return f"{_sig3(ratio)}x"


def verdict_text(v: Verdict, pivot: Pivot, name: str | None = None) -> str:
    """The one-line answer: ``gap: fastest rbtree, 21.4x faster than list (geomean of 4 cases)``."""
    name = v.group if name is None else name
    cases = f"geomean of {v.cases} case{'s' if v.cases != 1 else ''}"
    if v.cases and v.significant < v.cases:
        cases += f", {v.cases - v.significant} not significant"
    if v.mode == "runs":  # the columns are files: say which run is faster than which
        others = [(v.best, v.best_ratio)] if v.best != v.baseline else []
        if v.best == v.baseline and v.runner_up is not None and v.runner_up_ratio:
            others = [(v.runner_up, v.runner_up_ratio)]
        said = "; ".join(
            f"{run} {_times(r if r >= 1 else 1 / r)} {pivot.better if r >= 1 else pivot.worse} than {v.baseline}"
            for run, r in others
        )
        return f"{name}, runs compared: {said or 'no difference'} ({cases})"
    if v.best == v.baseline:
        head = f"{name}: {pivot.best} {v.best} (the baseline)"
        if v.runner_up is not None and v.runner_up_ratio:
            head += f"; next {v.runner_up}, {_times(1 / v.runner_up_ratio)} {pivot.worse}"
    else:
        head = f"{name}: {pivot.best} {v.best}, {_times(v.best_ratio)} {pivot.better} than {v.baseline}"
    if v.worst is not None and v.worst_ratio and v.worst not in (v.baseline, v.runner_up) and v.worst_ratio < 0.995:
        head += f"; {pivot.worst} {v.worst}, {_times(1 / v.worst_ratio)} {pivot.worse}"
    return f"{head} ({cases})"


@dataclass(frozen=True)
class CaseKeys:
    """One group's rows, with the row keys split into varying (they name the cases) and constant ones."""

    group: str
    rows: list[Row]
    key_names: list[str]  # the varying keys: columns, or the lines of a case's header
    key_index: list[int]  # their positions in Row.key
    constant: list[tuple[str, str]]  # (key, value) the same in every row: said in the heading

    def heading(self, cmp: Comparison) -> str:
        """``lookup (op lookup): time per operation, baseline list``."""
        const = ", ".join(f"{k} {v}" for k, v in self.constant)
        unit = "time per operation" if cmp.pivot.unit == "second" else cmp.pivot.unit
        what = "runs, baseline" if cmp.mode == "runs" else "baseline"
        return f"{self.group or 'results'}{f' ({const})' if const else ''}: {unit}, {what} {cmp.baseline}"


def case_keys(cmp: Comparison, group: str) -> CaseKeys:
    """Split the pivot's row keys of ``group``: those that vary name the cases, the rest go to the heading
    (the group key itself is never a column; a group of one case keeps its last key as a column)."""
    rows = cmp.group_rows(group)
    names = list(cmp.pivot.rows)
    skip = {names.index(cmp.pivot.group)} if cmp.pivot.group in names else set()
    varying: list[int] = []
    constant: list[tuple[str, str]] = []
    for i, name in enumerate(names):
        if i in skip:
            continue
        values = {r.key[i] for r in rows}
        if len(values) > 1:
            varying.append(i)
        elif values and (v := next(iter(values))) not in ("-", "", None):
            constant.append((name, key_text(v)))
    if not varying:
        varying = [max(i for i in range(len(names)) if i not in skip)] if len(names) > len(skip) else []
        constant = [(k, v) for k, v in constant if names.index(k) not in varying]
    return CaseKeys(group, rows, [names[i] for i in varying], varying, constant)
