"""Fault matrix: retention (the cleanup flow) under each fault of Glance and Keystone.

Each cell makes three snapshots the nightly schedule provably made (property and mark) of a
VM id of its own, one that only carries the schedule's property (inherited: unproven) and one
made by hand. ``cleanup_snapshots`` with ``keep_last=1`` must delete exactly the two older
marked ones, or end in one clear failure naming the cause (an outage of the listing, or the
deletions that failed); the unproven and hand-made snapshots are never touched, and the same
cleanup again without faults ends with only the newest marked snapshot left.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import RetentionReport
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY, schedule_mark
from denbi_jupyter.errors import CloudUnavailableError, DenbiError, OperationFailedError
from flows.scheduled import cleanup_snapshots
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
RUN = f"mx-ret-{uuid.uuid4().hex[:6]}"
BOUND_S = 60.0


@dataclass(frozen=True)
class Case:
    """One cell: the rules, and how the cleanup may fail (None: it succeeds)."""

    fault: str
    rules: tuple[dict[str, Any], ...]
    error: type[DenbiError] | None = None
    cause: str = ""


CASES = [
    Case("token expiry", ({"kind": "token_expire", "service": "image", "count": 1},)),
    Case("token revocation", ({"kind": "token_revoke", "service": "image", "count": 1},)),
    Case("5xx burst (retried)", ({"kind": "error", "service": "image", "count": 2},)),
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
        ({"kind": "latency", "service": "image", "method": "GET", "seconds": SLOW, "count": 1},),
    ),
    Case(
        "late-processed DELETE",
        ({"kind": "late", "service": "image", "method": "DELETE", "seconds": SLOW, "count": 1},),
    ),
    Case(
        "dropped connection",
        ({"kind": "drop", "service": "image", "method": "DELETE", "count": 1},),
    ),
    Case(
        "409 conflict",
        ({"kind": "conflict", "service": "image", "method": "DELETE", "count": 1},),
        OperationFailedError,
        r"1 of 2 snapshot\(s\) could not be deleted: .*cannot delete image .* right now",
    ),
]


def _image(client: CloudClient, label: str, server_id: str, *, schedule: bool) -> str:
    body: dict[str, Any] = {
        "name": f"{RUN}-{label}",
        "disk_format": "raw",
        "container_format": "bare",
        "image_type": "snapshot",
        SOURCE_SERVER_ID: server_id,
    }
    if schedule:
        body[SCHEDULE_KEY] = NIGHTLY
    image_id = client.create_image_record(body).id
    client.upload_image_data(image_id, iter([label.encode() * 64]))  # active, as made
    return image_id


def _history(client: CloudClient, server_id: str) -> tuple[list[str], list[str]]:
    """(three marked nightly snapshots, oldest first; the unproven and the hand-made one)."""
    marked = []
    for n in range(3):
        image_id = _image(client, f"nightly{n}", server_id, schedule=True)
        client.set_image_tags(image_id, [schedule_mark(NIGHTLY, image_id)])
        marked.append(image_id)
    spared = [
        _image(client, "unproven", server_id, schedule=True),
        _image(client, "by-hand", server_id, schedule=False),
    ]
    return marked, spared


def _cleanup() -> RetentionReport | DenbiError:
    return finish(
        lambda: cleanup_snapshots(site=SITE, schedule=NIGHTLY, keep_last=1, max_age_days=None),
        within=BOUND_S,
    )


def _left(client: CloudClient, ids: list[str]) -> list[str]:
    return [image_id for image_id in ids if client.get_image(image_id) is not None]


@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_retention_under_a_fault_deletes_only_the_schedules_old_snapshots(
    course_env: Course, matrix_cell: MatrixCell, case: Case
) -> None:
    client = course_env.client(SITE)
    server_id = str(uuid.uuid4())  # a VM id of this cell's own: its group alone
    marked, spared = _history(client, server_id)
    with matrix_cell("retention", case.fault) as cell:
        course_env.admin("POST", "/_admin/faults", list(case.rules))
        outcome = _cleanup()
        assert course_env.settle(cell) > 0, "the fault never fired"
        if case.error is None:
            assert isinstance(outcome, RetentionReport), outcome
            mine = set(outcome.to_delete) & set(marked)
            assert len(mine) == 2 and set(_left(client, marked)) == set(marked) - mine
            assert outcome.deleted is not None and outcome.deleted.failed == 0
        else:
            clear_failure(outcome, (case.error,), case.cause)
            assert len(_left(client, marked)) >= 2, "deleted although the run failed"
        assert _left(client, spared) == spared, "an unproven or hand-made snapshot was deleted"
        again = _cleanup()
        assert isinstance(again, RetentionReport), again
        assert len(_left(client, marked)) == 1 and _left(client, spared) == spared
    for image_id in _left(client, marked + spared):
        client.delete_image(image_id)
