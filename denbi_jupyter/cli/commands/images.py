"""``denbi-jupyter images``: the image catalog of a site, filtered like the panel filters it."""

from __future__ import annotations

import argparse
from typing import Any

from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    gigabytes,
    resolve_site,
    show_listing,
)

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter images --help`` say of it.
_HELP = "list a site's images"
_DESCRIPTION = "List the active images of a site, newest first."


def run(args: argparse.Namespace) -> int:
    """List the site's active images."""
    from denbi_jupyter.cloud import DesktopKind, ImageQuery, open_site

    client = open_site(resolve_site(args))
    query = ImageQuery(
        text=args.search or "",
        desktop=DesktopKind(args.desktop) if args.desktop else None,
        include_snapshots=args.snapshots,
    )
    images = client.list_images(query)
    records = [
        {
            "id": image.id,
            "name": image.name,
            "kind": image.kind.label,
            "desktop": image.kind.desktop,
            "tags": image.tags,
            "size": image.size,
            "visibility": image.visibility,
            "snapshot": image.is_snapshot,
            "created_at": image.created_at,
        }
        for image in images
    ]
    rows = [
        (image.id, image.name, image.kind.label, ",".join(image.tags), gigabytes(image.size))
        for image in images
    ]
    return show_listing(records, ["ID", "NAME", "KIND", "TAGS", "SIZE"], rows, as_json=args.json)


def register(subparsers: Any) -> None:
    """Add the ``images`` subcommand."""
    parser = add_command(subparsers, "images", run, help=_HELP, description=_DESCRIPTION)
    add_site_option(parser)
    parser.add_argument("--search", metavar="TEXT", help="text in the name, kind or tags")
    parser.add_argument(
        "--desktop", choices=["x2go", "guacamole"], help="only desktop images of this kind"
    )
    parser.add_argument("--snapshots", action="store_true", help="include snapshots")
    add_json_flag(parser)
