"""Every swappable ``VMAIndex``: one module (or small package) per registry name.

========================  ===================================================
``list``                  ``list``: the sorted-list oracle
``rbtree``                ``rbtree``: augmented red-black tree (on ``lib.rbtree``)
``maple``                 ``maple``: B-tree of ranges (index, node, cow)
``xarray``                ``xarray``: radix tree by page number (index, node, check)
``vmacache``              ``vmacache+X``: the per-thread cache front end
``peers``                 ``sortedcontainers`` / ``bintrees`` adapters
========================  ===================================================

Nothing here is imported eagerly: ``structures.registry`` names each backend by
a ``"module:Class"`` string and imports it on first use.
"""
