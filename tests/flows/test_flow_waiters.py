"""Our waiters: every end state ends the wait at once, and the deadline always holds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from denbi_jupyter.cloud.types import Image
from denbi_jupyter.connect import ProbeResult
from denbi_jupyter.errors import CloudUnavailableError, ConflictError, OperationFailedError
from flows._waiters import (
    Backoff,
    ProgressCallback,
    wait_for_port,
    wait_for_server_active,
    wait_for_snapshot,
    wait_until_idle,
)
from tests.support.fake_cloud import FakeCloud


class FakeClock:
    """A clock that moves only when the waiter sleeps."""

    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


Progress = list[tuple[float | None, str]]


def _snapshot(cloud: FakeCloud) -> tuple[str, str]:
    vm = cloud.add_server("vm1", status="SHUTOFF")
    return vm.id, cloud.create_snapshot(vm.id, name="snap", metadata={})


def _wait_for_snapshot(
    cloud: FakeCloud,
    ids: tuple[str, str],
    *,
    timeout_s: float = 600,
    on_progress: ProgressCallback = lambda _f, _m: None,
    clock: FakeClock | None = None,
    backoff: Backoff | None = None,
) -> Image:
    """:func:`wait_for_snapshot` on the (server id, image id) that :func:`_snapshot` made."""
    server_id, image_id = ids
    return wait_for_snapshot(
        cloud,
        server_id=server_id,
        image_id=image_id,
        timeout_s=timeout_s,
        on_progress=on_progress,
        clock=clock or FakeClock(),
        backoff=backoff or Backoff(),
    )


def test_snapshot_wait_follows_nova_and_glance_to_active() -> None:
    cloud = FakeCloud()
    server_id, image_id = _snapshot(cloud)
    seen: Progress = []
    image = _wait_for_snapshot(
        cloud, (server_id, image_id), timeout_s=60, on_progress=lambda f, m: seen.append((f, m))
    )
    assert image.status == "active"
    messages = [m for _, m in seen]
    assert messages[:2] == ["Nova: image_snapshot_pending", "Glance: queued"]
    assert "Nova: image_uploading" in messages and "Glance: saving" in messages
    assert messages[-1] == "Snapshot active"
    fractions = [f for f, _ in seen if f is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert cloud.servers[server_id].task_state is None


@pytest.mark.parametrize(("outcome", "words"), [("killed", "'killed'"), ("vanish", "vanished")])
def test_snapshot_wait_fails_at_once_when_killed_or_vanished(outcome: str, words: str) -> None:
    cloud = FakeCloud()
    cloud.snapshot_outcome = outcome
    ids = _snapshot(cloud)
    clock = FakeClock()
    with pytest.raises(OperationFailedError, match=words):
        _wait_for_snapshot(cloud, ids, clock=clock)
    assert clock.time < 5


def test_snapshot_wait_times_out_on_a_stuck_upload_with_growing_intervals() -> None:
    cloud = FakeCloud()
    cloud.snapshot_outcome = "queued"
    ids = _snapshot(cloud)
    clock = FakeClock()
    with pytest.raises(OperationFailedError, match="Timed out after 30 s"):
        _wait_for_snapshot(
            cloud, ids, timeout_s=30, clock=clock, backoff=Backoff(first=0.5, factor=2, cap=8)
        )
    assert clock.time == pytest.approx(30)
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(clock.sleeps) <= 8


def test_snapshot_wait_rides_out_a_few_failed_polls() -> None:
    cloud = FakeCloud()
    ids = _snapshot(cloud)
    cloud.fail_next("get_image", CloudUnavailableError("503 from Glance"), times=3)
    image = _wait_for_snapshot(cloud, ids, timeout_s=60)
    assert image.status == "active"


def test_snapshot_wait_gives_up_when_the_cloud_stays_unreachable() -> None:
    cloud = FakeCloud()
    ids = _snapshot(cloud)
    cloud.fail_next("get_image", CloudUnavailableError("503 from Glance"), times=50)
    with pytest.raises(OperationFailedError, match="Lost contact"):
        _wait_for_snapshot(cloud, ids)


def test_server_wait_reports_the_fault_when_the_boot_ends_in_error() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("my vm", status="BUILD", task_state="scheduling")
    cloud.script_server(vm.id, [("BUILD", "spawning"), ("ERROR", None)])
    cloud.servers[vm.id] = replace(cloud.servers[vm.id], fault="No valid host was found.")
    with pytest.raises(OperationFailedError, match="failed to boot and is in ERROR") as caught:
        wait_for_server_active(
            cloud, server_id=vm.id, timeout_s=60, on_progress=lambda _f, _m: None, clock=FakeClock()
        )
    message = str(caught.value)
    assert "No valid host was found. It still counts" in message and ".." not in message
    assert "denbi-jupyter server delete 'my vm'" in message


def test_server_wait_stops_at_once_on_a_vm_at_rest_instead_of_timing_out() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm1", status="SHUTOFF")
    clock = FakeClock()
    with pytest.raises(ConflictError, match="exists but is SHUTOFF"):
        wait_for_server_active(
            cloud, server_id=vm.id, timeout_s=900, on_progress=lambda _f, _m: None, clock=clock
        )
    assert clock.time == 0.0


def test_server_wait_returns_the_active_server_with_progress() -> None:
    cloud = FakeCloud()
    image = cloud.add_image("Ubuntu-22.04")
    flavor = cloud.find_flavor("de.NBI mini")
    vm = cloud.create_server(name="vm1", image_id=image.id, flavor_id=flavor.id, key_name=None)
    seen: Progress = []
    server = wait_for_server_active(
        cloud,
        server_id=vm.id,
        timeout_s=60,
        on_progress=lambda f, m: seen.append((f, m)),
        clock=FakeClock(),
    )
    assert server.status == "ACTIVE"
    assert seen[-1] == (1.0, "Nova: ACTIVE")


def test_idle_wait_returns_when_the_task_state_clears_and_times_out_otherwise() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm1", task_state="image_snapshot")
    cloud.script_server(vm.id, [("ACTIVE", "image_uploading"), ("ACTIVE", None)])
    assert (
        wait_until_idle(cloud, server_id=vm.id, timeout_s=60, clock=FakeClock()).task_state is None
    )
    busy = cloud.add_server("vm2", task_state="image_snapshot")
    with pytest.raises(OperationFailedError, match="Timed out"):
        wait_until_idle(cloud, server_id=busy.id, timeout_s=5, clock=FakeClock())


def test_port_wait_probes_until_the_port_opens() -> None:
    answers = iter([False, False, True])

    def probe(host: str, port: int) -> ProbeResult:
        reachable = next(answers)
        return ProbeResult(host, port, reachable, error=None if reachable else "refused")

    result = wait_for_port(
        "127.0.0.1",
        30010,
        timeout_s=60,
        on_progress=lambda _f, _m: None,
        clock=FakeClock(),
        probe=probe,
    )
    assert result.reachable


def test_port_wait_gives_up_at_the_deadline() -> None:
    clock = FakeClock()
    with pytest.raises(OperationFailedError, match="SSH port 30010"):
        wait_for_port(
            "127.0.0.1",
            30010,
            timeout_s=20,
            on_progress=lambda _f, _m: None,
            clock=clock,
            probe=lambda h, p: ProbeResult(h, p, False, error="connection refused"),
        )
    assert clock.time == pytest.approx(20)
