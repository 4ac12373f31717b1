"""Fault injection: rules through /_admin and files, each fault kind seen by real clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from keystoneauth1.exceptions import ConnectionError as KeystoneConnectionError
from openstack.connection import Connection

from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings, admin
from denbi_jupyter.localcloud.faults import FaultInjector, FaultRule
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE
from .polling import wait_for
from .test_nova_servers import COMPUTE, NovaClient, nova_client

FAULTS = "/_admin/faults"


@pytest.fixture
def faults(http: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; every rule is removed after the test."""
    http.delete(FAULTS)
    yield http
    http.delete(FAULTS)


@pytest.fixture
def nova(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    yield from nova_client(http, token)


def add(faults: httpx.Client, *rules: dict[str, Any]) -> list[dict[str, Any]]:
    response = faults.post(FAULTS, json=list(rules))
    assert response.status_code == 201, response.text
    added: list[dict[str, Any]] = response.json()["rules"]
    return added


# --- rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"kind": "meteor"}, "fault kind must be one of"),
        ({"kind": "error", "status": 404}, "status must be 500, 502 or 503"),
        ({"kind": "latency", "seconds": -1}, "seconds must be a non-negative number"),
        ({"kind": "drop", "probability": 2}, "probability must be between 0 and 1"),
        ({"kind": "drop", "count": -1}, "count must be a non-negative integer"),
        ({"kind": "drop", "service": "volume"}, "service must be one of"),
        ({"kind": "drop", "path": "("}, "path is not a valid regular expression"),
        ({"kind": "drop", "colour": "red"}, "unknown fault rule field(s): colour"),
        ({"kind": "drop", "answer": "x"}, "only a latency rule can hold an answer"),
        ({"kind": "latency", "answer": 3}, "answer must be a regular expression"),
        ({"kind": "latency", "answer": "["}, "answer is not a valid regular expression"),
    ],
)
def test_invalid_rules_are_refused_with_a_reason(rule: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        FaultRule.from_dict(rule)


def test_probability_draws_repeat_for_the_same_seed() -> None:
    def pattern(seed: int) -> list[str | None]:
        injector = FaultInjector(seed=seed)
        injector.add({"kind": "snapshot_killed", "probability": 0.5})
        return [
            injector.take_outcome("snapshot", site=SITE, method="POST", path="/x")
            for _ in range(32)
        ]

    first = pattern(7)
    assert first == pattern(7)
    assert first != pattern(8)
    assert {"killed", None} == set(first)


def test_count_limits_how_often_a_rule_fires() -> None:
    injector = FaultInjector(seed=0)
    injector.add([{"kind": "boot_error", "count": 2, "site": SITE}])
    outcomes = [
        injector.take_outcome("boot", site=SITE, method="POST", path="/servers") for _ in range(3)
    ]
    assert outcomes == ["error", "error", None]
    assert injector.take_outcome("boot", site="heidelberg", method="POST", path="/") is None
    (rule,) = injector.rules()
    assert (rule["count"], rule["fired"]) == (0, 2)


def test_admin_endpoints_add_list_and_clear_rules(faults: httpx.Client) -> None:
    (added,) = add(faults, {"kind": "latency", "seconds": 0.01, "site": "heidelberg"})
    assert added["kind"] == "latency" and added["id"] >= 1
    assert faults.get(FAULTS).json()["rules"] == [added]
    bad = faults.post(FAULTS, json={"rules": [{"kind": "drop"}, {"kind": "nope"}]})
    assert bad.status_code == 400
    assert "fault kind must be one of" in bad.json()["error"]
    assert len(faults.get(FAULTS).json()["rules"]) == 1
    assert faults.delete(FAULTS).status_code == 204
    assert faults.get(FAULTS).json() == {"rules": []}


def test_admin_endpoints_refuse_clients_that_are_not_on_loopback() -> None:
    app = FastAPI()

    class Cloud:
        faults = FaultInjector(seed=0)

    app.include_router(admin.build_router(Cloud()), prefix="/_admin")  # type: ignore[arg-type]

    async def ask() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
            listed = await client.get(FAULTS)
            added = await client.post(FAULTS, json={"kind": "drop"})
        return listed.status_code, added.status_code

    assert asyncio.run(ask()) == (403, 403)
    assert Cloud.faults.rules() == []


def test_a_fault_file_is_loaded_at_start(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"rules": [{"kind": "error", "service": "image", "count": 1}]}))
    config = LocalCloudConfig(sites=DEFAULT_SITES[:1], timings=Timings.fast(), faults_file=path)
    with (
        LocalCloud(config) as cloud,
        httpx.Client(base_url=cloud.url, headers={"Accept": "application/json"}) as client,
    ):
        first = client.get("/bielefeld/image/v2/images")
        assert first.status_code == 503
        assert first.json()["title"] == "Service Unavailable"
        assert client.get("/bielefeld/image/v2/images").status_code == 401


