"""Flows for schedules: nightly snapshots of marked VMs, with retention, and a cleanup.

``prefect.yaml`` deploys both with cron schedules; ``denbi-jupyter serve-schedules`` serves
them from one process. Both act only on snapshots a schedule made: each nightly snapshot
carries the image property ``denbi_schedule=nightly_snapshots`` (plus the usual provenance,
among it the source server id), and retention looks for exactly that property. Snapshots made
by hand are never touched.

Retention per source VM: keep the newest ``keep_last`` active snapshots; with
``max_age_days`` also drop those older than that, but never the newest one (a schedule that
stopped working does not delete the last good snapshot). Failed (``killed``) scheduled
snapshots are always removed; snapshots still in progress never are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from prefect import flow

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID, made_from_its_source
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.errors import OperationFailedError, UserInputError
from flows import _tasks as tasks
from flows._ids import SCHEDULE_KEY, derive_request_id
from flows._progress import report, run_logger
from flows.delete import delete_snapshots
from flows.snapshot import create_snapshot

__all__ = [
    "NIGHTLY",
    "check_retention",
    "cleanup_snapshots",
    "marked_servers",
    "nightly_snapshots",
    "plan_retention",
]

#: The ``denbi_schedule`` value of snapshots made by :func:`nightly_snapshots`.
NIGHTLY = "nightly_snapshots"
_OFF_VALUES = frozenset({"", "0", "false", "no", "off"})
_IN_PROGRESS = frozenset({"queued", "saving", "uploading", "importing"})
_FAILED = frozenset({"killed", "error"})


def marked_servers(servers: Iterable[Server], metadata_key: str) -> list[Server]:
    """Servers whose metadata has ``metadata_key`` set to anything but an "off" value."""
    return [
        server
        for server in servers
        if metadata_key in server.metadata
        and server.metadata[metadata_key].strip().lower() not in _OFF_VALUES
    ]


def check_retention(*, keep_last: int, max_age_days: float | None) -> None:
    """Refuse retention settings that could delete every snapshot of a VM.

    Raises:
        UserInputError: ``keep_last`` below 1 or ``max_age_days`` not positive.
    """
    if keep_last < 1:
        raise UserInputError(f"keep_last must be at least 1, not {keep_last}.")
    if max_age_days is not None and max_age_days <= 0:
        raise UserInputError(f"max_age_days must be positive, not {max_age_days}.")


def plan_retention(
    images: Sequence[Image],
    *,
    keep_last: int,
    max_age_days: float | None,
    now: dt.datetime,
) -> list[Image]:
    """Which scheduled snapshots to delete (pure; see the module docstring for the rules)."""
    check_retention(keep_last=keep_last, max_age_days=max_age_days)
    by_server: dict[str, list[Image]] = defaultdict(list)
    for image in images:
        if made_from_its_source(image.properties):  # not inherited by a snapshot of a copy
            by_server[image.properties.get(SOURCE_SERVER_ID, "")].append(image)
    doomed: list[Image] = []
    for group in by_server.values():
        doomed += [image for image in group if image.status in _FAILED]
        active = sorted(
            (image for image in group if image.status == "active"),
            key=lambda image: image.created_at,
            reverse=True,
        )
        for index, image in enumerate(active):
            too_many = index >= keep_last
            too_old = (
                max_age_days is not None
                and index > 0
                and (now - image.created_at > dt.timedelta(days=max_age_days))
            )
            if too_many or too_old:
                doomed.append(image)
    return sorted(doomed, key=lambda image: image.created_at)


def _apply_retention(
    site: str, schedule: str, *, keep_last: int, max_age_days: float | None, dry_run: bool
) -> dict[str, object]:
    logger = run_logger()
    client = tasks.open_site(site)
    made = tasks.find_images_by_property(client, SCHEDULE_KEY, schedule)
    doomed = plan_retention(
        made, keep_last=keep_last, max_age_days=max_age_days, now=dt.datetime.now(dt.UTC)
    )
    logger.info(
        "%d scheduled snapshot(s) found, %d to delete%s",
        len(made),
        len(doomed),
        " (dry run)" if dry_run else "",
    )
    if dry_run or not doomed:
        return {
            "found": len(made),
            "to_delete": [image.id for image in doomed],
            "dry_run": dry_run,
            "results": [],
        }
    outcome = delete_snapshots(site=site, image_ids=[image.id for image in doomed])
    return {
        "found": len(made),
        "to_delete": [image.id for image in doomed],
        "dry_run": False,
        "results": outcome["results"],
    }


@flow(name="nightly-snapshots", flow_run_name="nightly-{site}", persist_result=False)
def nightly_snapshots(
    site: str,
    metadata_key: str = "denbi_nightly",
    keep_last: int = 7,
    max_age_days: float | None = None,
) -> dict[str, object]:
    """Snapshot every VM whose metadata carries ``metadata_key``, then apply retention.

    One failed VM does not stop the others; the flow fails at the end if any did. Re-running
    on the same (UTC) day finds that day's snapshots instead of making new ones.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        metadata_key: Server metadata key that opts a VM in (values ``false``/``no``/``0``/
            ``off`` opt it out).
        keep_last: Scheduled snapshots to keep per VM (at least 1).
        max_age_days: Also delete scheduled snapshots older than this (never the newest).

    Returns:
        ``snapshots`` (per VM: ``server``, ``image_id`` or ``error``) and ``retention``.
    """
    logger = run_logger()
    check_retention(keep_last=keep_last, max_age_days=max_age_days)
    client = tasks.open_site(site)
    chosen = marked_servers(tasks.list_servers(client), metadata_key)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    logger.info("%d VM(s) carry %r", len(chosen), metadata_key)
    snapshots: list[dict[str, object]] = []
    for index, server in enumerate(chosen):
        report(index / max(1, len(chosen)), f"Snapshot of {server.name}")
        state = create_snapshot(
            site=site,
            server=server.id,
            name=f"{server.name}-nightly-{day}-{server.id[:8]}",
            request_id=derive_request_id("nightly", site, server.id, day),
            properties={SCHEDULE_KEY: NIGHTLY},
            return_state=True,
        )
        if state.is_completed():
            result = state.result()
            snapshots.append({"server": server.name, "image_id": result["image_id"]})
        else:
            error = state.result(raise_on_failure=False)
            logger.error("Snapshot of %s failed: %s", server.name, error)
            snapshots.append({"server": server.name, "error": str(error)})
    retention = _apply_retention(
        site, NIGHTLY, keep_last=keep_last, max_age_days=max_age_days, dry_run=False
    )
    report(1.0, f"{len(snapshots)} VM(s) handled")
    failed = [item for item in snapshots if "error" in item]
    if failed:
        raise OperationFailedError(
            f"{len(failed)} of {len(snapshots)} nightly snapshot(s) failed: "
            + "; ".join(f"{item['server']}: {item['error']}" for item in failed)
        )
    return {"snapshots": snapshots, "retention": retention}


@flow(name="cleanup-snapshots", flow_run_name="cleanup-{site}", persist_result=False)
def cleanup_snapshots(
    site: str,
    schedule: str = NIGHTLY,
    keep_last: int = 1,
    max_age_days: float | None = 30,
    dry_run: bool = False,
) -> dict[str, object]:
    """Delete old snapshots a schedule made (retention without taking new snapshots).

    Args:
        site: The ``clouds.yaml`` entry of the site.
        schedule: The ``denbi_schedule`` property value to clean up after.
        keep_last: Snapshots to keep per VM in any case (at least 1).
        max_age_days: Delete scheduled snapshots older than this (never a VM's newest).
        dry_run: Only report what would be deleted.
    """
    report(0.0, f"Looking for {schedule} snapshots on {site}")
    result = _apply_retention(
        site, schedule, keep_last=keep_last, max_age_days=max_age_days, dry_run=dry_run
    )
    report(1.0, "Cleanup done")
    return result
