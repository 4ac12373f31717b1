"""What a fresh site is seeded with, seen through the API and the database."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.localcloud.glance_records import data_path
from denbi_jupyter.localcloud.seed import (
    PRIMARY_PROJECT,
    SECOND_PROJECT,
    SHARED_NETWORK,
    USER_NAME,
)
from denbi_jupyter.localcloud.seed_catalog import FLAVORS, QUOTAS, SNAPSHOTS
from denbi_jupyter.localcloud.server import load_credentials
from denbi_jupyter.localcloud.site import Site

from .conftest import SITE, Connect, password_auth

NOVA_SNAPSHOT_PROPERTIES = {
    "image_type",
    "instance_uuid",
    "base_image_ref",
    "owner_project_name",
    "owner_user_name",
    "image_location",
    "user_id",
}
EXTRA = 1200


def rows(site: Site, sql: str, *params: Any) -> list[dict[str, Any]]:
    with site.store.tx() as conn:
        return [dict(row) for row in conn.execute(sql, params)]


def project_ids(site: Site) -> dict[str, str]:
    return {row["name"]: row["id"] for row in rows(site, "SELECT id, name FROM projects")}


# --- Keystone, Nova and Neutron rows -----------------------------------------------------------


def test_the_user_is_a_member_of_exactly_two_projects_and_admin_is_admin(site: Site) -> None:
    roles = rows(
        site,
        "SELECT u.name AS user, p.name AS project, r.role FROM role_assignments r "
        "JOIN users u ON u.id = r.user_id JOIN projects p ON p.id = r.project_id",
    )
    mine = {(r["project"], r["role"]) for r in roles if r["user"] == USER_NAME}
    assert {project for project, _ in mine} == {PRIMARY_PROJECT, SECOND_PROJECT}
    assert all(role in ("member", "reader") for _, role in mine)
    assert ("admin", "admin") in {(r["project"], r["role"]) for r in roles if r["user"] == "admin"}
    assert len(rows(site, "SELECT * FROM app_credentials")) == 1


def test_flavors_are_the_de_nbi_ones_with_ephemeral_and_highmem(site: Site) -> None:
    flavors = {row["name"]: row for row in rows(site, "SELECT * FROM flavors")}
    assert set(flavors) == {flavor.name for flavor in FLAVORS}
    assert {"de.NBI tiny", "de.NBI mini", "de.NBI small", "de.NBI medium", "de.NBI large"} <= set(
        flavors
    )
    assert flavors["de.NBI highmem xlarge"]["ram"] > 256 * 1024
    assert any(row["ephemeral"] > 0 for row in flavors.values())


def test_every_project_has_the_quotas(site: Site) -> None:
    quotas = rows(site, "SELECT * FROM quotas")
    for project_id in project_ids(site).values():
        mine = {q["resource"]: q["hard_limit"] for q in quotas if q["project_id"] == project_id}
        assert mine == QUOTAS


def test_each_project_has_a_network_and_all_subnets_lie_in_the_site_cidr(
    local_cloud: LocalCloud,
) -> None:
    assert local_cloud.state is not None
    for site in local_cloud.state.sites.values():
        networks = rows(site, "SELECT * FROM networks")
        shared = [n for n in networks if n["shared"]]
        assert [n["name"] for n in shared] == [SHARED_NETWORK]
        own = {n["project_id"] for n in networks if not n["shared"]}
        assert own == set(project_ids(site).values())
        site_range = ipaddress.IPv4Network(site.profile.network_cidr)
        blocks = [ipaddress.IPv4Network(s["cidr"]) for s in rows(site, "SELECT * FROM subnets")]
        assert len(blocks) == len(networks)
        assert all(block.subnet_of(site_range) for block in blocks)
        assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


# --- the image catalog ----------------------------------------------------------------------


def test_base_images_are_tagged_and_describe_their_os(conn: Connection) -> None:
    base = {image.name: image for image in conn.image.images(tag="base_image")}
    for name in (
        "Ubuntu-22.04 de.NBI (2026-05-01)",
        "Ubuntu-24.04 de.NBI (2026-05-01)",
        "Debian-12 de.NBI (2026-05-01)",
        "Rocky-9 de.NBI (2026-05-01)",
    ):
        image = base[name]
        assert image.visibility == "public" and image.status == "active"
        assert image.os_distro and image.os_version
        assert image.properties["title"] and image.properties["description"]


def test_desktops_and_research_environments_are_there(conn: Connection) -> None:
    x2go = conn.image.find_image("X2Go_xfce", ignore_missing=False)
    assert x2go.status == "active" and x2go.size == 1024
    names = {image.name for image in conn.image.images()}
    assert {"X2Go_mate", "X2Go_lxde"} <= names
    guacamole = [i.name for i in conn.image.images(tag="guacamole", visibility="public")]
    assert guacamole
    assert all(
        re.fullmatch(r"Guacamole-ubuntu\d\d\.\d\d de\.NBI \(\d{4}-\d\d-\d\d\)", n)
        for n in guacamole
    )
    for tag in ("rstudio", "theiaide", "jupyterlab", "vscode"):
        assert list(conn.image.images(tag=tag)), f"no image tagged {tag}"


def test_every_seeded_image_has_a_data_file_matching_its_checksum(site: Site) -> None:
    seeded = rows(
        site, "SELECT id, size, checksum, os_hash_value FROM images WHERE status = 'active'"
    )
    assert len(seeded) >= 20
    for image in seeded:
        path = data_path(site, image["id"])
        if not path.exists():  # an image another test made with Nova's functions only
            continue
        data = path.read_bytes()
        assert len(data) == image["size"]
        assert hashlib.md5(data).hexdigest() == image["checksum"]
        assert hashlib.sha512(data).hexdigest() == image["os_hash_value"]


def test_all_visibilities_and_a_protected_image_are_seeded(site: Site) -> None:
    images = rows(site, "SELECT visibility, protected FROM images")
    assert {image["visibility"] for image in images} == {"public", "private", "shared", "community"}
    assert any(image["protected"] for image in images)


def test_snapshots_in_both_projects_carry_nova_properties(connect: Connect, site: Site) -> None:
    ids = project_ids(site)
    for project in (PRIMARY_PROJECT, SECOND_PROJECT):
        connection = connect(SITE, project_name=project)
        response = connection.image.get("/images", params={"image_type": "snapshot", "limit": 1000})
        seeded = {snapshot.name for snapshot in SNAPSHOTS if snapshot.project == project}
        snapshots = [s for s in response.json()["images"] if s["name"] in seeded]
        assert len(snapshots) == len(seeded) > 0, f"missing seeded snapshots in {project}"
        for snapshot in snapshots:
            assert snapshot["owner"] == ids[project]
            assert set(snapshot) >= NOVA_SNAPSHOT_PROPERTIES
            assert snapshot["owner_project_name"] == project
            assert snapshot["visibility"] == "private"


def test_snapshots_of_other_projects_exist_but_stay_invisible(
    http: httpx.Client, token: str, site: Site
) -> None:
    foreign = rows(
        site,
        "SELECT id FROM images WHERE image_type = 'snapshot' AND owner IN "
        "(SELECT id FROM projects WHERE name IN ('genomics-lab', 'proteomics-lab'))",
    )
    assert foreign
    listed = http.get(
        f"/{SITE}/image/v2/images",
        params={"image_type": "snapshot", "visibility": "all", "limit": 1000},
        headers={"X-Auth-Token": token},
    ).json()["images"]
    assert not {row["id"] for row in foreign} & {image["id"] for image in listed}


# --- extra snapshots and persistence ---------------------------------------------------------


@pytest.fixture(scope="module")
def big_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A second local cloud whose first site has EXTRA extra snapshots."""
    config = LocalCloudConfig(
        timings=Timings.fast(),
        seed_snapshots=EXTRA,
        state_dir=tmp_path_factory.mktemp("big-cloud"),
    )
    with LocalCloud(config) as cloud:
        yield cloud


