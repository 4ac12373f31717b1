"""Snapshot listing on the local cloud: one request per page, cached project names, the index.

Requests are counted on the wire (``RequestLog`` wraps the ``requests.Session.send`` under the
client's keystoneauth session), so token, discovery and Keystone calls count too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from denbi_jupyter.cloud import OpenStackCloud, SnapshotQuery, SnapshotSort
from denbi_jupyter.cloud._openstack import Gateway
from denbi_jupyter.errors import PermissionDeniedError

from .conftest import BIG_SNAPSHOTS

Record = Callable[[OpenStackCloud], Any]
SEEDED_OWN = 3  # rnaseq-workbench-snap, x2go-desktop-snap, golden-analysis-snap


def _glance_lists(log: Any) -> int:
    return int(log.count(path_suffix="/v2/images", method="GET"))


def test_each_page_costs_one_glance_request_and_one_project_lookup_per_client(
    big: OpenStackCloud, record: Record
) -> None:
    big.project_id  # noqa: B018 - authenticate first: token requests are not page requests
    with record(big) as log:
        pages = [big.list_snapshots(SnapshotQuery(page=n, per_page=25)) for n in (1, 2, 3, 4)]
    assert _glance_lists(log) == 4
    assert log.count(path_suffix="/auth/projects") == 1
    assert len(log.requests) == 4 + 1 + 1  # pages, project names, Glance version discovery
    ids = [s.id for page in pages for s in page.items]
    assert len(ids) == len(set(ids)) == 100
    assert all(page.has_next for page in pages)
    created = [s.created_at for page in pages for s in page.items]
    assert created == sorted(created, reverse=True)


def test_pages_match_a_full_listing_and_the_last_page_has_no_next(big: OpenStackCloud) -> None:
    total = BIG_SNAPSHOTS + SEEDED_OWN
    per_page = 50
    seen = []
    page_no = 1
    while True:
        page = big.list_snapshots(
            SnapshotQuery(page=page_no, per_page=per_page, sort=SnapshotSort.NAME)
        )
        seen += [s.name for s in page.items]
        if not page.has_next:
            break
        page_no += 1
    assert page_no == -(-total // per_page)
    assert len(seen) == total
    assert seen == sorted(seen)


def test_a_jump_walks_in_thousand_item_steps(big: OpenStackCloud, record: Record) -> None:
    big.project_names()
    with record(big) as log:
        page = big.list_snapshots(SnapshotQuery(page=5, per_page=10))
        again = big.list_snapshots(SnapshotQuery(page=4, per_page=10))
    # page 5: one walk request (40 items) + the page; page 4's start was remembered on the way
    assert _glance_lists(log) == 3
    walk = log.matching(path_suffix="/v2/images")[0]
    assert walk.query["limit"] == ["40"]
    assert page.items[0].id != again.items[0].id
    expected = [
        s.id
        for n in range(1, 6)
        for s in big.list_snapshots(SnapshotQuery(page=n, per_page=10)).items
    ]
    assert [s.id for s in page.items] == expected[40:50]


def test_an_id_is_filtered_by_glance(big: OpenStackCloud, record: Record) -> None:
    wanted = big.list_snapshots(SnapshotQuery(per_page=5)).items[3]
    with record(big) as log:
        page = big.list_snapshots(SnapshotQuery(text=wanted.id.upper()))
    (listing,) = log.matching(path_suffix="/v2/images")
    assert listing.query["id"] == [wanted.id]
    assert [s.id for s in page.items] == [wanted.id]


def test_an_exact_project_name_becomes_an_owner_filter(
    bielefeld: OpenStackCloud, record: Record
) -> None:
    bielefeld.project_names()
    with record(bielefeld) as log:
        page = bielefeld.list_snapshots(SnapshotQuery(text="denbi-demo"))
    (listing,) = log.matching(path_suffix="/v2/images")
    assert listing.query["owner"] == [bielefeld.project_id]
    assert {s.project_name for s in page.items} == {"denbi-demo"}
    assert len(page.items) == SEEDED_OWN


def test_project_names_are_fetched_once_per_client(
    bielefeld: OpenStackCloud, heidelberg: OpenStackCloud, record: Record
) -> None:
    for client in (bielefeld, heidelberg):
        with record(client) as log:
            for sort in SnapshotSort:
                client.list_snapshots(SnapshotQuery(sort=sort))
            client.get_snapshot(client.list_snapshots(SnapshotQuery()).items[0].id)
            names = client.project_names()
        assert log.count(path_suffix="/auth/projects") == 1
        assert names[client.project_id] == "denbi-demo"


def test_index_loads_in_thousand_item_pages_then_filters_with_zero_requests(
    big: OpenStackCloud, record: Record
) -> None:
    index = big.snapshot_index()
    with record(big) as log:
        index.load_in_background()
        assert index.wait_loaded(30)
    limits = {r.query["limit"][0] for r in log.matching(path_suffix="/v2/images")}
    assert limits == {"1000"}
    assert len(index) == BIG_SNAPSHOTS + SEEDED_OWN
    # The time per keystroke is measured in benchmarks/cloud_snapshot_listing.py.
    with record(big) as log:
        for text in ("s", "sn", "sna", "snap", "snap-0", "snap-000", "snap-0001"):
            page = big.list_snapshots(SnapshotQuery(text=text, per_page=20))
    assert log.requests == []
    assert all("snap-0001" in s.name for s in page.items)
    created = [s.created_at for s in page.items]
    assert created == sorted(created, reverse=True)
    assert page.total == 10


def test_name_search_before_the_index_is_loaded_loads_it(big: OpenStackCloud) -> None:
    page = big.list_snapshots(SnapshotQuery(text="GOLDEN-analysis"))
    assert [s.name for s in page.items] == ["golden-analysis-snap"]
    assert big.snapshot_index().loaded


def test_index_matches_project_name_substrings(bielefeld: OpenStackCloud) -> None:
    bielefeld.snapshot_index().load()
    page = bielefeld.list_snapshots(SnapshotQuery(text="DEMO"))
    assert {s.project_name for s in page.items} == {"denbi-demo"}


def test_snapshots_carry_provenance_from_nova_properties(bielefeld: OpenStackCloud) -> None:
    (snap,) = bielefeld.list_snapshots(SnapshotQuery(text="x2go-desktop-snap")).items
    assert snap.source_server_id
    assert snap.source_image_id == bielefeld.find_image("X2Go_xfce").id
    assert snap.project_id == bielefeld.project_id


def test_protected_snapshot_is_refused_before_any_delete_request(
    bielefeld: OpenStackCloud, record: Record
) -> None:
    (golden,) = bielefeld.list_snapshots(SnapshotQuery(text="golden-analysis-snap")).items
    assert golden.protected
    with record(bielefeld) as log, pytest.raises(PermissionDeniedError, match="protected"):
        bielefeld.delete_image(golden.id)
    assert log.count(method="DELETE") == 0
    assert bielefeld.get_snapshot(golden.id) is not None


def test_foreign_image_is_refused_before_any_delete_request(
    bielefeld: OpenStackCloud, record: Record
) -> None:
    foreign = bielefeld.find_image("genomics-pipeline-image")
    assert foreign.owner != bielefeld.project_id
    with record(bielefeld) as log, pytest.raises(PermissionDeniedError, match="belongs to"):
        bielefeld.delete_image(foreign.id)
    assert log.count(method="DELETE") == 0
    assert bielefeld.get_image(foreign.id) is not None


def test_glance_403_on_delete_is_a_permission_error(bielefeld: OpenStackCloud) -> None:
    protected = bielefeld.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    with pytest.raises(PermissionDeniedError):
        bielefeld.gateway.delete_image(protected.id)  # skips our own check: Glance refuses
    assert bielefeld.get_image(protected.id) is not None


def test_volume_backed_snapshots_are_indexed_through_their_bdm_v2_property(
    bielefeld: OpenStackCloud,
) -> None:
    """Glance cannot filter on a property's presence: the index asks for ``bdm_v2=True``."""
    body = {
        "name": "volume-backed-snap",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "bdm_v2": "True",
        "block_device_mapping": '[{"boot_index": 0, "source_type": "snapshot"}]',
        "root_device_name": "/dev/vda",
    }
    gateway = bielefeld.gateway
    assert isinstance(gateway, Gateway)
    response = gateway.connection.image.post("/images", json=body)
    assert response.status_code == 201, response.text
    image_id = response.json()["id"]
    try:
        index = bielefeld.snapshot_index()
        index.load()
        (found,) = index.query(SnapshotQuery(text="volume-backed")).items
        assert found.id == image_id
        assert bielefeld.get_image(image_id).is_snapshot  # type: ignore[union-attr]
        # The paged listing (one request per page) covers image_type=snapshot only.
        assert image_id not in [s.id for s in bielefeld.list_snapshots(SnapshotQuery()).items]
    finally:
        bielefeld.delete_image(image_id)
