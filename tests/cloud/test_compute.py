"""Servers, snapshots of them, and failures, on the local cloud (real HTTP, injected faults)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from denbi_jupyter.cloud import OpenStackCloud, Server, Snapshot, open_site, sites_offering
from denbi_jupyter.cloud.provenance import provenance_metadata
from denbi_jupyter.errors import (
    AuthenticationError,
    CloudUnavailableError,
    ConflictError,
    NotFoundError,
    QuotaExceededError,
    UserInputError,
)

from .conftest import wait_for

AddFault = Callable[..., None]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def active_server(bielefeld: OpenStackCloud) -> Iterator[Server]:
    image = bielefeld.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    flavor = bielefeld.find_flavor("de.NBI mini")
    server = bielefeld.create_server(
        name=_unique("cloud-test"), image_id=image.id, flavor_id=flavor.id, key_name=None,
        metadata={"purpose": "cloud-layer test"},
    )  # fmt: skip
    assert (server.status, server.task_state) == ("BUILD", "scheduling")
    active = wait_for(lambda: _active(bielefeld, server.id))
    assert active.flavor is not None  # as Nova embeds it (microversion >= 2.47)
    assert (active.flavor.name, active.flavor.ram_mb) == ("de.NBI mini", flavor.ram_mb)
    yield active
    if bielefeld.get_server(server.id) is not None:
        wait_for(lambda: not (bielefeld.get_server(server.id) or server).task_state)
        bielefeld.delete_server(server.id)


def _active(client: OpenStackCloud, server_id: str) -> Server | None:
    server = client.get_server(server_id)
    return server if server is not None and server.status == "ACTIVE" else None


def test_booted_server_has_flavor_address_and_metadata(
    bielefeld: OpenStackCloud, active_server: Server
) -> None:
    assert active_server.flavor_name == "de.NBI mini"
    assert active_server.private_ipv4
    assert ipaddress.ip_address(active_server.private_ipv4).is_private
    assert active_server.metadata["purpose"] == "cloud-layer test"
    assert bielefeld.find_server(active_server.name) == bielefeld.get_server(active_server.id)
    assert active_server.id in [s.id for s in bielefeld.list_servers()]


def test_snapshot_guards_the_server_until_it_is_uploaded(
    bielefeld: OpenStackCloud, active_server: Server
) -> None:
    metadata = provenance_metadata(
        server_id=active_server.id,
        server_name=active_server.name,
        image_id=active_server.image_id,
        flavor_name=active_server.flavor_name,
        flow_run_id="run-1",
    )
    image_id = bielefeld.create_snapshot(active_server.id, name=" nightly ", metadata=metadata)
    try:
        with pytest.raises(ConflictError, match="snapshot"):
            bielefeld.delete_server(active_server.id)
        with pytest.raises(ConflictError):
            bielefeld.create_snapshot(active_server.id, name="second", metadata={})

        def active_snapshot() -> Snapshot | None:
            found = bielefeld.get_snapshot(image_id)
            return found if found is not None and found.status == "active" else None

        snapshot = wait_for(active_snapshot)
        assert snapshot.name == "nightly"
        assert snapshot.source_server_id == active_server.id
        assert snapshot.source_server_name == active_server.name
        assert snapshot.flavor_name == "de.NBI mini"
        assert snapshot.project_name == "denbi-demo"
    finally:
        wait_for(lambda: not (bielefeld.get_server(active_server.id) or active_server).task_state)
        bielefeld.delete_image(image_id)
    assert bielefeld.get_snapshot(image_id) is None


def test_injected_409_on_create_image_is_a_conflict(
    bielefeld: OpenStackCloud, active_server: Server, faults: AddFault
) -> None:
    faults(
        kind="conflict", site="bielefeld", service="compute", method="POST", path="/action", count=1
    )
    with pytest.raises(ConflictError, match="try again"):
        bielefeld.create_snapshot(active_server.id, name="blocked", metadata={})


def test_quota_error_on_boot_is_a_quota_error(bielefeld: OpenStackCloud, faults: AddFault) -> None:
    faults(
        kind="quota", site="bielefeld", service="compute", method="POST", path="/servers$", count=1
    )
    with pytest.raises(QuotaExceededError, match="quota"):
        bielefeld.create_server(name="too-many", image_id="x", flavor_id="y", key_name=None)


def test_server_errors_are_cloud_unavailable(bielefeld: OpenStackCloud, faults: AddFault) -> None:
    bielefeld.list_images()  # Glance version discovery done: the fault hits the listing itself
    faults(kind="error", site="bielefeld", service="image", method="GET", status=503, count=5)
    with pytest.raises(CloudUnavailableError, match="503"):
        bielefeld.list_images()


def test_an_outage_during_discovery_is_cloud_unavailable(
    bielefeld: OpenStackCloud, faults: AddFault
) -> None:
    faults(kind="error", site="bielefeld", service="image", method="GET", status=503, count=5)
    with pytest.raises(CloudUnavailableError, match="try again later"):
        bielefeld.list_images()


def test_wrong_password_is_an_authentication_error(clouds_yaml: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(clouds_yaml.read_text())
    data["clouds"]["bielefeld"]["auth"]["password"] = "wrong-password-123"
    broken = tmp_path / "clouds.yaml"
    broken.write_text(yaml.safe_dump(data))
    client = open_site("bielefeld", config_file=broken)
    with pytest.raises(AuthenticationError, match=r"clouds\.yaml") as caught:
        client.list_flavors()
    assert "wrong-password-123" not in str(caught.value)


def test_unknown_server_and_bad_key_are_refused(bielefeld: OpenStackCloud) -> None:
    with pytest.raises(NotFoundError):
        bielefeld.find_server("no-such-server")
    with pytest.raises(NotFoundError):
        bielefeld.delete_server(str(uuid.uuid4()))
    with pytest.raises(UserInputError, match="private key") as caught:
        bielefeld.import_keypair("k", "-----BEGIN OPENSSH PRIVATE KEY-----\nsecretbits\n")
    assert "secretbits" not in str(caught.value)


def test_keypair_import_and_listing(bielefeld: OpenStackCloud) -> None:
    name = _unique("key")
    public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdzJFVdtA/Qhfc9K299GuLHCm8FVnqnOAgBjGLK9K6X t@x"
    pair = bielefeld.import_keypair(name, public)
    assert pair.fingerprint
    assert name in [k.name for k in bielefeld.list_keypairs()]
    with pytest.raises(ConflictError):
        bielefeld.import_keypair(name, public)


def test_flavors_and_limits(bielefeld: OpenStackCloud) -> None:
    flavors = bielefeld.list_flavors()
    assert flavors == sorted(flavors, key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb, f.name))
    assert bielefeld.find_flavor(flavors[0].id) == flavors[0]
    limits = bielefeld.limits()
    assert limits.max_instances > 0 and limits.used_instances >= 0


def test_multi_site_view(
    bielefeld: OpenStackCloud, heidelberg: OpenStackCloud, faults: AddFault
) -> None:
    clients = [heidelberg, bielefeld]
    assert sites_offering("X2Go_xfce", clients) == ["bielefeld", "heidelberg"]
    assert sites_offering("no-such-image", clients) == []
    faults(kind="error", site="heidelberg", service="image", status=503)
    assert sites_offering("X2Go_xfce", clients) == ["bielefeld"]
    with pytest.raises(CloudUnavailableError):
        sites_offering("X2Go_xfce", clients, skip_unavailable=False)


def test_a_failed_boot_carries_novas_fault_message(
    bielefeld: OpenStackCloud, faults: AddFault
) -> None:
    faults(kind="boot_error", site="bielefeld", count=1)
    image = bielefeld.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    flavor = bielefeld.find_flavor("de.NBI mini")
    server = bielefeld.create_server(
        name=_unique("doomed"), image_id=image.id, flavor_id=flavor.id, key_name=None
    )
    try:
        failed = wait_for(
            lambda: s if (s := bielefeld.get_server(server.id)) and s.status == "ERROR" else None
        )
        assert failed.fault is not None
        assert "No valid host" in failed.fault
    finally:
        bielefeld.delete_server(server.id)
