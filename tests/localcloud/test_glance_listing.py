"""Glance ``GET /v2/images`` over real HTTP: visibility, every filter, sorting, paging, links.

Expected results come from an oracle: the site's rows read straight from its database and
filtered in Python with Glance's rules, so the tests hold whatever other tests created.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from denbi_jupyter.localcloud.site import Site

from .conftest import SITE

IMAGES = f"/{SITE}/image/v2/images"
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lister:
    """Raw listing calls with one token."""

    http: httpx.Client
    token: str

    def get(self, params: Any = None, path: str = IMAGES) -> httpx.Response:
        return self.http.get(path, params=params, headers={"X-Auth-Token": self.token})

    def page(self, params: Any = None) -> dict[str, Any]:
        response = self.get(params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ids(self, params: Any = None) -> list[str]:
        """Ids of every page, following ``next`` links."""
        found: list[str] = []
        for body in self.pages(params):
            found += [image["id"] for image in body["images"]]
        return found

    def pages(self, params: Any = None) -> Iterator[dict[str, Any]]:
        body = self.page(params)
        yield body
        while "next" in body:
            response = self.get(path=f"/{SITE}/image{body['next']}")
            assert response.status_code == 200, response.text
            body = response.json()
            yield body


@pytest.fixture(scope="module")
def lister(http: httpx.Client, token: str) -> Lister:
    return Lister(http, token)


@pytest.fixture(scope="module")
def project_id(http: httpx.Client, token: str) -> str:
    headers = {"X-Auth-Token": token, "X-Subject-Token": token}
    body = http.get(f"/{SITE}/identity/v3/auth/tokens", headers=headers).json()
    return str(body["token"]["project"]["id"])


@pytest.fixture(scope="module")
def tagged(lister: Lister) -> Iterator[tuple[str, str, list[str]]]:
    """Two images of ours: the first tagged A and B, the second only A. Yields (A, B, ids)."""
    tag_a, tag_b = f"list-{uuid.uuid4().hex[:6]}", f"list-{uuid.uuid4().hex[:6]}"
    headers = {"X-Auth-Token": lister.token}
    ids = []
    for tags in ([tag_a, tag_b], [tag_a]):
        body = {"name": f"listing-{'-'.join(tags)}", "tags": tags, "disk_format": "raw"}
        response = lister.http.post(IMAGES, json=body, headers=headers)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    yield tag_a, tag_b, ids
    for image_id in ids:
        lister.http.delete(f"{IMAGES}/{image_id}", headers=headers)


def all_rows(site: Site) -> list[Row]:
    """Every image of the site with its tags, members and custom properties."""
    with site.store.tx() as conn:
        rows = [dict(row) for row in conn.execute("SELECT * FROM images")]
        tags = conn.execute("SELECT image_id, tag FROM image_tags").fetchall()
        members = conn.execute("SELECT image_id, member_id, status FROM image_members").fetchall()
    for row in rows:
        row["tags"] = {t["tag"] for t in tags if t["image_id"] == row["id"]}
        row["members"] = {
            m["member_id"]: m["status"] for m in members if m["image_id"] == row["id"]
        }
        row["props"] = json.loads(row["properties"])
    return rows


def member(row: Row, project: str, status: str = "accepted") -> bool:
    if row["visibility"] != "shared" or project not in row["members"]:
        return False
    return status == "all" or row["members"][project] == status


def default_visible(row: Row, project: str, status: str = "accepted") -> bool:
    """Glance's default listing for a non-admin: public, own, shared-with-us; not hidden."""
    if row["os_hidden"]:
        return False
    return row["visibility"] == "public" or row["owner"] == project or member(row, project, status)


def expected_ids(site: Site, project: str, keep: Callable[[Row], bool] | None = None) -> set[str]:
    """Ids of the rows the default listing shows ``project``, narrowed to those ``keep`` holds."""
    return {
        row["id"]
        for row in all_rows(site)
        if default_visible(row, project) and (keep is None or keep(row))
    }


# --- discovery and the default listing ------------------------------------------------------


