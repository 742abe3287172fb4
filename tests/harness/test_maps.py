"""``bench.inputs.maps``: /proc/PID/maps parsing, snapshot record/load, and ``vmalab maps``."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bench.cli import main
from bench.inputs.maps import MapsFormatError, load_snapshot, parse_maps, read_maps, record_snapshot
from structures import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE

DATA = Path(__file__).parent / "data" / "maps"
SHIPPED = Path(__file__).parents[2] / "bench" / "maps"


def test_parse_fields() -> None:
    text = (
        "55e8f7896000-55e8f7897000 r--p 00000000 fe:00 26723    /usr/bin/python3.11\n"
        "55e8f7897000-55e8f7899000 r-xp 00001000 fe:00 26723    /usr/bin/python3.11\n"
        "7f0000000000-7f0000021000 rw-s 00002000 00:05 99  /dev/zero (deleted)\n"
        "7f0000100000-7f0000121000 rw-p 00000000 00:00 0 \n"
        "7ffd571f9000-7ffd5721a000 rw-p 00000000 00:00 0                          [stack]\n"
    )
    es = parse_maps(text)
    assert [e.name for e in es] == ["/usr/bin/python3.11", "/usr/bin/python3.11", "/dev/zero (deleted)", "", "[stack]"]
    text_vma = es[1].to_vma()
    assert (text_vma.start, text_vma.end, text_vma.prot) == (0x55E8F7897000, 0x55E8F7899000, PROT_READ | PROT_EXEC)
    assert text_vma.flags == MAP_PRIVATE and text_vma.pgoff == 1
    shared = es[2].to_vma()
    assert shared.flags == MAP_SHARED and shared.pgoff == 2 and shared.prot == PROT_READ | PROT_WRITE
    anon = es[3].to_vma()
    assert anon.flags == MAP_PRIVATE | MAP_ANONYMOUS and anon.pgoff == 0x7F0000100000 >> 12
    assert es[4].to_vma().name == "[stack]"


@pytest.mark.parametrize(
    "bad, why",
    [
        ("55e8f7896000 r--p 00000000 fe:00 1 x", "bad range"),
        ("1000-2000 r--q 00000000 fe:00 1 x", "bad perms"),
        ("1000-2000 r--p 0000zz00 fe:00 1 x", "bad number"),
        ("1000-1800 r--p 00000000 fe:00 1 x", "page-aligned"),
        ("1000-2000 r--p 00000000", "expected"),
        ("1000-2000 r--p 00000000 fe00 1 x", "bad device"),
        ("0000-2000 r--p 00000000 fe:00 1 x", "overlaps"),
    ],
)
def test_malformed_line_names_the_line(bad: str, why: str) -> None:
    good = "1000-2000 r--p 00000000 fe:00 1 /x\n"
    with pytest.raises(MapsFormatError, match=rf"^f\.maps:3: .*{why}"):
        parse_maps("# header\n" + good + bad + "\n", "f.maps")


def test_fixture_loads_and_skips_vsyscall() -> None:
    snap = load_snapshot(DATA / "sample.maps")
    assert snap.meta["pid"].isdigit() and "python" in snap.meta["command"]
    assert len(snap) == 28 and [e.name for e in snap.skipped] == ["[vsyscall]"]
    vmas = snap.vmas()
    assert all(a.end <= b.start for a, b in itertools.pairwise(vmas))
    assert all(v.end <= TASK_SIZE for v in vmas)


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.maps")), ids=lambda p: p.name)
def test_shipped_snapshots_load(path: Path) -> None:
    snap = load_snapshot(path)
    assert len(snap) > 100 and snap.meta.get("kernel")


def test_record_self_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "self.maps.gz"
    snap = record_snapshot("self", out)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    again = load_snapshot(out)
    assert again.entries == snap.entries and len(again) > 5
    assert any(e.name == "[stack]" for e in again.entries)
    live = parse_maps(read_maps("self"))
    assert {e.name for e in live if e.name.startswith("/")} >= {e.name for e in again.entries if "python" in e.name}


def test_cli_maps_self(tmp_path: Path) -> None:
    out = tmp_path / "self.maps"
    assert main(["maps", "--self", "-o", str(out)]) == 0
    snap = load_snapshot(out)
    assert len(snap) > 5 and snap.meta["pid"].isdigit()
    assert main(["maps", "--show", str(out)]) == 0


def test_cli_maps_errors(tmp_path: Path) -> None:
    assert main(["maps", "--self"]) == 2  # -o missing
    assert main(["maps", "999999999", "-o", str(tmp_path / "x.maps")]) == 2  # no such process
    assert not (tmp_path / "x.maps").exists()


def test_a_command_line_with_a_newline_keeps_the_snapshot_parseable(tmp_path: Path) -> None:
    snap = record_snapshot("self", tmp_path / "nl.maps", command="python -c 'import x\nprint(1)'")
    assert snap.meta["command"] == "python -c 'import x\\nprint(1)'"  # one header line, escaped
    assert len(snap) > 0 and load_snapshot(tmp_path / "nl.maps").meta == snap.meta
