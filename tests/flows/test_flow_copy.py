"""The copy flow between the local cloud's two sites: real Glance data over loopback HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from denbi_jupyter.cloud.classify import classify
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_IMAGE_ID, SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.copy import COPIED_FROM_KEY, ImageRecord, copied_from_mark
from denbi_jupyter.connect.details import ConnectionDetails
from denbi_jupyter.errors import (
    OperationFailedError,
    QuotaExceededError,
    UserInputError,
)
from flows import FlowEvent, listen
from flows.boot import boot_server
from flows.copy import copy_image
from tests.flows.harness import LocalEnv

pytestmark = pytest.mark.usefixtures("prefect_harness")

SOURCE, TARGET = "bielefeld", "heidelberg"
RUN = f"copy-{uuid.uuid4().hex[:6]}"
MIB = 1024 * 1024
Faults = Callable[..., None]


@pytest.fixture
def sites(local_env: LocalEnv) -> Iterator[tuple[CloudClient, CloudClient]]:
    """(source, target) clients; every image named after this module's run goes afterwards."""
    source, target = local_env.client(SOURCE), local_env.client(TARGET)
    yield source, target
    for client in (source, target):
        for image in client.find_images_by_property("owner", client.project_id):
            mark = image.properties.get(COPIED_FROM_KEY, "")
            ours = image.name.startswith(RUN) or mark.startswith(f"{SOURCE}:")
            if ours and not image.protected:
                client.delete_image(image.id)


def _upload_source(client: CloudClient, *, size: int = 3 * MIB + 17) -> tuple[ImageRecord, bytes]:
    """A source image with de.NBI properties, tags and ``size`` random bytes of data."""
    record = client.create_image_record(
        {
            "name": f"{RUN}-{uuid.uuid4().hex[:6]} Ubuntu-22.04 xfce",
            "disk_format": "qcow2",
            "container_format": "bare",
            "min_disk": 20,
            "min_ram": 1024,
            "os_distro": "ubuntu",
            "os_version": "22.04",
            "title": "Workshop desktop",
            "description": "Copied between sites in a test",
            "image_type": "snapshot",
            SOURCE_SERVER_ID: str(uuid.uuid4()),
            "tags": ["x2go", "workshop"],
        }
    )
    data = os.urandom(size)
    client.upload_image_data(record.id, (data[i : i + 65536] for i in range(0, size, 65536)))
    uploaded = client.image_record(record.id)
    assert uploaded is not None and uploaded.status == "active"
    return uploaded, data


def _copies(target: CloudClient, source: ImageRecord) -> list[ImageRecord]:
    return target.find_copies(copied_from_mark(SOURCE, source.id))


@contextlib.contextmanager
def _image_limits(local_env: LocalEnv, **limits: Any) -> Iterator[None]:
    with httpx.Client(base_url=local_env.cloud.url, timeout=10) as http:
        answer = http.post("/_admin/image-limits", json={"site": TARGET, **limits})
        assert answer.status_code == 200, answer.text
        try:
            yield
        finally:
            http.delete("/_admin/image-limits")


