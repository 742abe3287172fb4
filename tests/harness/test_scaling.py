"""Thread-scaling tables: rows thread counts, columns locks/policies, ops/s and ratios."""

from __future__ import annotations

from pathlib import Path

import pyperf
import pytest

from bench.cli import main
from bench.report.render import render_markdown
from bench.report.scaling import scaling_comparisons, throughput_series


def bench(name: str, values: list[float], **md: object) -> pyperf.Benchmark:
    runs = [
        pyperf.Run(values[i : i + 2], warmups=None, metadata={"name": name, "loops": 1, **md}, collect_metadata=False)
        for i in range(0, len(values), 2)
    ]
    return pyperf.Benchmark(runs)


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    """The seed's fio numbers, as seconds per op: rwsem 57k/61k, range 64k/111k at 1/2 threads."""
    out = []
    for lock, rates in (("rwsem", (57_000, 61_000)), ("range", (64_000, 111_000)), ("ideal", (65_000, 120_000))):
        for threads, rate in zip((1, 2), rates, strict=True):
            per_op = 1.0 / rate
            md = {"suite": "io", "op": "rw", "backend": lock, "lock": lock, "threads": threads, "block": 65536}
            values = [per_op * f for f in (0.99, 1, 1.01, 1)]
            out.append(bench(f"io/rw/block=65536/threads={threads:02d}/{lock}", values, **md))
    for policy, rate in (("full", 10_000), ("range", 15_000), ("vma", 20_000)):
        md = {"suite": "threaded", "op": "mm", "stream": "disjoint", "backend": f"{policy}+maple", "policy": policy}
        md.update(index="maple", threads=2, page_work=16)
        out.append(bench(f"threaded/mm/disjoint/threads=02/{policy}+maple", [1.0 / rate] * 4, **md))
    out.append(bench("lookup/find/uniform/n=001000/list", [1e-6] * 4, suite="lookup", op="find", stream="uniform",
                     n=1000, backend="list"))  # fmt: skip
    path = tmp_path / "seed.json"
    pyperf.BenchmarkSuite(out).dump(str(path))
    return path


def test_seed_table_shape_and_ratios(seed_file: Path) -> None:
    tables = dict(scaling_comparisons([seed_file]))
    (io_title,) = [t for t in tables if t.startswith("io:")]
    cmp = tables[io_title]
    assert cmp.baseline == "rwsem"
    assert cmp.columns == ("rwsem", "range", "ideal")
    assert [r.key for r in cmp.rows] == [(1,), (2,)]
    two = cmp.rows[1].cells
    assert two["rwsem"].mean == pytest.approx(61_000, rel=0.02)
    assert two["range"].ratio == pytest.approx(111_000 / 61_000, rel=0.02)
    assert two["range"].best is False and two["ideal"].best is True
    (mm_title,) = [t for t in tables if t.startswith("threaded mm")]
    mm = tables[mm_title]
    assert "page_work=16, map_pages=8" in mm_title  # a file from before map_pages: its round was 8 pages
    assert mm.baseline == "full"
    assert mm.rows[0].cells["vma"].ratio == pytest.approx(2.0)
    md = render_markdown(cmp, io_title)
    assert "61.0k" in md and "1.82x more" in md


def test_throughput_series(seed_file: Path) -> None:
    series = throughput_series([seed_file])
    io = next(v for k, v in series.items() if k.startswith("io:"))
    assert [t for t, _ in io["range"]] == [1, 2]
    assert io["range"][1][1] == pytest.approx(111_000, rel=0.02)


