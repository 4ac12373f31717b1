"""``denbi-jupyter server list|stop|start|reboot|delete`` through ``main`` and the local cloud."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import openstack
import pytest
import yaml

from denbi_jupyter.cloud.results import BootResult
from flows.boot import boot_server
from tests.flows.harness import LocalEnv
from tests.support.cli import Result

pytestmark = pytest.mark.usefixtures("prefect_harness", "local_env")

SITE = "bielefeld"
Faults = Callable[..., None]


@pytest.fixture
def vms(local_env: LocalEnv) -> Iterator[list[BootResult]]:
    """Two fresh ACTIVE VMs (one from the X2Go image); deleted with plain Nova afterwards."""
    suffix = uuid.uuid4().hex[:8]
    booted = [
        boot_server(
            site=SITE, image=image, flavor="de.NBI tiny", key_name=None, name=f"cli-{n}-{suffix}"
        )
        for n, image in (("desk", "X2Go_xfce"), ("plain", "Ubuntu-22.04 de.NBI (2026-05-01)"))
    ]
    yield booted
    entry = yaml.safe_load(local_env.clouds_yaml.read_text())["clouds"][SITE]
    entry.pop("denbi")
    conn = openstack.connect(**entry)
    try:
        for vm in booted:
            conn.compute.delete_server(vm.server_id, ignore_missing=True)
    finally:
        conn.close()


def test_list_shows_status_image_desktop_flavor_address_and_age(
    cli: Callable[..., Result], vms: list[BootResult]
) -> None:
    rows = {
        row["id"]: row for row in cli("server", "list", "--site", SITE, "--json").json()["servers"]
    }
    desk = rows[vms[0].server_id]
    assert (desk["name"], desk["status"], desk["image_name"]) == (
        vms[0].name,
        "ACTIVE",
        "X2Go_xfce",
    )
    assert desk["desktop"] == "x2go" and desk["flavor"] == "de.NBI tiny"
    assert desk["private_ipv4"] == vms[0].private_ipv4 and desk["age"] in ("<1m", "1m")
    assert rows[vms[1].server_id]["desktop"] is None
    shown = cli("server", "list", "--site", SITE)
    assert shown.code == 0 and "DESKTOP" in shown.out.splitlines()[0]
    assert any(vms[0].name in line and "x2go" in line for line in shown.out.splitlines())


def test_stop_start_and_reboot_several_vms_in_one_call(
    cli: Callable[..., Result], local_env: LocalEnv, vms: list[BootResult]
) -> None:
    names = [vm.name for vm in vms]
    stopped = cli("server", "stop", "--site", SITE, *names, "--json")
    assert stopped.code == 0, stopped.err
    assert [r["status"] for r in stopped.json()["results"]] == ["SHUTOFF", "SHUTOFF"]
    again = cli("server", "stop", "--site", SITE, names[0])
    assert again.code == 4 and "already stopped" in again.err
    started = cli("server", "start", "--site", SITE, *names)
    assert started.code == 0, started.err
    assert started.out.count("start done, ACTIVE") == 2
    rebooted = cli("server", "reboot", "--site", SITE, vms[1].server_id, "--json")
    assert rebooted.code == 0 and rebooted.json()["results"][0]["action"] == "reboot"
    client = local_env.client(SITE)
    assert {s.status for s in (client.get_server(vm.server_id) for vm in vms) if s} == {"ACTIVE"}


def test_start_of_an_active_vm_exits_4_with_the_reason(
    cli: Callable[..., Result], vms: list[BootResult]
) -> None:
    result = cli("server", "start", "--site", SITE, vms[0].name)
    assert result.code == 4
    assert "already running (ACTIVE): nothing to start" in result.err


def test_delete_refuses_a_vm_whose_snapshot_uploads_and_deletes_the_other(
    cli: Callable[..., Result], local_env: LocalEnv, vms: list[BootResult], faults: Faults
) -> None:
    client = local_env.client(SITE)
    faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})
    busy, other = vms
    image_id = client.create_snapshot(busy.server_id, name=f"{busy.name}-snap", metadata={})
    try:
        result = cli("server", "delete", "--site", SITE, busy.name, other.name, "--json")
        assert result.code == 4
        first, second = result.json()["results"]
        assert first["exit_code"] == 4 and "taking a snapshot" in first["error"]
        assert (second["status"], second["action"]) == ("DELETED", "delete")
        assert client.get_server(busy.server_id) is not None
        assert client.get_server(other.server_id) is None
    finally:
        client.delete_image(image_id)
