"""The image catalog on the local cloud: classification, server-side filters, lookups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import DesktopKind, ImageQuery, OpenStackCloud, list_sites, open_site
from denbi_jupyter.cloud.classify import classify
from denbi_jupyter.errors import NotFoundError, UserInputError

Record = Callable[[OpenStackCloud], Any]


def test_sites_come_from_the_local_clouds_yaml_via_os_client_config_file(
    clouds_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    sites = {site.name: site for site in list_sites()}
    assert sorted(sites) == ["bielefeld", "heidelberg"]
    assert sites["heidelberg"].ssh_port_formula == "30000 + oct4"
    assert sites["bielefeld"].guacamole_base_url == "https://guacamole.bi.denbi.de/guacamole"


def test_open_site_follows_os_cloud(clouds_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    monkeypatch.setenv("OS_CLOUD", "heidelberg")
    client = open_site()
    assert client.site.name == "heidelberg"
    assert client.project_name == "denbi-demo"


def test_x2go_images_carry_their_session_type(bielefeld: OpenStackCloud) -> None:
    images = bielefeld.list_images(ImageQuery(desktop=DesktopKind.X2GO))
    sessions = {image.name: image.kind.x2go_session for image in images}
    assert sessions["X2Go_xfce"] == "XFCE"
    assert sessions["X2Go_mate"] == "MATE"
    assert sessions["X2Go_lxde"] == "LXDE"
    assert all(image.kind.desktop is DesktopKind.X2GO for image in images)


def test_guacamole_images_by_tag_and_name(bielefeld: OpenStackCloud) -> None:
    names = {i.name for i in bielefeld.list_images(ImageQuery(desktop=DesktopKind.GUACAMOLE))}
    assert "Guacamole-ubuntu22.04 de.NBI (2026-05-01)" in names
    assert any("GuacamoleVNC" in name for name in names)
    assert not any(name.startswith("X2Go") for name in names)


def test_research_environments(bielefeld: OpenStackCloud) -> None:
    labels = {
        i.kind.research_environment for i in bielefeld.list_images(ImageQuery(research_only=True))
    }
    assert {"RStudio", "JupyterLab", "VS Code", "Theia IDE"} <= labels
    assert None not in labels


def test_os_filter_and_text(bielefeld: OpenStackCloud) -> None:
    rocky = bielefeld.list_images(ImageQuery(os_family="Rocky"))
    assert [(i.kind.os_family, i.kind.os_version) for i in rocky] == [("rocky", "9")]
    assert {i.name for i in bielefeld.list_images(ImageQuery(text="jupyter"))} == {
        "JupyterLab-ubuntu22.04 de.NBI (2026-05-01)"
    }


def test_catalog_is_active_only_newest_first_and_without_snapshots(
    bielefeld: OpenStackCloud, record: Record
) -> None:
    with record(bielefeld) as log:
        images = bielefeld.list_images()
    assert images == sorted(images, key=lambda i: i.created_at, reverse=True)
    assert all(i.status == "active" and not i.is_snapshot for i in images)
    (listing,) = log.matching(path_suffix="/v2/images")
    assert listing.query["status"] == ["active"]


def test_base_only_is_filtered_by_glance(bielefeld: OpenStackCloud, record: Record) -> None:
    with record(bielefeld) as log:
        base = bielefeld.list_images(ImageQuery(base_only=True, include_snapshots=True))
    (listing,) = log.matching(path_suffix="/v2/images")
    assert listing.query["tag"] == ["base_image"]
    assert listing.items == len(base)
    assert base and all(image.kind.is_base for image in base)
    assert not any(i.is_snapshot for i in bielefeld.list_images(ImageQuery(base_only=True)))


def test_property_filter_reaches_glance(bielefeld: OpenStackCloud, record: Record) -> None:
    """Proved server side: the URL carries the filter and the answer holds only matches."""
    everything = bielefeld.find_images_by_property("visibility", "public")
    with record(bielefeld) as log:
        rocky = bielefeld.find_images_by_property("os_distro", "rocky")
        nothing = bielefeld.find_images_by_property("denbi_no_such_property", "x")
    first, second = log.matching(path_suffix="/v2/images")
    assert first.query["os_distro"] == ["rocky"]
    assert first.items == len(rocky) == 1 < len(everything)
    assert second.query["denbi_no_such_property"] == ["x"]
    assert (second.items, nothing) == (0, [])


def test_image_type_filter_is_not_dropped(bielefeld: OpenStackCloud, record: Record) -> None:
    # openstacksdk's image listing silently drops image_type; ours sends it.
    with record(bielefeld) as log:
        snapshots = bielefeld.find_images_by_property("image_type", "snapshot")
    (listing,) = log.matching(path_suffix="/v2/images")
    assert listing.query["image_type"] == ["snapshot"]
    assert snapshots and all(image.is_snapshot for image in snapshots)


def test_paging_and_sort_keys_are_not_property_filters(bielefeld: OpenStackCloud) -> None:
    with pytest.raises(UserInputError):
        bielefeld.find_images_by_property("limit", "5")


def test_find_image_by_name_and_id(bielefeld: OpenStackCloud) -> None:
    image = bielefeld.find_image("X2Go_mate")
    assert bielefeld.find_image(image.id) == image
    assert bielefeld.get_image(image.id) == image
    with pytest.raises(NotFoundError):
        bielefeld.find_image("no-such-image")
    assert bielefeld.get_image("00000000-0000-0000-0000-000000000000") is None


def test_set_image_tags_replaces_the_list(bielefeld: OpenStackCloud) -> None:
    image = bielefeld.find_image("demo-private-image")
    try:
        bielefeld.set_image_tags(image.id, ["custom", "checked", "checked", " "])
        assert bielefeld.get_image(image.id).tags == ("checked", "custom")  # type: ignore[union-attr]
    finally:
        bielefeld.set_image_tags(image.id, list(image.tags))


def test_catalog_listings_never_walk_the_private_images(
    bielefeld: OpenStackCloud, record: Record
) -> None:
    with record(bielefeld) as log:
        offered = bielefeld.offered_images()
    visibilities = sorted(
        q for r in log.matching(path_suffix="/v2/images") for q in r.query["visibility"]
    )
    assert visibilities == ["public", "shared"]  # one listing each; snapshots are private
    assert all(i.status == "active" and not i.is_snapshot for i in offered)
    assert "demo-private-image" not in {i.name for i in offered}


def test_private_uploads_come_from_the_snapshot_index_walk(bielefeld: OpenStackCloud) -> None:
    private = bielefeld.private_images()
    assert [i.name for i in private] == ["demo-private-image"]
    assert private[0].kind == classify(private[0].name, private[0].tags, private[0].properties)
    assert bielefeld.snapshot_index().loaded  # the same walk filled the index
    catalog = {i.id for i in (*bielefeld.offered_images(), *private)}
    assert catalog == {i.id for i in bielefeld.list_images()}
