"""Real program traces: the file format, loading/saving, and replay through ``AddressSpace``.

Invariant
---------
A loaded ``Trace`` is a list of ``Event`` ordered by time (``t`` never
decreases), every event well formed for its op.  Loading is all or nothing: the
first malformed line raises ``TraceFormatError("FILE:LINE: why")`` and no trace
is returned.  Replaying a trace is deterministic and backend independent:
every ``mmap`` is replayed with ``MAP_FIXED`` at the address the kernel
returned, so every backend ends in the same state as the ``list`` oracle.

Layout (file format ``vmalab-trace v1``; recorded by ``bench.inputs.tracerec``)
------------------------------------------------------------------------
A UTF-8 text file, gzip-compressed (``.trace.gz``; detected by magic)::

    # vmalab-trace v1                         <- mandatory first line
    # command: python3 -c 'import ...'        <- '# key: value' metadata
    # faults: perf page-faults (-c 1 -d) | none (why)
    T PID OP FIELD ... [NAME]

``T`` is nanoseconds since the first event (decimal), ``PID`` the Linux thread
id (decimal) that made the call or took the fault; every other number is
hexadecimal without ``0x``.  ``NAME`` (a path, ``[stack]``, ...) is the rest
of the line, ``\\`` and newline escaped as ``\\\\`` and ``\\n``; it may be empty.

========  ===========================================  =========================
OP        fields                                        meaning
========  ===========================================  =========================
exec      NAME=program                                  execve() succeeded: PID
                                                        gets a fresh, empty space
seed      START END PROT FLAGS PGOFF NAME              a mapping the kernel made
                                                        during exec (binary,
                                                        ld.so, stack, vdso; from
                                                        perf's MMAP2 records)
mmap      HINT LEN PROT FLAGS PGOFF ADDR NAME          mmap(HINT, LEN, ...) = ADDR
munmap    ADDR LEN                                      munmap succeeded
mprotect  ADDR LEN PROT                                 mprotect succeeded
mremap    OLD OLDLEN NEWLEN FLAGS ADDR                  mremap(...) = ADDR
brk       ARG RESULT                                    brk(ARG) = RESULT
clone     CHILD FLAGS                                   clone/fork/vfork made
                                                        CHILD (FLAGS: CLONE_*)
fault     ADDR                                          a page fault at ADDR
========  ===========================================  =========================

Syscall events are stamped with their *exit* time (when the effect is
visible), ``exec``/``clone`` with their *entry* time (nothing of the new
space can happen before), faults with perf's sample time; all from the same
clock (``CLOCK_REALTIME``), merged by time.  Only successful calls are kept.

Replay semantics (one ``AddressSpace`` per Linux ``mm``)
--------------------------------------------------------
* ``exec`` starts a new empty address space for PID; ``clone`` with
  ``CLONE_VM`` (threads, vfork) makes CHILD share the caller's space, without
  it (fork) CHILD gets ``AddressSpace.fork()`` of the caller's: its index
  duplicated the backend's way (``VMAIndex.dup``: maple node by node like
  ``__mt_dup``), its break and page table copied (``ReplayResult.forks``
  counts them).  Every space ever created
  is kept and reported (``ReplayResult.spaces``, labelled ``PID#n``).
* ``seed`` and ``mmap`` -> ``mm.mmap(len, addr=ADDR, flags=FLAGS|MAP_FIXED)``
  (page-rounded), so the result is the kernel's address on every backend.
* ``munmap``/``mprotect`` -> the same call; ``brk`` -> ``mm.brk(RESULT)`` when
  RESULT moved the break, nothing for a query.
* ``mremap`` -> shrink in place = ``munmap`` of the tail; grow in place =
  ``mmap`` FIXED of the new tail with the VMA's attributes and contiguous
  ``pgoff`` (so it merges, as the kernel extends the VMA); a move = the old
  VMA's attributes re-mapped FIXED at ADDR, then ``munmap`` of the old range
  (kept with ``MREMAP_DONTUNMAP``).
* ``fault`` -> ``mm.fault(ADDR)`` (perf does not tell reads from writes, so
  all are read faults).  A fault the model cannot explain (no VMA: a mapping
  made before tracing started, e.g. without perf no seeds exist) is counted in
  ``ReplayResult.unexplained`` and skipped; so is a model error on a syscall
  (``ReplayResult.errors``).

API
---
``Event``, ``Trace`` (``.events``, ``.meta``, ``.counts()``, ``.pids()``),
``load_trace(path)``, ``parse_trace(text, source)``, ``write_trace(trace, path)``,
``format_event(ev)``, ``read_header(path)``, ``replay(trace, backend="list", **mm_options) -> ReplayResult``,
``snapshot_trace(snapshot) -> Trace``, ``TraceFormatError``, ``OPS``.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bench.inputs.maps import CorruptFileError, Snapshot, header_item, header_value, open_text, parse_header
from structures.vma import MAP_ANONYMOUS, MAP_FIXED, PAGE_SHIFT, PAGE_SIZE, VMAError

__all__ = [
    "TRACE_MAGIC",
    "OPS",
    "CLONE_VM",
    "CLONE_VFORK",
    "CLONE_THREAD",
    "MREMAP_MAYMOVE",
    "MREMAP_FIXED",
    "MREMAP_DONTUNMAP",
    "Event",
    "Trace",
    "TraceFormatError",
    "ReplayResult",
    "format_event",
    "parse_trace",
    "load_trace",
    "read_header",
    "write_trace",
    "replay",
    "snapshot_trace",
]

TRACE_MAGIC = "# vmalab-trace v1"

CLONE_VM = 0x100
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

#: op -> (hex field names, has a trailing NAME)
OPS: dict[str, tuple[tuple[str, ...], bool]] = {
    "exec": ((), True),
    "seed": (("start", "end", "prot", "flags", "pgoff"), True),
    "mmap": (("hint", "len", "prot", "flags", "pgoff", "addr"), True),
    "munmap": (("addr", "len"), False),
    "mprotect": (("addr", "len", "prot"), False),
    "mremap": (("old", "oldlen", "newlen", "flags", "addr"), False),
    "brk": (("arg", "result"), False),
    "clone": (("child", "flags"), False),
    "fault": (("addr",), False),
}


class TraceFormatError(VMAError, ValueError):
    """A malformed trace (or strace/perf) line; names the file and line number."""


class Event(NamedTuple):
    """One trace event: time (ns), thread id, op, hex fields, name."""

    t: int
    pid: int
    op: str
    args: tuple[int, ...]
    name: str = ""


@dataclass
class Trace:
    """A loaded trace: metadata from the header and the ordered events."""

    events: list[Event]
    meta: dict[str, str] = field(default_factory=dict)

    def counts(self) -> Counter[str]:
        return Counter(ev.op for ev in self.events)

    def pids(self) -> list[int]:
        return sorted({ev.pid for ev in self.events})

    def __len__(self) -> int:
        return len(self.events)


# ----------------------------------------------------------------------
# text format
# ----------------------------------------------------------------------
def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(name: str) -> str:
    if "\\" not in name:
        return name
    out: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c == "\\" and i + 1 < len(name):
            nxt = name[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def format_event(ev: Event) -> str:
    """One event as a trace line (no newline)."""
    has_name = OPS[ev.op][1]
    parts = [str(ev.t), str(ev.pid), ev.op, *(format(a, "x") for a in ev.args)]
    line = " ".join(parts)
    if has_name:
        line += " " + _escape(ev.name)
    return line


def _parse_event(line: str) -> Event:
    head = line.split(" ", 3)
    if len(head) < 3:
        raise ValueError("expected 'T PID OP FIELD...'")
    t_s, pid_s, op = head[0], head[1], head[2]
    if op not in OPS:
        raise ValueError(f"unknown op {op!r} (known: {', '.join(OPS)})")
    if not (t_s.isdigit() and pid_s.isdigit()):
        raise ValueError(f"time and pid must be decimal integers, got {t_s!r} {pid_s!r}")
    names, has_name = OPS[op]
    rest = head[3] if len(head) > 3 else ""
    fields = rest.split(" ", len(names)) if rest else []
    if len(fields) < len(names):
        raise ValueError(f"{op} needs {len(names)} fields ({' '.join(names)}), got {len(fields)}")
    name = ""
    if len(fields) > len(names):
        if not has_name:
            raise ValueError(f"{op} takes {len(names)} fields ({' '.join(names)}), got more: {rest!r}")
        name = _unescape(fields[len(names)])
    try:
        args = tuple(int(f, 16) for f in fields[: len(names)])
    except ValueError:
        raise ValueError(f"{op} fields must be hex numbers, got {' '.join(fields[: len(names)])!r}") from None
    if any(a < 0 for a in args) or any(f.startswith(("-", "+", "0x")) for f in fields[: len(names)]):
        raise ValueError(f"{op} fields must be bare non-negative hex, got {rest!r}")
    return Event(int(t_s), int(pid_s), op, args, name)


def parse_trace(text: str, source: str = "<trace>") -> Trace:
    """Parse a whole trace text; ``TraceFormatError("source:LINE: ...")`` on any bad line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != TRACE_MAGIC:
        got = lines[0][:40] if lines else "an empty file"
        raise TraceFormatError(f"{source}:1: not a vmalab trace: want {TRACE_MAGIC!r}, got {got!r}")
    meta: dict[str, str] = {}
    events: list[Event] = []
    last_t = 0
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        if line.startswith("#"):
            item = header_item(line)
            if item is not None:
                meta[item[0]] = item[1]
            continue
        try:
            ev = _parse_event(line)
        except ValueError as exc:
            raise TraceFormatError(f"{source}:{lineno}: {exc}") from None
        if ev.t < last_t:
            raise TraceFormatError(f"{source}:{lineno}: time {ev.t} goes back (previous {last_t}); a trace is ordered")
        last_t = ev.t
        events.append(ev)
    return Trace(events, meta)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Load a trace file (gzip or plain)."""
    return parse_trace(open_text(path), str(path))


def read_header(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``# key: value`` header of a trace or snapshot file, reading only its top."""
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        try:
            with gzip.open(raw, "rb") if gz else open(path, "rb") as fh:
                return parse_header(bline.decode("utf-8", errors="replace") for bline in fh)
        except (EOFError, OSError, zlib.error) as exc:
            why = "truncated gzip file" if isinstance(exc, EOFError) else f"corrupt gzip file ({exc})"
            raise CorruptFileError(f"{path}: {' '.join(why.split())}") from None


