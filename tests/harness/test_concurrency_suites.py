"""The concurrency suites (io, rangelock, threaded): valid pyperf files and correct workloads.

Correctness of each threaded workload is asserted here, outside any timing:
the io file holds every thread's bytes and is gone afterwards, the threaded
address space ends in the state a sequential replay gives, ``check()`` passes.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyperf
import pytest

from bench.suites import SuiteOptions, gil_enabled, load_suite
from bench.suites.io import OPS_PER_THREAD, IOFile, tmpfs_dir
from bench.suites.threaded import FAULTS, READS, WRITES, IndexScenario, MMScenario
from structures import available_backends

ROOT = Path(__file__).resolve().parents[2]


def run_case(
    tmp_path: Path, suite: str, case: str, backends: str = "list", threads: str = "1,2", extra: str = "{}"
) -> pyperf.Benchmark:
    out = tmp_path / f"{suite}.json"
    cmd = [
        sys.executable, "-m", "bench.runner",
        "--suite", suite, "--case", case, "--backends", backends, "--sizes", "100", "--threads", threads,
        "--result", str(out), "--fast-cases", "--extra", extra,
        "--processes", "1", "--values", "1", "--warmups", "0", "--loops", "1", "--min-time", "0.001",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    suite_obj = pyperf.BenchmarkSuite.load(str(out))
    (bench,) = suite_obj.get_benchmarks()
    assert bench.get_name() == case
    assert bench.get_nvalue() >= 1 and bench.mean() > 0
    return bench


def test_io_suite_produces_a_valid_file(tmp_path: Path) -> None:
    opts = SuiteOptions(backends=("list",), sizes=(100,), fast=True, threads=(1, 2))
    names = [c.name for c in load_suite("io").cases(opts)]
    assert "io/rw/block=65536/threads=02/range" in names
    assert {n.rsplit("/", 1)[1] for n in names} == {"rwsem", "range", "ideal"}
    bench = run_case(tmp_path, "io", "io/rw/block=65536/threads=02/range")
    md = bench.get_metadata()
    assert md["threads"] == 2 and md["lock"] == "range" and md["ops_per_loop"] == 2 * OPS_PER_THREAD
    assert md["cpu_count"] == (os.cpu_count() or 1)


@pytest.mark.parametrize("kind", ["rwsem", "range", "ideal"])
def test_io_workload_writes_every_region(kind: str) -> None:
    f = IOFile(3, 8192, kind)
    try:
        assert f.run(10) > 0
        f.verify()
        if f.shared is not None:
            st = f.shared.stats()
            assert st["acquisitions"] == 30
            assert st.get("waiting", 0) == 0
    finally:
        f.close()


def test_io_file_is_never_left_behind(tmp_path: Path) -> None:
    directory = tmpfs_dir() or None
    before = set(os.listdir(directory)) if directory else None
    f = IOFile(2, 4096, "range")
    # unlinked at once: no name in the directory even while the file is in use
    assert not os.path.exists(f"/proc/self/fd/{f.fd}") or "(deleted)" in os.readlink(f"/proc/self/fd/{f.fd}")
    if directory:
        assert set(os.listdir(directory)) - before == set()  # type: ignore[operator]
    f.close()


def test_io_interrupted_run_leaves_no_file(tmp_path: Path) -> None:
    """A worker killed in the middle of the io suite leaves nothing in the temp directory."""
    directory = tmpfs_dir() or str(tmp_path)
    script = textwrap.dedent(
        f"""
        import os, sys, time, tempfile
        tempfile.tempdir = {directory!r}
        from bench.suites.io import IOFile
        f = IOFile(2, 65536, "rwsem")
        print(os.readlink(f"/proc/self/fd/{{f.fd}}"), flush=True)
        while True:
            f.run(4)
        """
    )
    before = set(os.listdir(directory))
    # SIGINT back to its default in the child: a shell's background job inherits it ignored,
    # and Python then installs no KeyboardInterrupt handler (the test would hang, not test)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        target = proc.stdout.readline().strip()
        assert "(deleted)" in target
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # never leave the child spinning behind a failed test
            proc.kill()
            proc.wait()
    assert set(os.listdir(directory)) - before == set()


def test_rangelock_suite_cases_and_file(tmp_path: Path) -> None:
    cs = load_suite("rangelock").cases(SuiteOptions(backends=(), sizes=(), fast=False))
    names = {c.name for c in cs}
    assert "rangelock/write/small/tree=0000/range" in names
    assert "rangelock/read/full/tree=1000/rwsem" in names
    assert "rangelock/write/full/tree=1000/range" not in names  # would block: not uncontended
    for c in cs:  # every case really runs uncontended (a blocking one would hang here)
        assert c.time_func(1) > 0
    run_case(tmp_path, "rangelock", "rangelock/write/small/tree=0000/rwsem")


@pytest.mark.parametrize("policy", ["full", "range", "vma", "ideal"])
@pytest.mark.parametrize("scenario", ["disjoint", "shared"])
def test_threaded_mm_ends_like_a_sequential_replay(policy: str, scenario: str) -> None:
    backend = "maple" if "maple" in available_backends() else "list"
    if policy == "ideal" and scenario == "shared":
        with pytest.raises(ValueError, match="only correct in the disjoint scenario"):
            MMScenario(backend, policy, 3, scenario, 1)
        return
    sc = MMScenario(backend, policy, 3, scenario, 1, map_pages=5)
    for _ in range(2):
        assert sc.run() > 0
    if policy == "ideal":
        # no shared lock at all: nobody took the mmap lock (verify's check() below will)
        assert sc.mm.index.lock.stats()["acquisitions"] == 0
    sc.verify()
    c = sc.counters()
    assert c["map_rounds"] >= 0
    # every fault thread's faults and the mapping thread's touches, nothing else
    assert c["faults"] == 2 * 3 * FAULTS + 5 * c["map_rounds"]
    if policy in ("range", "vma") and scenario == "disjoint":
        assert c["lock_contended"] == 0  # disjoint ranges never wait for each other


def test_threaded_mm_measures_the_write_locked_share() -> None:
    sc = MMScenario("list", "full", 2, "disjoint", 4, map_pages=8)
    assert sc.counters()["write_locked_frac"] == 0.0  # nothing timed yet
    sc.instrument()
    for _ in range(200):  # until some write section fell inside a timed window (a busy CI box may need a few)
        sc.run()
        if sc.write_locked_s > 0:
            break
    sc.verify()  # the instrumented mutate still does the real work
    assert sc.map_rounds > 0 and sc.write_locked_s > 0
    assert 0.0 <= sc.counters()["write_locked_frac"] < 1.0  # zero when nobody wrote would have failed above


def test_threaded_ideal_policy_locks_privately_per_thread() -> None:
    from bench.suites.threaded import IdealPolicy
    from structures.mm.address_space import AddressSpace

    mm = AddressSpace("list", policy=IdealPolicy)
    assert mm.policy.name == "ideal" and isinstance(mm.policy, IdealPolicy)
    locks = []

    def grab() -> None:
        locks.append(mm.policy._lock())
        locks.append(mm.policy._lock())

    t = threading.Thread(target=grab)
    t.start()
    t.join()
    grab()
    assert locks[0] is locks[1] and locks[2] is locks[3] and locks[0] is not locks[2]
    addr = mm.mmap(4 * 4096)
    mm.fault(addr, True)
    mm.munmap(addr, 4 * 4096)
    mm.check()
    assert mm.rss() == 0 and mm.vmas() == []


def test_threaded_cases_follow_the_extra_options() -> None:
    suite = load_suite("threaded")
    extra = {"map_pages": 4, "policies": ["full", "ideal"]}
    opts = SuiteOptions(backends=("list",), sizes=(100,), threads=(1, 2), extra=extra)
    cases = suite.cases(opts)
    mm = [c for c in cases if c.name.startswith("threaded/mm/")]
    assert {c.metadata["policy"] for c in mm} == {"full", "ideal"}
    assert all(c.metadata["map_pages"] == 4 for c in mm)
    # the ideal (no shared lock) baseline exists only where nobody shares a VMA
    assert not [c for c in mm if c.metadata["policy"] == "ideal" and c.metadata["stream"] == "shared"]
    assert len([c for c in mm if c.metadata["policy"] == "ideal"]) == 2
    for bad, match in (
        ({"policies": ["full", "bogus"]}, "unknown policies"),
        ({"map_pages": 0}, "map_pages=0"),
        ({"page_work": -1}, "page_work=-1"),
        ({"map_pages": 1025}, "map_pages=1025 must be between 1 and 1024"),
    ):
        with pytest.raises(ValueError, match=match):
            suite.cases(SuiteOptions(backends=("list",), sizes=(100,), extra=bad))
    with pytest.raises(ValueError, match="32 writer threads: the shared index region holds the VMAs of at most 31"):
        suite.cases(SuiteOptions(backends=("list",), sizes=(100,), threads=(2, 32)))
    with pytest.raises(ValueError, match="background=0 must be at least 1"):
        suite.cases(SuiteOptions(backends=("list",), sizes=(100,), extra={"background": 0}))
    idx = [c for c in suite.cases(SuiteOptions(backends=("list",), sizes=(100,), threads=(2,), extra={"background": 3}))
           if c.name.startswith("threaded/index/")]  # fmt: skip
    assert idx and all(c.metadata["background"] == 3 and "/background=3/" in c.name for c in idx)
    ins = next(c for c in idx if c.metadata["op"] == "insert")
    assert (ins.metadata["readers"], ins.metadata["writers"]) == (3, 2)


@pytest.mark.parametrize("op", ["lookup", "overlap", "insert"])
@pytest.mark.parametrize("scenario", ["disjoint", "shared"])
def test_threaded_index_scenario(scenario: str, op: str) -> None:
    for backend in [b for b in ("list", "rbtree", "maple", "xarray") if b in available_backends()]:
        sc = IndexScenario(backend, 3, scenario, op)
        for _ in range(2):
            assert sc.run() > 0
        sc.verify()  # every cycle whole: the index holds exactly the stable VMAs again
        c = sc.counters()
        if op == "insert":
            assert c["writer_ops"] == 2 * 3 * 2 * WRITES  # what the timed writers report doing, every cycle whole
        else:
            assert c["background_reads"] == 0 and sc._done_ops == [READS] * 3  # every reader read its stream


@pytest.mark.parametrize("op", ["lookup", "insert"])
def test_threaded_index_with_several_background_threads(op: str) -> None:
    sc = IndexScenario("list", 2, "shared", op, background=3)
    assert len(sc.churn if op == "lookup" else sc.streams) == 3  # three writers, or three readers
    for _ in range(3):
        sc.run()
    sc.verify()
    assert len(sc._bg_ops) == 3
    if op == "insert":
        assert sc.counters()["writer_ops"] == 3 * 2 * 2 * WRITES
    with pytest.raises(ValueError, match="background=0 must be at least 1"):
        IndexScenario("list", 1, "shared", op, background=0)


def test_threaded_index_writers_get_their_own_vmas() -> None:
    for scenario in ("disjoint", "shared"):
        sc = IndexScenario("list", 16, scenario, "insert")
        every = [v for vs in sc.churn for v in vs]
        assert len(every) == 16 * WRITES
        ordered = sorted(every + sc.stable, key=lambda v: v.start)
        assert all(a.end <= b.start for a, b in itertools.pairwise(ordered))  # nobody overlaps
    with pytest.raises(ValueError, match="known: lookup, overlap, insert"):
        IndexScenario("list", 1, "shared", "scan")
    with pytest.raises(ValueError, match="the shared region has"):
        IndexScenario("list", 64, "shared", "insert")
    with pytest.raises(ValueError, match="switch_us=0 must be positive"):
        IndexScenario("list", 1, "shared", "lookup", switch_us=0)


def test_threaded_index_run_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    sc = IndexScenario("list", 2, "shared", "lookup", switch_us=250)
    seen = []
    lookup = sc.idx.lookup

    def spy(addr: int) -> object:
        seen.append(sys.getswitchinterval())
        return lookup(addr)

    sc.idx.lookup = spy  # type: ignore[method-assign]
    sc.run()
    # the interval asked for, in every reader; with the GIL off there is none to set
    want = 250 if gil_enabled() else round(before * 1e6)
    assert seen and {round(x * 1e6) for x in seen} == {want}
    assert round(sys.getswitchinterval() * 1e6) == round(before * 1e6)


def test_threaded_index_switch_us_metadata_says_na_without_the_gil() -> None:
    case = next(c for c in load_suite("threaded").cases(SuiteOptions(backends=("list",), sizes=(), threads=(1,)))
                if c.name.startswith("threaded/index/"))
    assert case.metadata["switch_us"] == (100 if gil_enabled() else "n/a")
    assert "/switch_us=100/" in case.name  # one name on both builds: GIL and free-threaded runs pair up


def test_threaded_suite_produces_a_valid_file(tmp_path: Path) -> None:
    name = "threaded/mm/disjoint/page_work=16/map_pages=32/threads=01/range+list"
    bench = run_case(tmp_path, "threaded", name, threads="1")
    md = bench.get_metadata()
    assert md["policy"] == "range" and md["threads"] == 1
    assert "lock_wait_s" in md and "retries" in md  # measured outside the timing
    bench = run_case(tmp_path, "threaded", "threaded/index/overlap/shared/switch_us=100/background=1/threads=01/list",
                     threads="1")
    assert json.loads(json.dumps(bench.get_metadata()))["stream"] == "shared"


# ----------------------------------------------------------------------
# rangelock contended, wis
# ----------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ["disjoint", "adjacent", "overlapping"])
@pytest.mark.parametrize("kind", ["rwsem", "range", "range-list", "private", "regions"])
def test_rangelock_contended_workload(kind: str, pattern: str) -> None:
    from bench.suites.rangelock import Contended

    if kind in ("private", "regions") and pattern == "overlapping":
        with pytest.raises(ValueError, match="only correct where no two threads meet"):
            Contended(kind, pattern, 2)
        return
    sc = Contended(kind, pattern, 3)
    assert sc.run(200) > 0 and sc.run(100) > 0
    sc.verify()
    assert sc.done == [300, 300, 300]
    if kind == "range-list" and pattern == "disjoint":
        assert sc.shared.stats()["contended"] == 0  # regions of their own: nobody ever waits


def test_rangelock_contended_case_in_a_valid_file(tmp_path: Path) -> None:
    opts = SuiteOptions(backends=(), sizes=(), fast=True, threads=(1, 2), extra={"lock": ["range-list"]})
    cs = {c.name: c for c in load_suite("rangelock").cases(opts)}
    case = cs["rangelock/contended/disjoint/threads=02/range-list"]
    assert case.metadata["op"] == "contended" and case.metadata["lock"] == "range-list"
    assert case.inner_loops == case.metadata["ops_per_loop"]
    assert "rangelock/contended/adjacent/threads=02/regions" in cs
    bench = run_case(tmp_path, "rangelock", "rangelock/contended/disjoint/threads=02/range-list",
                     extra='{"lock": ["range-list"]}')  # fmt: skip
    assert bench.get_metadata()["threads"] == 2


WIS_VARIANTS = [("full", "rwsem"), ("range", "range"), ("range", "range-list"), ("vma", "rwsem"), ("ideal", "rwsem")]


@pytest.mark.parametrize("test", ["page_fault1", "mmap1", "malloc1", "brk1"])
@pytest.mark.parametrize("policy, lock", WIS_VARIANTS)
def test_wis_tests_leave_the_address_space_as_they_found_it(test: str, policy: str, lock: str) -> None:
    from bench.suites.wis import OPS, WisScenario

    sc = WisScenario(test, policy, 3, "maple", 1, lock)
    assert sc.run(10) > 0 and sc.run(10) > 0  # enough interleaving for brk1's threads to drift, had they
    assert sc.ops == 3 * 20 * OPS[test]
    sc.verify()
    assert type(sc.mm.index.lock).__name__ == {"rwsem": "RWSemaphore", "range": "RangeLock",
                                               "range-list": "RangeListLock"}[lock]  # fmt: skip


def test_wis_page_fault1_splits_an_iteration_into_its_phases_only_when_asked() -> None:
    from bench.suites.wis import WisScenario

    sc = WisScenario("page_fault1", "full", 2, "maple", 1, "rwsem")
    sc.run(2)
    assert "fault_phase_us" not in sc.counters()  # the timed runs never time phases
    sc.time_phases()
    sc.run(3)
    c = sc.counters()
    assert c["fault_phase_us"] > 0 and c["map_phase_us"] > 0
    assert set(sc._phases or {}) == set(sc.regions)  # one pair per thread, each thread its own
    brk = WisScenario("brk1", "full", 1, "maple", 1, "rwsem")
    brk.time_phases()
    brk.run(2)
    assert "fault_phase_us" not in brk.counters()
    sc.verify()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="binding threads to CPUs needs sched_setaffinity")
def test_wis_binds_thread_i_to_cpu_i_mod_n_as_will_it_scale_unless_told_not_to() -> None:
    from bench.suites.wis import WisScenario

    class Probe(WisScenario):
        def brk1(self, base: int) -> int:
            seen[base] = os.sched_getaffinity(0)
            return super().brk1(base)

    cpus = sorted(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    seen: dict[int, set[int]] = {}
    sc = Probe("brk1", "full", 3, "maple", 1, "rwsem")
    sc.run(1)
    assert [seen[b] for b in sc.regions] == [{cpus[i % len(cpus)]} for i in range(3)]
    assert os.sched_getaffinity(0) == before  # the caller's thread stays unbound
    seen.clear()
    free = Probe("brk1", "full", 2, "maple", 1, "rwsem", affinity="none")
    free.run(1)
    assert [seen[b] for b in free.regions] == [before, before]
    sc.verify()
    free.verify()
    broken = WisScenario("brk1", "full", 2, "maple", 1, "rwsem")
    broken.cpus = [cpus[0], 1 << 20]  # thread 1 cannot be bound: thread 0, at the barrier, must not wait forever
    with pytest.raises((OSError, ValueError)):
        broken.run(1)
    assert broken.mm.vmas() == broken.initial and broken.ops == 0
    with pytest.raises(ValueError, match="unknown affinity 'numa'"):
        WisScenario("brk1", "full", 2, "maple", 1, "rwsem", affinity="numa")
    with pytest.raises(ValueError, match="unknown affinity"):
        load_suite("wis").cases(SuiteOptions(backends=("maple",), sizes=(), extra={"affinity": "numa"}))


def test_wis_cases_and_file(tmp_path: Path) -> None:
    opts = SuiteOptions(backends=("list", "maple"), sizes=(), fast=False, threads=(1, 2))
    cs = {c.name: c for c in load_suite("wis").cases(opts)}
    assert len(cs) == 4 * 2 * 5  # tests x threads x (full, range x 2 locks, vma, ideal)
    pf = cs["wis/page_fault1/threads=02/range+maple/lock=range-list"]
    md = pf.metadata
    assert md["variant"] == "range/range-list" and md["lock"] == "range-list" and md["policy"] == "range"
    assert pf.inner_loops == 2 * 64 and cs["wis/brk1/threads=01/full+maple"].metadata["lock"] == "rwsem"
    only = SuiteOptions(backends=("maple",), sizes=(), fast=True, threads=(2,),
                        extra={"tests": ["brk1"], "policies": ["range"], "lock": ["range-list"]})  # fmt: skip
    assert [c.name for c in load_suite("wis").cases(only)] == ["wis/brk1/threads=02/range+maple/lock=range-list"]
    with pytest.raises(ValueError, match="unknown tests"):
        load_suite("wis").cases(SuiteOptions(backends=(), sizes=(), extra={"tests": ["nope"]}))
    bench = run_case(tmp_path, "wis", "wis/malloc1/threads=02/range+maple/lock=range-list", backends="maple")
    md = bench.get_metadata()
    assert md["ops_counted"] == 3 * 2 * 8 and md["threads"] == 2  # measure(): 3 loops x 2 threads x 8 mallocs
    assert md["affinity"] == "cores"


def test_wis_zap_work_sets_what_a_munmap_costs_per_page_and_defaults_to_page_work() -> None:
    from bench.suites.wis import WisScenario

    base = SuiteOptions(backends=("maple",), sizes=(), threads=(1,), extra={"tests": ["page_fault1"], "page_work": 16})
    md = load_suite("wis").cases(base)[0].metadata
    assert md["page_work"] == 16 and md["zap_work"] == 16  # the model's zap: a fault's page work per page
    kernel = SuiteOptions(backends=("maple",), sizes=(), threads=(1,),
                          extra={"tests": ["page_fault1"], "page_work": 16, "zap_work": 2})  # fmt: skip
    assert {c.metadata["zap_work"] for c in load_suite("wis").cases(kernel)} == {2}
    with pytest.raises(ValueError, match="zap_work=-1 must not be negative"):
        load_suite("wis").cases(SuiteOptions(backends=("maple",), sizes=(), extra={"zap_work": -1}))
    sc = WisScenario("page_fault1", "full", 1, "maple", 3, "rwsem", zap_work=0)
    assert sc.mm.page_work == 3 and sc.mm.zap_work == 0
    sc.run(2)
    sc.verify()


@pytest.mark.parametrize("policy, lock", WIS_VARIANTS)
def test_wis_downgrade_zaps_under_the_read_lock_and_leaves_nothing_behind(policy: str, lock: str) -> None:
    from bench.suites.wis import WisScenario

    for test in ("page_fault1", "malloc1", "brk1"):
        sc = WisScenario(test, policy, 2, "maple", 1, lock, zap_work=1, downgrade=True)
        assert sc.mm.munmap_downgrade
        sc.run(4)
        sc.verify()
    opts = SuiteOptions(backends=("maple",), sizes=(), threads=(1,), extra={"tests": ["page_fault1"], "downgrade": 1})
    assert {c.metadata["downgrade"] for c in load_suite("wis").cases(opts)} == {1}
    with pytest.raises(ValueError, match="downgrade=2 must be 0 or 1"):
        load_suite("wis").cases(SuiteOptions(backends=("maple",), sizes=(), extra={"downgrade": 2}))
