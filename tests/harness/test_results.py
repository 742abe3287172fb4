"""results/ matches its reference files: tables.md and the plots are what render.py makes of them.

``results/tables.md`` must be exactly what ``python results/render.py`` renders
from ``results/reference/*.json`` (re-make a reference file, forget to
re-render, and this fails); every key plot must exist and be shown by
``results/README.md``; and every reference file must have the command that
re-makes it in ``results/run-reference.sh``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"


@pytest.fixture(scope="module")
def render():  # type: ignore[no-untyped-def]
    return load_script("results/render.py")


def test_tables_md_is_what_the_reference_files_make(render) -> None:  # type: ignore[no-untyped-def]
    have = (RESULTS / "tables.md").read_text()
    assert have == render.render_tables(), "results/tables.md is out of step: run python results/render.py"


def test_tables_md_covers_every_reference_file_with_its_provenance(render) -> None:  # type: ignore[no-untyped-def]
    text = (RESULTS / "tables.md").read_text()
    for path in sorted((RESULTS / "reference").glob("*.json")):
        heading = f"## {path.stem} ({path.name})"
        assert heading in text
        after = text.split(heading, 1)[1].lstrip().splitlines()[0]
        assert after.startswith(("Made at commit `", "Made before vmalab recorded its commit")), after


def test_key_plots_exist_and_the_readme_shows_them(render) -> None:  # type: ignore[no-untyped-def]
    readme = (RESULTS / "README.md").read_text()
    shown = set(re.findall(r"\]\((plots/[^)]+\.png)\)", readme))
    wanted = {f"plots/{name}.png" for _, name in render.KEY_PLOTS}
    assert shown == wanted
    for rel in wanted:
        data = (RESULTS / rel).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, rel


def test_key_plots_are_charts_of_their_files(render) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    from bench.report.plot import charts

    for stem, name in render.KEY_PLOTS:
        files = [RESULTS / "reference" / f"{one}.json" for one in stem.split("+")]
        assert name in {c.name for c in charts(files)}, (stem, name)


def test_every_reference_file_has_its_command(tmp_path: Path) -> None:
    """run-reference.sh, with vmalab and python replaced by echo: one bench per file, replacing it."""
    script = (RESULTS / "run-reference.sh").read_text()
    script = (
        script.replace("V=.venv/bin/vmalab", "V='echo vmalab'")
        .replace(".venv/bin/python results/render.py", "echo render")
        .replace("$(tools/freethreaded.sh | tail -n 1)", "python3.13t")
        .replace('make --no-print-directory PYTHON="$FTPY" lint >/dev/null', ":")
        .replace("$(ls -d .venv-3.1[3-9]t | tail -n 1)/bin/vmalab", "'echo vmalab'")
    )
    dry = tmp_path / "dry.sh"
    dry.write_text(script)
    out = subprocess.run(["bash", str(dry)], capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ),
                         check=True).stdout.splitlines()  # fmt: skip
    made = {m.group(1): line for line in out if (m := re.search(r"-o results/reference/(\S+)\.json", line))}
    stems = {p.stem for p in (RESULTS / "reference").glob("*.json")}
    assert stems <= set(made), stems - set(made)
    for stem, line in made.items():
        assert "--overwrite" in line and "--no-report" in line, stem
    assert out[-1] == "render"
    only = subprocess.run(["bash", str(dry), "fast", "threaded-sweep-8-16"], capture_output=True, text=True,
                          cwd=tmp_path, check=True).stdout  # fmt: skip
    assert re.findall(r"-o results/reference/(\S+)\.json", only) == ["fast", "threaded-sweep-8-16"]


def test_code_of_ignores_docstrings_and_comments_not_code(render) -> None:  # type: ignore[no-untyped-def]
    base = '"""Module doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n'
    same = '"""Module doc, reworded."""\n\n\ndef f(x):\n    """Other doc."""\n    # a comment\n    return x + 1\n'
    assert render.code_of(base) == render.code_of(same)
    assert render.code_of(base) != render.code_of(base.replace("x + 1", "x + 2"))
    assert render.code_of(base) == render.code_of(base.replace('    """Doc."""\n', ""))  # a docstring dropped
    assert render.code_of('def g():\n    """Only a doc."""\n') == render.code_of("def g():\n    pass\n")
    assert render.code_of("def (") == "def ("  # not Python: compared as text


def test_changes_code_tells_code_changes_from_docstring_changes(render, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """changes_code on a throwaway repository: a docstring or comment edit is not a code change; an
    edit of the code, a new or deleted module, an edited data file (text or binary) and a merge
    that brings code are; a root commit's files are new."""

    def git(*args: str) -> str:
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")  # fmt: skip
        return subprocess.run(["git", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    def commit(name: str, data: str | bytes | None) -> str:
        path = tmp_path / "structures" / name
        path.parent.mkdir(exist_ok=True)
        if data is None:
            path.unlink()
        elif isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
        git("add", "-A")
        git("commit", "-qm", name)
        return git("rev-parse", "HEAD")

    git("init", "-q", "-b", "main")
    root = commit("a.py", '"""A."""\nX = 1\n')
    docs = commit("a.py", '"""A, said better."""\n# why X is 1\n\nX = 1\n')
    code = commit("a.py", '"""A, said better."""\nX = 2\n')
    new = commit("b.py", "Y = 1\n")
    gone = commit("b.py", None)
    commit("maps.txt", "text\n")
    text = commit("maps.txt", "more text\n")
    commit("t.gz", b"\x1f\x8b\x08\x00\xff\xfe")
    binary = commit("t.gz", b"\x1f\x8b\x08\x00\xfe\xff")
    git("checkout", "-qb", "side")
    commit("c.py", "Z = 1\n")
    git("checkout", "-q", "main")
    commit("a.py", '"""A, said once more."""\nX = 2\n')
    git("merge", "-q", "--no-edit", "side")
    merge = git("rev-parse", "HEAD")
    paths = ["structures"]
    assert not render.changes_code(docs, paths, root=tmp_path)
    for changed in (root, code, new, gone, text, binary, merge):
        assert render.changes_code(changed, paths, root=tmp_path), git("log", "-1", "--format=%s", changed)
    assert not render.changes_code(code, ["bench"], root=tmp_path)  # outside the paths
