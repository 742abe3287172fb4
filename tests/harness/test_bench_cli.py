"""``vmalab bench`` end to end on a tiny size, Ctrl-C safety, and ``vmalab plot``.

The bench runs use pyperf's ``--debug-single-value`` (one worker, one value)
so each case takes a fraction of a second; no timing is asserted.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyperf
import pytest

from bench import runner
from bench.cli import main
from bench.commands import benchmark as bench_cmd

FIXTURE = Path(__file__).parent / "data" / "compare_fixture.json"
TINY = ["--size", "100", "--backend", "list,sortedcontainers", "--fast", "--debug-single-value"]


def test_bench_writes_a_pyperf_suite(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["bench", "--suite", "lookup,insert", *TINY, "-o", str(out)]) == 0
    suite = pyperf.BenchmarkSuite.load(str(out))
    names = suite.get_benchmark_names()
    assert names == [
        "lookup/lookup/uniform/n=000100/list",
        "lookup/lookup/uniform/n=000100/sortedcontainers",
        "lookup/lookup/locality/n=000100/list",
        "lookup/lookup/locality/n=000100/sortedcontainers",
        "insert/build+remove/random/n=000100/list",
        "insert/build+remove/random/n=000100/sortedcontainers",
        "insert/churn/random/n=000100/list",
        "insert/churn/random/n=000100/sortedcontainers",
    ]
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        assert md["n"] == 100 and md["backend"] in ("list", "sortedcontainers")
        assert md["suite"] in ("lookup", "insert") and bench.get_nvalue() >= 1
        # the interpreter it ran on, as the worker saw it
        free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        assert md["python_build"] == ("free-threaded" if free else "GIL")
        assert md["free_threaded"] == ("yes" if free else "no")
        assert md["gil_enabled"] == ("yes" if getattr(sys, "_is_gil_enabled", lambda: True)() else "no")
        assert md["python_version"] == platform.python_version()
        if md["suite"] == "lookup":
            assert md["probe_depth"] > 0 and md["inner_loops"] == 2048
        elif md["op"] == "churn":
            assert md["inner_loops"] == 2 * 1024  # remove + re-insert of 1,024 VMAs at n
        else:
            assert md["bytes_per_vma"] > 0 and md["inner_loops"] == 200
    table = capsys.readouterr().out
    assert "sortedcontainers" in table and "geomean" in table and "baseline" in table
    # both paths last; the report next to the results
    report = out.with_suffix(".html")
    assert table.rstrip().splitlines()[-2:][0] == f"results: {out}"
    assert table.rstrip().splitlines()[-1].startswith(f"report:  {report}")
    assert report.read_text().count('<table class="cmp"') == 2  # lookup and insert
    # provenance in every benchmark: the command line, the packages, the commit of this checkout
    md = suite.get_benchmarks()[0].get_metadata()
    assert md["vmalab_command"].startswith("vmalab bench --suite lookup,insert --size 100")
    assert "pyperf " in md["vmalab_packages"] and "rich " in md["vmalab_packages"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    if head.returncode == 0:
        assert md["vmalab_commit"] == head.stdout.strip() and md["vmalab_worktree"] in ("clean", "modified")
    # pyperf's own tools read the file
    show = subprocess.run([sys.executable, "-m", "pyperf", "show", str(out)], capture_output=True, text=True)
    assert show.returncode == 0 and "lookup/lookup/uniform/n=000100/list" in show.stdout
    cmp = subprocess.run(
        [sys.executable, "-m", "pyperf", "compare_to", str(out), str(out)], capture_output=True, text=True
    )
    assert cmp.returncode == 0, cmp.stderr


def test_ctrl_c_keeps_finished_benchmarks(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    real_run = subprocess.run
    calls = {"n": 0}

    def run(cmd, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(runner.subprocess, "run", run)
    assert main(["bench", "--suite", "gap", *TINY, "-o", str(out)]) == 130
    suite = pyperf.BenchmarkSuite.load(str(out))
    assert suite.get_benchmark_names() == ["gap/find_gap/bottom-up/n=000100/list"]
    assert not out.with_name(out.name + ".tmp").exists()


def test_bench_list_and_errors(tmp_path, capsys):
    assert main(["bench", "--suite", "overlap", "--size", "1k", "--backend", "list", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "overlap/overlapping/meets=8/n=001000/list" in listed and len(listed) == 6
    assert main(["bench", "--suite", "nosuch", "--list"]) == 2
    assert main(["bench", "--backend", "nosuch", "--list"]) == 2
    assert main(["bench", "--size", "2", "--list"]) == 2
    assert main(["bench", "--backend", "list", "--baseline", "rbtree", "--list"]) == 2


def test_default_backends_include_registered_ones():
    names = bench_cmd.default_backends()
    assert "list" in names
    from structures import available_backends, available_frontends

    if "rbtree" in names and "vmacache" in available_frontends():
        assert "vmacache+rbtree" in names
    assert set(names) - {"vmacache+rbtree"} <= set(available_backends())


def test_plot_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["plot", str(FIXTURE), "-o", str(tmp_path)]) == 0
    # the fixture has one n per case: time per case as bars (no line from a single point)
    for name in ("lookup-time.png", "insert-time.png"):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_bench_extra_options_reach_the_suites(capsys):
    args = ["bench", "--suite", "threaded", "--backend", "list", "--threads", "2", "--list"]
    assert main([*args, "--extra", "policies=full,ideal"]) == 0
    listed = capsys.readouterr().out.split()
    mm = [n for n in listed if n.startswith("threaded/mm/")]
    assert sorted(mm) == [
        "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/full+list",
        "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/ideal+list",
        "threaded/mm/shared/page_work=16/map_pages=32/threads=02/full+list",
    ]
    assert main(["bench", "--suite", "io", "--threads", "1", "--extra", "block=262144", "--list"]) == 0
    assert "io/rw/block=262144/threads=01/range" in capsys.readouterr().out.split()
    assert main(["bench", "--list-extra"]) == 0
    out = capsys.readouterr().out
    assert "block=int" in out and "map_pages=int" in out and "policies=strs" in out


@pytest.mark.parametrize(
    "item, message",
    [
        ("nosuch=1", "'nosuch': not an option of the suites threaded; known: background, lock, map_pages, "
                     "page_work, policies, switch_us"),
        ("page_work", "give KEY=VALUE"),
        ("page_work=lots", "page_work takes an integer"),
        ("policies=full,,vma", "empty value"),
        ("block=262144", "'block': not an option of the suites threaded"),  # io's option, io not selected
    ],
)
def test_bench_extra_errors_name_the_problem(item, message, capsys):
    assert main(["bench", "--suite", "threaded", "--backend", "list", "--list", "--extra", item]) == 2
    assert " ".join(message.split()) in " ".join(capsys.readouterr().err.split())


def test_parse_extra_types():
    from bench.suites import parse_extra

    items = ["block=0x40000", "io_threads=1,2", "policy=vma", "trace_files=a.maps,b.trace.gz"]
    got = parse_extra(items, ["io", "trace"])
    assert got == {"block": 262144, "io_threads": [1, 2], "policy": "vma", "trace_files": ["a.maps", "b.trace.gz"]}
    assert parse_extra([], ["io"]) == {}
    assert parse_extra(["io_threads=2,1,2"], ["io"]) == {"io_threads": [2, 1]}  # a repeat would name two cases alike
    with pytest.raises(ValueError, match="'block' given twice"):
        parse_extra(["block=4096", "block=8192"], ["io"])


def test_lock_dimension_adds_cases_and_keeps_the_old_names(capsys):
    """--extra lock=... adds range-list cases; without it every existing name is what it was."""
    args = ["bench", "--suite", "io,threaded,rangelock", "--backend", "maple", "--threads", "1,2", "--list"]
    assert main(args) == 0
    before = capsys.readouterr().out.split()
    assert "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/range+maple" in before
    assert not any("range-list" in n or "/lock=" in n for n in before)
    assert main([*args, "--extra", "lock=rwsem,range,range-list,ideal"]) == 0
    after = capsys.readouterr().out.split()
    assert all(n.endswith("/mutex") for n in set(before) - set(after))  # only mutex was not asked for
    assert "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/range+maple" in after  # the default lock
    assert "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/range+maple/lock=range-list" in after
    assert "threaded/mm/disjoint/page_work=16/map_pages=32/threads=02/full+maple/lock=range-list" not in after
    assert "io/rw/block=65536/threads=02/range-list" in after
    assert "rangelock/write/small/tree=0000/range-list" in after
    assert "rangelock/contended/disjoint/threads=02/range-list" in after
    assert "rangelock/contended/disjoint/threads=02/private" in after  # the ceilings beside the range locks
    assert "rangelock/contended/overlapping/threads=02/private" not in after  # not correct where threads meet
    assert main([*args, "--extra", "lock=nope"]) == 2
    assert "unknown lock kinds ['nope']" in capsys.readouterr().err


def test_bench_refuses_bad_io_threads(capsys):
    assert main(["bench", "--suite", "io", "--extra", "io_threads=2,0", "--list"]) == 2
    assert "io_threads=[2, 0] must be positive integers" in " ".join(capsys.readouterr().err.split())


def test_append_adds_runs_and_benchmarks_overwrite_replaces(tmp_path, capsys):
    out = tmp_path / "r.json"
    one = ["bench", "--size", "100", "--backend", "list", "--fast", "--debug-single-value", "--no-table"]
    one += ["-o", str(out)]
    assert main([*one, "--suite", "gap"]) == 0
    first = pyperf.BenchmarkSuite.load(str(out))
    names = first.get_benchmark_names()
    assert main([*one, "--suite", "gap"]) == 2  # exists: refused, unchanged
    assert pyperf.BenchmarkSuite.load(str(out)).get_benchmark_names() == names
    assert main([*one, "--suite", "gap", "--append"]) == 0  # the same benchmarks: their runs add up (pyperf)
    appended = pyperf.BenchmarkSuite.load(str(out))
    assert appended.get_benchmark_names() == names
    for name in names:
        assert appended.get_benchmark(name).get_nrun() == 2 * first.get_benchmark(name).get_nrun()
    assert main([*one, "--suite", "overlap", "--filter", "*meets=0*", "--append"]) == 0  # new ones join
    meets0 = "overlap/intersection/meets=0/n=000100/list"
    assert pyperf.BenchmarkSuite.load(str(out)).get_benchmark_names() == [*names, meets0]
    assert main([*one, "--suite", "overlap", "--filter", "*meets=0*", "--overwrite"]) == 0
    assert pyperf.BenchmarkSuite.load(str(out)).get_benchmark_names() == [meets0]


def test_worktree_state_ignores_result_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference run rewrites results/ as it goes: that is not a change to the code measured."""
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    monkeypatch.setattr(runner, "_checkout", lambda: tmp_path)
    (tmp_path / "results" / "a.json").write_text('{"runs": 1}')
    assert runner.provenance(["bench"])["vmalab_worktree"] == "clean"
    (tmp_path / "code.py").write_text("x = 2\n")
    assert runner.provenance(["bench"])["vmalab_worktree"] == "modified"