def test_a_copy_has_the_sources_sha512_size_properties_tags_and_class(
    sites: tuple[CloudClient, CloudClient],
) -> None:
    source_client, target = sites
    source, data = _upload_source(source_client)
    events: list[FlowEvent] = []
    with listen(events.append):
        result = copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    copy = target.image_record(result.target_id)
    assert copy is not None and copy.status == "active"
    assert copy.sha512 == source.sha512 == hashlib.sha512(data).hexdigest() == result.sha512
    assert copy.size == source.size == len(data) == result.size
    assert (copy.disk_format, copy.container_format) == ("qcow2", "bare")
    assert (copy.min_disk, copy.min_ram) == (20, 1024)
    assert copy.tags == source.tags
    for key in ("os_distro", "os_version", "title", "description", "image_type", SOURCE_SERVER_ID):
        assert copy.properties[key] == source.properties[key], key
    assert copy.properties[COPIED_FROM_KEY] == f"{SOURCE}:{source.id}"
    assert copy.name == source.name and copy.owner == target.project_id
    assert classify(copy.name, copy.tags, copy.properties) == classify(
        source.name, source.tags, source.properties
    )
    assert (result.reused, result.replaced_partial) == (False, False)
    progress = [e for e in events if e.kind == "progress"]
    assert any(e.message.startswith("Copying: ") for e in progress)
    fractions = [e.fraction for e in progress if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_rerun_returns_the_finished_copy_instead_of_a_second(
    sites: tuple[CloudClient, CloudClient],
) -> None:
    source_client, target = sites
    source, _ = _upload_source(source_client)
    first = copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    second = copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    assert second.target_id == first.target_id and second.reused is True
    assert [image.id for image in _copies(target, source)] == [first.target_id]


def test_a_failed_partial_copy_is_replaced(sites: tuple[CloudClient, CloudClient]) -> None:
    source_client, target = sites
    source, _ = _upload_source(source_client)
    partial = target.create_image_record(
        {
            "name": source.name,
            "disk_format": "qcow2",
            "container_format": "bare",
            COPIED_FROM_KEY: copied_from_mark(SOURCE, source.id),
        }
    )
    result = copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    assert result.replaced_partial is True and result.reused is False
    assert target.image_record(partial.id) is None
    assert [image.id for image in _copies(target, source)] == [result.target_id]
    assert result.name == source.name  # the partial's name was freed first


def test_a_taken_name_gets_a_suffix_and_a_given_name_is_used(
    sites: tuple[CloudClient, CloudClient],
) -> None:
    source_client, target = sites
    source, _ = _upload_source(source_client)
    squatter = target.create_image_record({"name": source.name, "disk_format": "raw"})
    suffixed = copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    assert suffixed.name == f"{source.name} (copy 2)"
    assert target.image_record(squatter.id) is not None  # never touched: not a copy
    other, _ = _upload_source(source_client)
    named = copy_image(site=SOURCE, image_id=other.id, target_site=TARGET, name=f"{RUN}-given ")
    assert named.name == f"{RUN}-given"
    third, _ = _upload_source(source_client, size=MIB)
    with pytest.raises(UserInputError, match="already used"):
        copy_image(site=SOURCE, image_id=third.id, target_site=TARGET, name=source.name)
    assert _copies(target, third) == []


@pytest.mark.parametrize(
    ("fault", "site", "error", "cause"),
    [
        (
            {"kind": "download_cut", "after_bytes": MIB},
            SOURCE,
            OperationFailedError,
            "cut off|broke off",
        ),
        ({"kind": "download_corrupt"}, SOURCE, OperationFailedError, "corrupted"),
        ({"kind": "upload_refused"}, TARGET, QuotaExceededError, "quota|upload"),
    ],
    ids=["cut download", "corrupted stream", "refused upload"],
)
def test_a_broken_transfer_fails_clearly_and_leaves_no_partial_copy(
    sites: tuple[CloudClient, CloudClient],
    faults: Faults,
    fault: dict[str, Any],
    site: str,
    error: type[Exception],
    cause: str,
) -> None:
    source_client, target = sites
    source, _ = _upload_source(source_client)
    faults({**fault, "site": site, "service": "image", "count": 1})
    with pytest.raises(error, match=cause) as caught:
        copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    message = str(caught.value)
    assert "incomplete copy" in message and "was deleted" in message and "\n" not in message
    assert _copies(target, source) == []
    assert source_client.image_record(source.id) == source  # the source is untouched


@pytest.mark.parametrize(
    "limits",
    [{"image_count_total": 0}, {"image_size_total": 1}],
    ids=["count", "size"],
)
def test_an_exhausted_image_quota_is_refused_before_data_moves(
    sites: tuple[CloudClient, CloudClient], local_env: LocalEnv, limits: dict[str, int]
) -> None:
    source_client, target = sites
    source, _ = _upload_source(source_client)
    usage_before = target.image_usage()
    with _image_limits(local_env, project_id=target.project_id, **limits):
        assert target.image_usage() != usage_before
        with pytest.raises(QuotaExceededError, match="quota"):
            copy_image(site=SOURCE, image_id=source.id, target_site=TARGET)
    assert _copies(target, source) == []


def test_the_same_site_is_refused(sites: tuple[CloudClient, CloudClient]) -> None:
    source_client, _ = sites
    source, _ = _upload_source(source_client, size=MIB)
    with pytest.raises(UserInputError, match="is the source site"):
        copy_image(site=SOURCE, image_id=source.id, target_site=SOURCE)


def _card(connection: ConnectionDetails | None) -> tuple[object, ...]:
    assert connection is not None
    return (
        connection.info.user,
        connection.x2go_session_type,
        connection.guacamole_url is None,
    )


def test_a_booted_copy_of_an_x2go_snapshot_shows_the_same_connection_card(
    sites: tuple[CloudClient, CloudClient],
) -> None:
    source_client, target = sites
    snapshot = source_client.find_image("x2go-desktop-snap")
    result = copy_image(site=SOURCE, image_id=snapshot.id, target_site=TARGET)
    copy = target.image_record(result.target_id)
    assert copy is not None
    twin = target.get_image(copy.properties[SOURCE_IMAGE_ID])
    assert twin is not None and twin.name == "X2Go_xfce" and result.warnings == ()
    cards, booted = [], []
    try:
        for site, image in ((SOURCE, snapshot.id), (TARGET, result.target_id)):
            vm = boot_server(
                site=site, image=image, flavor="de.NBI tiny", key_name=None, name=f"{RUN}-vm"
            )
            booted.append((site, vm.server_id))
            cards.append(_card(vm.connection))
    finally:
        for site, server_id in booted:
            (source_client if site == SOURCE else target).delete_server(server_id)
    assert cards[0] == cards[1]
    assert str(getattr(cards[0][1], "value", "")) == "XFCE"
