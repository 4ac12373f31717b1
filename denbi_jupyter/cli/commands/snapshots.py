"""``denbi-jupyter snapshots list|delete``: browse and delete a site's snapshots.

``list`` pages, filters (name, project name or OpenStack id) and sorts exactly like the panel.
``delete`` runs the ``delete_snapshots`` flow: protected images and images another project
owns are refused, every named snapshot gets one result line, and the exit code is 0 only
when every one of them was deleted.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from denbi_jupyter.cli._output import (
    add_command,
    add_delete_command,
    add_json_flag,
    add_site_option,
    confirm_delete,
    emit_json,
    gigabytes,
    resolve_site,
    table,
)
from denbi_jupyter.cli._progress import run_flow
from denbi_jupyter.cli._results import delete_json
from denbi_jupyter.errors import NotFoundError, UserInputError

__all__ = ["register", "run_delete", "run_list"]

#: Exit code when at least one named snapshot was not deleted.
NOT_ALL_DELETED = 1


def _count(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def run_list(args: argparse.Namespace) -> int:
    """List one page of snapshots."""
    from denbi_jupyter.cloud import SnapshotQuery, SnapshotSort, open_site

    client = open_site(resolve_site(args))
    page = client.list_snapshots(
        SnapshotQuery(
            text=args.filter or "",
            page=args.page,
            per_page=args.per_page,
            sort=SnapshotSort(args.sort),
            own_only=args.own,
        )
    )
    if args.json:
        emit_json(
            {
                "page": page.page,
                "per_page": page.per_page,
                "total": page.total,
                "pages": page.pages,
                "has_next": page.has_next,
                "items": page.items,
            }
        )
        return 0
    rows = [
        (
            snap.id,
            snap.name,
            snap.status,
            snap.project_name or snap.project_id,
            gigabytes(snap.size),
            snap.created_at.strftime("%Y-%m-%d %H:%M"),
            "yes" if snap.protected else "",
        )
        for snap in page.items
    ]
    print(table(["ID", "NAME", "STATUS", "PROJECT", "SIZE", "CREATED", "PROTECTED"], rows))
    pages = f" of {page.pages}" if page.pages else ""
    more = " (more follow: --page N)" if page.has_next else ""
    print(f"page {page.page}{pages}, {len(page.items)} shown{more}")
    return 0


def _resolve(client: Any, names_or_ids: list[str]) -> list[str]:
    """Snapshot ids for the given names or ids; unknown names stay as given ("not found")."""
    ids = []
    for item in names_or_ids:
        try:
            uuid.UUID(item)
        except ValueError:
            try:
                ids.append(client.find_image(item).id)
            except NotFoundError:
                ids.append(item)
        else:
            ids.append(item)
    return ids


def run_delete(args: argparse.Namespace) -> int:
    """Delete the named snapshots after confirmation."""
    from denbi_jupyter.cloud import open_site

    site = resolve_site(args)
    wanted = [item.strip() for item in args.snapshots if item.strip()]
    if not wanted:
        raise UserInputError("Name at least one snapshot (id or name) to delete.")
    ids = _resolve(open_site(site), wanted)
    if not confirm_delete(len(ids), "snapshot(s)", site, assume_yes=args.yes):
        return NOT_ALL_DELETED
    from denbi_jupyter.cloud.results import DeleteOutcome, DeleteReport
    from denbi_jupyter.jobs import FlowRef

    outcome = run_flow(
        FlowRef.DELETE_SNAPSHOTS.resolve(),
        title=f"Delete {len(ids)} snapshot(s)",
        site=site,
        image_ids=ids,
        max_parallel=args.max_parallel,
    )
    if not isinstance(outcome, DeleteReport):  # what the delete flow returns
        raise TypeError(f"The delete flow returned {type(outcome).__name__}, not a report")
    if args.json:
        emit_json(delete_json(outcome))
    else:
        for item in outcome.items:
            label = f"{item.id} ({item.name})" if item.name else item.id
            print(f"{label}: {item.text}")
    done = all(item.outcome is DeleteOutcome.DELETED for item in outcome.items)
    return 0 if done else NOT_ALL_DELETED


def register(subparsers: Any) -> None:
    """Add the ``snapshots`` subcommand (``list`` and ``delete``)."""
    parser = subparsers.add_parser(
        "snapshots", help="list or delete snapshots", description="Browse or delete snapshots."
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = add_command(actions, "list", run_list, help="list snapshots, one page at a time")
    add_site_option(listing)
    listing.add_argument("--filter", metavar="TEXT", help="name, project name or OpenStack id")
    listing.add_argument("--page", type=_count(1, 1_000_000), default=1, help="page (from 1)")
    listing.add_argument(
        "--per-page", type=_count(1, 1000), default=25, help="snapshots per page (1-1000)"
    )
    listing.add_argument(
        "--sort", choices=["newest", "oldest", "name", "size"], default="newest", help="order"
    )
    listing.add_argument("--own", action="store_true", help="only the project's own snapshots")
    add_json_flag(listing)

    delete = add_delete_command(
        actions,
        run_delete,
        help="delete snapshots (protected and other projects' are refused)",
        description="Delete snapshots by id or name. Without --yes it asks on a terminal "
        "and refuses otherwise. Exit code 1 when any was not deleted.",
        names=("snapshots", "ID", "snapshot ids or names"),
    )
    delete.add_argument(
        "--max-parallel", type=_count(1, 16), default=4, help="deletions at once (1-16)"
    )
    add_json_flag(delete)
