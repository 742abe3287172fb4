"""Record a real program's address-space trace with ``strace`` (+ ``perf`` faults).

Invariant
---------
``record()`` either writes a complete, loadable ``vmalab-trace v1`` file (see
``bench.inputs.traces``) or raises ``RecorderError`` saying which tool is missing or
not permitted; it never leaves a half-written trace behind.  Every event in the
output belongs to a thread of the traced program *after* it exists (the
strace/perf processes themselves and the pre-``execve`` instant of the forked
child are filtered out), and the events are ordered by one clock.

Layout (how a recording runs)
-----------------------------
::

    perf record -q -e page-faults -c 1 -d -k CLOCK_REALTIME -o faults.data --   (if perf works)
      strace -f -qq -y -o syscalls.txt --timestamps=unix,ns --syscall-times=ns \\
             -e trace=mmap,munmap,mprotect,mremap,brk,execve,clone,clone3,fork,vfork \\
             -- CMD ...
    perf script --ns --show-mmap-events -F tid,time,addr,event      -> faults + MMAP2
    merge by time  -> exec/clone at syscall entry, other calls at exit
                      (entry + -T duration), faults and seeds at perf time

``-c 1`` samples *every* page fault; ``-d`` records its data address.  perf's
``PERF_RECORD_MMAP2`` records falling inside an ``execve``'s [entry, exit]
window of the same thread are the mappings the kernel made at exec (the
binary, ld.so, ``[stack]``, ``[vdso]``, ``[vvar]``): they become ``seed``
events, so replay starts from the real initial layout.  Without perf there are
no seeds and no faults; the header says so (``# faults: none (why)``).
``execve``/``clone*``/``fork``/``vfork`` are traced beyond the five memory
calls so that replay can keep one address space per ``mm``.

API
---
``record(cmd, out, *, use_perf=None, cwd=None, command_label=None) -> RecordSummary``,
``check_strace()``, ``check_perf() -> (ok, why)``,
``parse_strace(text, source) -> (events, windows, born)``, ``parse_perf(text, source)``,
``merge(...) -> list[Event]``, ``RecorderError``.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.inputs.traces import CLONE_VFORK, CLONE_VM, Event, Trace, TraceFormatError, write_trace
from structures.vma import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PAGE_SHIFT, VMAError

__all__ = [
    "RecorderError",
    "RecordSummary",
    "STRACE_CALLS",
    "check_perf",
    "check_strace",
    "merge",
    "parse_perf",
    "parse_strace",
    "record",
]

STRACE_CALLS = "mmap,munmap,mprotect,mremap,brk,execve,clone,clone3,fork,vfork"


class RecorderError(VMAError, RuntimeError):
    """strace is missing or not permitted, or the recording could not be made."""


# ----------------------------------------------------------------------
# symbolic constants as strace prints them (x86-64)
# ----------------------------------------------------------------------
_PROT = {"PROT_NONE": 0, "PROT_READ": 1, "PROT_WRITE": 2, "PROT_EXEC": 4, "PROT_SEM": 8,
         "PROT_GROWSDOWN": 0x01000000, "PROT_GROWSUP": 0x02000000}
_MAP = {"MAP_SHARED": 0x1, "MAP_PRIVATE": 0x2, "MAP_SHARED_VALIDATE": 0x3, "MAP_FIXED": 0x10,
        "MAP_ANONYMOUS": 0x20, "MAP_32BIT": 0x40, "MAP_GROWSDOWN": 0x100, "MAP_DENYWRITE": 0x800,
        "MAP_EXECUTABLE": 0x1000, "MAP_LOCKED": 0x2000, "MAP_NORESERVE": 0x4000, "MAP_POPULATE": 0x8000,
        "MAP_NONBLOCK": 0x10000, "MAP_STACK": 0x20000, "MAP_HUGETLB": 0x40000, "MAP_SYNC": 0x80000,
        "MAP_FIXED_NOREPLACE": 0x100000, "MAP_UNINITIALIZED": 0x4000000}
_MREMAP = {"MREMAP_MAYMOVE": 1, "MREMAP_FIXED": 2, "MREMAP_DONTUNMAP": 4}
_HUGE = re.compile(r"MAP_HUGE_(\d+)([KMG])B")
_UNIT = {"K": 10, "M": 20, "G": 30}


def _flags(text: str, table: dict[str, int]) -> int:
    value = 0
    for part in text.split("|"):
        part = part.strip()
        if part in table:
            value |= table[part]
        elif m := _HUGE.fullmatch(part):
            value |= (int(m.group(1)).bit_length() - 1 + _UNIT[m.group(2)]) << 26
        elif part.startswith("0x") or part.isdigit():
            value |= int(part, 0)
        else:
            raise ValueError(f"unknown flag {part!r}")
    return value


def _num(text: str) -> int:
    text = text.strip()
    return 0 if text == "NULL" else int(text, 0)


def _split_args(text: str) -> list[str]:
    """Split strace's argument text at top-level commas (quotes and brackets respected)."""
    out: list[str] = []
    depth = 0
    quote = False
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in "([{<":
            depth += 1
            cur.append(c)
        elif c in ")]}>":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur or out:
        out.append("".join(cur).strip())
    return out


