"""``check()`` for the xarray backend: every invariant recomputed from the slots.

Invariant
---------
What ``structures.backends.xarray.node`` and ``.index`` promise (see their
docstrings), split into named sub-checks; each ``InvariantError`` names the
node (``shift`` and first page index ``base``) and the slot, and for a small
tree (at most ``DUMP_NODES`` nodes) carries the tree's ``dump``:

* ``check_shape``   shift/offset/parent/reach consistency, no dead or empty
  linked node, nodes only above the leaves;
* ``check_slots``   ``count``, ``present``, ``full`` and every ``marks[m]``
  recomputed from the slots (marks only on canonical slots, propagated
  upward), siblings directly follow their canonical slot, each multi-index
  entry spans a power-of-two, naturally aligned run of slots, never all of
  them (that block's order is the parent's);
* ``check_entries`` each VMA's blocks are exactly its minimal aligned
  power-of-two decomposition, the number of VMAs matches ``len()``, and all
  blocks of a VMA agree on their marks;
* ``check_height``  minimal height (the root cannot shrink).

Layout
------
Functions over a root ``XANode`` (nothing here knows the index class);
``XArrayIndex._check`` calls ``check_tree`` with the writer mutex held::

    check_tree(root, C, count)
      +-- check_shape(root, C)      links and geometry
      +-- check_slots(root, C)  --> {VMA: [(index, order, mark bits), ...]}
      +-- check_entries(blocks, count)
      +-- check_height(root)

API
---
``check_tree(root, chunk_shift, count)``, ``check_shape``, ``check_slots``,
``check_entries``, ``check_height``; ``DUMP_NODES``.
"""

from __future__ import annotations

from itertools import islice

from structures.backends.xarray.node import XA_MAX_MARKS, XANode, XASibling, blocks_of, dump, nodes_of
from structures.vma import PAGE_SHIFT, VMA, InvariantError

__all__ = ["DUMP_NODES", "check_entries", "check_height", "check_shape", "check_slots", "check_tree"]

#: a failing check of a tree with at most this many nodes attaches the tree's dump
DUMP_NODES = 32

Blocks = dict[VMA, list[tuple[int, int, int]]]  # VMA -> its blocks as (index, order, mark bits)


def check_tree(root: XANode | None, chunk_shift: int, count: int) -> None:
    """Every sub-check, in order (the caller holds the writer mutex)."""
    if root is None:
        if count:
            raise InvariantError(f"xarray: empty tree but count={count}")
        return
    try:
        check_shape(root, chunk_shift)
        blocks = check_slots(root, chunk_shift)
        check_entries(blocks, count)
        check_height(root)
    except InvariantError as err:
        if len(list(islice(nodes_of(root), DUMP_NODES + 1))) > DUMP_NODES:
            raise
        raise InvariantError(f"{err}\n{dump(root)}") from None


def check_shape(root: XANode, chunk_shift: int) -> None:
    """shift/offset/parent/reach consistency, liveness, no empty node."""
    if root.parent is not None:
        raise InvariantError(f"xarray shape: root {root!r} has a parent")
    if root.shift % chunk_shift or root.shift < 0:
        raise InvariantError(f"xarray shape: root shift {root.shift} is not a multiple of {chunk_shift}")
    for node, first in nodes_of(root):
        where = f"node shift={node.shift} base={first:#x}"
        if node.dead:
            raise InvariantError(f"xarray shape: {where} is linked but dead")
        if len(node.slots) != 1 << chunk_shift or node.reach != node.shift + chunk_shift:
            raise InvariantError(f"xarray shape: {where} has {len(node.slots)} slots / reach {node.reach}")
        if node.count == 0:
            raise InvariantError(f"xarray shape: {where} is empty (should have been freed)")
        for off, x in enumerate(node.slots):
            if type(x) is XANode:
                if x.parent is not node or x.offset != off or x.shift != node.shift - chunk_shift:
                    raise InvariantError(
                        f"xarray shape: {where} slot {off}: child has parent "
                        f"{'self' if x.parent is node else x.parent!r}, offset {x.offset}, shift {x.shift}"
                    )
                if node.shift == 0:
                    raise InvariantError(f"xarray shape: {where} slot {off}: leaf holds a node")


