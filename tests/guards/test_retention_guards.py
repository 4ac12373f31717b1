"""Retention never touches hand-made snapshots, however much they look like the schedule's.

A VM with a keep-1 policy gets its scheduled snapshot; beside it stand hand-made snapshots of
the same VM named exactly as the policy and the nightly schedule name theirs: one by Nova
(createImage, as Horizon makes it), records with the VM as source and no schedule property,
with the schedule's property but no mark, with a mark copied from the scheduled snapshot (it
names another image's id). The next day's policy run and both cleanups then delete exactly
the older scheduled snapshot; every hand-made one is still there (counted through a plain
openstacksdk connection) and the cleanups list the unmarked ones as kept.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY, schedule_mark
from flows.boot import boot_server
from flows.policy import run_snapshot_policies
from flows.scheduled import cleanup_snapshots
from tests.flows.harness import LocalEnv
from tests.guards._support import image_ids, unique, user_connection

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(240)]

SITE = "bielefeld"
#: 01:10 UTC today: the policy's 01:00 slot is due then.
AT = dt.datetime.now(dt.UTC).replace(hour=1, minute=10, second=0, microsecond=0)


def _await_idle(env: LocalEnv, server_id: str, timeout: float = 60.0) -> None:
    """Until no snapshot of the VM runs (polls Nova's task state: nothing to wait on)."""
    deadline, tick = time.monotonic() + timeout, threading.Event()
    while (server := env.client(SITE).get_server(server_id)) is not None and server.task_state:
        assert time.monotonic() < deadline, f"{server_id} stayed {server.task_state}"
        tick.wait(0.05)


@pytest.fixture
def vm(local_env: LocalEnv) -> Iterator[BootResult]:
    """A VM under a keep-1 daily policy; it and every image made of it go afterwards."""
    booted = boot_server(
        site=SITE, image="Debian-12 de.NBI (2026-05-01)", flavor="de.NBI tiny", key_name=None,
        name=unique("kept"),
    )  # fmt: skip
    local_env.client(SITE).set_server_metadata(
        booted.server_id, {POLICY_KEY: "daily 01:00; tz=UTC; keep=1"}
    )
    yield booted
    _await_idle(local_env, booted.server_id)
    with user_connection(local_env.clouds_yaml, SITE) as conn:
        conn.compute.delete_server(booted.server_id, ignore_missing=True)
        for image in conn.image.images(owner=conn.current_project_id):
            if image.name.startswith(booted.name):
                conn.image.delete_image(image.id, ignore_missing=True)


def _look_alikes(env: LocalEnv, vm: BootResult, scheduled: str) -> dict[str, str]:
    """Hand-made snapshots named like the schedules' (what each is → its id)."""
    day = AT.strftime("%Y%m%d")
    policy_name = f"{vm.name}-policy-{day}-0100-{vm.server_id[:8]}"
    nightly_name = f"{vm.name}-nightly-{AT:%Y-%m-%d}-{vm.server_id[:8]}"
    source = {SOURCE_SERVER_ID: vm.server_id, "image_type": "snapshot"}
    records = {
        "name only": (policy_name, {}, []),
        "property, no mark": (policy_name, {SCHEDULE_KEY: POLICY_SCHEDULE}, []),
        "copied mark": (
            policy_name,
            {SCHEDULE_KEY: POLICY_SCHEDULE},
            [schedule_mark(POLICY_SCHEDULE, scheduled)],
        ),
        "nightly look-alike": (nightly_name, {SCHEDULE_KEY: NIGHTLY}, []),
    }
    made: dict[str, str] = {}
    with user_connection(env.clouds_yaml, SITE) as conn:
        for what, (name, extra, tags) in records.items():
            image = conn.image.create_image(
                name=name, disk_format="qcow2", container_format="bare", tags=tags,
                allow_duplicates=True,
                **source, **extra,
            )  # fmt: skip
            made[what] = str(image.id)
    made["by Nova"] = env.client(SITE).create_snapshot(vm.server_id, name=policy_name, metadata={})
    _await_idle(env, vm.server_id)
    return made


def test_policy_run_and_cleanups_delete_only_the_schedules_own_snapshot(
    local_env: LocalEnv, vm: BootResult
) -> None:
    first = run_snapshot_policies(site=SITE, at=AT)
    (item,) = [i for i in first.items if i.server_id == vm.server_id]
    assert item.outcome == "made" and item.image_id is not None
    scheduled = item.image_id
    by_hand = _look_alikes(local_env, vm, scheduled)
    with user_connection(local_env.clouds_yaml, SITE) as conn:
        before = image_ids(conn)

    later = run_snapshot_policies(site=SITE, at=AT + dt.timedelta(days=1))
    policy_cleanup = cleanup_snapshots(site=SITE, schedule=POLICY_SCHEDULE, keep_last=1,
                                       max_age_days=None)  # fmt: skip
    nightly_cleanup = cleanup_snapshots(site=SITE, schedule=NIGHTLY, keep_last=1,
                                        max_age_days=None)  # fmt: skip

    (again,) = [i for i in later.items if i.server_id == vm.server_id]
    assert again.outcome == "made" and again.image_id is not None
    assert [d.image_id for d in again.deletions] == [scheduled]  # retention did run
    with user_connection(local_env.clouds_yaml, SITE) as conn:
        after = image_ids(conn)
    assert before - after == {scheduled}
    assert set(by_hand.values()) <= after, {w: i for w, i in by_hand.items() if i not in after}
    assert not set(by_hand.values()) & set(policy_cleanup.to_delete + nightly_cleanup.to_delete)
    marked_wrong = {by_hand["property, no mark"], by_hand["copied mark"]}
    assert marked_wrong <= set(policy_cleanup.unproven)
    assert by_hand["nightly look-alike"] in nightly_cleanup.unproven
