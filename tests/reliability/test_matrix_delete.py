"""Fault matrix: bulk delete under each fault of Glance and Keystone (real HTTP, real flows).

Every cell names three snapshots of the course project for deletion and leaves others alone
(a fourth snapshot and the project's own images). Under the fault the flow must end with a
report: each item ``deleted`` (and really gone) or ``failed:`` with the cause (and really
still there: the report never lies); nothing unnamed is touched. The same delete again
without faults then ends with every named snapshot gone.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import DeleteOutcome, DeleteReport
from flows.delete import delete_snapshots
from tests.reliability import _kill_support
from tests.reliability._kill_support import (
    OUTAGE,
    SLOW,
    Course,
    finish,
)
from tests.reliability.conftest import MatrixCell

course = _kill_support.course
course_env = _kill_support.course_env

pytestmark = pytest.mark.usefixtures("prefect_harness")

SITE = "bielefeld"
RUN = f"mx-del-{uuid.uuid4().hex[:6]}"
#: The longest a bulk delete of three may take under a fault (it must not spin).
BOUND_S = 60.0


@dataclass(frozen=True)
class Case:
    """One cell: the rules, and which items may fail with which cause."""

    fault: str
    rules: tuple[dict[str, Any], ...]
    failed: int = 0  # how many of the three end "failed" (-1: all)
    cause: str = ""
    max_parallel: int = 8


CASES = [
    Case("token expiry", ({"kind": "token_expire", "service": "image", "count": 1},)),
    Case("token revocation", ({"kind": "token_revoke", "service": "image", "count": 1},)),
    Case("5xx burst (retried)", ({"kind": "error", "service": "image", "count": 2},)),
    Case(
        "5xx burst on DELETE",
        ({"kind": "error", "service": "image", "method": "DELETE", "status": 502, "count": 1},),
        max_parallel=1,
    ),
    Case(
        "5xx persistent (image)",
        ({"kind": "error", "service": "image"},),
        failed=-1,
        cause=OUTAGE,
    ),
    Case(
        "5xx persistent (identity)",
        ({"kind": "error", "service": "identity"},),
        failed=-1,
        cause=OUTAGE,
    ),
    Case(
        "latency > api_timeout",
        ({"kind": "latency", "service": "image", "method": "GET", "seconds": SLOW, "count": 1},),
    ),
    Case(
        "late-processed DELETE",
        ({"kind": "late", "service": "image", "method": "DELETE", "seconds": SLOW, "count": 1},),
        max_parallel=1,
    ),
    Case(
        "latency, persistent (DELETE)",
        ({"kind": "latency", "service": "image", "method": "DELETE", "seconds": SLOW},),
    ),
    Case(
        "dropped connection",
        ({"kind": "drop", "service": "image", "method": "DELETE", "count": 1},),
        max_parallel=1,
    ),
    Case(
        "409 conflict",
        ({"kind": "conflict", "service": "image", "method": "DELETE", "count": 1},),
        failed=1,
        cause=r"cannot delete image .* right now",
        max_parallel=1,
    ),
]


def _snapshot(client: CloudClient, label: str) -> str:
    record = client.create_image_record(
        {
            "name": f"{RUN}-{label}-{uuid.uuid4().hex[:4]}",
            "disk_format": "raw",
            "container_format": "bare",
            "image_type": "snapshot",
        }
    )
    return record.id


def _own_ids(client: CloudClient) -> set[str]:
    return {image.id for image in client.find_images_by_property("owner", client.project_id)}


def _check(report: DeleteReport, client: CloudClient, case: Case, named: list[str]) -> None:
    """One item per named id; "deleted" ones gone, "failed" ones there, with the cause."""
    assert [item.id for item in report.items] == named
    failed = [item for item in report.items if item.outcome is DeleteOutcome.FAILED]
    others = {item.outcome for item in report.items} - {DeleteOutcome.FAILED}
    assert others <= {DeleteOutcome.DELETED}, report
    expected = len(named) if case.failed == -1 else case.failed
    assert len(failed) == expected, [item.text for item in report.items]
    for item in failed:
        assert re.search(case.cause, item.reason, re.I), item.reason
        assert client.get_image(item.id) is not None, f"{item.id} reported failed but is gone"
    for item in report.items:
        if item.outcome is DeleteOutcome.DELETED:
            assert client.get_image(item.id) is None, f"{item.id} reported deleted but exists"


@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_bulk_delete_under_a_fault_reports_each_item_truly_and_spares_the_rest(
    course_env: Course, matrix_cell: MatrixCell, case: Case
) -> None:
    client = course_env.client(SITE)
    named = [_snapshot(client, f"named{n}") for n in range(3)]
    spared = _snapshot(client, "spared")
    before = _own_ids(client)
    with matrix_cell("bulk delete", case.fault) as cell:
        course_env.admin("POST", "/_admin/faults", list(case.rules))
        report = finish(
            lambda: delete_snapshots(site=SITE, image_ids=named, max_parallel=case.max_parallel),
            within=BOUND_S,
        )
        assert course_env.settle(cell) > 0, "the fault never fired"
        assert isinstance(report, DeleteReport), report  # a bulk delete reports, never raises
        _check(report, client, case, named)
        assert before - set(named) <= _own_ids(client), "an unnamed image was deleted"
        again = delete_snapshots(site=SITE, image_ids=named)
        assert {item.outcome for item in again.items} <= {
            DeleteOutcome.DELETED,
            DeleteOutcome.NOT_FOUND,
        }, [item.text for item in again.items]
        assert all(client.get_image(image_id) is None for image_id in named)
        assert client.get_image(spared) is not None
    client.delete_image(spared)
