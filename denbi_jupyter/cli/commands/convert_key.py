"""``denbi-jupyter convert-key``: a PuTTY ``.ppk`` key to an OpenSSH private key (mode 0600).

The public key goes beside it as ``OUT.pub`` (mode 0644), ready for ``keypair import``.

Never prints key material or passphrases: the passphrase comes from a file (first line) or,
on a terminal, from a hidden prompt.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from denbi_jupyter.cli._key_input import ppk_passphrase, read_key_file, read_passphrase
from denbi_jupyter.cli._output import add_command, add_file_option
from denbi_jupyter.errors import UserInputError

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter convert-key --help`` say of it.
_HELP = "convert a PuTTY .ppk key to OpenSSH"
_DESCRIPTION = (
    "Convert a PuTTY private key (PPK v2 or v3) to an OpenSSH private key "
    "file with mode 0600, and its public key to OUT.pub. Key material is never printed."
)


def run(args: argparse.Namespace) -> int:
    """Convert the key."""
    from denbi_jupyter.connect import convert_ppk, write_key_files

    data = read_key_file(args.input)
    passphrase = ppk_passphrase(data, args.passphrase_file)
    new_passphrase: str | bytes | None = None
    if args.new_passphrase_file:
        new_passphrase = read_passphrase(args.new_passphrase_file)
    elif args.keep_passphrase:
        new_passphrase = passphrase
    if new_passphrase is not None and not new_passphrase:
        raise UserInputError("The new passphrase is empty: give one, or leave the key unencrypted.")
    key = convert_ppk(data, passphrase=passphrase, new_passphrase=new_passphrase)
    files = write_key_files(args.output, key, overwrite=args.force)
    protection = (
        "encrypted with a passphrase"
        if new_passphrase
        else "NOT encrypted: keep it private, or use --keep-passphrase / --new-passphrase-file"
    )
    print(f"Wrote the OpenSSH private key to {files.private_path} (mode 0600, {protection}).")
    print(f"Wrote the public key to {files.public_path} ({files.fingerprint}).")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``convert-key`` subcommand."""
    parser = add_command(subparsers, "convert-key", run, help=_HELP, description=_DESCRIPTION)
    parser.add_argument("input", type=Path, metavar="IN.ppk", help="the PuTTY key file")
    parser.add_argument("output", type=Path, metavar="OUT", help="the OpenSSH key file to write")
    add_file_option(parser, "--passphrase-file", "file whose first line is the passphrase")
    protect = parser.add_mutually_exclusive_group()
    protect.add_argument(
        "--keep-passphrase",
        action="store_true",
        help="encrypt OUT with the .ppk's own passphrase",
    )
    add_file_option(
        protect, "--new-passphrase-file", "encrypt OUT with the passphrase in FILE's first line"
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT and OUT.pub")
    # OUT.pub is always written now; the old flag is still accepted.
    parser.add_argument("--public", action="store_true", help=argparse.SUPPRESS)
