"""Server actions over real HTTP: createImage, os-stop, os-start, reboot, lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from denbi_jupyter.localcloud.image_data import snapshot_bytes

from .polling import wait_for
from .test_nova_servers import NovaClient, assert_golden_conflict, nova_client

Golden = Callable[[str], dict[str, Any]]


@pytest.fixture
def nova(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    yield from nova_client(http, token)


@pytest.fixture
def active(nova: NovaClient) -> str:
    """An ACTIVE server of the primary project."""
    server_id = nova.boot("srv-actions", metadata={"role": "golden"})
    nova.wait_idle(server_id, "ACTIVE")
    return server_id


def wait_image(nova: NovaClient, image_id: str, status: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        image: dict[str, Any] = nova.image(image_id).json()
        return image if image["status"] == status else None

    return wait_for(probe, what=f"image {image_id} {status}")


def delete_image(nova: NovaClient, image_id: str) -> None:
    nova.http.delete(f"{nova.images}/{image_id}", headers=nova.headers(None))


def test_create_image_at_2_104_answers_image_id_and_makes_a_private_snapshot(
    nova: NovaClient, active: str, golden: Golden
) -> None:
    body = {"createImage": {"name": "snap-245", "metadata": {"purpose": "golden"}}}
    response = nova.action(active, body)
    assert response.status_code == 202
    assert "Location" not in response.headers
    assert response.headers["Content-Type"] == "application/json"
    image_id = response.json()["image_id"]
    try:
        image = wait_image(nova, image_id, "active")
        expected = golden("43")["response"]["body"]
        assert set(expected) - {"os_distro"} <= set(image)
        assert image["image_type"] == "snapshot"
        assert image["instance_uuid"] == active
        assert image["base_image_ref"] == nova.image_id()
        assert image["purpose"] == "golden"
        assert image["visibility"] == "private"
        assert image["min_disk"] == nova.flavor()["disk"]
        assert image["owner_project_name"] == "denbi-demo"
        assert image["owner"] == nova.server(active)["tenant_id"]
        source = nova.image(nova.image_id()).json()
        # The snapshot's disk is its own (generated from the server id), not a copy.
        assert image["size"] == snapshot_bytes() and image["checksum"] != source["checksum"]
        nova.wait_idle(active, "ACTIVE")
    finally:
        delete_image(nova, image_id)


def test_create_image_at_2_1_answers_an_empty_body_and_a_double_slash_location(
    nova: NovaClient, active: str
) -> None:
    body = {"createImage": {"name": "snap-21"}}
    response = nova.action(active, body, version="2.1")
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    location = response.headers["Location"]
    glance = str(nova.http.base_url.join("/bielefeld/image"))
    assert location.startswith(f"{glance}//images/")
    image_id = location.rsplit("/", 1)[-1]
    try:
        wait_image(nova, image_id, "active")
    finally:
        delete_image(nova, image_id)


def test_create_image_needs_a_name(nova: NovaClient, active: str) -> None:
    response = nova.action(active, {"createImage": {}})
    assert response.status_code == 400
    assert "'name' is a required property" in response.json()["badRequest"]["message"]


def test_start_of_an_active_server_is_409(nova: NovaClient, active: str, golden: Golden) -> None:
    assert_golden_conflict(nova.action(active, {"os-start": None}), golden, "46", active)


def test_stop_powers_off_and_start_powers_on(nova: NovaClient, active: str, golden: Golden) -> None:
    stop = nova.action(active, {"os-stop": None})
    assert stop.status_code == 202
    assert stop.content == b""
    assert stop.headers["Content-Type"] == "application/json"
    shutoff = nova.wait_idle(active, "SHUTOFF")
    expected = golden("49")["response"]["body"]["server"]
    assert (shutoff["OS-EXT-STS:vm_state"], shutoff["OS-EXT-STS:power_state"]) == ("stopped", 4)
    assert "progress" not in shutoff and "progress" not in expected
    again = nova.action(active, {"os-stop": None})
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"].endswith("in vm_state stopped")
    start = nova.action(active, {"os-start": None})
    assert start.status_code == 202
    assert nova.wait_idle(active, "ACTIVE")["OS-EXT-STS:power_state"] == 1


def test_a_stopped_server_can_be_snapshotted(nova: NovaClient, active: str) -> None:
    nova.action(active, {"os-stop": None})
    nova.wait_idle(active, "SHUTOFF")
    response = nova.action(active, {"createImage": {"name": "snap-shutoff"}})
    assert response.status_code == 202
    image_id = response.json()["image_id"]
    try:
        assert nova.server(active)["status"] == "SHUTOFF"
        wait_image(nova, image_id, "active")
        assert nova.wait_idle(active, "SHUTOFF")["OS-EXT-STS:vm_state"] == "stopped"
    finally:
        delete_image(nova, image_id)


def test_soft_reboot_of_a_stopped_server_is_409_and_bad_type_is_400(
    nova: NovaClient, active: str
) -> None:
    nova.action(active, {"os-stop": None})
    nova.wait_idle(active, "SHUTOFF")
    assert nova.action(active, {"reboot": {"type": "SOFT"}}).status_code == 409
    assert nova.action(active, {"reboot": {"type": "GENTLE"}}).status_code == 400


def test_locked_server_refuses_changes_until_unlocked(nova: NovaClient, active: str) -> None:
    assert nova.action(active, {"lock": {"locked_reason": "maintenance"}}).status_code == 202
    server = nova.server(active)
    assert (server["locked"], server["locked_reason"]) == (True, "maintenance")
    refused = nova.action(active, {"os-stop": None})
    assert refused.status_code == 409
    assert refused.json()["conflictingRequest"]["message"] == f"Instance {active} is locked"
    assert nova.delete(f"/servers/{active}").status_code == 409
    assert nova.action(active, {"unlock": None}).status_code == 202
    assert nova.server(active)["locked"] is False


def test_unknown_action_is_400(nova: NovaClient, active: str) -> None:
    response = nova.action(active, {"os-teleport": None})
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "There is no such action: os-teleport"
