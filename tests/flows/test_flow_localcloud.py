"""The flows end to end: real Prefect runs against the local cloud over loopback HTTP."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from openstack.connection import Connection

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import (
    FLAVOR_NAME,
    FLOW_RUN_ID,
    INSTANCE_UUID,
    SOURCE_IMAGE_ID,
    SOURCE_SERVER_ID,
    SOURCE_SERVER_NAME,
)
from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.types import SnapshotQuery
from denbi_jupyter.errors import OperationFailedError
from denbi_jupyter.localcloud.seed import SECOND_PROJECT
from flows import FlowEvent, listen, use_clients
from flows._ids import REQUEST_ID_KEY
from flows.boot import boot_server
from flows.delete import delete_snapshots
from flows.snapshot import create_snapshot
from tests.flows.harness import LocalEnv
from tests.support.sdk import sdk_connection

pytestmark = pytest.mark.usefixtures("prefect_harness")

SITE = "bielefeld"
X2GO_IMAGE = "X2Go_xfce"
FLAVOR = "de.NBI tiny"
Faults = Callable[..., None]


RUN = f"flows-{uuid.uuid4().hex[:6]}"


def _unique(prefix: str) -> str:
    """A name no other test uses; everything named so is deleted after the module."""
    return f"{RUN}-{prefix}-{uuid.uuid4().hex[:6]}"


def _sdk(
    site_clients: LocalEnv, *, project: str | None = None
) -> contextlib.AbstractContextManager[Connection]:
    """A plain openstacksdk connection for test set-up and clean-up (not for the code)."""
    return sdk_connection(site_clients.clouds_yaml, SITE, project=project)


@pytest.fixture(scope="module")
def client(site_clients: LocalEnv, prefect_harness: None) -> Iterator[CloudClient]:
    """The bielefeld client; flows in this module use it; what they made goes at the end."""
    cloud = site_clients.client(SITE)
    servers_before = {server.id for server in cloud.list_servers()}
    with use_clients(site_clients.client):
        yield cloud
    with _sdk(site_clients) as conn:  # plain Nova: also deletes the VM whose snapshot is stuck
        for server in cloud.list_servers():
            if server.id not in servers_before:
                conn.compute.delete_server(server.id)
    for snapshot in cloud.list_snapshots(SnapshotQuery(text=RUN, per_page=1000)).items:
        if snapshot.name.startswith(RUN) and not snapshot.protected:
            cloud.delete_image(snapshot.id)


@pytest.fixture(scope="module")
def vm(client: CloudClient) -> BootResult:
    """One VM booted by the flow from the X2Go XFCE image, shared by the snapshot tests."""
    return boot_server(
        site=SITE, image=X2GO_IMAGE, flavor=FLAVOR, key_name=None, name=_unique("flows-vm")
    )


def test_boot_ends_active_with_ssh_and_x2go_connection_info(
    client: CloudClient, vm: BootResult
) -> None:
    connection = vm.connection
    assert vm.status == "ACTIVE" and connection is not None
    address = vm.private_ipv4
    assert address is not None
    oct3, oct4 = (int(part) for part in address.split(".")[2:])
    port = 30000 + 256 * oct3 + oct4
    assert connection.ssh_command == f"ssh -p {port} ubuntu@127.0.0.1"
    assert f"Port {port}" in connection.ssh_config
    assert connection.x2go_session_type is not None
    assert connection.x2go_session_type.value == "XFCE"
    assert f"sshport={port}" in str(connection.x2go_session)
    live = client.get_server(vm.server_id)
    assert live is not None and live.metadata[REQUEST_ID_KEY] == vm.request_id


def test_snapshot_ends_active_with_provenance_and_the_source_image_tags(
    client: CloudClient, vm: BootResult
) -> None:
    events: list[FlowEvent] = []
    with listen(events.append):
        result = create_snapshot(site=SITE, server=vm.name, name=_unique("snap"))
    image = client.get_image(str(result.image_id))
    assert image is not None and image.status == "active"
    source = client.find_image(X2GO_IMAGE)
    assert set(source.tags) <= set(image.tags) and "x2go" in image.tags
    assert image.properties[SOURCE_SERVER_ID] == vm.server_id
    assert image.properties[SOURCE_SERVER_NAME] == vm.name
    assert image.properties[SOURCE_IMAGE_ID] == source.id
    assert image.properties[FLAVOR_NAME] == FLAVOR
    assert image.properties[FLOW_RUN_ID] == result.flow_run_id
    assert image.properties[REQUEST_ID_KEY] == result.request_id
    assert image.properties[INSTANCE_UUID] == vm.server_id
    messages = [event.message for event in events if event.kind == "progress"]
    assert "Glance: queued" in messages and messages[-1].endswith("is active")
    assert any(message.startswith("Nova: image_") for message in messages)


def test_a_vm_booted_from_a_snapshot_of_an_x2go_vm_keeps_its_x2go_desktop(
    client: CloudClient, vm: BootResult
) -> None:
    snapshot = create_snapshot(site=SITE, server=vm.name, name=_unique("desktop"))
    relaunched = boot_server(
        site=SITE,
        image=str(snapshot.image_id),
        flavor=FLAVOR,
        key_name=None,
        name=_unique("relaunched"),
    )
    connection = relaunched.connection
    assert connection is not None and connection.x2go_session_type is not None
    assert connection.x2go_session_type.value == "XFCE"
    assert "command=XFCE" in str(connection.x2go_session)
    desktop = client.desktop_image(str(snapshot.image_id))
    assert desktop is not None and desktop.name == X2GO_IMAGE


def test_the_same_snapshot_request_twice_makes_exactly_one_image(
    client: CloudClient, vm: BootResult
) -> None:
    name = _unique("twice")
    first = create_snapshot(site=SITE, server=vm.server_id, name=name)
    second = create_snapshot(site=SITE, server=vm.server_id, name=name)
    assert second.image_id == first.image_id and second.reused is True
    assert len(client.find_images_by_property(REQUEST_ID_KEY, str(first.request_id))) == 1


def test_a_snapshot_started_while_another_runs_waits_for_it(
    client: CloudClient, vm: BootResult, faults: Faults
) -> None:
    server_id = vm.server_id
    other = client.create_snapshot(server_id, name=_unique("other"), metadata={})
    # The local cloud's snapshots take half a second: make sure the flow's first createImage
    # meets Nova's 409 even on a slow machine, as it would while the other one uploads.
    faults({"kind": "conflict", "site": SITE, "method": "POST", "path": "/action$", "count": 1})
    events: list[FlowEvent] = []
    with listen(events.append):
        result = create_snapshot(site=SITE, server=server_id, name=_unique("after"))
    assert result.image_id != other
    waited = [e.message for e in events if e.kind == "progress" and "busy" in e.message]
    assert waited, "the flow should have met Nova's 409 and waited"
    assert len(client.find_images_by_property(REQUEST_ID_KEY, str(result.request_id))) == 1
    finished = client.get_image(str(result.image_id))
    assert finished is not None and finished.status == "active"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("snapshot_killed", "'killed'"), ("snapshot_vanish", "vanished")],
)
def test_a_killed_or_vanished_snapshot_fails_the_flow_clearly(
    vm: BootResult, faults: Faults, kind: str, expected: str
) -> None:
    faults({"kind": kind, "site": SITE, "count": 1})
    with pytest.raises(OperationFailedError, match=expected):
        create_snapshot(site=SITE, server=vm.server_id, name=_unique(kind))


def test_a_stuck_snapshot_times_out_instead_of_spinning(faults: Faults) -> None:
    spare = boot_server(
        site=SITE,
        image="Ubuntu-22.04 de.NBI (2026-05-01)",
        flavor=FLAVOR,
        key_name=None,
        name=_unique("stuck-vm"),
    )
    faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})
    with pytest.raises(OperationFailedError, match=r"Timed out after \d+ s waiting for snapshot"):
        create_snapshot(site=SITE, server=spare.server_id, name=_unique("stuck"), timeout_s=2)


def _foreign_image(site_clients: LocalEnv) -> str:
    """A community snapshot image owned by the user's other project."""
    with _sdk(site_clients, project=SECOND_PROJECT) as conn:
        image = conn.image.create_image(
            name=_unique("foreign"),
            visibility="community",
            disk_format="qcow2",
            container_format="bare",
            image_type="snapshot",
        )
        return str(image.id)