# --- answer faults ----------------------------------------------------------------------------


def test_error_burst_answers_the_next_requests_in_novas_shape(
    faults: httpx.Client, nova: NovaClient
) -> None:
    rule = {"kind": "error", "service": "compute", "method": "GET", "path": "/servers/detail$"}
    add(faults, {**rule, "status": 503, "count": 2})
    for _ in range(2):
        response = nova.get("/servers/detail", version="2.61")
        assert response.status_code == 503
        assert set(response.json()) == {"serviceUnavailable"}
        assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert response.headers["OpenStack-API-Version"] == "compute 2.61"
    assert nova.get("/servers/detail").status_code == 200
    assert nova.get("/servers").status_code == 200


def test_error_in_glance_and_neutron_uses_their_shapes(faults: httpx.Client, token: str) -> None:
    add(faults, {"kind": "error", "status": 500, "service": "image", "count": 1},
        {"kind": "error", "status": 502, "service": "network", "count": 1})  # fmt: skip
    headers = {"X-Auth-Token": token}
    glance = faults.get(f"/{SITE}/image/v2/images", headers=headers)
    assert glance.status_code == 500
    assert glance.json()["code"] == "500 Internal Server Error"
    neutron = faults.get(f"/{SITE}/network/v2.0/networks", headers=headers)
    assert neutron.status_code == 502
    assert "NeutronError" in neutron.json()


def test_a_rule_for_another_site_leaves_this_one_alone(
    faults: httpx.Client, nova: NovaClient
) -> None:
    add(faults, {"kind": "error", "site": "heidelberg"})
    assert nova.get("/servers").status_code == 200
    assert faults.get("/heidelberg/compute/").status_code == 503


def test_conflict_answers_409(faults: httpx.Client, nova: NovaClient) -> None:
    add(faults, {"kind": "conflict", "method": "POST", "path": "/action$", "count": 1})
    server_id = nova.boot("fault-conflict")
    nova.wait_idle(server_id, "ACTIVE")
    response = nova.action(server_id, {"os-stop": None})
    assert response.status_code == 409
    assert "conflictingRequest" in response.json()
    assert nova.server(server_id)["status"] == "ACTIVE"


def test_quota_fault_answers_novas_quota_error(faults: httpx.Client, nova: NovaClient) -> None:
    add(faults, {"kind": "quota", "service": "compute", "method": "POST", "path": "/servers$"})
    response = nova.create("fault-quota")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"].startswith("Quota exceeded for instances")


def test_latency_delays_the_matching_request_once(faults: httpx.Client, nova: NovaClient) -> None:
    add(faults, {"kind": "latency", "seconds": 0.4, "path": "/limits$", "count": 1})
    assert nova.get("/limits").status_code == 200
    assert nova.get("/limits").status_code == 200
    (rule,) = faults.get(FAULTS).json()["rules"]
    assert (rule["fired"], rule["count"]) == (1, 0)


def test_latency_waits_its_seconds_before_the_request_goes_on() -> None:
    events: list[str] = []

    async def sleep(seconds: float) -> None:
        events.append(f"wait {seconds}")

    injector = FaultInjector(sleep=sleep)
    injector.add({"kind": "latency", "seconds": 0.4, "path": "/limits$", "count": 1})
    scope = {"type": "http", "method": "GET", "path": f"/{SITE}/compute/v2.1/limits"}

    async def request() -> None:
        going_on = await injector.intercept(dict(scope), _no_body, _no_send, site=SITE)
        events.append(f"answered by fault: {going_on is None}")

    asyncio.run(request())
    asyncio.run(request())
    assert events == ["wait 0.4", "answered by fault: False", "answered by fault: False"]


