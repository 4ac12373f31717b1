"""``denbi-jupyter snapshot create``: snapshot a VM with pre-flight checks and provenance.

Runs the ``create_snapshot`` flow to its end (image active) unless ``--no-wait``, which starts
it in the background. Re-running the same command never makes a second snapshot: it finds
the first one (same site, VM and name) and waits for it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cli._output import add_json_flag, add_site_option, resolve_site
from denbi_jupyter.cli._progress import run_flow_and_report, start_detached
from denbi_jupyter.errors import UserInputError

if TYPE_CHECKING:
    from denbi_jupyter.cloud.results import SnapshotResult

__all__ = ["register", "run_create"]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value


def _background(args: argparse.Namespace, site: str) -> int:
    command = ["snapshot", "create", "--site", site, "--server", args.server, "--name", args.name]
    command += ["--timeout", f"{args.timeout:g}", "--json"]
    if args.request_id:
        command += ["--request-id", args.request_id]
    return start_detached(
        command,
        name="snapshot",
        what=f"Snapshot {args.name!r} started",
        hint="Run the same command without --no-wait to wait for it (it is made only once).",
        as_json=args.json,
    )


def _describe(result: SnapshotResult) -> None:
    verb = "existed already" if result.reused else "is active"
    print(f"Snapshot {result.name} ({result.image_id}) {verb}.")


def run_create(args: argparse.Namespace) -> int:
    """Snapshot the VM."""
    site = resolve_site(args)
    if not args.name.strip():
        raise UserInputError("The snapshot name is empty: give --name a name.")
    if args.no_wait:
        return _background(args, site)
    from denbi_jupyter.jobs import load_flows

    load_flows()
    from flows.snapshot import create_snapshot

    return run_flow_and_report(
        create_snapshot,
        title=f"Snapshot {args.server} → {args.name.strip()}",
        as_json=args.json,
        describe=_describe,
        site=site,
        server=args.server,
        name=args.name,
        request_id=args.request_id,
        timeout_s=args.timeout,
    )


def register(subparsers: Any) -> None:
    """Add the ``snapshot`` subcommand (``snapshot create``)."""
    parser = subparsers.add_parser(
        "snapshot", help="snapshot a VM", description="Snapshot a VM (Nova createImage)."
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="snapshot a VM and wait until the image is active",
        description="Check the VM, ask Nova for a snapshot, follow it until Glance says "
        "active, record its provenance and copy the source image's tags.",
    )
    add_site_option(create)
    create.add_argument("--server", required=True, help="VM name or id")
    create.add_argument("--name", required=True, help="name of the snapshot")
    create.add_argument(
        "--timeout", type=_positive, default=1800.0, help="seconds to wait (default 1800)"
    )
    create.add_argument(
        "--request-id", metavar="ID", help="idempotency key (default: from site, VM and name)"
    )
    create.add_argument("--no-wait", action="store_true", help="start it and return at once")
    add_json_flag(create)
    create.set_defaults(run=run_create)
