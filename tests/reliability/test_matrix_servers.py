"""Fault matrix: the server-action flows (stop, start, reboot, delete) under each fault.

Each scenario of :mod:`faultset` runs one action, in turn stop, start, reboot and delete
(the state before each is set up by the test: ACTIVE for stop and reboot, SHUTOFF for
start, a VM of its own for delete). The flow must end with the VM settled in the action's
status (gone, for delete) or one clear failure naming the cause, within the bound; the
bystander VM lives on; and the same action again without faults settles it (or it has
settled already).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud.results import ServerActionResult
from denbi_jupyter.cloud.rules.servers import TARGET_STATUS, ServerAction
from denbi_jupyter.errors import DenbiError
from flows.servers import delete_server, reboot_server, start_server, stop_server
from tests.reliability._cells import Matrix, judge, run_bounded, wait_until
from tests.reliability.conftest import MatrixCell
from tests.reliability.faultset import Scenario, scenarios_for

pytestmark = pytest.mark.usefixtures("prefect_harness")

FLOW = "server actions"
SITE = "bielefeld"
RUN = f"mx-srv-{uuid.uuid4().hex[:6]}"
IMAGE = "Ubuntu-22.04 de.NBI (2026-05-01)"
FLAVOR = "de.NBI tiny"
#: The longest one action may take under a fault.
BOUND_S = 90.0
#: The flows' own wait for Nova to settle.
TIMEOUT_S = 30.0
ACTIONS = (ServerAction.STOP, ServerAction.START, ServerAction.REBOOT, ServerAction.DELETE)
FLOWS: dict[ServerAction, Callable[..., ServerActionResult]] = {
    ServerAction.STOP: stop_server,
    ServerAction.START: start_server,
    ServerAction.REBOOT: reboot_server,
    ServerAction.DELETE: delete_server,
}
CELLS = [(scenario, ACTIONS[n % len(ACTIONS)]) for n, scenario in enumerate(scenarios_for(FLOW))]


def _boot(matrix: Matrix, name: str) -> str:
    client = matrix.client(SITE)
    server = client.create_server(
        name=name,
        image_id=client.find_image(IMAGE).id,
        flavor_id=client.find_flavor(FLAVOR).id,
        key_name=None,
    )
    _settled(matrix, server.id, "ACTIVE")
    return server.id


def _settled(matrix: Matrix, server_id: str, status: str | None) -> None:
    client = matrix.client(SITE)

    def done() -> bool:
        server = client.get_server(server_id)
        if status is None:
            return server is None
        return server is not None and server.status == status and not server.task_state

    wait_until(done, f"server {server_id} {status or 'gone'}")


def _remove(matrix: Matrix, server_id: str) -> None:
    with matrix.sdk(SITE) as conn:
        server = conn.compute.find_server(server_id)
        if server is not None:
            conn.compute.delete_server(server_id)
            conn.compute.wait_for_delete(server, wait=30)


def _prepare(matrix: Matrix, vm: str, action: ServerAction) -> str:
    """The VM the action is about, in the state the action needs."""
    if action is ServerAction.DELETE:
        return _boot(matrix, f"{RUN}-doomed")
    client = matrix.client(SITE)
    server = client.get_server(vm)
    assert server is not None
    if action is ServerAction.START and server.status != "SHUTOFF":
        client.stop_server(vm, checked=server)
        _settled(matrix, vm, "SHUTOFF")
    elif action is not ServerAction.START and server.status != "ACTIVE":
        client.start_server(vm, checked=server)
        _settled(matrix, vm, "ACTIVE")
    return vm


@pytest.fixture(scope="module")
def vms(matrix: Matrix) -> Iterator[tuple[str, str]]:
    """The VM the stop/start/reboot cells act on, and a bystander no cell may touch."""
    vm, bystander = _boot(matrix, f"{RUN}-vm"), _boot(matrix, f"{RUN}-bystander")
    yield vm, bystander
    _remove(matrix, vm)
    _remove(matrix, bystander)


def _rules(scenario: Scenario, action: ServerAction) -> list[dict[str, Any]]:
    """The scenario's rules; a delete's "create" is its ``DELETE /servers/{id}``."""
    if action is not ServerAction.DELETE:
        return scenario.rules_for(SITE, create=r"/servers/[^/]+/action$")
    return [
        {**rule, "method": "DELETE"} if rule.get("method") == "POST" else rule
        for rule in scenario.rules_for(SITE, create=r"/compute/v2\.1/servers/[^/]+$")
    ]


def _act(action: ServerAction, server_id: str) -> ServerActionResult | DenbiError:
    flow = FLOWS[action]
    return run_bounded(
        lambda: flow(site=SITE, server=server_id, timeout_s=TIMEOUT_S), within=BOUND_S
    )


@pytest.mark.parametrize(
    ("scenario", "action"), CELLS, ids=[f"{s.name}-{a.value}" for s, a in CELLS]
)
def test_a_server_action_under_a_fault_settles_or_fails_clearly(
    matrix_env: Matrix,
    matrix_cell: MatrixCell,
    vms: tuple[str, str],
    scenario: Scenario,
    action: ServerAction,
) -> None:
    target = _prepare(matrix_env, vms[0], action)
    try:
        with matrix_cell(FLOW, scenario.name) as cell:
            matrix_env.inject(_rules(scenario, action))
            first = _act(action, target)
            assert matrix_env.settle(cell) > 0, "the fault never fired"
            judge(first, scenario.outcome(FLOW))
            assert matrix_env.client(SITE).get_server(vms[1]) is not None, "bystander gone"
            if isinstance(first, DenbiError):
                again = _act(action, target)
                assert isinstance(again, ServerActionResult), again
            _settled(matrix_env, target, TARGET_STATUS[action])
    finally:
        if action is ServerAction.DELETE:
            _remove(matrix_env, target)
