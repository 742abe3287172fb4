"""The VMA value, address-space constants and the error hierarchy.

Invariant
---------
A ``VMA`` is an immutable, self-validating value.  Every constructed VMA
satisfies::

    isinstance(start, int) and isinstance(end, int)   (bool rejected)
    start % PAGE_SIZE == 0 and end % PAGE_SIZE == 0
    0 <= start < end <= TASK_SIZE

The range ``[start, end)`` is half-open, as everywhere in the public API;
``last`` (``end - 1``) is the inclusive bound used inside maple/xarray-like
code, exactly as the kernel does.

Layout
------
::

    VMA(start, end, prot=PROT_READ|PROT_WRITE, flags=0, name="", pgoff=0)
        |      |    |                          |        |        `- file page offset
        |      |    |                          |        `- "[heap]", "libc.so.6", ...
        |      |    |                          `- MAP_* / VM_* style flag bits
        |      |    `- PROT_* bits
        |      `- exclusive end (page aligned)
        `- inclusive start (page aligned)

API
---
Constants ``PAGE_SIZE``, ``PAGE_SHIFT``, ``PMD_SHIFT``, ``TASK_SIZE``,
``PROT_*``, ``MAP_*``; ``VMA``; errors ``VMAError`` and its subclasses
``InvalidRangeError(ValueError)``, ``OverlapError(ValueError)`` (``.existing``),
``NotMappedError(KeyError)``, ``InvariantError(AssertionError)``,
``SegmentationFault``; and the validation helpers ``validate_addr``,
``validate_range`` and ``validate_length`` that every public entry point uses so
that errors read the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PAGE_MASK",
    "PMD_SHIFT",
    "TASK_SIZE",
    "PROT_NONE",
    "PROT_READ",
    "PROT_WRITE",
    "PROT_EXEC",
    "MAP_SHARED",
    "MAP_PRIVATE",
    "MAP_FIXED",
    "MAP_ANONYMOUS",
    "MAP_GROWSDOWN",
    "MAP_STACK",
    "MAP_FIXED_NOREPLACE",
    "VMA",
    "VMAError",
    "InvalidRangeError",
    "OverlapError",
    "NotMappedError",
    "InvariantError",
    "SegmentationFault",
    "validate_addr",
    "validate_range",
    "validate_length",
    "is_int",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
PMD_SHIFT = 21
TASK_SIZE = 1 << 47  # x86-64 user space (4-level paging)

PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x0100
MAP_STACK = 0x20000
MAP_FIXED_NOREPLACE = 0x100000


class VMAError(Exception):
    """Base class of every vmalab error."""


class InvalidRangeError(VMAError, ValueError):
    """An address, length or range argument is malformed (names the field)."""


class OverlapError(VMAError, ValueError):
    """An insert would intersect a stored VMA; ``existing`` is that VMA."""

    def __init__(self, message: str, existing: Any = None) -> None:
        super().__init__(message)
        self.existing = existing


class NotMappedError(VMAError, KeyError):
    """The VMA (or address) asked for is not in the index."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep it readable
        return str(self.args[0]) if self.args else ""


class InvariantError(VMAError, AssertionError):
    """``check()`` found a broken structural invariant (names node and slot)."""


class SegmentationFault(VMAError):
    """A fault on an unmapped address, or a write to a non-writable VMA."""

    def __init__(self, message: str, addr: int | None = None) -> None:
        super().__init__(message)
        self.addr = addr


