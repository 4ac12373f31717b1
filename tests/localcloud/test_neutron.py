"""Neutron v2.0 of the local cloud: networks, subnets, ports, IP allocation, reuse alone."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from openstack.connection import Connection

from denbi_jupyter.localcloud import neutron
from denbi_jupyter.localcloud.config import DEFAULT_SITES, Timings
from denbi_jupyter.localcloud.neutron_ports import (
    IpExhaustedError,
    allocate_port,
    create_network,
    device_ports,
    release_ports,
)
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import SiteStore
from denbi_jupyter.localcloud.timeline import Timeline

from .conftest import SITE

NETWORK = f"/{SITE}/network"


@pytest.fixture
def headers(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


@pytest.fixture
def own_network(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    networks = http.get(f"{NETWORK}/v2.0/networks", headers=headers).json()["networks"]
    (own,) = [n for n in networks if not n["shared"]]
    return dict(own)


@pytest.fixture
def ports(http: httpx.Client, headers: dict[str, str]) -> Iterator[list[str]]:
    """Ids of ports a test created; deleted afterwards."""
    created: list[str] = []
    yield created
    for port_id in created:
        http.delete(f"{NETWORK}/v2.0/ports/{port_id}", headers=headers)


def test_root_lists_v2_0(http: httpx.Client) -> None:
    response = http.get(f"{NETWORK}/")
    assert response.status_code == 200
    (version,) = response.json()["versions"]
    assert version["id"] == "v2.0"
    assert version["links"][0]["href"] == str(http.base_url.join(f"{NETWORK}/v2.0/"))


def test_networks_are_the_projects_own_and_the_shared_one(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    networks = http.get(f"{NETWORK}/v2.0/networks", headers=headers).json()["networks"]
    assert sorted(n["shared"] for n in networks) == [False, True]
    assert all(n["router:external"] is False and n["status"] == "ACTIVE" for n in networks)
    (shared,) = [n for n in networks if n["shared"]]
    subnet = http.get(f"{NETWORK}/v2.0/subnets/{shared['subnets'][0]}", headers=headers).json()
    site_range = ipaddress.IPv4Network(DEFAULT_SITES[0].network_cidr)
    assert ipaddress.IPv4Network(subnet["subnet"]["cidr"]).subnet_of(site_range)


@pytest.mark.parametrize(
    ("params", "count"),
    [({"shared": "true"}, 1), ({"shared": "False"}, 1), ({"router:external": "true"}, 0)],
)
def test_network_filters_select_by_attribute(
    http: httpx.Client, headers: dict[str, str], params: dict[str, str], count: int
) -> None:
    response = http.get(f"{NETWORK}/v2.0/networks", params=params, headers=headers)
    assert len(response.json()["networks"]) == count


def test_network_filter_by_name_and_fields_projection(
    http: httpx.Client, headers: dict[str, str], own_network: dict[str, Any]
) -> None:
    params = [("name", own_network["name"]), ("fields", "id"), ("fields", "name")]
    response = http.get(f"{NETWORK}/v2.0/networks.json", params=params, headers=headers)
    assert response.json() == {"networks": [{"id": own_network["id"], "name": own_network["name"]}]}


def test_other_projects_networks_are_not_found(
    http: httpx.Client, headers: dict[str, str], site: Site
) -> None:
    with site.store.tx() as conn:
        foreign = conn.execute(
            "SELECT n.id FROM networks n JOIN projects p ON p.id = n.project_id "
            "WHERE p.name = 'denbi-course' AND n.shared = 0"
        ).fetchone()["id"]
    response = http.get(f"{NETWORK}/v2.0/networks/{foreign}", headers=headers)
    assert response.status_code == 404
    assert response.json()["NeutronError"]["type"] == "NetworkNotFound"


def test_subnet_allocation_pool_skips_network_gateway_and_broadcast(
    http: httpx.Client, headers: dict[str, str], own_network: dict[str, Any]
) -> None:
    params = {"network_id": own_network["id"]}
    (subnet,) = http.get(f"{NETWORK}/v2.0/subnets", params=params, headers=headers).json()[
        "subnets"
    ]
    network = ipaddress.ip_network(subnet["cidr"])
    assert subnet["gateway_ip"] == str(network.network_address + 1)
    assert subnet["allocation_pools"] == [
        {"start": str(network.network_address + 2), "end": str(network.broadcast_address - 1)}
    ]


def test_port_lifecycle_create_list_show_update_delete(
    http: httpx.Client, headers: dict[str, str], own_network: dict[str, Any], ports: list[str]
) -> None:
    body = {"port": {"network_id": own_network["id"], "name": "p1"}}
    created = http.post(f"{NETWORK}/v2.0/ports", json=body, headers=headers)
    assert created.status_code == 201
    port = created.json()["port"]
    ports.append(port["id"])
    assert port["mac_address"].startswith("fa:16:3e:")
    (fixed,) = port["fixed_ips"]
    assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network(
        http.get(f"{NETWORK}/v2.0/subnets/{fixed['subnet_id']}", headers=headers).json()["subnet"][
            "cidr"
        ]
    )
    listed = http.get(
        f"{NETWORK}/v2.0/ports", params={"network_id": own_network["id"]}, headers=headers
    ).json()["ports"]
    assert port["id"] in [p["id"] for p in listed]

    update = {"port": {"name": "p2", "device_id": "some-device"}}
    updated = http.put(f"{NETWORK}/v2.0/ports/{port['id']}", json=update, headers=headers)
    assert updated.json()["port"]["name"] == "p2"
    by_device = http.get(
        f"{NETWORK}/v2.0/ports", params={"device_id": "some-device"}, headers=headers
    ).json()["ports"]
    assert [p["id"] for p in by_device] == [port["id"]]
    shown = http.get(f"{NETWORK}/v2.0/ports/{port['id']}", headers=headers).json()["port"]
    assert shown["revision_number"] == 2

    assert http.delete(f"{NETWORK}/v2.0/ports/{port['id']}", headers=headers).status_code == 204
    gone = http.get(f"{NETWORK}/v2.0/ports/{port['id']}", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["NeutronError"]["type"] == "PortNotFound"


def test_port_with_a_taken_fixed_ip_is_a_conflict(
    http: httpx.Client, headers: dict[str, str], own_network: dict[str, Any], ports: list[str]
) -> None:
    body = {"port": {"network_id": own_network["id"]}}
    first = http.post(f"{NETWORK}/v2.0/ports", json=body, headers=headers).json()["port"]
    ports.append(first["id"])
    taken = first["fixed_ips"][0]["ip_address"]
    same = {"port": {"network_id": own_network["id"], "fixed_ips": [{"ip_address": taken}]}}
    response = http.post(f"{NETWORK}/v2.0/ports", json=same, headers=headers)
    assert response.status_code == 409
    assert response.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"


def test_port_on_an_unknown_network_is_404_and_without_network_400(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    unknown = {"port": {"network_id": "nope"}}
    response = http.post(f"{NETWORK}/v2.0/ports", json=unknown, headers=headers)
    assert response.status_code == 404
    assert response.json()["NeutronError"]["message"] == "Network nope could not be found."
    missing = http.post(f"{NETWORK}/v2.0/ports", json={"port": {}}, headers=headers)
    assert missing.status_code == 400


def test_side_calls_clients_make_answer(http: httpx.Client, headers: dict[str, str]) -> None:
    groups = http.get(f"{NETWORK}/v2.0/security-groups", headers=headers).json()
    assert [g["name"] for g in groups["security_groups"]] == ["default"]
    for collection in ("floatingips", "routers"):
        body = http.get(f"{NETWORK}/v2.0/{collection}", headers=headers).json()
        assert body == {collection: []}
    aliases = http.get(f"{NETWORK}/v2.0/extensions", headers=headers).json()["extensions"]
    assert "security-group" in [e["alias"] for e in aliases]


def test_requests_without_a_token_are_401(http: httpx.Client) -> None:
    response = http.get(f"{NETWORK}/v2.0/networks")
    assert response.status_code == 401


def test_openstacksdk_lists_networks_and_finds_a_servers_port(
    conn: Connection, own_network: dict[str, Any]
) -> None:
    names = {network.name for network in conn.network.networks()}
    assert own_network["name"] in names
    port = conn.network.create_port(network_id=own_network["id"], device_id="sdk-device")
    try:
        found = list(conn.network.ports(device_id="sdk-device"))
        assert [p.id for p in found] == [port.id]
        assert found[0].fixed_ips[0]["ip_address"]
    finally:
        conn.network.delete_port(port)


# --- the port functions Nova calls, on a store of their own ---------------------------------


@pytest.fixture
def tiny_site(tmp_path: Path) -> Iterator[Site]:
    store = SiteStore(path=tmp_path / "neutron.sqlite", data_dir=tmp_path / "data")
    site = Site(profile=DEFAULT_SITES[0], store=store, timeline=Timeline(store), timings=Timings())
    yield site
    store.close()


def test_allocation_takes_the_lowest_free_address_and_reuses_released_ones(
    tiny_site: Site,
) -> None:
    with tiny_site.store.tx() as conn:
        network_id = create_network(conn, name="n", project_id="p", cidr="10.9.0.0/29")
        first = allocate_port(conn, network_id=network_id, project_id="p", device_id="vm-1")
        second = allocate_port(conn, network_id=network_id, project_id="p", device_id="vm-2")
        assert first["fixed_ips"][0]["ip_address"] == "10.9.0.2"
        assert second["fixed_ips"][0]["ip_address"] == "10.9.0.3"
        assert first["mac_address"] != second["mac_address"]
        assert release_ports(conn, "vm-1") == [first["id"]]
        assert device_ports(conn, "vm-1") == []
        again = allocate_port(conn, network_id=network_id, project_id="p", device_id="vm-3")
        assert again["fixed_ips"][0]["ip_address"] == "10.9.0.2"


def test_allocation_fails_clearly_when_the_subnet_is_full(tiny_site: Site) -> None:
    with tiny_site.store.tx() as conn:
        network_id = create_network(conn, name="n", project_id="p", cidr="10.9.0.0/29")
        addresses = [
            allocate_port(conn, network_id=network_id, project_id="p")["fixed_ips"][0]["ip_address"]
            for _ in range(5)
        ]
        assert addresses == [f"10.9.0.{n}" for n in range(2, 7)]
        with pytest.raises(IpExhaustedError, match=f"network {network_id}"):
            allocate_port(conn, network_id=network_id, project_id="p")


# --- reuse: the router alone, permissive auth, as in front of a real Nova --------------------


@pytest.fixture
def standalone_neutron(tiny_site: Site) -> Iterator[tuple[str, str]]:
    """The Neutron router alone in a tiny app on loopback; yields (base URL, network id)."""
    with tiny_site.store.tx() as conn:
        network_id = create_network(conn, name="private", project_id="proj", cidr="192.0.2.0/24")
    app = FastAPI()
    app.include_router(
        neutron.build_router(tiny_site, authenticate=neutron.permissive_authenticator("proj"))
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", network_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_reused_neutron_accepts_any_token_and_the_project_header(
    standalone_neutron: tuple[str, str],
) -> None:
    base, network_id = standalone_neutron
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/").json()["versions"][0]["id"] == "v2.0"
        headers = {"X-Auth-Token": "a-token-of-a-real-keystone", "X-Project-Id": "proj"}
        networks = client.get("/v2.0/networks", headers=headers).json()["networks"]
        assert [n["id"] for n in networks] == [network_id]
        body = {
            "port": {
                "network_id": network_id,
                "tenant_id": "proj",
                "device_id": "real-nova-instance",
                "device_owner": "compute:nova",
                "binding:host_id": "compute-1",
            }
        }
        created = client.post("/v2.0/ports", json=body, headers=headers)
        assert created.status_code == 201
        port = created.json()["port"]
        assert port["fixed_ips"][0]["ip_address"] == "192.0.2.2"
        assert port["binding:host_id"] == "compute-1"
        assert port["project_id"] == "proj"
        missing = client.get("/v2.0/ports/nope")
        assert missing.status_code == 404
        assert missing.json()["NeutronError"]["type"] == "PortNotFound"
