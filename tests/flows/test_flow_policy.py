"""The policy flow: due VMs snapshotted once per slot, retention as previewed, a report."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from denbi_jupyter.cloud.policy_markdown import policy_report_markdown
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import PolicyItem, PolicyRunReport
from denbi_jupyter.cloud.rules.policy import LEGACY_KEY, POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE, SLOT_KEY
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    explain_retention,
    schedule_mark,
)
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.errors import OperationFailedError
from flows.policy import run_snapshot_policies
from tests.flows._support import scheduled_snapshots
from tests.support.fake_cloud import FakeCloud

pytestmark = pytest.mark.usefixtures("prefect_harness")

#: FakeCloud stamps new objects from 2026-01-01 00:00 UTC on, a minute apart.
AT = dt.datetime(2026, 1, 1, 2, 10, tzinfo=dt.UTC)
DAILY = "daily 02:00; tz=UTC; keep=2"


def _old_snapshots(
    cloud: FakeCloud, server_id: str, ages_days: list[int], schedule: str = POLICY_SCHEDULE
) -> list[Image]:
    return scheduled_snapshots(
        cloud, server_id, ages_days, schedule=schedule, now=AT, prefix=f"old-{server_id[:4]}"
    )


def _creates(cloud: FakeCloud) -> int:
    return sum(method == "create_snapshot" for method, _ in cloud.calls)


def _artifact_markdown(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    newest = max(found, key=lambda artifact: artifact.created or dt.datetime.min)
    return str(newest.data)


def test_due_vms_get_one_snapshot_per_slot_and_retention_deletes_what_the_preview_said(
    cloud: FakeCloud,
) -> None:
    due = cloud.add_server("web", status="SHUTOFF", metadata={POLICY_KEY: DAILY})
    cloud.add_server(
        "db", status="SHUTOFF", metadata={POLICY_KEY: "weekly sat 02:00; tz=UTC; keep=3"}
    )  # 1 January 2026 is a Thursday: not due
    legacy = cloud.add_server("old", status="SHUTOFF", metadata={LEGACY_KEY: "yes"})
    cloud.add_server("scratch", status="SHUTOFF")
    history = _old_snapshots(cloud, due.id, [1, 2, 3])
    legacy_history = _old_snapshots(cloud, legacy.id, list(range(1, 9)), schedule=NIGHTLY)
    by_hand = cloud.add_snapshot("by-hand", properties={SOURCE_SERVER_ID: due.id})
    protected = _old_snapshots(cloud, due.id, [40])[0]
    cloud.images[protected.id] = replace(protected, protected=True)

    report = run_snapshot_policies(site="fake", at=AT)

    items = {item.server: item for item in report.items}
    assert sorted(items) == ["db", "old", "web"]
    assert items["web"].outcome == "made" and items["db"].outcome == "not due"
    assert items["db"].reason.startswith("not due: next run 2026-01-03 02:00")
    made = cloud.images[items["web"].image_id or ""]
    assert made.properties[SLOT_KEY] == "2026-01-01T02:00:00Z"
    assert made.properties[SCHEDULE_KEY] == POLICY_SCHEDULE
    assert schedule_mark(POLICY_SCHEDULE, made.id) in made.tags
    # keep=2: the new one and the 1-day-old one stay; the 2- and 3-day-old ones go.
    assert {d.image_id for d in items["web"].deletions} == {history[1].id, history[2].id}
    assert all(d.outcome == "deleted" for d in items["web"].deletions)
    assert {history[0].id, by_hand.id, protected.id} <= set(cloud.images)
    assert not {history[1].id, history[2].id} & set(cloud.images)
    # the legacy marker: "daily 02:00 Europe/Berlin" was 01:00 UTC, within the catch-up window
    assert items["old"].outcome == "made"
    assert len(items["old"].deletions) == 2  # 8 old + 1 new, keep 7
    assert {d.image_id for d in items["old"].deletions} == {i.id for i in legacy_history[-2:]}

    again = run_snapshot_policies(site="fake", at=AT + dt.timedelta(minutes=15))
    assert _creates(cloud) == 2
    assert [item.outcome for item in again.items] == ["not due", "not due", "not due"]
    again_web = next(item for item in again.items if item.server == "web")
    assert again_web.reason.startswith("already snapshotted for 2026-01-01 02:00")
    assert all(not item.deletions for item in again.items)


def test_the_preview_equals_what_the_run_deletes(cloud: FakeCloud) -> None:
    vm = cloud.add_server(
        "web", status="SHUTOFF", metadata={POLICY_KEY: "daily 05:00; tz=UTC; max_age_days=5"}
    )
    history = _old_snapshots(cloud, vm.id, [1, 4, 6, 9, 12])
    preview = explain_retention(
        list(cloud.images.values()), keep_last=None, max_age_days=5, now=AT,
        schedule=POLICY_SCHEDULE,
    )  # fmt: skip
    planned = {d.image.id for d in preview if d.delete}
    assert planned == {history[2].id, history[3].id, history[4].id}
    report = run_snapshot_policies(site="fake", at=AT)
    (item,) = report.items
    assert item.outcome == "not due"
    assert {d.image_id for d in item.deletions} == planned
    assert [d.reason for d in item.deletions] == ["older than 5 days"] * 3


def test_one_failing_vm_does_not_stop_the_others_and_the_run_fails_with_the_cause(
    cloud: FakeCloud,
) -> None:
    cloud.add_server("broken", status="ERROR", metadata={POLICY_KEY: DAILY})
    cloud.add_server("typo", status="SHUTOFF", metadata={POLICY_KEY: "daily 2am; keep=2"})
    good = cloud.add_server("good", status="SHUTOFF", metadata={POLICY_KEY: DAILY})
    with pytest.raises(OperationFailedError) as caught:
        run_snapshot_policies(site="fake", at=AT)
    message = str(caught.value)
    assert message.startswith("2 of 3 VM(s) failed: ")
    assert "broken: Snapshot refused: VM 'broken' is ERROR" in message
    assert "typo: Cannot read the time '2am'" in message
    made = [i for i in cloud.images.values() if i.properties.get(SOURCE_SERVER_ID) == good.id]
    assert len(made) == 1
    markdown = _artifact_markdown("snapshot-policies-fake")
    assert "❌ 2 VM(s) failed" in markdown
    assert "| good |" in markdown and "## Failures" in markdown


def test_a_dry_run_changes_nothing_and_reports_what_it_would_do(cloud: FakeCloud) -> None:
    vm = cloud.add_server("web", status="SHUTOFF", metadata={POLICY_KEY: DAILY})
    history = _old_snapshots(cloud, vm.id, [1, 2, 3])
    before = set(cloud.images)
    report = run_snapshot_policies(site="fake", at=AT, dry_run=True)
    assert set(cloud.images) == before and _creates(cloud) == 0
    (item,) = report.items
    assert item.outcome == "dry run" and item.slot == "2026-01-01T02:00:00Z"
    assert {d.image_id for d in item.deletions} == {history[1].id, history[2].id}
    assert "would delete" in _artifact_markdown("snapshot-policies-fake")


def test_the_report_markdown_escapes_names_that_could_forge_rows() -> None:
    item = PolicyItem(
        server="evil | forged | row\n| x", server_id="id", policy="daily", outcome="not due",
        reason="<script>alert(1)</script>",
    )  # fmt: skip
    markdown = policy_report_markdown(PolicyRunReport(site="s", at="now", items=(item,)))
    row = next(line for line in markdown.splitlines() if line.startswith("| evil"))
    assert row.count(" | ") == 4  # five cells, the name's pipes escaped
    assert "\\|" in row and "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_due_vms_are_snapshotted_in_parallel_as_subflows_of_the_run(cloud: FakeCloud) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    vms = [
        cloud.add_server(f"vm{n}", status="SHUTOFF", metadata={POLICY_KEY: DAILY}) for n in range(5)
    ]
    report = run_snapshot_policies(site="fake", at=AT, max_parallel=3)
    assert sorted(item.server for item in report.items) == [vm.name for vm in vms]
    assert {item.outcome for item in report.items} == {"made"}
    assert _creates(cloud) == 5
    assert report.flow_run_id is not None
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(
                    any_=[uuid.UUID(report.flow_run_id)]
                )
            )
        )
    names = sorted(run.name for run in children)
    assert sum(name.startswith("snapshot-vm") for name in names) == 5, names


def test_the_quota_line_says_what_is_left_unknown_or_unreadable() -> None:
    from denbi_jupyter.cloud.policy_markdown import quota_line
    from denbi_jupyter.cloud.rules.copy import ImageUsage

    usage = ImageUsage(count_limit=50, count_used=12, size_limit_mib=10240, size_used_mib=2048)
    assert quota_line(usage) == (
        "Image quota after the run: 38 of 50 images left, 8.0 of 10.0 GiB left."
    )
    assert quota_line(ImageUsage(count_limit=-1, count_used=3)) == (
        "Image quota after the run: no limit (unlimited, or this Glance reports none)."
    )
    assert "could not be read (503 | down)" not in quota_line(None, "503 | down")
    assert (
        quota_line(None, "503 down") == "Image quota after the run: could not be read (503 down)."
    )
