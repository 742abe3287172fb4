"""xarray nodes, sibling entries, the constants and the block decomposition.

Invariant
---------
A node at ``shift`` covers ``2**(shift + C)`` pages (``C`` = chunk shift; its
``reach`` is ``shift + C``): slot ``i`` covers the ``2**shift`` pages starting
at ``base + (i << shift)``.  A slot holds ``None``, a child ``XANode`` (whose
``shift`` is ``shift - C``, ``parent`` this node, ``offset`` ``i``), a ``VMA``
(the *canonical* slot of one block) or an ``XASibling`` (the following slots
of a multi-slot block, naming the canonical offset and nothing else: the
shared ``SIBLINGS[offset]``, as the kernel's sibling entries are tagged values
naming an offset, so the block's VMA is read from the canonical slot).  A block of order ``k``
(``2**k`` pages at an index that is a multiple of ``2**k``) lives in the one
node with ``shift <= k < shift + C``; a VMA ``[start, end)`` is the *minimal*
set of such blocks covering its pages (``blocks_of``).  The per-node summaries
(``count``, the ``present``/``full``/``marks`` bitmaps, bit ``i`` for slot
``i``) are kept by ``structures.backends.xarray.index`` and recomputed by
``structures.backends.xarray.check``.  ``marks`` is the shared immutable
``NO_MARKS`` (``(0, 0, 0)``) until a writer sets the node's first mark bit:
then the node gets its own list (``own_marks``), kept from then on (cleared
bits leave zeros in it); readers index either the same way.

Layout
------
::

    XANode (chunk_shift C, 2**C slots)           index bits of a page number
    +--------+--------+--------+-------+          | ... | C bits | C bits |
    | shift  | offset | count  | dead  |                  ^ shift=C  ^ shift=0
    | parent | reach = shift + C        |
    | present: int  full: int  marks: NO_MARKS | [int, int, int] (bit i <-> slot i)
    +---------------------------------------------------------------+
    | slots[0] | slots[1] | ... | slots[2**C - 1]                    |
    +---------------------------------------------------------------+
      None | XANode (child) | VMA (canonical) | SIBLINGS[canonical offset] (shared)

    VMA V = pages [5, 18) (13 pages), C = 2 -> blocks (index/order) 5/0, 6/1, 8/3, 16/1

    root shift 4 [0..63]:      [ n0 | n1 |  .  |  .  ]
    n0 shift 2 [0..15]:        [ .  | l1 |  V  | sib ]   8/3: canonical slot 2 + 1 sibling
    l1 shift 0 [4..7]:         [ .  | V  |  V  | sib ]   5/0 at slot 1; 6/1 at slots 2-3
    n1 shift 2 [16..31]:       [ l2 | .  |  .  |  .  ]
    l2 shift 0 [16..19]:       [ V  | sib|  .  |  .  ]   16/1

API
---
``XA_CHUNK_SHIFT``, ``XA_MARK_0..2``, ``XA_MAX_MARKS``, ``MAX_PAGES``,
``KERNEL_XA_NODE_BYTES``, ``NO_MARKS``; ``XANode``, ``new_node(shift, offset, parent, chunk_shift)``,
``own_marks(node)``,
``XASibling(offset)``, ``SIBLINGS`` (the shared one per offset),
``sibling_of(offset)``, ``blocks_of(first_page, end_page)``,
``entry_vma(slots, x)``, ``nodes_of(root)``, ``tree_stats(root, chunk_shift, count)``,
``dump(root)``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from structures.vma import PAGE_SHIFT, TASK_SIZE, VMA

__all__ = [
    "KERNEL_XA_NODE_BYTES",
    "MAX_PAGES",
    "NO_MARKS",
    "SIBLINGS",
    "XANode",
    "XASibling",
    "XA_CHUNK_SHIFT",
    "XA_MARK_0",
    "XA_MARK_1",
    "XA_MARK_2",
    "XA_MAX_MARKS",
    "blocks_of",
    "dump",
    "entry_vma",
    "new_node",
    "nodes_of",
    "own_marks",
    "sibling_of",
    "tree_stats",
]

XA_CHUNK_SHIFT = 6
XA_MARK_0 = 0
XA_MARK_1 = 1
XA_MARK_2 = 2
XA_MAX_MARKS = 3
#: sizeof(struct xa_node) on 64-bit Linux with XA_CHUNK_SHIFT = 6 (for the kernel-equivalent estimate)
KERNEL_XA_NODE_BYTES = 576
#: number of page indices of the address space (pages ``[0, MAX_PAGES)``)
MAX_PAGES = TASK_SIZE >> PAGE_SHIFT
#: the marks of every node that never had a mark bit set: one shared immutable tuple, no
#: list per node (a writer gives the node its own list first: ``own_marks``).  Measured
#: against a ``[0] * XA_MAX_MARKS`` list per node (3,505 GC-tracked lists per 10k-VMA
#: tree, each allocated, walked by the cyclic collector and freed; gen-0 collections
#: 14.3 -> 9.8 per build): bulk_load(parent) 215.8M -> 205.5M, ascending re-insert
#: 464.4M -> 458.2M instructions per 10k-VMA build of ``synthetic_layout`` (callgrind,
#: (11 builds - 1) / 10, the parent alive, GC on); lookup 260.4M -> 260.0M and find
#: 263.3M -> 262.8M per 30k calls (readers index the tuple as they did the list)
NO_MARKS: tuple[int, ...] = (0,) * XA_MAX_MARKS


class XANode:
    """One radix-tree node (``struct xa_node``); see the module docstring.  Made by
    ``new_node`` (no Python ``__init__``: ``XANode()`` runs only C code)."""

    __slots__ = ("count", "dead", "full", "marks", "offset", "parent", "present", "reach", "shift", "slots")

    shift: int
    reach: int
    offset: int
    parent: XANode | None
    count: int
    present: int
    full: int
    marks: list[int] | tuple[int, ...]
    dead: bool
    slots: list[Any]

    def base(self) -> int:
        """First page index this node covers (walks the parent links)."""
        first, node = 0, self
        while node.parent is not None:
            first += node.offset << node.parent.shift
            node = node.parent
        return first

    def __repr__(self) -> str:
        return f"<XANode shift={self.shift} base={self.base():#x} count={self.count}>"


def new_node(shift: int, offset: int, parent: XANode | None, chunk_shift: int) -> XANode:
    """An empty node at ``shift`` (``2**chunk_shift`` slots), slot ``offset`` of ``parent``
    (not linked there: the caller stores it).  A plain function storing the fields of a
    bare ``XANode()``, not an ``__init__`` run through the class call (a C-level call
    into a second interpreter frame): bulk_load(parent) 152.3M -> 150.9M, ascending
    re-insert 428.0M -> 427.5M instructions per 10k build (callgrind, GC off)."""
    node = XANode()
    node.shift = shift
    node.reach = shift + chunk_shift
    node.offset = offset
    node.parent = parent
    node.count = 0
    node.present = 0
    node.full = 0
    node.marks = NO_MARKS
    node.dead = False
    node.slots = [None] * (1 << chunk_shift)
    return node


class XASibling:
    """A sibling slot of a multi-index entry: names the canonical slot's offset in the
    same node, nothing else (the kernel's ``xa_mk_sibling(offset)``, a tagged value, not
    an allocation).  Immutable and shared: one object per offset, ``SIBLINGS[offset]``;
    the entry's VMA is ``node.slots[offset]`` (``entry_vma``)."""

    __slots__ = ("offset",)
    offset: int

    def __init__(self, offset: int) -> None:
        object.__setattr__(self, "offset", offset)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"XASibling is immutable (shared by every node): cannot set {name}")

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return sibling_of, (self.offset,)

    def __repr__(self) -> str:
        return f"<sibling of slot {self.offset}>"


