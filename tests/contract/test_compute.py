"""Nova: flavors, key pairs, a server's life (boot, stop, start, list, delete), microversions."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from openstack import exceptions
from openstack.connection import Connection

from ._support import (
    TINY_FLAVOR,
    Janitor,
    Timeouts,
    assert_nova_error,
    boot_server,
    private_ipv4s,
    wait_for,
    wait_server_status,
)

SMALL_FLAVOR = "de.NBI small"
#: The microversion openstacksdk pins for servers (golden file 61).
SERVERS_MICROVERSION = "2.100"


def ed25519_public_key() -> str:
    """A fresh OpenSSH ed25519 public key (the private half is thrown away)."""
    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode() + " contract"


@pytest.fixture(scope="module")
def keypair(conn: Connection, module_janitor: Janitor) -> Any:
    """A key pair imported for the module's server."""
    name = module_janitor.new_keypair_name("key")
    return conn.compute.create_keypair(name=name, public_key=ed25519_public_key())


@pytest.fixture(scope="module")
def server(
    conn: Connection, boot_image: dict[str, Any], keypair: Any, module_janitor: Janitor
) -> Any:
    """A server booted the way the SDK's cloud layer does it: ``create_server(wait=True)``."""
    created = conn.create_server(
        module_janitor.new_server_name("vm"),
        image=boot_image["id"],
        flavor=TINY_FLAVOR,
        key_name=keypair.name,
        wait=True,
        timeout=module_janitor.timeouts.boot,
    )
    module_janitor.server_ids.append(created.id)
    return created


def server_json(conn: Connection, server_id: str) -> dict[str, Any]:
    """``GET /servers/{id}`` as raw JSON at the SDK's servers microversion."""
    response = conn.compute.get(f"/servers/{server_id}", microversion=SERVERS_MICROVERSION)
    assert response.status_code == 200, response.text[:500]
    body: dict[str, Any] = response.json()["server"]
    return body


def test_flavors_include_the_denbi_flavors(conn: Connection) -> None:
    names = {flavor.name for flavor in conn.compute.flavors()}
    assert {TINY_FLAVOR, SMALL_FLAVOR} <= names


