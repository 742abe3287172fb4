"""``vmalab`` subcommands, one thin adapter module each.

Every module here defines ``register(subparsers)``, which adds its subparser
and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and
returning an exit status).  An adapter parses and validates options, calls an
engine (``bench.runner``, ``bench.report``, ``bench.checks``, ``bench.inputs``)
and renders what it returns; ``bench.cli.COMMANDS`` lists them.
"""
