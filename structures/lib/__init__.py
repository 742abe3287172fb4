"""Generic building blocks that know nothing of VMAs' backends or locks.

``rbtree``         the generic augmented red-black tree (``rb_augment_callbacks``)
``rbtree_check``   its invariants recomputed from scratch (``RBTree.check``)
``interval_tree``  an interval tree as augmentation callbacks on that core
``seqcount``       the sequence counter lock-free readers validate against
"""
