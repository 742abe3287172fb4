"""What the suites feed the structures: synthetic layouts and streams, ``/proc/PID/maps``
snapshots, and real program traces (format, replay, recorder).

The data folders stay beside this package: ``bench/traces/`` and ``bench/maps/``.
"""
