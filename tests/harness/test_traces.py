"""``bench.inputs.traces`` / ``bench.inputs.tracerec``: trace format, strace+perf parsing, replay, the suite."""

from __future__ import annotations

import gzip
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.cli import main
from bench.inputs.tracerec import merge, parse_perf, parse_strace
from bench.inputs.traces import (
    CLONE_VM,
    Event,
    Trace,
    TraceFormatError,
    load_trace,
    parse_trace,
    replay,
    write_trace,
)
from bench.suites import SuiteOptions
from bench.suites import trace as trace_suite
from structures import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, available_backends

DATA = Path(__file__).parent / "data" / "traces"
ROOT = Path(__file__).parents[2]
SHIPPED = sorted((ROOT / "bench" / "traces").glob("*.trace.gz"))
SNAPSHOTS = sorted((ROOT / "bench" / "maps").glob("*.maps"))
BACKENDS = sorted(available_backends())
RW, ANON = PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
HEADER = "# vmalab-trace v1\n"


# ----------------------------------------------------------------------
# format
# ----------------------------------------------------------------------
def test_fixture_parses() -> None:
    tr = load_trace(DATA / "sh-ls.trace")
    assert tr.meta["command"] == "/bin/sh -c 'ls / >/dev/null'"
    assert int(tr.meta["events"]) == len(tr) == 249
    assert tr.counts() == {"fault": 166, "mmap": 38, "seed": 26, "mprotect": 8, "brk": 6, "munmap": 2, "exec": 2,
                           "clone": 1}
    assert all(a.t <= b.t for a, b in itertools.pairwise(tr.events))
    first = tr.events[0]
    assert first.op == "exec" and first.name == "/bin/sh"
    libc = [e for e in tr.events if e.op == "mmap" and e.name.endswith("libc.so.6")]
    assert libc and all(e.args[5] % 4096 == 0 for e in libc)


def test_raw_strace_and_perf_merge_to_the_fixture() -> None:
    events, windows, failed = parse_strace((DATA / "sh-ls.strace.txt").read_text(), "strace")
    perf_text = gzip.decompress((DATA / "sh-ls.perf.txt.gz").read_bytes()).decode()
    faults, mmaps = parse_perf(perf_text, "perf")
    merged, dropped = merge(events, windows, faults, mmaps)
    assert failed == 0 and dropped > 0  # strace's own faults are dropped
    assert merged == load_trace(DATA / "sh-ls.trace").events


def test_roundtrip_plain_and_gzip(tmp_path: Path) -> None:
    evs = [
        Event(0, 7, "exec", (), "/bin/odd name\\with\nnewline"),
        Event(5, 7, "mmap", (0, 0x2000, RW, ANON, 0, 0x7F0000000000), ""),
        Event(9, 7, "fault", (0x7F0000000010,)),
    ]
    for name in ("t.trace", "t.trace.gz"):
        path = write_trace(Trace(evs, {"command": "x"}), tmp_path / name)
        back = load_trace(path)
        assert back.events == evs and back.meta == {"command": "x", "events": "3"}
    assert (tmp_path / "t.trace.gz").read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    "line, why",
    [
        ("10 7 mmapp 0 1000 3 22 0 7f0000000000 ", "unknown op"),
        ("10 7 munmap 7f0000000000", "needs 2 fields"),
        ("10 7 munmap 7f0000000000 1000 5", "takes 2 fields"),
        ("10 7 fault 0x7f00", "bare non-negative hex"),
        ("10 7 fault zz", "must be hex"),
        ("ten 7 fault 1000", "decimal"),
        ("1 7 fault 1000", "goes back"),
        ("10", "expected"),
    ],
)
def test_malformed_line_has_line_number(line: str, why: str) -> None:
    text = HEADER + "# command: x\n5 7 exec /bin/x\n" + line + "\n20 7 fault 1000\n"
    with pytest.raises(TraceFormatError, match=rf"^f\.trace:4: .*{why}"):
        parse_trace(text, "f.trace")