def is_int(value: object) -> bool:
    """True for real ints; ``bool`` is rejected (``True`` is not an address)."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def validate_addr(addr: object, field: str = "addr") -> int:
    """Validate an address: an int (not bool) with ``0 <= addr < TASK_SIZE``."""
    if not is_int(addr):
        raise InvalidRangeError(f"{field} must be an int, got {type(addr).__name__} {addr!r}")
    a: int = addr  # type: ignore[assignment]
    if not 0 <= a < TASK_SIZE:
        raise InvalidRangeError(f"{field}={a:#x} is outside [0, TASK_SIZE={TASK_SIZE:#x})")
    return a


def validate_range(start: object, end: object, aligned: bool = True) -> tuple[int, int]:
    """Validate a half-open range ``[start, end)`` inside ``[0, TASK_SIZE]``."""
    for field, v in (("start", start), ("end", end)):
        if not is_int(v):
            raise InvalidRangeError(f"{field} must be an int, got {type(v).__name__} {v!r}")
    s: int = start  # type: ignore[assignment]
    e: int = end  # type: ignore[assignment]
    if aligned:
        if s % PAGE_SIZE:
            raise InvalidRangeError(f"start={s:#x} is not page aligned (PAGE_SIZE={PAGE_SIZE:#x})")
        if e % PAGE_SIZE:
            raise InvalidRangeError(f"end={e:#x} is not page aligned (PAGE_SIZE={PAGE_SIZE:#x})")
    if s < 0:
        raise InvalidRangeError(f"start={s:#x} is negative")
    if e > TASK_SIZE:
        raise InvalidRangeError(f"end={e:#x} is beyond TASK_SIZE={TASK_SIZE:#x}")
    if s >= e:
        raise InvalidRangeError(f"start={s:#x} must be below end={e:#x}")
    return s, e


def validate_length(length: object, field: str = "length") -> int:
    """Validate a length: a positive int multiple of ``PAGE_SIZE``."""
    if not is_int(length):
        raise InvalidRangeError(f"{field} must be an int, got {type(length).__name__} {length!r}")
    n: int = length  # type: ignore[assignment]
    if n <= 0:
        raise InvalidRangeError(f"{field}={n:#x} must be positive")
    if n % PAGE_SIZE:
        raise InvalidRangeError(f"{field}={n:#x} is not a multiple of PAGE_SIZE={PAGE_SIZE:#x}")
    if n > TASK_SIZE:
        raise InvalidRangeError(f"{field}={n:#x} is larger than TASK_SIZE={TASK_SIZE:#x}")
    return n


# The 0.1 names of the validators: ``check`` now means only "recompute every invariant".
check_addr = validate_addr
check_range = validate_range
check_length = validate_length


@dataclass(frozen=True, slots=True)
class VMA:
    """One virtual memory area ``[start, end)`` with its attributes.

    Immutable and hashable; equality compares every field, so two VMAs with
    the same range but different ``prot`` are different VMAs.
    """

    start: int
    end: int
    prot: int = PROT_READ | PROT_WRITE
    flags: int = 0
    name: str = ""
    pgoff: int = 0

    def __post_init__(self) -> None:
        validate_range(self.start, self.end)
        for field in ("prot", "flags", "pgoff"):
            v = getattr(self, field)
            if not is_int(v) or v < 0:
                raise InvalidRangeError(f"{field} must be a non-negative int, got {v!r}")
        if not isinstance(self.name, str):
            raise InvalidRangeError(f"name must be a str, got {type(self.name).__name__} {self.name!r}")

    @property
    def last(self) -> int:
        """Inclusive last address (``end - 1``)."""
        return self.end - 1

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def pages(self) -> int:
        return (self.end - self.start) >> PAGE_SHIFT

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def overlaps(self, start: int, end: int) -> bool:
        """True when ``[start, end)`` meets this VMA."""
        return self.start < end and start < self.end

    def with_range(self, start: int, end: int) -> VMA:
        """A copy over ``[start, end)`` with ``pgoff`` shifted to match (a split piece)."""
        return replace(self, start=start, end=end, pgoff=self.pgoff + ((start - self.start) >> PAGE_SHIFT))

    def evolve(self, **changes: Any) -> VMA:
        """A copy with some fields changed (validated like any VMA)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        extra = ""
        if self.name:
            extra += f" {self.name!r}"
        if self.flags:
            extra += f" flags={self.flags:#x}"
        if self.pgoff:
            extra += f" pgoff={self.pgoff:#x}"
        return f"VMA({self.start:#x}-{self.end:#x} {_prot_str(self.prot)}{extra})"


def _prot_str(prot: int) -> str:
    return (
        ("r" if prot & PROT_READ else "-")
        + ("w" if prot & PROT_WRITE else "-")
        + ("x" if prot & PROT_EXEC else "-")
    )
