"""Where maple's write time goes in a random build + teardown, and what keeping free runs whole costs it.

The ``insert`` suite's ``build+remove/random`` case inserts ``n`` VMAs of
``synthetic_layout(n, seed)`` in a seeded random order and removes them in the same order.
This tool replays that on ``maple`` one operation at a time and sorts each by the write it
made (from ``write_stats()`` deltas, read outside the timed call):

* insert: *exact fill* (the VMA spans its None slot: one slot store, no node), *one leaf*
  (a new leaf published into its parent), *split* (a leaf or more split, up the tree);
* remove: *one leaf*, *None join* (the new None reaches a leaf's edge and meets the
  neighbouring leaf's edge None: maple moves their boundary or merges the two leaves, so
  that every maximal free run stays one slot), *underfill* (a merge or borrow with no join).

Each call is timed alone (``perf_counter`` around it: ~0.1 us of timer in every number),
so the per-kind medians are for comparing the kinds, not for quoting as the suite's figure.

Then an A/B in one process, interleaved rounds (the first one untimed): ``maple``, ``maple``
whose removes skip the cross-leaf None join, and ``sortedcontainers``.  The join is skipped
by standing in, for the duration of the teardown only, a ``store.edge_slot`` that reports no
neighbouring leaf: nothing else changes (an underfull leaf still merges or borrows, and a
merge still joins the two leaves' edge Nones), and the tree ends empty and valid, but between
the first skipped join and the end of the teardown it breaks maple's invariant (two Nones
side by side across leaves, which ``find_gap`` relies on never meeting), so the variant is
no backend and is timed here only.  Its time is what the lab's maple would cost if free runs
were kept whole only inside a leaf, as the kernel's store extends a NULL (``mas_wr_extend_null``)::

    .venv/bin/python tools/writecost.py            # n = 10,000, 21 rounds
    .venv/bin/python tools/writecost.py --n 1000 --rounds 11
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import structures.backends.maple.store as maple_store
from bench.inputs.workloads import synthetic_layout
from structures import VMA
from structures.backends.maple.node import Node
from structures.registry import index_factory

KINDS = (
    ("insert", "exact fill"),
    ("insert", "one leaf"),
    ("insert", "split"),
    ("remove", "one leaf"),
    ("remove", "None join"),
    ("remove", "underfill"),
)


def random_order(n: int, seed: int = 0) -> list[VMA]:
    """The insert suite's random order: ``synthetic_layout(n, seed)``, shuffled by its seeded draw."""
    vmas = list(synthetic_layout(n, seed).vmas)
    random.Random(f"vmalab-insert-{n}-{seed}").shuffle(vmas)
    return vmas


@dataclass
class Kind:
    """The calls of one kind of write: their count and each one's seconds."""

    times: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times)


EdgeSlot = Callable[[list[Node], list[int], int, int], Any]


@contextmanager
def _edge_slot(stand_in: EdgeSlot) -> Iterator[None]:
    """While active, the remove fast path's neighbour probe (``store.edge_slot``) is ``stand_in``."""
    real = maple_store.edge_slot
    maple_store.edge_slot = stand_in  # type: ignore[assignment]  # (same signature, as a Callable)
    try:
        yield
    finally:
        maple_store.edge_slot = real


@contextmanager
def joins_seen() -> Iterator[list[int]]:
    """While active, ``seen[0]`` counts the remove fast path's neighbour probes that found the
    neighbouring leaf's edge None (a None join follows)."""
    real = maple_store.edge_slot
    seen = [0]

    def probe(parents: list[Node], idxs: list[int], depth: int, step: int) -> Any:
        slot = real(parents, idxs, depth, step)
        if slot is None:
            seen[0] += 1
        return slot

    with _edge_slot(probe):
        yield seen


def no_cross_leaf_join() -> AbstractContextManager[None]:
    """While active, maple's removes see no neighbouring leaf, so they never join their new
    edge None with the neighbour's (the module docstring says what that breaks)."""
    return _edge_slot(lambda parents, idxs, depth, step: 0)  # edge_slot's answer for "no such leaf"


