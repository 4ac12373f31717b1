"""Receive image data: stream the request body to a file, hash it, enforce the size limit.

The limit is ``DENBI_LOCALCLOUD_MAX_IMAGE_BYTES`` (bytes, default 2 GiB), read on every upload
so tests can lower it; a larger upload gets Glance's 413.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from denbi_jupyter.localcloud.glance_records import data_path, record_image_data
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = ["MAX_IMAGE_BYTES_ENV", "ReceivedData", "max_image_bytes", "receive_data", "store_data"]

#: Environment variable holding the upload size limit in bytes.
MAX_IMAGE_BYTES_ENV = "DENBI_LOCALCLOUD_MAX_IMAGE_BYTES"
_DEFAULT_MAX = 2 * 1024**3


@dataclass(frozen=True, slots=True)
class ReceivedData:
    """An uploaded body, already on disk next to the image data, with its size and hashes."""

    path: Path
    size: int
    md5: str
    sha512: str

    def discard(self) -> None:
        """Remove the file if it was not stored."""
        self.path.unlink(missing_ok=True)


def max_image_bytes() -> int:
    """The current upload size limit in bytes."""
    value = os.environ.get(MAX_IMAGE_BYTES_ENV, "")
    return int(value) if value.isdigit() else _DEFAULT_MAX


async def receive_data(request: Request, site: Site) -> ReceivedData:
    """Stream the request body into ``site``'s data folder.

    Raises:
        ApiError: 413 when the body is larger than :func:`max_image_bytes`.
    """
    limit = max_image_bytes()
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Image exceeds the size limit of {limit} bytes.")
    path = site.store.data_dir / f"upload-{uuid.uuid4().hex}.part"
    md5 = hashlib.md5(usedforsecurity=False)
    sha512 = hashlib.sha512()
    size = 0
    try:
        with path.open("wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"Image exceeds the size limit of {limit} bytes.")
                md5.update(chunk)
                sha512.update(chunk)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedData(path=path, size=size, md5=md5.hexdigest(), sha512=sha512.hexdigest())


def store_data(conn: sqlite3.Connection, site: Site, image_id: str, received: ReceivedData) -> None:
    """Make ``received`` the data of ``image_id`` and the image ``active``."""
    os.replace(received.path, data_path(site, image_id))
    record_image_data(conn, image_id, size=received.size, md5=received.md5, sha512=received.sha512)
