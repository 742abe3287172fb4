"""vmalab's library: the VMA model, the ``VMAIndex`` interface, backends, locks.

Start with ``make_index()`` (the configured default backend) or
``make_index("rbtree")``; see ``available_backends()`` for the registry.
"""

from structures.base import VMAIndex, make_lock
from structures.locks.rangelist import RangeListLock
from structures.locks.rangelock import RangeLock
from structures.locks.rwsem import RWSemaphore
from structures.mm.address_space import AddressSpace, AddressSpaceFull
from structures.registry import (
    UnknownBackendError,
    available_backends,
    available_frontends,
    load_config,
    make_index,
    register_backend,
    resolve_backend_name,
)
from structures.vma import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_STACK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SHIFT,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    VMA,
    InvalidRangeError,
    InvariantError,
    NotMappedError,
    OverlapError,
    SegmentationFault,
    VMAError,
)

__all__ = [
    "VMA",
    "VMAIndex",
    "VMAError",
    "InvalidRangeError",
    "OverlapError",
    "NotMappedError",
    "InvariantError",
    "SegmentationFault",
    "UnknownBackendError",
    "RWSemaphore",
    "RangeLock",
    "RangeListLock",
    "AddressSpace",
    "AddressSpaceFull",
    "make_index",
    "make_lock",
    "available_backends",
    "available_frontends",
    "register_backend",
    "resolve_backend_name",
    "load_config",
    "PAGE_SHIFT",
    "PAGE_SIZE",
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
]

__version__ = "0.1.0"
