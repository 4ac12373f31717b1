"""``denbi-jupyter snapshot copy`` end to end through the CLI and the local cloud's two sites."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.copy import COPIED_FROM_KEY, ImageRecord, copied_from_mark
from tests.flows.harness import LocalEnv

pytestmark = pytest.mark.usefixtures("prefect_harness", "local_env")

SOURCE, TARGET = "bielefeld", "heidelberg"
RUN = f"cli-copy-{uuid.uuid4().hex[:6]}"
MIB = 1024 * 1024
Faults = Callable[..., None]


@pytest.fixture
def source(local_env: LocalEnv) -> Iterator[tuple[ImageRecord, bytes]]:
    """A fresh source image on bielefeld with 2 MiB of random data; it and its copies go after."""
    client = local_env.client(SOURCE)
    record = client.create_image_record(
        {
            "name": f"{RUN}-{uuid.uuid4().hex[:6]}",
            "disk_format": "raw",
            "container_format": "bare",
            "image_type": "snapshot",
            "tags": ["base_image"],
        }
    )
    data = os.urandom(2 * MIB + 5)
    client.upload_image_data(record.id, iter([data[:MIB], data[MIB:]]))
    uploaded = client.image_record(record.id)
    assert uploaded is not None
    yield uploaded, data
    target = local_env.client(TARGET)
    for copy in target.find_copies(copied_from_mark(SOURCE, record.id)):
        target.delete_image(copy.id)
    client.delete_image(record.id)


def _copies(local_env: LocalEnv, record: ImageRecord) -> list[ImageRecord]:
    return local_env.client(TARGET).find_copies(copied_from_mark(SOURCE, record.id))


def test_copy_by_name_prints_the_verified_copy_and_a_rerun_reuses_it(
    cli: Any, local_env: LocalEnv, source: tuple[ImageRecord, bytes]
) -> None:
    record, data = source
    first = cli("snapshot", "copy", "--site", SOURCE, record.name, "--to", TARGET, "--json")
    assert first.code == 0, first.err
    copied = first.json()
    assert copied["sha512"] == hashlib.sha512(data).hexdigest() and copied["size"] == len(data)
    assert (copied["source_id"], copied["target_site"], copied["reused"]) == (
        record.id,
        TARGET,
        False,
    )
    target: CloudClient = local_env.client(TARGET)
    stored = target.image_record(copied["target_id"])
    assert stored is not None and stored.properties[COPIED_FROM_KEY] == f"{SOURCE}:{record.id}"
    again = cli("snapshot", "copy", "--site", SOURCE, record.id, "--to", TARGET)
    assert again.code == 0, again.err
    assert "A verified copy exists on heidelberg" in again.out and copied["target_id"] in again.out
    assert [image.id for image in _copies(local_env, record)] == [copied["target_id"]]


def test_a_refused_upload_is_one_line_with_the_quota_exit_code_and_no_copy_left(
    cli: Any, local_env: LocalEnv, source: tuple[ImageRecord, bytes], faults: Faults
) -> None:
    record, _ = source
    faults({"kind": "upload_refused", "site": TARGET, "service": "image", "count": 1})
    result = cli("snapshot", "copy", "--site", SOURCE, record.id, "--to", TARGET)
    assert result.code == 5
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("denbi-jupyter: error: ") and "was deleted" in lines[-1]
    assert "Traceback" not in result.err
    assert _copies(local_env, record) == []


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--to", SOURCE], 2, "is the source site"),
        (["--to", "nowhere"], 3, "no clouds.yaml entry named 'nowhere'"),
        (["--to", TARGET, "--name", " "], 2, "name is empty"),
    ],
    ids=["same site", "unknown target", "empty name"],
)
def test_bad_arguments_are_refused_before_anything_starts(
    cli: Any,
    local_env: LocalEnv,
    source: tuple[ImageRecord, bytes],
    argv: list[str],
    code: int,
    said: str,
) -> None:
    record, _ = source
    result = cli("snapshot", "copy", "--site", SOURCE, record.id, *argv, "--no-wait")
    assert result.code == code and said in result.err
    assert result.err.count("\n") == 1 and "started" not in result.out
    assert _copies(local_env, record) == []


def test_an_unknown_snapshot_exits_with_not_found(cli: Any) -> None:
    result = cli("snapshot", "copy", "--site", SOURCE, f"{RUN}-missing", "--to", TARGET)
    assert result.code == 3 and "no image named" in result.err
