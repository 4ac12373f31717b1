"""The FakeGateway answers like the local cloud's Glance and Nova, so FakeCloud runs real rules.

Contract checks copy the Glance records the session cloud shows one project into a FakeGateway
and send both the same query parameters (directly and through the real client); the rest pins
the fake's scripting knobs.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from denbi_jupyter.cloud import CloudClient, OpenStackCloud, SnapshotQuery, SnapshotSort
from denbi_jupyter.cloud._gateway import CloudGateway
from denbi_jupyter.cloud._openstack import Gateway
from denbi_jupyter.cloud.types import Flavor
from denbi_jupyter.errors import ConflictError, NotFoundError, PermissionDeniedError
from tests.support.fake_cloud import FakeCloud
from tests.support.fake_gateway import FakeGateway


@pytest.fixture
def twin(bielefeld: OpenStackCloud) -> FakeGateway:
    """A FakeGateway holding the records the session cloud's bielefeld project sees."""
    real = bielefeld.gateway
    assert isinstance(real, Gateway)
    project_id, project_name = real.token_project()
    fake = FakeGateway(project_id=project_id, project_name=project_name)
    fake.projects = real.auth_projects()
    answer = real.connection.image.get(
        "/images", params={"limit": 1000}, headers={"Accept": "application/json"}
    )
    for record in answer.json()["images"]:
        fake.put_image(record)
    return fake


def _pages(gateway: CloudGateway, params: dict[str, Any]) -> list[list[str]]:
    pages, query = [], dict(params)
    while True:
        page = gateway.image_page(query, classified=False)
        pages.append([image.id for image in page.images])
        if page.next_marker is None or not page.images:
            return pages
        query["marker"] = page.next_marker


def _members(protocol: type) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_")]


def test_fake_gateway_has_every_gateway_method_with_the_same_signature() -> None:
    for name in _members(CloudGateway):
        expected = inspect.signature(getattr(Gateway, name))
        actual = inspect.signature(getattr(FakeGateway, name))
        assert list(actual.parameters) == list(expected.parameters), name
        for param, spec in expected.parameters.items():
            assert actual.parameters[param].kind == spec.kind, (name, param)


def test_fake_cloud_is_the_real_client_and_structurally_a_cloud_client() -> None:
    client: CloudClient = FakeCloud()
    assert isinstance(client, OpenStackCloud)
    assert client.project_name == "my-project"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 3},
        {"limit": 4, "sort": "name:asc"},
        {"limit": 2, "sort_key": "size", "sort_dir": "asc"},
        {"limit": 5, "sort": "status:asc,name:desc"},
        {"limit": 2, "image_type": "snapshot", "sort": "created_at:desc"},
        {"limit": 1000, "visibility": "shared"},
        {"limit": 1000, "visibility": "private"},
        {"limit": 1000, "visibility": "public", "status": "active", "tag": "base_image"},
        {"limit": 1000, "os_distro": "ubuntu"},
        {"limit": 1000, "status": "in:active,queued"},
    ],
)
def test_listing_pages_filters_and_sorts_like_glance(
    bielefeld: OpenStackCloud, twin: FakeGateway, params: dict[str, Any]
) -> None:
    assert _pages(twin, params) == _pages(bielefeld.gateway, params)


def test_owner_name_and_id_filters_like_glance(
    bielefeld: OpenStackCloud, twin: FakeGateway
) -> None:
    everything = _pages(bielefeld.gateway, {"limit": 1000})[0]
    some = ",".join(everything[::3])
    name = bielefeld.gateway.image_page({"limit": 1}).images[0].name
    for params in (
        {"owner": bielefeld.project_id},
        {"id": f"in:{some}"},
        {"name": name},
        {"name": "no such image"},
    ):
        assert _pages(twin, params) == _pages(bielefeld.gateway, params), params


def test_an_unknown_marker_is_refused_like_glance(
    bielefeld: OpenStackCloud, twin: FakeGateway
) -> None:
    params = {"limit": 2, "marker": "00000000-0000-4000-8000-000000000000"}
    errors = []
    for gateway in (bielefeld.gateway, twin):
        with pytest.raises(Exception) as caught:
            gateway.image_page(params)
        errors.append(type(caught.value))
    assert errors[0] is errors[1]


@pytest.mark.parametrize("sort", list(SnapshotSort))
def test_the_real_client_pages_snapshots_alike_over_both(
    bielefeld: OpenStackCloud, twin: FakeGateway, sort: SnapshotSort
) -> None:
    over_fake = OpenStackCloud(bielefeld.site, twin)
    for page in (1, 2, 3, 4):
        query = SnapshotQuery(page=page, per_page=1, sort=sort)
        assert over_fake.list_snapshots(query) == bielefeld.list_snapshots(query), page
    own = SnapshotQuery(per_page=50, own_only=True)
    assert over_fake.list_snapshots(own) == bielefeld.list_snapshots(own)
    assert over_fake.list_images() == bielefeld.list_images()