def test_root_lists_glance_versions_with_300(
    http: httpx.Client, local_cloud: Any, golden: Callable[[str], dict[str, Any]]
) -> None:
    response = http.get(f"/{SITE}/image/")
    assert response.status_code == 300
    versions = response.json()["versions"]
    expected = golden("07")["response"]["body"]["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [(v["id"], v["status"]) for v in expected]
    href = f"{local_cloud.url}/{SITE}/image/v2/"
    assert all(v["links"] == [{"rel": "self", "href": href}] for v in versions)


def test_default_listing_is_public_own_and_accepted_shared_images(
    lister: Lister, site: Site, project_id: str
) -> None:
    listed = lister.ids({"limit": 1000})
    assert len(listed) == len(set(listed))
    assert set(listed) == expected_ids(site, project_id)
    names = {row["name"] for row in all_rows(site) if row["id"] in listed}
    assert "genomics-pipeline-image" in names  # shared with us, accepted
    assert not names & {"genomics-internal-image", "proteomics-offer-image"}
    assert "community-cellprofiler" not in names  # community: only on request
    assert "Ubuntu-20.04 de.NBI (2024-11-01)" not in names  # os_hidden


def test_default_order_is_created_at_then_id_descending(lister: Lister) -> None:
    images = lister.page({"limit": 1000})["images"]
    keys = [(image["created_at"], image["id"]) for image in images]
    assert keys == sorted(keys, reverse=True)


def test_a_page_shorter_than_the_limit_has_no_next_link(lister: Lister) -> None:
    body = lister.page()
    assert body["first"] == "/v2/images"
    assert body["schema"] == "/v2/schemas/images"
    assert ("next" in body) == (len(body["images"]) == 25)
    short = lister.page({"tag": "guacamole", "visibility": "public"})
    assert 0 < len(short["images"]) < 25
    assert "next" not in short


def test_full_pages_link_to_the_next_by_marker_until_the_end(
    lister: Lister, site: Site, project_id: str
) -> None:
    pages = list(lister.pages({"limit": 5}))
    first = pages[0]
    assert len(first["images"]) == 5
    assert first["first"] == "/v2/images?limit=5"
    assert first["next"] == f"/v2/images?limit=5&marker={first['images'][-1]['id']}"
    ids = [image["id"] for page in pages for image in page["images"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(site, project_id)
    assert all(len(page["images"]) == 5 for page in pages[:-1])
    assert "next" not in pages[-1] or pages[-1]["images"] == []


def test_links_are_reencoded_and_keep_the_last_of_repeated_params(
    lister: Lister, tagged: tuple[str, str, list[str]]
) -> None:
    tag_a, tag_b, _ = tagged
    body = lister.page([("tag", tag_a), ("tag", tag_b)])
    assert body["first"] == f"/v2/images?tag={tag_b}"
    body = lister.page({"name": 'in:"X2Go_xfce","X2Go_mate"'})
    assert body["first"] == "/v2/images?name=in%3A%22X2Go_xfce%22%2C%22X2Go_mate%22"


def test_limit_above_the_maximum_is_accepted(lister: Lister) -> None:
    assert lister.page({"limit": 5000})["images"]


def test_unknown_or_invisible_marker_is_400(lister: Lister, site: Site) -> None:
    unknown = lister.get({"marker": str(uuid.uuid4())})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "400 Bad Request"
    hidden = next(row for row in all_rows(site) if row["name"] == "genomics-internal-image")
    assert lister.get({"marker": hidden["id"]}).status_code == 400


# --- filters ---------------------------------------------------------------------------------

FILTERS: list[tuple[str, Any, Callable[[Row], bool]]] = [
    ("name exact", {"name": "X2Go_xfce"}, lambda r: r["name"] == "X2Go_xfce"),
    ("name is no substring search", {"name": "X2Go"}, lambda _r: False),
    ("status", {"status": "active"}, lambda r: r["status"] == "active"),
    ("status in", {"status": "in:queued,saving"}, lambda r: r["status"] in ("queued", "saving")),
    (
        "name in",
        {"name": 'in:"X2Go_xfce","X2Go_mate"'},
        lambda r: r["name"] in ("X2Go_xfce", "X2Go_mate"),
    ),
    ("disk_format in", {"disk_format": "in:raw"}, lambda r: r["disk_format"] == "raw"),
    ("container_format", {"container_format": "bare"}, lambda r: r["container_format"] == "bare"),
    ("tag", {"tag": "guacamole"}, lambda r: "guacamole" in r["tags"]),
    ("protected", {"protected": "true"}, lambda r: bool(r["protected"])),
    ("not protected", {"protected": "False"}, lambda r: not r["protected"]),
    ("image_type", {"image_type": "snapshot"}, lambda r: r["image_type"] == "snapshot"),
    ("os_distro", {"os_distro": "ubuntu"}, lambda r: r["props"].get("os_distro") == "ubuntu"),
    ("os_version", {"os_version": "24.04"}, lambda r: r["props"].get("os_version") == "24.04"),
    (
        "two properties",
        {"os_distro": "ubuntu", "image_type": "snapshot"},
        lambda r: r["props"].get("os_distro") == "ubuntu" and r["image_type"] == "snapshot",
    ),
    (
        "created_at gt",
        {"created_at": "gt:2026-06-01T00:00:00Z"},
        lambda r: r["created_at"] > "2026-06-01T00:00:00",
    ),
    (
        "created_at lte",
        {"created_at": "lte:2026-05-01T07:00:00Z"},
        lambda r: r["created_at"] <= "2026-05-01T07:00:00",
    ),
    (
        "created_at eq",
        {"created_at": "eq:2026-05-01T06:00:00Z"},
        lambda r: r["created_at"] == "2026-05-01T06:00:00",
    ),
    (
        "created_at neq with offset",
        {"created_at": "neq:2026-05-01T08:00:00+02:00"},
        lambda r: r["created_at"] != "2026-05-01T06:00:00",
    ),
    (
        "updated_at lt",
        {"updated_at": "lt:2026-06-01T00:00:00Z"},
        lambda r: r["updated_at"] < "2026-06-01T00:00:00",
    ),
    ("size_min", {"size_min": "2048"}, lambda r: (r["size"] or -1) >= 2048),
    ("size_max", {"size_max": "1024"}, lambda r: r["size"] is not None and r["size"] <= 1024),
    ("min_disk", {"min_disk": "20"}, lambda r: r["min_disk"] == 20),
]


@pytest.mark.usefixtures("tagged")
@pytest.mark.parametrize(("params", "keep"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS])
def test_filter_matches_the_oracle(
    lister: Lister, site: Site, project_id: str, params: Any, keep: Callable[[Row], bool]
) -> None:
    expected = expected_ids(site, project_id, keep)
    assert set(lister.ids(params)) == expected
    assert expected or params == {"name": "X2Go"}, "the oracle selects nothing: a vacuous case"


def test_owner_filter(lister: Lister, site: Site, project_id: str) -> None:
    listed = set(lister.ids({"owner": project_id}))
    assert listed == expected_ids(site, project_id, lambda r: r["owner"] == project_id)
    assert lister.ids({"owner": uuid.uuid4().hex}) == []


def test_id_in_list(lister: Lister, site: Site, project_id: str) -> None:
    some = sorted(expected_ids(site, project_id))[:3]
    assert set(lister.ids({"id": "in:" + ",".join(some)})) == set(some)


def test_two_tags_select_images_with_both(
    lister: Lister, tagged: tuple[str, str, list[str]]
) -> None:
    tag_a, tag_b, ids = tagged
    assert set(lister.ids({"tag": tag_a})) == set(ids)
    assert lister.ids([("tag", tag_a), ("tag", tag_b)]) == [ids[0]]


@pytest.mark.parametrize("visibility", ["public", "private", "shared", "community", "all"])
def test_visibility_filter(lister: Lister, site: Site, project_id: str, visibility: str) -> None:
    def keep(row: Row) -> bool:
        if row["os_hidden"]:
            return False
        mine, shared_in = row["owner"] == project_id, member(row, project_id)
        return bool(
            {
                "public": row["visibility"] == "public",
                "private": row["visibility"] == "private" and mine,
                "shared": row["visibility"] == "shared" and (mine or shared_in),
                "community": row["visibility"] == "community",
                "all": row["visibility"] in ("public", "community") or mine or shared_in,
            }[visibility]
        )

    expected = {row["id"] for row in all_rows(site) if keep(row)}
    assert set(lister.ids({"visibility": visibility})) == expected
    assert expected, f"the seed has no {visibility} image"


@pytest.mark.parametrize("status", ["pending", "all"])
def test_member_status_selects_shared_images_by_our_membership(
    lister: Lister, site: Site, project_id: str, status: str
) -> None:
    expected = {
        row["id"]
        for row in all_rows(site)
        if row["visibility"] == "shared" and member(row, project_id, status)
    }
    listed = set(lister.ids({"visibility": "shared", "member_status": status}))
    assert expected and expected <= listed


def test_os_hidden_true_lists_only_hidden_images(lister: Lister, site: Site) -> None:
    listed = set(lister.ids({"os_hidden": "true"}))
    assert listed
    assert all(row["os_hidden"] for row in all_rows(site) if row["id"] in listed)


# --- sorting ---------------------------------------------------------------------------------


def names_of(lister: Lister, params: Any) -> list[str]:
    return [image["name"] for image in lister.page({"limit": 1000, **params})["images"]]


def test_sort_by_name_both_ways_new_and_legacy_style(lister: Lister) -> None:
    ascending = names_of(lister, {"sort": "name:asc"})
    assert ascending == sorted(ascending)
    assert names_of(lister, {"sort": "name:desc"}) == sorted(ascending, reverse=True)
    assert names_of(lister, {"sort_key": "name", "sort_dir": "asc"}) == ascending


def test_sort_by_several_keys(lister: Lister) -> None:
    images = lister.page({"limit": 1000, "sort": "size:desc,name:asc"})["images"]
    keys = [(-(image["size"] or -1), image["name"] or "") for image in images]
    assert keys == sorted(keys)
    legacy = lister.page(
        [("limit", "1000"), ("sort_key", "size"), ("sort_dir", "desc"), ("sort_key", "name"),
         ("sort_dir", "asc")]
    )["images"]  # fmt: skip
    assert [i["id"] for i in legacy] == [i["id"] for i in images]


def test_paging_is_stable_under_a_custom_sort(lister: Lister, site: Site, project_id: str) -> None:
    ids = lister.ids({"limit": 4, "sort": "name:asc"})
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(site, project_id)


def test_unknown_sort_key_is_400_with_glance_wording(
    lister: Lister, golden: Callable[[str], dict[str, Any]]
) -> None:
    response = lister.get({"sort_key": "image_type"})
    expected = golden("17")["response"]
    assert response.status_code == expected["status"]
    assert response.json() == expected["body"]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "name:up"},
        {"sort": "owner:asc"},
        {"sort": "name:asc", "sort_key": "name"},
        {"visibility": "everyone"},
        {"protected": "maybe"},
        {"os_hidden": "yes"},
        {"created_at": "gt:yesterday"},
        {"limit": "-1"},
        {"limit": "many"},
        {"status": "sleeping"},
        {"status": "in:active,bogus"},
        {"member_status": "friends"},
        {"size_min": "big"},
        {"name": 'in:"unclosed'},
    ],
)
def test_malformed_list_parameters_are_400_never_500(lister: Lister, params: Any) -> None:
    response = lister.get(params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "400 Bad Request"


def test_protected_filter_error_uses_glance_wording(lister: Lister) -> None:
    message = lister.get({"protected": "maybe"}).json()["message"]
    assert message.startswith(
        "Invalid value 'maybe' for 'protected' filter. Valid values are 'true' or 'false'."
    )


# --- through openstacksdk ----------------------------------------------------------------------


def test_openstacksdk_lists_with_server_side_filters_and_paging(
    conn: Connection, site: Site, project_id: str
) -> None:
    guacamole = {image.name for image in conn.image.images(tag="guacamole")}
    assert guacamole >= {
        "Guacamole-ubuntu22.04 de.NBI (2026-05-01)",
        "Guacamole-ubuntu24.04 de.NBI (2026-05-01)",
    }
    paged = [image.id for image in conn.image.images(limit=3)]
    assert set(paged) == expected_ids(site, project_id)
    community = list(conn.image.images(visibility="community"))
    assert "community-cellprofiler" in {image.name for image in community}
    assert {image.visibility for image in community} == {"community"}


def test_an_admin_lists_every_image_that_is_not_hidden(
    http: httpx.Client, issue_token: Callable[..., str], site: Site
) -> None:
    admin = Lister(http, issue_token(project="admin", username="admin"))
    expected = {row["id"] for row in all_rows(site) if not row["os_hidden"]}
    assert set(admin.ids({"limit": 1000})) == expected
    private = {row["id"] for row in all_rows(site) if row["visibility"] == "private"}
    assert set(admin.ids({"visibility": "private"})) == private - {
        row["id"] for row in all_rows(site) if row["os_hidden"]
    }