#: the shared sibling entries, one per slot offset (``chunk_shift <= 8``): a writer stores
#: ``SIBLINGS[j]`` in the slots after canonical slot ``j``, never a new object.  Measured
#: against one ``XASibling(vma, offset)`` allocated per multi-slot run (23,020 objects per
#: 10k-VMA layout, each a Python ``__init__`` call and a GC-tracked object the cyclic
#: collector then walks): bulk build 320.1M -> 249.7M instructions (callgrind, 10k VMAs of
#: ``synthetic_layout``, the parent alive)
SIBLINGS: tuple[XASibling, ...] = tuple(XASibling(j) for j in range(256))


def own_marks(node: XANode) -> list[int]:
    """``node.marks`` as the node's own list, made from ``NO_MARKS`` first if it still
    has the shared one (writers only, before they set a mark bit: one reference store,
    so a reader sees the tuple or the new list, both all zeros until the bit is set)."""
    marks = node.marks
    if type(marks) is list:
        return marks
    own = node.marks = list(marks)
    return own


def sibling_of(offset: int) -> XASibling:
    """The shared sibling entry naming canonical slot ``offset`` (``xa_mk_sibling``)."""
    return SIBLINGS[offset]


def blocks_of(first: int, end: int) -> list[tuple[int, int]]:
    """The minimal naturally aligned power-of-two blocks covering pages ``[first, end)``,
    as ``(index, order)`` in ascending order."""
    out = []
    while first < end:
        k = (first & -first).bit_length() - 1 if first else 63
        while first + (1 << k) > end:
            k -= 1
        out.append((first, k))
        first += 1 << k
    return out


