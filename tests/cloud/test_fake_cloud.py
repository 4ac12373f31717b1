"""The in-memory FakeCloud keeps the CloudClient protocol's promises."""

from __future__ import annotations

import inspect

import pytest
from support.fake_cloud import FakeCloud

from denbi_jupyter.cloud import (
    CloudClient,
    DesktopKind,
    ImageQuery,
    OpenStackCloud,
    SnapshotQuery,
    SnapshotSort,
)
from denbi_jupyter.errors import ConflictError, NotFoundError, PermissionDeniedError


def _protocol_members(protocol: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(protocol).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


@pytest.mark.parametrize("implementation", [FakeCloud, OpenStackCloud])
def test_implementation_has_every_protocol_member_with_the_same_signature(
    implementation: type,
) -> None:
    for name, member in _protocol_members(CloudClient).items():
        assert hasattr(implementation, name), name
        ours = getattr(implementation, name)
        if isinstance(member, property):
            assert isinstance(ours, property), name
            continue
        expected = inspect.signature(member)  # type: ignore[arg-type]
        actual = inspect.signature(ours)
        assert list(actual.parameters) == list(expected.parameters), name
        for param_name, param in expected.parameters.items():
            assert actual.parameters[param_name].kind == param.kind, (name, param_name)


def test_fake_is_structurally_a_cloud_client() -> None:
    client: CloudClient = FakeCloud()
    assert client.project_name == "my-project"


def test_catalog_filters_like_the_real_client() -> None:
    cloud = FakeCloud()
    cloud.add_image("X2Go_xfce Ubuntu-22.04")
    cloud.add_image("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", tags=["guacamole"])
    cloud.add_image("Debian 12", tags=["base_image"])
    cloud.add_image("RStudio", tags=["rstudio"])
    cloud.add_snapshot("my-snap")
    assert [i.name for i in cloud.list_images(ImageQuery(desktop=DesktopKind.X2GO))] == [
        "X2Go_xfce Ubuntu-22.04"
    ]
    assert [i.name for i in cloud.list_images(ImageQuery(base_only=True))] == ["Debian 12"]
    assert [i.name for i in cloud.list_images(ImageQuery(research_only=True))] == ["RStudio"]
    assert len(cloud.list_images(ImageQuery(os_family="ubuntu"))) == 2
    assert "my-snap" not in [i.name for i in cloud.list_images()]


def test_delete_refuses_protected_and_foreign_images_and_keeps_them() -> None:
    cloud = FakeCloud(other_projects={"p-other": "other"})
    locked = cloud.add_snapshot("locked", protected=True)
    foreign = cloud.add_snapshot("theirs", owner="p-other", visibility="shared")
    for snapshot in (locked, foreign):
        with pytest.raises(PermissionDeniedError):
            cloud.delete_image(snapshot.id)
        assert cloud.get_image(snapshot.id) is not None


def test_snapshot_progresses_one_step_per_read_and_blocks_a_second_snapshot() -> None:
    cloud = FakeCloud()
    server = cloud.add_server("vm1")
    image_id = cloud.create_snapshot(server.id, name="snap", metadata={"k": "v"})
    with pytest.raises(ConflictError):
        cloud.create_snapshot(server.id, name="again", metadata={})
    with pytest.raises(ConflictError):
        cloud.delete_server(server.id)
    statuses = [cloud.get_snapshot(image_id).status for _ in range(4)]  # type: ignore[union-attr]
    assert statuses == ["queued", "saving", "active", "active"]
    states = [cloud.get_server(server.id).task_state for _ in range(5)]  # type: ignore[union-attr]
    assert states == ["image_snapshot_pending", "image_snapshot", "image_uploading", None, None]
    snapshot = cloud.get_snapshot(image_id)
    assert snapshot is not None
    assert (snapshot.source_server_id, snapshot.properties["k"]) == (server.id, "v")
    cloud.delete_server(server.id)


@pytest.mark.parametrize(("outcome", "last"), [("killed", "killed"), ("vanish", None)])
def test_snapshot_outcomes_can_be_scripted(outcome: str, last: str | None) -> None:
    cloud = FakeCloud()
    cloud.snapshot_outcome = outcome
    image_id = cloud.create_snapshot(cloud.add_server("vm").id, name="s", metadata={})
    seen = [cloud.get_image(image_id) for _ in range(3)]
    assert (seen[-1].status if seen[-1] else None) == last


def test_injected_conflicts_fail_the_next_calls_only() -> None:
    cloud = FakeCloud()
    server = cloud.add_server("vm")
    cloud.conflict_next("create_snapshot", times=2)
    for _ in range(2):
        with pytest.raises(ConflictError):
            cloud.create_snapshot(server.id, name="s", metadata={})
    assert cloud.create_snapshot(server.id, name="s", metadata={})
    assert [name for name, _ in cloud.calls].count("create_snapshot") == 3


def test_boot_progression_ends_active() -> None:
    cloud = FakeCloud()
    flavor = cloud.find_flavor("de.NBI small")
    server = cloud.create_server(name="vm", image_id="img", flavor_id=flavor.id, key_name=None)
    assert [cloud.get_server(server.id).status for _ in range(4)] == [  # type: ignore[union-attr]
        "BUILD",
        "BUILD",
        "ACTIVE",
        "ACTIVE",
    ]


def test_snapshot_listing_and_index_agree() -> None:
    cloud = FakeCloud(other_projects={"p2": "beta"})
    for n in range(7):
        cloud.add_snapshot(f"snap-{n}", owner="p2" if n % 2 else None)
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
