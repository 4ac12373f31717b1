"""Retention deletes only what a schedule provably made (local cloud, real HTTP, real flows).

The data-loss case: a VM booted from a nightly snapshot inherits ``denbi_schedule`` in every
snapshot Nova makes of it, and the snapshot flow rewrites the provenance to the new VM, so
without an ownership mark the hand-made snapshots looked like the schedule's own and
``cleanup_snapshots`` with the deployment's parameters deleted one of them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY, schedule_mark
from flows.boot import boot_server
from flows.scheduled import cleanup_snapshots, nightly_snapshots
from flows.snapshot import create_snapshot
from tests.flows.harness import LocalEnv
from tests.flows.test_flow_localcloud import (  # noqa: F401  (the module's client fixture)
    FLAVOR,
    SITE,
    _delete_when_idle,
    _sdk,
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


def test_nothing_made_by_hand_is_deleted_after_booting_from_a_scheduled_snapshot(
    client: CloudClient,  # noqa: F811
    site_clients: LocalEnv,
) -> None:
    key = f"denbi_nightly_{uuid.uuid4().hex[:8]}"  # only this test's VM opts in
    source = boot_server(site=SITE, image=UBUNTU, flavor=FLAVOR, key_name=None, name=_unique("n"))
    with _sdk(site_clients) as conn:
        conn.compute.set_server_metadata(source.server_id, **{key: "yes"})
    first = nightly_snapshots(site=SITE, metadata_key=key, keep_last=7)
    scheduled = first.snapshots[0].image_id
    assert scheduled is not None
    made = client.get_image(scheduled)
    assert made is not None and schedule_mark(NIGHTLY, scheduled) in made.tags

    copy = boot_server(site=SITE, image=scheduled, flavor=FLAVOR, key_name=None, name=_unique("c"))
    by_hand = [
        create_snapshot(site=SITE, server=copy.server_id, name=_unique("by-hand")).image_id
        for _ in range(2)
    ]
    for image_id in by_hand:  # the trap: the schedule's property came along from the source
        image = client.get_image(image_id)
        assert image is not None and image.properties[SCHEDULE_KEY] == NIGHTLY
        assert not any(tag.startswith("denbi-schedule:") for tag in image.tags)

    cleanup = cleanup_snapshots(**_deployment_parameters("cleanup-snapshots"))
    nightly = nightly_snapshots(**{**_deployment_parameters("nightly-snapshots"), "keep_last": 1,
                                   "metadata_key": key})  # fmt: skip

    assert all(client.get_image(image_id) is not None for image_id in by_hand)
    assert not set(by_hand) & {*cleanup.to_delete, *nightly.retention.to_delete}
    assert set(by_hand) <= set(cleanup.unproven)
    assert client.get_image(scheduled) is not None  # the VM's newest scheduled snapshot stays
    for server_id in (source.server_id, copy.server_id):
        _delete_when_idle(client, server_id)
    for image_id in (scheduled, *by_hand):  # by id: the module's name search may be stale
        client.delete_image(image_id)
