"""Render results/tables.md and the key plots (results/plots/*.png) from results/reference/*.json.

    python results/render.py            # write tables.md and the plots
    python results/render.py --check    # exit 1 when tables.md is not what the files make (the test runs this)
    python results/render.py --stale    # which reference files predate a change of the code they measure
                                        # (commits that change only docstrings, comments or layout counted apart)

``tables.md`` holds every table of every reference file (``vmalab compare FILE
--markdown``: each cell's mean ± stdev, its ratio and significance), each file
under a line saying the commit it was made at (its ``vmalab_commit``
metadata).  The plots are the charts the README shows (``KEY_PLOTS``).  Both
are made only from the files, so a re-made reference file is one command away
from its tables and plots; ``tests/harness/test_results.py`` fails while
``tables.md`` or a plot is missing or out of step.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyperf  # noqa: E402
from rich.console import Console  # noqa: E402

from bench.report.render import print_comparison  # noqa: E402

RESULTS = ROOT / "results"
REFERENCE = RESULTS / "reference"
TABLES = RESULTS / "tables.md"
PLOTS = RESULTS / "plots"

#: The reference files in reading order (others follow alphabetically), and their baseline when not list.
ORDER = (
    "fast", "lookup", "fanout", "insert", "fork", "overlap", "gap", "trace", "rangelock", "io", "threaded",
    "threaded-repeat", "threaded-index", "threaded-sweep-8-16", "threaded-sweep-128-16", "threaded-sweep-32-64",
    "wis", "ft-lookup", "ft-insert", "ft-rangelock", "ft-io", "ft-threaded", "ft-threaded-repeat",
    "ft-threaded-index", "ft-wis", "ft-wis-repeat",
)  # fmt: skip
BASELINE = {"rangelock": "rwsem", "ft-rangelock": "rwsem"}

#: The charts results/README.md shows: (reference file stem, chart name) -> results/plots/<chart name>.png;
#: stems joined by "+" draw from those files together (a GIL file and its free-threaded twin).
KEY_PLOTS = (
    ("lookup", "lookup-time"),
    ("lookup", "lookup-probe-depth"),
    ("insert", "insert-memory-per-vma"),
    ("gap", "gap-time"),
    ("rangelock", "rangelock-time"),
    ("io", "io-rw-64k"),
    ("threaded", "threaded-mm-disjoint-maple"),
    ("threaded-index", "threaded-index-lookup-disjoint"),
    ("wis", "wis-page_fault1-maple"),
    ("wis", "wis-brk1-maple"),
    ("threaded+ft-threaded", "threaded-mm-disjoint-maple-gil-vs-free-threaded"),
    ("io+ft-io", "io-rw-64k-gil-vs-free-threaded"),
)

#: What a suite's timings depend on, besides structures/ (every suite measures the library) and its module.
_SUITE_CODE = ("bench/suites/__init__.py", "bench/suites/_common.py", "bench/inputs/workloads.py",
               "bench/inputs/traces.py", "bench/traces", "bench/maps")  # fmt: skip


def reference_files() -> list[Path]:
    files = {p.stem: p for p in REFERENCE.glob("*.json")}
    return [files[s] for s in ORDER if s in files] + [files[s] for s in sorted(files) if s not in ORDER]


def _common(path: Path, key: str) -> str | None:
    values = {str(b.get_metadata().get(key, "")) for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks()}
    values.discard("")
    return ", ".join(sorted(values)) if values else None


def provenance(path: Path) -> str:
    commit = _common(path, "vmalab_commit")
    if commit is None:
        return "Made before vmalab recorded its commit (no `vmalab_commit` in the metadata)."
    dirty = _common(path, "vmalab_worktree")
    note = " with uncommitted changes" if dirty and "modified" in dirty else ""
    return f"Made at commit `{commit}`{note}: `{_common(path, 'vmalab_command') or 'command not recorded'}`."


def render_tables() -> str:
    out = io.StringIO()
    out.write("# Reference tables\n\n")
    out.write("Rendered from `results/reference/*.json` by `python results/render.py` (the tables of\n")
    out.write("`vmalab compare FILE --markdown`); the machine and the commands are in README.md.\n")
    for path in reference_files():
        out.write(f"\n## {path.stem} ({path.name})\n\n{provenance(path)}\n\n")
        buf = io.StringIO()
        print_comparison([path], baseline=BASELINE.get(path.stem), markdown=True, console=Console(file=buf))
        out.write(buf.getvalue().rstrip("\n") + "\n")
    return out.getvalue()


def render_plots() -> list[Path]:
    from bench.report.plot import charts, render_png

    PLOTS.mkdir(exist_ok=True)
    written = []
    for stem, name in KEY_PLOTS:
        found = {c.name: c for c in charts([REFERENCE / f"{one}.json" for one in stem.split("+")])}
        if name not in found:
            raise SystemExit(f"{stem}.json has no chart {name!r} (it has: {', '.join(found)})")
        written.append(render_png(found[name], PLOTS / f"{name}.png"))
    return written


def _git(*args: str, root: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, errors="replace", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def code_of(source: str) -> str:
    """What of a Python module can change a timing: its syntax tree without docstrings (``ast.dump``
    keeps no comments, layout or line numbers).  A file that does not parse is compared as text."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree)


