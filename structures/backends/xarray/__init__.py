"""The ``xarray`` backend: a radix tree keyed by page number, like ``lib/xarray.c``.

``node``   nodes, sibling entries, constants, ``blocks_of``
``index``  ``XArrayIndex``: stores, erases, marks, lock-free readers
``check``  the from-scratch sub-checks ``XArrayIndex.check()`` runs
"""

from structures.backends.xarray.index import XArrayIndex

__all__ = ["XArrayIndex"]
