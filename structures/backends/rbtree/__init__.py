"""The ``rbtree`` backend: VMAs in an augmented red-black tree (pre-6.1 ``mm_rb``).

``node``   the VMA node, its augmentation callbacks, the balanced build and the copy (``dup``)
``index``  ``RBTreeIndex``: the ``VMAIndex`` methods, gap search, ``check()``
"""

from structures.backends.rbtree.index import RBTreeIndex
from structures.backends.rbtree.node import VMANode

__all__ = ["RBTreeIndex", "VMANode"]
