"""Nova servers over real HTTP: create, show at BUILD and ACTIVE, lists, delete, metadata, quota.

The helpers at the top (:class:`NovaClient`, :func:`nova_client`) are shared
with the other Nova, Neutron and fault test modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from denbi_jupyter.localcloud.seed import PRIMARY_PROJECT, SECOND_PROJECT
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE, IssueToken
from .polling import wait_for

T = TypeVar("T")

COMPUTE = f"/{SITE}/compute/v2.1"
NETWORK = f"/{SITE}/network/v2.0"
IMAGES = f"/{SITE}/image/v2/images"
TINY = "de.NBI tiny"
IMAGE = "X2Go_xfce"
#: Keys a non-admin sees that the golden (admin) answers show only to admins.
ADMIN_ONLY = re.compile(r"^(OS-EXT-SRV-ATTR:(?!hostname$).*|host_status)$")
#: The server id in the golden answers' messages.
GOLDEN_SERVER_ID = "2f658a2a-464f-473f-a2e2-6fa8377fc5ff"


def assert_golden_conflict(
    response: httpx.Response, golden: Callable[[str], dict[str, Any]], number: str, server_id: str
) -> None:
    """A 409 whose message is golden file ``number``'s, for ``server_id``."""
    assert response.status_code == 409
    expected = golden(number)["response"]["body"]["conflictingRequest"]["message"]
    assert response.json()["conflictingRequest"]["message"] == expected.replace(
        GOLDEN_SERVER_ID, server_id
    )


