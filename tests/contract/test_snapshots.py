"""Nova createImage: snapshots through the SDK's cloud and proxy layers, the 409 while one runs,
and booting from a snapshot.

openstacksdk waits on Glance only; Nova's task ends a little later (surprise 12), so every
scenario waits for the server to be idle before the next createImage.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack.connection import Connection

from ._support import (
    Janitor,
    Timeouts,
    assert_nova_error,
    boot_server,
    image_json,
    unique,
    wait_image_active,
    wait_server_idle,
)

#: The microversion openstacksdk pins for createImage (golden file 61).
CREATE_IMAGE_MICROVERSION = "2.45"


@pytest.fixture(scope="module")
def source_server(boot_image: dict[str, Any], tiny_flavor: Any, module_janitor: Janitor) -> Any:
    """An ACTIVE server to take snapshots of."""
    return boot_server(
        module_janitor, "snapsrc", image_id=boot_image["id"], flavor_id=tiny_flavor.id
    )


@pytest.fixture(scope="module")
def snapshot(
    conn: Connection, source_server: Any, timeouts: Timeouts, module_janitor: Janitor
) -> Any:
    """A snapshot made with the cloud layer's ``create_image_snapshot(wait=True)``."""
    name = module_janitor.new_image_name("snap")
    wait_server_idle(conn, source_server.id, timeouts)
    image = conn.create_image_snapshot(name, source_server, wait=True, timeout=timeouts.snapshot)
    module_janitor.image_ids.append(image.id)
    wait_server_idle(conn, source_server.id, timeouts)
    return image


def test_create_image_snapshot_is_active_and_marked_by_nova(
    conn: Connection,
    snapshot: Any,
    source_server: Any,
    boot_image: dict[str, Any],
    project_id: str,
) -> None:
    assert snapshot.status == "active"
    stored = image_json(conn, snapshot.id)
    assert stored["status"] == "active"
    assert stored["image_type"] == "snapshot"
    assert stored["instance_uuid"] == source_server.id
    assert stored["base_image_ref"] == boot_image["id"]
    assert stored["visibility"] == "private"
    assert stored["owner"] == project_id


def test_proxy_create_server_image_reaches_active(
    conn: Connection, source_server: Any, timeouts: Timeouts, janitor: Janitor
) -> None:
    name = janitor.new_image_name("proxysnap")
    wait_server_idle(conn, source_server.id, timeouts)
    image = conn.compute.create_server_image(
        source_server, name, wait=True, timeout=timeouts.snapshot
    )
    janitor.image_ids.append(image.id)
    assert image.status == "active"
    assert image.name == name
    stored = image_json(conn, image.id)
    assert stored["image_type"] == "snapshot"
    assert stored["instance_uuid"] == source_server.id
    wait_server_idle(conn, source_server.id, timeouts)


def test_second_create_image_while_one_runs_is_409(
    conn: Connection, run_id: str, source_server: Any, timeouts: Timeouts, janitor: Janitor
) -> None:
    first_name, second_name = unique(run_id, "first"), unique(run_id, "second")
    janitor.image_names += [first_name, second_name]
    wait_server_idle(conn, source_server.id, timeouts)
    action = f"/servers/{source_server.id}/action"
    first = conn.compute.post(
        action, json={"createImage": {"name": first_name}}, microversion=CREATE_IMAGE_MICROVERSION
    )
    second = conn.compute.post(
        action, json={"createImage": {"name": second_name}}, microversion=CREATE_IMAGE_MICROVERSION
    )
    assert first.status_code == 202, first.text[:500]
    image_id = first.json()["image_id"]
    janitor.image_ids.append(image_id)
    assert "Location" not in first.headers
    assert_nova_error(second, 409, "conflictingRequest")
    wait_image_active(conn, image_id, timeouts)
    wait_server_idle(conn, source_server.id, timeouts)


def test_boot_from_snapshot_reaches_active(
    snapshot: Any, tiny_flavor: Any, janitor: Janitor
) -> None:
    server = boot_server(janitor, "fromsnap", image_id=snapshot.id, flavor_id=tiny_flavor.id)
    assert server.status == "ACTIVE"
    assert server.image["id"] == snapshot.id
