"""``denbi-jupyter snapshots list|delete``: browse and delete a site's snapshots.

``list`` pages, filters (name, project name or OpenStack id) and sorts exactly like the panel;
``list --all-sites`` shows every clouds.yaml site at once with a SITE column, asked in parallel
(:func:`~denbi_jupyter.cloud.federation.federated_page`: page N is page N of every site, merged),
with one status line per site; a site that fails or does not answer within ``--timeout``
seconds is named so, the others are listed, and the exit code is 1.
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
    jsonable,
    resolve_site,
    table,
)
from denbi_jupyter.cli._progress import run_flow
from denbi_jupyter.cli._results import delete_json
from denbi_jupyter.errors import NotFoundError, UserInputError

__all__ = ["register", "run_delete", "run_list"]

#: Exit code when at least one named snapshot was not deleted.
NOT_ALL_DELETED = 1
#: Exit code of ``list --all-sites`` when a site failed or did not answer in time.
SITES_INCOMPLETE = 1
_LIST_HEADERS = ("ID", "NAME", "STATUS", "PROJECT", "SIZE", "CREATED", "PROTECTED")


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 3600 seconds")
    return value


def _query(args: argparse.Namespace) -> Any:
    from denbi_jupyter.cloud import SnapshotQuery, SnapshotSort

    return SnapshotQuery(
        text=args.filter or "",
        page=args.page,
        per_page=args.per_page,
        sort=SnapshotSort(args.sort),
        own_only=args.own,
    )


def _row(snap: Any) -> tuple[object, ...]:
    return (
        snap.id,
        snap.name,
        snap.status,
        snap.project_name or snap.project_id,
        gigabytes(snap.size),
        snap.created_at.strftime("%Y-%m-%d %H:%M"),
        "yes" if snap.protected else "",
    )


def run_list(args: argparse.Namespace) -> int:
    """List one page of snapshots (of every site with ``--all-sites``)."""
    if args.all_sites:
        return _list_all_sites(args)
    from denbi_jupyter.cloud import open_site

    client = open_site(resolve_site(args))
    page = client.list_snapshots(_query(args))
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
    print(table(_LIST_HEADERS, [_row(snap) for snap in page.items]))
    pages = f" of {page.pages}" if page.pages else ""
    more = " (more follow: --page N)" if page.has_next else ""
    print(f"page {page.page}{pages}, {len(page.items)} shown{more}")
    return 0


def _list_all_sites(args: argparse.Namespace) -> int:
    from denbi_jupyter.cloud import list_sites, open_site
    from denbi_jupyter.cloud.federation import federated_page

    if args.site:
        raise UserInputError("Give either --site or --all-sites, not both.")
    sites = [site.name for site in list_sites()]
    page = federated_page(
        sites,
        lambda site, query: open_site(site).list_snapshots(query),
        _query(args),
        timeout=args.timeout,
    )
    if args.json:
        emit_json(
            {
                "page": page.page,
                "per_page": page.per_page,
                "total": page.total,
                "has_next": page.has_next,
                "sites": [
                    {"site": s.site, "state": s.state, "text": s.text, "message": s.message}
                    for s in page.sites
                ],
                "items": [{"site": row.site, **jsonable(row.snapshot)} for row in page.items],
            }
        )
    else:
        rows = [(row.site, *_row(row.snapshot)) for row in page.items]
        print(table(("SITE", *_LIST_HEADERS), rows))
        for status in page.sites:
            print(status.text)
        more = " (more follow: --page N)" if page.has_next else ""
        print(f"page {page.page} of every site, {len(page.items)} shown{more}")
    return 0 if page.complete else SITES_INCOMPLETE


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
    listing.add_argument(
        "--all-sites",
        action="store_true",
        help="every clouds.yaml site at once (page N of each site, merged; a SITE column)",
    )
    listing.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        help="with --all-sites: seconds to wait for each site (default 30)",
    )
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
