"""The lifecycle waiters over FakeCloud and a fake clock: settle, fail at once, or time out."""

from __future__ import annotations

import pytest

from denbi_jupyter.errors import OperationFailedError
from flows._waiters import wait_for_server_gone, wait_for_server_status
from tests.flows.test_flow_waiters import FakeClock
from tests.support.fake_cloud import FakeCloud

Progress = list[tuple[float | None, str]]


def _wait_for_shutoff(
    cloud: FakeCloud, server_id: str, *, timeout_s: float, clock: FakeClock
) -> None:
    """Wait for the server to be SHUTOFF, ignoring the progress."""
    wait_for_server_status(
        cloud,
        server_id=server_id,
        status="SHUTOFF",
        timeout_s=timeout_s,
        on_progress=lambda _f, _m: None,
        clock=clock,
    )


def test_a_reboot_is_followed_through_reboot_until_active_again() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm")
    cloud.reboot_server(vm.id)
    progress: Progress = []
    server = wait_for_server_status(
        cloud,
        server_id=vm.id,
        status="ACTIVE",
        timeout_s=60,
        on_progress=lambda f, m: progress.append((f, m)),
        clock=FakeClock(),
    )
    assert (server.status, server.task_state) == ("ACTIVE", None)
    assert [m for _, m in progress] == [
        "Nova: REBOOT rebooting",
        "Nova: REBOOT reboot_started",
        "Nova: ACTIVE",
    ]
    assert progress[-1][0] == 1.0


def test_a_vm_that_goes_to_error_ends_the_wait_with_novas_fault() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm")
    cloud.script_server(vm.id, [("ACTIVE", "powering-off"), ("ERROR", None)])
    with pytest.raises(OperationFailedError, match="went to ERROR instead of SHUTOFF"):
        _wait_for_shutoff(cloud, vm.id, timeout_s=60, clock=FakeClock())


def test_a_stop_that_never_lands_times_out_at_the_deadline() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm")
    cloud.script_server(vm.id, [("ACTIVE", "powering-off")])
    clock = FakeClock()
    with pytest.raises(OperationFailedError, match=r"Timed out after 30 s .* powering-off"):
        _wait_for_shutoff(cloud, vm.id, timeout_s=30, clock=clock)
    assert clock.time == pytest.approx(30)


def test_a_deleted_vm_still_shown_as_deleting_is_waited_for_until_404() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm")
    cloud.script_server(vm.id, [("ACTIVE", "deleting"), ("ACTIVE", "deleting")])
    clock = FakeClock()
    progress: Progress = []

    def vanish_later(seconds: float) -> None:
        FakeClock.sleep(clock, seconds)
        if len(clock.sleeps) == 2:
            del cloud.servers[vm.id]

    clock.sleep = vanish_later  # type: ignore[method-assign]
    wait_for_server_gone(
        cloud,
        server_id=vm.id,
        timeout_s=60,
        on_progress=lambda f, m: progress.append((f, m)),
        clock=clock,
    )
    assert progress == [(None, "Nova: ACTIVE deleting"), (1.0, "Nova: deleted")]
    assert len(clock.sleeps) == 2
