"""Fault matrix: the snapshot flow under each fault (local cloud, real HTTP, real Prefect flows).

Each cell snapshots the module's VM under a name of its own, under one scenario of
:mod:`faultset`. It must end with the active snapshot or one clear failure naming the cause,
within the bound; never more than one live snapshot of the request (counted by request id
and by name with plain openstacksdk); the bystander snapshot lives on; and the same snapshot
again without faults ends with exactly one active snapshot (after a ``killed`` one, once it
is deleted, as the error message says). A stuck snapshot leaves its VM busy for good: that
cell uses a VM of its own and removes it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import SnapshotResult
from denbi_jupyter.errors import DenbiError
from flows._ids import REQUEST_ID_KEY
from flows.snapshot import create_snapshot, snapshot_request_id
from tests.reliability._cells import Matrix, judge, run_bounded, wait_until
from tests.reliability.conftest import MatrixCell
from tests.reliability.faultset import Scenario, scenarios_for

pytestmark = pytest.mark.usefixtures("prefect_harness")

FLOW = "snapshot"
SITE = "bielefeld"
RUN = f"mx-snap-{uuid.uuid4().hex[:6]}"
IMAGE = "Ubuntu-22.04 de.NBI (2026-05-01)"
FLAVOR = "de.NBI tiny"
CREATE = r"/servers/[^/]+/action$"
#: The longest one snapshot run may take under a fault.
BOUND_S = 90.0
#: The flow's own wait for the snapshot (a stuck one fails after this long).
TIMEOUT_S = 20.0
STUCK_TIMEOUT_S = 4.0
_NUMBERS = itertools.count()
SCENARIOS = scenarios_for(FLOW)


def _boot(matrix: Matrix, name: str) -> str:
    client = matrix.client(SITE)
    server = client.create_server(
        name=name,
        image_id=client.find_image(IMAGE).id,
        flavor_id=client.find_flavor(FLAVOR).id,
        key_name=None,
    )
    _idle(matrix, server.id)
    return server.id


def _idle(matrix: Matrix, server_id: str) -> None:
    client = matrix.client(SITE)

    def idle() -> bool:
        server = client.get_server(server_id)
        return server is not None and server.status == "ACTIVE" and not server.task_state

    wait_until(idle, f"server {server_id} ACTIVE and idle")


def _remove_server(matrix: Matrix, server_id: str) -> None:
    with matrix.sdk(SITE) as conn:  # plain openstacksdk: ours refuses while an upload "runs"
        conn.compute.delete_server(server_id)
        conn.compute.wait_for_delete(conn.compute.get_server(server_id), wait=30)


def _images(matrix: Matrix, request_id: str, name: str) -> list[Any]:
    """Every image of the request or of the name (plain openstacksdk)."""
    with matrix.sdk(SITE) as conn:
        return [
            image
            for image in conn.image.images()
            if image.name == name or image.properties.get(REQUEST_ID_KEY) == request_id
        ]


def _live(images: list[Any]) -> list[Any]:
    return [image for image in images if image.status not in ("killed", "deleted")]


def _remove_images(matrix: Matrix, request_id: str, name: str) -> None:
    with matrix.sdk(SITE) as conn:
        for image in _images(matrix, request_id, name):
            conn.image.delete_image(image.id, ignore_missing=True)


@pytest.fixture(scope="module")
def vm(matrix: Matrix) -> Iterator[tuple[str, str]]:
    """The module's VM and a hand-made snapshot of it no cell may delete."""
    server_id = _boot(matrix, f"{RUN}-vm")
    record = matrix.client(SITE).create_image_record(
        {
            "name": f"{RUN}-bystander",
            "disk_format": "raw",
            "container_format": "bare",
            "image_type": "snapshot",
            SOURCE_SERVER_ID: server_id,
        }
    )
    yield server_id, record.id
    _remove_server(matrix, server_id)
    matrix.client(SITE).delete_image(record.id)


def _snapshot(server_id: str, name: str, timeout_s: float) -> SnapshotResult | DenbiError:
    return run_bounded(
        lambda: create_snapshot(site=SITE, server=server_id, name=name, timeout_s=timeout_s),
        within=BOUND_S,
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_snapshot_under_a_fault_ends_once_or_fails_clearly(
    matrix_env: Matrix, matrix_cell: MatrixCell, vm: tuple[str, str], scenario: Scenario
) -> None:
    stuck = scenario.name == "snapshot stuck"
    server_id = _boot(matrix_env, f"{RUN}-own") if stuck else vm[0]
    name = f"{RUN}-{next(_NUMBERS)}"
    rid = snapshot_request_id(SITE, server_id, name)
    try:
        with matrix_cell(FLOW, scenario.name) as cell:
            matrix_env.inject(scenario.rules_for(SITE, create=CREATE))
            first = _snapshot(server_id, name, STUCK_TIMEOUT_S if stuck else TIMEOUT_S)
            assert matrix_env.settle(cell) > 0, "the fault never fired"
            judge(first, scenario.outcome(FLOW))
            assert len(_live(_images(matrix_env, rid, name))) <= 1, "two snapshots"
            assert matrix_env.client(SITE).get_image(vm[1]) is not None, "bystander deleted"
            if stuck:
                return  # the VM stays busy for good: nothing to run again
            _idle(matrix_env, server_id)
            if scenario.name == "snapshot killed":  # a re-run finds the killed one and says so
                again = _snapshot(server_id, name, TIMEOUT_S)
                assert isinstance(again, DenbiError) and "Delete it" in str(again), again
                _remove_images(matrix_env, rid, name)
            again = _snapshot(server_id, name, TIMEOUT_S)
            assert isinstance(again, SnapshotResult), again
            assert again.status == "active"
            if isinstance(first, SnapshotResult):
                assert (again.image_id, again.reused) == (first.image_id, True)
            assert [i.id for i in _live(_images(matrix_env, rid, name))] == [again.image_id]
    finally:
        if stuck:
            _remove_server(matrix_env, server_id)
        _remove_images(matrix_env, rid, name)
