"""``denbi-jupyter connect``: how to reach a VM (SSH command or config, X2Go session file).

Without ``--identity-file`` the private key remembered for the VM's key pair (by ``keypair
generate``, ``keypair import --save-private`` or the panels) is put in, and stderr says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    emit_json,
    resolve_site,
)
from denbi_jupyter.errors import UserInputError

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter connect --help`` say of it.
_HELP = "show how to connect to a VM"
_DESCRIPTION = (
    "Print the SSH command (or an ~/.ssh/config block) for a VM through its "
    "site's gateway; optionally write an X2Go Client session file."
)


def _identity_file(site: str, key_name: str | None, given: str | None) -> str | None:
    """``--identity-file``, else the key remembered for ``key_name`` (said on stderr)."""
    from denbi_jupyter.connect.key_registry import KeyRegistry

    if given is not None or not key_name:
        return given
    registry = KeyRegistry()
    remembered = registry.private_key(site, key_name)
    if remembered is None:
        return None
    print(
        f"Using {remembered}, the private key remembered for key pair {key_name!r} on {site} "
        f"(in {registry.path}); --identity-file KEY chooses another.",
        file=sys.stderr,
    )
    return str(remembered)


def run(args: argparse.Namespace) -> int:
    """Show the VM's connection details."""
    from denbi_jupyter.cloud import open_site
    from denbi_jupyter.connect.details import connection_details

    site = resolve_site(args)
    client = open_site(site)
    server = client.find_server(args.server)
    image = client.desktop_image(server.image_id) if server.image_id else None
    key_path = _identity_file(site, server.key_name, args.identity_file)
    details = connection_details(client.site, server, image, key_path=key_path)
    for problem in details.problems:
        print(f"denbi-jupyter: warning: {problem}", file=sys.stderr)
    if args.x2go_session is not None:
        broken = [p for p in details.problems if p.startswith("X2Go: ")]
        if broken:
            raise UserInputError(f"No X2Go session file for {server.name!r}: {broken[0][6:]}")
        if not details.x2go_session:
            raise UserInputError(
                f"VM {server.name!r} runs no X2Go desktop image; connect with SSH instead."
            )
        from denbi_jupyter.connect.keyfile import write_private_file

        write_private_file(
            args.x2go_session, details.x2go_session, overwrite=args.force, what="X2Go session"
        )
    if args.json:
        emit_json(
            {"server": {"id": server.id, "name": server.name}, "available": True}
            | details.as_dict()
        )
        return 0
    if args.ssh_config:
        print(details.ssh_config, end="")
    else:
        print(details.ssh_command)
    if details.guacamole_url:
        print(f"Guacamole: {details.guacamole_url}")
    if args.x2go_session is not None:
        print(f"X2Go session written to {args.x2go_session} (X2Go Client: Session → Import)")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``connect`` subcommand."""
    parser = add_command(subparsers, "connect", run, help=_HELP, description=_DESCRIPTION)
    add_site_option(parser)
    parser.add_argument("server", metavar="SERVER", help="VM name or id")
    parser.add_argument("--ssh-config", action="store_true", help="print an ~/.ssh/config block")
    parser.add_argument(
        "--x2go-session", type=Path, metavar="FILE", help="write an X2Go Client session file"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing --x2go-session FILE"
    )
    parser.add_argument(
        "--identity-file",
        metavar="KEY",
        help="private key path to put in (default: the one remembered for the VM's key pair)",
    )
    add_json_flag(parser)