def _unquote(s: str) -> str:
    s = s.strip()
    if s.endswith("..."):
        s = s[:-3]
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        s = s[1:-1]
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape", errors="replace")


def _fd_path(fd: str) -> str:
    """``3</usr/lib/libc.so.6>`` -> the path; ``-1`` -> ``""``."""
    lt = fd.find("<")
    return fd[lt + 1 : -1] if lt >= 0 and fd.endswith(">") else ""


def _ns(sec: str) -> int:
    whole, _, frac = sec.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


# ----------------------------------------------------------------------
# strace
# ----------------------------------------------------------------------
_DONE = re.compile(r"^(\d+) +(\d+\.\d+) (\w+)\((.*)\) += (.*?)(?: <(\d+\.\d+)>)?$")
_UNFINISHED = re.compile(r"^(\d+) +(\d+\.\d+) (\w+)\((.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(\d+) +(\d+\.\d+) <\.\.\. (\w+) resumed>(.*)\) += (.*?)(?: <(\d+\.\d+)>)?$")
_NOISE = re.compile(r"^(\d+) +(\d+\.\d+) (---|\+\+\+|<\.\.\. \w+ resumed> <unfinished)")
_CLONE_FLAGS = re.compile(r"flags=([A-Z0-9_|x]+)")


def _syscall_event(pid: int, t_entry: int, dur: int, call: str, args: str, result: str) -> Event | None:
    """One finished syscall as an event (None for failures and calls we do not keep)."""
    res = result.split(" ", 1)[0]
    if res in ("?", "") or res.startswith("-"):
        return None
    ret = int(res, 0)
    a = _split_args(args)
    t_exit = t_entry + dur
    if call == "mmap":
        flags = _flags(a[3], _MAP)
        name = "" if flags & MAP_ANONYMOUS else _fd_path(a[4])
        return Event(t_exit, pid, "mmap", (_num(a[0]), _num(a[1]), _flags(a[2], _PROT), flags,
                                           _num(a[5]) >> PAGE_SHIFT, ret), name)
    if call == "munmap":
        return Event(t_exit, pid, "munmap", (_num(a[0]), _num(a[1])))
    if call == "mprotect":
        return Event(t_exit, pid, "mprotect", (_num(a[0]), _num(a[1]), _flags(a[2], _PROT)))
    if call == "mremap":
        return Event(t_exit, pid, "mremap", (_num(a[0]), _num(a[1]), _num(a[2]), _flags(a[3], _MREMAP), ret))
    if call == "brk":
        return Event(t_exit, pid, "brk", (_num(a[0]), ret))
    if call == "execve":
        return Event(t_entry, pid, "exec", (), _unquote(a[0]))
    if call in ("clone", "clone3"):
        m = _CLONE_FLAGS.search(args)
        names = m.group(1).split("|") if m else []
        flags = (CLONE_VM if "CLONE_VM" in names else 0) | (CLONE_VFORK if "CLONE_VFORK" in names else 0)
        return Event(t_entry, pid, "clone", (ret, flags))
    if call == "fork":
        return Event(t_entry, pid, "clone", (ret, 0))
    if call == "vfork":
        return Event(t_entry, pid, "clone", (ret, CLONE_VM | CLONE_VFORK))
    return None


