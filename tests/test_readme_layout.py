"""The README's Layout section is what ``tools/layout.py`` makes from the tree.

So it names every module that exists, and no module that does not; a new or
renamed module fails here until ``python tools/layout.py --write`` is run.
"""

from __future__ import annotations

import re
from types import ModuleType

from tests.scripts import ROOT, load_script


def _layout_module() -> ModuleType:
    return load_script("tools/layout.py")


def test_readme_layout_is_generated_from_the_tree() -> None:
    tool = _layout_module()
    readme = (ROOT / "README.md").read_text()
    assert tool.readme_section(readme) == tool.layout(), "README Layout is stale: run python tools/layout.py --write"


def test_layout_names_every_module_once() -> None:
    tool = _layout_module()
    block = tool.layout()
    # rebuild the paths from the indentation and compare with the files on disk
    listed, stack = [], []
    for line in block.splitlines()[1:-1]:
        m = re.match(r"( *)(\S+)", line)
        assert m is not None
        depth, name = len(m.group(1)) // 2, m.group(2)
        stack[depth:] = [name.rstrip("/")]
        if name.endswith(".py"):
            listed.append("/".join(stack))
    on_disk = sorted(str(p.relative_to(ROOT)) for pkg in ("structures", "bench") for p in (ROOT / pkg).rglob("*.py"))
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)
