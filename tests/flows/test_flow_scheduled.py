"""Scheduled flows: nightly snapshots of marked VMs, retention and cleanup."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from denbi_jupyter.cloud.provenance import INSTANCE_UUID, SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.retention import (
    SCHEDULE_KEY,
    made_by_schedule,
    schedule_mark,
    split_by_mark,
)
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.errors import UserInputError
from flows.scheduled import (
    NIGHTLY,
    cleanup_snapshots,
    marked_servers,
    nightly_snapshots,
    plan_retention,
)
from tests.flows._support import scheduled_snapshots
from tests.support.fake_cloud import FakeCloud

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


def _images(
    cloud: FakeCloud,
    server: str,
    ages_days: list[float],
    status: str = "active",
    now: dt.datetime = NOW,
) -> list[Image]:
    """Scheduled snapshots of ``server`` made ``ages_days`` before ``now``."""
    return scheduled_snapshots(
        cloud, server, ages_days, schedule=NIGHTLY, now=now, prefix=server, status=status
    )


def test_retention_keeps_the_newest_per_vm_and_drops_failed_ones() -> None:
    cloud = FakeCloud()
    a = _images(cloud, "vm-a", [1, 2, 3, 4])
    b = _images(cloud, "vm-b", [1, 9])
    killed = _images(cloud, "vm-a", [0.5], status="killed")
    saving = _images(cloud, "vm-a", [0.1], status="saving")
    doomed = plan_retention([*a, *b, *killed, *saving], keep_last=2, max_age_days=None, now=NOW)
    assert {i.id for i in doomed} == {a[2].id, a[3].id, killed[0].id}


def test_retention_ignores_snapshots_that_inherited_a_schedule_from_their_source() -> None:
    cloud = FakeCloud()
    nightly = _images(cloud, "vm-a", [1, 2])
    # Hand-made snapshots of vm-b, booted from vm-a's nightly: Nova copied the denbi_* keys of
    # the source image and the snapshot flow rewrote the provenance to vm-b; the source's mark
    # tag (copied too) names the source image, not these.
    by_hand = [
        cloud.add_snapshot(
            f"vm-b-by-hand-{i}",
            properties={SCHEDULE_KEY: NIGHTLY, SOURCE_SERVER_ID: "vm-b", INSTANCE_UUID: "vm-b"},
        )
        for i in range(2)
    ]
    copies = [
        replace(
            cloud.images[s.id],
            created_at=NOW - dt.timedelta(days=i),
            tags=(schedule_mark(NIGHTLY, nightly[0].id),),
        )
        for i, s in enumerate(by_hand)
    ]
    doomed = plan_retention([*nightly, *copies], keep_last=1, max_age_days=None, now=NOW)
    assert {i.id for i in doomed} == {nightly[1].id}
    proven, unproven = split_by_mark([*nightly, *copies], NIGHTLY)
    assert proven == nightly and unproven == copies


def test_scheduled_snapshots_without_the_mark_are_never_deleted() -> None:
    cloud = FakeCloud()
    old = cloud.add_snapshot("old", properties={SCHEDULE_KEY: NIGHTLY, SOURCE_SERVER_ID: "vm"})
    image = replace(cloud.images[old.id], created_at=NOW - dt.timedelta(days=400))
    newer = _images(cloud, "vm", [1])
    assert plan_retention([image, *newer], keep_last=1, max_age_days=30, now=NOW) == []
    other = replace(newer[0], tags=(schedule_mark("weekly", newer[0].id),))
    assert not made_by_schedule(other, NIGHTLY)


def test_retention_by_age_never_deletes_the_newest_snapshot() -> None:
    cloud = FakeCloud()
    old = _images(cloud, "vm-a", [40, 50, 60])
    doomed = plan_retention(old, keep_last=7, max_age_days=30, now=NOW)
    assert {i.id for i in doomed} == {old[1].id, old[2].id}


@pytest.mark.parametrize(("keep", "age"), [(0, None), (1, 0.0), (1, -3.0)])
def test_retention_refuses_settings_that_could_delete_everything(
    keep: int, age: float | None
) -> None:
    with pytest.raises(UserInputError):
        plan_retention([], keep_last=keep, max_age_days=age, now=NOW)


def test_only_vms_with_the_key_switched_on_are_marked() -> None:
    cloud = FakeCloud()
    on = cloud.add_server("on", metadata={"denbi_nightly": "yes"})
    cloud.add_server("off", metadata={"denbi_nightly": "false"})
    cloud.add_server("none")
    assert marked_servers(cloud.list_servers(), "denbi_nightly") == [on]


@pytest.mark.usefixtures("prefect_harness")
def test_nightly_snapshots_marked_vms_once_per_day_and_applies_retention(
    cloud: FakeCloud,
) -> None:
    vm = cloud.add_server("web", status="SHUTOFF", metadata={"denbi_nightly": "1"})
    cloud.add_server("scratch", status="SHUTOFF")
    long_ago = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # before anything FakeCloud makes
    old = _images(cloud, vm.id, [3, 4], now=long_ago)
    by_hand = cloud.add_snapshot("by-hand", properties={SOURCE_SERVER_ID: vm.id})
    result = nightly_snapshots(site="fake", keep_last=2)
    made = result.snapshots
    assert len(made) == 1 and made[0].server == "web" and made[0].image_id is not None
    image = cloud.images[made[0].image_id]
    assert image.properties[SCHEDULE_KEY] == NIGHTLY and image.name.startswith("web-nightly-")
    assert schedule_mark(NIGHTLY, image.id) in image.tags
    assert old[0].id in cloud.images and old[1].id not in cloud.images
    assert by_hand.id in cloud.images
    again = nightly_snapshots(site="fake", keep_last=2)
    assert again.snapshots == made
    assert sum(method == "create_snapshot" for method, _ in cloud.calls) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_cleanup_dry_run_lists_without_deleting(cloud: FakeCloud) -> None:
    old = _images(cloud, "vm-a", [1, 45, 60])
    result = cleanup_snapshots(site="fake", max_age_days=30, dry_run=True)
    assert result.to_delete == (old[2].id, old[1].id) and result.deleted is None
    assert all(image.id in cloud.images for image in old)
    done = cleanup_snapshots(site="fake", max_age_days=30)
    assert done.deleted is not None
    assert [item.text for item in done.deleted.items] == ["deleted", "deleted"]


def test_prefect_yaml_deploys_the_scheduled_flows_with_matching_parameters() -> None:
    import inspect

    from denbi_jupyter.jobs import DEPLOYMENTS, FlowRef
    from flows.boot import boot_server
    from flows.copy import copy_image
    from flows.delete import delete_snapshots
    from flows.policy import run_snapshot_policies
    from flows.servers import delete_server, reboot_server, start_server, stop_server
    from flows.snapshot import create_snapshot

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    scheduled = {
        "flows/policy.py:run_snapshot_policies": run_snapshot_policies,
        "flows/scheduled.py:cleanup_snapshots": cleanup_snapshots,
    }
    panels = {
        "flows/boot.py:boot_server": boot_server,
        "flows/snapshot.py:create_snapshot": create_snapshot,
        "flows/delete.py:delete_snapshots": delete_snapshots,
        "flows/copy.py:copy_image": copy_image,
        "flows/servers.py:stop_server": stop_server,
        "flows/servers.py:start_server": start_server,
        "flows/servers.py:reboot_server": reboot_server,
        "flows/servers.py:delete_server": delete_server,
    }
    seen = set()
    for deployment in config["deployments"]:
        name = deployment["entrypoint"]
        flow = {**scheduled, **panels}[name]
        # "<flow>/<deployment>" = "create-snapshot/create-snapshot"
        assert deployment["name"] == getattr(flow, "name", None)
        assert deployment["work_pool"]["name"] == "denbi-process"
        signature = inspect.signature(flow.fn)  # type: ignore[attr-defined]
        assert set(deployment.get("parameters", {})) <= set(signature.parameters)
        if name in scheduled:
            assert all(schedule["cron"] for schedule in deployment["schedules"])
        else:  # started by a kernel's JobRunner, never on a schedule
            assert not deployment.get("schedules") and not deployment.get("parameters")
        seen.add(name)
    assert seen == set(scheduled) | set(panels)
    deployed = {d["name"]: d["entrypoint"] for d in config["deployments"]}
    for ref, full_name in DEPLOYMENTS.items():  # the jobs layer starts what prefect.yaml deploys
        flow_name, _, deployment_name = full_name.partition("/")
        module, _, function = ref.value.partition(":")
        assert deployed[deployment_name] == f"flows/{module}.py:{function}"
        assert ref.resolve().name == flow_name  # type: ignore[attr-defined]
    assert set(DEPLOYMENTS) == set(FlowRef) - {FlowRef.NIGHTLY_SNAPSHOTS}
