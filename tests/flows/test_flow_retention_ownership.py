"""Retention deletes only what a schedule provably made (local cloud, real HTTP, real flows).

The data-loss case: a VM booted from a scheduled snapshot inherits ``denbi_schedule`` in every
snapshot Nova makes of it, and the snapshot flow rewrites the provenance to the new VM, so
without an ownership mark the hand-made snapshots looked like the schedule's own and
``cleanup_snapshots`` with the deployment's parameters deleted one of them. Checked for the old
``denbi_nightly`` marker and for a policy, through the policy flow and the cleanup.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.policy import LEGACY_KEY, POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY, schedule_mark
from flows.boot import boot_server
from flows.policy import run_snapshot_policies
from flows.scheduled import cleanup_snapshots
from flows.snapshot import create_snapshot
from tests.flows.test_flow_localcloud import (  # noqa: F401  (the module's client fixture)
    FLAVOR,
    SITE,
    _delete_when_idle,
    _unique,
    client,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROOT = Path(__file__).resolve().parents[2]
UBUNTU = "Ubuntu-22.04 de.NBI (2026-05-01)"


def _deployment_parameters(name: str) -> dict[str, Any]:
    """The parameters ``prefect.yaml`` deploys ``name`` with, for this test's site."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployment = next(d for d in config["deployments"] if d["name"] == name)
    return {**deployment["parameters"], "site": SITE}


#: The run time the policy runs act at: 01:10 UTC today (the legacy marker's 02:00
#: Europe/Berlin slot and the policy's 01:00 UTC slot are both due then).
AT = dt.datetime.now(dt.UTC).replace(hour=1, minute=10, second=0, microsecond=0)


@pytest.mark.parametrize(
    ("opt_in", "schedule", "aggressive"),
    [
        pytest.param({LEGACY_KEY: "yes"}, NIGHTLY, {LEGACY_KEY: "yes"}, id="legacy-marker"),
        pytest.param(
            {POLICY_KEY: "daily 01:00; tz=UTC; keep=7"},
            POLICY_SCHEDULE,
            {POLICY_KEY: "daily 01:00; tz=UTC; keep=1; max_age_days=1"},
            id="policy",
        ),
    ],
)
def test_nothing_made_by_hand_is_deleted_after_booting_from_a_scheduled_snapshot(
    client: CloudClient,  # noqa: F811
    opt_in: dict[str, str],
    schedule: str,
    aggressive: dict[str, str],
) -> None:
    source = boot_server(site=SITE, image=UBUNTU, flavor=FLAVOR, key_name=None, name=_unique("n"))
    client.set_server_metadata(source.server_id, opt_in)
    first = run_snapshot_policies(site=SITE, at=AT)
    (ours,) = [item for item in first.items if item.server_id == source.server_id]
    scheduled = ours.image_id
    assert ours.outcome == "made" and scheduled is not None
    made = client.get_image(scheduled)
    assert made is not None and schedule_mark(schedule, scheduled) in made.tags

    copy = boot_server(site=SITE, image=scheduled, flavor=FLAVOR, key_name=None, name=_unique("c"))
    by_hand = [
        create_snapshot(site=SITE, server=copy.server_id, name=_unique("by-hand")).image_id
        for _ in range(2)
    ]
    for image_id in by_hand:  # the trap: the schedule's property came along from the source
        image = client.get_image(image_id)
        assert image is not None and image.properties[SCHEDULE_KEY] == schedule
        assert not any(tag.startswith("denbi-schedule:") for tag in image.tags)

    cleanup = cleanup_snapshots(**{**_deployment_parameters("cleanup-snapshots"),
                                   "schedule": schedule})  # fmt: skip
    client.set_server_metadata(source.server_id, aggressive)
    later = run_snapshot_policies(site=SITE, at=AT + dt.timedelta(days=1))
    deleted = {d.image_id for item in later.items for d in item.deletions}

    assert all(client.get_image(image_id) is not None for image_id in by_hand)
    assert not set(by_hand) & {*cleanup.to_delete, *deleted}
    assert set(by_hand) <= set(cleanup.unproven)
    (again,) = [item for item in later.items if item.server_id == source.server_id]
    assert again.outcome == "made" and again.image_id is not None
    assert client.get_image(again.image_id) is not None  # the VM's newest scheduled one stays
    for server_id in (source.server_id, copy.server_id):
        _delete_when_idle(client, server_id)
    for image_id in {scheduled, again.image_id, *by_hand}:  # by id: the name search may be stale
        if client.get_image(image_id) is not None:
            client.delete_image(image_id)