Windows = dict[int, list[tuple[int, int, bool]]]


def parse_strace(text: str, source: str = "<strace>") -> tuple[list[Event], Windows, int]:
    """Parse ``strace -f -y --timestamps=unix,ns --syscall-times=ns`` output.

    Returns the events (unsorted: exec/clone at entry, others at exit), every
    kept call's ``(entry, exit, is_exec)`` window per thread (sorted), and the
    number of failed calls dropped.  A line that looks like a syscall but does
    not parse raises ``TraceFormatError("source:LINE: ...")``."""
    events: list[Event] = []
    windows: Windows = {}
    pending: dict[int, tuple[int, str, str]] = {}
    failed = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if not line or _NOISE.match(line):
            continue
        try:
            if m := _UNFINISHED.match(line):
                pending[int(m.group(1))] = (_ns(m.group(2)), m.group(3), m.group(4))
                continue
            if m := _RESUMED.match(line):
                pid = int(m.group(1))
                if pid not in pending or pending[pid][1] != m.group(3):
                    raise ValueError(f"'{m.group(3)} resumed' without its unfinished start")
                t_entry, call, head = pending.pop(pid)
                args, result, dur_s = head + m.group(4), m.group(5), m.group(6)
            elif m := _DONE.match(line):
                pid, t_entry, call = int(m.group(1)), _ns(m.group(2)), m.group(3)
                args, result, dur_s = m.group(4), m.group(5), m.group(6)
            else:
                raise ValueError(f"not an strace line: {line[:80]!r}")
            dur = _ns(dur_s) if dur_s else 0
            ev = _syscall_event(pid, t_entry, dur, call, args, result)
        except (ValueError, IndexError) as exc:
            raise TraceFormatError(f"{source}:{lineno}: {exc}") from None
        if ev is None:
            failed += 1
            continue
        windows.setdefault(pid, []).append((t_entry, t_entry + dur, ev.op == "exec"))
        events.append(ev)
    for calls in windows.values():
        calls.sort()
    return events, windows, failed


# ----------------------------------------------------------------------
# perf
# ----------------------------------------------------------------------
_FAULT = re.compile(r"^\s*(\d+)\s+(\d+\.\d+):\s+(?:\d+\s+)?page-faults:?\s+([0-9a-f]+)")
_MMAP2 = re.compile(
    r"^\s*(\d+)\s+(\d+\.\d+): PERF_RECORD_MMAP2 \d+/(\d+): "
    r"\[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|\d+) ([^\]]*)\]: ([r-][w-][x-][ps]) ?(.*)$"
)


def parse_perf(text: str, source: str = "<perf>") -> tuple[list[Event], list[Event]]:
    """Parse ``perf script --ns --show-mmap-events -F tid,time,addr,event``:
    (faults, mmap2 records as ``seed`` events).  Other record kinds are ignored."""
    faults: list[Event] = []
    seeds: list[Event] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if m := _FAULT.match(line):
            faults.append(Event(_ns(m.group(2)), int(m.group(1)), "fault", (int(m.group(3), 16),)))
        elif "PERF_RECORD_MMAP2" in line:
            m2 = _MMAP2.match(line)
            if m2 is None:
                raise TraceFormatError(f"{source}:{lineno}: unreadable MMAP2 record {line[:100]!r}")
            start, length = int(m2.group(4), 16), int(m2.group(5), 16)
            perms, name = m2.group(8), m2.group(9).strip()
            dev = m2.group(7).split()
            anon = name.startswith(("//anon", "[")) or (len(dev) >= 2 and dev[1] == "0")
            if name.startswith("//anon"):
                name = ""
            prot = (1 if perms[0] == "r" else 0) | (2 if perms[1] == "w" else 0) | (4 if perms[2] == "x" else 0)
            flags = (MAP_SHARED if perms[3] == "s" else MAP_PRIVATE) | (MAP_ANONYMOUS if anon else 0)
            pgoff = start >> PAGE_SHIFT if anon else int(m2.group(6), 0) >> PAGE_SHIFT
            end = start + ((length + 4095) & ~4095)
            seeds.append(Event(_ns(m2.group(2)), int(m2.group(3)), "seed", (start, end, prot, flags, pgoff), name))
    return faults, seeds


