"""``denbi-jupyter keypair list|import|generate|delete``: a site's Nova key pairs.

``import`` takes an OpenSSH public key file or a PuTTY ``.ppk`` (its public key is derived;
``--save-private`` also writes the converted OpenSSH private key and its ``.pub``).
Run again with the same key and name, ``import`` finds the key pair it made and says so
(exit 0, ``"reused": true``) instead of failing. ``generate`` makes an Ed25519 key pair on
this machine: the private key is written with mode 0600 where asked and only the public key
goes to the cloud. No key material but public key fingerprints is ever printed. Where a
private key was written (``generate``, ``import --save-private``), its path is remembered for
the key pair (see :class:`~denbi_jupyter.connect.key_registry.KeyRegistry`), so ``connect``
can name it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from denbi_jupyter.cli._key_input import ppk_passphrase, read_key_file
from denbi_jupyter.cli._output import (
    add_command,
    add_delete_command,
    add_file_option,
    add_json_flag,
    add_site_option,
    confirm_delete,
    emit_json,
    jsonable,
    resolve_site,
    show_listing,
)
from denbi_jupyter.errors import NotFoundError, UserInputError

__all__ = ["register", "run_delete", "run_generate", "run_import", "run_list"]

#: Exit code when the deletion was not confirmed.
NOT_DELETED = 1
#: A public key file is one line; anything much bigger is not one.
_MAX_PUBLIC_KEY_FILE = 64 * 1024


def run_list(args: argparse.Namespace) -> int:
    """List the user's key pairs on the site."""
    from denbi_jupyter.cloud import open_site

    pairs = open_site(resolve_site(args)).list_keypairs()
    rows = [(pair.name, pair.sha256_fingerprint or pair.fingerprint, pair.type) for pair in pairs]
    return show_listing(pairs, ["NAME", "FINGERPRINT", "TYPE"], rows, as_json=args.json)


def _public_key_text(path: Path) -> str:
    data = read_key_file(path)[:_MAX_PUBLIC_KEY_FILE]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserInputError(
            f"{str(path)!r} is not a text file: give the OpenSSH public key (.pub) file."
        ) from None


def _from_ppk(args: argparse.Namespace) -> tuple[str, Path | None, list[str]]:
    """The public key line of ``--from-ppk``, the private key written (``--save-private``)
    and what to say about it."""
    from denbi_jupyter.connect import read_ppk, write_key_files

    data = read_key_file(args.from_ppk)
    key = read_ppk(data, passphrase=ppk_passphrase(data, args.passphrase_file))
    if args.save_private is None:
        return key.public_line, None, []
    files = write_key_files(args.save_private, key.to_openssh(), overwrite=args.overwrite)
    return (
        key.public_line,
        files.private_path,
        [
            f"Wrote the OpenSSH private key to {files.private_path} (mode 0600, NOT encrypted: "
            "keep it private).",
            f"Wrote the public key to {files.public_path}.",
        ],
    )


def _remember(site: str, name: str, private_key: Path) -> None:
    from denbi_jupyter.connect.key_registry import KeyRegistry

    KeyRegistry().remember_key(site, name, private_key)


