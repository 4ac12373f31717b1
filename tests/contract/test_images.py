"""Glance v2: list filters, sorting, paging, upload, show, JSON-patch and delete rules.

Three images of our own carry the run's tag, so every listing is scoped to a known set:
``alpha`` (private, active, tags T and T-x), ``beta`` (shared, active, tags T and T-y) and
``gamma`` (shared, queued without data, tags T, T-x and T-y). ``alpha`` and ``beta`` carry the
custom property ``denbi_contract=<run id>``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from openstack.connection import Connection
from openstack.image.v2._proxy import Proxy as GlanceV2

from ._support import (
    ACCEPT_JSON,
    JSON_PATCH,
    Janitor,
    Timeouts,
    assert_glance_error,
    create_image,
    image_json,
    iter_pages,
    raw_image,
    unique,
    wait_image_active,
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The run's three images and the tags that select them."""

    tag: str
    tag_x: str
    tag_y: str
    alpha: dict[str, Any]
    beta: dict[str, Any]
    gamma: dict[str, Any]

    def ids(self, *names: str) -> set[str]:
        """Ids of the named members (``"alpha"``, ...)."""
        return {getattr(self, name)["id"] for name in names}


@pytest.fixture(scope="module")
def catalog(run_id: str, module_janitor: Janitor) -> Catalog:
    """Upload the run's images (alpha, beta, gamma in that order)."""
    tag = f"contract-{run_id}"
    tag_x, tag_y = f"{tag}-x", f"{tag}-y"
    prefix = unique(run_id, "img")

    def make(label: str, tags: list[str], data: bytes | None, **extra: Any) -> dict[str, Any]:
        body = raw_image(f"{prefix}-{label}", tags=tags, **extra)
        return create_image(module_janitor, body, data=data)

    alpha = make("alpha", [tag, tag_x], b"a" * 2048, visibility="private", denbi_contract=run_id)
    beta = make("beta", [tag, tag_y], b"b" * 3072, denbi_contract=run_id)
    gamma = make("gamma", [tag, tag_x, tag_y], None)
    return Catalog(tag, tag_x, tag_y, alpha, beta, gamma)


def listed_ids(conn: Connection, **query: Any) -> set[str]:
    """Ids the SDK lists for ``query`` (it follows Glance's ``next`` links itself)."""
    return {image.id for image in conn.image.images(**query)}


