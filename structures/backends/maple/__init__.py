"""The ``maple`` backend: a B-tree of ranges modelled on ``lib/maple_tree.c``.

``node``   node layout, geometry, gap arithmetic, the from-scratch checks
``cow``    copy-on-write writers (path copying) for height changes and replace
``index``  ``MapleIndex``: descent, stores, rebalancing, gap search, publication
"""

from structures.backends.maple.index import MapleIndex

__all__ = ["MapleIndex"]
