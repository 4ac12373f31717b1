"""A VM booted from a snapshot keeps its desktop: the snapshot's source image tells it."""

from __future__ import annotations

import uuid

from denbi_jupyter.cloud import OpenStackCloud
from denbi_jupyter.cloud.provenance import BASE_IMAGE_REF, SOURCE_IMAGE_ID
from denbi_jupyter.cloud.types import DesktopKind
from denbi_jupyter.connect.details import connection_details
from tests.support.fake_cloud import FakeCloud


def _x2go_chain(cloud: FakeCloud) -> tuple[str, str, str]:
    base = cloud.add_image("X2Go_xfce", tags=["x2go"])
    first = cloud.add_snapshot("desk-snap", properties={BASE_IMAGE_REF: base.id})
    second = cloud.add_snapshot("desk-snap-2", properties={SOURCE_IMAGE_ID: first.id})
    return base.id, first.id, second.id


def test_a_snapshot_tells_the_desktop_of_the_image_it_was_made_from() -> None:
    cloud = FakeCloud()
    base, first, second = _x2go_chain(cloud)
    for image_id in (first, second):  # a snapshot, and a snapshot of a VM booted from one
        found = cloud.desktop_image(image_id)
        assert found is not None and found.id == base
        assert found.kind.desktop is DesktopKind.X2GO and found.kind.x2go_session == "XFCE"
    plain = cloud.desktop_image(base)
    assert plain is not None and plain.id == base


def test_a_broken_chain_stops_at_the_last_image_found() -> None:
    cloud = FakeCloud()
    orphan = cloud.add_snapshot("orphan", properties={BASE_IMAGE_REF: "deleted-long-ago"})
    own_id = str(uuid.uuid4())  # a snapshot naming itself as its source
    loop = cloud.add_image(
        "loop", properties={"image_type": "snapshot", SOURCE_IMAGE_ID: own_id}, image_id=own_id
    )
    assert (found := cloud.desktop_image(orphan.id)) is not None and found.id == orphan.id
    assert (found := cloud.desktop_image(loop.id)) is not None and found.id == loop.id
    assert cloud.desktop_image("no-such-image") is None


def test_a_vm_relaunched_from_an_x2go_snapshot_gets_the_x2go_card() -> None:
    cloud = FakeCloud()
    _, _, second = _x2go_chain(cloud)
    server = cloud.add_server("relaunched", status="ACTIVE", image_id=second)
    assert isinstance(cloud, OpenStackCloud)
    details = connection_details(cloud.site, server, cloud.desktop_image(second))
    assert details.x2go_session_type == "XFCE" and details.x2go_session is not None


def test_one_broken_way_in_leaves_the_others_standing() -> None:
    """A ``guacamole_base_url`` without a scheme breaks the Guacamole link only, never SSH."""
    from dataclasses import replace

    from denbi_jupyter.panels._connection_card import _links_html

    cloud = FakeCloud()
    image = cloud.add_image("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", tags=("guacamole",))
    server = cloud.add_server("guac-vm", status="ACTIVE", image_id=image.id)
    site = replace(cloud.site, guacamole_base_url="guacamole.example.org/guacamole")
    details = connection_details(site, server, cloud.desktop_image(image.id))
    assert details.ssh_command.startswith("ssh -p ") and details.ssh_config.startswith("Host ")
    assert details.guacamole_url is None
    assert len(details.problems) == 1 and details.problems[0].startswith("Guacamole: ")
    assert "guacamole.example.org/guacamole" in details.problems[0]
    assert details.as_dict()["problems"] == list(details.problems)
    assert "denbi-way-problem" in _links_html(details, server.name)
