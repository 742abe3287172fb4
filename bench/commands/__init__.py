"""``vmalab`` subcommands, one module each.

Every module here defines ``register(subparsers)``, which adds its subparser
and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and
returning an exit status).  ``bench.cli`` discovers them with ``pkgutil``, so
adding a command is adding a module.
"""
