"""Suite-level properties: deterministic case lists, sortable unique names, churn keeps n."""

from __future__ import annotations

import pytest

from bench.suites import SuiteOptions, available_suites, load_suite

OPTS = SuiteOptions(backends=("list", "sortedcontainers"), sizes=(100, 1000), fast=False, threads=(1, 2))


@pytest.mark.parametrize("suite", sorted(available_suites()))
def test_case_lists_are_deterministic_and_unique(suite: str) -> None:
    """pyperf re-runs the script in every worker: the list must come out identical."""
    mod = load_suite(suite)
    first = [(c.name, sorted(c.metadata.items(), key=str), c.inner_loops) for c in mod.cases(OPTS)]
    second = [(c.name, sorted(c.metadata.items(), key=str), c.inner_loops) for c in mod.cases(OPTS)]
    assert first == second
    names = [n for n, _, _ in first]
    assert len(names) == len(set(names)), "two cases share a name"
    for name, md, _ in first:
        meta = dict(md)
        assert name.startswith(f"{suite}/")
        assert meta["suite"] == suite and "backend" in meta


def test_churn_keeps_the_index_at_n() -> None:
    cases = [c for c in load_suite("insert").cases(OPTS) if "/churn/" in c.name]
    assert {c.metadata["n"] for c in cases} == {100, 1000}
    assert all(c.metadata["op"] == "churn" and c.inner_loops == 2 * 1024 for c in cases)
    case = next(c for c in cases if c.metadata["backend"] == "sortedcontainers" and c.metadata["n"] == 100)
    assert case.time_func(3) > 0
    fn = case.time_func
    state = fn.__closure__[fn.__code__.co_freevars.index("state")].cell_contents  # type: ignore[index]
    index, victims = state.get()
    assert len(index) == 100 and len(victims) == 1024  # every remove was followed by its insert
    index.check()


def test_lookup_measure_reports_the_vmacache_hit_rate() -> None:
    opts = SuiteOptions(backends=("vmacache+list", "list"), sizes=(1000,), fast=True)
    got = {c.name: c.measure() for c in load_suite("lookup").cases(opts) if "locality" in c.name}  # type: ignore[attr-defined]
    cached = got["lookup/lookup/locality/n=001000/vmacache+list"]
    assert 0.8 < cached["hit_rate"] < 1.0  # runs of ~16 accesses inside one VMA
    assert "hit_rate" not in got["lookup/lookup/locality/n=001000/list"]


@pytest.mark.parametrize("suite", sorted(s for s in available_suites() if getattr(load_suite(s), "EXTRA", None)))
def test_declared_extra_options_are_well_formed(suite: str) -> None:
    """Every ``EXTRA`` entry has a known kind and a help line naming its suite."""
    for key, (kind, help_) in load_suite(suite).EXTRA.items():
        assert kind in ("int", "ints", "str", "strs"), key
        assert help_.startswith(f"{suite}"), key


def test_trace_suite_refuses_an_unknown_policy() -> None:
    opts = SuiteOptions(backends=("list",), sizes=(100,), fast=True, extra={"policy": "bogus"})
    with pytest.raises(ValueError, match="unknown policy 'bogus'; known: full, range, vma"):
        load_suite("trace").cases(opts)
