"""The fake driver's snapshot logic, with a stand-in for nova's glance API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from openstack_tier.snapshot_upload import PLACEHOLDER_BYTES, upload_snapshot


class ImageNotFound(Exception):
    pass


@dataclass
class FakeGlance:
    images: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    updates: list[tuple[str, dict[str, Any], bytes, bool]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def get(self, _context: Any, id_or_uri: str) -> Mapping[str, Any]:
        if id_or_uri not in self.images:
            raise ImageNotFound(id_or_uri)
        return self.images[id_or_uri][0]

    def download(self, _context: Any, id_or_uri: str) -> Iterable[bytes] | None:
        data = self.images[id_or_uri][1]
        return iter([data[:3], data[3:]])

    def update(
        self,
        _context: Any,
        id_or_uri: str,
        image_info: Mapping[str, Any],
        data: Any = None,
        purge_props: bool = False,
    ) -> Mapping[str, Any]:
        self.events.append("update")
        self.updates.append((id_or_uri, dict(image_info), data.read(), purge_props))
        return {"id": id_or_uri, "status": "active"}


@pytest.fixture
def glance() -> FakeGlance:
    return FakeGlance({"src": ({"disk_format": "qcow2"}, b"QFI\xfbsource-bytes")})


def snapshot(glance: FakeGlance, source: str | None) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []

    def update_task_state(**kwargs: Any) -> None:
        glance.events.append("task_state")
        states.append(kwargs)

    upload_snapshot(
        glance,
        object(),
        image_id="snap",
        source_image_id=source,
        update_task_state=update_task_state,
        uploading_state="image_uploading",
    )
    return states


def test_snapshot_uploads_the_source_bytes_keeping_nova_properties(glance: FakeGlance) -> None:
    states = snapshot(glance, "src")
    assert states == [{"task_state": "image_uploading"}]
    assert glance.events == ["task_state", "update"]
    image_id, metadata, data, purge = glance.updates[0]
    assert (image_id, data, purge) == ("snap", b"QFI\xfbsource-bytes", False)
    assert metadata == {"disk_format": "qcow2", "container_format": "bare"}


def test_unreadable_source_uploads_a_raw_placeholder(glance: FakeGlance) -> None:
    snapshot(glance, "deleted-meanwhile")
    _, metadata, data, _ = glance.updates[0]
    assert metadata["disk_format"] == "raw"
    assert data == PLACEHOLDER_BYTES


def test_volume_backed_server_without_image_uploads_a_placeholder(glance: FakeGlance) -> None:
    snapshot(glance, None)
    assert glance.updates[0][2] == PLACEHOLDER_BYTES
