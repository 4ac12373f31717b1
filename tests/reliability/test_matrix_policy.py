"""Fault matrix: the snapshot-policy run under each fault (local cloud, real HTTP, real flows).

A VM of the course project carries ``daily 02:00; tz=UTC; keep=2``; each cell runs the
policy for a slot of its own (a day later than the cell before). Under the fault the run
ends with the slot's snapshot made, or with one clear failure naming the cause (a failed
VM's error, or the run's own error when the cloud cannot even be read). Never two
snapshots for one slot; the hand-made snapshot of the VM and an unmarked one carrying the
schedule's property are never deleted; the same run again without faults makes the slot's
snapshot (once) or finds it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import PolicyRunReport
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE, SLOT_KEY, slot_text
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY
from denbi_jupyter.errors import CloudUnavailableError, DenbiError, OperationFailedError
from flows.policy import run_snapshot_policies
from tests.reliability import _kill_support
from tests.reliability._kill_support import (
    OUTAGE,
    SLOW,
    Course,
    clear_failure,
    finish,
)
from tests.reliability.conftest import MatrixCell

course = _kill_support.course
course_env = _kill_support.course_env

pytestmark = pytest.mark.usefixtures("prefect_harness")

SITE = "bielefeld"
RUN = f"mx-pol-{uuid.uuid4().hex[:6]}"
POLICY = "daily 02:00; tz=UTC; keep=2"
#: The first cell's run time; every cell runs a day later (a new slot).
FIRST = dt.datetime(2030, 3, 1, 2, 10, tzinfo=dt.UTC)
_DAYS = itertools.count()
#: The longest one policy run may take under a fault (retries of a persistent outage: ~8 s).
BOUND_S = 90.0
#: The snapshot wait of the runs here: a stuck upload fails the VM after this long.
SNAPSHOT_TIMEOUT_S = 4.0
UBUNTU = "Ubuntu-22.04 de.NBI (2026-05-01)"


@dataclass
class PolicyVm:
    """The opted-in VM and the two snapshots of it no run may delete."""

    client: CloudClient
    server_id: str
    spared: list[str] = field(default_factory=list)


def _wait(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tick.wait(0.05)  # polling the cloud: nothing to wait on but its API


def _boot(client: CloudClient, name: str) -> str:
    flavor = min(client.list_flavors(), key=lambda size: size.ram_mb)
    server = client.create_server(
        name=name,
        image_id=client.find_image(UBUNTU).id,
        flavor_id=flavor.id,
        key_name=None,
        metadata={POLICY_KEY: POLICY},
    )
    _wait(lambda: getattr(client.get_server(server.id), "status", "") == "ACTIVE", "ACTIVE")
    return server.id


def _remove(client: CloudClient, server_id: str) -> None:
    _wait(lambda: not getattr(client.get_server(server_id), "task_state", None), "idle")
    client.delete_server(server_id)


@pytest.fixture(scope="module")
def vm(course: Course) -> Iterator[PolicyVm]:
    """The policy VM, a hand-made snapshot of it and an unmarked "scheduled" one."""
    client = course.client(SITE)
    server_id = _boot(client, f"{RUN}-vm")
    spared = []
    for label, extra in (("by-hand", {}), ("unmarked", {SCHEDULE_KEY: POLICY_SCHEDULE})):
        record = client.create_image_record(
            {
                "name": f"{RUN}-{label}",
                "disk_format": "raw",
                "container_format": "bare",
                "image_type": "snapshot",
                SOURCE_SERVER_ID: server_id,
                **extra,
            }
        )
        spared.append(record.id)
    yield PolicyVm(client, server_id, spared)
    _remove(client, server_id)
    for image in client.find_images_by_property(SOURCE_SERVER_ID, server_id):
        client.delete_image(image.id)


@dataclass(frozen=True)
class Case:
    """One cell: the rules (``{vm}``: the VM's id) and how the run may fail."""

    fault: str
    rules: tuple[dict[str, Any], ...]
    error: type[DenbiError] | None = None  # None: the run succeeds
    cause: str = ""
    own_vm: bool = False  # the fault leaves the VM busy for good: use one of its own


def _on_action(kind: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "service": "compute", "method": "POST",
            "path": r"/servers/{vm}/action$", **extra}  # fmt: skip


CASES = [
    Case("token expiry", ({"kind": "token_expire", "service": "compute", "count": 1},)),
    Case("token revocation", ({"kind": "token_revoke", "service": "compute", "count": 1},)),
    Case("5xx burst (retried)", ({"kind": "error", "service": "compute", "count": 2},)),
    Case(
        "5xx persistent (compute)",
        ({"kind": "error", "service": "compute"},),
        CloudUnavailableError,
        OUTAGE,
    ),
    Case(
        "5xx persistent (image)",
        ({"kind": "error", "service": "image"},),
        CloudUnavailableError,
        OUTAGE,
    ),
    Case(
        "5xx persistent (identity)",
        ({"kind": "error", "service": "identity"},),
        CloudUnavailableError,
        OUTAGE,
    ),
    Case(
        "latency > api_timeout",
        ({"kind": "latency", "service": "compute", "method": "GET", "seconds": SLOW, "count": 1},),
    ),
    Case("late-processed create", (_on_action("late", seconds=SLOW, count=1),)),
    Case("dropped connection", (_on_action("drop", count=1),)),
    Case("409 conflict", (_on_action("conflict", count=1),)),
    Case("quota", (_on_action("quota", count=1),), OperationFailedError, r"out of quota"),
    Case(
        "snapshot killed",
        ({"kind": "snapshot_killed", "path": "/servers/{vm}/", "count": 1},),
        OperationFailedError,
        r"'killed'",
    ),
    Case(
        "snapshot vanished",
        ({"kind": "snapshot_vanish", "path": "/servers/{vm}/", "count": 1},),
        OperationFailedError,
        r"vanished",
    ),
    Case(
        "snapshot stuck",
        ({"kind": "snapshot_stuck", "path": "/servers/{vm}/", "count": 1},),
        OperationFailedError,
        r"timed out after \d+ s",
        own_vm=True,
    ),
]


def _rules(case: Case, server_id: str) -> list[dict[str, Any]]:
    return [
        {key: value.replace("{vm}", server_id) if isinstance(value, str) else value
         for key, value in rule.items()}
        for rule in case.rules
    ]  # fmt: skip


def _slot_snapshots(client: CloudClient, server_id: str, slot: str) -> list[str]:
    """The live (not killed) snapshots of ``server_id`` made for ``slot``."""
    return [
        image.id
        for image in client.find_images_by_property(SLOT_KEY, slot)
        if image.properties.get(SOURCE_SERVER_ID) == server_id and image.status != "killed"
    ]


def _run(at: dt.datetime) -> PolicyRunReport | DenbiError:
    return finish(
        lambda: run_snapshot_policies(site=SITE, at=at, snapshot_timeout_s=SNAPSHOT_TIMEOUT_S),
        within=BOUND_S,
    )


@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_a_policy_run_under_a_fault_makes_the_slot_once_or_fails_clearly(
    course_env: Course, matrix_cell: MatrixCell, vm: PolicyVm, case: Case
) -> None:
    client = vm.client
    server_id = _boot(client, f"{RUN}-own") if case.own_vm else vm.server_id
    at = FIRST + dt.timedelta(days=next(_DAYS))
    slot = slot_text(at.replace(minute=0))
    with matrix_cell("policy run", case.fault) as cell:
        course_env.admin("POST", "/_admin/faults", _rules(case, server_id))
        first = _run(at)
        assert course_env.settle(cell) > 0, "the fault never fired"
        if case.error is None:
            assert isinstance(first, PolicyRunReport), first
        else:
            clear_failure(first, (case.error,), case.cause)
        assert len(_slot_snapshots(client, server_id, slot)) <= 1, "two snapshots of one slot"
        assert all(client.get_image(image_id) is not None for image_id in vm.spared)
        if not case.own_vm:
            again = _run(at)
            assert isinstance(again, PolicyRunReport), again
            (item,) = [i for i in again.items if i.server_id == server_id]
            assert item.outcome in ("made", "not due"), item
            made = _slot_snapshots(client, server_id, slot)
            assert len(made) == 1, made
            image = client.get_image(made[0])
            assert image is not None and image.status == "active"
            assert all(client.get_image(image_id) is not None for image_id in vm.spared)
    if case.own_vm:
        _delete_stuck(course_env, server_id)


def _delete_stuck(course: Course, server_id: str) -> None:
    """Remove a VM whose snapshot is stuck, and the stuck image, with plain openstacksdk."""
    import openstack
    import yaml

    entry = yaml.safe_load(course.clouds_yaml.read_text())["clouds"][SITE]
    entry.pop("denbi")
    conn = openstack.connect(**entry)
    try:
        conn.compute.delete_server(server_id)  # our client refuses while the upload "runs"
    finally:
        conn.close()
    client = course.client(SITE)
    for image in client.find_images_by_property(SOURCE_SERVER_ID, server_id):
        client.delete_image(image.id)
