"""The ``xarray`` backend: a radix tree keyed by page number, like ``lib/xarray.c``.

``node``   nodes, sibling entries, constants, ``blocks_of``, stats, ``dump``
``scan``   the raw lock-free walks: radix loads, bitmap scans, gap search
``check``  the from-scratch sub-checks ``XArrayIndex.check()`` runs
``store``  the writers: a VMA stored or erased in one walk, bulk build, node copy
``index``  ``XArrayIndex``: write sections, readers, marks, bulk_load, dup
"""

from structures.backends.xarray.index import XArrayIndex

__all__ = ["XArrayIndex"]
