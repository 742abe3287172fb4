"""bench.report.compare (the numbers) and bench.report.render (the table) on a fixture pyperf file.

The fixture (tests/data/compare_fixture.json) holds, per op, 2 runs x 3 values:
lookup n=1000: list 2.00 us, rbtree 1.00 us (2x faster, significant),
maple 2.01 us with a wide spread (not significant); insert n=1000: list 4 us,
rbtree 8 us (2x slower), no maple.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from bench.cli import main
from bench.report.compare import (
    DEFAULT_PIVOT,
    compare_files,
    geometric_mean,
    load_suites,
    pool_suites,
    welch_significant,
)
from bench.report.render import cell_lines, format_value, pool_note, print_comparison, render_markdown

FIXTURE = Path(__file__).parent / "data" / "compare_fixture.json"


@pytest.fixture
def cmp():
    return compare_files([FIXTURE])


def _row(cmp, suite):
    return next(r for r in cmp.rows if r.group == suite)


def test_pivot_rows_columns_and_baseline(cmp):
    assert cmp.columns == ("list", "rbtree", "maple")
    assert cmp.baseline == "list"
    keys = [r.key for r in cmp.rows]
    assert keys == [("lookup", "lookup", "uniform", 1000), ("insert", "build+remove", "random", 1000)]
    assert cmp.mode == "columns"


def test_cells_ratios_significance_best(cmp):
    lookup = _row(cmp, "lookup")
    rb, mp, ls = lookup.cells["rbtree"], lookup.cells["maple"], lookup.cells["list"]
    assert rb.ratio == pytest.approx(2.0, rel=1e-3) and rb.significant is True and rb.best
    assert mp.significant is False and not mp.best
    assert ls.baseline and ls.ratio == pytest.approx(1.0) and ls.significant is None
    assert cell_lines(rb, cmp) == ("1.00 us ± 0.01", "2.00x faster")
    assert cell_lines(ls, cmp) == ("2.00 us ± 0.01", "baseline")
    assert cell_lines(mp, cmp)[1].startswith("~ ") and cell_lines(mp, cmp)[1].endswith("slower")
    insert = _row(cmp, "insert")
    assert "maple" not in insert.cells
    assert cell_lines(insert.cells["rbtree"], cmp)[1] == "2.00x slower"
    assert insert.cells["list"].best
    assert cmp.summaries["insert"]["rbtree"] == pytest.approx(0.5, rel=1e-3)
    assert cmp.summaries["insert"]["maple"] is None
    assert cmp.summaries["lookup"]["rbtree"] == pytest.approx(2.0, rel=1e-3)


def test_other_baseline_and_generic_pivot():
    cmp = compare_files([FIXTURE], baseline="rbtree")
    assert _row(cmp, "lookup").cells["list"].ratio == pytest.approx(0.5, rel=1e-3)
    with pytest.raises(ValueError, match="baseline"):
        compare_files([FIXTURE], baseline="nope")
    # a different pivot: one row per n, columns are ops (what a threaded suite does with threads/policy)
    pivot = replace(DEFAULT_PIVOT, rows=("backend",), column="op", group=None)
    by_op = compare_files([FIXTURE], pivot=pivot, baseline="lookup")
    assert by_op.columns == ("lookup", "build+remove")
    rb = next(r for r in by_op.rows if r.key == ("rbtree",))
    assert rb.cells["build+remove"].ratio == pytest.approx(1 / 8, rel=1e-3)


def test_two_files_compare_runs(tmp_path):
    other = tmp_path / "after.json"
    other.write_bytes(FIXTURE.read_bytes())
    with pytest.raises(ValueError, match="--runs"):  # the same benchmarks twice: runs only when asked
        compare_files([FIXTURE, other])
    cmp = compare_files([FIXTURE, other], runs=True)
    assert cmp.mode == "runs"
    assert cmp.columns == ("compare_fixture", "after")
    assert cmp.pivot.rows[-1] == "backend"
    for row in cmp.rows:
        after = row.cells["after"]
        assert after.ratio == pytest.approx(1.0) and after.significant is False


def _scaled_copy(path: Path, out: Path, factor: float, **run_md: object) -> Path:
    """``path``'s benchmarks with every value times ``factor`` (and ``run_md`` set in each run)."""
    import pyperf

    benches = []
    for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks():
        md = [{**r.get_metadata(), **run_md} for r in b.get_runs()]
        runs = [
            pyperf.Run([v * factor for v in r.values], warmups=r.warmups, metadata=m, collect_metadata=False)
            for r, m in zip(b.get_runs(), md, strict=True)
        ]
        benches.append(pyperf.Benchmark(runs))
    pyperf.BenchmarkSuite(benches).dump(str(out))
    return out