async def _no_body() -> dict[str, Any]:
    raise AssertionError("a latency fault must not read the body")


async def _no_send(_message: MutableMapping[str, Any]) -> None:
    raise AssertionError("a latency fault must not answer")


def test_an_answer_hold_waits_only_for_the_answer_it_names_before_sending_it() -> None:
    events: list[str] = []

    async def sleep(seconds: float) -> None:
        events.append(f"wait {seconds}")

    async def send(message: MutableMapping[str, Any]) -> None:
        events.append(f"sent {message['type']} {message.get('body', b'').decode()}".strip())

    injector = FaultInjector(sleep=sleep)
    injector.add({"kind": "latency", "seconds": 0.4, "path": "/servers/s1$", "count": 1,
                  "answer": '"status":\\s*"ACTIVE"'})  # fmt: skip
    scope = {"type": "http", "method": "GET", "path": f"/{SITE}/compute/v2.1/servers/s1"}

    async def answer(status: str) -> None:
        assert await injector.intercept(dict(scope), _no_body, _no_send, site=SITE) is not None
        answering = injector.answer_send(dict(scope), send, site=SITE)
        await answering({"type": "http.response.start", "status": 200, "headers": []})
        await answering({"type": "http.response.body", "body": b'{"status":', "more_body": True})
        await answering({"type": "http.response.body", "body": f'"{status}"}}'.encode()})

    for status in ("BUILD", "ACTIVE", "ACTIVE"):
        asyncio.run(answer(status))
    body = "sent http.response.body"
    assert events == [
        "sent http.response.start", f'{body} {{"status":', f'{body} "BUILD"}}',
        "wait 0.4", "sent http.response.start", f'{body} {{"status":', f'{body} "ACTIVE"}}',
        "sent http.response.start", f'{body} {{"status":', f'{body} "ACTIVE"}}',
    ]  # fmt: skip
    (rule,) = injector.rules()
    assert (rule["fired"], rule["count"]) == (1, 0)


def test_an_answer_hold_fires_on_the_first_active_answer_of_a_booting_server(
    faults: httpx.Client, nova: NovaClient
) -> None:
    server_id = nova.boot("held-answer")
    add(faults, {"kind": "latency", "seconds": 0.2, "method": "GET",
                 "path": f"/servers/{server_id}$", "answer": '"status":\\s*"ACTIVE"',
                 "count": 1})  # fmt: skip
    statuses: list[str] = []

    def fired() -> int:
        (rule,) = faults.get(FAULTS).json()["rules"]
        count: int = rule["fired"]
        return count

    while not statuses or statuses[-1] != "ACTIVE":
        assert fired() == 0, f"held an answer that was not ACTIVE (answers so far: {statuses})"
        statuses.append(nova.server(server_id)["status"])
    assert fired() == 1 and "BUILD" in statuses
    assert nova.server(server_id)["status"] == "ACTIVE" and fired() == 1


def test_late_holds_a_create_past_the_clients_timeout_and_then_creates_it(
    faults: httpx.Client, nova: NovaClient
) -> None:
    name = "late-create"
    add(faults, {"kind": "late", "method": "POST", "path": "/servers$", "seconds": 1.0,
                 "count": 1})  # fmt: skip
    body = {"server": {"name": name, "imageRef": nova.image_id(),
                       "flavorRef": nova.flavor()["id"], "networks": "auto"}}  # fmt: skip
    with pytest.raises(httpx.ReadTimeout):  # the client gives up before the cloud acts
        nova.http.post(f"{nova.compute}/servers", json=body, headers=nova.headers(), timeout=0.3)

    def landed() -> list[str]:
        servers = nova.get("/servers", params={"name": f"^{name}$"}).json()["servers"]
        return [server["id"] for server in servers]

    (server_id,) = wait_for(landed, what="the late create to land", timeout=10)
    nova.booted.append(server_id)
    (rule,) = faults.get(FAULTS).json()["rules"]
    assert (rule["kind"], rule["fired"]) == ("late", 1)
    nova.wait_idle(server_id, "ACTIVE")
    nova.delete(f"/servers/{server_id}")
    nova.wait_gone(server_id)