class NovaClient:
    """Raw Nova/Glance/Neutron calls of one token on one site; remembers servers it boots."""

    def __init__(self, http: httpx.Client, token: str, site: str = SITE) -> None:
        self.http = http
        self.token = token
        self.compute = f"/{site}/compute/v2.1"
        self.images = f"/{site}/image/v2/images"
        self.booted: list[str] = []

    def headers(self, version: str | None = "2.104") -> dict[str, str]:
        headers = {"X-Auth-Token": self.token}
        if version is not None:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return headers

    def get(self, path: str, *, version: str | None = "2.104", **kw: Any) -> httpx.Response:
        return self.http.get(self.compute + path, headers=self.headers(version), **kw)

    def post(self, path: str, body: Any, *, version: str | None = "2.104") -> httpx.Response:
        return self.http.post(self.compute + path, json=body, headers=self.headers(version))

    def put(self, path: str, body: Any, *, version: str | None = "2.104") -> httpx.Response:
        return self.http.put(self.compute + path, json=body, headers=self.headers(version))

    def delete(self, path: str, *, version: str | None = "2.104") -> httpx.Response:
        return self.http.delete(self.compute + path, headers=self.headers(version))

    def action(self, server_id: str, body: Any, *, version: str = "2.104") -> httpx.Response:
        return self.post(f"/servers/{server_id}/action", body, version=version)

    def image_id(self, name: str = IMAGE) -> str:
        response = self.http.get(self.images, params={"name": name}, headers=self.headers(None))
        (image,) = response.json()["images"]
        return str(image["id"])

    def image(self, image_id: str) -> httpx.Response:
        return self.http.get(f"{self.images}/{image_id}", headers=self.headers(None))

    def flavor(self, name: str = TINY) -> dict[str, Any]:
        flavors = self.get("/flavors/detail").json()["flavors"]
        (flavor,) = [f for f in flavors if f["name"] == name]
        return dict(flavor)

    def create(self, name: str, *, version: str = "2.104", **server: Any) -> httpx.Response:
        body = {
            "name": name,
            "imageRef": self.image_id(),
            "flavorRef": self.flavor()["id"],
            "networks": "auto",
            **server,
        }
        body = {key: value for key, value in body.items() if value is not None}
        response = self.post("/servers", {"server": body}, version=version)
        if response.status_code == 202:
            self.booted.append(response.json()["server"]["id"])
        return response

    def boot(self, name: str, **server: Any) -> str:
        response = self.create(name, **server)
        assert response.status_code == 202, response.text
        return str(response.json()["server"]["id"])

    def server(self, server_id: str, *, version: str = "2.104") -> dict[str, Any]:
        response = self.get(f"/servers/{server_id}", version=version)
        assert response.status_code == 200, response.text
        server: dict[str, Any] = response.json()["server"]
        return server

    def wait_idle(self, server_id: str, status: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the server has ``status`` and no task state."""

        def probe() -> dict[str, Any] | None:
            server = self.server(server_id)
            idle = server["status"] == status and server["OS-EXT-STS:task_state"] is None
            return server if idle else None

        return wait_for(probe, what=f"server {server_id} {status}", timeout=timeout)

    def wait_gone(self, server_id: str) -> None:
        wait_for(
            lambda: self.get(f"/servers/{server_id}").status_code == 404,
            what=f"server {server_id} gone",
        )

    def cleanup(self) -> None:
        for server_id in self.booted:
            self.delete(f"/servers/{server_id}")
        for server_id in self.booted:
            self.wait_gone(server_id)


def nova_client(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    """Fixture body: a :class:`NovaClient` that deletes the servers it booted afterwards."""
    client = NovaClient(http, token)
    yield client
    client.cleanup()


@pytest.fixture
def nova(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    yield from nova_client(http, token)


@pytest.fixture
def admin_nova(http: httpx.Client, issue_token: IssueToken) -> Iterator[NovaClient]:
    yield from nova_client(http, issue_token(project="admin", username="admin"))


def test_create_answers_202_with_location_and_the_minimal_body(
    nova: NovaClient, golden: Callable[[str], dict[str, Any]]
) -> None:
    expected = golden("36")["response"]
    response = nova.create("srv-create", version="latest", key_name=None, metadata={"a": "b"})
    assert response.status_code == 202
    server = response.json()["server"]
    assert set(server) == set(expected["body"]["server"])
    assert response.headers["Location"] == str(
        nova.http.base_url.join(f"{COMPUTE}/servers/{server['id']}")
    )
    assert response.headers["OpenStack-API-Version"] == "compute 2.104"
    assert response.headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"[A-Za-z0-9]{12}", server["adminPass"])


def test_new_server_turns_active_with_a_private_ip_from_its_project_network(
    nova: NovaClient, golden: Callable[[str], dict[str, Any]]
) -> None:
    server_id = nova.boot("srv-build", metadata={"role": "golden"})
    active = nova.wait_idle(server_id, "ACTIVE")
    active_keys = {k for k in golden("38")["response"]["body"]["server"] if not ADMIN_ONLY.match(k)}
    assert set(active) == active_keys
    assert active["OS-EXT-STS:power_state"] == 1
    assert active["metadata"] == {"role": "golden"}
    ((network, (address,)),) = active["addresses"].items()
    assert network.endswith("-net")
    assert address["version"] == 4 and address["OS-EXT-IPS:type"] == "fixed"
    assert address["OS-EXT-IPS-MAC:mac_addr"].startswith("fa:16:3e:")
    assert not address["addr"].endswith((".0", ".1", ".255"))


def test_admin_sees_exactly_the_golden_fields_of_an_active_server(
    nova: NovaClient, admin_nova: NovaClient, golden: Callable[[str], dict[str, Any]]
) -> None:
    server_id = nova.boot("srv-admin-view")
    nova.wait_idle(server_id, "ACTIVE")
    server = admin_nova.server(server_id)
    assert set(server) == set(golden("38")["response"]["body"]["server"])
    assert server["OS-EXT-SRV-ATTR:host"] == "ostack-host"
    assert server["host_status"] == "UP"


def test_server_at_old_microversions_shows_flavor_links_and_no_newer_fields(
    nova: NovaClient,
) -> None:
    server_id = nova.boot("srv-old")
    server = nova.server(server_id, version="2.1")
    assert set(server["flavor"]) == {"id", "links"}
    assert set(server["image"]) == {"id", "links"}
    assert not {"locked", "tags", "description", "server_groups"} & set(server)


def test_detail_list_filters_by_name_as_a_regex_and_leaves_out_server_groups(
    nova: NovaClient,
) -> None:
    first = nova.boot("regex-alpha")
    second = nova.boot("regex-beta")
    found = nova.get("/servers", params={"name": "^regex-"}).json()["servers"]
    assert [s["id"] for s in found] == [second, first]
    assert set(found[0]) == {"id", "name", "links"}
    detail = nova.get("/servers/detail", params={"name": "alp"}).json()["servers"]
    assert [s["id"] for s in detail] == [first]
    assert "server_groups" not in detail[0]


def test_list_pages_with_limit_and_marker(nova: NovaClient) -> None:
    ids = [nova.boot(f"page-{n}") for n in range(3)]
    page = nova.get("/servers", params={"name": "^page-", "limit": 2}).json()
    assert [s["id"] for s in page["servers"]] == [ids[2], ids[1]]
    (link,) = page["servers_links"]
    rest = nova.http.get(link["href"], headers=nova.headers()).json()
    assert [s["id"] for s in rest["servers"]] == [ids[0]]


def test_list_filters_by_status_image_and_flavor(nova: NovaClient) -> None:
    server_id = nova.boot("filters-one")
    nova.wait_idle(server_id, "ACTIVE")
    image, flavor = nova.image_id(), nova.flavor()["id"]
    for params in ({"status": "active"}, {"image": image}, {"flavor": flavor}):
        found = nova.get("/servers", params={"name": "^filters-", **params}).json()["servers"]
        assert [s["id"] for s in found] == [server_id], params
    none = nova.get("/servers", params={"name": "^filters-", "status": "SHUTOFF"}).json()
    assert none["servers"] == []


def test_all_tenants_needs_the_admin_role(nova: NovaClient, admin_nova: NovaClient) -> None:
    response = nova.get("/servers", params={"all_tenants": "1"})
    assert response.status_code == 403
    server_id = nova.boot("everyone-sees")
    everyone = admin_nova.get("/servers", params={"all_tenants": "1"}).json()["servers"]
    assert server_id in [s["id"] for s in everyone]


def test_servers_of_another_project_are_not_found(
    nova: NovaClient, http: httpx.Client, issue_token: IssueToken
) -> None:
    server_id = nova.boot("private-to-demo")
    other = NovaClient(http, issue_token(project=SECOND_PROJECT))
    response = other.get(f"/servers/{server_id}")
    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {server_id} could not be found."}
    }
    assert server_id not in [s["id"] for s in other.get("/servers").json()["servers"]]


def test_delete_answers_204_with_an_empty_json_body_then_404(
    nova: NovaClient, golden: Callable[[str], dict[str, Any]]
) -> None:
    server_id = nova.boot("srv-delete", networks="none")
    nova.wait_idle(server_id, "ACTIVE")
    response = nova.delete(f"/servers/{server_id}")
    assert response.status_code == 204
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == b""
    nova.wait_gone(server_id)
    gone = nova.get(f"/servers/{server_id}")
    assert gone.headers["Content-Type"] == "application/json; charset=UTF-8"
    expected = golden("56")["response"]["body"]["itemNotFound"]["message"]
    assert gone.json()["itemNotFound"]["message"] == expected.replace(
        "e14bd3d1-2ff4-49bc-b457-2f74ffd6605f", server_id
    )


def test_delete_releases_the_servers_ports(nova: NovaClient, http: httpx.Client) -> None:
    server_id = nova.boot("srv-ports")
    nova.wait_idle(server_id, "ACTIVE")
    ports = http.get(f"{NETWORK}/ports", params={"device_id": server_id}, headers=nova.headers())
    assert len(ports.json()["ports"]) == 1
    nova.delete(f"/servers/{server_id}")
    after = http.get(f"{NETWORK}/ports", params={"device_id": server_id}, headers=nova.headers())
    assert after.json()["ports"] == []


def test_networks_none_boots_without_addresses(nova: NovaClient) -> None:
    server_id = nova.boot("srv-none", networks="none")
    server = nova.wait_idle(server_id, "ACTIVE")
    assert server["addresses"] == {}
    assert "security_groups" not in server


def test_networks_by_uuid_uses_that_network(nova: NovaClient, http: httpx.Client) -> None:
    networks = http.get(f"{NETWORK}/networks", headers=nova.headers()).json()["networks"]
    (shared,) = [n for n in networks if n["shared"]]
    server_id = nova.boot("srv-shared-net", networks=[{"uuid": shared["id"]}])
    server = nova.wait_idle(server_id, "ACTIVE")
    assert list(server["addresses"]) == [shared["name"]]
    assert server["addresses"][shared["name"]][0]["addr"].startswith("192.168.1.")


@pytest.mark.parametrize(
    ("changes", "version", "message"),
    [
        ({"networks": "auto"}, "2.36", "'auto' is not of type 'array'"),
        ({"networks": None}, "2.37", "'networks' is a required property"),
        ({"imageRef": "no-such-image"}, "2.104", "Image no-such-image could not be found."),
        ({"flavorRef": "de.NBI tiny"}, "2.104", "Invalid flavorRef provided."),
        ({"key_name": "no-such-key"}, "2.104", "Invalid key_name provided."),
        ({"networks": [{"uuid": "nope"}]}, "2.104", "Network nope could not be found."),
    ],
)
def test_create_rejects_invalid_requests_with_400(
    nova: NovaClient, changes: dict[str, Any], version: str, message: str
) -> None:
    response = nova.create("srv-bad", version=version, **changes)
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert response.headers["OpenStack-API-Version"] == f"compute {version}"


def test_create_without_a_name_is_refused(nova: NovaClient) -> None:
    body = {"server": {"imageRef": nova.image_id(), "flavorRef": nova.flavor()["id"]}}
    response = nova.post("/servers", body)
    assert response.status_code == 400
    assert "badRequest" in response.json()


def test_a_request_over_the_instance_quota_is_forbidden(nova: NovaClient) -> None:
    response = nova.create("srv-quota", min_count=11, max_count=11)
    assert response.status_code == 403
    message = response.json()["forbidden"]["message"]
    assert re.fullmatch(
        r"Quota exceeded for instances: Requested 11, but already used \d+ of 10 instances",
        message,
    )


def test_quota_checks_cores_and_ram_together(nova: NovaClient) -> None:
    response = nova.create("srv-big", flavorRef=nova.flavor("de.NBI large")["id"], max_count=3)
    assert response.status_code == 403
    message = response.json()["forbidden"]["message"]
    assert message.startswith("Quota exceeded for cores, ram: Requested 48, 98304, but")
    assert message.endswith("of 32, 65536 cores, ram")


def test_metadata_can_be_merged_replaced_read_and_deleted(nova: NovaClient) -> None:
    server_id = nova.boot("srv-meta", metadata={"a": "1"})
    nova.wait_idle(server_id, "ACTIVE")
    merged = nova.post(f"/servers/{server_id}/metadata", {"metadata": {"b": "2"}})
    assert merged.json() == {"metadata": {"a": "1", "b": "2"}}
    item = nova.put(f"/servers/{server_id}/metadata/c", {"meta": {"c": "3"}})
    assert item.json() == {"meta": {"c": "3"}}
    mismatch = nova.put(f"/servers/{server_id}/metadata/c", {"meta": {"d": "4"}})
    assert mismatch.status_code == 400
    assert nova.get(f"/servers/{server_id}/metadata/c").json() == {"meta": {"c": "3"}}
    assert nova.delete(f"/servers/{server_id}/metadata/a").status_code == 204
    assert nova.get(f"/servers/{server_id}/metadata/a").status_code == 404
    replaced = nova.put(f"/servers/{server_id}/metadata", {"metadata": {"z": "9"}})
    assert replaced.json() == {"metadata": {"z": "9"}}
    assert nova.server(server_id)["metadata"] == {"z": "9"}


def test_rename_and_describe_a_server(nova: NovaClient) -> None:
    server_id = nova.boot("srv-old-name")
    response = nova.put(
        f"/servers/{server_id}", {"server": {"name": "srv-new", "description": "d"}}
    )
    assert response.status_code == 200
    assert response.json()["server"]["name"] == "srv-new"
    assert nova.server(server_id)["description"] == "d"


def test_limits_count_the_projects_servers(
    nova: NovaClient, golden: Callable[[str], dict[str, Any]]
) -> None:
    before = nova.get("/limits").json()["limits"]["absolute"]
    nova.boot("srv-limits")
    after = nova.get("/limits").json()["limits"]["absolute"]
    assert set(after) == set(golden("51")["response"]["body"]["limits"]["absolute"])
    assert after["maxTotalInstances"] == 10 and after["maxTotalCores"] == 32
    assert after["totalInstancesUsed"] == before["totalInstancesUsed"] + 1
    assert after["totalRAMUsed"] == before["totalRAMUsed"] + nova.flavor()["ram"]
    old = nova.get("/limits", version="2.1").json()["limits"]["absolute"]
    assert {"maxPersonality", "maxTotalFloatingIps"} <= set(old)


def test_quota_set_of_the_own_project_has_the_golden_keys(
    nova: NovaClient, site: Site, golden: Callable[[str], dict[str, Any]]
) -> None:
    with site.store.tx() as conn:
        project_id = conn.execute(
            "SELECT id FROM projects WHERE name = ?", (PRIMARY_PROJECT,)
        ).fetchone()["id"]
    quota = nova.get(f"/os-quota-sets/{project_id}").json()["quota_set"]
    assert set(quota) == set(golden("60")["response"]["body"]["quota_set"])
    assert quota["id"] == project_id and quota["instances"] == 10
    detail = nova.get(f"/os-quota-sets/{project_id}/detail").json()["quota_set"]
    assert set(detail["cores"]) == {"in_use", "limit", "reserved"}
    assert nova.get("/os-quota-sets/someone-else").status_code == 403


def test_admin_can_lower_a_quota_and_the_next_boot_is_refused(
    http: httpx.Client, issue_token: IssueToken, admin_nova: NovaClient, site: Site
) -> None:
    with site.store.tx() as conn:
        course = conn.execute(
            "SELECT id FROM projects WHERE name = ?", (SECOND_PROJECT,)
        ).fetchone()["id"]
    lowered = admin_nova.put(f"/os-quota-sets/{course}", {"quota_set": {"instances": 0}})
    assert lowered.status_code == 200
    assert lowered.json()["quota_set"]["instances"] == 0
    try:
        member = NovaClient(http, issue_token(project=SECOND_PROJECT))
        response = member.create("srv-course")
        assert response.status_code == 403
        assert "Quota exceeded for instances" in response.json()["forbidden"]["message"]
    finally:
        admin_nova.put(f"/os-quota-sets/{course}", {"quota_set": {"instances": 10}})
    refused = NovaClient(http, issue_token()).put(
        f"/os-quota-sets/{course}", {"quota_set": {"instances": 99}}
    )
    assert refused.status_code == 403
