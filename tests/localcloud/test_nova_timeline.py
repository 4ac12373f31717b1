"""The asynchronous state sequences of Nova (and the Glance side of snapshots), observed by polling.

These tests watch short-lived states (BUILD, ``deleting``, ``powering-off``, each snapshot
step), so they run on a cloud of their own with slower timings than the session cloud: every
state lasts a few hundred milliseconds, long enough to be seen on a busy machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.localcloud.seed import PRIMARY_PROJECT
from denbi_jupyter.localcloud.server import load_credentials

from .conftest import password_auth
from .polling import wait_for
from .test_nova_servers import ADMIN_ONLY, NovaClient, assert_golden_conflict, nova_client

Golden = Callable[[str], dict[str, Any]]
SLOW = Timings(boot=2.0, snapshot=2.5, upload=0.2, delete=0.8, power=0.8, reboot=0.8)


@pytest.fixture(scope="module")
def slow_cloud() -> Iterator[LocalCloud]:
    cloud = LocalCloud(LocalCloudConfig(sites=DEFAULT_SITES[:1], timings=SLOW)).start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def slow_http(slow_cloud: LocalCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=slow_cloud.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def slow_token(slow_cloud: LocalCloud, slow_http: httpx.Client) -> str:
    credentials = load_credentials(slow_cloud.state_dir)
    body = password_auth(credentials["username"], credentials["password"], PRIMARY_PROJECT)
    response = slow_http.post("/bielefeld/identity/v3/auth/tokens", json=body)
    assert response.status_code == 201
    return response.headers["X-Subject-Token"]


@pytest.fixture
def nova(slow_http: httpx.Client, slow_token: str) -> Iterator[NovaClient]:
    yield from nova_client(slow_http, slow_token)


def observe(
    probe: Callable[[], tuple[Any, ...]], *, until: Callable[[tuple[Any, ...]], bool]
) -> list[tuple[Any, ...]]:
    """Poll ``probe`` until ``until`` holds; return the distinct consecutive observations."""
    seen: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        state = probe()
        if not seen or seen[-1] != state:
            seen.append(state)
        if until(state):
            return seen
    pytest.fail(f"no end state after {seen}")


def test_boot_runs_through_nova_build_task_states(nova: NovaClient, golden: Golden) -> None:
    server_id = nova.boot("slow-boot")

    def probe() -> tuple[Any, ...]:
        server = nova.server(server_id)
        return (server["status"], server["OS-EXT-STS:task_state"], bool(server["addresses"]))

    seen = observe(probe, until=lambda state: state[0] == "ACTIVE")
    expected = [
        (step["status"], step["task_state"], step["status"] == "ACTIVE")
        for step in golden("38")["observed_build_sequence"]
    ]
    assert seen == expected


def test_build_view_has_the_golden_fields_and_refuses_snapshots_and_metadata(
    nova: NovaClient, golden: Golden
) -> None:
    server_id = nova.boot("slow-build-view")
    building = nova.server(server_id)
    expected = {k for k in golden("37")["response"]["body"]["server"] if not ADMIN_ONLY.match(k)}
    assert set(building) == expected
    assert (building["addresses"], building["hostId"]) == ({}, "")
    assert building["OS-EXT-AZ:availability_zone"] == ""
    snapshot = nova.action(server_id, {"createImage": {"name": "too-early"}})
    assert snapshot.status_code == 409
    assert snapshot.json()["conflictingRequest"]["message"] == (
        f"Cannot 'createImage' instance {server_id} while it is in vm_state building"
    )
    metadata = nova.post(f"/servers/{server_id}/metadata", {"metadata": {"b": "2"}})
    assert metadata.status_code == 409
    assert metadata.json()["conflictingRequest"]["message"] == (
        f"Cannot 'update metadata' instance {server_id} while it is in vm_state building"
    )


def test_snapshot_follows_the_golden_timeline(nova: NovaClient, golden: Golden) -> None:
    server_id = nova.boot("slow-snap")
    nova.wait_idle(server_id, "ACTIVE", timeout=15)
    response = nova.action(server_id, {"createImage": {"name": "slow-snap-image"}})
    image_id = response.json()["image_id"]
    conflict = nova.action(server_id, {"createImage": {"name": "slow-snap-dup"}})
    assert_golden_conflict(conflict, golden, "41", server_id)

    def probe() -> tuple[Any, ...]:
        image = nova.image(image_id).json()  # first: what it shows still held at the server read
        server = nova.server(server_id)
        return (server["status"], server["OS-EXT-STS:task_state"], image["status"])

    try:
        seen = observe(probe, until=lambda state: state[1] is None and state[2] == "active")
    finally:
        nova.http.delete(f"{nova.images}/{image_id}", headers=nova.headers(None))

    def distinct(values: list[Any]) -> list[Any]:
        return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]

    assert {state[0] for state in seen} == {"ACTIVE"}
    tasks = ["image_snapshot_pending", "image_snapshot", "image_uploading", None]
    assert distinct([state[1] for state in seen]) == tasks
    assert distinct([state[2] for state in seen]) == ["queued", "saving", "active"]
    assert ("ACTIVE", "image_uploading", "active") in seen, "Glance is active before Nova is idle"
    timeline = [
        step.get("task_state", "-") for step in golden("44")["timeline"] if "status" in step
    ]
    assert timeline == ["image_snapshot_pending", "image_snapshot", "image_uploading", None]


def test_delete_shows_deleting_before_the_server_is_gone(nova: NovaClient) -> None:
    server_id = nova.boot("slow-delete", networks="none")
    nova.wait_idle(server_id, "ACTIVE", timeout=15)
    assert nova.delete(f"/servers/{server_id}").status_code == 204

    def probe() -> tuple[Any, ...]:
        response = nova.get(f"/servers/{server_id}")
        if response.status_code == 404:
            return (404,)
        server = response.json()["server"]
        return (200, server["status"], server["OS-EXT-STS:task_state"])

    assert observe(probe, until=lambda state: state == (404,)) == [
        (200, "ACTIVE", "deleting"),
        (404,),
    ]


def test_stop_goes_through_powering_off_and_refuses_a_snapshot_meanwhile(
    nova: NovaClient, golden: Golden
) -> None:
    server_id = nova.boot("slow-stop")
    nova.wait_idle(server_id, "ACTIVE", timeout=15)
    assert nova.action(server_id, {"os-stop": None}).status_code == 202
    blocked = nova.action(server_id, {"createImage": {"name": "slow-snap-bad"}})
    assert_golden_conflict(blocked, golden, "48", server_id)

    def probe() -> tuple[Any, ...]:
        server = nova.server(server_id)
        return (server["status"], server["OS-EXT-STS:task_state"])

    seen = observe(probe, until=lambda state: state == ("SHUTOFF", None))
    stop_sequence = golden("49")["observed_stop_sequence"]
    assert seen == [(step["status"], step["task_state"]) for step in stop_sequence]


@pytest.mark.parametrize(("kind", "status"), [("SOFT", "REBOOT"), ("HARD", "HARD_REBOOT")])
def test_reboot_shows_its_status_then_active(nova: NovaClient, kind: str, status: str) -> None:
    server_id = nova.boot(f"slow-reboot-{kind.lower()}")
    nova.wait_idle(server_id, "ACTIVE", timeout=15)
    assert nova.action(server_id, {"reboot": {"type": kind}}).status_code == 202

    def probe() -> tuple[Any, ...]:
        return (nova.server(server_id)["status"],)

    assert observe(probe, until=lambda state: state == ("ACTIVE",)) == [(status,), ("ACTIVE",)]


def test_deleting_a_server_during_upload_removes_its_snapshot(nova: NovaClient) -> None:
    server_id = nova.boot("slow-doomed")
    nova.wait_idle(server_id, "ACTIVE", timeout=15)
    image_id = nova.action(server_id, {"createImage": {"name": "doomed"}}).json()["image_id"]
    wait_for(
        lambda: nova.server(server_id)["OS-EXT-STS:task_state"] == "image_uploading",
        what="the upload to start",
    )
    assert nova.image(image_id).json()["status"] == "saving"
    assert nova.delete(f"/servers/{server_id}").status_code == 204
    assert nova.image(image_id).status_code == 404
    nova.wait_gone(server_id)