def test_late_replays_the_body_it_held_to_the_service() -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    injector = FaultInjector(sleep=sleep)
    injector.add({"kind": "late", "seconds": 2.5, "method": "POST", "count": 1})
    scope = {"type": "http", "method": "POST", "path": f"/{SITE}/compute/v2.1/servers"}
    chunks: list[dict[str, Any]] = [
              {"type": "http.request", "body": b'{"a"', "more_body": True},
              {"type": "http.request", "body": b": 1}", "more_body": False},
              {"type": "http.disconnect"}]  # fmt: skip

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def request() -> list[MutableMapping[str, Any]]:
        going_on = await injector.intercept(dict(scope), receive, _no_send, site=SITE)
        assert going_on is not None
        return [await going_on() for _ in range(3)]

    seen = asyncio.run(request())
    assert waited == [2.5]
    assert b"".join(m.get("body", b"") for m in seen) == b'{"a": 1}'
    assert seen[-1]["type"] == "http.disconnect"  # the client had hung up meanwhile


@pytest.mark.parametrize("kind", ["token_expire", "token_revoke"])
def test_a_token_fault_ends_the_requests_token_and_keystoneauth_renews(
    faults: httpx.Client, issue_token: Any, conn: Connection, kind: str
) -> None:
    nova, bystander = NovaClient(faults, issue_token()), NovaClient(faults, issue_token())
    add(faults, {"kind": kind, "service": "compute", "path": "/flavors", "count": 1})
    assert nova.get("/flavors").status_code == 401  # the request that fired it
    assert nova.get("/limits").status_code == 401  # and every later one with that token
    assert bystander.get("/limits").status_code == 200  # other tokens live on
    add(faults, {"kind": kind, "service": "compute", "path": "/flavors", "count": 1})
    assert list(conn.compute.flavors())  # openstacksdk: 401, re-authenticates, retries once
    assert [rule["fired"] for rule in faults.get(FAULTS).json()["rules"]] == [1, 1]


def test_admin_tokens_sets_the_lifetime_and_revokes_every_token(
    faults: httpx.Client, issue_token: Any
) -> None:
    site = "heidelberg"  # its tokens are ended: not the site of the session's tokens
    before = faults.get("/_admin/tokens").json()["sites"][site]["lifetime_s"]
    try:
        answer = faults.post("/_admin/tokens", json={"site": site, "lifetime_s": 90})
        assert answer.status_code == 200, answer.text
        token = issue_token(site=site)
        shown = faults.get(
            f"/{site}/identity/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        ).json()["token"]
        issued, expires = (
            dt.datetime.fromisoformat(shown[key].replace("Z", "+00:00"))
            for key in ("issued_at", "expires_at")
        )
        assert (expires - issued).total_seconds() == 90
        other = issue_token()
        revoked = faults.post("/_admin/tokens", json={"site": site, "revoke": "all"}).json()
        assert list(revoked["sites"]) == [site]
        assert revoked["sites"][site]["ended"] >= 1
        assert NovaClient(faults, token, site=site).get("/flavors").status_code == 401
        assert NovaClient(faults, other).get("/flavors").status_code == 200  # another site
    finally:
        faults.post("/_admin/tokens", json={"site": site, "lifetime_s": before})


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"lifetime_s": 0}, "lifetime_s must be a positive number"),
        ({"revoke": "some"}, 'revoke must be "all"'),
        ({"revoke": "all", "expire": "all"}, "not both"),
        ({"ttl": 3}, "unknown token field"),
        ({"site": "atlantis", "revoke": "all"}, "unknown site"),
    ],
)
def test_admin_tokens_refuses_invalid_changes(
    faults: httpx.Client, body: dict[str, Any], complaint: str
) -> None:
    answer = faults.post("/_admin/tokens", json=body)
    assert answer.status_code == 400
    assert complaint in answer.json()["error"]