def test_passes_run_every_case_in_turn_and_add_the_runs(tmp_path, capsys):
    """``--passes 2``: the two cases' runs alternate in time (pass after pass), all in one benchmark each."""
    out = tmp_path / "r.json"
    args = ["bench", "--suite", "gap", "--size", "100", "--backend", "list,sortedcontainers", "--filter", "*bottom-up*"]
    args += ["--debug-single-value", "--no-table", "--no-report", "-o", str(out)]
    assert main([*args, "--passes", "2"]) == 0
    suite = pyperf.BenchmarkSuite.load(str(out))
    names = suite.get_benchmark_names()
    assert len(names) == 2  # the same two benchmarks, not four
    dates = {name: [run.get_metadata()["date"] for run in suite.get_benchmark(name).get_runs()] for name in names}
    first, second = (sorted(dates[n]) for n in names)
    assert len(first) == len(second) == 2  # one run (--debug-single-value) per pass
    # pass after pass: case 1 of pass 2 started after case 2 of pass 1 ended
    assert first[0] < second[0] < first[1] < second[1]
    assert "2 benchmarks x 2 passes" in capsys.readouterr().err


def _one_pass(path: Path, values: list[float], measured: dict[str, object], date: str) -> Path:
    """A one-benchmark result as ``bench.runner`` writes it: a run with values, and its
    ``measure()`` numbers (with the key list) in every run's metadata."""
    md = {"name": "x/case", "unit": "second", "date": date, **measured}
    md[runner.MEASURED_KEY] = ",".join(measured)
    runs = [pyperf.Run([v], warmups=None, metadata=md, collect_metadata=False) for v in values]
    pyperf.BenchmarkSuite([pyperf.Benchmark(runs)]).dump(str(path), replace=True)
    return path