def entry_vma(slots: list[Any], x: Any) -> Any:
    """The canonical entry of slot value ``x`` read from ``slots`` (a node's slot list):
    ``x`` itself unless it is a sibling, then the slot it names (``xa_to_sibling``).  On a
    quiescent tree that is the VMA of a non-empty leaf entry; a reader racing a writer may
    get anything there, which its seqcount check discards (never an ``IndexError``: a
    sibling in a node names one of that node's own slots)."""
    return slots[x.offset] if type(x) is XASibling else x


def nodes_of(root: XANode | None) -> Iterator[tuple[XANode, int]]:
    """Every node with its first page index, depth first in address order."""
    if root is None:
        return
    stack = [(root, 0)]
    while stack:
        node, first = stack.pop()
        yield node, first
        for off in range(len(node.slots) - 1, -1, -1):
            x = node.slots[off]
            if type(x) is XANode:
                stack.append((x, first + (off << node.shift)))


def tree_stats(root: XANode | None, chunk_shift: int, count: int) -> dict[str, Any]:
    """Height, nodes, slot use, blocks and the memory estimates (Python and kernel bytes)."""
    nodes = slots_used = blocks = 0
    py_bytes = 0  # siblings are the shared SIBLINGS: no memory of their own (tagged values)
    for node, _ in nodes_of(root):
        nodes += 1
        slots_used += node.count
        py_bytes += sys.getsizeof(node) + sys.getsizeof(node.slots)
        py_bytes += sys.getsizeof(node.present) + sys.getsizeof(node.full)
        if node.marks is not NO_MARKS:  # the shared tuple: no memory of its own
            py_bytes += sys.getsizeof(node.marks) + sum(sys.getsizeof(m) for m in node.marks)
        for x in node.slots:
            if type(x) is VMA:
                blocks += 1
    return {
        "height": 0 if root is None else root.shift // chunk_shift + 1,
        "nodes": nodes,
        "slots_used": slots_used,
        "slots_total": nodes << chunk_shift,
        "blocks": blocks,
        "blocks_per_vma": blocks / count if count else 0.0,
        "bytes": py_bytes,
        "kernel_bytes": nodes * KERNEL_XA_NODE_BYTES * (1 << chunk_shift) // 64,
        "chunk_shift": chunk_shift,
    }


def dump(root: XANode | None, max_nodes: int = 64) -> str:
    """A compact text picture of the tree, one node a line, indented by depth
    (``offset:`` in the parent first); VMA [5, 18) in pages with ``C = 2``::

        shift=4 base=0x0 count=2 present=0x3 full=0x0 marks=[0x0,0x0,0x0] [nn..]
          0: shift=2 base=0x0 count=3 present=0xe full=0xc marks=[0x0,0x0,0x0] [.nVs]
            1: shift=0 base=0x4 count=3 present=0xe full=0xe marks=[0x0,0x0,0x0] [.VVs]
          1: shift=2 base=0x10 count=1 present=0x1 full=0x0 marks=[0x0,0x0,0x0] [n...]
            0: shift=0 base=0x10 count=2 present=0x3 full=0x3 marks=[0x0,0x0,0x0] [Vs..]

    Slots: ``.`` empty, ``n`` child node (listed below), ``V`` canonical entry,
    ``s`` sibling.  At most ``max_nodes`` nodes (then ``...``)."""
    if root is None:
        return "(empty xarray)"
    lines: list[str] = []
    stack: list[tuple[XANode, int, int, int]] = [(root, 0, 0, -1)]
    while stack:
        node, first, depth, off = stack.pop()
        if len(lines) >= max_nodes:
            lines.append("  ...")
            break
        cells = "".join(
            "." if x is None else "n" if type(x) is XANode else "V" if type(x) is VMA else "s" for x in node.slots
        )
        marks = ",".join(f"{m:#x}" for m in node.marks)
        flags = " DEAD" if node.dead else ""
        lines.append(
            f"{'  ' * depth}{f'{off}: ' if off >= 0 else ''}shift={node.shift} base={first:#x} "
            f"count={node.count} present={node.present:#x} full={node.full:#x} marks=[{marks}]{flags} [{cells}]"
        )
        for i in range(len(node.slots) - 1, -1, -1):
            x = node.slots[i]
            if type(x) is XANode:
                stack.append((x, first + (i << node.shift), depth + 1, i))
    return "\n".join(lines)
