"""Print the README's Layout section from the tree: every module, one line each.

Each module's line is the first line of its docstring (so the layout cannot
drift from the code: ``tests/test_readme_layout.py`` compares the README with
this output).  Run ``python tools/layout.py --write`` to rewrite the section of
README.md between its ``<!-- layout:begin -->`` and ``<!-- layout:end -->`` markers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- layout:begin -->", "<!-- layout:end -->"
WIDTH = 34  # the name column

#: what the tree walk does not say by itself: the top-level files and the data/test folders
TOP = (
    ("pyproject.toml", "metadata, dependencies, the `vmalab` console script, [tool.vmalab] defaults"),
    ("Makefile", "`make bench`, `make test` (and the free-threaded targets)"),
)
PACKAGES = (
    ("structures", "the library: contract at the top, then lib/, locks/, backends/, mm/"),
    ("bench", "the bench side: CLI, runner, suites, inputs, reports, checks"),
)
DATA = {
    "bench": (("traces/", "shipped real program traces (format and provenance in its README)"),
              ("maps/", "shipped /proc/PID/maps snapshots")),
}
TAIL = (
    ("docs/", "design notes: free-threading.md (what the lock-free readers rely on without the GIL)"),
    ("results/", "reference results, the scripts that made them, and the machine they came from"),
    ("tests/", "pytest, by layer: contract/ lib/ backends/ locks/ mm/ harness/ (+ the layering tests)"),
    ("tools/", "this generator, the free-threaded builder, page_fault1's calibration, maple's write cost by kind"),
)


#: reading order inside a folder: the layers from the top down (others follow, alphabetically)
ORDER = (
    "__init__.py", "vma.py", "base.py", "registry.py", "lib", "locks", "backends", "mm",
    "cli.py", "runner.py", "commands", "suites", "inputs", "report", "checks",
)


def order(path: Path) -> tuple[int, str]:
    return (ORDER.index(path.name) if path.name in ORDER else len(ORDER), path.name)


def summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    if not doc:
        raise SystemExit(f"{path.relative_to(ROOT)}: no module docstring")
    return doc.splitlines()[0].strip().replace("`", "")


def row(indent: int, name: str, text: str) -> str:
    left = "  " * indent + name
    return f"{left:<{WIDTH}}{text}" if len(left) < WIDTH else f"{left}  {text}"


def walk(folder: Path, indent: int) -> list[str]:
    out = []
    for path in sorted((p for p in folder.iterdir() if p.suffix == ".py"), key=order):
        out.append(row(indent, path.name, summary(path)))
    for sub in sorted((p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()), key=order):
        out.append(row(indent, sub.name + "/", ""))
        out += walk(sub, indent + 1)
    for name, text in DATA.get(str(folder.relative_to(ROOT)), ()):
        out.append(row(indent, name, text))
    return out


def layout() -> str:
    lines = [row(0, name, text) for name, text in TOP]
    for pkg, text in PACKAGES:
        lines.append(row(0, pkg + "/", text))
        lines += walk(ROOT / pkg, 1)
    lines += [row(0, name, text) for name, text in TAIL]
    return "```\n" + "\n".join(line.rstrip() for line in lines) + "\n```\n"


def readme_section(text: str) -> str:
    try:
        start = text.index(BEGIN) + len(BEGIN) + 1
        return text[start : text.index(END)]
    except ValueError:
        raise SystemExit(f"README.md lacks the {BEGIN} ... {END} markers") from None


def main(argv: list[str]) -> int:
    new = layout()
    if argv[1:] == ["--write"]:
        readme = ROOT / "README.md"
        text = readme.read_text()
        old = readme_section(text)
        readme.write_text(text.replace(BEGIN + "\n" + old, BEGIN + "\n" + new, 1))
        return 0
    sys.stdout.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