def changes_code(commit: str, paths: list[str], root: Path = ROOT) -> bool:
    """Whether ``commit`` changes, under ``paths``, more than docstrings, comments and layout: any
    file that is not Python (a trace, a map) counts, as does a Python file added, deleted or
    renamed; an edited one counts when ``code_of`` differs from the first parent's.  A root
    commit's files are all added; a merge lists the files that differ from either parent."""
    files = _git("diff-tree", "--root", "-r", "-m", "--no-commit-id", "--name-only", commit, "--", *paths, root=root)
    return any(_file_changes_code(commit, name, root) for name in set(files.splitlines()))


@functools.cache
def _file_changes_code(commit: str, name: str, root: Path) -> bool:
    """``changes_code`` for one file ``commit`` touches; cached, since every reference file's report
    asks again about the commits they share (6.4 -> 1.8 s for ``--stale``)."""
    if not name.endswith(".py"):
        return True
    before = _git("show", f"{commit}^:{name}", root=root)
    after = _git("show", f"{commit}:{name}", root=root)
    return not before or not after or code_of(before) != code_of(after)


def stale_report() -> list[str]:
    """Per reference file: the commit it was made at (or, unrecorded, the commit that last wrote it) and the
    later commits that change the code it measures (structures/, its suite, the workloads and traces).  A
    commit that changes only docstrings, comments or layout there is counted apart (``changes_code``); one
    that only moves code is listed: reading the list tells whether timings can have moved."""
    lines = []
    for path in reference_files():
        suites = (_common(path, "suite") or path.stem.split("-")[0]).split(", ")
        made = _common(path, "vmalab_commit")
        since = made or _git("log", "-1", "--format=%H", "--", str(path.relative_to(ROOT)))
        how = f"made at {made[:10]}" if made else f"commit not recorded; last written in {since[:10]}"
        code = ["structures", *_SUITE_CODE, *(f"bench/suites/{s}.py" for s in suites)]
        later = _git("log", "--format=%h %s", f"{since}..HEAD", "--", *code).splitlines() if since else []
        changed = [c for c in later if changes_code(c.split()[0], code)]
        docs = len(later) - len(changed)
        state = f"STALE? {len(changed)} later commit(s) change the code it measures" if changed else "current"
        if docs:
            more = "more" if changed else "later"
            state += f" ({docs} {more} commit(s) change only its docstrings, comments or layout)"
        lines.append(f"{path.name}: {how}; {state}")
        lines += [f"    {c[:110]}" for c in changed[:8]]
        if len(changed) > 8:
            lines.append(f"    ... and {len(changed) - 8} more")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when tables.md differs from the files")
    parser.add_argument("--no-plots", action="store_true", help="write tables.md only")
    parser.add_argument("--stale", action="store_true", help="list reference files older than the code they measure")
    args = parser.parse_args(argv)
    if args.stale:
        print("\n".join(stale_report()))
        return 0
    text = render_tables()
    if args.check:
        have = TABLES.read_text() if TABLES.exists() else ""
        if have == text:
            return 0
        diff = difflib.unified_diff(have.splitlines(), text.splitlines(), "tables.md", "rendered", lineterm="", n=1)
        print("\n".join(list(diff)[:40]))
        print("results/tables.md is not what results/reference/*.json make: run python results/render.py")
        return 1
    TABLES.write_text(text)
    print(TABLES)
    if not args.no_plots:
        for p in render_plots():
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
