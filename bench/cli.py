"""The ``vmalab`` command line: the table of subcommands and the error policy.

Invariant
---------
Every subcommand is one row of ``COMMANDS`` (name -> its adapter module in
``bench.commands``, which only parses options and calls the engine in
``bench.runner``, ``bench.report``, ``bench.checks`` or ``bench.inputs``);
adding a command is adding a module and a row.  Bad input never produces a traceback: a
``VMAError``, ``ValueError`` or ``FileNotFoundError`` from a command becomes
one red line on stderr and exit status 2; Ctrl-C is status 130.

Layout
------
::

    vmalab COMMAND ...  ->  build_parser()  ->  COMMANDS[COMMAND].register(sub)
                        ->  args.func(args) ->  exit status (0 ok, 1 failure found, 2 bad input)

API
---
``COMMANDS``, ``build_parser()``, ``main(argv=None) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from rich.console import Console

from bench.commands import backends, benchmark, check, compare, maps, plot, torture, trace
from structures.vma import VMAError

__all__ = ["COMMANDS", "build_parser", "main"]

#: ``vmalab`` subcommands, in ``--help`` order: name -> adapter module (``register(sub)``).
COMMANDS: dict[str, ModuleType] = {
    "bench": benchmark,
    "compare": compare,
    "plot": plot,
    "list": backends,
    "check": check,
    "torture": torture,
    "maps": maps,
    "trace": trace,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmalab",
        description="vmalab: benchmark the data structures and locks behind an address space.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
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
