"""``vmalab list``: the registered backends and front ends, and which one the config selects.

The selected default is built first: a name that is not registered, or an
option its backend does not take (``VMALAB_BACKEND``, ``[tool.vmalab]``,
``[tool.vmalab.options.<name>]``), is a one-line error naming where it was set,
exit status 2, rather than a table that selects nothing.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from structures import available_backends, available_frontends, make_index, resolve_backend_name


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("list", help="list the registered backends and the configured default")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    chosen, source = resolve_backend_name()
    make_index()  # a misspelled configured name or option: UnknownBackendError saying where it was set
    table = Table(title="vmalab backends", title_justify="left")
    table.add_column("backend", style="bold cyan", no_wrap=True)
    table.add_column("selected")
    table.add_column("description")
    for name, desc in available_backends().items():
        table.add_row(escape(name), "[green]*[/]" if name == chosen else "", escape(desc))
    for name, desc in available_frontends().items():
        table.add_row(escape(f"{name}+<backend>"), "[green]*[/]" if chosen.startswith(name + "+") else "", escape(desc))
    console.print(table)
    console.print(f"default backend: [bold]{escape(chosen)}[/] (from {escape(source)})", highlight=False)
    return 0
