"""``denbi-jupyter serve-schedules``: serve the scheduled flows from this process.

The same flows and schedules ``prefect.yaml`` deploys, without a work pool: the snapshot-policy
run every 15 minutes (it snapshots the VMs whose ``denbi_snapshot_policy``, or old
``denbi_nightly`` marker, is due and applies each one's retention) and a weekly cleanup. It
serves until Ctrl-C; ``--check`` only builds and prints the deployments. Served runs run in
child processes started by Prefect's runner; they take the site name, never credentials.
Without ``PREFECT_API_URL`` it serves on the user's Prefect server (found or started, leased
while serving; the runner passes its URL to the runs), so its runs show in the same UI as the
commands' and the lab's.
"""

from __future__ import annotations

import argparse
import sys
import zoneinfo
from typing import Any

from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    emit_json,
    resolve_site,
)
from denbi_jupyter.errors import UserInputError

__all__ = ["build_deployments", "register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter serve-schedules --help`` say of it.
_HELP = "serve the scheduled snapshot flows"
_DESCRIPTION = (
    "Serve the snapshot-policy run (VMs whose denbi_snapshot_policy is due, with each one's "
    "retention) and a cleanup on cron schedules from this process until Ctrl-C."
)


def _schedule(cron: str, timezone: str) -> Any:
    from prefect.schedules import Cron

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"Unknown time zone {timezone!r}: give an IANA time zone such as 'Europe/Berlin'."
        ) from None
    try:
        return Cron(cron, timezone=timezone)
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(
            f"Cannot schedule {cron!r} in {timezone!r} ({first}): give a cron expression such "
            "as '0 2 * * *' and an IANA time zone such as 'Europe/Berlin'."
        ) from None


def build_deployments(args: argparse.Namespace, site: str) -> list[Any]:
    """The runner deployments of the scheduled flows for ``site``."""
    from denbi_jupyter.jobs import load_flows

    load_flows()
    from flows.policy import run_snapshot_policies
    from flows.scheduled import check_retention, cleanup_snapshots

    check_retention(keep_last=1, max_age_days=args.cleanup_days)
    if args.catch_up_hours <= 0:
        raise UserInputError(f"--catch-up-hours must be more than 0, not {args.catch_up_hours}.")
    policies = run_snapshot_policies.to_deployment(
        name=f"snapshot-policies-{site}",
        schedules=[_schedule(args.policy_cron, args.timezone)],
        parameters={"site": site, "catch_up_hours": args.catch_up_hours},
        tags=["denbi-jupyter", "snapshots"],
    )
    cleanup = cleanup_snapshots.to_deployment(
        name=f"cleanup-snapshots-{site}",
        schedules=[_schedule(args.cleanup_cron, args.timezone)],
        parameters={"site": site, "max_age_days": args.cleanup_days},
        tags=["denbi-jupyter", "snapshots"],
    )
    return [policies, cleanup]


def run(args: argparse.Namespace) -> int:
    """Serve (or with ``--check`` describe) the scheduled flows."""
    site = resolve_site(args)
    deployments = build_deployments(args, site)
    described = [
        {
            "name": deployment.name,
            "flow": deployment.flow_name,
            "parameters": deployment.parameters,
            "schedules": [str(schedule.schedule) for schedule in deployment.schedules or []],
        }
        for deployment in deployments
    ]
    if args.check:
        if args.json:
            emit_json(described)
        else:
            for item in described:
                print(f"{item['name']}: {', '.join(item['schedules'])}")
        return 0
    from prefect import serve

    from denbi_jupyter.cli._progress import prefect_api

    started: list[str] = []
    with prefect_api(started):
        for note in started:
            print(note, file=sys.stderr, flush=True)
        serve(*deployments)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``serve-schedules`` subcommand."""
    parser = add_command(subparsers, "serve-schedules", run, help=_HELP, description=_DESCRIPTION)
    add_site_option(parser)
    parser.add_argument(
        "--policy-cron",
        default="*/15 * * * *",
        help="how often to look for VMs whose snapshot policy is due",
    )
    parser.add_argument(
        "--catch-up-hours",
        type=float,
        default=6.0,
        help="how late a due snapshot may still be made (a worker that was down)",
    )
    parser.add_argument("--cleanup-cron", default="30 3 * * 0", help="cron of the cleanup")
    parser.add_argument("--timezone", default="Europe/Berlin", help="IANA time zone of the crons")
    parser.add_argument(
        "--cleanup-days", type=float, default=30.0, help="cleanup drops ones older than this"
    )
    parser.add_argument("--check", action="store_true", help="print the deployments and exit")
    add_json_flag(parser)
