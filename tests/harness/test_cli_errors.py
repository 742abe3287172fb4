"""A user's mistake is one line on stderr naming the problem, exit status 2, and nothing changed.

Each case runs the real command line in a subprocess (``python -m bench.cli``),
so what is checked is what a user sees: no traceback, one line, the words
that name the problem, and no file written or replaced.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "bench" / "traces" / "gcc-hello.trace.gz"
MAPS = ROOT / "bench" / "maps" / "python-stdlib.maps"
FIXTURE = Path(__file__).parent / "data" / "compare_fixture.json"


def vmalab(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **kw: object):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("VMALAB_BACKEND", None) if "VMALAB_BACKEND" not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, cwd=cwd or ROOT, env=full_env,
        timeout=120, **kw,
    )  # fmt: skip


def assert_clean_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    err = proc.stderr
    assert "Traceback" not in err and "Exception" not in err, err
    assert proc.returncode == 2, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    out = {
        "trunc.trace.gz": TRACE.read_bytes()[:300],
        "trunc.maps.gz": gzip.compress(MAPS.read_bytes())[:500],
        "binary.trace": bytes(range(256)) * 4,
        "binary.maps": b"\x7fELF\x02\x01\x01\x00" + bytes(range(200)),
        "corrupt.trace.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 60,
    }
    for name, data in out.items():
        (d / name).write_bytes(data)
    return {name: d / name for name in out}


@pytest.mark.parametrize(
    "args, words",
    [
        (["trace", "show", "{trunc.trace.gz}"], ["trunc.trace.gz", "truncated gzip file"]),
        (["trace", "replay", "{trunc.trace.gz}"], ["truncated gzip file"]),
        (["maps", "--show", "{trunc.maps.gz}"], ["trunc.maps.gz", "truncated gzip file"]),
        (["trace", "show", "{binary.trace}"], ["binary.trace", "binary data", "00 01 02 03"]),
        (["maps", "--show", "{binary.maps}"], ["binary.maps", "binary data", "7f 45 4c 46"]),
        (["trace", "show", "{corrupt.trace.gz}"], ["corrupt.trace.gz", "gzip"]),
        (["bench", "--suite", "trace", "--extra", "trace_files={trunc.trace.gz}", "--list"], ["truncated gzip"]),
    ],
)
def test_truncated_or_garbled_inputs(bad_files: dict[str, Path], args: list[str], words: list[str]) -> None:
    for name, path in bad_files.items():
        args = [a.replace("{" + name + "}", str(path)) for a in args]
    proc = vmalab(*args)
    assert_clean_error(proc, *words)
    assert "\\x" not in proc.stderr  # no garbled bytes, only their hex


def test_misspelled_backend_option_in_a_spec() -> None:
    proc = vmalab("bench", "--backend", "maple[leaf_slot=8]", "--list")
    assert_clean_error(proc, "no option 'leaf_slot'", "did you mean 'leaf_slots'", "maple[leaf_slot=8]")


def test_misspelled_option_and_backend_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.vmalab.options.maple]\nleaf_slot = 8\n")
    for args in (["bench", "--backend", "maple", "--list"], ["bench", "--list"], ["list"]):
        proc = vmalab(*args, cwd=tmp_path)
        assert_clean_error(proc, "leaf_slot", "[tool.vmalab.options.maple]", str(tmp_path / "pyproject.toml"))
    (tmp_path / "pyproject.toml").write_text('[tool.vmalab]\nbackend = "mapel"\n')
    assert_clean_error(vmalab("list", cwd=tmp_path), "unknown backend 'mapel'", "[tool.vmalab] backend in")


def test_unknown_backend_in_the_environment(tmp_path: Path) -> None:
    proc = vmalab("list", cwd=tmp_path, env={"VMALAB_BACKEND": "foo"})
    assert_clean_error(proc, "unknown backend 'foo'", "environment VMALAB_BACKEND", "known backends: ")
    assert proc.stdout == ""


def test_list_names_the_config_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.vmalab]\nbackend = "rbtree"\n')
    proc = vmalab("list", cwd=tmp_path, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert f"(from [tool.vmalab] backend in {tmp_path / 'pyproject.toml'})" in proc.stdout


def test_sizes_beyond_the_machine_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = vmalab("bench", "--suite", "lookup", "--backend", "list", "--size", "100000000000", "-o", str(out))
    assert_clean_error(proc, "--size 100,000,000,000", "at most", "VMAs")
    assert not out.exists()


@pytest.mark.parametrize("flag", ["-p", "-n"])
def test_zero_pyperf_counts_are_refused(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "r.json"
    proc = vmalab("bench", "--suite", "gap", "--size", "100", "--backend", "list", flag, "0", "-o", str(out))
    assert_clean_error(proc, flag, "positive integer")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_option_value_is_one_line_without_the_usage() -> None:
    assert_clean_error(vmalab("bench", "-p", "many"), "vmalab bench: error: argument -p/--processes", "'many'")


def test_existing_output_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "old.json"
    out.write_bytes(FIXTURE.read_bytes())
    before = out.read_bytes()
    args = ["--suite", "gap", "--size", "100", "--backend", "list", "--debug-single-value", "-o", str(out)]
    proc = vmalab("bench", *args)
    assert_clean_error(proc, str(out), "--append", "--overwrite")
    assert out.read_bytes() == before
    assert_clean_error(vmalab("bench", "--suite", "gap", "-o", str(tmp_path)), "is a directory")


def test_compare_of_two_runs_needs_runs(tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    again.write_bytes(FIXTURE.read_bytes())
    proc = vmalab("compare", str(FIXTURE), str(again))
    assert_clean_error(proc, "compare_fixture and again hold 5 of the same benchmarks", "--runs")
    ok = vmalab("compare", "--runs", str(FIXTURE), str(again), env={"COLUMNS": "100"})
    assert ok.returncode == 0, ok.stderr
    assert "runs, baseline compare_fixture" in ok.stdout


def test_compare_pool_refuses_rounds_of_another_machine(tmp_path: Path) -> None:
    data = json.loads(FIXTURE.read_text())
    for bench in data["benchmarks"]:
        for run in bench["runs"]:
            run.setdefault("metadata", {})["hostname"] = "another-machine"
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps(data))
    assert_clean_error(vmalab("compare", "--pool", str(FIXTURE), str(other)), "cannot pool", "elsewhere", "hostname")
    assert_clean_error(vmalab("compare", "--pool", "--runs", str(FIXTURE), str(other)), "not allowed with")
    assert_clean_error(vmalab("compare", "--pool", str(FIXTURE), str(FIXTURE)), "given twice")
    for bench in data["benchmarks"]:  # a second round of the same machine: 10 % slower
        for run in bench["runs"]:
            run["metadata"].pop("hostname")
            run["values"] = [v * 1.1 for v in run["values"]]
    other.write_text(json.dumps(data))
    ok = vmalab("compare", "--pool", str(FIXTURE), str(other), env={"COLUMNS": "100"})
    assert ok.returncode == 0, ok.stderr
    text = " ".join(ok.stdout.split())
    assert "pooled: each benchmark's runs from the 2 files in one cell" in text
    assert "ratios between them" not in text  # one machine, one build: no such warning


@pytest.mark.parametrize("args", [["bench", "--list"], ["bench", "--suite", "gap", "--list"], ["list"]])
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line (`| head` that already exited)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.cli", *args], stdout=write, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)
    assert proc.returncode == 1 and proc.stderr == ""  # quietly, with rich's status for a closed pipe


def test_missing_files_are_one_line(tmp_path: Path) -> None:
    assert_clean_error(vmalab("compare", str(tmp_path / "nope.json")), "no such result file")
    assert_clean_error(vmalab("trace", "show", str(tmp_path / "nope.trace")), "No such file or directory")
    assert_clean_error(vmalab("maps", "--show", str(tmp_path)), "Is a directory")
