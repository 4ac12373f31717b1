"""The VM-lifecycle flows end to end: real Prefect runs against the local cloud over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import openstack
import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules import ServerAction
from denbi_jupyter.errors import ConflictError, NotFoundError
from flows import FlowEvent, listen, use_clients
from flows.boot import boot_server
from flows.servers import delete_server, reboot_server, start_server, stop_server
from tests.flows.harness import LocalEnv

pytestmark = pytest.mark.usefixtures("prefect_harness")

SITE = "bielefeld"
IMAGE = "Ubuntu-22.04 de.NBI (2026-05-01)"
FLAVOR = "de.NBI tiny"
Faults = Callable[..., None]


def _unique(prefix: str) -> str:
    return f"servers-{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client(site_clients: LocalEnv, prefect_harness: None) -> Iterator[CloudClient]:
    """The bielefeld client; flows in this module use it."""
    with use_clients(site_clients.client):
        yield site_clients.client(SITE)


@pytest.fixture
def vm(client: CloudClient, site_clients: LocalEnv) -> Iterator[BootResult]:
    """A fresh ACTIVE VM for one test; deleted with plain Nova afterwards (whatever its state)."""
    booted = boot_server(site=SITE, image=IMAGE, flavor=FLAVOR, key_name=None, name=_unique("vm"))
    yield booted
    entry = yaml.safe_load(site_clients.clouds_yaml.read_text())["clouds"][SITE]
    entry.pop("denbi")
    conn = openstack.connect(**entry)
    try:
        conn.compute.delete_server(booted.server_id, ignore_missing=True)
    finally:
        conn.close()


def test_stop_ends_shutoff_and_start_ends_active(client: CloudClient, vm: BootResult) -> None:
    events: list[FlowEvent] = []
    with listen(events.append):
        stopped = stop_server(site=SITE, server=vm.name)
    assert (stopped.action, stopped.status, stopped.server_id) == (
        ServerAction.STOP,
        "SHUTOFF",
        vm.server_id,
    )
    live = client.get_server(vm.server_id)
    assert live is not None and (live.status, live.task_state) == ("SHUTOFF", None)
    progress = [event.message for event in events if event.kind == "progress"]
    assert progress[-1].endswith("SHUTOFF") and any("powering-off" in m for m in progress)
    started = start_server(site=SITE, server=vm.server_id)
    assert started.status == "ACTIVE" and stopped.flow_run_id != started.flow_run_id
    live = client.get_server(vm.server_id)
    assert live is not None and (live.status, live.task_state) == ("ACTIVE", None)


def test_reboot_returns_to_active(client: CloudClient, vm: BootResult) -> None:
    events: list[FlowEvent] = []
    with listen(events.append):
        result = reboot_server(site=SITE, server=vm.name)
    assert (result.action, result.status) == (ServerAction.REBOOT, "ACTIVE")
    assert any("reboot" in event.message.lower() for event in events if event.kind == "progress")
    hard = reboot_server(site=SITE, server=vm.name, hard=True)
    assert (hard.action, hard.status) == (ServerAction.HARD_REBOOT, "ACTIVE")
    live = client.get_server(vm.server_id)
    assert live is not None and (live.status, live.task_state) == ("ACTIVE", None)


def test_start_of_an_active_vm_is_refused_with_its_reason(
    client: CloudClient, vm: BootResult
) -> None:
    with pytest.raises(ConflictError, match=r"is already running \(ACTIVE\): nothing to start"):
        start_server(site=SITE, server=vm.name)
    live = client.get_server(vm.server_id)
    assert live is not None and live.status == "ACTIVE"


def test_delete_ends_with_the_vm_gone(client: CloudClient, vm: BootResult) -> None:
    result = delete_server(site=SITE, server=vm.name)
    assert (result.action, result.status) == (ServerAction.DELETE, "DELETED")
    assert client.get_server(vm.server_id) is None
    with pytest.raises(NotFoundError):
        delete_server(site=SITE, server=vm.server_id)


def test_delete_is_refused_while_a_snapshot_of_the_vm_uploads(
    client: CloudClient, vm: BootResult, faults: Faults
) -> None:
    faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})  # the upload never ends
    image_id = client.create_snapshot(vm.server_id, name=_unique("uploading"), metadata={})
    try:
        with pytest.raises(ConflictError, match=r"taking a snapshot \(image_") as refused:
            delete_server(site=SITE, server=vm.name)
        assert "destroy the snapshot" in str(refused.value)
        live = client.get_server(vm.server_id)
        assert live is not None and live.task_state is not None
        assert live.task_state.startswith("image_")
        image = client.get_image(image_id)
        assert image is not None and image.status != "killed"
    finally:
        client.delete_image(image_id)
