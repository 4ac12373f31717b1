"""What openstacksdk users do with Nova on the local cloud: boot, snapshot, power, delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions
from openstack.connection import Connection

from .test_nova_servers import IMAGE, TINY


@pytest.fixture(scope="module")
def server(conn: Connection) -> Iterator[Any]:
    """A server booted by name with ``create_server(wait=True)``, shared by the module.

    The cloud layer polls every 5 s whatever the cloud's speed, so one boot serves every test;
    tests leave it ACTIVE and idle.
    """
    created = conn.create_server("sdk-server", image=IMAGE, flavor=TINY, wait=True, timeout=30)
    yield created
    conn.compute.delete_server(created.id)
    conn.compute.wait_for_delete(created, interval=0.05, wait=30)


@pytest.fixture
def images(conn: Connection) -> Iterator[list[str]]:
    """Ids of images a test made; deleted afterwards."""
    made: list[str] = []
    yield made
    for image_id in made:
        conn.image.delete_image(image_id, ignore_missing=True)


def test_create_server_by_names_waits_for_active_with_a_private_ipv4(server: Any) -> None:
    assert server.status == "ACTIVE"
    assert server.private_v4.startswith("192.168.1.")
    assert server.flavor.original_name == TINY


def test_create_image_snapshot_waits_until_the_image_is_active(
    conn: Connection, server: Any, images: list[str]
) -> None:
    image = conn.create_image_snapshot("sdk-snap", server, wait=True, timeout=30)
    images.append(image.id)
    assert image.status == "active"
    assert image.properties["image_type"] == "snapshot"
    assert image.instance_uuid == server.id
    assert image.visibility == "private"


def test_proxy_create_server_image_reaches_active(
    conn: Connection, server: Any, images: list[str]
) -> None:
    image = conn.compute.create_server_image(server, "sdk-snap2", wait=True, timeout=30)
    images.append(image.id)
    assert conn.image.get_image(image.id).status == "active"
    idle = conn.compute.wait_for_server(conn.compute.get_server(server.id), interval=0.05, wait=30)
    assert idle.task_state is None


def test_stop_and_start_through_the_proxy(conn: Connection, server: Any) -> None:
    conn.compute.stop_server(server)
    stopped = conn.compute.wait_for_server(server, status="SHUTOFF", interval=0.05, wait=30)
    assert stopped.power_state == 4
    with pytest.raises(exceptions.ConflictException, match="while it is in vm_state stopped"):
        conn.compute.stop_server(server)
    conn.compute.start_server(server)
    started = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.05, wait=30)
    assert started.power_state == 1


def test_deleted_server_can_no_longer_be_found(conn: Connection) -> None:
    image = conn.image.find_image(IMAGE, ignore_missing=False)
    flavor = conn.compute.find_flavor(TINY, ignore_missing=False)
    created = conn.compute.create_server(
        name="sdk-gone", image_id=image.id, flavor_id=flavor.id, networks="auto"
    )
    conn.compute.wait_for_server(created, interval=0.05, wait=30)
    conn.compute.delete_server(created)
    conn.compute.wait_for_delete(created, interval=0.05, wait=30)
    assert conn.get_server(created.id) is None
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_server(created.id)


@pytest.mark.usefixtures("server")
def test_server_listing_filters_by_name(conn: Connection) -> None:
    names = [s.name for s in conn.compute.servers(name="^sdk-ser")]
    assert names == ["sdk-server"]
