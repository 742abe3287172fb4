"""Correctness runs the CLI offers: differential runs against the ``list`` oracle
(``vmalab check``) and the range-lock torture engine (``vmalab torture``).
"""
