"""Glance single-image calls over real HTTP: create, upload, download, patch, tags, delete,
schemas, and the record functions Nova uses for its snapshots."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from openstack import exceptions
from openstack.connection import Connection

from denbi_jupyter.localcloud import glance
from denbi_jupyter.localcloud.glance_records import data_path
from denbi_jupyter.localcloud.glance_upload import MAX_IMAGE_BYTES_ENV
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE

IMAGES = f"/{SITE}/image/v2/images"
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
HTML = "text/html; charset=UTF-8"
Golden = Callable[[str], dict[str, Any]]


class Glance:
    """Raw Glance calls with one token; remembers created images and deletes them at the end."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.headers = {"X-Auth-Token": token}
        self.created: list[str] = []

    def create(self, **body: Any) -> httpx.Response:
        body.setdefault("name", f"test-{uuid.uuid4().hex[:8]}")
        response = self.http.post(IMAGES, json=body, headers=self.headers)
        if response.status_code == 201:
            self.created.append(response.json()["id"])
        return response

    def new(self, **body: Any) -> dict[str, Any]:
        response = self.create(**body)
        assert response.status_code == 201, response.text
        image: dict[str, Any] = response.json()
        return image

    def show(self, image_id: str) -> httpx.Response:
        return self.http.get(f"{IMAGES}/{image_id}", headers=self.headers)

    def upload(
        self, image_id: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> httpx.Response:
        headers = {**self.headers, "Content-Type": content_type}
        return self.http.put(f"{IMAGES}/{image_id}/file", content=data, headers=headers)

    def patch(self, image_id: str, ops: Any, content_type: str = JSON_PATCH) -> httpx.Response:
        headers = {**self.headers, "Content-Type": content_type}
        content = ops if isinstance(ops, bytes) else httpx.Request("GET", "/", json=ops).content
        return self.http.patch(f"{IMAGES}/{image_id}", content=content, headers=headers)

    def delete(self, image_id: str) -> httpx.Response:
        return self.http.delete(f"{IMAGES}/{image_id}", headers=self.headers)

    def cleanup(self) -> None:
        for image_id in self.created:
            self.patch(image_id, [{"op": "replace", "path": "/protected", "value": False}])
            self.delete(image_id)


@pytest.fixture
def api(http: httpx.Client, token: str) -> Iterator[Glance]:
    client = Glance(http, token)
    yield client
    client.cleanup()


def image_id_by_name(site: Site, name: str) -> str:
    with site.store.tx() as conn:
        row = conn.execute("SELECT id FROM images WHERE name = ?", (name,)).fetchone()
    assert row is not None, name
    return str(row["id"])


# --- create ----------------------------------------------------------------------------------


def test_create_is_201_queued_shared_with_an_absolute_location(
    api: Glance, local_cloud: Any, golden: Golden
) -> None:
    response = api.create(
        name="created", disk_format="raw", container_format="bare", tags=["a"], min_disk=1,
        foo_prop="x",
    )  # fmt: skip
    assert response.status_code == 201
    image = response.json()
    assert response.headers["Location"] == f"{local_cloud.url}{IMAGES}/{image['id']}"
    expected = golden("21")["response"]["body"]
    assert set(image) == set(expected)
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["foo_prop"] == "x" and image["min_disk"] == 1 and image["tags"] == ["a"]
    for empty in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"):
        assert image[empty] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["created_at"].endswith("Z") and len(image["created_at"]) == 20


def test_create_with_a_chosen_id_and_a_duplicate_is_409(api: Glance) -> None:
    wanted = str(uuid.uuid4())
    assert api.new(id=wanted)["id"] == wanted
    assert api.create(id=wanted).status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "active"}, 403),
        ({"size": 5}, 403),
        ({"visibility": "public"}, 403),
        ({"visibility": "everyone"}, 400),
        ({"owner": "someone-else"}, 403),
        ({"custom": 5}, 400),
        ({"min_disk": -1}, 400),
        ({"protected": "yes"}, 400),
        ({"disk_format": "floppy"}, 400),
        ({"tags": "not-a-list"}, 400),
        ({"id": "not-a-uuid"}, 400),
    ],
)
def test_create_refuses_bad_attributes(api: Glance, body: dict[str, Any], status: int) -> None:
    response = api.create(**body)
    assert response.status_code == status, response.text
    assert response.json()["title"] in ("Bad Request", "Forbidden")


