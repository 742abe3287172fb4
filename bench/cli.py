"""The ``vmalab`` command line: discovers the subcommands in ``bench.commands``.

Invariant
---------
Every subcommand lives in its own module of ``bench.commands``; adding a
command is adding a module.  Bad input never produces a traceback: a
``VMAError``, ``ValueError`` or ``FileNotFoundError`` from a command becomes
one red line on stderr and exit status 2; Ctrl-C is status 130.

Layout
------
::

    vmalab COMMAND ...  ->  build_parser()  ->  bench.commands.<module>.register(sub)
                        ->  args.func(args) ->  exit status (0 ok, 1 failure found, 2 bad input)

API
---
``build_parser()``, ``main(argv=None) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from rich.console import Console

from bench import commands
from structures.vma import VMAError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmalab",
        description="vmalab: benchmark the data structures and locks behind an address space.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (VMAError, ValueError, FileNotFoundError) as exc:
        Console(stderr=True).print(f"[bold red]vmalab {args.command}:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print(f"[yellow]vmalab {args.command}: interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