def test_keypair_import_then_delete(conn: Connection, janitor: Janitor) -> None:
    name = janitor.new_keypair_name("key")
    public_key = ed25519_public_key()
    created = conn.compute.create_keypair(name=name, public_key=public_key)
    assert created.name == name
    assert created.public_key == public_key
    assert created.fingerprint
    assert not created.private_key
    assert conn.compute.get_keypair(name).fingerprint == created.fingerprint

    conn.compute.delete_keypair(name, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_keypair(name)


def test_boot_reaches_active_with_a_private_ipv4(
    conn: Connection, server: Any, boot_image: dict[str, Any], keypair: Any
) -> None:
    assert server.status == "ACTIVE"
    assert private_ipv4s(server.addresses), f"no private IPv4 in {server.addresses}"
    shown = server_json(conn, server.id)
    assert shown["status"] == "ACTIVE"
    assert shown["image"]["id"] == boot_image["id"]
    assert shown["flavor"]["original_name"] == TINY_FLAVOR
    assert shown["key_name"] == keypair.name
    assert private_ipv4s(shown["addresses"])


def test_start_on_an_active_server_is_409(conn: Connection, server: Any) -> None:
    response = conn.compute.post(
        f"/servers/{server.id}/action", json={"os-start": None}, microversion=SERVERS_MICROVERSION
    )
    assert_nova_error(response, 409, "conflictingRequest")


def test_stop_gives_shutoff_and_start_gives_active(
    conn: Connection, server: Any, timeouts: Timeouts
) -> None:
    conn.compute.stop_server(server.id)
    stopped = wait_server_status(
        conn, server.id, "SHUTOFF", timeout=timeouts.change, interval=timeouts.interval
    )
    assert stopped.power_state == 4
    conn.compute.start_server(server.id)
    started = wait_server_status(
        conn, server.id, "ACTIVE", timeout=timeouts.change, interval=timeouts.interval
    )
    assert started.power_state == 1


def test_server_list_filters_by_name(conn: Connection, server: Any, run_id: str) -> None:
    exact = list(conn.compute.servers(name=server.name))
    assert [found.id for found in exact] == [server.id]
    # Nova's name filter is a regular expression, so a prefix matches too (golden file 53).
    prefix = f"contract-{run_id}-vm"
    by_prefix = list(conn.compute.servers(name=prefix))
    assert server.id in {found.id for found in by_prefix}
    assert all(prefix in found.name for found in by_prefix)


def test_deleted_server_is_404(
    conn: Connection, boot_image: dict[str, Any], tiny_flavor: Any, janitor: Janitor
) -> None:
    timeouts = janitor.timeouts
    doomed = boot_server(janitor, "vmdel", image_id=boot_image["id"], flavor_id=tiny_flavor.id)
    conn.compute.delete_server(doomed.id)
    gone = wait_for(
        lambda: conn.compute.get(f"/servers/{doomed.id}", microversion=SERVERS_MICROVERSION),
        lambda response: response.status_code == 404,
        timeout=timeouts.change,
        interval=timeouts.interval,
        what=f"server {doomed.id} to disappear",
    )
    assert_nova_error(gone, 404, "itemNotFound")
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_server(doomed.id)


def test_unsupported_microversion_is_406_and_echoed(conn: Connection) -> None:
    response = conn.compute.get("/servers", headers={"OpenStack-API-Version": "compute 9.99"})
    assert_nova_error(response, 406, "computeFault")
    assert response.headers["OpenStack-API-Version"] == "compute 9.99"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "9.99"


def test_latest_microversion_echoes_the_maximum(conn: Connection) -> None:
    document = conn.compute.get("/")
    assert document.status_code == 200
    maximum = document.json()["version"]["version"]
    assert document.json()["version"]["min_version"] == "2.1"
    response = conn.compute.get("/servers", headers={"OpenStack-API-Version": "compute latest"})
    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == f"compute {maximum}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == maximum


# --- server metadata (the snapshot policy lives there) --------------------------------------
def _metadata(conn: Connection, server_id: str, method: str, path: str = "", **kw: Any) -> Any:
    """A ``/servers/{id}/metadata[/{key}]`` request at the SDK's servers microversion."""
    url = f"/servers/{server_id}/metadata{path}"
    return conn.compute.request(url, method, microversion=SERVERS_MICROVERSION, **kw)


def test_metadata_post_merges_put_updates_one_item_and_delete_removes_it(
    conn: Connection, server: Any, run_id: str
) -> None:
    key = f"contract-{run_id}"
    merged = _metadata(conn, server.id, "POST", json={"metadata": {key: "v1", f"{key}-b": "b"}})
    assert merged.status_code == 200, merged.text[:500]
    assert {key: "v1", f"{key}-b": "b"}.items() <= merged.json()["metadata"].items()
    updated = _metadata(conn, server.id, "PUT", f"/{key}", json={"meta": {key: "v2"}})
    assert updated.status_code == 200, updated.text[:500]
    assert updated.json() == {"meta": {key: "v2"}}
    assert _metadata(conn, server.id, "GET", f"/{key}").json() == {"meta": {key: "v2"}}
    assert server_json(conn, server.id)["metadata"][key] == "v2"
    listed = conn.compute.get("/servers/detail", microversion=SERVERS_MICROVERSION).json()
    mine = next(s for s in listed["servers"] if s["id"] == server.id)
    assert mine["metadata"][key] == "v2" and mine["metadata"][f"{key}-b"] == "b"

    for name in (key, f"{key}-b"):
        assert _metadata(conn, server.id, "DELETE", f"/{name}").status_code == 204
    assert_nova_error(_metadata(conn, server.id, "GET", f"/{key}"), 404, "itemNotFound")
    assert_nova_error(_metadata(conn, server.id, "DELETE", f"/{key}"), 404, "itemNotFound")
    assert key not in _metadata(conn, server.id, "GET").json()["metadata"]


def test_metadata_bad_bodies_and_long_values_are_400(conn: Connection, server: Any) -> None:
    too_long = _metadata(conn, server.id, "POST", json={"metadata": {"k": "v" * 256}})
    assert_nova_error(too_long, 400, "badRequest")
    bad_key = _metadata(conn, server.id, "POST", json={"metadata": {"a/b": "v"}})
    assert_nova_error(bad_key, 400, "badRequest")
    no_metadata = _metadata(conn, server.id, "POST", json={"meta": {"k": "v"}})
    assert_nova_error(no_metadata, 400, "badRequest")
    mismatch = _metadata(conn, server.id, "PUT", "/k", json={"meta": {"other": "v"}})
    assert_nova_error(mismatch, 400, "badRequest")
    assert "k" not in _metadata(conn, server.id, "GET").json()["metadata"]


def test_metadata_of_an_unknown_server_is_404(conn: Connection) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    answer = _metadata(conn, missing, "POST", json={"metadata": {"k": "v"}})
    assert_nova_error(answer, 404, "itemNotFound")


def test_metadata_of_a_locked_server_is_409(conn: Connection, server: Any) -> None:
    lock = conn.compute.post(
        f"/servers/{server.id}/action", json={"lock": None}, microversion=SERVERS_MICROVERSION
    )
    assert lock.status_code == 202, lock.text[:500]
    try:
        refused = _metadata(conn, server.id, "POST", json={"metadata": {"k": "v"}})
        assert_nova_error(refused, 409, "conflictingRequest")
        assert "locked" in refused.json()["conflictingRequest"]["message"]
    finally:
        unlock = conn.compute.post(
            f"/servers/{server.id}/action",
            json={"unlock": None},
            microversion=SERVERS_MICROVERSION,
        )
        assert unlock.status_code == 202, unlock.text[:500]