def test_malformed_file_loads_nothing(tmp_path: Path) -> None:
    good = (DATA / "sh-ls.trace").read_text().splitlines()
    i = next(i for i, line in enumerate(good) if i > 100 and " fault " in line)
    good[i] += " junk"  # a fault takes no name
    bad = tmp_path / "bad.trace.gz"
    bad.write_bytes(gzip.compress(("\n".join(good) + "\n").encode()))
    with pytest.raises(TraceFormatError, match=rf"bad\.trace\.gz:{i + 1}: fault takes 1 fields"):
        load_trace(bad)
    with pytest.raises(TraceFormatError, match=r":1: not a vmalab trace"):
        parse_trace("0 1 exec /x\n", "f")


def test_strace_malformed_line() -> None:
    text = (DATA / "sh-ls.strace.txt").read_text().splitlines()
    text.insert(3, "12345 1.5 mmap(NULL, 8192, PROT_READ, MAP_BOGUS, -1, 0) = 0x7f0000000000 <0.000001>")
    with pytest.raises(TraceFormatError, match=r"^s:4: unknown flag 'MAP_BOGUS'"):
        parse_strace("\n".join(text), "s")
    with pytest.raises(TraceFormatError, match=r"^s:1: not an strace line"):
        parse_strace("garbage here\n", "s")


def test_strace_unfinished_resumed_and_failures() -> None:
    text = "\n".join([
        "10  100.000000000 execve(\"/bin/x\", [\"x\"], 0x0 /* 1 var */) = 0 <0.000010000>",
        "10  100.000100000 vfork( <unfinished ...>",
        "11  100.000200000 execve(\"/bin/y\", [\"y\"], 0x0 /* 1 var */ <unfinished ...>",
        "10  100.000300000 <... vfork resumed>) = 11 <0.000200000>",
        "11  100.000400000 <... execve resumed>) = 0 <0.000200000>",
        "11  100.000500000 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot "
        "allocate memory) <0.000001000>",
        "11  100.000600000 mmap(0x7f0000000000, 8192, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, "
        "3</usr/lib/a, b.so>, 0x2000) = 0x7f0000000000 <0.000001000>",
        "11  100.000700000 --- SIGCHLD {si_signo=SIGCHLD} ---",
    ])
    events, windows, failed = parse_strace(text, "s")
    assert failed == 1
    # in completion order (merge() sorts by time later)
    assert [(e.pid, e.op) for e in events] == [(10, "exec"), (10, "clone"), (11, "exec"), (11, "mmap")]
    assert events[1].args == (11, CLONE_VM | 0x4000) and events[1].t == 100_000_100_000  # clone at entry
    mm = events[3]
    assert mm.name == "/usr/lib/a, b.so" and mm.args == (0x7F0000000000, 8192, 5, 0x812, 2, 0x7F0000000000)
    assert mm.t == 100_000_601_000  # calls at exit
    assert windows[11][0] == (100_000_200_000, 100_000_400_000, True)


# ----------------------------------------------------------------------
# replay
# ----------------------------------------------------------------------
def _replay_all(tr: Trace) -> None:
    ref = replay(tr, "list")
    want = ref.states()
    assert want and any(want.values())
    for backend in BACKENDS:
        res = replay(tr, backend)
        assert res.states() == want, backend
        assert (res.unexplained, dict(res.errors)) == (ref.unexplained, dict(ref.errors)), backend
        for mm in res.spaces.values():
            mm.check()


@pytest.mark.parametrize("path", [DATA / "sh-ls.trace", *SHIPPED], ids=lambda p: p.name)
def test_trace_replays_identically_on_every_backend(path: Path) -> None:
    tr = load_trace(path)
    _replay_all(tr)
    res = replay(tr, "list")
    # recorded with perf seeds: the model explains every fault and every call
    assert res.unexplained == 0 and not res.errors and res.unknown_pid == 0
    assert res.ops["fault"] == tr.counts()["fault"]


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name)
def test_snapshot_replays_identically_on_every_backend(path: Path) -> None:
    tr = trace_suite.load_input(path)
    built = Trace([e for e in tr.events if e.op != "munmap"])  # the full replay ends empty
    _replay_all(built)
    assert sum(len(v) for v in replay(built, "list").states().values()) > 100
    res = replay(tr, "list")
    assert res.unexplained == 0 and not res.errors
    assert all(len(mm.index) == 0 for mm in res.spaces.values())


