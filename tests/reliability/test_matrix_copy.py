"""Fault matrix: the cross-site copy under each fault of either site (real Glance data).

Each cell uploads a fresh source image (1 MiB + 3 bytes of random data) to bielefeld and
copies it to heidelberg under the fault. The copy must end verified (size and sha512 of the
source) or in one clear failure naming the cause, with no copy left behind (a create the
target did only after the client gave up leaves a queued record the re-run replaces); the
source is never changed or deleted. The same copy again without faults then ends with
exactly one verified copy.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import CopyResult
from denbi_jupyter.cloud.rules.copy import ImageRecord, copied_from_mark
from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    DenbiError,
    OperationFailedError,
    QuotaExceededError,
)
from flows.copy import copy_image
from tests.reliability import _kill_support
from tests.reliability._kill_support import OUTAGE, SLOW, Course, clear_failure, finish
from tests.reliability.conftest import MatrixCell

course = _kill_support.course
course_env = _kill_support.course_env

pytestmark = pytest.mark.usefixtures("prefect_harness")

SOURCE, TARGET = "bielefeld", "heidelberg"
RUN = f"mx-copy-{uuid.uuid4().hex[:6]}"
MIB = 1024 * 1024
BOUND_S = 90.0


@dataclass(frozen=True)
class Case:
    """One cell: the rules, how the copy may fail, and whether a queued partial may stay."""

    fault: str
    rules: tuple[dict[str, Any], ...]
    error: tuple[type[DenbiError], ...] = ()
    cause: str = ""
    partial_ok: bool = False


def _on(site: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "site": site, "service": "image", **extra}


_CREATE = {"method": "POST", "path": r"/v2/images$"}

CASES = [
    Case("token expiry", (_on(SOURCE, "token_expire", path="/file$", count=1),)),
    Case("token revocation", (_on(TARGET, "token_revoke", method="POST", count=1),)),
    Case("5xx burst (retried)", (_on(TARGET, "error", count=2),)),
    Case(
        "5xx persistent (image, source)",
        (_on(SOURCE, "error"),),
        (CloudUnavailableError,),
        OUTAGE,
    ),
    Case(
        "5xx persistent (image, target)",
        (_on(TARGET, "error"),),
        (CloudUnavailableError,),
        OUTAGE,
    ),
    Case(
        "5xx persistent (identity)",
        ({"kind": "error", "site": TARGET, "service": "identity"},),
        (CloudUnavailableError,),
        "heidelberg.*" + OUTAGE,
    ),
    Case("latency > api_timeout", (_on(TARGET, "latency", method="GET", seconds=SLOW, count=1),)),
    # The create lands after the client gave up: the copy finds it by its mark and fills it.
    Case("late-processed create", (_on(TARGET, "late", seconds=SLOW, count=1, **_CREATE),)),
    Case("dropped connection", (_on(TARGET, "drop", method="GET", count=1),)),
    Case(
        "409 conflict",
        (_on(TARGET, "conflict", count=1, **_CREATE),),
        (ConflictError,),
        r"cannot create .* right now.*try again",
    ),
    Case(
        "quota",
        (_on(TARGET, "quota", count=1, **_CREATE),),
        (QuotaExceededError,),
        r"out of quota",
    ),
    Case(
        "download cut",
        (_on(SOURCE, "download_cut", count=1),),
        (OperationFailedError,),
        r"broke off.*incomplete copy .* was deleted",
    ),
    Case(
        "download corrupt",
        (_on(SOURCE, "download_corrupt", count=1),),
        (OperationFailedError,),
        r"sha512|corrupt",
    ),
    Case(
        "upload refused",
        (_on(TARGET, "upload_refused", count=1),),
        (QuotaExceededError,),
        r"quota.*incomplete copy .* was deleted",
    ),
]


@pytest.fixture
def source(course_env: Course) -> Iterator[tuple[ImageRecord, bytes]]:
    """A fresh source image with random data; it and its copies go afterwards."""
    client = course_env.client(SOURCE)
    record = client.create_image_record(
        {
            "name": f"{RUN}-{uuid.uuid4().hex[:6]}",
            "disk_format": "raw",
            "container_format": "bare",
            "image_type": "snapshot",
            "tags": ["matrix"],
        }
    )
    data = os.urandom(MIB + 3)
    client.upload_image_data(record.id, iter([data[: MIB // 2], data[MIB // 2 :]]))
    uploaded = client.image_record(record.id)
    assert uploaded is not None and uploaded.status == "active"
    yield uploaded, data
    target = course_env.client(TARGET)
    for copy in _copies(target, uploaded):
        target.delete_image(copy.id)
    client.delete_image(record.id)


def _copies(target: CloudClient, source: ImageRecord) -> list[ImageRecord]:
    return target.find_copies(copied_from_mark(SOURCE, source.id))


def _copy(source: ImageRecord) -> CopyResult | DenbiError:
    return finish(
        lambda: copy_image(site=SOURCE, image_id=source.id, target_site=TARGET), within=BOUND_S
    )


def _verified(target: CloudClient, result: CopyResult, data: bytes) -> None:
    copy = target.image_record(result.target_id)
    assert copy is not None and copy.status == "active"
    assert copy.sha512 == result.sha512 == hashlib.sha512(data).hexdigest()
    assert copy.size == len(data)


@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_a_copy_under_a_fault_is_verified_or_fails_clearly_and_never_harms_the_source(
    course_env: Course,
    matrix_cell: MatrixCell,
    source: tuple[ImageRecord, bytes],
    case: Case,
) -> None:
    record, data = source
    source_client, target = course_env.client(SOURCE), course_env.client(TARGET)
    with matrix_cell("copy", case.fault) as cell:
        course_env.admin("POST", "/_admin/faults", list(case.rules))
        outcome = _copy(record)
        assert course_env.settle(cell) > 0, "the fault never fired"
        if not case.error:
            assert isinstance(outcome, CopyResult), outcome
            _verified(target, outcome, data)
            assert [copy.id for copy in _copies(target, record)] == [outcome.target_id]
        else:
            clear_failure(outcome, case.error, case.cause)
            left = _copies(target, record)
            if case.partial_ok:  # made after the client gave up: never active, replaced later
                assert all(copy.status == "queued" for copy in left), left
            else:
                assert left == [], f"a copy was left behind: {left}"
        assert source_client.image_record(record.id) == record, "the source changed"
        again = copy_image(site=SOURCE, image_id=record.id, target_site=TARGET)
        _verified(target, again, data)
        assert [copy.id for copy in _copies(target, record)] == [again.target_id]
        assert source_client.image_record(record.id) == record
