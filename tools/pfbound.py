"""What a perfect rwsem leaves a lock to win in ``page_fault1`` at 2 threads, as modelled and as Linux zaps.

One thread runs the ``wis`` suite's ``page_fault1`` iteration under the ``full`` policy (maple,
``page_work`` 16) and times its phases: ``F`` (the 64 write faults), ``M`` (mmap + munmap with
the zap of the 64 pages) and ``m`` (mmap + munmap of the same 64 pages never faulted: no page to
zap), so the zap itself is ``Z = M - m``.  A ``full`` whose rwsem cost nothing would overlap the
two threads' faults and serialise only the mutations: ``F + 2M`` for two iterations against
``F + M`` with no shared lock, so ``(F + 2M) / (F + M)`` is the most any lock can gain over it.

It prints that bound as the lab models ``page_fault1`` and under two changes that would bring
the model closer to Linux: a zap that costs what the kernel's does (``--zap``: the share of a
fault's cost that zapping one page costs; 0.12 is what ``tools/pagecost.c`` measures on the
reference machine), and ``munmap`` zapping under its lock downgraded to read (Linux since 4.20,
``__vm_munmap(..., downgrade=true)``), where only ``m`` serialises.  Run it on each build::

    .venv/bin/python tools/pfbound.py
    PYTHON_GIL=0 .venv-3.13t/bin/python tools/pfbound.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.suites.wis import BASE, FLAGS, PF_PAGES, P, WisScenario


def phases(rounds: int) -> tuple[float, float, float]:
    """Median seconds of one iteration's F, M and m (see the module docstring)."""
    mm = WisScenario("page_fault1", "full", 1, "maple", 16, "rwsem", "none").mm
    fs, ms, bare = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        mm.mmap(PF_PAGES * P, addr=BASE, flags=FLAGS)
        t1 = time.perf_counter()
        for k in range(PF_PAGES):
            mm.fault(BASE + k * P, True)
        t2 = time.perf_counter()
        mm.munmap(BASE, PF_PAGES * P)
        t3 = time.perf_counter()
        mm.mmap(PF_PAGES * P, addr=BASE, flags=FLAGS)
        mm.munmap(BASE, PF_PAGES * P)
        t4 = time.perf_counter()
        fs.append(t2 - t1)
        ms.append((t1 - t0) + (t3 - t2))
        bare.append(t4 - t3)
    return statistics.median(fs), statistics.median(ms), statistics.median(bare)


def bound(f: float, m: float, z: float, downgrade: bool) -> float:
    """``ideal`` over a perfect ``full`` at 2 threads: faults ``f``, bare mutations ``m``, zap ``z``."""
    if downgrade:  # the zap runs under the read lock, beside the other thread's faults
        return (f + z + 2 * m) / (f + z + m)
    return (f + 2 * (m + z)) / (f + m + z)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300, help="iterations timed (default 300)")
    ap.add_argument("--zap", type=float, default=0.12, help="kernel zap cost per page / fault cost (default 0.12)")
    args = ap.parse_args(argv)
    f, m_full, m = phases(args.rounds)
    z = m_full - m
    print(f"Python {sys.version.split()[0]}: F = {f * 1e3:.2f} ms, M = {m_full * 1e3:.2f} ms, "
          f"m = {m * 1e3:.3f} ms, zap/fault per page {z / f:.2f}")  # fmt: skip
    kernel_z = args.zap * f
    for name, zap, downgrade in (
        ("as modelled", z, False),
        (f"zap at {args.zap} of a fault", kernel_z, False),
        ("munmap downgrades for the zap", z, True),
        ("both", kernel_z, True),
    ):
        print(f"  {name:32s} (F + 2M) / (F + M) = {bound(f, m, zap, downgrade):.3f}")


if __name__ == "__main__":
    main()