def write_trace(trace: Trace, path: str | os.PathLike[str]) -> Path:
    """Write ``trace`` (gzip when the name ends in ``.gz``; deterministic bytes)."""
    out = Path(path)
    lines = [TRACE_MAGIC]
    meta = {**trace.meta, "events": str(len(trace.events))}
    lines += [f"# {k}: {header_value(str(v))}" for k, v in meta.items()]
    lines += [format_event(ev) for ev in trace.events]
    data = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0) if out.name.endswith(".gz") else data)
    return out


def snapshot_trace(snapshot: Snapshot, pid: int = 1) -> Trace:
    """A maps snapshot as a trace: ``exec``, one ``seed`` per mapping in address
    order (``[heap]`` grown by ``brk`` instead), a fault on the first and the last page of each, then ``munmap`` of each
    (build, look up, tear down)."""
    evs: list[Event] = [Event(0, pid, "exec", (), snapshot.meta.get("command", ""))]
    vmas = snapshot.vmas()
    for v in vmas:
        if v.name == "[heap]":  # the heap is the break's: grow it with brk, as the program did
            evs.append(Event(0, pid, "brk", (0, v.start)))
            evs.append(Event(0, pid, "brk", (v.end, v.end)))
        else:
            evs.append(Event(0, pid, "seed", (v.start, v.end, v.prot, v.flags, v.pgoff), v.name))
    for v in vmas:
        evs.append(Event(0, pid, "fault", (v.start,)))
        evs.append(Event(0, pid, "fault", (v.end - PAGE_SIZE,)))
    for v in vmas:
        evs.append(Event(0, pid, "munmap", (v.start, v.end - v.start)))
    return Trace(evs, {"source": "maps snapshot", **snapshot.meta})


