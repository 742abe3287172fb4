"""Correctness runs the CLI offers: ``vmalab check`` and ``vmalab torture``.

Differential runs against the ``list`` oracle, and the lock torture engine.
"""
