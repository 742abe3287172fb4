"""Terminal tables that fit: every reference file at 80, 120 and 200 columns, nothing cut, nothing missing.

The reference files (``results/reference/*.json``) are real runs with every
backend, suite and concurrency family, so rendering each of them at three
widths covers every layout: cases as rows, backends as rows, and cases split
over several tables.  Rendering is deterministic (no timing is involved).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyperf
import pytest
from rich.console import Console

from bench.report.cells import compact_ratio, key_text
from bench.report.compare import compare_files
from bench.report.render import print_comparison
from bench.report.scaling import is_scaling

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = sorted((ROOT / "results" / "reference").glob("*.json"))
FIXTURE = Path(__file__).parent / "data" / "compare_fixture.json"
#: fixed runs (the reference set of 2026-12-04) for the tests that name cells and verdicts
REF = Path(__file__).parent / "data" / "ref"


def render(files: list[Path], width: int, **kw: object) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system="truecolor")
    print_comparison(files, console=console, **kw)  # type: ignore[arg-type]
    return console.export_text()


def words(text: str) -> set[str]:
    return set(re.split(r"[\s│|]+", text))


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("path", REFERENCE, ids=[p.stem for p in REFERENCE])
def test_reference_tables_fit(path: Path, width: int) -> None:
    text = render([path], width)
    assert "…" not in text
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, too_long[:3]
    seen = words(text)
    suite = pyperf.BenchmarkSuite.load(str(path))
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        by_policy = md.get("op") == "mm" or md.get("suite") == "wis"
        # the policy's column is its variant: ``range/range-list`` for the range policy over another lock
        policy = md.get("variant") or md.get("policy")
        column = md.get("lock") if md.get("suite") == "io" else policy if by_policy else None
        name = column or md["backend"]
        assert name in seen, f"{name} missing at width {width}"  # every backend (lock, policy) whole
        for key in ("threads",) if is_scaling(bench) else ("op", "stream", "n"):
            if key in md:
                assert key_text(md[key]) in seen or f"{key} {key_text(md[key])}" in text, (key, md[key])


def test_every_cell_of_a_suite_is_shown(tmp_path: Path) -> None:
    """Not only the names: the ratio of every cell of fast.json is printed, at the narrowest width too."""
    fast = REF / "fast.json"
    cmp = compare_files([fast], keep=lambda b: not is_scaling(b))
    for width in (80, 200):
        text = render([fast], width)
        for row in cmp.rows:
            for col, cell in row.cells.items():
                if not cell.baseline:
                    shown = compact_ratio(cell.ratio)
                    assert shown in text, (row.key, col, shown)


def test_layout_follows_the_width() -> None:
    fast = REF / "fast.json"
    wide = render([fast], 200).splitlines()
    narrow = render([fast], 80).splitlines()
    # 200 columns: one row per case, the backends as columns
    assert any(line.split()[:2] == ["locality", "1,000"] for line in wide if line.strip())
    assert any("sortedcontainers" in line and "vmacache+rbtree" in line for line in wide)
    # 80 columns: the backends as rows, the cases as columns
    assert any(line.startswith("sortedcontainers ") for line in narrow)
    assert any(line.startswith("stream ") and "locality" in line for line in narrow)


def test_verdicts_noise_and_times() -> None:
    fast = REF / "fast.json"
    text = render([fast], 120)
    assert "gap: fastest vmacache+rbtree, 21.9x faster than list; slowest bintrees, 2.18x slower" in text
    assert "lookup: fastest maple, 1.39x faster than list" in " ".join(text.split())
    assert "33.5 us?" in text  # list's gap bottom-up at 10k: ± 11.2 of 33.5 us, over 10 %: flagged noisy
    assert "~1.01x" in text  # maple's intersection at 10k is not significant
    times = render([fast], 200, times=True)
    assert "327 ns ±1%" in times and "1.48x" in times  # every backend's time, with its spread


def test_scaling_tables_fit_and_name_the_cpus() -> None:
    io_file = REF / "io.json"
    text = render([io_file], 80)
    assert "(2 CPUs: more threads than that oversubscribe them)" in " ".join(text.split())
    lines = text.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["threads"])
    assert header.split() == ["threads", "rwsem", "range", "ideal"]
    assert any(line.split()[:2] == ["16", "7.25k"] for line in lines)  # absolute ops/s at 80 columns
    assert "io rw 64k: most ops/s ideal, 2.06x more than rwsem" in " ".join(text.split())


def test_different_machines_and_builds_are_flagged(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    suite = pyperf.BenchmarkSuite.load(str(FIXTURE))
    elsewhere = {"hostname": "bigbox", "cpu_count": 64, "python_version": "3.14.0 (64-bit)", "free_threaded": 1}
    for bench in suite.get_benchmarks():
        bench.update_metadata(elsewhere)
    suite.dump(str(other))
    text = " ".join(render([FIXTURE, other], 120, runs=True).split())
    assert "note: different machines" in text and "bigbox (64 CPUs)" in text
    assert "note: different interpreters" in text and "free-threaded" in text
    assert "ratios between them measure the machines or builds as well as the code" in text


def test_runs_leave_out_benchmarks_of_one_file(tmp_path: Path) -> None:
    suite = pyperf.BenchmarkSuite.load(str(FIXTURE))
    part = tmp_path / "part.json"
    pyperf.BenchmarkSuite(suite.get_benchmarks()[:2]).dump(str(part))
    cmp = compare_files([FIXTURE, part], runs=True)
    assert cmp.dropped == len(suite.get_benchmarks()) - 2 and len(cmp.rows) == 2
    for row in cmp.rows:
        assert set(row.cells) == {"compare_fixture", "part"}  # no row of '-'
    text = render([FIXTURE, part], 80, runs=True)
    assert "benchmarks found in only one file are left out" in text
    # a runs verdict names the runs, not a "fastest" column
    ref = REF
    runs = " ".join(render([ref / "fast.json", ref / "overlap.json"], 120, runs=True).split())
    assert "overlap, runs compared: overlap 1.18x faster than fast (geomean of 28 cases, 12 not significant)" in runs


def test_narrow_console_folds_instead_of_cutting() -> None:
    text = render([REF / "fast.json"], 30)
    assert "…" not in text
