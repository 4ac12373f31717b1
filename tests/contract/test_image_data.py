"""Glance v2 image data: upload, download and the checksum fields, through openstacksdk.

What a cross-site copy relies on: Glance records ``size``, ``checksum`` (md5),
``os_hash_algo`` (sha512) and ``os_hash_value`` of exactly the bytes received, serves them back
with ``Content-Length`` and ``Content-MD5``, takes a body without a length (chunked), and
answers ``GET /v2/info/usage`` — with the four unified limits, or ``{"usage": {}}`` when
the Glance runs without ``use_keystone_limits`` (as the real tier's does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from openstack import warnings as os_warnings
from openstack.connection import Connection

from ._support import Janitor, create_image, raw_image, wait_image_active

MIB = 1024 * 1024
#: The unified-limit resources ``/v2/info/usage`` lists, in Glance's order.
USAGE_NAMES = [
    "image_size_total",
    "image_stage_total",
    "image_count_total",
    "image_count_uploading",
]


def sample(label: str, size: int) -> bytes:
    """``size`` bytes that differ per label (a raw image accepts any bytes)."""
    block = hashlib.sha512(label.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def expected_fields(data: bytes) -> dict[str, Any]:
    """The data fields Glance must show for ``data``."""
    return {
        "size": len(data),
        "checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(data).hexdigest(),
    }


def data_fields(image: dict[str, Any]) -> dict[str, Any]:
    return {key: image[key] for key in ("size", "checksum", "os_hash_algo", "os_hash_value")}


def test_create_image_uploads_and_glance_records_the_clients_hashes(
    conn: Connection, janitor: Janitor
) -> None:
    data = sample("create_image", 3 * MIB + 17)
    name = janitor.new_image_name("data-create")
    image = conn.image.create_image(
        name,
        data=data,
        disk_format="raw",
        container_format="bare",
        wait=True,
        timeout=janitor.timeouts.snapshot,
    )
    janitor.image_ids.append(image.id)
    shown = wait_image_active(conn, image.id, janitor.timeouts)
    assert data_fields(shown) == expected_fields(data)
    fetched = conn.image.get_image(image.id)
    assert (fetched.size, fetched.checksum, fetched.hash_algo, fetched.hash_value) == (
        len(data),
        shown["checksum"],
        "sha512",
        shown["os_hash_value"],
    )


def test_deprecated_upload_image_stores_the_same_fields(conn: Connection, janitor: Janitor) -> None:
    data = sample("upload_image", 200_000)
    with pytest.warns(os_warnings.RemovedInSDK50Warning):
        image = conn.image.upload_image(
            name=janitor.new_image_name("data-upload"),
            data=data,
            disk_format="raw",
            container_format="bare",
        )
    janitor.image_ids.append(image.id)
    shown = wait_image_active(conn, image.id, janitor.timeouts)
    assert data_fields(shown) == expected_fields(data)


@pytest.fixture(scope="module")
def stored(run_id: str, module_janitor: Janitor) -> tuple[dict[str, Any], bytes]:
    """One active image of 2 MiB + 3 bytes and its data."""
    data = sample(run_id, 2 * MIB + 3)
    name = module_janitor.new_image_name("data-stored")
    return create_image(module_janitor, raw_image(name), data=data), data


def test_streamed_download_has_glances_headers_and_the_stored_bytes(
    conn: Connection, stored: tuple[dict[str, Any], bytes]
) -> None:
    image, data = stored
    response = conn.image.download_image(image["id"], stream=True)
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Length"] == str(len(data))
        assert response.headers["Content-MD5"] == image["checksum"]
        hasher, size = hashlib.sha512(), 0
        for chunk in response.iter_content(256 * 1024):
            hasher.update(chunk)
            size += len(chunk)
    finally:
        response.close()
    assert (size, hasher.hexdigest()) == (image["size"], image["os_hash_value"])


def test_download_without_stream_gives_the_whole_data(
    conn: Connection, stored: tuple[dict[str, Any], bytes]
) -> None:
    image, data = stored
    response = conn.image.download_image(image["id"])
    assert response.content == data
    assert data_fields(image) == expected_fields(data)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_chunked_upload_without_a_length_is_accepted(conn: Connection, janitor: Janitor) -> None:
    data = sample("chunked", MIB + 999)
    image = create_image(janitor, raw_image(janitor.new_image_name("data-chunked")))
    response = conn.image.put(
        f"/images/{image['id']}/file",
        data=_chunks(data, 64 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 204, response.text[:500]
    shown = wait_image_active(conn, image["id"], janitor.timeouts)
    assert data_fields(shown) == expected_fields(data)
    assert conn.image.download_image(image["id"]).content == data


def test_download_of_an_image_without_data_is_204(conn: Connection, janitor: Janitor) -> None:
    image = create_image(janitor, raw_image(janitor.new_image_name("data-empty")))
    response = conn.image.get(f"/images/{image['id']}/file")
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers


def test_info_usage_lists_the_four_limits_or_nothing(conn: Connection) -> None:
    response = conn.image.get("/info/usage")
    assert response.status_code == 200, response.text[:500]
    usage = response.json()["usage"]
    if not usage:  # Glance without use_keystone_limits (the real tier)
        assert response.json() == {"usage": {}}
        return
    assert list(usage) == USAGE_NAMES
    for entry in usage.values():
        assert set(entry) == {"limit", "usage"}
        assert isinstance(entry["limit"], int) and isinstance(entry["usage"], int)
        assert entry["limit"] >= -1 and entry["usage"] >= 0
