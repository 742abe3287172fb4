"""The ``maple`` backend: a B-tree of ranges modelled on ``lib/maple_tree.c``.

``node``    node layout, geometry, gap arithmetic, stats, ``dump``
``gap``     gap search (``mas_empty_area`` and its reverse) over the nodes
``check``   the from-scratch sub-checks ``MapleIndex.check()`` runs
``cow``     copy-on-write writers (path copying): replace, clear, Nones joining across parents
``rebuild`` the structural writers (splits, merges, borrows, None joins) and the publishing store
``store``   the fast-path writers: one new leaf, or an exact fill in place
``bulk``    whole-tree builders: the dense bulk build and the node-by-node copy (``dup``)
``index``   ``MapleIndex``: readers, the ``VMAIndex`` methods
"""

from structures.backends.maple.index import MapleIndex

__all__ = ["MapleIndex"]
