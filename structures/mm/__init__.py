"""The address-space model: mmap/munmap/mprotect/brk/fault over any index.

``address_space``  ``AddressSpace``: Linux's splits and merges, page work
``policy``         the lock policies ``full`` / ``range`` / ``vma``
"""

from structures.mm.address_space import AddressSpace, AddressSpaceFull

__all__ = ["AddressSpace", "AddressSpaceFull"]
