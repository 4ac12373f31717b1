"""The snapshot flow and its pre-flight checks, over FakeCloud with real Prefect runs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from denbi_jupyter.cloud.provenance import FLOW_RUN_ID, SOURCE_IMAGE_ID, SOURCE_SERVER_ID
from denbi_jupyter.cloud.types import Flavor
from denbi_jupyter.errors import ConflictError, OperationFailedError, UserInputError
from flows import FlowEvent, listen
from flows._ids import REQUEST_ID_KEY
from flows.snapshot import create_snapshot, evaluate, preflight, snapshot_request_id
from tests.support.fake_cloud import FakeCloud

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _vm(cloud: FakeCloud, **kwargs: object) -> str:
    source = cloud.add_image("Ubuntu-22.04", tags=["base_image", "ubuntu"])
    return cloud.add_server("vm1", status="SHUTOFF", image_id=source.id, **kwargs).id  # type: ignore[arg-type]


def _creates(cloud: FakeCloud) -> int:
    return sum(1 for method, _ in cloud.calls if method == "create_snapshot")


def test_snapshot_ends_active_with_provenance_and_the_source_tags(cloud: FakeCloud) -> None:
    server_id = _vm(cloud)
    events: list[FlowEvent] = []
    with listen(events.append):
        result = create_snapshot(site="fake", server="vm1", name="  nightly-1 ")
    image = cloud.images[str(result.image_id)]
    assert image.status == "active" and image.name == "nightly-1"
    assert set(image.tags) == {"base_image", "ubuntu"}
    assert image.properties[SOURCE_SERVER_ID] == server_id
    assert image.properties[SOURCE_IMAGE_ID] == cloud.servers[server_id].image_id
    assert image.properties[FLOW_RUN_ID] == result.flow_run_id
    assert image.properties[REQUEST_ID_KEY] == snapshot_request_id("fake", server_id, "nightly-1")
    assert result.reused is False and result.warnings == ()
    progress = [e for e in events if e.kind == "progress"]
    assert "Glance: saving" in [e.message for e in progress]
    assert progress[-1].fraction == 1.0
    assert all(e.flow_run_id == result.flow_run_id for e in progress)


def test_running_the_same_request_again_makes_no_second_snapshot(cloud: FakeCloud) -> None:
    _vm(cloud)
    first = create_snapshot(site="fake", server="vm1", name="nightly-1")
    second = create_snapshot(site="fake", server="vm1", name="nightly-1")
    assert second.image_id == first.image_id and second.reused is True
    assert _creates(cloud) == 1
    assert sum(image.name == "nightly-1" for image in cloud.images.values()) == 1


def test_a_busy_vm_is_waited_out_instead_of_failing(cloud: FakeCloud) -> None:
    server_id = _vm(cloud, task_state="image_uploading")
    cloud.script_server(server_id, [("SHUTOFF", "image_uploading"), ("SHUTOFF", None)])
    cloud.fail_next("create_snapshot", ConflictError("busy: task_state image_uploading"))
    result = create_snapshot(site="fake", server="vm1", name="after-the-other")
    assert cloud.images[str(result.image_id)].status == "active"
    assert _creates(cloud) == 2


def test_a_vm_that_stays_busy_ends_in_a_clear_conflict(cloud: FakeCloud) -> None:
    _vm(cloud)
    cloud.fail_next("create_snapshot", ConflictError("busy"), times=10)
    with pytest.raises(ConflictError, match="kept refusing"):
        create_snapshot(site="fake", server="vm1", name="never")


def test_a_killed_snapshot_fails_the_flow_and_a_rerun_says_so(cloud: FakeCloud) -> None:
    _vm(cloud)
    cloud.snapshot_outcome = "killed"
    with pytest.raises(OperationFailedError, match="'killed'"):
        create_snapshot(site="fake", server="vm1", name="doomed")
    with pytest.raises(OperationFailedError, match="earlier run of this request"):
        create_snapshot(site="fake", server="vm1", name="doomed")
    assert _creates(cloud) == 1


def test_preflight_errors_stop_the_flow_before_any_snapshot(cloud: FakeCloud) -> None:
    big = cloud.add_flavor("de.NBI huge", vcpus=64, ram_mb=512 * 1024, disk_gb=50)
    cloud.add_server("big", status="SHUTOFF", flavor_name=big.name)
    with pytest.raises(UserInputError, match="more than 256 GB RAM"):
        create_snapshot(site="fake", server="big", name="too-big")
    assert _creates(cloud) == 0


def test_preflight_uses_the_flavor_nova_embeds_when_the_flavor_is_gone(cloud: FakeCloud) -> None:
    retired = Flavor(id="gone", name="de.NBI retired", vcpus=64, ram_mb=480 * 1024, disk_gb=50)
    vm = cloud.add_server("big", status="SHUTOFF", flavor_name="de.NBI retired")
    cloud.servers[vm.id] = replace(cloud.servers[vm.id], flavor=retired, flavor_id="gone")
    verdict = preflight(cloud, vm.id, "too-big")
    assert not verdict.ok
    assert any("more than 256 GB RAM" in error for error in verdict.errors)


def test_preflight_refuses_a_taken_name_and_warns_about_active_vms(cloud: FakeCloud) -> None:
    cloud.add_snapshot("taken")
    vm = cloud.add_server("vm1", status="ACTIVE")
    verdict = preflight(cloud, vm.id, " taken ")
    assert not verdict.ok
    assert any("already used in this project" in error for error in verdict.errors)
    assert verdict.warnings == ("VM is ACTIVE: stop it first for a consistent snapshot.",)
    assert verdict.name == "taken"


def test_preflight_ignores_names_only_other_projects_use(cloud: FakeCloud) -> None:
    cloud.add_snapshot("theirs", owner="p-other")
    vm = cloud.add_server("vm1", status="SHUTOFF")
    assert preflight(cloud, vm.id, "theirs").ok


def test_preflight_warns_that_ephemeral_disks_are_not_included(cloud: FakeCloud) -> None:
    flavor = cloud.add_flavor("de.NBI eph", vcpus=2, ram_mb=4096, disk_gb=20, ephemeral_gb=100)
    vm = cloud.add_server("vm1", status="SHUTOFF", flavor_name=flavor.name)
    verdict = preflight(cloud, vm.id, "ok-name")
    assert verdict.ok
    assert any("ephemeral disk (100 GB) is not part of a snapshot" in w for w in verdict.warnings)


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        ("SHUTOFF", "   ", "name is empty"),
        ("SHUTOFF", "x" * 256, "at most 255 fit"),
        ("ERROR", "fine", "is ERROR: a snapshot needs an ACTIVE or SHUTOFF VM"),
    ],
)
def test_evaluate_refuses_bad_names_and_states(status: str, name: str, expected: str) -> None:
    vm = FakeCloud().add_server("vm1", status=status)
    verdict = evaluate(server=vm, server_ref="vm1", flavor=None, name=name, name_taken=False)
    assert any(expected in error for error in verdict.errors)


def test_evaluate_refuses_a_missing_server() -> None:
    verdict = evaluate(server=None, server_ref="gone", flavor=None, name="n", name_taken=False)
    assert verdict.errors == ("Server 'gone' does not exist (any more) in this project.",)
