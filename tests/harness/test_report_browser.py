"""The HTML report of the whole reference set in a real browser: headless Chromium.

Chromium loads the file with no network and no JavaScript needed; the test
reads the DOM it renders (``--dump-dom``: one table per suite section, every
backend named, every plot present as inline SVG) and checks that a
``--screenshot`` is not blank (many distinct colours, a share of non-white
pixels, read with matplotlib's PNG reader).  It skips only when no Chromium is installed (Debian's ``chromium``;
``apt-get install -y chromium``; CI installs it); any other failure fails.
No time is asserted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.test_report import check_dom, parse

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = sorted((ROOT / "results" / "reference").glob("*.json"))
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


pytestmark = pytest.mark.skipif(
    chromium() is None, reason="no Chromium: the browser test needs Debian's chromium (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    pytest.importorskip("matplotlib")
    from bench.report.html import write_report
    from bench.report.plot import charts

    out = write_report(REFERENCE, tmp_path_factory.mktemp("report") / "reference.html")
    return out, [c.name for c in charts(REFERENCE)]


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = chromium()
    assert exe is not None
    cmd = [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def test_report_is_under_5_mb(report: tuple[Path, list[str]]) -> None:
    path, _ = report
    assert path.stat().st_size < 5 * 2**20


def test_dom_in_chromium(report: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, names = report
    proc = run_chromium(tmp_path, "--dump-dom", path.as_uri())
    dom = parse(proc.stdout.decode("utf-8"))
    check_dom(dom, REFERENCE, names)
    suites = {s["attrs"]["data-suite"] for s in dom.sections}  # type: ignore[index]
    assert {"lookup", "insert", "overlap", "gap", "trace", "rangelock", "io", "threaded"} <= suites
    for sec in dom.sections:  # at least one plot per suite section (a suite with n drawn as lines or bars)
        sid = sec["attrs"]["id"]  # type: ignore[index]
        if not sid.startswith("runs-"):
            assert any(f["section"] == sid for f in dom.figures), sid


def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.report.html import write_report

    # the top of a small report: headings, verdicts, a table and a chart within 1000 x 1400 pixels
    page = write_report([ROOT / "results" / "reference" / "io.json"], tmp_path / "io.html")
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri())
    import matplotlib.image as mpimg
    import numpy as np

    image = mpimg.imread(shot)  # floats in [0, 1], RGB or RGBA
    assert image.shape[:2] == (1400, 1000)
    rgb = image[..., :3].reshape(-1, 3)
    colours = len(np.unique(rgb, axis=0))
    ink = float((rgb < 0.98).any(axis=1).mean())
    assert colours > 50, colours  # text, table shading and a drawn chart, not one flat colour
    assert ink > 0.05, ink
