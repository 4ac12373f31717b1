"""``denbi-jupyter snapshot create|copy``: snapshot a VM; copy a snapshot to another site.

``create`` runs the ``create_snapshot`` flow to its end (image active) unless ``--no-wait``,
which starts it in the background. Re-running the same command never makes a second
snapshot: it finds the first one (same site, VM and name) and waits for it.

``copy`` runs the ``copy_image`` flow (see :mod:`denbi_jupyter.cli._copy`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cli._copy import add_copy_command
from denbi_jupyter.cli._flow_command import FlowCommand
from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    positive_seconds,
    resolve_site,
)
from denbi_jupyter.cloud.rules.names import NameKind
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef

if TYPE_CHECKING:
    from denbi_jupyter.cloud.results import SnapshotResult

__all__ = ["register", "run_create"]

_COMMAND = FlowCommand(
    words=("snapshot", "create"),
    flow=FlowRef.CREATE_SNAPSHOT,
    options=("server", "name", "request_id", "timeout"),
    renamed={"timeout": "timeout_s"},
    started="Snapshot {name!r} started",
    hint="Run the same command without --no-wait to wait for it (it is made only once).",
    names=NameKind.SNAPSHOT,
)


def _describe(result: SnapshotResult) -> None:
    verb = "existed already" if result.reused else "is active"
    print(f"Snapshot {result.name} ({result.image_id}) {verb}.")


def run_create(args: argparse.Namespace) -> int:
    """Snapshot the VM."""
    site = resolve_site(args)
    if not args.name.strip():
        raise UserInputError("The snapshot name is empty: give --name a name.")
    title = f"Snapshot {args.server} → {args.name.strip()}"
    return _COMMAND.run(args, site, title=title, describe=_describe)


def register(subparsers: Any) -> None:
    """Add the ``snapshot`` subcommand (``snapshot create``, ``snapshot copy``)."""
    parser = subparsers.add_parser(
        "snapshot", help="snapshot a VM", description="Snapshot a VM (Nova createImage)."
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = add_command(
        actions,
        "create",
        run_create,
        help="snapshot a VM and wait until the image is active",
        description="Check the VM, ask Nova for a snapshot, follow it until Glance says "
        "active, record its provenance and copy the source image's tags.",
    )
    add_site_option(create)
    create.add_argument("--server", required=True, help="VM name or id")
    create.add_argument("--name", required=True, help="name of the snapshot")
    create.add_argument(
        "--timeout", type=positive_seconds, default=1800.0, help="seconds to wait (default 1800)"
    )
    create.add_argument(
        "--request-id", metavar="ID", help="idempotency key (default: from site, VM and name)"
    )
    create.add_argument("--no-wait", action="store_true", help="start it and return at once")
    add_json_flag(create)
    add_copy_command(actions)
