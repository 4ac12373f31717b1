"""``denbi-jupyter boot``: boot a VM from an image or snapshot and show how to connect.

Runs the ``boot_server`` flow to its end (ACTIVE, and with ``--wait-for-port`` until SSH
answers) unless ``--no-wait``, which starts it in the background and prints its request id.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cli._flow_command import FlowCommand
from denbi_jupyter.cli._output import add_command, add_json_flag, add_site_option, resolve_site
from denbi_jupyter.cloud.rules.names import NameKind
from denbi_jupyter.jobs import FlowRef

if TYPE_CHECKING:
    from denbi_jupyter.cloud.results import BootResult

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter boot --help`` say of it.
_HELP = "boot a VM from an image or snapshot"
_DESCRIPTION = "Boot a VM and wait until it is ACTIVE; print how to connect."

_COMMAND = FlowCommand(
    words=("boot",),
    flow=FlowRef.BOOT_SERVER,
    options=("image", "flavor", "key_name", "name", "wait_for_port", "request_id"),
    started="Booting {name!r}",
    hint="Run the same command without --no-wait to wait for that VM (it boots only once).",
    names=NameKind.SERVER,
)


def _describe(result: BootResult) -> None:
    connection = result.connection
    verb = "exists already" if result.reused else "is ACTIVE"
    print(f"VM {result.name} ({result.server_id}) {verb} at {result.private_ipv4 or '-'}")
    if connection is None:
        print(f"No SSH details: {result.unreachable_reason}")
        return
    print(f"SSH:        {connection.ssh_command}")
    if connection.x2go_session_type is not None:
        print(
            f"X2Go:       {connection.x2go_session_type.value} desktop; session file: "
            f"denbi-jupyter connect --site {shlex.quote(result.site)} "
            f"{shlex.quote(result.name)} --x2go-session FILE"
        )
    if connection.guacamole_url:
        print(f"Guacamole:  {connection.guacamole_url}")


def run(args: argparse.Namespace) -> int:
    """Boot the VM."""
    site = resolve_site(args)
    code = _COMMAND.run(args, site, title=f"Boot {args.name}", describe=_describe)
    if code == 0 and args.key_name:  # the boot forms preselect it next time
        from denbi_jupyter.connect.key_registry import KeyRegistry

        KeyRegistry().remember_boot_key(site, args.key_name)
    return code


def register(subparsers: Any) -> None:
    """Add the ``boot`` subcommand."""
    parser = add_command(subparsers, "boot", run, help=_HELP, description=_DESCRIPTION)
    add_site_option(parser)
    parser.add_argument("--image", required=True, help="image or snapshot name or id")
    parser.add_argument("--flavor", required=True, help="flavor name or id")
    parser.add_argument("--key-name", metavar="KEY", help="key pair to install")
    parser.add_argument("--name", required=True, help="name of the new VM")
    parser.add_argument(
        "--wait-for-port", action="store_true", help="also wait until SSH answers on the gateway"
    )
    parser.add_argument(
        "--request-id", metavar="ID", help="re-running with the same id finds the same VM"
    )
    parser.add_argument("--no-wait", action="store_true", help="start it and return at once")
    add_json_flag(parser)