# ----------------------------------------------------------------------
# merge
# ----------------------------------------------------------------------
def _is_exec_seed(ev: Event, windows: Windows) -> bool:
    """A perf MMAP2 record the kernel made during an exec: after the exec's entry
    and before the thread's next traced call (ld.so's first call is brk)."""
    calls = windows.get(ev.pid, [])
    i = bisect.bisect_right(calls, (ev.t, _INF, True)) - 1
    return i >= 0 and calls[i][2]


def _after_call(ev: Event, windows: Windows) -> Event:
    """A thread takes no user fault inside its own mmap-family call: a fault
    stamped inside one (clock jitter between strace and perf) moves to its exit."""
    calls = windows.get(ev.pid, [])
    i = bisect.bisect_right(calls, (ev.t, _INF, True)) - 1
    if i >= 0 and not calls[i][2] and calls[i][0] <= ev.t < calls[i][1]:
        return ev._replace(t=calls[i][1])
    return ev


_INF = 1 << 80


def merge(syscalls: list[Event], windows: Windows, faults: list[Event], mmaps: list[Event]) -> tuple[list[Event], int]:
    """One ordered event list, times rebased to the first event.

    Keeps perf MMAP2 records made during an exec of their thread (as seeds) and
    faults of threads after they exist (their exec, or the clone that made them).
    Returns the events and the number of fault samples dropped."""
    born: dict[int, int] = {}  # a thread exists from its earliest exec or the clone that made it
    for ev in syscalls:
        who = ev.pid if ev.op == "exec" else ev.args[0] if ev.op == "clone" else None
        if who is not None:
            born[who] = min(born.get(who, ev.t), ev.t)
    seeds = [s for s in mmaps if _is_exec_seed(s, windows)]
    kept = [_after_call(f, windows) for f in faults if f.pid in born and f.t >= born[f.pid]]
    dropped = len(faults) - len(kept)
    # order: time, then exec/clone, then seeds, then calls, then faults at the same instant
    rank = {"exec": 0, "clone": 0, "seed": 1, "fault": 3}
    merged = sorted([*syscalls, *seeds, *kept], key=lambda e: (e.t, rank.get(e.op, 2)))
    if not merged:
        return [], dropped
    t0 = merged[0].t
    return [e._replace(t=e.t - t0) for e in merged], dropped