@pytest.mark.parametrize("content", [b"{oops", b"[1, 2]", b"\xff\xfe"])
def test_create_with_malformed_json_is_400(http: httpx.Client, token: str, content: bytes) -> None:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    response = http.post(IMAGES, content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "400 Bad Request"


# --- upload and download ---------------------------------------------------------------------


def test_upload_is_204_html_and_makes_the_image_active_with_hashes(
    api: Glance, site: Site, golden: Golden
) -> None:
    image = api.new(disk_format="raw", container_format="bare")
    data = uuid.uuid4().bytes * 300
    response = api.upload(image["id"], data)
    assert response.status_code == golden("22")["response"]["status"] == 204
    assert response.headers["Content-Type"] == HTML
    assert response.content == b""
    shown = api.show(image["id"]).json()
    assert shown["status"] == "active"
    assert shown["size"] == shown["virtual_size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert data_path(site, image["id"]).read_bytes() == data
    download = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["Content-MD5"] == shown["checksum"]


def test_second_upload_is_409_and_wrong_media_type_is_415(api: Glance) -> None:
    image = api.new()
    assert api.upload(image["id"], b"x" * 10, content_type="text/plain").status_code == 415
    assert api.upload(image["id"], b"x" * 10).status_code == 204
    assert api.upload(image["id"], b"y" * 10).status_code == 409


def test_upload_over_the_size_limit_is_413_and_leaves_the_image_queued(
    api: Glance, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "1000")
    image = api.new()
    response = api.upload(image["id"], b"z" * 1001)
    assert response.status_code == 413
    assert response.json()["code"] == "413 Request Entity Too Large"
    assert api.show(image["id"]).json()["status"] == "queued"
    assert not list(site.store.data_dir.glob("upload-*.part"))


def test_download_of_a_queued_image_is_204(api: Glance) -> None:
    image = api.new()
    response = api.http.get(f"{IMAGES}/{image['id']}/file", headers=api.headers)
    assert response.status_code == 204


# --- show ------------------------------------------------------------------------------------


def test_show_of_a_seeded_image_has_glance_fields(api: Glance, site: Site, golden: Golden) -> None:
    image = api.show(image_id_by_name(site, "X2Go_xfce")).json()
    assert set(golden("20")["response"]["body"]) <= set(image)
    assert image["stores"] == "fs"
    assert image["os_distro"] == "ubuntu"


def test_show_of_unknown_or_invisible_image_is_404(api: Glance, site: Site) -> None:
    assert api.show(str(uuid.uuid4())).status_code == 404
    invisible = image_id_by_name(site, "genomics-internal-image")
    response = api.show(invisible)
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"No image found with ID {invisible}")


def test_shared_image_is_visible_to_a_member_even_before_accepting(api: Glance, site: Site) -> None:
    assert api.show(image_id_by_name(site, "proteomics-offer-image")).status_code == 200


# --- patch ------------------------------------------------------------------------------------


def test_patch_adds_replaces_and_removes_properties_and_replaces_tags(api: Glance) -> None:
    image = api.new(foo_prop="x", tags=["created"])
    response = api.patch(
        image["id"],
        [
            {"op": "add", "path": "/foo", "value": "bar"},
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "replace", "path": "/tags", "value": ["created", "patched"]},
            {"op": "replace", "path": "/min_disk", "value": 5},
            {"op": "remove", "path": "/foo_prop"},
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["foo"] == "bar" and "foo_prop" not in body
    assert body["name"] == "renamed" and body["min_disk"] == 5
    assert set(body["tags"]) == {"created", "patched"}
    assert api.show(image["id"]).json() == body


def test_patch_tags_append_pointer_is_400_like_glance(api: Glance, golden: Golden) -> None:
    image = api.new()
    response = api.patch(image["id"], [{"op": "add", "path": "/tags/-", "value": "x"}])
    expected = golden("24")["response"]
    assert response.status_code == expected["status"]
    assert response.json() == expected["body"]


def test_patch_with_plain_json_is_415_like_glance(api: Glance, golden: Golden) -> None:
    image = api.new()
    response = api.patch(
        image["id"], [{"op": "add", "path": "/foo2", "value": "bar"}], "application/json"
    )
    expected = golden("25")["response"]
    assert response.status_code == 415
    assert response.json() == expected["body"]
    assert "foo2" not in api.show(image["id"]).json()


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        (b"[{not json", 400),
        ({"op": "add"}, 400),
        ([{"op": "test", "path": "/name", "value": "x"}], 400),
        ([{"op": "add", "path": "/name"}], 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/missing_prop", "value": "x"}], 409),
        ([{"op": "remove", "path": "/missing_prop"}], 409),
        ([{"op": "add", "path": "/existing", "value": "again"}], 409),
        ([{"op": "add", "path": "/number", "value": 3}], 400),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
    ],
)
def test_patch_refuses_bad_documents_atomically(api: Glance, ops: Any, status: int) -> None:
    image = api.new(existing="1")
    response = api.patch(image["id"], ops)
    assert response.status_code == status, response.text
    after = api.show(image["id"]).json()
    assert after["updated_at"] == image["updated_at"] and after["existing"] == "1"


def test_patch_changes_visibility_and_protection(api: Glance) -> None:
    image = api.new()
    body = api.patch(
        image["id"],
        [
            {"op": "replace", "path": "/visibility", "value": "community"},
            {"op": "replace", "path": "/protected", "value": True},
        ],
    ).json()
    assert body["visibility"] == "community" and body["protected"] is True


def test_patch_of_a_visible_foreign_image_is_403(api: Glance, site: Site) -> None:
    foreign = image_id_by_name(site, "X2Go_xfce")
    response = api.patch(foreign, [{"op": "add", "path": "/mine", "value": "no"}])
    assert response.status_code == 403


# --- tags -----------------------------------------------------------------------------------


def test_add_and_delete_one_tag(api: Glance) -> None:
    image = api.new(tags=["one"])
    added = api.http.put(f"{IMAGES}/{image['id']}/tags/two", headers=api.headers)
    assert added.status_code == 204 and added.headers["Content-Type"] == HTML
    again = api.http.put(f"{IMAGES}/{image['id']}/tags/two", headers=api.headers)
    assert again.status_code == 204
    assert set(api.show(image["id"]).json()["tags"]) == {"one", "two"}
    removed = api.http.delete(f"{IMAGES}/{image['id']}/tags/one", headers=api.headers)
    assert removed.status_code == 204
    assert api.show(image["id"]).json()["tags"] == ["two"]
    missing = api.http.delete(f"{IMAGES}/{image['id']}/tags/one", headers=api.headers)
    assert missing.status_code == 404


# --- delete ----------------------------------------------------------------------------------


def test_delete_is_204_html_removes_the_data_and_then_404(
    api: Glance, site: Site, golden: Golden
) -> None:
    image = api.new()
    assert api.upload(image["id"], b"data" * 100).status_code == 204
    assert data_path(site, image["id"]).exists()
    response = api.delete(image["id"])
    assert response.status_code == 204 and response.headers["Content-Type"] == HTML
    assert not data_path(site, image["id"]).exists()
    gone = api.show(image["id"])
    assert gone.status_code == 404
    assert gone.json()["message"] == golden("30")["response"]["body"]["message"].replace(
        "06ed092b-3169-4222-aef4-7265edde6f0e", image["id"]
    )


def test_delete_of_a_protected_image_is_403_until_unprotected(api: Glance, golden: Golden) -> None:
    image = api.new(protected=True)
    response = api.delete(image["id"])
    assert response.status_code == 403
    expected = golden("27")["response"]["body"]["message"]
    assert response.json()["message"] == expected.replace(
        "9f5a0bfc-b2d5-49f0-ad7a-a48d8008e440", image["id"]
    )
    assert api.show(image["id"]).status_code == 200
    api.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert api.delete(image["id"]).status_code == 204


def test_delete_of_the_seeded_protected_snapshot_is_403(api: Glance, site: Site) -> None:
    protected = image_id_by_name(site, "golden-analysis-snap")
    assert api.delete(protected).status_code == 403
    assert api.show(protected).status_code == 200


def test_delete_unknown_is_404_like_glance(api: Glance, golden: Golden) -> None:
    response = api.delete("00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json() == golden("28")["response"]["body"]


@pytest.mark.parametrize("name", ["X2Go_xfce", "genomics-pipeline-image"])
def test_delete_of_a_visible_foreign_image_is_403(api: Glance, site: Site, name: str) -> None:
    foreign = image_id_by_name(site, name)
    assert api.delete(foreign).status_code == 403
    assert api.show(foreign).status_code == 200


def test_delete_of_an_invisible_foreign_image_is_404(api: Glance, site: Site) -> None:
    invisible = image_id_by_name(site, "genomics-internal-image")
    assert api.delete(invisible).status_code == 404
    with site.store.tx() as conn:
        assert glance.image_exists(conn, invisible)


# --- schemas and auth -------------------------------------------------------------------------


def test_image_schema_has_glance_top_level_keys(
    http: httpx.Client, token: str, golden: Golden
) -> None:
    headers = {"X-Auth-Token": token}
    schema = http.get(f"/{SITE}/image/v2/schemas/image", headers=headers).json()
    expected = golden("31")["response"]["body"]
    assert list(schema) == list(expected)
    assert schema == expected
    images = http.get(f"/{SITE}/image/v2/schemas/images", headers=headers).json()
    assert images["properties"]["images"]["items"] == schema


def test_glance_without_a_token_is_401(http: httpx.Client) -> None:
    response = http.get(IMAGES)
    assert response.status_code == 401
    assert response.json()["code"] == "401 Unauthorized"


# --- the functions Nova uses -------------------------------------------------------------------


def test_nova_record_functions_make_an_active_snapshot_image(
    api: Glance, site: Site, http: httpx.Client
) -> None:
    owner = api.new()["owner"]
    data = b"snapshot bytes" * 64
    with site.store.tx() as conn:
        image_id = glance.create_image_record(
            conn,
            owner=owner,
            name="nova-made",
            properties={"image_type": "snapshot", "instance_uuid": "abc"},
            min_disk=20,
        )
        assert glance.image_exists(conn, image_id)
        row = glance.get_image_row(conn, image_id)
        assert row is not None and row["status"] == "queued"
        glance.set_image_status(conn, image_id, "saving")
    api.created.append(image_id)
    assert api.show(image_id).json()["status"] == "saving"
    with site.store.tx() as conn:
        glance.finish_image_upload(conn, site, image_id, data)
    shown = api.show(image_id).json()
    assert shown["status"] == "active" and shown["visibility"] == "private"
    assert shown["image_type"] == "snapshot" and shown["min_disk"] == 20
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["disk_format"] == "qcow2" and shown["container_format"] == "bare"
    listed = http.get(
        IMAGES, params={"image_type": "snapshot", "name": "nova-made"}, headers=api.headers
    ).json()["images"]
    assert [image["id"] for image in listed] == [image_id]
    with site.store.tx() as conn:
        with pytest.raises(ValueError, match="unknown image status"):
            glance.set_image_status(conn, image_id, "exploded")
        assert glance.get_image_row(conn, str(uuid.uuid4())) is None


# --- through openstacksdk ----------------------------------------------------------------------


def test_openstacksdk_creates_uploads_updates_and_deletes(conn: Connection) -> None:
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    data = b"sdk data" * 128
    image = conn.create_image(
        name, data=data, disk_format="raw", container_format="bare", wait=True, timeout=30,
        tags=["sdk"], validate_checksum=False,
    )  # fmt: skip
    assert image is not None
    try:
        assert image.status == "active" and image.size == len(data)
        conn.image.update_image(image.id, os_distro="debian", denbi_note="sdk")
        updated = conn.image.get_image(image.id)
        assert updated.os_distro == "debian" and updated.properties["denbi_note"] == "sdk"
        assert conn.image.download_image(image.id).content == data
    finally:
        conn.image.delete_image(image.id)
    assert conn.image.find_image(name) is None


def test_openstacksdk_maps_foreign_delete_to_forbidden(conn: Connection) -> None:
    public = conn.image.find_image("X2Go_xfce", ignore_missing=False)
    with pytest.raises(exceptions.ForbiddenException):
        conn.image.delete_image(public.id)