def classify(vmas: list[VMA]) -> dict[tuple[str, str], Kind]:
    """Build and tear down one ``maple`` index over ``vmas``, each call timed and sorted into ``KINDS``."""
    out = {k: Kind() for k in KINDS}
    idx = index_factory("maple")()
    idx.write_stats(reset=True)
    clock = time.perf_counter
    for v in vmas:
        t = clock()
        idx.insert(v)
        dt = clock() - t
        st = idx.write_stats(reset=True)
        kind = "split" if st["rebalances"] else "one leaf" if st["nodes_allocated"] else "exact fill"
        out["insert", kind].times.append(dt)
    with joins_seen() as seen:
        for v in vmas:
            before = seen[0]
            t = clock()
            idx.remove(v)
            dt = clock() - t
            st = idx.write_stats(reset=True)
            kind = "None join" if seen[0] > before else "underfill" if st["rebalances"] else "one leaf"
            out["remove", kind].times.append(dt)
    idx.check()
    return out


def _build_teardown(new_index: Callable[[], Any], vmas: list[VMA], join: bool) -> float:
    """Seconds per operation of one build + teardown (the insert suite's timed loop body)."""
    idx = new_index()
    insert, remove = idx.insert, idx.remove
    t0 = time.perf_counter()
    for v in vmas:
        insert(v)
    with nullcontext() if join else no_cross_leaf_join():
        for v in vmas:
            remove(v)
    return (time.perf_counter() - t0) / (2 * len(vmas))


VARIANTS = ("maple", "maple, no cross-leaf join", "sortedcontainers")


def ab(vmas: list[VMA], rounds: int) -> dict[str, list[float]]:
    """Seconds per operation of each of ``VARIANTS``, ``rounds`` interleaved rounds (the order
    alternates each round) after one untimed round, with a collection before each."""
    maple = index_factory("maple")
    runs: list[tuple[str, Callable[[], Any], bool]] = [
        (VARIANTS[0], maple, True),
        (VARIANTS[1], maple, False),
        (VARIANTS[2], index_factory("sortedcontainers"), True),
    ]
    for _, new_index, join in runs:
        _build_teardown(new_index, vmas, join)
    out: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for r in range(rounds):
        for name, new_index, join in runs if r % 2 == 0 else runs[::-1]:
            gc.collect()
            out[name].append(_build_teardown(new_index, vmas, join))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="VMAs (default 10,000, the issue's size)")
    ap.add_argument("--rounds", type=int, default=21, help="interleaved A/B rounds (default 21)")
    ap.add_argument("--seed", type=int, default=0, help="the layout and order seed (default 0)")
    args = ap.parse_args(argv)
    if args.n < 1 or args.rounds < 1:
        ap.error("--n and --rounds must be at least 1")
    vmas = random_order(args.n, args.seed)
    print(f"Python {sys.version.split()[0]}, maple, {args.n:,} VMAs, the insert suite's random order")
    kinds = classify(vmas)
    total = sum(sum(k.times) for k in kinds.values())
    print(f"  {'op':7s} {'write':11s} {'per op':>7s} {'median us':>10s} {'share':>6s}")
    for (op, name), k in kinds.items():
        share = sum(k.times) / total if total else 0.0
        med = statistics.median(k.times) * 1e6 if k.times else 0.0
        print(f"  {op:7s} {name:11s} {k.count / args.n:7.3f} {med:10.2f} {share:6.1%}")
    times = ab(vmas, args.rounds)
    base = statistics.median(times["sortedcontainers"])
    print(f"  A/B, {args.rounds} interleaved rounds, medians (us per op of build + teardown):")
    for name in VARIANTS:
        med = statistics.median(times[name])
        print(f"    {name:28s} {med * 1e6:6.3f}  {med / base:5.3f}x sortedcontainers")


if __name__ == "__main__":
    main()