def raw_list(conn: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One raw ``GET /v2/images`` page, parameters sent exactly as given."""
    response = conn.image.get("/images", params=params)
    assert response.status_code == 200, response.text[:500]
    images: list[dict[str, Any]] = response.json()["images"]
    return images


# --- listing ------------------------------------------------------------------------------


def test_filter_by_name_finds_exactly_that_image(conn: Connection, catalog: Catalog) -> None:
    assert listed_ids(conn, name=catalog.beta["name"]) == catalog.ids("beta")


def test_filter_by_status_separates_queued_from_active(conn: Connection, catalog: Catalog) -> None:
    assert listed_ids(conn, tag=catalog.tag, status="queued") == catalog.ids("gamma")
    assert listed_ids(conn, tag=catalog.tag, status="active") == catalog.ids("alpha", "beta")


def test_filter_by_visibility_private(conn: Connection, catalog: Catalog) -> None:
    assert listed_ids(conn, tag=catalog.tag, visibility="private") == catalog.ids("alpha")


def test_filter_by_owner(conn: Connection, catalog: Catalog, project_id: str) -> None:
    everything = catalog.ids("alpha", "beta", "gamma")
    assert listed_ids(conn, tag=catalog.tag, owner=project_id) == everything
    assert listed_ids(conn, tag=catalog.tag, owner=uuid.uuid4().hex) == set()


def test_filter_by_one_tag(conn: Connection, catalog: Catalog) -> None:
    assert listed_ids(conn, tag=catalog.tag_x) == catalog.ids("alpha", "gamma")


def test_filter_by_two_tags_needs_both(conn: Connection, catalog: Catalog) -> None:
    assert listed_ids(conn, tag=[catalog.tag_x, catalog.tag_y]) == catalog.ids("gamma")


def test_filter_by_custom_property_is_applied_by_glance(
    conn: Connection, catalog: Catalog, run_id: str
) -> None:
    # openstacksdk drops unknown query parameters, so this goes through the raw session.
    images = raw_list(conn, {"denbi_contract": run_id})
    assert {image["id"] for image in images} == catalog.ids("alpha", "beta")
    assert all(image["denbi_contract"] == run_id for image in images)


def test_filter_name_in_list(conn: Connection, catalog: Catalog) -> None:
    names = f'in:"{catalog.alpha["name"]}","{catalog.gamma["name"]}"'
    images = raw_list(conn, {"name": names})
    assert {image["id"] for image in images} == catalog.ids("alpha", "gamma")


def test_filter_created_at_greater_than(conn: Connection, catalog: Catalog) -> None:
    everything = catalog.ids("alpha", "beta", "gamma")
    assert listed_ids(conn, tag=catalog.tag, created_at="gt:2000-01-01T00:00:00Z") == everything
    assert listed_ids(conn, tag=catalog.tag, created_at="gt:2999-01-01T00:00:00Z") == set()


def test_sort_by_name_ascending_and_descending(conn: Connection, catalog: Catalog) -> None:
    expected = [catalog.alpha["id"], catalog.beta["id"], catalog.gamma["id"]]
    ascending = [image.id for image in conn.image.images(tag=catalog.tag, sort="name:asc")]
    descending = [image.id for image in conn.image.images(tag=catalog.tag, sort="name:desc")]
    assert ascending == expected
    assert descending == expected[::-1]


def test_sort_by_unknown_key_is_400(conn: Connection) -> None:
    response = conn.image.get("/images", params={"sort_key": "image_type"}, headers=ACCEPT_JSON)
    assert_glance_error(response, 400, "Bad Request")


@pytest.mark.parametrize(
    ("accept", "media_type", "first_line"),
    [
        ("*/*", "text/html", "<html>"),
        ("text/plain", "text/plain", "400 Bad Request"),
    ],
)
def test_glance_errors_are_json_only_when_json_is_accepted(
    conn: Connection, accept: str, media_type: str, first_line: str
) -> None:
    response = conn.image.get(
        "/images", params={"sort_key": "image_type"}, headers={"Accept": accept}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(media_type)
    assert response.text.startswith(first_line)
    assert "Invalid sort key: image_type" in response.text


def test_limit_pages_follow_next_links_and_markers(conn: Connection, catalog: Catalog) -> None:
    first = conn.image.get("/images", params={"limit": 2, "tag": catalog.tag})
    pages = list(iter_pages(conn, first))
    page_ids = [[image["id"] for image in page["images"]] for page in pages]
    assert [len(ids) for ids in page_ids] == [2, 1]
    assert "next" in pages[0]
    assert pages[0]["next"].startswith("/v2/images?")
    assert f"marker={page_ids[0][-1]}" in pages[0]["next"]
    assert "next" not in pages[-1]
    assert {i for ids in page_ids for i in ids} == catalog.ids("alpha", "beta", "gamma")
    by_marker = raw_list(conn, {"limit": 2, "tag": catalog.tag, "marker": page_ids[0][-1]})
    assert [image["id"] for image in by_marker] == page_ids[1]


def test_limit_above_the_maximum_is_accepted(conn: Connection, catalog: Catalog) -> None:
    images = raw_list(conn, {"limit": 5000, "tag": catalog.tag})
    assert {image["id"] for image in images} == catalog.ids("alpha", "beta", "gamma")


# --- single images ------------------------------------------------------------------------


def test_upload_turns_a_queued_image_active_with_size_and_checksums(
    conn: Connection, project_id: str, timeouts: Timeouts, janitor: Janitor
) -> None:
    name = janitor.new_image_name("upload")
    data = uuid.uuid4().bytes * 256
    created = conn.image.post("/images", json=raw_image(name))
    assert created.status_code == 201
    queued = created.json()
    janitor.image_ids.append(queued["id"])
    assert created.headers["Location"].startswith("http")
    assert created.headers["Location"].endswith(f"/v2/images/{queued['id']}")
    assert queued["status"] == "queued"
    assert queued["visibility"] == "shared"
    assert queued["owner"] == project_id
    assert queued["size"] is None and queued["checksum"] is None

    uploaded = conn.image.put(
        f"/images/{queued['id']}/file",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 204
    assert uploaded.content == b""

    active = wait_image_active(conn, queued["id"], timeouts)
    assert active["size"] == len(data)
    assert active["checksum"] == hashlib.md5(data).hexdigest()
    assert active["os_hash_algo"] == "sha512"
    assert active["os_hash_value"] == hashlib.sha512(data).hexdigest()


def test_show_image_has_our_fields_and_relative_links(
    conn: Connection, catalog: Catalog, run_id: str, project_id: str
) -> None:
    image = conn.image.get_image(catalog.alpha["id"])
    assert image.name == catalog.alpha["name"]
    assert image.status == "active"
    assert image.visibility == "private"
    assert image.owner == project_id
    assert (image.disk_format, image.container_format) == ("raw", "bare")
    assert set(image.tags) == {catalog.tag, catalog.tag_x}
    assert image.properties["denbi_contract"] == run_id
    raw = image_json(conn, catalog.alpha["id"])
    assert raw["self"] == f"/v2/images/{catalog.alpha['id']}"
    assert raw["file"] == f"/v2/images/{catalog.alpha['id']}/file"
    assert raw["schema"] == "/v2/schemas/image"


def test_json_patch_updates_a_property_and_replaces_the_tags(
    conn: Connection, run_id: str, janitor: Janitor
) -> None:
    tag = f"contract-{run_id}-patch"
    image = create_image(janitor, raw_image(unique(run_id, "patch"), tags=[tag]))
    patch = [
        {"op": "add", "path": "/denbi_note", "value": "patched"},
        {"op": "replace", "path": "/tags", "value": [tag, f"{tag}-2"]},
    ]
    response = conn.image.patch(
        f"/images/{image['id']}", json=patch, headers={"Content-Type": JSON_PATCH}
    )
    assert response.status_code == 200, response.text[:500]
    assert response.json()["denbi_note"] == "patched"
    assert set(response.json()["tags"]) == {tag, f"{tag}-2"}

    # The SDK diffs against the image it is given: pass the fetched one so it sends "replace"
    # (an "add" of a present property is a 409 in Glance).
    glance = conn.image
    assert isinstance(glance, GlanceV2)
    glance.update_image(glance.get_image(image["id"]), denbi_note="patched again")
    stored = image_json(conn, image["id"])
    assert stored["denbi_note"] == "patched again"
    assert set(stored["tags"]) == {tag, f"{tag}-2"}


def test_patch_with_plain_json_media_type_is_415(conn: Connection, catalog: Catalog) -> None:
    response = conn.image.patch(
        f"/images/{catalog.alpha['id']}",
        json=[{"op": "add", "path": "/denbi_other", "value": "x"}],
        headers={"Content-Type": "application/json", **ACCEPT_JSON},
    )
    assert_glance_error(response, 415, "Unsupported Media Type")
    assert "denbi_other" not in image_json(conn, catalog.alpha["id"])


def test_protected_image_refuses_delete_until_unprotected(
    conn: Connection, run_id: str, janitor: Janitor
) -> None:
    image = create_image(janitor, raw_image(unique(run_id, "protected"), protected=True))
    assert image["protected"] is True

    response = conn.image.delete(f"/images/{image['id']}", headers=ACCEPT_JSON)
    assert_glance_error(response, 403, "Forbidden")
    assert image_json(conn, image["id"])["id"] == image["id"]

    unprotect = [{"op": "replace", "path": "/protected", "value": False}]
    response = conn.image.patch(
        f"/images/{image['id']}", json=unprotect, headers={"Content-Type": JSON_PATCH}
    )
    assert response.status_code == 200
    assert response.json()["protected"] is False
    assert conn.image.delete(f"/images/{image['id']}").status_code == 204


def test_delete_unknown_image_is_404(conn: Connection) -> None:
    response = conn.image.delete(f"/images/{uuid.uuid4()}", headers=ACCEPT_JSON)
    assert_glance_error(response, 404, "Not Found")


def test_get_deleted_image_is_404(conn: Connection, run_id: str, janitor: Janitor) -> None:
    image = create_image(janitor, raw_image(unique(run_id, "deleted")))
    assert conn.image.delete(f"/images/{image['id']}").status_code == 204
    response = conn.image.get(f"/images/{image['id']}", headers=ACCEPT_JSON)
    assert_glance_error(response, 404, "Not Found")
