"""Shared pieces of the subcommands: adding one, ``--site``, ``--json``, tables, confirmation.

Results go to stdout (JSON with ``--json``, an aligned table or a few lines otherwise);
progress and warnings go to stderr, so ``--json`` output always parses.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from denbi_jupyter.errors import UserInputError

__all__ = [
    "add_command",
    "add_json_flag",
    "add_site_option",
    "confirm",
    "emit_json",
    "jsonable",
    "resolve_site",
    "table",
]


def add_command(
    subparsers: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add subcommand ``name``, which ``run`` carries out; return its parser for the options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description
    )
    parser.set_defaults(run=run)
    return parser


def add_site_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--site`` (a clouds.yaml entry; default ``OS_CLOUD``)."""
    parser.add_argument(
        "--site",
        metavar="SITE",
        help="clouds.yaml entry of the site (default: $OS_CLOUD)",
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (machine-readable output on stdout)."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def resolve_site(args: argparse.Namespace) -> str:
    """The site from ``--site`` or ``OS_CLOUD``.

    Raises:
        UserInputError: Neither is set.
    """
    site = getattr(args, "site", None) or os.environ.get("OS_CLOUD", "").strip()
    if not site:
        raise UserInputError(
            "No site given: pass --site NAME or set OS_CLOUD ('denbi-jupyter sites' lists them)."
        )
    return str(site)


def jsonable(value: Any) -> Any:
    """Domain objects (frozen dataclasses, enums, datetimes, mappings) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned plain-text table (no trailing spaces), or a note when there are no rows."""
    if not rows:
        return "(nothing found)"
    cells = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), ["-" * width for width in widths], *cells]
    ]
    return "\n".join(lines)


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask a yes/no question on a terminal.

    Raises:
        UserInputError: Not on a terminal and ``assume_yes`` is false.
    """
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise UserInputError(
            "Refusing to delete without confirmation: not on a terminal. Add --yes to confirm."
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
