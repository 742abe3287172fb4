"""``tools/pfbound.py``: the page_fault1 bound that results/README.md section 7 quotes."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.scripts import load_script


def _tool() -> ModuleType:
    return load_script("tools/pfbound.py")


def test_bound_serialises_the_whole_mutation_or_only_the_bare_one() -> None:
    bound = _tool().bound
    # write-locked zap: two iterations take F + 2(m + z) against F + m + z
    assert bound(3.0, 0.5, 2.5, False) == pytest.approx((3.0 + 6.0) / 6.0)
    # downgraded zap: only m serialises, the zap overlaps the other thread's faults
    assert bound(3.0, 0.5, 2.5, True) == pytest.approx((3.0 + 2.5 + 1.0) / 6.0)
    # no mutation at all: nothing for any lock to win; a mutation as long as the faults: 1.5
    assert bound(3.0, 0.0, 0.0, False) == 1.0
    assert bound(3.0, 1.0, 2.0, False) == pytest.approx(1.5)


def test_phases_measure_faults_and_a_zap_that_costs_page_work() -> None:
    f, m_full, m = _tool().phases(3)
    assert f > 0 and m > 0
    # 64 populated pages dropped, each with page_work hashes: dearer than an unpopulated munmap
    assert m_full > m


def test_main_prints_all_four_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    _tool().main(["--rounds", "2", "--zap", "0.5"])
    out = capsys.readouterr().out
    assert out.count("(F + 2M) / (F + M) =") == 4
    assert "zap at 0.5 of a fault" in out