def run_import(args: argparse.Namespace) -> int:
    """Import a public key (from a file or a .ppk) as a key pair."""
    from denbi_jupyter.cloud import open_site

    site = resolve_site(args)
    if args.from_ppk is None and (args.save_private or args.passphrase_file):
        raise UserInputError("--save-private and --passphrase-file go with --from-ppk FILE.")
    written: list[str] = []
    private_key: Path | None = None
    if args.public_key is not None:
        public_line = _public_key_text(args.public_key)
    else:
        public_line, private_key, written = _from_ppk(args)
    pair, reused = open_site(site).import_or_find_keypair(args.name, public_line)
    if private_key is not None:
        _remember(site, pair.name, private_key)
    if args.json:
        emit_json({**jsonable(pair), "reused": reused})
        return 0
    for line in written:
        print(line)
    if reused:
        print(f"Key pair {pair.name!r} on {site} already holds this key "
              f"({pair.sha256_fingerprint}): imported before, nothing to do.")  # fmt: skip
    else:
        print(f"Imported key pair {pair.name!r} on {site} ({pair.sha256_fingerprint}).")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Generate an Ed25519 key pair here and import its public key."""
    from denbi_jupyter.cloud import open_site

    site = resolve_site(args)
    made = open_site(site).generate_keypair(
        args.name, private_key_path=args.private_key, overwrite=args.overwrite
    )
    _remember(site, made.name, made.private_key_path)
    if args.json:
        emit_json(
            {
                "name": made.name,
                "fingerprint": made.fingerprint,
                "sha256_fingerprint": made.sha256_fingerprint,
                "private_key_path": str(made.private_key_path),
                "public_key_path": str(made.public_key_path),
            }
        )
        return 0
    print(f"Generated key pair {made.name!r} on {site} ({made.sha256_fingerprint}).")
    print(f"Private key: {made.private_key_path} (mode 0600, not encrypted: keep it private).")
    print(f"Public key: {made.public_key_path}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Delete the named key pairs after confirmation (none when one of them is missing)."""
    from denbi_jupyter.cloud import open_site

    site = resolve_site(args)
    wanted = list(dict.fromkeys(name.strip() for name in args.names if name.strip()))
    if not wanted:
        raise UserInputError("Name at least one key pair to delete.")
    client = open_site(site)
    known = {pair.name for pair in client.list_keypairs()}
    missing = [name for name in wanted if name not in known]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise NotFoundError(
            f"{site} has no key pair {names} (keypair list shows yours); nothing was deleted.",
            site=site,
            action="delete key pairs",
        )
    if not confirm_delete(len(wanted), "key pair(s)", site, assume_yes=args.yes):
        return NOT_DELETED
    for name in wanted:
        client.delete_keypair(name)
        if not args.json:
            print(f"Deleted key pair {name!r} on {site}.")
    if args.json:
        emit_json({"deleted": wanted})
    return 0


def _add_named(
    actions: Any,
    action: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """Add ``keypair ACTION`` with ``--site`` and the key pair's ``NAME``."""
    parser = add_command(actions, action, run, help=help, description=description)
    add_site_option(parser)
    parser.add_argument("name", metavar="NAME", help="the key pair's name")
    return parser


def _add_import(actions: Any) -> None:
    parser = _add_named(
        actions,
        "import",
        run_import,
        help="import a public key as a key pair",
        description="Import an OpenSSH public key file, or the public key of a PuTTY .ppk, "
        "as a key pair. Run again (e.g. after a lost answer), it finds the key pair holding "
        "this very key and exits 0; a name holding another key is refused (exit 4).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    add_file_option(source, "--public-key", "an OpenSSH .pub file")
    add_file_option(source, "--from-ppk", "a PuTTY .ppk key file")
    add_file_option(
        parser, "--passphrase-file", "file whose first line opens the .ppk", metavar="F"
    )
    save_help = "also write the .ppk as an OpenSSH private key (0600) and PATH.pub"
    add_file_option(parser, "--save-private", save_help, metavar="PATH")
    parser.add_argument("--overwrite", action="store_true", help="overwrite PATH and PATH.pub")
    add_json_flag(parser)


def register(subparsers: Any) -> None:
    """Add the ``keypair`` subcommand (``list``, ``import``, ``generate``, ``delete``)."""
    parser = subparsers.add_parser(
        "keypair",
        help="list, import, generate or delete key pairs",
        description="Manage your key pairs on a site (the public keys VMs boot with).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = add_command(actions, "list", run_list, help="list your key pairs")
    add_site_option(listing)
    add_json_flag(listing)

    _add_import(actions)

    generate = _add_named(
        actions,
        "generate",
        run_generate,
        help="make an Ed25519 key pair here and import its public key",
        description="Make a new Ed25519 key pair on this machine: the private key goes to "
        "PATH (mode 0600, never shown), the public key to PATH.pub and to the cloud.",
    )
    add_file_option(
        generate, "--private-key", "where to write the key", metavar="PATH", required=True
    )
    generate.add_argument("--overwrite", action="store_true", help="overwrite PATH and PATH.pub")
    add_json_flag(generate)

    delete = add_delete_command(
        actions,
        run_delete,
        help="delete key pairs",
        description="Delete key pairs by name. Without --yes it asks on a terminal and "
        "refuses otherwise. Nothing is deleted when one of the names does not exist.",
        names=("names", "NAME", "key pair names"),
    )
    add_json_flag(delete)