def test_compare_command_prints_both_kinds(seed_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(seed_file), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "lookup" in out  # the structure table, for the non-threaded benchmark
    assert "ratio to rwsem" in out and "ratio to full" in out
    assert "| threads |" in out


def test_plot_throughput_vs_threads(seed_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.report.plot import plot_file

    written = plot_file(seed_file, tmp_path / "plots")
    names = {p.name for p in written}
    assert {"io-rw-64k.png", "threaded-mm-disjoint-maple.png", "lookup-time.png"} <= names
    for p in written:
        assert p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG"


def test_runs_before_after_get_tables_per_file(seed_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    again.write_bytes(seed_file.read_bytes())
    with pytest.raises(ValueError, match="--runs"):
        scaling_comparisons([seed_file, again])
    tables = dict(scaling_comparisons([seed_file, again], runs=True))
    io = sorted(t for t in tables if t.startswith("io:"))
    assert len(io) == 2
    assert any("[seed]" in t for t in io) and any("[again]" in t for t in io)
    for t in io:
        assert tables[t].rows[1].cells["range"].ratio == pytest.approx(111_000 / 61_000, rel=0.02)


def test_repeat_rounds_pooled_into_one_table(seed_file: Path, tmp_path: Path) -> None:
    """Pooled, a family is one table whose cells hold both rounds' values (no per-file titles)."""
    benches = []
    for b in pyperf.BenchmarkSuite.load(str(seed_file)).get_benchmarks():
        slow = 2.0 if b.get_metadata().get("lock") == "range" else 1.0  # the second round's range lock: half as fast
        runs = [pyperf.Run([v * slow for v in r.values], warmups=None, metadata=r.get_metadata(),
                           collect_metadata=False) for r in b.get_runs()]  # fmt: skip
        benches.append(pyperf.Benchmark(runs))
    second = tmp_path / "second.json"
    pyperf.BenchmarkSuite(benches).dump(str(second))
    tables = dict(scaling_comparisons([seed_file, second], pool=True))
    io = [t for t in tables if t.startswith("io:")]
    assert len(io) == 1 and "[" not in io[0]
    two = tables[io[0]].rows[1]
    assert two.cells["rwsem"].nvalues == 8
    # a cell's ops/s is the mean of its values' rates: half its values at 111k, half at 55.5k
    assert two.cells["range"].ratio == pytest.approx((111_000 * 0.75) / 61_000, rel=0.02)
    with pytest.raises(ValueError, match="give one of them"):
        scaling_comparisons([seed_file, second], pool=True, runs=True)


def test_wis_table_has_the_linear_column_and_efficiency(tmp_path: Path) -> None:
    out = []
    rates = {"full": (100.0, 110.0), "range": (95.0, 180.0), "range/range-list": (98.0, 190.0), "ideal": (99.0, 196.0)}
    for variant, pair in rates.items():
        policy = variant.split("/")[0]
        for threads, rate in zip((1, 2), pair, strict=True):
            md = {"suite": "wis", "op": "page_fault1", "index": "maple", "page_work": 16, "policy": policy,
                  "variant": variant, "backend": f"{policy}+maple", "threads": threads}  # fmt: skip
            out.append(bench(f"wis/page_fault1/threads={threads:02d}/{variant}", [1.0 / rate] * 4, **md))
    path = tmp_path / "wis.json"
    pyperf.BenchmarkSuite(out).dump(str(path))
    (title, cmp), *_ = scaling_comparisons([path])
    assert title.startswith("will-it-scale page_fault1") and cmp.baseline == "full"
    assert cmp.columns == ("full", "range", "range/range-list", "ideal", "linear")
    one, two = cmp.rows
    assert one.cells["linear"].mean == pytest.approx(110.0 / 1.1 * 1.0, rel=0.02)  # the best 1-thread figure: 100
    assert two.cells["linear"].mean == pytest.approx(200.0, rel=0.02) and two.cells["linear"].metadata["linear"]
    assert two.cells["range/range-list"].metadata["efficiency"] == pytest.approx(190 / 200, rel=0.02)
    assert two.cells["full"].metadata["efficiency"] == pytest.approx(110 / 200, rel=0.02)
    assert two.cells["range"].ratio == pytest.approx(180 / 110, rel=0.02)
    series = throughput_series([path])
    lines = next(iter(series.values()))
    assert lines["linear"] == [(1, pytest.approx(100.0, rel=0.02)), (2, pytest.approx(200.0, rel=0.02))]
    md = render_markdown(cmp, title)
    assert "| threads | full | range | range/range-list | ideal | linear |" in md


def test_rangelock_contended_and_threaded_variants_are_scaling_tables(tmp_path: Path) -> None:
    out = []
    for lock, rate in (("range", 300_000.0), ("range-list", 500_000.0), ("private", 900_000.0)):
        md = {"suite": "rangelock", "op": "contended", "stream": "disjoint", "lock": lock, "backend": lock,
              "threads": 2}  # fmt: skip
        out.append(bench(f"rangelock/contended/disjoint/threads=02/{lock}", [1.0 / rate] * 4, **md))
    out.append(bench("rangelock/write/small/tree=0000/range", [2e-6] * 4, suite="rangelock", op="write",
                     stream="small", n=0, backend="range", lock="range"))  # fmt: skip
    for variant, rate in (("full", 10_000.0), ("range", 15_000.0), ("range/range-list", 16_000.0)):
        md = {"suite": "threaded", "op": "mm", "stream": "disjoint", "index": "maple", "page_work": 16,
              "map_pages": 32, "policy": variant.split("/")[0], "variant": variant, "threads": 2,
              "backend": f"{variant.split('/')[0]}+maple"}  # fmt: skip
        out.append(bench(f"threaded/mm/disjoint/threads=02/{variant}", [1.0 / rate] * 4, **md))
    path = tmp_path / "mix.json"
    pyperf.BenchmarkSuite(out).dump(str(path))
    tables = dict(scaling_comparisons([path]))
    (contended,) = [c for t, c in tables.items() if t.startswith("rangelock contended")]
    assert contended.baseline == "range" and contended.rows[0].cells["range-list"].ratio == pytest.approx(5 / 3)
    (mm,) = [c for t, c in tables.items() if t.startswith("threaded mm")]
    assert mm.columns == ("full", "range", "range/range-list")
    assert mm.rows[0].cells["range/range-list"].ratio == pytest.approx(1.6)
    assert len(tables) == 2  # the uncontended rangelock case stays in the structure table


def test_plot_draws_the_linear_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.report.plot import plot_file

    out = []
    for variant, pair in {"full": (100.0, 110.0), "range": (95.0, 180.0)}.items():
        for threads, rate in zip((1, 2), pair, strict=True):
            md = {"suite": "wis", "op": "brk1", "index": "maple", "page_work": 16, "policy": variant,
                  "variant": variant, "backend": f"{variant}+maple", "threads": threads}  # fmt: skip
            out.append(bench(f"wis/brk1/threads={threads:02d}/{variant}", [1.0 / rate] * 4, **md))
    path = tmp_path / "wis.json"
    pyperf.BenchmarkSuite(out).dump(str(path))
    (png,) = plot_file(path, tmp_path / "plots")
    assert png.name == "wis-brk1-maple.png" and png.read_bytes()[:4] == b"\x89PNG"
