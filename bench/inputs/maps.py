"""``/proc/PID/maps`` snapshots: parse them into VMAs, record them, load them.

Invariant
---------
A loaded ``Snapshot`` holds the user-space mappings of one process, sorted by
address and non-overlapping, each already a valid ``VMA`` (page aligned,
below ``TASK_SIZE``).  Mappings the model cannot hold (``[vsyscall]`` lives at
``0xffffffffff600000``, above ``TASK_SIZE``) are dropped and counted in
``Snapshot.skipped``.  A file that fails to parse raises ``MapsFormatError``
naming the file and line, and nothing is returned (no half-loaded snapshot).

Layout
------
A snapshot file is the kernel's text, verbatim, under a few header comments::

    # vmalab-maps v1
    # pid: 1234
    # command: python3 -c ...
    # kernel: 6.18.44
    # recorded: 2025-01-01T12:00:00+00:00
    55d0c8a00000-55d0c8a28000 r--p 00000000 fe:00 260896   /usr/bin/python3.11
    ...  start-end perms offset dev inode [name]

``perms`` is ``rwx`` plus ``p`` (private) or ``s`` (shared).  The VMA gets
``prot`` from ``rwx``, ``flags`` ``MAP_PRIVATE``/``MAP_SHARED`` plus
``MAP_ANONYMOUS`` when the mapping has no file (inode 0: heap, stack, anon),
``name`` (the path, ``[heap]``, ``[stack]``, ... or ``""``) and ``pgoff``
(``offset >> PAGE_SHIFT`` for files; ``start >> PAGE_SHIFT`` for anonymous
mappings, the convention ``structures.AddressSpace`` uses).  Files may be
gzip-compressed (detected by magic, not by name).

API
---
``parse_maps(text, source="<maps>") -> list[MapsEntry]``,
``read_maps(pid="self") -> str``, ``record_snapshot(pid, path, command=None)``,
``load_snapshot(path) -> Snapshot``, ``Snapshot.vmas()``,
``MapsEntry.to_vma()``, ``MapsFormatError``; ``header_item(line)`` and
``parse_header(lines)``: the one parser of the ``# key: value`` headers that
snapshots and traces share.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
import platform
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from structures.vma import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    VMA,
    VMAError,
)

__all__ = [
    "MAPS_MAGIC",
    "MapsEntry",
    "MapsFormatError",
    "CorruptFileError",
    "Snapshot",
    "header_item",
    "header_value",
    "load_snapshot",
    "parse_header",
    "parse_maps",
    "read_maps",
    "record_snapshot",
    "open_text",
    "decode_text",
]

MAPS_MAGIC = "# vmalab-maps v1"


class MapsFormatError(VMAError, ValueError):
    """A malformed maps line; the message names the file and line number."""


class CorruptFileError(VMAError, ValueError):
    """A snapshot or trace file that is not text: truncated or corrupt gzip, or binary data."""


def _gzip_problem(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated gzip file: it ends before the end of its compressed data"
    return f"corrupt gzip file ({' '.join(str(exc).split())[:80]})"


def _not_text(data: bytes) -> str | None:
    """Why ``data`` is not a text file (NUL bytes or invalid UTF-8 near the top), or ``None``."""
    head = data[:4096]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB boundary
            return "binary data, not UTF-8 text"
    if b"\0" in head:
        return "binary data (NUL bytes), not text"
    return None


def decode_text(data: bytes, source: str) -> str:
    """``data`` (gzip-compressed or not) as text, or ``CorruptFileError`` naming ``source`` and the problem
    in words: a truncated or corrupt gzip stream, or binary data (shown as its first bytes in hex)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise CorruptFileError(f"{source}: {_gzip_problem(exc)}") from None
    why = _not_text(data)
    if why is not None:
        raise CorruptFileError(f"{source}: {why} (it starts with bytes {data[:8].hex(' ')})")
    return data.decode("utf-8", errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class MapsEntry:
    """One line of ``/proc/PID/maps``, fields as the kernel prints them."""

    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    name: str

    @property
    def prot(self) -> int:
        return (
            (PROT_READ if self.perms[0] == "r" else 0)
            | (PROT_WRITE if self.perms[1] == "w" else 0)
            | (PROT_EXEC if self.perms[2] == "x" else 0)
        )

    @property
    def anonymous(self) -> bool:
        return self.inode == 0

    @property
    def flags(self) -> int:
        share = MAP_SHARED if self.perms[3] == "s" else MAP_PRIVATE
        return share | (MAP_ANONYMOUS if self.anonymous else 0)

    @property
    def pgoff(self) -> int:
        return (self.start if self.anonymous else self.offset) >> PAGE_SHIFT

    def to_vma(self) -> VMA:
        return VMA(self.start, self.end, self.prot, self.flags, self.name, self.pgoff)


def _parse_line(line: str) -> MapsEntry:
    parts = line.split(None, 5)
    if len(parts) < 5:
        raise ValueError(f"expected 'start-end perms offset dev inode [name]', got {line!r}")
    rng, perms, offset, dev, inode = parts[:5]
    name = parts[5].strip() if len(parts) > 5 else ""
    lo, sep, hi = rng.partition("-")
    if not sep:
        raise ValueError(f"bad range {rng!r} (want start-end in hex)")
    try:
        start, end, off, ino = int(lo, 16), int(hi, 16), int(offset, 16), int(inode, 10)
    except ValueError as exc:
        raise ValueError(f"bad number in {line!r}: {exc}") from None
    if len(perms) != 4 or perms[0] not in "r-" or perms[1] not in "w-" or perms[2] not in "x-" or perms[3] not in "ps":
        raise ValueError(f"bad perms {perms!r} (want e.g. r-xp)")
    if start >= end or start % PAGE_SIZE or end % PAGE_SIZE:
        raise ValueError(f"bad range {rng!r}: need page-aligned start < end")
    if ":" not in dev:
        raise ValueError(f"bad device {dev!r} (want major:minor)")
    return MapsEntry(start, end, perms, off, dev, ino, name)


def parse_maps(text: str, source: str = "<maps>") -> list[MapsEntry]:
    """Parse maps text (``#`` comment lines and blank lines ignored), in order.

    Raises ``MapsFormatError("source:LINE: ...")`` on the first bad line, or when
    the entries are not sorted and disjoint (a kernel never prints that)."""
    out: list[MapsEntry] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = _parse_line(line)
        except ValueError as exc:
            raise MapsFormatError(f"{source}:{lineno}: {exc}") from None
        if out and entry.start < out[-1].end:
            raise MapsFormatError(
                f"{source}:{lineno}: mapping {entry.start:#x}-{entry.end:#x} overlaps or precedes "
                f"the previous one ending at {out[-1].end:#x}"
            )
        out.append(entry)
    return out


def open_text(path: str | os.PathLike[str]) -> str:
    """A text file's contents, gunzipped when it starts with the gzip magic
    (``CorruptFileError`` for a truncated or corrupt gzip file, or binary data)."""
    return decode_text(Path(path).read_bytes(), str(path))


@dataclass
class Snapshot:
    """A loaded maps snapshot: header metadata and its entries."""

    entries: list[MapsEntry]
    meta: dict[str, str] = field(default_factory=dict)
    skipped: list[MapsEntry] = field(default_factory=list)

    def vmas(self) -> list[VMA]:
        return [e.to_vma() for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)


def header_item(line: str) -> tuple[str, str] | None:
    """``# key: value`` -> ``(key, value)``; ``None`` for any other line (a bare ``#`` comment too).

    The one parser of the ``# key: value`` headers that snapshots and traces share."""
    if not line.startswith("#"):
        return None
    key, sep, value = line[1:].partition(":")
    return (key.strip(), value.strip()) if sep else None


def header_value(text: str) -> str:
    """``text`` made safe for one ``# key: value`` line: line breaks become ``\\n``
    (a command line with a newline in an argument once broke a snapshot's header)."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def parse_header(lines: Iterable[str]) -> dict[str, str]:
    """The header items of the leading ``#`` lines (stops at the first other line)."""
    meta: dict[str, str] = {}
    for line in lines:
        if not line.startswith("#"):
            break
        item = header_item(line)
        if item is not None:
            meta[item[0]] = item[1]
    return meta


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Load a snapshot file (ours, or a bare copy of ``/proc/PID/maps``)."""
    text = open_text(path)
    entries = parse_maps(text, str(path))
    keep = [e for e in entries if e.end <= TASK_SIZE]
    skipped = [e for e in entries if e.end > TASK_SIZE]
    return Snapshot(keep, parse_header(text.splitlines()), skipped)


def read_maps(pid: int | str = "self") -> str:
    """The current text of ``/proc/PID/maps`` (``pid="self"`` for this process)."""
    try:
        return Path(f"/proc/{pid}/maps").read_text(errors="surrogateescape")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such process: /proc/{pid}/maps does not exist") from None


def _command_of(pid: int | str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)


def record_snapshot(pid: int | str, path: str | os.PathLike[str], command: str | None = None) -> Snapshot:
    """Write ``/proc/PID/maps`` with a header to ``path`` (gzip when it ends in ``.gz``)
    and return it as loaded back (so a bad snapshot fails here, not later)."""
    text = read_maps(pid)
    real_pid = os.getpid() if pid == "self" else pid
    parse_maps(text, f"/proc/{pid}/maps")  # validate before writing anything
    header = [
        MAPS_MAGIC,
        f"# pid: {real_pid}",
        f"# command: {header_value(command if command is not None else _command_of(pid))}",
        f"# kernel: {platform.release()}",
        f"# recorded: {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')}",
    ]
    body = "\n".join(header) + "\n" + text
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = body.encode("utf-8", errors="surrogateescape")
    out.write_bytes(gzip.compress(data, mtime=0) if out.name.endswith(".gz") else data)
    return load_snapshot(out)