# ----------------------------------------------------------------------
# replay
# ----------------------------------------------------------------------
def _page_up(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


@dataclass
class ReplayResult:
    """What a replay did: the address spaces (label -> AddressSpace) and counters."""

    spaces: dict[str, Any]
    ops: Counter[str] = field(default_factory=Counter)
    unexplained: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    unknown_pid: int = 0
    forks: int = 0  # clone events without CLONE_VM: address spaces duplicated by fork()

    def states(self) -> dict[str, list[Any]]:
        """label -> the final list of VMAs (what the backends must agree on)."""
        return {label: mm.index.to_list() for label, mm in self.spaces.items()}


def _initial_breaks(events: list[Event]) -> dict[tuple[int, int], int]:
    """(pid, exec number) -> the break its first ``brk`` reported: the space's ``start_brk``."""
    gen: Counter[int] = Counter()
    out: dict[tuple[int, int], int] = {}
    for ev in events:
        if ev.op == "exec":
            gen[ev.pid] += 1
        elif ev.op == "brk" and gen[ev.pid] and (ev.pid, gen[ev.pid]) not in out:
            out[(ev.pid, gen[ev.pid])] = ev.args[1] if not ev.args[0] else min(ev.args)
    return out


class _Replayer:
    """Holds the tid -> address space map while a trace replays."""

    def __init__(self, trace: Trace, backend: Any, mm_options: dict[str, Any]) -> None:
        from structures.mm.address_space import AddressSpace  # imported late: replay is optional

        self.AddressSpace = AddressSpace
        self.backend = backend
        self.mm_options = mm_options
        self.result = ReplayResult({})
        self.mm_of: dict[int, Any] = {}
        self.gen: Counter[int] = Counter()
        self.breaks = _initial_breaks(trace.events)

    def new_space(self, pid: int, start_brk: int | None = None) -> Any:
        self.gen[pid] += 1
        if start_brk is None:
            start_brk = self.breaks.get((pid, self.gen[pid]))
        opts = dict(self.mm_options)
        if start_brk is not None:
            opts["start_brk"] = _page_up(start_brk) if start_brk % PAGE_SIZE else start_brk
        index = self.backend() if callable(self.backend) and not isinstance(self.backend, str) else self.backend
        mm = self.AddressSpace(index, **opts)
        self.result.spaces[f"{pid}#{self.gen[pid]}"] = mm
        self.mm_of[pid] = mm
        return mm

    def fork(self, parent: Any, child: int) -> None:
        """fork(): the child's space is ``parent.fork()`` -- ``dup_mmap``: the parent's
        index duplicated the backend's own way (``VMAIndex.dup``), its break and page
        table copied, a fresh lock and policy of the same kinds."""
        mm = parent.fork()
        self.gen[child] += 1
        self.result.spaces[f"{child}#{self.gen[child]}"] = mm
        self.mm_of[child] = mm
        self.result.forks += 1

    def mremap(self, mm: Any, old: int, oldlen: int, newlen: int, flags: int, addr: int) -> None:
        oldlen, newlen = _page_up(oldlen), _page_up(newlen)
        vma = mm.index.find(old) if oldlen else None
        if addr == old:
            if newlen < oldlen:
                mm.munmap(old + newlen, oldlen - newlen)
            elif newlen > oldlen and vma is not None:
                pgoff = vma.pgoff + ((old + oldlen - vma.start) >> PAGE_SHIFT)
                mm.mmap(newlen - oldlen, addr=old + oldlen, prot=vma.prot, flags=vma.flags | MAP_FIXED,
                        name=vma.name, pgoff=pgoff)
            return
        if vma is None or not vma.start <= old < vma.end:
            raise VMAError(f"mremap source {old:#x} is not mapped in the model")
        pgoff = vma.pgoff + ((old - vma.start) >> PAGE_SHIFT)
        if vma.flags & MAP_ANONYMOUS:
            pgoff = addr >> PAGE_SHIFT
        mm.mmap(newlen, addr=addr, prot=vma.prot, flags=vma.flags | MAP_FIXED, name=vma.name, pgoff=pgoff)
        if oldlen and not flags & MREMAP_DONTUNMAP:
            mm.munmap(old, oldlen)

    def apply(self, ev: Event) -> None:
        op, a = ev.op, ev.args
        res = self.result
        if op == "exec":
            self.new_space(ev.pid)
            res.ops[op] += 1
            return
        mm = self.mm_of.get(ev.pid)
        if mm is None:
            res.unknown_pid += 1
            return
        res.ops[op] += 1
        if op == "fault":
            try:
                mm.fault(a[0])
            except VMAError:
                res.unexplained += 1
            return
        try:
            if op == "mmap":
                _hint, length, prot, flags, pgoff, addr = a
                if flags & MAP_ANONYMOUS:
                    pgoff = addr >> PAGE_SHIFT
                mm.mmap(_page_up(length), addr=addr, prot=prot & 7, flags=flags | MAP_FIXED, name=ev.name, pgoff=pgoff)
            elif op == "seed":
                start, end, prot, flags, pgoff = a
                mm.mmap(end - start, addr=start, prot=prot & 7, flags=flags | MAP_FIXED, name=ev.name, pgoff=pgoff)
            elif op == "munmap":
                mm.munmap(a[0], _page_up(a[1]))
            elif op == "mprotect":
                if a[1]:
                    mm.mprotect(a[0], _page_up(a[1]), a[2] & 7)
            elif op == "brk":
                arg, result = a
                if arg and arg == result:
                    mm.brk(result)
            elif op == "mremap":
                self.mremap(mm, *a)
            elif op == "clone":
                child, flags = a
                if flags & CLONE_VM:
                    self.mm_of[child] = mm
                else:
                    self.fork(mm, child)
        except VMAError as exc:
            res.errors[f"{op}: {type(exc).__name__}"] += 1


def replay(trace: Trace, backend: Any = "list", **mm_options: Any) -> ReplayResult:
    """Replay every event of ``trace`` through ``structures.mm.address_space.AddressSpace(backend, ...)``.

    ``backend`` is a backend name or a zero-argument factory returning a fresh
    ``VMAIndex`` (one per address space).  See the module docstring for the
    per-op semantics; the returned ``ReplayResult`` holds every address space."""
    rp = _Replayer(trace, backend, mm_options)
    apply = rp.apply
    for ev in trace.events:
        apply(ev)
    return rp.result
