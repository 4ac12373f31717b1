"""The policy flow: snapshot the VMs whose snapshot policy is due, then apply each retention.

A VM opts in with Nova metadata ``denbi_snapshot_policy`` (or the old ``denbi_nightly``
marker); :mod:`denbi_jupyter.cloud.rules.policy` reads the value and
:func:`~denbi_jupyter.cloud.rules.policy_runs.plan_policy_run` decides, from the snapshots
earlier runs made, which VMs are due for which slot. A deployment runs this flow often (every
15 minutes in ``prefect.yaml``); each run snapshots only the due VMs, so re-running a slot
makes no second snapshot. Then each VM's retention (its own policy's keep-last and age, over
the snapshots its schedule's mark proves its own: never hand-made or protected ones) deletes
exactly what :func:`~denbi_jupyter.cloud.rules.retention.explain_retention` decides, which is
what ``denbi-jupyter policy preview`` shows beforehand.

One VM's failure does not stop the others. Every run leaves a Markdown artifact (a table per
VM) and returns a :class:`~denbi_jupyter.cloud.results.PolicyRunReport`; a run with a failure
then ends failed, with the causes in its message, so Prefect automations can act on it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from denbi_jupyter.cloud.policy_markdown import policy_report_markdown
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import PolicyDeletion, PolicyItem, PolicyRunReport
from denbi_jupyter.cloud.rules.copy import ImageUsage
from denbi_jupyter.cloud.rules.policy_runs import (
    POLICY_SCHEDULE,
    SLOT_KEY,
    PolicyPlan,
    plan_policy_run,
    slot_text,
)
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    explain_retention,
    schedule_mark,
)
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.errors import DenbiError, OperationFailedError, UserInputError
from flows import _tasks as tasks
from flows._ids import derive_request_id
from flows._progress import current_flow_run_id, report, run_logger
from flows.delete import delete_snapshots
from flows.snapshot import create_snapshot

__all__ = ["SNAPSHOT_TIMEOUT_S", "run_snapshot_policies"]

#: How long a policy run waits for each snapshot by default (seconds), as a manual one.
SNAPSHOT_TIMEOUT_S = 1800.0


def _schedule_images(client: CloudClient) -> list[Image]:
    images: list[Image] = []
    for schedule in (POLICY_SCHEDULE, NIGHTLY):
        images += tasks.find_images_by_property(client, SCHEDULE_KEY, schedule)
    return images


def _snapshot_name(plan: PolicyPlan, slot: dt.datetime) -> str:
    assert plan.policy is not None
    local = slot.astimezone(plan.policy.zone).strftime("%Y%m%d-%H%M")
    return f"{plan.server.name[:200]}-policy-{local}-{plan.server.id[:8]}"


def _take_snapshot(site: str, plan: PolicyPlan, timeout_s: float) -> PolicyItem:
    server, slot = plan.server, plan.due
    assert slot is not None
    policy = plan.policy.describe() if plan.policy else ""
    state = create_snapshot(
        site=site,
        server=server.id,
        name=_snapshot_name(plan, slot),
        request_id=derive_request_id("policy", site, server.id, slot_text(slot)),
        timeout_s=timeout_s,
        properties={SCHEDULE_KEY: plan.schedule, SLOT_KEY: slot_text(slot)},
        return_state=True,
    )
    if state.is_completed():
        result = state.result()
        outcome = "reused" if result.reused else "made"
        return PolicyItem(
            server.name, server.id, policy, outcome, plan.reason, slot_text(slot), result.image_id
        )
    error = str(state.result(raise_on_failure=False))
    run_logger().error("Snapshot of %s failed: %s", server.name, error)
    return PolicyItem(
        server.name, server.id, policy, "failed", plan.reason, slot_text(slot), error=error
    )


def _first_pass(
    site: str,
    plans: Sequence[PolicyPlan],
    *,
    dry_run: bool,
    max_parallel: int,
    timeout_s: float = SNAPSHOT_TIMEOUT_S,
) -> list[PolicyItem]:
    """One item per plan, in order; the due VMs' snapshots ``max_parallel`` at a time."""
    items: list[PolicyItem | None] = []
    due: list[tuple[int, PolicyPlan]] = []
    for plan in plans:
        server = plan.server
        if plan.policy is None:
            items.append(
                PolicyItem(server.name, server.id, "", "failed", plan.reason, error=plan.error)
            )
        elif plan.due is None:
            items.append(
                PolicyItem(server.name, server.id, plan.policy.describe(), "not due", plan.reason)
            )
        elif dry_run:
            slot = slot_text(plan.due)
            items.append(
                PolicyItem(server.name, server.id, plan.policy.describe(), "dry run",
                           plan.reason, slot)
            )  # fmt: skip
        else:
            due.append((len(items), plan))
            items.append(None)
    report(0.1, f"{len(due)} of {len(plans)} VM(s) due")
    # Each snapshot is a subflow of this run: every thread runs in a copy of this context.
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="policy") as pool:
        futures = {
            pool.submit(
                contextvars.copy_context().run, _take_snapshot, site, plan, timeout_s
            ): index
            for index, plan in due
        }
        for done, future in enumerate(as_completed(futures), start=1):
            items[futures[future]] = future.result()
            report(0.1 + 0.6 * done / len(due), f"{done} of {len(due)} snapshot(s) done")
    return [item for item in items if item is not None]


