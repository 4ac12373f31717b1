"""Fault matrix: the boot flow under each fault (local cloud, real HTTP, real Prefect flows).

Each cell boots a VM of its own name under one scenario of :mod:`faultset`. It must end
with the ACTIVE VM or one clear failure naming the cause, within the bound; there is never
more than one VM of the name (counted with plain openstacksdk); the bystander VM lives on;
and the same boot again without faults ends with exactly one ACTIVE VM of the name (after a
boot that ended in ERROR, once that VM is deleted, as the error message says).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.errors import DenbiError
from flows.boot import boot_server
from tests.reliability._cells import Matrix, judge, run_bounded
from tests.reliability.conftest import MatrixCell
from tests.reliability.faultset import Scenario, scenarios_for

pytestmark = pytest.mark.usefixtures("prefect_harness")

FLOW = "boot"
SITE = "bielefeld"
RUN = f"mx-boot-{uuid.uuid4().hex[:6]}"
IMAGE = "Ubuntu-22.04 de.NBI (2026-05-01)"
FLAVOR = "de.NBI tiny"
#: The longest one boot may take under a fault (a persistent outage: retries, ~25 s).
BOUND_S = 90.0
_NUMBERS = itertools.count()
SCENARIOS = scenarios_for(FLOW)


def _servers(matrix: Matrix, name: str) -> list[Any]:
    with matrix.sdk(SITE) as conn:
        return [s for s in conn.compute.servers() if s.name == name]


def _remove(matrix: Matrix, name: str) -> None:
    with matrix.sdk(SITE) as conn:
        ids = [s.id for s in conn.compute.servers() if s.name == name]
        for server_id in ids:
            conn.compute.delete_server(server_id)
        for server_id in ids:
            conn.compute.wait_for_delete(conn.compute.get_server(server_id), wait=30)


@pytest.fixture(scope="module")
def bystander(matrix: Matrix) -> Iterator[str]:
    """A VM no boot cell may touch."""
    name = f"{RUN}-bystander"
    client = matrix.client(SITE)
    size = client.find_flavor(FLAVOR)
    server = client.create_server(
        name=name, image_id=client.find_image(IMAGE).id, flavor_id=size.id, key_name=None
    )
    yield server.id
    _remove(matrix, name)


def _boot(name: str) -> BootResult | DenbiError:
    return run_bounded(
        lambda: boot_server(site=SITE, image=IMAGE, flavor=FLAVOR, key_name=None, name=name),
        within=BOUND_S,
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_boot_under_a_fault_ends_with_one_vm_or_one_clear_failure(
    matrix_env: Matrix, matrix_cell: MatrixCell, bystander: str, scenario: Scenario
) -> None:
    name = f"{RUN}-{next(_NUMBERS)}"
    try:
        with matrix_cell(FLOW, scenario.name) as cell:
            matrix_env.inject(scenario.rules_for(SITE))
            first = _boot(name)
            assert matrix_env.settle(cell) > 0, "the fault never fired"
            judge(first, scenario.outcome(FLOW))
            made = _servers(matrix_env, name)
            assert len(made) <= 1, f"{len(made)} VMs named {name}"
            assert matrix_env.client(SITE).get_server(bystander) is not None
            if isinstance(first, DenbiError) and made and made[0].status == "ERROR":
                assert "delete it" in str(first), first
                _remove(matrix_env, name)
            again = _boot(name)
            assert isinstance(again, BootResult), again
            assert again.status == "ACTIVE"
            if isinstance(first, BootResult):
                assert again.server_id == first.server_id and again.reused
            assert [s.id for s in _servers(matrix_env, name)] == [again.server_id]
    finally:
        _remove(matrix_env, name)
