"""One self-contained HTML report of result files: tables, inline SVG plots, verdicts, run metadata.

Invariant
---------
The report is a single file that needs nothing else to be read: CSS inline,
plots as inline SVG (``bench.report.plot.render_svg``), no script, no network
reference; any browser, a mail attachment or a CI artifact shows it as is.
Every number comes from the same comparisons as the terminal and Markdown
tables (``bench.report.compare``, ``.scaling``, ``.cells``).  Without
matplotlib the report still renders: every table, and a note where the plots
would be.

Layout
------
::

    <h1>  title, files, one line per note (different machines / builds)
    <nav> contents; the verdicts, one line per suite, linking to it
    per file  <section class="file">     its run metadata (CPU, cores, Python build,
                                         packages, date, command line, commit)
      per suite   <section class="suite" data-suite=S>   heading, verdict,
                  <table class="cmp">, its <figure class="plot" data-plot=NAME>s
      per thread-scaling family: the same, data-family=SLUG
    same benchmarks in several files  <section class="runs">  runs side by side
    GIL vs free-threaded              <section class="builds"> (files of both builds)

DOM contract (the browser test reads it): one ``table.cmp`` per suite section,
every backend in a ``th``, one ``figure.plot`` per chart, each holding an ``svg``.

API
---
``build_report(files, title=None, plots=True) -> str``,
``write_report(files, out, title=None, plots=True) -> Path``.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyperf

from bench.report.cells import case_keys, cell_lines, format_ratio, key_text, verdict_text
from bench.report.compare import Cell, Comparison, compare_files, load_suites, shared_benchmarks, verdict
from bench.report.meta import build_kind, differences, mixed, run_info
from bench.report.plot import Chart, charts, pyplot_available, render_svg
from bench.report.scaling import Family, is_scaling, scaling_families

__all__ = ["build_report", "write_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0 auto;
max-width:1180px;padding:0 20px 40px}
h1{font-size:26px;margin:24px 0 4px}h2{font-size:21px;border-bottom:1px solid #d0d7de;padding-bottom:4px;
margin-top:36px}h3{font-size:16px;margin:26px 0 6px}
.sub{color:#59636e;margin:0 0 10px}.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;
border-radius:6px;margin:6px 0}
nav ul{margin:4px 0;padding-left:20px}nav li{margin:1px 0}
.verdict{font-style:italic;margin:4px 0 8px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top}
thead th{background:#f6f8fa;text-align:center}
td.num,td.cell{text-align:right;white-space:nowrap}td.key{white-space:nowrap}
td.base,th.base{background:#f3f6fb}
.ratio{display:block;font-size:12px}
.better .ratio{color:#1a7f37}.worse .ratio{color:#cf222e}.ns .ratio{color:#6e7781}
.best{font-weight:700}.noisy{background:#fff4e5}
tfoot th,tfoot td{background:#f6f8fa;font-weight:600}
table.meta td:first-child{color:#59636e;white-space:nowrap}table.meta td{max-width:900px;word-break:break-word}
figure.plot{margin:8px 0 18px}figure.plot svg{max-width:100%;height:auto;display:block}
figcaption{color:#59636e;font-size:12px}
.legend{color:#59636e;font-size:12px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(*parts: str) -> str:
    raw = "-".join(parts).lower()
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in raw).strip("-") or "x"


def _cell_class(cell: Cell) -> str:
    classes = ["cell"]
    if cell.baseline:
        classes.append("base")
    elif cell.significant is False:
        classes.append("ns")
    elif cell.ratio is not None:
        classes.append("better" if cell.ratio >= 1 else "worse")
    if cell.best:
        classes.append("best")
    if cell.noisy:
        classes.append("noisy")
    return " ".join(classes)


def _table(cmp: Comparison, group: str, suite: str, labels: dict[str, str] | None = None) -> str:
    """A group of ``cmp`` as an HTML table: full cells (mean ± stdev, ratio in words), geomean footer."""
    ck = case_keys(cmp, group)
    names = list(cmp.pivot.rows)
    columns = sorted((c for c in cmp.columns if any(c in r.cells for r in ck.rows)), key=lambda c: c != cmp.baseline)
    labels = labels or {}
    out = [f'<div class="scroll"><table class="cmp" data-suite="{_e(suite)}"><thead><tr>']
    out += [f"<th>{_e(names[i])}</th>" for i in ck.key_index]
    out += [
        f'<th class="{"base" if c == cmp.baseline else "col"}" data-column="{_e(c)}">{_e(labels.get(c, c))}</th>'
        for c in columns
    ]
    out.append("</tr></thead><tbody>")
    for row in ck.rows:
        out.append("<tr>")
        out += [
            f'<td class="{"num" if names[i] in ("n", "threads") else "key"}">{_e(key_text(row.key[i]))}</td>'
            for i in ck.key_index
        ]
        for col in columns:
            cell = row.cells.get(col)
            if cell is None:
                out.append('<td class="cell">-</td>')
                continue
            value, ratio = cell_lines(cell, cmp)
            extra = f'<span class="ratio">{_e(ratio)}</span>' if ratio and not cell.baseline else ""
            out.append(f'<td class="{_cell_class(cell)}">{_e(value)}{extra}</td>')
        out.append("</tr>")
    out.append("</tbody>")
    if len(ck.rows) > 1:
        summary = cmp.summaries.get(group, {})
        out.append(f'<tfoot><tr><th colspan="{max(1, len(ck.key_index))}">geomean</th>')
        for col in columns:
            text = "baseline" if col == cmp.baseline else (format_ratio(summary.get(col), cmp.pivot) or "-")
            out.append(f'<td class="cell">{_e(text)}</td>')
        out.append("</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


def _figures(found: Iterable[Chart], with_plots: bool) -> str:
    out = []
    for chart in found:
        body = render_svg(chart) if with_plots else ""
        out.append(
            f'<figure class="plot" data-plot="{_e(chart.name)}">{body}'
            f"<figcaption>{_e(chart.name)}: {_e(chart.title)}</figcaption></figure>"
        )
    return "".join(out)


_NO_PLOTS = (
    '<p class="note noplot">No plots in this report: they need matplotlib, the optional extra <code>plot</code> '
    "(<code>pip install 'vmalab[plot]'</code>); the tables hold every number.</p>"
)


def _meta_table(label: str, suite: pyperf.BenchmarkSuite) -> str:
    info = run_info(label, suite)
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in info.rows())
    return f'<details open><summary>run metadata</summary><table class="meta">{rows}</table></details>'


def _verdict_line(cmp: Comparison, group: str, name: str | None = None) -> str | None:
    v = verdict(cmp, group)
    return verdict_text(v, cmp.pivot, name) if v else None


class _Builder:
    """Accumulates the body and the contents/verdict lists while the sections are written."""

    def __init__(self, plots: bool) -> None:
        self.body: list[str] = []
        self.toc: list[tuple[int, str, str]] = []  # (level, anchor, text)
        self.verdicts: list[tuple[str, str, str]] = []  # (anchor, file label, text)
        self.file = ""  # the label of the file being written
        self.plots = plots

    def suite(self, anchor: str, suite: str, heading: str, cmp: Comparison, group: str, found: list[Chart],
              *, family: str = "", verdict_name: str | None = None, labels: dict[str, str] | None = None,
              toc: str | None = None) -> None:  # fmt: skip
        fam = f' data-family="{_e(family)}"' if family else ""
        self.toc.append((2, anchor, toc or heading))
        self.body.append(f'<section class="suite" id="{anchor}" data-suite="{_e(suite)}"{fam}>')
        self.body.append(f"<h3>{_e(heading)}</h3>")
        line = _verdict_line(cmp, group, verdict_name)
        if line:
            self.verdicts.append((anchor, self.file, line))
            self.body.append(f'<p class="verdict">{_e(line)}</p>')
        self.body.append(_table(cmp, group, suite, labels))
        if not self.plots:
            self.body.append('<p class="sub noplot">(Its plots need matplotlib: see the note at the top.)</p>')
        elif found:
            self.body.append(_figures(found, True))
        else:
            self.body.append('<p class="sub">Nothing to plot for this suite.</p>')
        self.body.append("</section>")


def _family_heading(fam: Family) -> str:
    threads = [int(r.key[0]) for r in fam.comparison.rows if isinstance(r.key[0], int)]
    if fam.cpus and threads and max(threads) > fam.cpus:
        return f"{fam.title} ({fam.cpus} CPUs: more threads than that oversubscribe them)"
    return fam.title


def _file_section(b: _Builder, path: Path, label: str, suite: pyperf.BenchmarkSuite, found: list[Chart]) -> None:
    anchor = _anchor("file", label)
    b.file = label
    b.toc.append((1, anchor, f"{label} ({path.name})"))
    b.body.append(f'<section class="file" id="{anchor}"><h2>{_e(label)} <small class="sub">{_e(path)}</small></h2>')
    for note in mixed(label, suite):
        b.body.append(f'<p class="note">{_e(note)}</p>')
    b.body.append(_meta_table(label, suite))
    benches = suite.get_benchmarks()
    if any(not is_scaling(x) for x in benches):
        cmp = compare_files([path], keep=lambda x: not is_scaling(x))
        for group in cmp.groups():
            mine = [c for c in found if c.file == label and c.group == group]
            b.suite(_anchor(label, group), group, case_keys(cmp, group).heading(cmp), cmp, group, mine)
    if any(is_scaling(x) for x in benches):
        for fam in scaling_families([path]):
            mine = [c for c in found if c.file == label and c.group == fam.slug]
            group = fam.comparison.groups()[0] if fam.comparison.groups() else ""
            suite_name = fam.slug.split("-", 1)[0]
            b.suite(_anchor(label, fam.slug), suite_name, _family_heading(fam), fam.comparison, group, mine,
                    family=fam.slug, verdict_name=fam.short, toc=fam.short)  # fmt: skip
    b.body.append("</section>")


def _runs_section(b: _Builder, paths: Sequence[Path], loaded: Sequence[tuple[str, pyperf.BenchmarkSuite]]) -> None:
    """Benchmarks found in several files, side by side per suite (the file holding most of them first)."""
    shared = shared_benchmarks(loaded)
    names = {n for n in shared if not n.startswith(("io/", "threaded/"))}
    if not names:
        return
    suites = dict.fromkeys(n.split("/", 1)[0] for n in sorted(names))
    kinds = {label: build_kind(s.get_benchmarks()[0].get_metadata()) for label, s in loaded if s.get_benchmarks()}
    b.toc.append((1, "runs", "the same benchmarks in several files"))
    b.file = "runs compared"
    b.body.append('<section class="runs" id="runs"><h2>The same benchmarks in several files</h2>')
    b.body.append('<p class="sub">Each benchmark that more than one file holds, run against run: the spread '
                  "between runs, or what changed between them (code, machine, interpreter build).</p>")  # fmt: skip
    held = {label: set(s.get_benchmark_names()) for label, s in loaded}
    for suite_name in suites:
        mine = {n for n in names if n.split("/", 1)[0] == suite_name}
        holders = [(p, lab) for p, (lab, _) in zip(paths, loaded, strict=True) if mine & held[lab]]
        holders.sort(key=lambda h: -len(mine & held[h[1]]))

        def keep(x: pyperf.Benchmark, m: set[str] = mine) -> bool:
            return x.get_name() in m

        cmp = compare_files([p for p, _ in holders], keep=keep, runs=True)
        builds = {kinds.get(lab) for _, lab in holders}
        labels = {lab: f"{lab} ({kinds.get(lab)})" for _, lab in holders} if len(builds) > 1 else None
        for group in cmp.groups():
            b.suite(_anchor("runs", group), group, case_keys(cmp, group).heading(cmp), cmp, group, [], labels=labels)
    b.body.append("</section>")


def build_report(files: Sequence[str | Path], title: str | None = None, plots: bool = True) -> str:
    """The whole report as one HTML string (``plots``: draw the charts when matplotlib is there)."""
    paths = [Path(f) for f in files]
    loaded = load_suites(paths)
    if not any(s.get_benchmarks() for _, s in loaded):
        raise ValueError(f"no benchmarks in {', '.join(map(str, paths))}")
    with_plots = plots and pyplot_available()
    found = charts(paths) if with_plots else []
    b = _Builder(with_plots)
    for path, (label, suite) in zip(paths, loaded, strict=True):
        _file_section(b, path, label, suite, found)
    if len(paths) > 1:
        _runs_section(b, paths, loaded)
        builds = [c for c in found if not c.file]
        if builds:
            b.toc.append((1, "builds", "GIL vs free-threaded"))
            b.body.append('<section class="builds" id="builds"><h2>GIL vs free-threaded</h2>')
            b.body.append(_figures(builds, True))
            b.body.append("</section>")
    infos = [run_info(label, suite) for label, suite in loaded]
    notes = differences(infos) if len(infos) > 1 else []
    title = title or f"vmalab report: {', '.join(label for label, _ in loaded[:4])}" + (
        f" and {len(loaded) - 4} more" if len(loaded) > 4 else ""
    )
    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{len(paths)} result file{"s" if len(paths) != 1 else ""}: '
        f"{_e(', '.join(str(p) for p in paths))}; made {made} by <code>vmalab report</code>.</p>",
    ]  # fmt: skip
    head += [f'<p class="note">note: {_e(n)} — ratios between them measure the machines or builds as well as the '
             "code.</p>" for n in notes]  # fmt: skip
    if not with_plots:
        head.append(_NO_PLOTS)
    head.append('<nav><h2>Verdicts</h2><ul class="verdicts">')
    head += [f'<li><b>{_e(label)}</b> — <a href="#{a}">{_e(text)}</a></li>' for a, label, text in b.verdicts]
    head.append("</ul><h2>Contents</h2><ul>")
    for level, anchor, text in b.toc:
        pad = ' style="margin-left:18px"' if level > 1 else ""
        head.append(f'<li{pad}><a href="#{anchor}">{_e(text)}</a></li>')
    head.append(f'</ul></nav><p class="legend">{_e(_LEGEND)}</p>')
    return "\n".join([*head, *b.body, "</body></html>", ""])


_LEGEND = (
    "Cells: mean ± standard deviation, and the ratio to the baseline column of the row in words "
    "(green better, red worse); ~ = not significant (Welch t-test, 95 %), shown grey; ? = noisy "
    "(± over 10 % of the mean), shaded; bold = best of the row; geomean = geometric mean of the ratios."
)


def write_report(files: Sequence[str | Path], out: str | Path, title: str | None = None, plots: bool = True) -> Path:
    """Write ``build_report(files)`` to ``out`` (atomically: a temporary file renamed over it)."""
    target = Path(out)
    text = build_report(files, title, plots)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
