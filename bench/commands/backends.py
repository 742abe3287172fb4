"""``vmalab list``: the registered backends and front ends, and which one the config selects."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from structures import available_backends, available_frontends, resolve_backend_name


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("list", help="list the registered backends and the configured default")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    chosen, source = resolve_backend_name()
    table = Table(title="vmalab backends", title_justify="left")
    table.add_column("backend", style="bold cyan")
    table.add_column("selected")
    table.add_column("description")
    for name, desc in available_backends().items():
        table.add_row(name, "[green]*[/]" if name == chosen else "", desc)
    for name, desc in available_frontends().items():
        table.add_row(f"{name}+<backend>", "[green]*[/]" if chosen.startswith(name + "+") else "", desc)
    console.print(table)
    console.print(f"default backend: [bold]{chosen}[/] (from {source})", highlight=False)
    return 0
