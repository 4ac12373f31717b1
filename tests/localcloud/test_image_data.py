"""Image data on the local cloud: snapshot disks, downloads, chunked uploads, the data faults
(cut, corrupt, refused) and Glance's unified-limit image quota with ``/v2/info/usage``."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from openstack import exceptions
from openstack.connection import Connection

from denbi_jupyter.localcloud.glance_records import set_image_status
from denbi_jupyter.localcloud.image_data import (
    BLOCK_BYTES,
    SNAPSHOT_BYTES_ENV,
    disk_chunks,
    snapshot_bytes,
)
from denbi_jupyter.localcloud.image_limits import LIMIT_EXCEEDED
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE
from .test_glance_images import IMAGES, Glance
from .test_nova_actions import delete_image, wait_image
from .test_nova_servers import NovaClient, nova_client

FAULTS = "/_admin/faults"
LIMITS = "/_admin/image-limits"
USAGE = f"/{SITE}/image/v2/info/usage"
MIB = 1024 * 1024
TOO_LARGE = "The incoming image is too large: The provided image is too large."


@pytest.fixture
def api(http: httpx.Client, token: str) -> Iterator[Glance]:
    client = Glance(http, token)
    yield client
    client.cleanup()


@pytest.fixture
def faults(http: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; every fault rule is removed after the test."""
    http.delete(FAULTS)
    yield http
    http.delete(FAULTS)


