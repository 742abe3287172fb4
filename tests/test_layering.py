"""The architecture as a test: the import graph of ``structures`` and ``bench``.

Every ``import`` and ``from ... import`` in every module (at module level, inside
functions and under ``TYPE_CHECKING`` alike) is read with ``ast`` and resolved to
a module of the two packages.  Three rules:

1. **No cycles** — not even ones that a function-level import hides at run time.
2. **Imports point down** — each module belongs to the layer of the longest
   prefix in ``LAYERS``; it may import its own layer or lower ones, never higher.
3. **No private names across modules** — ``from m import _x`` only inside ``m``'s
   own module (never), and a ``_private`` module only from its own package.

A failure names the offending edge (file and line).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("structures", "bench")

#: Layers, lowest first.  A module's layer is that of its longest matching prefix.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("structures.vma",),
    ("structures.lib",),
    ("structures.locks",),
    ("structures.base",),
    ("structures.backends",),
    ("structures.registry",),
    ("structures.mm",),
    ("structures",),
    ("bench.inputs",),
    ("bench.checks", "bench.report", "bench.suites"),
    ("bench.runner",),
    ("bench.commands",),
    ("bench.cli", "bench"),
)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    names: tuple[str, ...]
    where: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            mods[module_name(path)] = path
    return mods


MODULES = all_modules()


def resolve(name: str) -> str | None:
    """The longest prefix of ``name`` that is one of our modules."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def edges_of(mod: str, path: Path) -> list[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    package = mod if is_pkg else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                dst = resolve(alias.name)
                if dst is not None and dst != mod:
                    out.append(Edge(mod, dst, (), where))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` imports a module; ``from mod import name`` a name
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    out.append(Edge(mod, sub, (), where))
                    continue
                dst = resolve(target)
                if dst is not None and dst != mod:
                    out.append(Edge(mod, dst, (alias.name,), where))
    return out


EDGES = [e for mod, path in MODULES.items() for e in edges_of(mod, path)]


def layer_of(mod: str) -> int:
    best, best_len = -1, -1
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    assert best >= 0, f"module {mod} is in no layer: add it to LAYERS"
    return best


def find_cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in EDGES:
        graph[e.src].add(e.dst)
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        sccs.append(sorted(comp))
    return sccs


def test_graph_is_not_empty() -> None:
    # the walk really sees the packages (a broken resolver would pass every rule)
    assert {"structures.base", "structures.registry", "bench.cli"} <= MODULES.keys()
    assert any(e.src == "structures.base" and e.dst == "structures.vma" for e in EDGES)
    assert len(EDGES) > 100


def test_no_import_cycles() -> None:
    cycles = find_cycles()
    detail = []
    for comp in cycles:
        members = set(comp)
        detail += [f"  {e.src} -> {e.dst} ({e.where})" for e in EDGES if e.src in members and e.dst in members]
    assert not cycles, "import cycles:\n" + "\n".join(detail)


def test_imports_point_down() -> None:
    bad = [
        f"  {e.src} (layer {layer_of(e.src)}) -> {e.dst} (layer {layer_of(e.dst)}) at {e.where}"
        for e in EDGES
        if layer_of(e.dst) > layer_of(e.src)
    ]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def test_no_private_names_across_modules() -> None:
    bad = []
    for e in EDGES:
        bad += [f"  {e.src} imports {e.dst}.{n} at {e.where}" for n in e.names if _private(n)]
        parts = e.dst.split(".")
        for i, part in enumerate(parts):
            # a _private module is importable only from inside its own package
            owner = ".".join(parts[:i])
            if _private(part) and not (e.src == owner or e.src.startswith(owner + ".")):
                bad.append(f"  {e.src} imports private module {e.dst} at {e.where}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("pkg", ["pyperf"])
def test_no_private_modules_of_dependencies(pkg: str) -> None:
    bad = []
    for mod, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [f"  {mod}: {n}" for n in names if n.startswith(pkg + ".") and any(map(_private, n.split(".")))]
    assert not bad, f"imports of {pkg}'s private modules:\n" + "\n".join(bad)


def test_module_sizes() -> None:
    # one concept per module: none over 700 lines
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 700}
    assert not big, f"modules over 700 lines: {big}"
