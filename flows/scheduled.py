"""Flows for schedules: nightly snapshots of marked VMs, with retention, and a cleanup.

``prefect.yaml`` deploys both with cron schedules; ``denbi-jupyter serve-schedules`` serves
them from one process. Both delete only snapshots a schedule provably made: each nightly
snapshot carries the property ``denbi_schedule=nightly_snapshots`` *and* the schedule's
ownership mark, a tag naming the snapshot's own image id, which no copy can inherit. Snapshots
made by hand (even of a VM booted from a nightly snapshot, which inherit the property) and
old scheduled snapshots without the mark are never touched. The rules are
:mod:`denbi_jupyter.cloud.rules.retention`.

A deletion the cloud did not do (its item ``failed`` in the report) fails the run at the end,
with each snapshot's cause in the message, as a policy run does: a scheduled cleanup that ends
"Completed" while snapshots it should have deleted stay is a failure nobody sees.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from denbi_jupyter.cloud.results import (
    DeleteOutcome,
    NightlyItem,
    NightlyReport,
    RetentionReport,
)
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    check_retention,
    marked_servers,
    plan_retention,
    split_by_mark,
)
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.errors import OperationFailedError
from flows import _tasks as tasks
from flows._ids import derive_request_id
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


def _apply_retention(
    site: str, schedule: str, *, keep_last: int, max_age_days: float | None, dry_run: bool
) -> RetentionReport:
    logger = run_logger()
    client = tasks.open_site(site)
    candidates = tasks.find_images_by_property(client, SCHEDULE_KEY, schedule)
    made, unproven = split_by_mark(candidates, schedule)
    doomed = plan_retention(
        made,
        keep_last=keep_last,
        max_age_days=max_age_days,
        now=dt.datetime.now(dt.UTC),
        schedule=schedule,
    )
    logger.info(
        "%d snapshot(s) of schedule %s found, %d to delete%s",
        len(made),
        schedule,
        len(doomed),
        " (dry run)" if dry_run else "",
    )
    if unproven:
        logger.warning(
            "%d snapshot(s) carry %s=%s without the schedule's mark (inherited from their "
            "source image, or older than the mark): kept; delete them by hand if unwanted: %s",
            len(unproven),
            SCHEDULE_KEY,
            schedule,
            ", ".join(image.id for image in unproven),
        )
    ids = tuple(image.id for image in doomed)
    outcome = None
    if ids and not dry_run:
        outcome = delete_snapshots(site=site, image_ids=list(ids))
    return RetentionReport(
        found=len(made),
        to_delete=ids,
        dry_run=dry_run,
        deleted=outcome,
        unproven=tuple(image.id for image in unproven),
    )


def _deletion_failures(report: RetentionReport) -> str:
    """What the run's failed deletions say, or "" when every deletion was done."""
    items = report.deleted.items if report.deleted is not None else ()
    failed = [item for item in items if item.outcome is DeleteOutcome.FAILED]
    if not failed:
        return ""
    return f"{len(failed)} of {len(items)} snapshot(s) could not be deleted: " + "; ".join(
        f"{item.id}: {item.reason}" for item in failed
    )


def _snapshot(site: str, server: Server, day: str) -> NightlyItem:
    state = create_snapshot(
        site=site,
        server=server.id,
        name=f"{server.name}-nightly-{day}-{server.id[:8]}",
        request_id=derive_request_id("nightly", site, server.id, day),
        properties={SCHEDULE_KEY: NIGHTLY},
        return_state=True,
    )
    if state.is_completed():
        return NightlyItem(server=server.name, image_id=state.result().image_id)
    error = state.result(raise_on_failure=False)
    run_logger().error("Snapshot of %s failed: %s", server.name, error)
    return NightlyItem(server=server.name, error=str(error))


@flow(name="nightly-snapshots", flow_run_name="nightly-{site}", persist_result=False)
def nightly_snapshots(
    site: str,
    metadata_key: str = "denbi_nightly",
    keep_last: int = 7,
    max_age_days: float | None = None,
) -> NightlyReport:
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
        One item per VM (the image id or the error) and the retention report.
    """
    logger = run_logger()
    check_retention(keep_last=keep_last, max_age_days=max_age_days)
    client = tasks.open_site(site)
    chosen = marked_servers(tasks.list_servers(client), metadata_key)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    logger.info("%d VM(s) carry %r", len(chosen), metadata_key)
    snapshots: list[NightlyItem] = []
    for index, server in enumerate(chosen):
        report(index / max(1, len(chosen)), f"Snapshot of {server.name}")
        snapshots.append(_snapshot(site, server, day))
    retention = _apply_retention(
        site, NIGHTLY, keep_last=keep_last, max_age_days=max_age_days, dry_run=False
    )
    report(1.0, f"{len(snapshots)} VM(s) handled")
    failed = [item for item in snapshots if item.error is not None]
    problems = [_deletion_failures(retention)] if _deletion_failures(retention) else []
    if failed:
        problems.insert(
            0,
            f"{len(failed)} of {len(snapshots)} nightly snapshot(s) failed: "
            + "; ".join(f"{item.server}: {item.error}" for item in failed),
        )
    if problems:
        raise OperationFailedError(". ".join(problems))
    return NightlyReport(snapshots=tuple(snapshots), retention=retention)


@flow(name="cleanup-snapshots", flow_run_name="cleanup-{site}", persist_result=False)
def cleanup_snapshots(
    site: str,
    schedule: str = NIGHTLY,
    keep_last: int = 1,
    max_age_days: float | None = 30,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete old snapshots a schedule made (retention without taking new snapshots).

    Only snapshots carrying the schedule's ownership mark are candidates (see the module
    docstring); the report lists the unmarked ones it kept.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        schedule: The ``denbi_schedule`` property value to clean up after.
        keep_last: Snapshots to keep per VM in any case (at least 1).
        max_age_days: Delete scheduled snapshots older than this (never a VM's newest).
        dry_run: Only report what would be deleted.

    Raises:
        OperationFailedError: A deletion failed (the message names each and its cause).
    """
    report(0.0, f"Looking for {schedule} snapshots on {site}")
    result = _apply_retention(
        site, schedule, keep_last=keep_last, max_age_days=max_age_days, dry_run=dry_run
    )
    report(1.0, "Cleanup done")
    problem = _deletion_failures(result)
    if problem:
        raise OperationFailedError(f"{problem}. Run the cleanup again later.")
    return result
