"""The ``denbi-jupyter`` command line.

Each subcommand lives in its own module under :mod:`denbi_jupyter.cli.commands` and exposes
``register(subparsers)``; the module's ``run(args)`` returns the exit code. Errors of ours end
in one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from denbi_jupyter import errors
from denbi_jupyter.cli._output import exit_code
from denbi_jupyter.errors import DenbiError

__all__ = ["EXIT_CODES", "build_parser", "main"]

#: Exit code for each kind of error; 0 is success, 130 an interrupt.
EXIT_CODES: dict[type[DenbiError], int] = {
    errors.UserInputError: 2,
    errors.NotFoundError: 3,
    errors.ConflictError: 4,
    errors.QuotaExceededError: 5,
    errors.AuthenticationError: 6,
    errors.PermissionDeniedError: 7,
    errors.CloudUnavailableError: 8,
    errors.OperationFailedError: 9,  # no longer a kind of CloudUnavailableError (8 before)
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line that points to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand found in ``denbi_jupyter.cli.commands``."""
    from denbi_jupyter.cli import commands

    parser = _Parser(
        prog="denbi-jupyter",
        description="Manage de.NBI Cloud images, snapshots and VMs from a terminal or JupyterLab.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except DenbiError as error:
        print(f"denbi-jupyter: error: {error}", file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        print("denbi-jupyter: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
