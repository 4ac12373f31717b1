"""``denbi-jupyter convert-key``: a PuTTY ``.ppk`` key to an OpenSSH private key (mode 0600).

Never prints key material or passphrases: the passphrase comes from a file (first line) or,
on a terminal, from a hidden prompt.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from denbi_jupyter.cli._output import add_command
from denbi_jupyter.errors import UserInputError

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter convert-key --help`` say of it.
_HELP = "convert a PuTTY .ppk key to OpenSSH"
_DESCRIPTION = (
    "Convert a PuTTY private key (PPK v2 or v3) to an OpenSSH private key "
    "file with mode 0600. Key material is never printed."
)

_MAX_PASSPHRASE_FILE = 64 * 1024


def _read_passphrase(path: Path) -> bytes:
    """The first line of ``path`` (without its line break), as bytes."""
    try:
        data = path.read_bytes()[:_MAX_PASSPHRASE_FILE]
    except OSError as exc:
        raise UserInputError(
            f"Cannot read the passphrase file {str(path)!r}: {exc.strerror or exc}."
        ) from None
    return data.split(b"\n", 1)[0].removesuffix(b"\r")


def run(args: argparse.Namespace) -> int:
    """Convert the key."""
    from denbi_jupyter.connect import (
        PassphraseRequiredError,
        convert_ppk,
        peek_ppk,
        write_openssh_key,
    )

    try:
        data = args.input.read_bytes()
    except OSError as exc:
        raise UserInputError(f"Cannot read {str(args.input)!r}: {exc.strerror or exc}.") from None
    passphrase: str | bytes | None = (
        _read_passphrase(args.passphrase_file) if args.passphrase_file else None
    )
    if passphrase is None and peek_ppk(data).encrypted:
        if not sys.stdin.isatty():
            raise PassphraseRequiredError(
                "The key is encrypted: give its passphrase with --passphrase-file FILE."
            )
        passphrase = getpass.getpass("Passphrase of the PuTTY key: ")
    new_passphrase: str | bytes | None = None
    if args.new_passphrase_file:
        new_passphrase = _read_passphrase(args.new_passphrase_file)
    elif args.keep_passphrase:
        new_passphrase = passphrase
    if new_passphrase is not None and not new_passphrase:
        raise UserInputError("The new passphrase is empty: give one, or leave the key unencrypted.")
    key = convert_ppk(data, passphrase=passphrase, new_passphrase=new_passphrase)
    written = write_openssh_key(args.output, key, overwrite=args.force, write_public=args.public)
    protection = (
        "encrypted with a passphrase"
        if new_passphrase
        else "NOT encrypted: keep it private, or use --keep-passphrase / --new-passphrase-file"
    )
    print(f"Wrote the OpenSSH private key to {written} (mode 0600, {protection}).")
    if args.public:
        print(f"Wrote the public key to {written}.pub.")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``convert-key`` subcommand."""
    parser = add_command(subparsers, "convert-key", run, help=_HELP, description=_DESCRIPTION)
    parser.add_argument("input", type=Path, metavar="IN.ppk", help="the PuTTY key file")
    parser.add_argument("output", type=Path, metavar="OUT", help="the OpenSSH key file to write")
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help="file whose first line is the passphrase",
    )
    protect = parser.add_mutually_exclusive_group()
    protect.add_argument(
        "--keep-passphrase",
        action="store_true",
        help="encrypt OUT with the .ppk's own passphrase",
    )
    protect.add_argument(
        "--new-passphrase-file",
        type=Path,
        metavar="FILE",
        help="encrypt OUT with the passphrase in FILE's first line",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.add_argument("--public", action="store_true", help="also write OUT.pub")
