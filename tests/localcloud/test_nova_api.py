"""Nova discovery, microversions, flavors and key pairs against the golden exchanges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .conftest import SITE
from .test_nova_servers import COMPUTE, NovaClient, nova_client

Golden = Callable[[str], dict[str, Any]]
VARY = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
GOLDEN_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdzJFVdtA/Qhfc9K299GuLHCm8FVnqnOAgBjGLK9K6X "
    "golden@example"
)


@pytest.fixture
def nova(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    yield from nova_client(http, token)


@pytest.fixture
def keypair_name(nova: NovaClient) -> Iterator[str]:
    name = "test-key-nova-api"
    yield name
    nova.delete(f"/os-keypairs/{name}")


def test_root_lists_versions_with_200_and_no_microversion_headers(
    http: httpx.Client, golden: Golden
) -> None:
    response = http.get(f"/{SITE}/compute/")
    assert response.status_code == 200
    assert "OpenStack-API-Version" not in response.headers
    expected = golden("32")["response"]["body"]["versions"]
    versions = response.json()["versions"]
    assert [(v["id"], v["version"], v["min_version"]) for v in versions] == [
        (v["id"], v["version"], v["min_version"]) for v in expected
    ]
    assert versions[1]["links"][0]["href"] == str(http.base_url.join(f"{COMPUTE}/"))


def test_version_document_advertises_2_1_to_2_104(http: httpx.Client, golden: Golden) -> None:
    response = http.get(f"{COMPUTE}/")
    expected = golden("33")["response"]
    assert response.status_code == 200
    assert response.json()["version"].keys() == expected["body"]["version"].keys()
    assert response.json()["version"]["version"] == "2.104"
    for name in ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"):
        assert response.headers[name] == expected["headers"][name]


@pytest.mark.parametrize(
    ("headers", "echoed"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.60"}, "2.60"),
        ({"X-OpenStack-Nova-API-Version": "2.60"}, "2.60"),
        ({"OpenStack-API-Version": "compute latest"}, "2.104"),
        ({"OpenStack-API-Version": "image 2.5, compute 2.47"}, "2.47"),
    ],
)
def test_microversion_is_negotiated_and_echoed(
    http: httpx.Client, token: str, headers: dict[str, str], echoed: str
) -> None:
    response = http.get(f"{COMPUTE}/servers", headers={"X-Auth-Token": token, **headers})
    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == f"compute {echoed}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == echoed
    assert response.headers["Vary"] == VARY
    assert response.headers["Content-Type"] == "application/json"


def test_unsupported_microversion_is_406_echoing_the_request(
    http: httpx.Client, token: str, golden: Golden
) -> None:
    expected = golden("57")["response"]
    response = http.get(
        f"{COMPUTE}/servers",
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 9.99"},
    )
    assert response.status_code == 406
    assert response.json() == expected["body"]
    for name in ("Content-Type", "OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"):
        assert response.headers[name] == expected["headers"][name]


def test_malformed_microversion_is_400(http: httpx.Client, token: str) -> None:
    response = http.get(
        f"{COMPUTE}/servers", headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute x"}
    )
    assert response.status_code == 400
    assert "is of invalid format" in response.json()["badRequest"]["message"]


def test_errors_carry_the_microversion_headers_too(nova: NovaClient) -> None:
    response = nova.get("/servers/missing", version="2.61")
    assert response.status_code == 404
    assert response.headers["OpenStack-API-Version"] == "compute 2.61"
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"


def test_requests_without_a_token_get_keystonemiddlewares_401(http: httpx.Client) -> None:
    response = http.get(f"{COMPUTE}/servers")
    assert response.status_code == 401
    assert response.json()["error"]["title"] == "Unauthorized"
    bad = http.get(f"{COMPUTE}/servers", headers={"X-Auth-Token": "not-a-token"})
    assert bad.status_code == 401


def test_flavor_detail_at_2_104_has_the_golden_fields(nova: NovaClient, golden: Golden) -> None:
    (expected,) = golden("34")["response"]["body"]["flavors"]
    flavors = nova.get("/flavors/detail").json()["flavors"]
    assert {"de.NBI tiny", "de.NBI small"} <= {f["name"] for f in flavors}
    for flavor in flavors:
        assert flavor.keys() == expected.keys()
    tiny = nova.flavor()
    assert tiny["links"][0]["href"].endswith(f"{COMPUTE}/flavors/{tiny['id']}")
    assert (tiny["vcpus"], tiny["ram"], tiny["disk"], tiny["swap"]) == (1, 2048, 20, 0)


def test_flavor_fields_follow_older_microversions(nova: NovaClient) -> None:
    (old,) = [f for f in nova.get("/flavors/detail", version="2.61").json()["flavors"]
              if f["name"] == "de.NBI tiny"]  # fmt: skip
    assert old["swap"] == ""
    assert old["OS-FLV-DISABLED:disabled"] is False
    assert "extra_specs" in old
    first = nova.get("/flavors/detail", version="2.1").json()["flavors"][0]
    assert "description" not in first and "extra_specs" not in first
    plain = nova.get("/flavors").json()["flavors"][0]
    assert set(plain) == {"id", "name", "links", "description"}


def test_flavor_by_name_is_404_but_is_public_none_lists_it(nova: NovaClient) -> None:
    by_name = nova.get("/flavors/de.NBI tiny", version="2.61")
    assert by_name.status_code == 404
    assert by_name.json()["itemNotFound"]["message"] == "Flavor de.NBI tiny could not be found."
    listed = nova.get("/flavors/detail", params={"is_public": "None"}, version="2.61")
    assert "de.NBI tiny" in [f["name"] for f in listed.json()["flavors"]]
    tiny = nova.flavor()
    shown = nova.get(f"/flavors/{tiny['id']}").json()["flavor"]
    assert shown == tiny


def test_flavor_extra_specs_can_be_read(nova: NovaClient) -> None:
    tiny = nova.flavor()
    specs = nova.get(f"/flavors/{tiny['id']}/os-extra_specs")
    assert specs.json() == {"extra_specs": tiny["extra_specs"]}
    assert nova.get(f"/flavors/{tiny['id']}/os-extra_specs/nope").status_code == 404


def test_keypair_import_at_2_92_matches_the_golden_answer(
    nova: NovaClient, golden: Golden, keypair_name: str
) -> None:
    expected = golden("35")["response"]
    body = {"keypair": {"name": keypair_name, "public_key": GOLDEN_KEY, "type": "ssh"}}
    response = nova.post("/os-keypairs", body, version="2.92")
    assert response.status_code == 201
    keypair = response.json()["keypair"]
    assert keypair.keys() == expected["body"]["keypair"].keys()
    assert keypair["fingerprint"] == expected["body"]["keypair"]["fingerprint"]
    assert "private_key" not in keypair

    listed = nova.get("/os-keypairs").json()["keypairs"]
    assert {"keypair": {k: keypair[k] for k in ("type", "name", "public_key", "fingerprint")}} in (
        listed
    )
    shown = nova.get(f"/os-keypairs/{keypair_name}").json()["keypair"]
    assert shown["user_id"] == keypair["user_id"] and shown["deleted"] is False

    duplicate = nova.post("/os-keypairs", body, version="2.92")
    assert duplicate.status_code == 409
    assert duplicate.json()["conflictingRequest"]["message"] == (
        f"Key pair '{keypair_name}' already exists."
    )


def test_keypair_without_public_key_is_400_at_2_92_and_generated_before(
    nova: NovaClient, keypair_name: str
) -> None:
    refused = nova.post("/os-keypairs", {"keypair": {"name": keypair_name}}, version="2.92")
    assert refused.status_code == 400
    generated = nova.post("/os-keypairs", {"keypair": {"name": keypair_name}}, version="2.1")
    assert generated.status_code == 200
    keypair = generated.json()["keypair"]
    assert keypair["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert keypair["public_key"].startswith("ssh-rsa ")
    assert "private_key" not in nova.get(f"/os-keypairs/{keypair_name}").json()["keypair"]


def test_keypair_with_an_invalid_public_key_is_400(nova: NovaClient, keypair_name: str) -> None:
    body = {"keypair": {"name": keypair_name, "public_key": "ssh-rsa not-base64"}}
    response = nova.post("/os-keypairs", body, version="2.92")
    assert response.status_code == 400
    assert "failed to generate fingerprint" in response.json()["badRequest"]["message"]


def test_keypair_delete_is_204_and_then_404(nova: NovaClient, keypair_name: str) -> None:
    body = {"keypair": {"name": keypair_name, "public_key": GOLDEN_KEY}}
    assert nova.post("/os-keypairs", body).status_code == 201
    deleted = nova.delete(f"/os-keypairs/{keypair_name}")
    assert deleted.status_code == 204
    assert nova.get(f"/os-keypairs/{keypair_name}").status_code == 404


def test_server_with_a_key_pair_shows_its_name(nova: NovaClient, keypair_name: str) -> None:
    body = {"keypair": {"name": keypair_name, "public_key": GOLDEN_KEY}}
    assert nova.post("/os-keypairs", body).status_code == 201
    server_id = nova.boot("srv-with-key", key_name=keypair_name)
    assert nova.server(server_id)["key_name"] == keypair_name