# --- the fake's own knobs -------------------------------------------------------------------
def test_delete_refuses_protected_and_foreign_images_and_keeps_them() -> None:
    cloud = FakeCloud(other_projects={"p-other": "other"})
    locked = cloud.add_snapshot("locked", protected=True)
    foreign = cloud.add_snapshot("theirs", owner="p-other", visibility="shared")
    for snapshot in (locked, foreign):
        with pytest.raises(PermissionDeniedError):
            cloud.delete_image(snapshot.id)
        assert cloud.get_image(snapshot.id) is not None
    for snapshot in (locked, foreign):  # the service refuses too, without the client's guard
        with pytest.raises(PermissionDeniedError):
            cloud.gateway.delete_image(snapshot.id)


def test_snapshot_progresses_one_step_per_read_and_blocks_a_second_snapshot() -> None:
    cloud = FakeCloud()
    source = cloud.add_image("Ubuntu", properties={"os_distro": "ubuntu"})
    server = cloud.add_server("vm1", image_id=source.id)
    image_id = cloud.create_snapshot(server.id, name="snap", metadata={"k": "v"})
    with pytest.raises(ConflictError):
        cloud.create_snapshot(server.id, name="again", metadata={})
    statuses = [cloud.get_snapshot(image_id).status for _ in range(4)]  # type: ignore[union-attr]
    assert statuses == ["queued", "saving", "active", "active"]
    states = [cloud.get_server(server.id).task_state for _ in range(5)]  # type: ignore[union-attr]
    assert states == ["image_snapshot_pending", "image_snapshot", "image_uploading", None, None]
    snapshot = cloud.get_snapshot(image_id)
    assert snapshot is not None
    assert (snapshot.source_server_id, snapshot.source_image_id) == (server.id, source.id)
    assert (snapshot.properties["k"], snapshot.properties["os_distro"]) == ("v", "ubuntu")
    cloud.delete_server(server.id)


def test_the_client_refuses_to_delete_a_server_while_nova_snapshots_it() -> None:
    cloud = FakeCloud()
    server = cloud.add_server("vm1")
    cloud.create_snapshot(server.id, name="snap", metadata={})
    with pytest.raises(ConflictError, match="taking a snapshot"):
        cloud.delete_server(server.id)
    assert not [call for call in cloud.gateway.calls if call[0] == "delete_server"]


@pytest.mark.parametrize(("outcome", "last"), [("killed", "killed"), ("vanish", None)])
def test_snapshot_outcomes_can_be_scripted(outcome: str, last: str | None) -> None:
    cloud = FakeCloud()
    cloud.snapshot_outcome = outcome
    image_id = cloud.create_snapshot(cloud.add_server("vm").id, name="s", metadata={})
    seen = [cloud.get_image(image_id) for _ in range(3)]
    assert (seen[-1].status if seen[-1] else None) == last


def test_injected_conflicts_fail_the_service_call_the_next_times_only() -> None:
    cloud = FakeCloud()
    server = cloud.add_server("vm")
    cloud.conflict_next("create_snapshot", times=2)
    for _ in range(2):
        with pytest.raises(ConflictError):
            cloud.create_snapshot(server.id, name="s", metadata={})
    assert cloud.create_snapshot(server.id, name="s", metadata={})
    assert [name for name, _ in cloud.calls].count("create_snapshot") == 3
    assert [name for name, _ in cloud.gateway.calls].count("create_image") == 3


def test_boot_progression_ends_active() -> None:
    cloud = FakeCloud()
    image = cloud.add_image("Ubuntu")
    flavor = cloud.find_flavor("de.NBI small")
    server = cloud.create_server(name="vm", image_id=image.id, flavor_id=flavor.id, key_name=None)
    assert [cloud.get_server(server.id).status for _ in range(4)] == [  # type: ignore[union-attr]
        "BUILD",
        "BUILD",
        "ACTIVE",
        "ACTIVE",
    ]
    assert cloud.servers[server.id].flavor == Flavor(
        id="de.NBI small", name="de.NBI small", vcpus=2, ram_mb=4096, disk_gb=20
    )


def test_only_outside_calls_are_recorded() -> None:
    cloud = FakeCloud()
    cloud.find_flavor("de.NBI mini")
    assert cloud.calls == [("find_flavor", ("de.NBI mini",))]
    assert [name for name, _ in cloud.gateway.calls] == ["list_flavors"]


def test_snapshot_listing_and_index_agree() -> None:
    cloud = FakeCloud(other_projects={"p2": "beta"})
    for n in range(7):
        cloud.add_snapshot(f"snap-{n}", owner="p2" if n % 2 else None, visibility="shared")
    query = SnapshotQuery(text="SNAP", per_page=3, page=2, sort=SnapshotSort.NAME)
    index = cloud.snapshot_index()
    index.load()
    assert cloud.list_snapshots(query) == index.query(query)
    assert [s.name for s in cloud.list_snapshots(SnapshotQuery(text="beta")).items] == [
        "snap-5",
        "snap-3",
        "snap-1",
    ]


def test_unknown_names_are_not_found() -> None:
    cloud = FakeCloud()
    with pytest.raises(NotFoundError):
        cloud.find_server("nope")
    with pytest.raises(NotFoundError):
        cloud.find_image("nope")
    assert cloud.get_server("nope") is None
