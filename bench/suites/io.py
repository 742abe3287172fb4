"""The ``io`` suite: the seed's fio experiment, buffered I/O under one shared lock.

Op mix
------
``T`` threads share one real file; thread ``i`` owns the disjoint byte region
``[i * REGION, (i + 1) * REGION)`` and walks it block by block.  One *op* is::

    lock [off, off + block)            -- per the lock kind below
        os.pwrite(fd, buf, off)        -- releases the GIL
        data = os.pread(fd, block, off)
        blake2b(data).digest()         -- releases the GIL (> 2 KiB)
    unlock

which is the shape of a buffered write path holding ``i_rwsem`` (the write
lock of the inode) while it copies and checksums the data.  Lock kinds:

* ``rwsem`` — one ``RWSemaphore`` held for write around every op (``i_rwsem``);
* ``range`` — one ``RangeLock``; each op write-locks only its byte range;
* ``range-list`` (``--extra lock=...``) — one ``RangeListLock``, the same way;
* ``ideal`` — one private ``threading.Lock`` per thread: no shared lock at all,
  the ceiling a range lock can approach.

Every timed loop runs ``OPS_PER_THREAD`` ops in each of the ``T`` threads,
started inside the timed function and released together by a barrier;
pyperf's value is seconds per op of the aggregate, so throughput is
``1 / value`` ops/s (``vmalab compare`` shows it).  Metadata records the
thread count, the CPU count and whether the run oversubscribes the CPUs.

The file lives in a tmpfs (``/dev/shm``) when one is writable, otherwise in
the default temporary directory, and is unlinked the moment it is opened
(``tempfile.TemporaryFile``): nothing is left behind, even if the process is
killed.

Names: ``io/rw/block=<bytes>/threads=<T>/<lock>``.  Options (``--extra``):
``block`` (default 65536), ``io_threads`` (default: ``--threads``), ``lock``
(default ``rwsem,range,ideal``; any kind of ``LOCK_KINDS`` and ``ideal``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from typing import Any

from bench.suites import Case, SuiteOptions
from structures.locks import LOCK_KINDS, make_lock

SUITE = "io"
DESCRIPTION = "seed's fio experiment: T threads of pwrite+pread+digest on disjoint file regions under rwsem/range/ideal"

LOCKS = ("rwsem", "range", "ideal")
EXTRA = {
    "block": ("int", "io: bytes per I/O, a multiple of 4096 (default 65536)"),
    "io_threads": ("ints", "io: thread counts for this suite only (default: --threads)"),
    "lock": ("strs", "io: lock kinds among rwsem,range,range-list,ideal (default rwsem,range,ideal)"),
}
DEFAULT_BLOCK = 64 * 1024
OPS_PER_THREAD = 64  # per thread per timed loop: ~6 ms per loop, long enough to smooth thread start-up
BLOCKS_PER_REGION = 8


def tmpfs_dir() -> str | None:
    """``/dev/shm`` when it is a writable directory (a tmpfs on Linux), else ``None``."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return None


