"""vmalab report: one self-contained HTML file with tables, plots, verdicts and run metadata.

The HTML is read back with the standard library's parser (the same DOM
contract the browser test checks in Chromium): one ``table.cmp`` per suite
section, every backend named in a header, one ``figure.plot`` per chart.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pyperf
import pytest

from bench.cli import main
from bench.report.html import build_report

ROOT = Path(__file__).resolve().parents[2]
#: fixed runs (the reference set of 2026-12-04): the asserts name their cells
REF = Path(__file__).parent / "data" / "ref"
FIXTURE = Path(__file__).parent / "data" / "compare_fixture.json"


class Dom(HTMLParser):
    """The parts of a report's DOM the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.sections: list[dict[str, object]] = []  # suite sections: attrs, tables, ths
        self.figures: list[dict[str, object]] = []
        self.scripts = 0
        self.links: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        cls = a.get("class", "").split()
        if tag == "section" and "suite" in cls:
            self.sections.append({"attrs": a, "tables": 0, "ths": []})
        if tag == "table" and "cmp" in cls and self.sections:
            self.sections[-1]["tables"] += 1  # type: ignore[operator]
        if tag == "th" and self.sections:
            self._text = []
        if tag == "figure" and "plot" in cls:
            self.figures.append({"name": a.get("data-plot"), "svg": False, "section": self._section_id()})
        if tag == "svg" and self.figures and self._inside("figure"):
            self.figures[-1]["svg"] = True
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if key in a and not a[key].startswith("#"):
                self.links.append(a[key])
        if tag not in ("meta", "br", "link", "img", "input", "hr", "col", "wbr"):  # void elements never close
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <path ... />: opened and closed at once
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "th" and self._text is not None and self.sections:
            self.sections[-1]["ths"].append("".join(self._text).strip())  # type: ignore[union-attr]
            self._text = None
        if any(t == tag for t, _ in self.stack):  # a stray end tag closes nothing
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def _inside(self, tag: str) -> bool:
        return any(t == tag for t, _ in self.stack)

    def _section_id(self) -> str:
        for t, a in reversed(self.stack):
            if t == "section" and "suite" in a.get("class", ""):
                return a.get("id", "")
        return ""


def parse(text: str) -> Dom:
    dom = Dom()
    dom.feed(text)
    return dom


def expected_backends(path: Path) -> set[str]:
    out = set()
    for bench in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks():
        md = bench.get_metadata()
        by_policy = md.get("op") == "mm" or md.get("suite") == "wis"
        column = md.get("lock") if md.get("suite") == "io" else md.get("policy") if by_policy else None
        out.add(column or md["backend"])
    return out


def check_dom(dom: Dom, files: list[Path], chart_names: list[str]) -> None:
    assert dom.sections, "no suite section"
    for sec in dom.sections:
        assert sec["tables"] == 1, sec["attrs"]  # one comparison table per suite section
    headers = {th for sec in dom.sections for th in sec["ths"]}  # type: ignore[attr-defined]
    for f in files:
        missing = expected_backends(f) - headers
        assert not missing, (f.name, missing)  # every backend named, whole
    figures = {fig["name"]: fig for fig in dom.figures}
    assert set(chart_names) <= set(figures), set(chart_names) - set(figures)
    assert all(fig["svg"] for fig in figures.values())  # every plot present, drawn inline
    assert all(fig["section"] for fig in figures.values() if "-gil-vs-free-threaded" not in str(fig["name"]))
    assert dom.scripts == 0  # no JavaScript needed
    assert not [link for link in dom.links if re.match(r"[a-z]+://", link)]  # no network


def test_report_of_two_files(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.report.plot import charts

    files = [REF / "fast.json", REF / "io.json"]
    text = build_report(files)
    dom = parse(text)
    check_dom(dom, files, [c.name for c in charts(files)])
    suites = [s["attrs"]["data-suite"] for s in dom.sections]  # type: ignore[index]
    assert suites == ["lookup", "insert", "overlap", "gap", "trace", "io"]
    assert "fast-lookup-time" in {f["name"] for f in dom.figures}
    assert "gap: fastest vmacache+rbtree, 21.9x faster than list" in text  # the verdicts
    for field in ("CPU model", "AMD EPYC", "CPUs", "Python build", "GIL (default build)", "packages",
                  "pyperf 2.11.0", "date", "2026-11-26", "command"):  # fmt: skip
        assert field in text, field
    assert "<style>" in text and 'class="cell better' in text and 'class="cell worse' in text


def test_report_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.report.html.pyplot_available", lambda: False)
    text = build_report([REF / "fast.json"])
    dom = parse(text)
    assert len(dom.sections) == 5 and all(s["tables"] == 1 for s in dom.sections)
    assert not dom.figures and "<svg" not in text
    assert "they need matplotlib" in text and "pip install 'vmalab[plot]'" in text
    assert text.count("Its plots need matplotlib") == 5  # and a word where each suite's plots would be


def test_runs_and_builds_sections(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    suite = pyperf.BenchmarkSuite.load(str(REF / "io.json"))
    free = tmp_path / "io-ft.json"
    for bench in suite.get_benchmarks():
        bench.update_metadata({"free_threaded": 1, "gil_enabled": 0, "python_version": "3.14.0 (64-bit)"})
    suite.dump(str(free))
    text = build_report([REF / "io.json", free])
    dom = parse(text)
    assert "io-rw-64k-gil-vs-free-threaded" in {f["name"] for f in dom.figures}
    assert '<section class="builds"' in text
    assert "note: different interpreters" in text and "free-threaded (GIL disabled at run time)" in text
    runs = build_report([REF / "fast.json", REF / "gap.json"], plots=False)
    assert '<section class="runs"' in runs and "The same benchmarks in several files" in runs
    assert 'data-column="fast"' in runs and 'data-column="gap"' in runs


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(FIXTURE), "-o", str(out), "--no-plots"]) == 0
    assert f"report: {out}" in " ".join(capsys.readouterr().err.split())
    dom = parse(out.read_text())
    assert [s["attrs"]["data-suite"] for s in dom.sections] == ["lookup", "insert"]  # type: ignore[index]
    assert main(["report", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()
