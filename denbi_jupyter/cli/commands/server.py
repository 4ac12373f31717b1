"""``denbi-jupyter server list|stop|start|reboot|delete``: a site's VMs and their lifecycle.

``list`` shows the project's VMs with status, image (and its desktop kind), flavor, address
and age. The actions run one flow per named VM (``stop_server``, ``start_server``,
``reboot_server``, ``delete_server``), each with progress, until Nova has settled; a VM the
rule refuses (already stopped, busy, locked, a snapshot uploading while deleting) is reported
with the reason and the others go on. The exit code is the first failure's (4 for a refusal),
0 when every VM was handled. ``delete`` asks nothing: name exactly the VMs to delete.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    emit_json,
    for_each_server,
    positive_seconds,
    resolve_site,
    server_names,
    show_listing,
)
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef

if TYPE_CHECKING:
    from denbi_jupyter.cloud.types import Image, Server

__all__ = ["format_age", "register", "run_action", "run_list", "server_rows"]

_ACTIONS: Mapping[str, tuple[FlowRef, str, str]] = {
    "stop": (FlowRef.STOP_SERVER, "Stop", "stop VMs and wait until they are SHUTOFF"),
    "start": (FlowRef.START_SERVER, "Start", "start SHUTOFF VMs and wait until they are ACTIVE"),
    "reboot": (FlowRef.REBOOT_SERVER, "Reboot", "reboot VMs and wait until they are ACTIVE"),
    "delete": (
        FlowRef.DELETE_SERVER,
        "Delete",
        "delete VMs (refused while a snapshot uploads) and wait until they are gone",
    ),
}
_HEADERS = ("ID", "NAME", "STATUS", "IMAGE", "DESKTOP", "FLAVOR", "ADDRESS", "AGE")


def format_age(created_at: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago, in its largest unit: ``<1m``, ``42m``, ``5h``, ``3d``; ``-`` if unknown."""
    if created_at is None:
        return "-"
    minutes = int((now - created_at).total_seconds() // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // (24 * 60)}d"


def _status(server: Server) -> str:
    return f"{server.status} ({server.task_state})" if server.task_state else server.status


def server_rows(
    servers: Sequence[Server], images: Mapping[str, Image], now: dt.datetime
) -> list[dict[str, object]]:
    """One record per VM: what ``list`` prints (as a table or as ``--json``)."""
    rows: list[dict[str, object]] = []
    for server in servers:
        image = images.get(server.image_id or "")
        desktop = image.kind.desktop if image is not None else None
        rows.append(
            {
                "id": server.id,
                "name": server.name,
                "status": server.status,
                "task_state": server.task_state,
                "image_id": server.image_id,
                "image_name": image.name if image is not None else None,
                "desktop": desktop.value if desktop is not None else None,
                "flavor": server.flavor_name or server.flavor_id,
                "private_ipv4": server.private_ipv4,
                "created_at": server.created_at,
                "age": format_age(server.created_at, now),
                "locked": server.locked,
            }
        )
    return rows


def run_list(args: argparse.Namespace) -> int:
    """List the project's VMs."""
    from denbi_jupyter.cloud import open_site

    client = open_site(resolve_site(args))
    servers = client.list_servers()
    image_ids = sorted({server.image_id for server in servers if server.image_id})
    images = client.get_images(image_ids) if image_ids else {}
    rows = server_rows(servers, images, dt.datetime.now(dt.UTC))
    by_id = {server.id: server for server in servers}
    cells = [
        (
            row["id"],
            row["name"],
            _status(by_id[str(row["id"])]),
            row["image_name"] or row["image_id"] or "-",
            row["desktop"] or "",
            row["flavor"] or "-",
            row["private_ipv4"] or "-",
            row["age"],
        )
        for row in rows
    ]
    return show_listing({"servers": rows}, _HEADERS, cells, as_json=args.json)


def _detached(
    args: argparse.Namespace, site: str, names: Sequence[str], *, verb: str, hard: bool
) -> int:
    """Start the same command without ``--no-wait`` in the background (``--json`` output)."""
    from denbi_jupyter.cli._progress import start_detached

    words = ["server", args.action, "--site", site, *names, "--timeout", f"{args.timeout:g}"]
    return start_detached(
        [*words, *(["--hard"] if hard else []), "--json"],
        name="server",
        what=f"{verb} of {len(names)} VM(s) started",
        hint=f"Run 'denbi-jupyter server list --site {site}' to see how they are.",
        as_json=args.json,
    )


def run_action(args: argparse.Namespace) -> int:
    """Stop, start, reboot or delete the named VMs, one flow each."""
    site = resolve_site(args)
    names = server_names(args.servers)
    if not names:
        raise UserInputError(f"Name at least one VM (name or id) to {args.action}.")
    flow_ref, verb, _ = _ACTIONS[args.action]
    hard = bool(getattr(args, "hard", False))
    if args.no_wait:
        return _detached(args, site, names, verb=verb, hard=hard)
    from denbi_jupyter.cli._progress import run_flow
    from denbi_jupyter.cli._results import result_json

    flow = flow_ref.resolve()
    options: dict[str, object] = {"timeout_s": args.timeout}
    if args.action == "reboot":
        options["hard"] = hard

    def run(name: str) -> tuple[object, list[str]]:
        result: Any = run_flow(flow, title=f"{verb} {name}", site=site, server=name, **options)
        done = f"{result.action.value} done, {result.status}"
        return result_json(result), [f"VM {result.name} ({result.server_id}): {done}"]

    code, outputs = for_each_server(names, run, as_json=args.json)
    if args.json:
        emit_json({"results": outputs})
    return code


def register(subparsers: Any) -> None:
    """Add the ``server`` subcommand (``list``, ``stop``, ``start``, ``reboot``, ``delete``)."""
    parser = subparsers.add_parser(
        "server",
        help="list VMs, stop, start, reboot or delete them",
        description="List the project's VMs, or stop, start, reboot or delete VMs by name or "
        "id, one flow each, waiting until Nova has settled. A refused VM (already stopped, "
        "busy, locked, its snapshot uploading) is reported with the reason and the others go "
        "on; the exit code is the first failure's (4: refused). delete asks nothing.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = add_command(actions, "list", run_list, help="list the project's VMs")
    add_site_option(listing)
    add_json_flag(listing)
    for action, (_, _, help_text) in _ACTIONS.items():
        command = add_command(actions, action, run_action, help=help_text)
        add_site_option(command)
        command.add_argument("servers", nargs="+", metavar="NAME_OR_ID", help="VM names or ids")
        if action == "reboot":
            command.add_argument(
                "--hard", action="store_true", help="reset the VM instead of a clean reboot"
            )
        command.add_argument(
            "--timeout",
            type=positive_seconds,
            default=600.0,
            help="seconds to wait per VM (default 600)",
        )
        command.add_argument("--no-wait", action="store_true", help="start it and return at once")
        add_json_flag(command)
