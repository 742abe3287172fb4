"""Plots that say what they show: names, ratio panels, visible coinciding lines, builds compared.

Figures are inspected as matplotlib objects (titles, axis labels, line
styles), and PNGs by their header and pixels; nothing is timed.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest

from bench.cli import main

pytest.importorskip("matplotlib")

from bench.report.charts import Styles, scaling_chart
from bench.report.plot import charts, render_png, render_svg

ROOT = Path(__file__).resolve().parents[2]
#: fixed runs (the reference set of 2026-12-04): the asserts name their cells
REF = Path(__file__).parent / "data" / "ref"


def bench(name: str, values: list[float], **md: object) -> pyperf.Benchmark:
    runs = [pyperf.Run(values[i : i + 2], warmups=None, metadata={"name": name, "loops": 1, **md},
                       collect_metadata=False) for i in range(0, len(values), 2)]  # fmt: skip
    return pyperf.Benchmark(runs)


def threaded_file(path: Path, scale: float, **extra: object) -> Path:
    out = []
    for policy, rate in (("full", 10_000), ("range", 15_000), ("vma", 15_000)):  # range and vma coincide
        for threads in (1, 2, 4):
            md = {"suite": "threaded", "op": "mm", "stream": "disjoint", "backend": f"{policy}+maple",
                  "policy": policy, "index": "maple", "threads": threads, "page_work": 16, "map_pages": 32,
                  "cpu_count": 2, **extra}  # fmt: skip
            per_op = 1.0 / (rate * threads**0.5 * scale)
            out.append(bench(f"threaded/mm/disjoint/threads={threads:02d}/{policy}+maple", [per_op] * 4, **md))
    pyperf.BenchmarkSuite(out).dump(str(path))
    return path


def test_chart_names_say_what_they_show(tmp_path: Path) -> None:
    names = [c.name for c in charts([REF / "fast.json"])]
    assert names == [
        "lookup-time", "lookup-probe-depth", "lookup-memory-per-vma", "insert-time", "insert-memory-per-vma",
        "overlap-time", "gap-time", "trace-time",
    ]
    assert [c.name for c in charts([REF / "threaded.json"])][:2] == [
        "threaded-mm-disjoint-maple", "threaded-mm-disjoint-rbtree",
    ]
    assert [c.name for c in charts([REF / "io.json"])] == ["io-rw-64k"]
    both = [c.name for c in charts([REF / "io.json", REF / "rangelock.json"])]
    assert both == ["io-io-rw-64k", "rangelock-rangelock-time"]  # several files: the label first


def test_a_ratio_title_has_a_ratio_panel(tmp_path: Path) -> None:
    (chart,) = charts([threaded_file(tmp_path / "t.json", 1.0)])
    assert "ratio to full" in chart.title
    fig = chart.draw()
    bottom = fig.axes[1]
    assert bottom.get_ylabel() == "ratio to full"
    ratios = sorted({round(float(y), 3) for line in bottom.get_lines() for y in line.get_ydata()})
    assert ratios == [1.0, 1.5]  # range and vma at 1.5x full; the baseline's line at 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "linear scaling of full\nfrom 1 thread" in labels and "more threads than the 2 CPUs" in labels


def test_coinciding_lines_stay_visible(tmp_path: Path) -> None:
    styles = Styles()
    lines = {"full": [(1, 1.0), (2, 2.0)], "range": [(1, 3.0), (2, 4.0)], "vma": [(1, 3.0), (2, 4.0)]}
    fig = scaling_chart("t: ops/s, ratio to full", lines, "full", styles, None)
    drawn = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    a, b = drawn["range"], drawn["vma"]
    assert list(a.get_ydata()) == list(b.get_ydata())  # the same data ...
    assert (a.get_marker(), a.get_markersize(), a.get_markerfacecolor()) != (
        b.get_marker(), b.get_markersize(), b.get_markerfacecolor()
    )  # ... drawn so both show: another marker, size and fill  # fmt: skip
    assert b.get_markersize() < a.get_markersize() and b.get_zorder() > a.get_zorder()


def test_pngs_are_readable_and_not_blank(tmp_path: Path) -> None:
    import matplotlib.image as mpimg
    import numpy as np

    for chart in charts([REF / "io.json"]) + charts([REF / "fast.json"])[:1]:
        png = render_png(chart, tmp_path / f"{chart.name}.png")
        image = mpimg.imread(png)
        height, width = image.shape[:2]
        assert 850 <= width <= 950 and height >= 400  # GitHub shows images about 900 px wide
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50  # many colours: drawn


def test_svg_is_inline_ready(tmp_path: Path) -> None:
    (chart,) = charts([REF / "io.json"])
    svg = render_svg(chart)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<text" in svg and "ratio to rwsem" in svg  # text kept as text (small, searchable)


def test_gil_and_free_threaded_files_get_a_builds_chart(tmp_path: Path) -> None:
    gil = threaded_file(tmp_path / "gil.json", 1.0)
    free = threaded_file(tmp_path / "ft.json", 1.8, free_threaded=1, gil_enabled=0)
    found = {c.name: c for c in charts([gil, free])}
    chart = found["threaded-mm-disjoint-maple-gil-vs-free-threaded"]
    assert "GIL (gil) vs free-threaded (ft)" in chart.title
    fig = chart.draw()
    labels = {ln.get_label() for ln in fig.axes[0].get_lines()}
    assert {"full, GIL", "full, free-threaded", "vma, free-threaded"} <= labels
    assert fig.axes[1].get_ylabel() == "free-threaded ÷ GIL"
    assert {round(float(y), 2) for ln in fig.axes[1].get_lines()[:3] for y in ln.get_ydata()} == {1.8}


def test_plot_command_and_nothing_to_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(REF / "io.json"), "-o", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "p" / "io-rw-64k.png")]
    empty = tmp_path / "plain.json"
    pyperf.BenchmarkSuite([bench("some_other_tool_bench", [1.0, 1.1])]).dump(str(empty))
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "plot", str(empty), "-o", str(tmp_path / "q")],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 2 and "nothing to plot" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "q").exists()


def test_without_matplotlib_plot_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.report.charts as charts_mod

    def missing() -> None:
        raise charts_mod.PlotError("plots need matplotlib, the optional extra 'plot': pip install 'vmalab[plot]'")

    monkeypatch.setattr(charts_mod, "pyplot", missing)
    monkeypatch.setattr("bench.report.plot.pyplot", missing)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["plot", str(REF / "io.json")]) == 2
    assert "pip install 'vmalab[plot]'" in err.getvalue()
