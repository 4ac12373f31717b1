"""Receive image data: stream the request body to a file, hash it, enforce the size limit.

The limit is ``DENBI_LOCALCLOUD_MAX_IMAGE_BYTES`` (bytes, default 2 GiB), read on every upload
so tests can lower it; a larger upload gets Glance's 413 (its ``image_size_cap`` answer).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from denbi_jupyter.localcloud.glance_records import data_path, record_image_data
from denbi_jupyter.localcloud.image_data import Hasher
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = [
    "MAX_IMAGE_BYTES_ENV",
    "TOO_LARGE",
    "ReceivedData",
    "declared_size",
    "drain",
    "max_image_bytes",
    "receive_data",
    "store_data",
]

#: Environment variable holding the upload size limit in bytes.
MAX_IMAGE_BYTES_ENV = "DENBI_LOCALCLOUD_MAX_IMAGE_BYTES"
_DEFAULT_MAX = 2 * 1024**3
#: Glance's 413 for data over ``image_size_cap`` (``ImageSizeLimitExceeded``).
TOO_LARGE = "The incoming image is too large: The provided image is too large."


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


def declared_size(request: Request) -> int | None:
    """The size the client announces: ``x-openstack-image-size``, else ``Content-Length``.

    Raises:
        ApiError: 400 when ``x-openstack-image-size`` is not a number (as Glance 33).
    """
    announced = request.headers.get("x-openstack-image-size")
    if announced is not None:
        if not announced.strip().isdigit():
            raise ApiError(400, "Invalid or missing image size in request headers.")
        return int(announced)
    length = request.headers.get("Content-Length", "")
    if not length.isdigit() or int(length) == 0:
        return None
    return int(length)


async def drain(request: Request) -> None:
    """Read and drop a body not yet read, so a refusal reaches the client before it closes.

    A client still sending a large body to a server that has answered and closed gets a
    connection reset instead of the answer; real Glance behind uwsgi reads on, too.
    """
    try:
        async for _ in request.stream():
            pass
    except RuntimeError:  # already read to its end
        return


async def receive_data(request: Request, site: Site) -> ReceivedData:
    """Stream the request body into ``site``'s data folder.

    Raises:
        ApiError: 413 (after the rest of the body is drained) when the body is larger than
            :func:`max_image_bytes`.
    """
    limit = max_image_bytes()
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        await drain(request)
        raise ApiError(413, TOO_LARGE)
    path = site.store.data_dir / f"upload-{uuid.uuid4().hex}.part"
    hasher = Hasher()
    try:
        with path.open("wb") as handle:
            async for chunk in request.stream():
                if hasher.size + len(chunk) > limit:
                    handle.close()
                    path.unlink(missing_ok=True)
                    await drain(request)
                    raise ApiError(413, TOO_LARGE)
                hasher.update(chunk)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    digest = hasher.digest()
    return ReceivedData(path=path, size=digest.size, md5=digest.md5, sha512=digest.sha512)


def store_data(conn: sqlite3.Connection, site: Site, image_id: str, received: ReceivedData) -> None:
    """Make ``received`` the data of ``image_id`` and the image ``active``."""
    os.replace(received.path, data_path(site, image_id))
    record_image_data(conn, image_id, size=received.size, md5=received.md5, sha512=received.sha512)
