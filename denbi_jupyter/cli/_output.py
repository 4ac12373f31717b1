"""Shared pieces of the subcommands: adding one, ``--site``, ``--json``, tables, confirmation,
one handler per named VM.

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
from pathlib import Path
from typing import Any

from denbi_jupyter.errors import DenbiError, UserInputError

__all__ = [
    "add_command",
    "add_delete_command",
    "add_file_option",
    "add_json_flag",
    "add_site_option",
    "confirm",
    "confirm_delete",
    "emit_json",
    "exit_code",
    "for_each_server",
    "gigabytes",
    "jsonable",
    "positive_seconds",
    "resolve_site",
    "server_names",
    "show_listing",
    "table",
    "visible",
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


def add_delete_command(
    subparsers: Any,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    names: tuple[str, str, str],
) -> argparse.ArgumentParser:
    """Add a ``delete`` subcommand with ``--site``, one or more names and ``--yes``.

    Args:
        subparsers: Where to add it.
        run: What carries it out.
        help: Its line in the parent's help.
        description: Its own help text.
        names: The positional's dest, metavar and help.

    Returns:
        Its parser, for further options.
    """
    parser = add_command(subparsers, "delete", run, help=help, description=description)
    add_site_option(parser)
    dest, metavar, names_help = names
    parser.add_argument(dest, nargs="+", metavar=metavar, help=names_help)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def add_file_option(
    parser: Any, flag: str, help: str, *, metavar: str = "FILE", required: bool = False
) -> None:
    """Add option ``flag`` that names a file (parsed as a :class:`~pathlib.Path`).

    ``parser`` may also be an argument group (e.g. a mutually exclusive one).
    """
    parser.add_argument(flag, type=Path, metavar=metavar, required=required, help=help)


def positive_seconds(text: str) -> float:
    """An ``argparse`` type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value


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


def gigabytes(size: int | None) -> str:
    """A size in bytes as ``1.5 GB``; empty when unknown."""
    return "" if size is None else f"{size / 1024**3:.1f} GB"


def visible(text: str) -> str:
    """``text`` with every control or format character shown as its escape (``\\n``, ``\\x1b``).

    Names are anyone's text (any project member names a snapshot): printed raw, an escape
    sequence could clear the terminal and a newline could forge a table row.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned plain-text table (no trailing spaces), or a note when there are no rows.

    Every cell goes through :func:`visible`: one row per line, whatever the names hold.
    """
    if not rows:
        return "(nothing found)"
    cells = [[("" if cell is None else visible(str(cell))) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), ["-" * width for width in widths], *cells]
    ]
    return "\n".join(lines)


def show_listing(
    records: object, headers: Sequence[str], rows: Sequence[Sequence[object]], *, as_json: bool
) -> int:
    """Print ``records`` as JSON (``--json``), else ``rows`` as a table; return exit code 0."""
    if as_json:
        emit_json(records)
    else:
        print(table(headers, rows))
    return 0


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


def confirm_delete(count: int, what: str, site: str, *, assume_yes: bool) -> bool:
    """Ask whether to delete ``count`` ``what`` on ``site``; say "Nothing deleted." if not.

    Raises:
        UserInputError: Not on a terminal and ``assume_yes`` is false.
    """
    if confirm(f"Delete {count} {what} on {site}?", assume_yes=assume_yes):
        return True
    print("Nothing deleted.")
    return False


def exit_code(error: DenbiError) -> int:
    """The process exit code of ``error``: that of its nearest class in ``EXIT_CODES``, or 1."""
    from denbi_jupyter.cli import EXIT_CODES

    return next((EXIT_CODES[k] for k in type(error).__mro__ if k in EXIT_CODES), 1)


def server_names(servers: Sequence[str]) -> list[str]:
    """The VM names or ids given, stripped, in order, without blanks or repeats."""
    return list(dict.fromkeys(item.strip() for item in servers if item.strip()))


def for_each_server(
    names: Sequence[str], handle: Callable[[str], tuple[object, list[str]]], *, as_json: bool
) -> tuple[int, list[object]]:
    """Handle every VM; print each outcome's lines (or its error) unless ``as_json``.

    ``handle(name)`` gives the VM's JSON record and the lines to print; a
    :class:`~denbi_jupyter.errors.DenbiError` it raises is that VM's outcome, and the others
    go on.

    Returns:
        The first failure's exit code (0 when none failed), and each VM's record (for a
        failure ``{"server": name, "error": message, "exit_code": code}``).
    """
    code = 0
    records: list[object] = []
    for name in names:
        try:
            record, lines = handle(name)
        except DenbiError as error:
            code = code or exit_code(error)
            records.append({"server": name, "error": str(error), "exit_code": exit_code(error)})
            if not as_json:
                print(f"denbi-jupyter: error: {name}: {error}", file=sys.stderr)
            continue
        records.append(record)
        if not as_json:
            print("\n".join(lines))
    return code, records
