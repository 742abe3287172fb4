"""Hypothesis state machines: every backend against the ``list`` oracle.

One ``RuleBasedStateMachine`` per registered backend spec (tiny node variants
included).  After every step each query is compared with the oracle and the
backend's ``check()`` recomputes its invariants from scratch.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from structures import PAGE_SIZE, TASK_SIZE, VMA, OverlapError, make_index
from tests.conftest import BACKEND_SPECS, spec_id

P = PAGE_SIZE
UNIVERSE = 600  # pages: small, so inserts collide and gaps matter

pages = st.integers(min_value=0, max_value=UNIVERSE)
sizes = st.sampled_from([1, 1, 2, 3, 4, 8, 16, 40, 128])
addrs = st.one_of(
    st.integers(min_value=0, max_value=UNIVERSE + 4).map(lambda p: p * P),
    st.integers(min_value=0, max_value=(UNIVERSE + 4) * P),
    st.sampled_from([0, TASK_SIZE - 1]),
)


def machine_for(name: str, opts: dict[str, Any]) -> type[RuleBasedStateMachine]:
    class IndexMachine(RuleBasedStateMachine):
        stored = Bundle("stored")

        def __init__(self) -> None:
            super().__init__()
            self.idx = make_index(name, **opts)
            self.ref = make_index("list")

        @rule(target=stored, page=pages, size=sizes, prot=st.sampled_from([1, 3, 5]))
        def insert(self, page: int, size: int, prot: int) -> Any:
            x = VMA(page * P, (page + size) * P, prot=prot)
            try:
                self.ref.insert(x)
            except OverlapError:
                try:
                    self.idx.insert(x)
                except OverlapError:
                    pass
                else:
                    raise AssertionError(f"{name}: accepted overlapping {x!r}") from None
                return multiple()
            self.idx.insert(x)
            return x

        @rule(x=consumes(stored))
        def remove(self, x: VMA) -> None:
            self.ref.remove(x)
            self.idx.remove(x)

        @rule()
        def clear_sometimes(self) -> None:
            if len(self.ref) > 60:
                self.ref.clear()
                self.idx.clear()

        @rule(addr=addrs)
        def point_queries(self, addr: int) -> None:
            assert self.idx.find(addr) == self.ref.find(addr)
            assert self.idx.lookup(addr) == self.ref.lookup(addr)
            assert self.idx.find_prev(addr) == self.ref.find_prev(addr)

        @rule(addr=addrs, length=st.integers(min_value=1, max_value=300 * P))
        def range_queries(self, addr: int, length: int) -> None:
            end = min(TASK_SIZE, addr + length)
            if end <= addr:
                return
            assert self.idx.intersection(addr, end) == self.ref.intersection(addr, end)
            assert self.idx.overlapping(addr, end) == self.ref.overlapping(addr, end)

        @rule(
            length=st.integers(min_value=1, max_value=64).map(lambda n: n * P),
            low=st.integers(min_value=0, max_value=UNIVERSE).map(lambda n: n * P),
            span=st.one_of(st.integers(min_value=1, max_value=UNIVERSE + 10).map(lambda n: n * P), st.just(TASK_SIZE)),
            top_down=st.booleans(),
        )
        def gap(self, length: int, low: int, span: int, top_down: bool) -> None:
            high = min(TASK_SIZE, low + span)
            got = self.idx.find_gap(length, low, high, top_down)
            want = self.ref.find_gap(length, low, high, top_down)
            assert got == want, (length, low, high, top_down)

        @invariant()
        def same_contents_and_valid(self) -> None:
            assert len(self.idx) == len(self.ref)
            assert list(self.idx) == list(self.ref)
            self.idx.check()

    IndexMachine.__name__ = f"IndexMachine_{name}"
    return IndexMachine


@pytest.mark.parametrize("spec", BACKEND_SPECS, ids=spec_id)
def test_state_machine(spec: tuple[str, dict[str, Any]]) -> None:
    name, opts = spec
    # max_examples and deadline come from the profile loaded in conftest
    run_state_machine_as_test(machine_for(name, opts), settings=settings(settings(), stateful_step_count=40))
