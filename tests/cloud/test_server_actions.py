"""The VM-lifecycle rule (pure) and the client's stop/start/reboot/delete over FakeCloud."""

from __future__ import annotations

from dataclasses import replace

import pytest

from denbi_jupyter.cloud.rules import ActionRefusal, ServerAction, action_refusal
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.errors import ConflictError, NotFoundError
from tests.support.fake_cloud import FakeCloud


def _server(status: str = "ACTIVE", task_state: str | None = None, **more: object) -> Server:
    base = Server(
        id="s-1",
        name="vm",
        status=status,
        task_state=task_state,
        project_id="p",
        image_id=None,
        flavor_id=None,
        flavor_name=None,
        key_name=None,
        private_ipv4=None,
        created_at=None,
    )
    return replace(base, **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "task_state", "action", "expected"),
    [
        ("ACTIVE", None, ServerAction.STOP, None),
        ("ERROR", None, ServerAction.STOP, None),
        ("SHUTOFF", None, ServerAction.STOP, ActionRefusal.ALREADY_STOPPED),
        ("SHUTOFF", None, ServerAction.START, None),
        ("ACTIVE", None, ServerAction.START, ActionRefusal.ALREADY_RUNNING),
        ("BUILD", None, ServerAction.START, ActionRefusal.WRONG_STATE),
        ("ACTIVE", None, ServerAction.REBOOT, None),
        ("SHUTOFF", None, ServerAction.REBOOT, ActionRefusal.NOT_RUNNING),
        ("SHUTOFF", None, ServerAction.HARD_REBOOT, None),
        ("ACTIVE", "powering-off", ServerAction.STOP, ActionRefusal.BUSY),
        ("ACTIVE", "image_uploading", ServerAction.REBOOT, ActionRefusal.BUSY),
        ("ACTIVE", None, ServerAction.DELETE, None),
        ("BUILD", "spawning", ServerAction.DELETE, None),
        ("ACTIVE", "image_snapshot", ServerAction.DELETE, ActionRefusal.SNAPSHOT_IN_PROGRESS),
        (
            "SHUTOFF",
            "image_pending_upload",
            ServerAction.DELETE,
            ActionRefusal.SNAPSHOT_IN_PROGRESS,
        ),
        ("ACTIVE", "image_uploading", ServerAction.DELETE, ActionRefusal.SNAPSHOT_IN_PROGRESS),
    ],
)
def test_the_rule_follows_nova_and_guards_snapshots(
    status: str, task_state: str | None, action: ServerAction, expected: ActionRefusal | None
) -> None:
    refusal = action_refusal(_server(status, task_state), action)
    assert (refusal.kind if refusal is not None else None) is expected


def test_a_locked_vm_is_refused_every_action_with_a_reason() -> None:
    locked = _server(locked=True)
    for action in ServerAction:
        refusal = action_refusal(locked, action)
        assert refusal is not None and refusal.kind is ActionRefusal.LOCKED
        assert "is locked: unlock it first" in refusal.reason


def test_the_refusal_reason_names_the_vm_and_what_to_do() -> None:
    refusal = action_refusal(_server("ACTIVE", "image_uploading"), ServerAction.DELETE)
    assert refusal is not None
    assert "'vm' (s-1)" in refusal.reason and "image_uploading" in refusal.reason
    assert "Wait until the snapshot is active" in refusal.reason


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


def test_stop_sends_os_stop_and_the_vm_goes_shutoff(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm")
    cloud.stop_server(vm.id)
    assert ("server_action", (vm.id, "os-stop", None)) in cloud.gateway.calls
    states = [cloud.get_server(vm.id) for _ in range(2)]
    assert [(s.status, s.task_state) for s in states if s] == [
        ("ACTIVE", "powering-off"),
        ("SHUTOFF", None),
    ]


def test_start_of_an_active_vm_is_refused_without_a_request(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm")
    with pytest.raises(ConflictError, match="already running"):
        cloud.start_server(vm.id)
    assert not [call for call in cloud.gateway.calls if call[0] == "server_action"]


def test_reboot_sends_the_reboot_type(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm")
    cloud.reboot_server(vm.id, hard=True)
    assert ("server_action", (vm.id, "reboot", {"type": "HARD"})) in cloud.gateway.calls


def test_a_checked_server_is_not_read_again(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm", status="SHUTOFF")
    before = len(cloud.gateway.calls)
    cloud.start_server(vm.id, checked=vm)
    assert [call[0] for call in cloud.gateway.calls[before:]] == ["server_action"]


def test_delete_is_refused_while_a_snapshot_uploads(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm", task_state="image_uploading")
    with pytest.raises(ConflictError, match="taking a snapshot"):
        cloud.delete_server(vm.id)
    assert vm.id in cloud.servers


def test_actions_on_a_missing_vm_say_not_found(cloud: FakeCloud) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        cloud.stop_server("no-such-server")


def test_novas_own_409_reaches_the_caller_as_a_conflict(cloud: FakeCloud) -> None:
    vm = cloud.add_server("vm")
    stale = replace(vm, status="SHUTOFF")  # read before someone else started it
    with pytest.raises(ConflictError, match="vm_state active"):
        cloud.start_server(vm.id, checked=stale)