def test_extra_snapshots_land_in_the_primary_project_of_the_first_site_only(
    big_cloud: LocalCloud,
) -> None:
    assert big_cloud.state is not None
    first, second = big_cloud.state.sites.values()
    count = "SELECT COUNT(*) AS n FROM images WHERE image_type = 'snapshot' AND owner = ?"
    primary = project_ids(first)[PRIMARY_PROJECT]
    assert rows(first, count, primary)[0]["n"] == EXTRA + 3
    assert rows(second, count, project_ids(second)[PRIMARY_PROJECT])[0]["n"] == 3
    extra = rows(first, "SELECT name, size, created_at FROM images WHERE name LIKE '%-snap-0%'")
    assert len({row["name"] for row in extra}) == EXTRA
    assert len({row["size"] for row in extra}) > 1
    assert len({row["created_at"] for row in extra}) == EXTRA


def test_a_limit_over_1000_is_capped_at_1000_with_a_next_link(big_cloud: LocalCloud) -> None:
    credentials = load_credentials(big_cloud.state_dir)
    with httpx.Client(base_url=big_cloud.url) as client:
        body = password_auth(credentials["username"], credentials["password"], PRIMARY_PROJECT)
        token = client.post(f"/{SITE}/identity/v3/auth/tokens", json=body).headers[
            "X-Subject-Token"
        ]
        headers = {"X-Auth-Token": token}
        params: dict[str, str | int] = {"image_type": "snapshot", "limit": 5000}
        first = client.get(f"/{SITE}/image/v2/images", params=params, headers=headers).json()
        assert len(first["images"]) == 1000
        assert first["next"].startswith("/v2/images?image_type=snapshot&limit=5000&marker=")
        rest = client.get(f"/{SITE}/image{first['next']}", headers=headers).json()
        assert len(rest["images"]) == EXTRA + 3 - 1000
        assert "next" not in rest
        one = first["images"][500]
        data = client.get(f"/{SITE}/image/v2/images/{one['id']}/file", headers=headers)
        assert hashlib.md5(data.content).hexdigest() == one["checksum"]


def test_a_second_start_on_the_same_state_keeps_ids_and_password(tmp_path: Path) -> None:
    config = LocalCloudConfig(timings=Timings.fast(), state_dir=tmp_path)
    with LocalCloud(config) as cloud:
        assert cloud.state is not None
        before = {r["id"] for r in rows(cloud.state.sites[SITE], "SELECT id FROM images")}
    password = json.loads((tmp_path / "credentials.json").read_text())["password"]
    with LocalCloud(config) as cloud:
        assert cloud.state is not None
        after = {r["id"] for r in rows(cloud.state.sites[SITE], "SELECT id FROM images")}
        assert load_credentials(tmp_path)["password"] == password
    assert before == after