def test_two_files_pooled(tmp_path):
    """Repeat rounds pooled: each cell holds every file's values, its mean is theirs."""
    single = compare_files([FIXTURE])
    slower = _scaled_copy(FIXTURE, tmp_path / "slower.json", 3.0)
    pooled = compare_files([FIXTURE, slower], pool=True)
    assert pooled.mode == "columns" and pooled.columns == single.columns
    for row, one in zip(pooled.rows, single.rows, strict=True):
        assert row.key == one.key
        for col, cell in row.cells.items():
            assert cell.nvalues == 2 * one.cells[col].nvalues
            assert cell.mean == pytest.approx(2.0 * one.cells[col].mean)  # (1 + 3) / 2
            assert cell.ratio == pytest.approx(one.cells[col].ratio)  # every column scaled alike
    # the pooled comparison is the one of a file holding both rounds' runs
    import pyperf

    both = tmp_path / "both.json"
    pyperf.BenchmarkSuite(
        [pyperf.Benchmark([*a.get_runs(), *b.get_runs()]) for a, b in zip(
            pyperf.BenchmarkSuite.load(str(FIXTURE)).get_benchmarks(),
            pyperf.BenchmarkSuite.load(str(slower)).get_benchmarks(), strict=True)]
    ).dump(str(both))  # fmt: skip
    assert compare_files([both]).rows == pooled.rows


def test_pool_refusals_name_the_problem(tmp_path):
    import pyperf

    other_host = _scaled_copy(FIXTURE, tmp_path / "elsewhere.json", 1.0, hostname="another-machine")
    with pytest.raises(ValueError, match=r"cannot pool .*in compare_fixture and in elsewhere.*hostname"):
        compare_files([FIXTURE, other_host], pool=True)
    with pytest.raises(ValueError, match="two or more files"):
        compare_files([FIXTURE], pool=True)
    with pytest.raises(ValueError, match="give one of them"):
        compare_files([FIXTURE, other_host], pool=True, runs=True)
    with pytest.raises(ValueError, match="given twice"):  # its runs would count twice
        compare_files([FIXTURE, tmp_path / ".." / tmp_path.name / "elsewhere.json", other_host], pool=True)
    dated = _scaled_copy(FIXTURE, tmp_path / "dated.json", 1.0, date="2026-12-06T04:00:00")
    copy = tmp_path / "copy.json"
    copy.write_bytes(dated.read_bytes())
    with pytest.raises(ValueError, match=r"dated and copy hold the same run of .* a copy"):
        compare_files([dated, copy], pool=True)
    # files of different benchmarks: nothing to pool
    lone = tmp_path / "lone.json"
    md = {"name": "lookup/find/uniform/n=000010/list", "loops": 1, "suite": "lookup", "op": "find",
          "stream": "uniform", "n": 10, "backend": "list"}  # fmt: skip
    pyperf.BenchmarkSuite([pyperf.Benchmark([pyperf.Run([1e-6, 1e-6], metadata=md, collect_metadata=False)])]).dump(
        str(lone)
    )
    with pytest.raises(ValueError, match="share no benchmark"):
        compare_files([FIXTURE, lone], pool=True)


def test_pool_suites_merges_copies_and_keeps_lone_benchmarks(tmp_path):
    import pyperf

    slower = _scaled_copy(FIXTURE, tmp_path / "slower.json", 3.0)
    suite = pyperf.BenchmarkSuite.load(str(slower))
    part = tmp_path / "part.json"  # a round of only some of the benchmarks
    kept = suite.get_benchmarks()[:2]
    pyperf.BenchmarkSuite(kept).dump(str(part))
    loaded = load_suites([FIXTURE, part])
    before = [[b.get_nrun() for b in s.get_benchmarks()] for _, s in loaded]
    label, pooled = pool_suites(loaded)
    assert label == "pooled(compare_fixture, part)"
    assert [[b.get_nrun() for b in s.get_benchmarks()] for _, s in loaded] == before  # the loaded suites as read
    single = {b.get_name(): b.get_nrun() for b in loaded[0][1].get_benchmarks()}
    two = {b.get_name() for b in kept}
    assert {b.get_name(): b.get_nrun() for b in pooled.get_benchmarks()} == {
        name: n + (single[name] if name in two else 0) for name, n in single.items()
    }
    note = pool_note(loaded)
    lone = len(single) - len(two)
    assert f"from the 2 files in one cell; {lone} of the {len(single)} benchmarks are in one file only" in note
    assert pool_note(load_suites([FIXTURE, slower])) == "pooled: each benchmark's runs from the 2 files in one cell"