def test_the_token_lifetime_is_a_setting_of_the_cloud() -> None:
    config = LocalCloudConfig(token_lifetime_s=30, ssh=False)
    with LocalCloud(config) as cloud:
        settings = httpx.get(f"{cloud.url}/_admin/tokens").json()["sites"]
    assert {site["lifetime_s"] for site in settings.values()} == {30}


def test_drop_cuts_the_connection_for_httpx_and_openstacksdk(
    faults: httpx.Client, conn: Connection
) -> None:
    add(faults, {"kind": "drop", "path": "/flavors/detail$", "count": 2})
    with pytest.raises(httpx.RemoteProtocolError):
        faults.get(f"{COMPUTE}/flavors/detail")
    with pytest.raises(KeystoneConnectionError):
        list(conn.compute.flavors())
    assert [rule["fired"] for rule in faults.get(FAULTS).json()["rules"]] == [2]
    assert list(conn.compute.flavors())


# --- outcome faults ---------------------------------------------------------------------------


@pytest.fixture
def active(nova: NovaClient) -> str:
    server_id = nova.boot("fault-snapshots")
    nova.wait_idle(server_id, "ACTIVE")
    return server_id


def snapshot(nova: NovaClient, server_id: str) -> str:
    response = nova.action(server_id, {"createImage": {"name": "fault-snap"}})
    assert response.status_code == 202
    image_id: str = response.json()["image_id"]
    return image_id


def test_snapshot_killed_ends_killed_and_the_next_one_works(
    faults: httpx.Client, nova: NovaClient, active: str
) -> None:
    add(faults, {"kind": "snapshot_killed", "count": 1})
    killed = snapshot(nova, active)
    wait_for(lambda: nova.image(killed).json()["status"] == "killed", what="a killed image")
    nova.wait_idle(active, "ACTIVE")
    healthy = snapshot(nova, active)
    wait_for(lambda: nova.image(healthy).json()["status"] == "active", what="an active image")
    for image_id in (killed, healthy):
        faults.delete(f"{nova.images}/{image_id}", headers=nova.headers(None))


def test_snapshot_vanish_deletes_the_image_mid_upload(
    faults: httpx.Client, nova: NovaClient, active: str
) -> None:
    add(faults, {"kind": "snapshot_vanish", "count": 1})
    image_id = snapshot(nova, active)
    wait_for(lambda: nova.image(image_id).status_code == 404, what="the image to vanish")
    assert nova.wait_idle(active, "ACTIVE")["OS-EXT-STS:task_state"] is None


def test_snapshot_stuck_stays_saving_until_the_server_is_deleted(
    faults: httpx.Client, nova: NovaClient, active: str, site: Site
) -> None:
    add(faults, {"kind": "snapshot_stuck", "count": 1})
    image_id = snapshot(nova, active)
    wait_for(lambda: nova.image(image_id).json()["status"] == "saving", what="the upload")
    # Run every event the snapshot scheduled, as if an hour had passed: none finishes it.
    site.timeline.advance(now=time.time() + 3600)
    assert nova.image(image_id).json()["status"] == "saving"
    assert nova.server(active)["OS-EXT-STS:task_state"] == "image_uploading"
    again = nova.action(active, {"createImage": {"name": "blocked"}})
    assert again.status_code == 409
    assert nova.delete(f"/servers/{active}").status_code == 204
    assert nova.image(image_id).status_code == 404


def test_boot_error_ends_in_error_with_a_fault(faults: httpx.Client, nova: NovaClient) -> None:
    add(faults, {"kind": "boot_error", "count": 1})
    server_id = nova.boot("fault-boot")
    server = nova.wait_idle(server_id, "ERROR")
    assert server["OS-EXT-STS:vm_state"] == "error"
    assert server["fault"]["message"] == (
        "No valid host was found. There are not enough hosts available."
    )
    assert server["fault"]["code"] == 500 and "details" not in server["fault"]
    refused = nova.action(server_id, {"createImage": {"name": "from-error"}})
    assert refused.status_code == 409
    assert refused.json()["conflictingRequest"]["message"].endswith("in vm_state error")
    assert nova.wait_idle(nova.boot("fault-boot-next"), "ACTIVE")["status"] == "ACTIVE"