def _ev(t: int, pid: int, op: str, *args: int, name: str = "") -> Event:
    return Event(t, pid, op, tuple(args), name)


def test_replay_semantics_fork_threads_mremap_brk() -> None:
    A = 0x7F0000000000
    evs = [
        _ev(0, 1, "exec", name="/bin/p"),
        _ev(1, 1, "seed", 0x555555554000, 0x555555556000, 5, MAP_PRIVATE, 0, name="/bin/p"),
        _ev(2, 1, "brk", 0, 0x555555560000),
        _ev(3, 1, "brk", 0x555555562000, 0x555555562000),
        _ev(4, 1, "mmap", 0, 0x3000, RW, ANON, 0, A),
        _ev(5, 1, "clone", 2, CLONE_VM),  # thread
        _ev(6, 2, "munmap", A + 0x2000, 0x1000),  # the thread shrinks the shared mapping
        _ev(7, 1, "clone", 3, 0),  # fork: a copy
        _ev(8, 3, "mremap", A, 0x2000, 0x8000, 1, A + 0x100000),  # moves in the child only
        _ev(9, 1, "mremap", A, 0x2000, 0x1000, 0, A),  # shrinks in the parent
        _ev(10, 3, "fault", A),  # unmapped in the child: unexplained
        _ev(11, 3, "fault", A + 0x100000),
        _ev(12, 9, "fault", A),  # a thread the trace never introduced
        _ev(13, 3, "exec", name="/bin/q"),
    ]
    res = replay(Trace(evs), "list")
    assert list(res.spaces) == ["1#1", "3#1", "3#2"]
    parent = res.spaces["1#1"].index.to_list()
    assert [(v.start, v.end, v.name) for v in parent] == [
        (0x555555554000, 0x555555556000, "/bin/p"), (0x555555560000, 0x555555562000, "[heap]"), (A, A + 0x1000, "")]
    child = res.spaces["3#1"].index.to_list()
    assert [(v.start, v.end) for v in child][-1] == (A + 0x100000, A + 0x108000)
    assert child[-1].pgoff == (A + 0x100000) >> 12 and not any(v.start == A for v in child)
    assert res.spaces["3#2"].index.to_list() == []
    assert (res.unexplained, res.unknown_pid, dict(res.errors)) == (1, 1, {})
    _replay_all(Trace(evs))


def test_replay_counts_model_errors() -> None:
    evs = [_ev(0, 1, "exec", name="/x"), _ev(1, 1, "mprotect", 0x7F0000000000, 0x1000, 1)]
    res = replay(Trace(evs), "list")
    assert res.errors == {"mprotect: NotMappedError": 1}


# ----------------------------------------------------------------------
# the recorder, the CLI and the suite
# ----------------------------------------------------------------------
def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    return subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _strace_works(), reason="strace missing or ptrace not permitted")
def test_record_cli_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "true.trace.gz"
    assert main(["trace", "record", "-o", str(out), "--", "true"]) == 0
    tr = load_trace(out)
    assert tr.meta["command"] == "true" and tr.events[0].op == "exec"
    assert tr.counts()["mmap"] > 0 and "faults" in tr.meta
    assert main(["trace", "replay", str(out), "--backend", BACKENDS[-1], "--check"]) == 0
    assert main(["trace", "show", str(out)]) == 0


def test_record_cli_without_command() -> None:
    assert main(["trace", "record", "-o", "/tmp/never.trace"]) == 2


def test_suite_cases_are_deterministic() -> None:
    opts = SuiteOptions(backends=("list", BACKENDS[0]), sizes=(100,), fast=True)
    a = [c.name for c in trace_suite.cases(opts)]
    assert a == [c.name for c in trace_suite.cases(opts)]
    assert "trace/replay/git-log-status/n=000816/list" in a
    assert not any("/replay/python-stdlib/" in n for n in a)  # over FAST_MAX_EVENTS
    full = [c.name for c in trace_suite.cases(SuiteOptions(backends=("list",), sizes=(100,)))]
    assert any("/replay/python-stdlib/" in n for n in full) and any("maps-python-stdlib" in n for n in full)
    case = next(c for c in trace_suite.cases(opts) if "git-log-status" in c.name)
    assert case.time_func(1) > 0 and case.metadata["suite"] == "trace"
