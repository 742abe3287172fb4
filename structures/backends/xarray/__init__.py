"""The ``xarray`` backend: a radix tree keyed by page number, like ``lib/xarray.c``.

``node``   nodes, sibling entries, constants, ``blocks_of``, stats, ``dump``
``scan``   the raw lock-free walks: radix loads, bitmap scans, gap search
``check``  the from-scratch sub-checks ``XArrayIndex.check()`` runs
``index``  ``XArrayIndex``: stores, erases, marks, write sections, readers
"""

from structures.backends.xarray.index import XArrayIndex

__all__ = ["XArrayIndex"]