class IOFile:
    """An unlinked temporary file with one region per thread, and its lock."""

    def __init__(self, threads: int, block: int, lock_kind: str) -> None:
        self.threads = threads
        self.block = block
        self.region = block * BLOCKS_PER_REGION
        self._fh = tempfile.TemporaryFile(dir=tmpfs_dir())  # noqa: SIM115 - unlinked at once, closed by close()
        self.fd = self._fh.fileno()
        os.ftruncate(self.fd, self.region * threads)
        self.lock_kind = lock_kind
        self.shared: Any = None if lock_kind == "ideal" else make_lock(lock_kind)
        self.private = [threading.Lock() for _ in range(threads)]
        self.buffers = [bytes([i % 251]) * block for i in range(threads)]
        self.digests = [b""] * threads

    def worker(self, tid: int, ops: int, barrier: threading.Barrier) -> None:
        fd, block, region = self.fd, self.block, self.region
        base = tid * region
        buf = self.buffers[tid]
        pwrite, pread, blake = os.pwrite, os.pread, hashlib.blake2b
        kind = self.lock_kind
        digest = b""
        barrier.wait()
        if kind == "ideal":
            lock = self.private[tid]
            for k in range(ops):
                off = base + (k % BLOCKS_PER_REGION) * block
                with lock:
                    pwrite(fd, buf, off)
                    digest = blake(pread(fd, block, off)).digest()
        elif not self.shared.ranged:  # rwsem: i_rwsem, the whole file
            sem = self.shared
            for k in range(ops):
                off = base + (k % BLOCKS_PER_REGION) * block
                h = sem.acquire_write()
                try:
                    pwrite(fd, buf, off)
                    digest = blake(pread(fd, block, off)).digest()
                finally:
                    sem.release(h)
        else:
            rl = self.shared
            for k in range(ops):
                off = base + (k % BLOCKS_PER_REGION) * block
                h = rl.acquire_write(off, off + block)
                try:
                    pwrite(fd, buf, off)
                    digest = blake(pread(fd, block, off)).digest()
                finally:
                    rl.release(h)
        self.digests[tid] = digest

    def run(self, ops_per_thread: int) -> float:
        """Run every thread once; the elapsed seconds from the common start."""
        barrier = threading.Barrier(self.threads + 1)
        ts = [
            threading.Thread(target=self.worker, args=(i, ops_per_thread, barrier), daemon=True)
            for i in range(self.threads)
        ]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        return time.perf_counter() - t0

    def verify(self) -> None:
        """Every region holds its thread's bytes, and every digest matches them."""
        for tid in range(self.threads):
            want = self.buffers[tid]
            for b in range(BLOCKS_PER_REGION):
                off = tid * self.region + b * self.block
                got = os.pread(self.fd, self.block, off)
                if got != want:
                    raise AssertionError(f"io: thread {tid} block {b} at {off:#x} holds foreign bytes")
            if self.digests[tid] and self.digests[tid] != hashlib.blake2b(want).digest():
                raise AssertionError(f"io: thread {tid} digest mismatch")

    def close(self) -> None:
        self._fh.close()


def _case(lock_kind: str, threads: int, block: int) -> Case:
    state: dict[str, IOFile] = {}

    def time_func(loops: int) -> float:
        f = state.get("f")
        if f is None:
            f = state["f"] = IOFile(threads, block, lock_kind)
        return sum(f.run(OPS_PER_THREAD) for _ in range(loops))

    cpus = os.cpu_count() or 1
    meta = {
        "suite": SUITE,
        "op": "rw",
        "backend": lock_kind,
        "lock": lock_kind,
        "threads": threads,
        "block": block,
        "ops_per_loop": OPS_PER_THREAD * threads,
        "cpu_count": cpus,
        "oversubscribed": int(threads > cpus),
    }
    return Case(f"io/rw/block={block}/threads={threads:02d}/{lock_kind}", time_func, meta, OPS_PER_THREAD * threads)


def cases(opts: SuiteOptions) -> list[Case]:
    block = int(opts.extra.get("block", DEFAULT_BLOCK))
    if block <= 0 or block % 4096:
        raise ValueError(f"io: block={block} must be a positive multiple of 4096")
    threads = tuple(dict.fromkeys(int(t) for t in opts.extra.get("io_threads", opts.threads)))
    if not threads or min(threads) < 1:
        raise ValueError(f"io: io_threads={list(threads)} must be positive integers")
    if opts.fast:
        threads = tuple(t for t in threads if t <= 4) or threads[:1]
    locks = tuple(opts.extra.get("lock", LOCKS))
    known = (*sorted(LOCK_KINDS), "ideal")
    unknown = [k for k in locks if k not in known and k not in ("mutex", "private", "regions")]  # rangelock's
    if unknown:
        raise ValueError(f"io: unknown lock kinds {unknown}; known: {', '.join(known)}")
    locks = tuple(k for k in locks if k in known)
    if not locks:
        raise ValueError(f"io: lock={list(opts.extra['lock'])} names no io lock; known: {', '.join(known)}")
    return [_case(kind, t, block) for t in threads for kind in locks]