def _retention(
    plans: Sequence[PolicyPlan], images: Sequence[Image], now: dt.datetime
) -> dict[str, tuple[list[PolicyDeletion], int]]:
    """Per server id: what its policy's retention deletes, and how many snapshots it keeps."""
    planned: dict[str, tuple[list[PolicyDeletion], int]] = {}
    for plan in plans:
        if plan.policy is None:
            continue
        own = [i for i in images if i.properties.get(SOURCE_SERVER_ID) == plan.server.id]
        decisions = explain_retention(
            own,
            keep_last=plan.policy.keep_last,
            max_age_days=plan.policy.max_age_days,
            now=now,
            schedule=plan.schedule,
        )
        doomed = [PolicyDeletion(d.image.id, d.image.name, d.reason) for d in decisions if d.delete]
        kept = sum(1 for d in decisions if not d.delete and d.reason != _NOT_OURS)
        planned[plan.server.id] = (doomed, kept)
    return planned


_NOT_OURS = "not made by this schedule (by hand, or unmarked)"


def _would_make(plan: PolicyPlan, now: dt.datetime) -> Image:
    """A stand-in for the snapshot a dry run does not make (active, marked, made now)."""
    image_id = f"new-snapshot-of-{plan.server.id}"
    return Image(
        id=image_id, name=_snapshot_name(plan, plan.due or now), status="active",
        visibility="private", owner=None, protected=False, size=None, min_disk=0, min_ram=0,
        created_at=now, updated_at=now, tags=(schedule_mark(plan.schedule, image_id),),
        properties={SCHEDULE_KEY: plan.schedule, SOURCE_SERVER_ID: plan.server.id},
    )  # fmt: skip


def _delete(site: str, doomed: Sequence[PolicyDeletion]) -> dict[str, str]:
    if not doomed:
        return {}
    outcome = delete_snapshots(site=site, image_ids=[d.image_id for d in doomed])
    return {item.id: item.text for item in outcome.items}


@flow(name="snapshot-policies", flow_run_name="policies-{site}", persist_result=False)
def run_snapshot_policies(
    site: str,
    catch_up_hours: float = 6.0,
    dry_run: bool = False,
    at: dt.datetime | None = None,
    max_parallel: int = 4,
    snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
) -> PolicyRunReport:
    """Snapshot every VM whose policy is due, then apply every opted-in VM's retention.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        catch_up_hours: How late a slot's snapshot may still be made (a worker that was down).
        dry_run: Only report what would be snapshotted and deleted.
        at: The time to run as (default: now; tests and replays).
        max_parallel: Snapshots taken at once (1..16; Nova snapshots one VM at a time anyway).
        snapshot_timeout_s: How long to wait for each snapshot (default: as long as for a
            manual one); one still not active then fails its VM, so a stuck upload cannot
            hold the run for good.

    Returns:
        One item per opted-in VM; the run fails at the end when any VM failed.
    """
    if not 1 <= max_parallel <= 16:
        raise UserInputError(f"max_parallel must be between 1 and 16, not {max_parallel}.")
    if catch_up_hours <= 0:
        raise UserInputError(f"catch_up_hours must be more than 0, not {catch_up_hours}.")
    if snapshot_timeout_s <= 0:
        raise UserInputError(f"snapshot_timeout_s must be more than 0, not {snapshot_timeout_s}.")
    now = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    logger = run_logger()
    report(0.0, f"Reading the VMs and policy snapshots of {site}")
    client = tasks.open_site(site)
    servers = tasks.list_servers(client)
    plans = plan_policy_run(
        servers, _schedule_images(client), now=now, catch_up=dt.timedelta(hours=catch_up_hours)
    )
    logger.info("%d VM(s) with a policy, %d due", len(plans), sum(p.due is not None for p in plans))
    items = _first_pass(
        site, plans, dry_run=dry_run, max_parallel=max_parallel, timeout_s=snapshot_timeout_s
    )
    report(0.75, "Applying retention")
    images = _schedule_images(client)
    if dry_run:  # count the snapshots a real run would have made, as it would
        images += [_would_make(plan, now) for plan in plans if plan.due is not None]
    planned = _retention(plans, images, now)
    outcomes: dict[str, str] = {}
    if not dry_run:
        outcomes = _delete(site, [d for doomed, _ in planned.values() for d in doomed])
    final = tuple(_with_retention(item, planned, outcomes) for item in items)
    quota, quota_error = _quota_after(client)
    result = PolicyRunReport(
        site=site,
        at=now.strftime("%Y-%m-%d %H:%M"),
        items=final,
        dry_run=dry_run,
        flow_run_id=current_flow_run_id(),
        quota=quota,
        quota_error=quota_error,
    )
    create_markdown_artifact(
        key=_artifact_key(site),
        markdown=policy_report_markdown(result),
        description=f"Snapshot policies on {site}",
    )
    report(1.0, f"{len(final)} VM(s) handled")
    if result.failures:
        raise OperationFailedError(
            f"{len(result.failures)} of {len(final)} VM(s) failed: "
            + "; ".join(f"{item.server}: {item.error or 'a deletion failed'}"
                        for item in result.failures)
        )  # fmt: skip
    return result


def _quota_after(client: CloudClient) -> tuple[ImageUsage | None, str]:
    """The image quota left after the run; a failed read is reported, never fails the run."""
    try:
        return tasks.image_usage(client), ""
    except DenbiError as exc:
        run_logger().warning("Could not read the image quota: %s", exc)
        return None, str(exc)


def _with_retention(
    item: PolicyItem,
    planned: dict[str, tuple[list[PolicyDeletion], int]],
    outcomes: dict[str, str],
) -> PolicyItem:
    doomed, kept = planned.get(item.server_id, ([], 0))
    deletions = tuple(replace(d, outcome=outcomes.get(d.image_id, "")) for d in doomed)
    return replace(item, deletions=deletions, kept=kept)


def _artifact_key(site: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9-]+", "-", site.lower()).strip("-") or "site"
    return f"snapshot-policies-{slug}"
