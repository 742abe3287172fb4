"""``vmalab torture``: a bounded run finds no violation; a broken lock is caught."""

from __future__ import annotations

from typing import Any

import pytest

from bench.checks.torture import run_torture
from bench.cli import main
from structures.locks.api import LockHandle
from tests.locks.helpers import ALL_KINDS


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_survives_bounded_torture(kind: str) -> None:
    res = run_torture(threads=4, seconds=2.0, read_ratio=0.5, lock=kind, hold=1, seed=7)
    assert res.ok, res.violations
    assert all(t.ops > 0 for t in res.threads)
    assert sum(t.downgrades for t in res.threads) > 0
    assert res.lock_stats["acquisitions"] >= res.ops
    st = res.lock_stats
    assert st["waiting"] == 0 and st["readers"] == 0 and not st.get("writers", st.get("writer"))


def test_range_list_survives_torture_with_ranges_spanning_shards() -> None:
    """Cells of 2 MiB regions: most ranges have parts in several shards, taken in shard order."""
    res = run_torture(threads=4, seconds=2.0, read_ratio=0.5, lock="range-list", cells=64, max_len=12, seed=3,
                      cell=2 << 20)  # fmt: skip
    assert res.ok, res.violations
    assert all(t.ops > 0 for t in res.threads)


class NoLock:
    """Grants everything: the shadow map must notice writers overlapping."""

    def acquire_read(self, start: int, end: int, timeout: Any = None) -> LockHandle:
        return LockHandle(False, start, end)

    def acquire_write(self, start: int, end: int, timeout: Any = None) -> LockHandle:
        return LockHandle(True, start, end)

    def read(self) -> None: ...

    def write(self) -> None: ...

    def release(self, h: LockHandle) -> None: ...

    def downgrade(self, h: LockHandle) -> None: ...

    def stats(self) -> dict[str, Any]:
        return {}


def test_broken_lock_is_caught() -> None:
    res = run_torture(threads=4, seconds=0.5, read_ratio=0.0, lock=NoLock(), cells=8, max_len=8, hold=2)
    assert not res.ok
    assert any("entered cell" in v for v in res.violations)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_cli_exit_status_over_every_kind(kind: str) -> None:
    assert main(["torture", "--threads", "3", "--seconds", "0.5", "--lock", kind, "--read-ratio", "0.8"]) == 0
    assert main(["torture", "--threads", "0", "--seconds", "0.5"]) == 2


def test_a_crashing_holder_releases_and_its_exception_comes_first(monkeypatch) -> None:
    import bench.checks.torture as engine

    calls = {"n": 0}
    real = engine.page_work

    def flaky(units: int) -> None:
        calls["n"] += 1
        if calls["n"] == 50:
            raise RuntimeError("boom in the holder")
        real(units)

    monkeypatch.setattr(engine, "page_work", flaky)
    res = run_torture(threads=3, seconds=1.0, read_ratio=0.3, lock="range", hold=1, seed=3)
    assert not res.ok
    assert res.violations[0].endswith("crashed: RuntimeError: boom in the holder")
    # the crashed thread let go of its range: no phantom left, nobody stuck behind it
    assert not any("phantom" in v or "still blocked" in v for v in res.violations), res.violations
    assert res.lock_stats["readers"] == 0 and res.lock_stats["writers"] == 0 and res.lock_stats["waiting"] == 0