def check_slots(root: XANode, chunk_shift: int) -> Blocks:
    """count, present, full and marks recomputed from the slots; sibling structure.
    Returns each VMA's blocks as (index, order, mark bits)."""
    all_slots = (1 << (1 << chunk_shift)) - 1
    vmas: Blocks = {}
    for node, first in nodes_of(root):
        where = f"node shift={node.shift} base={first:#x}"
        count = present = full = 0
        marks = [0] * XA_MAX_MARKS
        canon: VMA | None = None
        canon_off = -1
        run = 0
        for off, x in enumerate([*node.slots, None]):
            if type(x) is not XASibling and canon is not None:
                # close the multi-index entry that started at canon_off
                if run & (run - 1) or canon_off % run or run >> chunk_shift:
                    # (a run of every slot is a block of order shift + C: it belongs in the parent)
                    raise InvariantError(f"xarray slots: {where} slot {canon_off}: entry spans {run} slots")
                order = node.shift + run.bit_length() - 1
                mbits = sum(1 << m for m in range(XA_MAX_MARKS) if (node.marks[m] >> canon_off) & 1)
                vmas.setdefault(canon, []).append((first + (canon_off << node.shift), order, mbits))
                canon = None
            if off == len(node.slots):
                break
            bit = 1 << off
            if x is None:
                continue
            count += 1
            present |= bit
            if type(x) is XANode:
                if x.full == all_slots:
                    full |= bit
                for m in range(XA_MAX_MARKS):
                    if x.marks[m]:
                        marks[m] |= bit
            elif type(x) is VMA:
                full |= bit
                canon, canon_off, run = x, off, 1
                for m in range(XA_MAX_MARKS):
                    marks[m] |= node.marks[m] & bit
            elif type(x) is XASibling:
                full |= bit
                if canon is None or x.offset != canon_off:
                    raise InvariantError(
                        f"xarray slots: {where} slot {off}: sibling of slot {x.offset} does not follow its entry"
                    )
                run += 1
            else:
                raise InvariantError(f"xarray slots: {where} slot {off}: unexpected {x!r}")
        if count != node.count:
            raise InvariantError(f"xarray slots: {where}: count {node.count} but {count} slots in use")
        if present != node.present:
            raise InvariantError(f"xarray slots: {where}: present {node.present:#x} should be {present:#x}")
        if full != node.full:
            raise InvariantError(f"xarray slots: {where}: full {node.full:#x} should be {full:#x}")
        for m in range(XA_MAX_MARKS):
            if marks[m] != node.marks[m]:
                raise InvariantError(f"xarray marks: {where}: mark {m} bits {node.marks[m]:#x} should be {marks[m]:#x}")
    return vmas


def check_entries(vmas: Blocks, count: int) -> None:
    """Each VMA's blocks are exactly its minimal aligned decomposition, marks agree."""
    if len(vmas) != count:
        raise InvariantError(f"xarray entries: {len(vmas)} distinct VMAs stored but count={count}")
    for v, blocks in vmas.items():
        got = sorted((i, k) for i, k, _ in blocks)
        want = blocks_of(v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT)
        if got != want:
            raise InvariantError(f"xarray entries: {v!r} stored as blocks {got} but should be {want}")
        if len({m for _, _, m in blocks}) != 1:
            raise InvariantError(f"xarray marks: blocks of {v!r} disagree on marks: {blocks}")


def check_height(root: XANode) -> None:
    """Minimal height: the root cannot shrink."""
    if root.count == 1 and type(root.slots[0]) is XANode:
        raise InvariantError(f"xarray height: root shift={root.shift} has slot 0 as its only child")