def test_bulk_delete_refuses_protected_and_foreign_images_and_deletes_the_rest(
    client: CloudClient, vm: BootResult, site_clients: LocalEnv
) -> None:
    mine = [
        create_snapshot(site=SITE, server=vm.server_id, name=_unique("bulk")).image_id
        for _ in range(2)
    ]
    own = client.list_snapshots(SnapshotQuery(per_page=1000, own_only=True)).items
    protected = next(snapshot.id for snapshot in own if snapshot.protected)
    foreign = _foreign_image(site_clients)
    outcome = delete_snapshots(site=SITE, image_ids=[*map(str, mine), protected, foreign])
    results = {item.id: item.text for item in outcome.items}
    assert [results[str(i)] for i in mine] == ["deleted", "deleted"]
    assert results[protected] == "refused: protected"
    assert results[foreign] == f"refused: not owned by project {client.project_name}"
    assert client.get_image(protected) is not None and client.get_image(foreign) is not None
    assert all(client.get_image(str(i)) is None for i in mine)


def test_a_boot_that_ends_in_error_fails_with_novas_fault(
    client: CloudClient, faults: Faults
) -> None:
    name = _unique("doomed-vm")
    faults({"kind": "boot_error", "site": SITE, "count": 1})
    try:
        with pytest.raises(OperationFailedError, match="in ERROR: No valid host was found"):
            boot_server(
                site=SITE, image="Ubuntu-22.04 de.NBI (2026-05-01)", flavor=FLAVOR,
                key_name=None, name=name,
            )  # fmt: skip
    finally:
        for server in client.list_servers():
            if server.name == name:
                client.delete_server(server.id)