def test_passes_keep_one_value_per_measured_number(tmp_path):
    """The runs of several passes join one benchmark: a ``measure()`` number that differs
    between the passes is their mean (pyperf would show the benchmark none at all), one
    that agrees stays as it is (an int an int), a string is the first pass's; the other
    per-run metadata (``date``) stays each run's own."""
    out = tmp_path / "r.json"
    writer = runner.SuiteWriter(out)
    a = {"lock_wait_s": 0.25, "nodes": 10, "policy": "range"}
    b = {"lock_wait_s": 0.5, "nodes": 10, "policy": "range-list"}
    writer.add(_one_pass(tmp_path / "1.json", [1.0, 1.1], a, "2026-12-05T10:00:00"))
    writer.add(_one_pass(tmp_path / "2.json", [1.2, 1.3], b, "2026-12-05T11:00:00"))
    bench = pyperf.BenchmarkSuite.load(str(out)).get_benchmark("x/case")
    md = bench.get_metadata()
    assert bench.get_values() == (1.0, 1.1, 1.2, 1.3)
    assert md["lock_wait_s"] == 0.375 and md["nodes"] == 10 and type(md["nodes"]) is int
    assert md["policy"] == "range"
    assert md[runner.MEASURED_KEY] == "lock_wait_s,nodes,policy"
    assert "date" not in md  # not a measured number: the runs keep their own
    hours = [run.get_metadata()["date"][:13] for run in bench.get_runs()]
    assert hours == ["2026-12-05T10"] * 2 + ["2026-12-05T11"] * 2


def test_passes_of_a_suite_keep_its_measured_numbers(tmp_path):
    """End to end: ``--passes 2`` of a suite with untimed numbers; each is on the benchmark."""
    out = tmp_path / "r.json"
    args = ["bench", "--suite", "insert", "--size", "100", "--backend", "maple", "--filter", "*random*"]
    args += ["--fast", "--debug-single-value", "--no-table", "--no-report", "-o", str(out), "--passes", "2"]
    assert main(args) == 0
    for bench in pyperf.BenchmarkSuite.load(str(out)).get_benchmarks():
        md = bench.get_metadata()
        keys = md[runner.MEASURED_KEY].split(",")
        assert "insert_nodes_allocated" in keys or "churn_nodes_allocated" in keys
        assert all(k in md for k in keys), [k for k in keys if k not in md]
        assert bench.get_nrun() == 2


def test_zero_passes_are_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "r.json"
    assert main(["bench", "--suite", "gap", "--size", "100", "--backend", "list", "--passes", "0", "-o", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())
