"""Hypothesis state machines: inserts and removes interleaved with ``dup`` and ``bulk_load``.

One machine per backend spec (tiny node variants included), against the
``list`` oracle.  A ``fork`` step continues on a duplicate and scribbles on
the original (which must not show); a ``rebuild`` step continues on a fresh
index filled by ``bulk_load``.  After every step the contents and the queries
match the oracle and ``check()`` recomputes every invariant.
"""

from __future__ import annotations

import contextlib
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
UNIVERSE = 600

pages = st.integers(min_value=0, max_value=UNIVERSE)
sizes = st.sampled_from([1, 1, 2, 3, 8, 40])
addrs = st.one_of(st.integers(min_value=0, max_value=UNIVERSE + 4).map(lambda p: p * P), st.just(TASK_SIZE - 1))


def machine_for(name: str, opts: dict[str, Any]) -> type[RuleBasedStateMachine]:
    class ForkMachine(RuleBasedStateMachine):
        stored = Bundle("stored")

        def __init__(self) -> None:
            super().__init__()
            self.idx = make_index(name, **opts)
            self.ref = make_index("list")

        @rule(target=stored, page=pages, size=sizes)
        def insert(self, page: int, size: int) -> Any:
            x = VMA(page * P, (page + size) * P)
            try:
                self.ref.insert(x)
            except OverlapError:
                with pytest.raises(OverlapError):
                    self.idx.insert(x)
                return multiple()
            self.idx.insert(x)
            return x

        @rule(x=consumes(stored))
        def remove(self, x: VMA) -> None:
            self.ref.remove(x)
            self.idx.remove(x)

        @rule(page=pages)
        def fork(self, page: int) -> None:
            parent = self.idx
            self.idx = parent.dup()
            parent.check()
            # scribble on the original: the duplicate must not see it
            live = parent.to_list()
            if live:
                parent.remove(live[page % len(live)])
            with contextlib.suppress(OverlapError):
                parent.insert(VMA((UNIVERSE + 10 + page) * P, (UNIVERSE + 11 + page) * P))
            parent.clear()

        @rule()
        def rebuild(self) -> None:
            fresh = make_index(name, **opts)
            fresh.bulk_load(self.ref.to_list())
            self.idx = fresh

        @rule(addr=addrs)
        def queries(self, addr: int) -> None:
            assert self.idx.find(addr) == self.ref.find(addr)
            assert self.idx.find_prev(addr) == self.ref.find_prev(addr)
            end = min(TASK_SIZE, addr + 50 * P)
            assert self.idx.overlapping(addr, end) == self.ref.overlapping(addr, end)
            for top in (False, True):
                assert self.idx.find_gap(3 * P, 0, TASK_SIZE, top) == self.ref.find_gap(3 * P, 0, TASK_SIZE, top)

        @invariant()
        def same_contents_and_valid(self) -> None:
            assert len(self.idx) == len(self.ref)
            assert list(self.idx) == list(self.ref)
            self.idx.check()

    ForkMachine.__name__ = f"ForkMachine_{name}"
    return ForkMachine


@pytest.mark.parametrize("spec", BACKEND_SPECS, ids=spec_id)
def test_fork_state_machine(spec: tuple[str, dict[str, Any]]) -> None:
    name, opts = spec
    run_state_machine_as_test(machine_for(name, opts), settings=settings(settings(), stateful_step_count=40))