def test_a_rerun_never_reuses_a_snapshot_that_inherited_the_request_id(
    client: CloudClient,
) -> None:
    image = client.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    first = boot_server(site=SITE, image=image.id, flavor=FLAVOR, key_name=None, name=_unique("s"))
    source = first.server_id
    name = _unique("backup")
    made = create_snapshot(site=SITE, server=source, name=name)
    copy = boot_server(
        site=SITE, image=made.image_id, flavor=FLAVOR, key_name=None, name=_unique("r")
    )
    # A snapshot of the copy made outside the flow: Nova copies the source image's denbi_* keys.
    outside = client.create_snapshot(copy.server_id, name=_unique("by-hand"), metadata={})
    inherited = client.get_image(outside)
    assert inherited is not None
    assert inherited.properties[REQUEST_ID_KEY] == made.request_id
    client.delete_image(made.image_id)

    again = create_snapshot(site=SITE, server=source, name=name)

    assert again.image_id not in (outside, made.image_id)
    assert again.reused is False
    fresh = client.get_image(again.image_id)
    assert fresh is not None and fresh.properties["instance_uuid"] == source
    for server_id in (source, copy.server_id):
        _delete_when_idle(client, server_id)


def _delete_when_idle(client: CloudClient, server_id: str, timeout: float = 30) -> None:
    """Delete a server once no snapshot of it is uploading (Nova would refuse before)."""
    deadline = time.monotonic() + timeout
    while (server := client.get_server(server_id)) is not None and server.task_state:
        assert time.monotonic() < deadline, f"server {server_id} stayed {server.task_state}"
        time.sleep(0.05)  # polling Nova's task state: nothing to wait on but the API
    client.delete_server(server_id)
