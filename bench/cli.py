"""The ``vmalab`` command line: the table of subcommands and the error policy.

Invariant
---------
Every subcommand is one row of ``COMMANDS`` (name -> its adapter module in
``bench.commands``, which only parses options and calls the engine in
``bench.runner``, ``bench.report``, ``bench.checks`` or ``bench.inputs``);
adding a command is adding a module and a row.  A user's mistake never
produces a traceback; it is one line on stderr naming the problem, exit
status 2, and nothing changed:

* a bad option or value (argparse) -> ``vmalab CMD: error: ...`` (no usage dump);
* a ``VMAError``, ``ValueError`` or ``OSError`` (a missing, unreadable or
  unwritable file) from a command -> ``vmalab CMD: ...``;
* the reader of stdout going away (``vmalab bench --list | head``) ends the
  command quietly (no message: the reader asked for no more) with status 1,
  as Python's documented recipe and rich's own consoles do;
* Ctrl-C is status 130.

Anything else is a bug and keeps its traceback.

Layout
------
::

    vmalab COMMAND ...  ->  build_parser()  ->  COMMANDS[COMMAND].register(sub)
                        ->  args.func(args) ->  exit status (0 ok, 1 failure found, 2 bad input)

API
---
``COMMANDS``, ``build_parser()``, ``main(argv=None) -> int``, ``error_line(exc)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from bench.commands import backends, benchmark, check, compare, maps, plot, report, torture, trace
from structures.vma import VMAError

__all__ = ["COMMANDS", "build_parser", "error_line", "main"]

#: ``vmalab`` subcommands, in ``--help`` order: name -> adapter module (``register(sub)``).
COMMANDS: dict[str, ModuleType] = {
    "bench": benchmark,
    "compare": compare,
    "report": report,
    "plot": plot,
    "list": backends,
    "check": check,
    "torture": torture,
    "maps": maps,
    "trace": trace,
}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``vmalab bench: error: ...``) instead of the usage dump."""

    def error(self, message: str) -> NoReturn:
        _say(f"{self.prog}: error: {message} (see {self.prog} --help)")
        raise SystemExit(2)


def _say(line: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]{escape(line)}[/]")


def error_line(exc: BaseException) -> str:
    """The one line a user sees for ``exc``: an ``OSError`` as ``why: file``, others as their message."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename is not None else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vmalab",
        description="vmalab: benchmark the data structures and locks behind an address space.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS.values():
        module.register(sub)
    return parser


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit's flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to silence
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for the results' metadata
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the policy, not at interpreter exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except (VMAError, ValueError, OSError) as exc:
        _say(f"vmalab {args.command}: {error_line(exc)}")
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print(f"[yellow]vmalab {args.command}: interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
