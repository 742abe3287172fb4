"""What the suites feed the structures: synthetic layouts, snapshots and traces.

Synthetic layouts and address streams, ``/proc/PID/maps`` snapshots, and real
program traces (format, replay, recorder).

The data folders stay beside this package: ``bench/traces/`` and ``bench/maps/``.
"""