@pytest.fixture
def limits(http: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; every image limit goes back to the configuration after the test."""
    http.delete(LIMITS)
    yield http
    assert http.delete(LIMITS).status_code == 204


@pytest.fixture
def nova(http: httpx.Client, token: str) -> Iterator[NovaClient]:
    yield from nova_client(http, token)


def add_fault(http: httpx.Client, rule: dict[str, Any]) -> None:
    response = http.post(FAULTS, json=rule)
    assert response.status_code == 201, response.text


def set_limits(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post(LIMITS, json={"site": SITE, **body})
    assert response.status_code == 200, response.text
    changed: dict[str, Any] = response.json()["sites"][SITE]
    return changed


def uploaded(api: Glance, data: bytes) -> dict[str, Any]:
    image = api.new(disk_format="raw", container_format="bare")
    assert api.upload(image["id"], data).status_code == 204
    shown: dict[str, Any] = api.show(image["id"]).json()
    return shown


def usage(api: Glance) -> dict[str, Any]:
    response = api.http.get(USAGE, headers=api.headers)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, dict[str, Any]] = response.json()
    return body["usage"]


def pattern(size: int) -> bytes:
    return bytes(index % 251 for index in range(size))


# --- generated disks ---------------------------------------------------------------------


def test_disk_chunks_are_deterministic_incompressible_and_extend_with_size() -> None:
    first = b"".join(disk_chunks("disk of a", 3 * MIB + 5))
    assert first == b"".join(disk_chunks("disk of a", 3 * MIB + 5))
    assert len(first) == 3 * MIB + 5
    assert b"".join(disk_chunks("disk of a", MIB)) == first[:MIB]
    assert b"".join(disk_chunks("disk of b", MIB)) != first[:MIB]
    blocks = {first[at : at + BLOCK_BYTES] for at in range(0, 3 * MIB, BLOCK_BYTES)}
    assert len(blocks) == 3 * MIB // BLOCK_BYTES
    assert len(zlib.compress(first, 9)) > 0.99 * len(first)
    assert max(len(chunk) for chunk in disk_chunks("x", 5 * MIB)) == MIB


def test_snapshot_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SNAPSHOT_BYTES_ENV, raising=False)
    assert snapshot_bytes() == 4 * MIB
    monkeypatch.setenv(SNAPSHOT_BYTES_ENV, "12345")
    assert snapshot_bytes() == 12345
    monkeypatch.setenv(SNAPSHOT_BYTES_ENV, "4M")
    with pytest.raises(ValueError, match=f"{SNAPSHOT_BYTES_ENV} must be a number of bytes"):
        snapshot_bytes()


def test_snapshot_data_is_the_servers_disk_with_glances_hashes(
    nova: NovaClient, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = MIB + 4321
    monkeypatch.setenv(SNAPSHOT_BYTES_ENV, str(size))
    server_id = nova.boot("srv-data")
    nova.wait_idle(server_id, "ACTIVE")
    response = nova.action(server_id, {"createImage": {"name": "snap-data"}})
    assert response.status_code == 202
    image_id = response.json()["image_id"]
    try:
        image = wait_image(nova, image_id, "active")
        expected = b"".join(disk_chunks(f"disk of {server_id}", size))
        assert image["size"] == size
        assert image["checksum"] == hashlib.md5(expected, usedforsecurity=False).hexdigest()
        assert image["os_hash_algo"] == "sha512"
        assert image["os_hash_value"] == hashlib.sha512(expected).hexdigest()
        streamed = conn.image.download_image(image_id, stream=True)
        assert streamed.headers["Content-MD5"] == image["checksum"]
        assert b"".join(streamed.iter_content(64 * 1024)) == expected
    finally:
        delete_image(nova, image_id)


# --- download and upload -----------------------------------------------------------------


def test_download_answers_octet_stream_with_length_and_md5(api: Glance) -> None:
    data = pattern(300_000)
    image = uploaded(api, data)
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    assert response.content == data


def test_download_is_404_when_invisible_and_403_when_deactivated(
    api: Glance, site: Site, issue_token: Any
) -> None:
    image = uploaded(api, b"private bytes")
    other = {"X-Auth-Token": issue_token(project="denbi-course"), "Accept": "application/json"}
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=other)
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"No image found with ID {image['id']}")
    with site.store.tx() as conn:
        set_image_status(conn, image["id"], "deactivated")
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert response.status_code == 403
    assert "Image data download is forbidden." in response.json()["message"]


def test_download_without_data_is_204_without_a_content_type(api: Glance) -> None:
    image = api.new()
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert (response.status_code, response.content) == (204, b"")
    assert "Content-Type" not in response.headers  # as real Glance 33 answers


def test_chunked_upload_is_stored_with_glances_hashes(api: Glance) -> None:
    parts = [pattern(70_000), b"tail" * 1000, pattern(5)]
    data = b"".join(parts)
    image = api.new(disk_format="raw", container_format="bare")
    headers = {**api.headers, "Content-Type": "application/octet-stream"}
    response = api.http.put(f"{IMAGES}/{image['id']}/file", content=iter(parts), headers=headers)
    assert response.status_code == 204
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    shown = api.show(image["id"]).json()
    assert (shown["status"], shown["size"]) == ("active", len(data))
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()


# --- data faults ---------------------------------------------------------------------------


def test_download_cut_sends_full_headers_then_part_of_the_data(
    api: Glance, faults: httpx.Client
) -> None:
    data = pattern(3 * MIB)
    image = uploaded(api, data)
    add_fault(faults, {"kind": "download_cut", "after_bytes": 100_000, "count": 1})
    received = bytearray()
    url = f"{IMAGES}/{image['id']}/file"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        api.http.stream("GET", url, headers=api.headers) as response,
    ):
        assert response.headers["Content-Length"] == str(len(data))
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == data[:100_000]
    assert api.http.get(url, headers=api.headers).content == data


def test_download_cut_defaults_to_half_the_image_for_openstacksdk(
    api: Glance, faults: httpx.Client, conn: Connection
) -> None:
    data = pattern(2 * MIB)
    image = uploaded(api, data)
    add_fault(faults, {"kind": "download_cut", "path": image["id"]})
    response = conn.image.download_image(image["id"], stream=True)
    received = bytearray()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(64 * 1024):
            received += chunk
    assert bytes(received) == data[:MIB]


def test_download_corrupt_flips_one_byte_under_the_original_headers(
    api: Glance, faults: httpx.Client
) -> None:
    data = pattern(2 * MIB + 7)
    image = uploaded(api, data)
    add_fault(faults, {"kind": "download_corrupt", "count": 1})
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert response.status_code == 200
    assert response.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    body = response.content
    assert len(body) == len(data)
    assert [at for at in range(len(data)) if body[at] != data[at]] == [len(data) // 2]
    assert hashlib.md5(body).hexdigest() != response.headers["Content-MD5"]


def test_openstacksdk_notices_a_corrupt_download(
    api: Glance, faults: httpx.Client, conn: Connection
) -> None:
    image = uploaded(api, pattern(MIB))
    add_fault(faults, {"kind": "download_corrupt", "after_bytes": 10, "count": 1})
    with pytest.raises(exceptions.InvalidResponse, match="checksum mismatch"):
        conn.image.download_image(image["id"])


def test_upload_refused_answers_glances_413_and_leaves_the_image_queued(
    api: Glance, faults: httpx.Client, token: str, local_cloud: Any
) -> None:
    add_fault(faults, {"kind": "upload_refused", "count": 1})
    image = api.new(disk_format="raw", container_format="bare")
    # requests, as openstacksdk: a 4 MiB body is drained, so the client reads the 413.
    response = requests.put(
        f"{local_cloud.url}{IMAGES}/{image['id']}/file",
        data=pattern(4 * MIB),
        headers={
            "X-Auth-Token": token,
            "Content-Type": "application/octet-stream",
            "Accept": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["message"].startswith(TOO_LARGE)
    assert api.show(image["id"]).json()["status"] == "queued"
    assert api.upload(image["id"], b"now it fits").status_code == 204


def test_data_faults_act_only_on_the_data_paths(api: Glance, faults: httpx.Client) -> None:
    image = uploaded(api, b"abc" * 1000)
    add_fault(faults, {"kind": "download_cut"})
    add_fault(faults, {"kind": "upload_refused"})
    assert api.show(image["id"]).status_code == 200
    assert api.new()["status"] == "queued"
    assert [rule["fired"] for rule in faults.get(FAULTS).json()["rules"]] == [0, 0]


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"kind": "error", "method": "GET", "status": 502}, 502),
        ({"kind": "quota", "method": "PUT"}, 413),
        ({"kind": "latency", "seconds": 0}, 200),
    ],
)
def test_answer_faults_work_on_the_data_paths(
    api: Glance, faults: httpx.Client, rule: dict[str, Any], status: int
) -> None:
    image = uploaded(api, b"x" * 5000) if rule.get("method") != "PUT" else api.new()
    add_fault(faults, {**rule, "path": "/file$", "count": 1})
    url = f"{IMAGES}/{image['id']}/file"
    if rule.get("method") == "PUT":
        headers = {**api.headers, "Content-Type": "application/octet-stream"}
        response = api.http.put(url, content=pattern(2 * MIB), headers=headers)
        assert api.show(image["id"]).json()["status"] == "queued"
    else:
        response = api.http.get(url, headers=api.headers)
    assert response.status_code == status
    assert faults.get(FAULTS).json()["rules"][0]["fired"] == 1


def test_drop_on_an_upload_closes_the_connection(api: Glance, faults: httpx.Client) -> None:
    image = api.new()
    add_fault(faults, {"kind": "drop", "method": "PUT", "path": "/file$", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        api.upload(image["id"], pattern(MIB))
    assert api.show(image["id"]).json()["status"] == "queued"


def test_after_bytes_must_be_a_non_negative_integer(faults: httpx.Client) -> None:
    response = faults.post(FAULTS, json={"kind": "download_cut", "after_bytes": -1})
    assert response.status_code == 400
    assert "after_bytes must be a non-negative integer" in response.json()["error"]


# --- quota -----------------------------------------------------------------------------------


def test_info_usage_has_glances_shape_and_counts(
    api: Glance, limits: httpx.Client, site: Site, project_id: str
) -> None:
    set_limits(limits, image_count_total=500, image_size_total=1000)
    before = usage(api)
    assert list(before) == [
        "image_size_total",
        "image_stage_total",
        "image_count_total",
        "image_count_uploading",
    ]
    assert before["image_count_total"]["limit"] == 500
    assert before["image_size_total"]["limit"] == 1000
    assert before["image_stage_total"] == {"limit": -1, "usage": 0}
    uploaded(api, pattern(3 * MIB))
    after = usage(api)
    assert after["image_count_total"]["usage"] == before["image_count_total"]["usage"] + 1
    with site.store.tx() as conn:
        stored = conn.execute(
            "SELECT SUM(size) FROM images WHERE owner = ? AND status = 'active'", (project_id,)
        ).fetchone()[0]
    assert after["image_size_total"]["usage"] == stored // MIB


def test_create_over_the_image_count_is_413_with_glances_message(
    api: Glance, limits: httpx.Client, project_id: str
) -> None:
    count = usage(api)["image_count_total"]["usage"]
    set_limits(limits, project_id=project_id, image_count_total=count + 1)
    api.new()
    response = api.create()
    assert response.status_code == 413
    reason = (
        f"Project {project_id} is over a limit for [Resource image_count_total is over limit "
        f"of {count + 1} due to current usage {count + 1} and delta 1]"
    )
    assert response.json()["message"].startswith(LIMIT_EXCEEDED.format(body=reason))


def test_upload_over_the_size_total_is_413_and_leaves_the_image_queued(
    api: Glance, limits: httpx.Client, project_id: str
) -> None:
    used = usage(api)["image_size_total"]["usage"]
    set_limits(limits, project_id=project_id, image_size_total=used + 2)
    image = api.new()
    response = api.upload(image["id"], pattern(3 * MIB))
    assert response.status_code == 413
    assert f"Resource image_size_total is over limit of {used + 2}" in response.json()["message"]
    assert f"current usage {used} and delta 3]" in response.json()["message"]
    headers = {**api.headers, "Content-Type": "application/octet-stream"}
    chunked = iter([pattern(MIB)] * 3)
    url = f"{IMAGES}/{image['id']}/file"
    assert api.http.put(url, content=chunked, headers=headers).status_code == 413
    assert api.show(image["id"]).json()["status"] == "queued"
    assert api.upload(image["id"], pattern(MIB)).status_code == 204


def test_no_upload_may_start_when_image_count_uploading_is_zero(
    api: Glance, limits: httpx.Client
) -> None:
    set_limits(limits, image_count_uploading=0)
    image = api.new()
    response = api.upload(image["id"], b"data")
    assert response.status_code == 413
    assert "Resource image_count_uploading is over limit of 0" in response.json()["message"]
    assert api.show(image["id"]).json()["status"] == "queued"


def test_without_keystone_limits_usage_is_empty_and_nothing_is_enforced(
    api: Glance, limits: httpx.Client
) -> None:
    set_limits(limits, use_keystone_limits=False, image_count_total=0)
    assert usage(api) == {}
    assert api.create().status_code == 201


def test_limits_of_one_project_leave_the_others_alone(
    api: Glance, limits: httpx.Client, issue_token: Any, project_id: str
) -> None:
    set_limits(limits, project_id=project_id, image_count_total=0)
    assert api.create().status_code == 413
    course = Glance(api.http, issue_token(project="denbi-course"))
    try:
        assert course.create().status_code == 201
    finally:
        course.cleanup()
    described = limits.get(LIMITS).json()["sites"][SITE]
    assert described["projects"][project_id]["image_count_total"] == 0
    assert described["default"]["image_count_total"] == -1


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"image_count_total": -2}, "image_count_total must be an integer >= -1"),
        ({"image_size_total": "10"}, "image_size_total must be an integer >= -1"),
        ({"use_keystone_limits": "no"}, "use_keystone_limits must be true or false"),
        ({"image_count": 3}, "unknown image limit field(s): image_count"),
        ({"site": "atlantis"}, "unknown site 'atlantis'"),
    ],
)
def test_invalid_limit_changes_are_400(
    limits: httpx.Client, body: dict[str, Any], complaint: str
) -> None:
    response = limits.post(LIMITS, json=body)
    assert response.status_code == 400
    assert complaint in response.json()["error"]
    assert limits.get(LIMITS).json()["sites"][SITE]["projects"] == {}


@pytest.fixture(scope="module")
def project_id(conn: Connection) -> str:
    project = conn.current_project_id
    assert project
    return str(project)
