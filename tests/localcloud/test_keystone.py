"""Keystone v3 of the local cloud, over real HTTP: discovery, tokens, projects, catalog."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from keystoneauth1.exceptions.http import Unauthorized
from openstack.connection import Connection
from openstack.identity.v3._proxy import Proxy as IdentityV3

from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.localcloud.seed import (
    PRIMARY_PROJECT,
    SECOND_PROJECT,
    USER_NAME,
    app_credential,
)
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE, Connect, IssueToken, password_auth

IDENTITY = f"/{SITE}/identity"
TOKENS = f"{IDENTITY}/v3/auth/tokens"
SERVICES = {"identity", "image", "compute", "network"}


def auth_headers(token: str, subject: str | None = None) -> dict[str, str]:
    headers = {"X-Auth-Token": token}
    if subject is not None:
        headers["X-Subject-Token"] = subject
    return headers


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- discovery -----------------------------------------------------------------------------


def test_root_answers_300_with_location_of_v3(
    http: httpx.Client, local_cloud: LocalCloud, golden: Callable[[str], dict[str, Any]]
) -> None:
    response = http.get(f"{IDENTITY}/")
    expected = golden("01")["response"]
    assert response.status_code == expected["status"] == 300
    assert response.headers["Location"] == f"{local_cloud.url}{IDENTITY}/v3/"
    assert response.headers["Vary"] == "X-Auth-Token"
    version = response.json()["versions"]["values"][0]
    golden_version = expected["body"]["versions"]["values"][0]
    assert version["id"] == golden_version["id"] == "v3.14"
    assert version["media-types"] == golden_version["media-types"]
    assert version["links"] == [{"rel": "self", "href": f"{local_cloud.url}{IDENTITY}/v3/"}]


def test_v3_document_is_200_and_has_no_trailing_slash_issue(
    http: httpx.Client, golden: Callable[[str], dict[str, Any]]
) -> None:
    for path in (f"{IDENTITY}/v3", f"{IDENTITY}/v3/"):
        response = http.get(path)
        assert response.status_code == 200
        assert response.headers["Vary"] == "X-Auth-Token"
        assert set(response.json()["version"]) == set(golden("02")["response"]["body"]["version"])


# --- password tokens -----------------------------------------------------------------------


def test_password_token_is_201_with_the_token_only_in_the_header(
    http: httpx.Client, credentials: dict[str, str], golden: Callable[[str], dict[str, Any]]
) -> None:
    body = password_auth(credentials["username"], credentials["password"], PRIMARY_PROJECT)
    response = http.post(TOKENS, json=body)
    assert response.status_code == 201
    assert response.headers["Vary"] == "X-Auth-Token"
    token_id = response.headers["X-Subject-Token"]
    assert token_id not in response.text
    token = response.json()["token"]
    assert set(token) == set(golden("03")["response"]["body"]["token"])
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == USER_NAME
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["name"] == PRIMARY_PROJECT
    assert {role["name"] for role in token["roles"]} == {"member", "reader"}
    lifetime = parse_time(token["expires_at"]) - parse_time(token["issued_at"])
    assert lifetime == dt.timedelta(hours=1)
    assert len(token["audit_ids"]) == 1


def test_catalog_lists_four_services_with_three_interfaces_in_the_site_region(
    http: httpx.Client, credentials: dict[str, str], local_cloud: LocalCloud
) -> None:
    body = password_auth(credentials["username"], credentials["password"], PRIMARY_PROJECT)
    catalog = http.post(TOKENS, json=body).json()["token"]["catalog"]
    assert {service["type"] for service in catalog} == SERVICES
    urls = {}
    for service in catalog:
        assert {e["interface"] for e in service["endpoints"]} == {"public", "internal", "admin"}
        assert {e["region_id"] for e in service["endpoints"]} == {"Bielefeld"}
        assert {e["region"] for e in service["endpoints"]} == {"Bielefeld"}
        urls[service["type"]] = service["endpoints"][0]["url"]
    base = f"{local_cloud.url}/{SITE}"
    assert urls == {
        "identity": f"{base}/identity/v3",
        "image": f"{base}/image",
        "compute": f"{base}/compute/v2.1",
        "network": f"{base}/network",
    }


def test_catalog_urls_follow_the_address_the_client_used(
    local_cloud: LocalCloud, credentials: dict[str, str]
) -> None:
    url = local_cloud.url.replace("127.0.0.1", "localhost")
    body = password_auth(credentials["username"], credentials["password"], PRIMARY_PROJECT)
    with httpx.Client(base_url=url) as client:
        catalog = client.post(TOKENS, json=body).json()["token"]["catalog"]
    assert all(e["url"].startswith(url) for s in catalog for e in s["endpoints"])


def test_heidelberg_is_a_separate_cloud_with_its_own_region(
    http: httpx.Client, issue_token: IssueToken, token: str
) -> None:
    other = issue_token(site="heidelberg")
    validated = http.get(
        "/heidelberg/identity/v3/auth/tokens", headers=auth_headers(other, other)
    ).json()["token"]
    regions = {e["region"] for s in validated["catalog"] for e in s["endpoints"]}
    assert regions == {"Heidelberg"}
    refused = http.get("/heidelberg/identity/v3/auth/projects", headers=auth_headers(token))
    assert refused.status_code == 401


def test_user_and_project_may_be_given_by_id(
    http: httpx.Client, credentials: dict[str, str], token: str
) -> None:
    shown = http.get(TOKENS, headers=auth_headers(token, token)).json()["token"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"id": shown["user"]["id"], "password": credentials["password"]}
                },
            },
            "scope": {"project": {"id": shown["project"]["id"]}},
        }
    }
    response = http.post(TOKENS, json=body)
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == shown["project"]["id"]


def test_unscoped_token_has_no_project_and_no_catalog(
    http: httpx.Client, credentials: dict[str, str]
) -> None:
    body = password_auth(credentials["username"], credentials["password"], None)
    response = http.post(TOKENS, json=body)
    assert response.status_code == 201
    token = response.json()["token"]
    assert "project" not in token and "catalog" not in token
    assert token["user"]["name"] == USER_NAME


def test_second_project_scope_works_and_a_foreign_project_is_refused(
    http: httpx.Client, credentials: dict[str, str]
) -> None:
    second = password_auth(credentials["username"], credentials["password"], SECOND_PROJECT)
    assert http.post(TOKENS, json=second).status_code == 201
    foreign = password_auth(credentials["username"], credentials["password"], "genomics-lab")
    assert http.post(TOKENS, json=foreign).status_code == 401


def test_wrong_password_is_401_in_keystone_shape_without_a_token(
    http: httpx.Client, golden: Callable[[str], dict[str, Any]]
) -> None:
    wrong = "not-the-password-4711"
    response = http.post(TOKENS, json=password_auth(USER_NAME, wrong, PRIMARY_PROJECT))
    expected = golden("04")["response"]
    assert response.status_code == expected["status"] == 401
    assert response.json() == expected["body"]
    assert response.headers["Vary"] == "X-Auth-Token"
    assert "X-Subject-Token" not in response.headers
    assert wrong not in response.text


def test_unknown_user_and_unknown_domain_are_401(http: httpx.Client) -> None:
    assert http.post(TOKENS, json=password_auth("nobody", "x", None)).status_code == 401
    body = password_auth(USER_NAME, "x", None, domain="Nowhere")
    assert http.post(TOKENS, json=body).status_code == 401


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"auth": {}}', b'{"auth": {"identity": {"methods": []}}}'],
)
def test_malformed_auth_request_is_400_not_500(http: httpx.Client, content: bytes) -> None:
    response = http.post(TOKENS, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "title"}


# --- validate and revoke -------------------------------------------------------------------


def test_validate_returns_the_token_and_delete_revokes_it(
    http: httpx.Client, issue_token: IssueToken, token: str
) -> None:
    victim = issue_token()
    shown = http.get(TOKENS, headers=auth_headers(token, victim))
    assert shown.status_code == 200
    assert shown.headers["X-Subject-Token"] == victim
    assert shown.json()["token"]["project"]["name"] == PRIMARY_PROJECT
    assert http.head(TOKENS, headers=auth_headers(token, victim)).status_code == 200
    assert http.delete(TOKENS, headers=auth_headers(token, victim)).status_code == 204
    assert http.get(TOKENS, headers=auth_headers(token, victim)).status_code == 404
    assert http.get(f"{IDENTITY}/v3/auth/projects", headers=auth_headers(victim)).status_code == 401


def test_requests_without_a_token_are_401_with_vary(http: httpx.Client) -> None:
    response = http.get(f"{IDENTITY}/v3/auth/projects")
    assert response.status_code == 401
    assert response.headers["Vary"] == "X-Auth-Token"
    assert response.json()["error"]["title"] == "Unauthorized"


# --- application credentials -----------------------------------------------------------------


def test_application_credential_by_id_gives_a_token_for_the_primary_project(
    http: httpx.Client, credentials: dict[str, str]
) -> None:
    cred = app_credential(SITE, credentials["password"])
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred.id, "secret": cred.secret},
            }
        }
    }
    response = http.post(TOKENS, json=body)
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["methods"] == ["application_credential"]
    assert token["project"]["name"] == PRIMARY_PROJECT
    assert token["application_credential"]["id"] == cred.id
    assert cred.secret not in response.text


def test_application_credential_by_name_and_wrong_secret(
    http: httpx.Client, credentials: dict[str, str]
) -> None:
    cred = app_credential(SITE, credentials["password"])
    ref = {
        "name": cred.name,
        "user": {"name": USER_NAME, "domain": {"name": "Default"}},
        "secret": cred.secret,
    }
    identity = {"methods": ["application_credential"], "application_credential": ref}
    assert http.post(TOKENS, json={"auth": {"identity": identity}}).status_code == 201
    ref["secret"] = "wrong-secret"
    response = http.post(TOKENS, json={"auth": {"identity": identity}})
    assert response.status_code == 401
    assert "wrong-secret" not in response.text


def test_openstacksdk_authenticates_with_an_application_credential_entry(
    local_cloud: LocalCloud, credentials: dict[str, str], connect: Connect, tmp_path: Path
) -> None:
    cred = app_credential(SITE, credentials["password"])
    entry = {
        "auth_type": "v3applicationcredential",
        "auth": {
            "auth_url": f"{local_cloud.url}/{SITE}/identity/v3",
            "application_credential_id": cred.id,
            "application_credential_secret": cred.secret,
        },
        "region_name": "Bielefeld",
    }
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {f"{SITE}-appcred": entry}}))
    connection = connect(f"{SITE}-appcred", config_file=path)
    assert connection.image.find_image("X2Go_xfce") is not None


# --- projects and catalog --------------------------------------------------------------------


def test_auth_projects_lists_both_projects_with_golden_links(
    http: httpx.Client, token: str, local_cloud: LocalCloud, golden: Callable[[str], dict[str, Any]]
) -> None:
    response = http.get(f"{IDENTITY}/v3/auth/projects", headers=auth_headers(token))
    assert response.status_code == 200
    body = response.json()
    expected = golden("05")["response"]["body"]
    assert {p["name"] for p in body["projects"]} == {PRIMARY_PROJECT, SECOND_PROJECT}
    assert set(body["projects"][0]) == set(expected["projects"][0])
    assert body["links"] == {
        "next": None,
        "self": f"{local_cloud.url}{IDENTITY}/v3/auth/projects",
        "previous": None,
    }


def test_user_projects_of_self_and_refusal_for_another_user(
    http: httpx.Client, token: str, site: Site
) -> None:
    me = http.get(TOKENS, headers=auth_headers(token, token)).json()["token"]["user"]["id"]
    response = http.get(f"{IDENTITY}/v3/users/{me}/projects", headers=auth_headers(token))
    assert response.status_code == 200
    assert len(response.json()["projects"]) == 2
    assert response.json()["links"]["self"].endswith(f"/v3/users/{me}/projects")
    with site.store.tx() as conn:
        alice = conn.execute("SELECT id FROM users WHERE name = 'alice'").fetchone()["id"]
    other = http.get(f"{IDENTITY}/v3/users/{alice}/projects", headers=auth_headers(token))
    assert other.status_code == 403


def test_show_project_of_the_user_and_refusal_for_a_foreign_one(
    http: httpx.Client, token: str, site: Site
) -> None:
    with site.store.tx() as conn:
        ids = {r["name"]: r["id"] for r in conn.execute("SELECT id, name FROM projects")}
    own = http.get(f"{IDENTITY}/v3/projects/{ids[SECOND_PROJECT]}", headers=auth_headers(token))
    assert own.status_code == 200
    assert own.json()["project"]["name"] == SECOND_PROJECT
    foreign = http.get(f"{IDENTITY}/v3/projects/{ids['genomics-lab']}", headers=auth_headers(token))
    assert foreign.status_code == 403


def test_auth_catalog_matches_the_token_catalog(http: httpx.Client, token: str) -> None:
    catalog = http.get(f"{IDENTITY}/v3/auth/catalog", headers=auth_headers(token)).json()
    in_token = http.get(TOKENS, headers=auth_headers(token, token)).json()["token"]["catalog"]
    assert catalog["catalog"] == in_token


# --- through the clients -------------------------------------------------------------------


def test_openstacksdk_password_entry_is_scoped_to_the_primary_project(conn: Connection) -> None:
    identity = conn.identity
    assert isinstance(identity, IdentityV3)
    assert conn.current_project_id and conn.current_user_id
    project = identity.get_project(conn.current_project_id)
    assert project.name == PRIMARY_PROJECT
    assert {p.name for p in identity.user_projects(conn.current_user_id)} == {
        PRIMARY_PROJECT,
        SECOND_PROJECT,
    }


def test_openstacksdk_refuses_a_wrong_password(conn: Connection) -> None:
    wrong = conn.connect_as(password="definitely-wrong")
    try:
        with pytest.raises(Unauthorized):
            wrong.session.get_token()
    finally:
        wrong.close()


def test_passwords_and_secrets_are_stored_only_as_hashes(
    site: Site, credentials: dict[str, str]
) -> None:
    cred = app_credential(SITE, credentials["password"])
    files = [site.store.path, site.store.path.with_name(site.store.path.name + "-wal")]
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    assert credentials["password"].encode() not in raw
    assert cred.secret.encode() not in raw
    with closing(sqlite3.connect(site.store.path)) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("pbkdf2_sha256$") for h in hashes)