def test_pooled_note_and_cli(tmp_path, capsys):
    slower = _scaled_copy(FIXTURE, tmp_path / "slower.json", 3.0)
    assert main(["compare", "--pool", "--markdown", str(FIXTURE), str(slower)]) == 0
    out = capsys.readouterr().out
    assert "pooled: each benchmark's runs from the 2 files in one cell" in out
    assert out.count("**lookup") == 1  # one table per suite, not one per file


def test_render_table_and_markdown(cmp, capsys):
    md = render_markdown(cmp)
    # one table per suite; the keys that do not vary within a suite go to its heading
    assert "**lookup (op lookup, stream uniform): time per operation, baseline list**" in md
    assert "| n | list | rbtree | maple |" in md
    assert "**1.00 us ± 0.01**<br>2.00x faster" in md
    assert "*lookup: fastest rbtree, 2.00x faster than list (geomean of 1 case)*" in md
    assert "| 1,000 | **4.00 us ± 0.00**<br>baseline" not in md  # the baseline cell has no ratio line
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    print_comparison([FIXTURE], console=console)
    text = console.export_text()
    assert "2.00x" in text and "0.50x" in text and "~1.00x" in text  # maple: not significant
    assert "lookup: fastest rbtree, 2.00x faster than list" in text
    assert main(["compare", str(FIXTURE), "--markdown"]) == 0
    assert capsys.readouterr().out == md


def test_cli_errors(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["compare", str(bad)]) == 2
    assert "not a pyperf result file" in " ".join(capsys.readouterr().err.split())


def test_statistics_helpers():
    assert welch_significant([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]) is True
    assert welch_significant([1.0, 1.2, 0.8], [1.05, 0.85, 1.1]) is False
    assert welch_significant([1.0], [2.0, 2.1]) is None
    assert geometric_mean([2.0, 0.5]) == pytest.approx(1.0)
    assert geometric_mean([]) is None
    assert format_value(1.5e-6) == "1.50 us" and format_value(2.5e-3) == "2.50 ms" and format_value(812e-9) == "812 ns"


def test_colliding_rows_get_a_distinguishing_key(tmp_path):
    import pyperf

    def bench(threads, policy, mean):
        name = f"threaded/mm/faults/threads={threads:02d}/{policy}+list"
        md = {"name": name, "loops": 1, "suite": "threaded", "op": "mm", "n": 100, "backend": f"{policy}+list",
              "policy": policy, "threads": threads}  # fmt: skip
        return pyperf.Benchmark([pyperf.Run([mean, mean * 1.01], metadata=md, collect_metadata=False)])

    path = tmp_path / "t.json"
    pyperf.BenchmarkSuite([bench(t, p, 1e-6 * t) for t in (1, 2) for p in ("full", "range")]).dump(str(path))
    cmp = compare_files([path])
    assert cmp.pivot.rows[-1] == "threads"
    assert [r.key[-1] for r in cmp.rows] == [1, 2]
    assert cmp.columns == ("full+list", "range+list")


def test_t_critical_table_and_tail() -> None:
    from bench.report.compare import t_critical

    assert t_critical(1) == 12.706 and t_critical(10) == 2.228 and t_critical(30) == 2.042
    assert t_critical(0.5) == t_critical(1)  # df below 1 clamps
    assert t_critical(10.9) == t_critical(10)  # fractional Welch df rounds down (conservative)
    assert t_critical(120) == pytest.approx(1.980) and t_critical(60) == pytest.approx(2.000)
    values = [t_critical(d) for d in (1, 2, 5, 29, 30, 31, 45, 80, 500, 10**9)]
    assert values == sorted(values, reverse=True)  # decreasing towards the normal 1.96
    assert 1.96 < t_critical(10**9) < 1.961
