"""What the fake virt driver does on snapshot: upload the source image's bytes to Glance.

Kept apart from the driver so that it imports nothing from nova and can be tested with a
stand-in for nova's glance API (`nova.image.glance.API`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

__all__ = ["PLACEHOLDER_BYTES", "ImageApi", "snapshot_payload", "upload_snapshot"]

LOG = logging.getLogger(__name__)
# Uploaded when the source image cannot be read (deleted, or a volume-backed server).
PLACEHOLDER_BYTES = bytes(4096)


class ImageApi(Protocol):
    """The part of `nova.image.glance.API` the snapshot uses."""

    def get(self, context: Any, id_or_uri: str) -> Mapping[str, Any]: ...

    def download(self, context: Any, id_or_uri: str) -> Iterable[bytes] | None: ...

    def update(
        self,
        context: Any,
        id_or_uri: str,
        image_info: Mapping[str, Any],
        data: Any = None,
        purge_props: bool = False,
    ) -> Mapping[str, Any]: ...


def snapshot_payload(api: ImageApi, context: Any, source_image_id: str | None) -> tuple[bytes, str]:
    """The bytes and disk format to upload: the source image's, or a raw placeholder."""
    if source_image_id:
        try:
            disk_format = str(api.get(context, source_image_id).get("disk_format") or "raw")
            chunks = api.download(context, source_image_id)
            if chunks is not None:
                return b"".join(chunks), disk_format
        # Nova's image API raises its own ImageNotFound, Forbidden and friends, with no common
        # base we could import here; any of them means: upload the placeholder instead.
        except Exception as error:  # noqa: BLE001
            LOG.warning(
                "source image %s unreadable (%s): uploading a placeholder", source_image_id, error
            )
    return PLACEHOLDER_BYTES, "raw"


def upload_snapshot(
    api: ImageApi,
    context: Any,
    *,
    image_id: str,
    source_image_id: str | None,
    update_task_state: Callable[..., None],
    uploading_state: str,
) -> None:
    """Moves the server to `uploading_state`, then uploads the snapshot bytes.

    Glance turns the queued snapshot image `active` once the data is in. Properties Nova set
    when it created the image are kept (`purge_props=False`).
    """
    data, disk_format = snapshot_payload(api, context, source_image_id)
    update_task_state(task_state=uploading_state)
    metadata = {"disk_format": disk_format, "container_format": "bare"}
    api.update(context, image_id, metadata, data=io.BytesIO(data), purge_props=False)