# ----------------------------------------------------------------------
# running the tools
# ----------------------------------------------------------------------
def check_strace() -> str:
    """The strace binary's path, or ``RecorderError`` saying why it cannot trace."""
    path = shutil.which("strace")
    if path is None:
        raise RecorderError("strace not found on PATH: cannot record mmap/munmap/mprotect/mremap/brk "
                            "(install it, e.g. apt-get install strace)")
    proc = subprocess.run([path, "-qq", "-e", "trace=brk", "-o", os.devnull, "--", "true"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RecorderError(f"strace is not permitted here ({why}); ptrace may be blocked "
                            "(kernel.yama.ptrace_scope, seccomp, or a container without CAP_SYS_PTRACE)")
    return path


def _paranoid() -> str:
    try:
        return Path("/proc/sys/kernel/perf_event_paranoid").read_text().strip()
    except OSError:
        return "?"


def check_perf() -> tuple[bool, str]:
    """Whether ``perf record -e page-faults -c 1 -d`` works here, and why not."""
    path = shutil.which("perf")
    if path is None:
        return False, "perf not found on PATH"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([path, "record", "-q", "-e", "page-faults", "-c", "1", "-d", "-k", "CLOCK_REALTIME",
                               "-o", os.path.join(tmp, "probe.data"), "--", "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return False, f"perf record not permitted ({why}; perf_event_paranoid={_paranoid()})"
    return True, f"perf page-faults -c 1 -d (perf_event_paranoid={_paranoid()})"


@dataclass
class RecordSummary:
    """What a recording produced."""

    path: Path
    returncode: int
    counts: dict[str, int]
    faults: str
    dropped_faults: int
    failed_calls: int


def record(cmd: Sequence[str], out: str | os.PathLike[str], *, use_perf: bool | None = None,
           cwd: str | os.PathLike[str] | None = None, command_label: str | None = None,
           keep_raw: str | os.PathLike[str] | None = None) -> RecordSummary:
    """Run ``cmd`` under strace (and perf when it works and ``use_perf`` is not False)
    and write the merged trace to ``out`` (gzip when it ends in ``.gz``).  With
    ``keep_raw`` (a directory), strace's and perf script's text are kept there."""
    if not cmd:
        raise RecorderError("no command to record (usage: vmalab trace record -o FILE -- CMD ...)")
    strace = check_strace()
    perf_ok, perf_why = (False, "disabled (--no-perf)") if use_perf is False else check_perf()
    if use_perf and not perf_ok:
        raise RecorderError(f"--perf asked for, but {perf_why}")
    with tempfile.TemporaryDirectory(prefix="vmalab-trace-") as tmp:
        st_out = os.path.join(tmp, "syscalls.txt")
        pf_out = os.path.join(tmp, "faults.data")
        argv = [strace, "-f", "-qq", "-y", "-o", st_out, "--timestamps=unix,ns", "--syscall-times=ns",
                "-e", f"trace={STRACE_CALLS}", "--", *cmd]
        if perf_ok:
            argv = ["perf", "record", "-q", "-e", "page-faults", "-c", "1", "-d", "-k", "CLOCK_REALTIME",
                    "-o", pf_out, "--", *argv]
        proc = subprocess.run(argv, cwd=cwd)
        if not os.path.exists(st_out):
            raise RecorderError(f"strace wrote no output (exit status {proc.returncode})")
        syscalls, windows, failed = parse_strace(Path(st_out).read_text(errors="surrogateescape"), "strace output")
        faults: list[Event] = []
        mmaps: list[Event] = []
        if perf_ok:
            script = subprocess.run(["perf", "script", "-i", pf_out, "--ns", "--show-mmap-events",
                                     "-F", "tid,time,addr,event"], capture_output=True, text=True, errors="replace")
            if script.returncode != 0:
                raise RecorderError(f"perf script failed: {script.stderr.strip()[-300:]}")
            faults, mmaps = parse_perf(script.stdout, "perf script output")
        if keep_raw is not None:
            raw = Path(keep_raw)
            raw.mkdir(parents=True, exist_ok=True)
            shutil.copy(st_out, raw / "strace.txt")
            if perf_ok:
                (raw / "perf-script.txt").write_text(script.stdout)
    events, dropped = merge(syscalls, windows, faults, mmaps)
    meta = {
        "command": command_label or shlex.join(cmd),
        "recorded": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "syscalls": f"strace -f -y, trace={STRACE_CALLS}; failed calls dropped: {failed}",
        "faults": perf_why if perf_ok else f"none ({perf_why})",
        "exit status": str(proc.returncode),
    }
    trace = Trace(events, meta)
    path = write_trace(trace, out)
    return RecordSummary(path, proc.returncode, dict(trace.counts()), meta["faults"], dropped, failed)
