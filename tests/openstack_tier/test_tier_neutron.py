"""The tier's Neutron (the local cloud's router, permissive), on a real uvicorn on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from denbi_jupyter.localcloud.site import Site
from openstack_tier.neutron import CIDR, NETWORK_NAME, build_site, create_app


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "neutron"


@contextmanager
def serve(site: Site) -> Iterator[httpx.Client]:
    """Runs the app on 127.0.0.1 (a free port) in a thread; yields a client for it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(site), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def client(state_dir: Path) -> Iterator[httpx.Client]:
    with serve(build_site(state_dir)) as http:
        yield http


def network_id(client: httpx.Client) -> str:
    networks = client.get("/v2.0/networks", params={"name": NETWORK_NAME}).json()["networks"]
    assert len(networks) == 1
    return str(networks[0]["id"])


def new_port(client: httpx.Client, device: str, project: str = "p1") -> dict[str, Any]:
    body = {"port": {"network_id": network_id(client), "device_id": device, "tenant_id": project}}
    response = client.post("/v2.0/ports", json=body, headers={"X-Auth-Token": "from-keystone"})
    assert response.status_code == 201, response.text
    port: dict[str, Any] = response.json()["port"]
    return port


def test_one_shared_network_is_listed_for_auto_allocation(client: httpx.Client) -> None:
    shared = client.get("/v2.0/networks", params={"shared": "True"}).json()["networks"]
    assert [n["name"] for n in shared] == [NETWORK_NAME]
    own = client.get("/v2.0/networks", params={"tenant_id": "p1", "shared": "False"}).json()
    assert own["networks"] == []
    by_name = client.get("/v2.0/networks", params={"name": NETWORK_NAME}).json()["networks"]
    assert by_name[0]["subnets"] == [client.get("/v2.0/subnets").json()["subnets"][0]["id"]]


def test_ports_get_distinct_ipv4_addresses_in_the_subnet(client: httpx.Client) -> None:
    addresses = {new_port(client, f"vm-{i}")["fixed_ips"][0]["ip_address"] for i in range(5)}
    assert len(addresses) == 5
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network(CIDR) for a in addresses)


def test_port_create_show_update_list_and_delete(client: httpx.Client) -> None:
    port = new_port(client, "vm-1")
    port_id = port["id"]
    assert client.get(f"/v2.0/ports/{port_id}").json()["port"]["device_id"] == "vm-1"
    updated = client.put(f"/v2.0/ports/{port_id}", json={"port": {"binding:host_id": "h1"}})
    assert updated.json()["port"]["binding:host_id"] == "h1"
    listed = client.get("/v2.0/ports", params={"device_id": "vm-1"}).json()["ports"]
    assert [p["id"] for p in listed] == [port_id]
    assert client.get("/v2.0/ports", params={"device_id": "other"}).json()["ports"] == []
    assert client.delete(f"/v2.0/ports/{port_id}").status_code == 204
    missing = client.get(f"/v2.0/ports/{port_id}")
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "PortNotFound"


def test_ports_filter_by_fixed_ip(client: httpx.Client) -> None:
    port = new_port(client, "vm-1")
    new_port(client, "vm-2")
    address = port["fixed_ips"][0]["ip_address"]
    found = client.get("/v2.0/ports", params={"fixed_ips": f"ip_address={address}"}).json()
    assert [p["id"] for p in found["ports"]] == [port["id"]]


def test_network_and_ports_survive_a_restart(state_dir: Path) -> None:
    with serve(build_site(state_dir)) as first:
        port = new_port(first, "vm-1")
        before = network_id(first)
    with serve(build_site(state_dir)) as again:
        assert network_id(again) == before
        assert again.get(f"/v2.0/ports/{port['id']}").status_code == 200
        assert new_port(again, "vm-2")["fixed_ips"] != port["fixed_ips"]


def test_the_calling_project_has_a_default_security_group(client: httpx.Client) -> None:
    headers = {"X-Project-Id": "p1"}
    groups = client.get("/v2.0/security-groups", headers=headers).json()["security_groups"]
    assert [(g["name"], g["project_id"]) for g in groups] == [("default", "p1")]


def test_the_side_calls_nova_makes_are_answered(client: httpx.Client) -> None:
    aliases = {e["alias"] for e in client.get("/v2.0/extensions").json()["extensions"]}
    assert "binding-extended" not in aliases  # else Nova would use the port bindings API
    assert client.get("/v2.0/floatingips").json() == {"floatingips": []}
    assert client.get("/v2.0/quotas/p1").json()["quota"]["port"] != 0
    assert client.get("/").json()["versions"][0]["id"] == "v2.0"
    assert client.get(f"/v2.0/networks/{network_id(client)}").json()["network"]["shared"] is True
    assert client.get("/v2.0/networks/nope").status_code == 404
