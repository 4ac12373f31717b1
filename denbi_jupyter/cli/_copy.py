"""``denbi-jupyter snapshot copy --site S SNAPSHOT --to T``: copy a snapshot to another site.

Runs the ``copy_image`` flow with a byte progress bar on the terminal, or with ``--no-wait``
in the background. The arguments are checked first (both sites exist in clouds.yaml and
differ, the snapshot is found by id or unique name, the name is usable), so a detached run
never starts with a mistake in them. A failure is one line and the exit code of its kind
(quota 5, a broken or unverifiable transfer 9, …; see ``cli/__init__.py``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, cast

from denbi_jupyter.cli._output import add_command, add_json_flag, add_site_option, resolve_site
from denbi_jupyter.cli._progress import run_flow_and_report, start_detached
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef

if TYPE_CHECKING:
    from collections.abc import Callable

    from denbi_jupyter.cloud.results import CopyResult

__all__ = ["add_copy_command", "run_copy"]

_MIB = 1024 * 1024


def _size(size: int) -> str:
    return f"{size / _MIB:.1f} MiB" if size >= _MIB else f"{size / 1024:.1f} KiB"


def _describe(result: CopyResult) -> None:
    where = f"{result.target_site} as {result.name!r} ({result.target_id})"
    if result.reused:
        print(f"A verified copy exists on {where} already.")
        return
    replaced = " (a failed earlier copy was replaced)" if result.replaced_partial else ""
    print(
        f"Copied {result.source_id} from {result.source_site} to {where}: "
        f"{_size(result.size)}, sha512 checked{replaced}."
    )


def _checked(args: argparse.Namespace) -> tuple[str, str, str, str | None]:
    """(site, image id, target site, name) after checking every argument."""
    from denbi_jupyter.cloud import get_site, open_site
    from denbi_jupyter.cloud.rules.names import NameKind, check_name

    site = resolve_site(args)
    target = args.to.strip()
    if not target:
        raise UserInputError("No target site given: pass --to NAME ('denbi-jupyter sites').")
    if target == site:
        raise UserInputError(f"--to {target!r} is the source site: copy to another site.")
    get_site(target)  # NotFoundError naming the clouds.yaml entries there are
    name = check_name(NameKind.SNAPSHOT, args.name) if args.name is not None else None
    image_id = open_site(site).find_image(args.snapshot).id
    return site, image_id, target, name


def run_copy(args: argparse.Namespace) -> int:
    """Copy the snapshot to the target site."""
    site, image_id, target, name = _checked(args)
    if args.no_wait:
        named = ["--name", name] if name else []
        return start_detached(
            ["snapshot", "copy", "--site", site, image_id, "--to", target, *named, "--json"],
            name="snapshot-copy",
            what=f"Copy of {args.snapshot} to {target} started",
            hint="Run the same command without --no-wait to wait for it (it is copied once).",
            as_json=args.json,
        )
    flow = cast("Callable[..., CopyResult]", FlowRef.COPY_IMAGE.resolve())
    return run_flow_and_report(
        flow,
        title=f"Copy {args.snapshot} → {target}",
        as_json=args.json,
        describe=_describe,
        site=site,
        image_id=image_id,
        target_site=target,
        name=name,
    )


def add_copy_command(actions: Any) -> None:
    """Add ``snapshot copy`` to the ``snapshot`` subcommand's actions."""
    copy = add_command(
        actions,
        "copy",
        run_copy,
        help="copy a snapshot (or any image you may read) to another site, verified",
        description="Stream the image from the source site's Glance to the target's, check "
        "that size and sha512 match, and carry over formats, properties and tags. Re-running "
        "finds the finished copy instead of making a second.",
    )
    add_site_option(copy)
    copy.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot (or image) id or name")
    copy.add_argument("--to", required=True, metavar="SITE", help="clouds.yaml entry to copy to")
    copy.add_argument("--name", help="name of the copy (default: the source's, made unique)")
    copy.add_argument("--no-wait", action="store_true", help="start it and return at once")
    add_json_flag(copy)
