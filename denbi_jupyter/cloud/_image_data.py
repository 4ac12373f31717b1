"""The gateway's image-data calls: records with hashes, usage, create, upload and download.

Part of the gateway (:class:`~denbi_jupyter.cloud._openstack.Gateway` builds it over its own
connection, :meth:`~denbi_jupyter.cloud._openstack.Gateway.raw_request`); it imports no SDK
itself. Image data is streamed, never held whole: a download is an iterator of chunks
(:data:`CHUNK_BYTES` each) read from the response as it arrives; an upload sends an iterator
(HTTP chunked transfer) or a file with its ``Content-Length``. Neither is retried by
keystoneauth: a stream already consumed cannot be sent again.

Errors while the data flows (a connection cut mid-stream) are mapped like every other error
(:func:`~denbi_jupyter.cloud._openstack_errors.translated`).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from denbi_jupyter.cloud._openstack_errors import translated
from denbi_jupyter.cloud.rules.copy import ImageRecord, ImageUsage, usage_from_glance

if TYPE_CHECKING:
    import requests

    from denbi_jupyter.cloud._openstack import Gateway

__all__ = ["CHUNK_BYTES", "ImageData", "ImageStream"]

#: Bytes per chunk read from a download (and so per chunk sent to an upload).
CHUNK_BYTES = 1024 * 1024
#: Glance's page maximum, for listings by property.
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ImageStream:
    """An open image download: its chunks, and what the response headers said."""

    chunks: Iterator[bytes]
    length: int | None
    md5: str | None


def _file_path(image_id: str) -> str:
    return f"/images/{urllib.parse.quote(image_id, safe='')}/file"


class ImageData:
    """One site's Glance image-data calls, over ``gateway``'s connection."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @property
    def site(self) -> str:
        """The ``clouds.yaml`` entry of the site."""
        return self._gateway.site

    def image_record(self, image_id: str) -> ImageRecord | None:
        """``GET /v2/images/{id}`` with formats and hashes, or None on 404."""
        response = self._gateway.raw_request(
            "image",
            "GET",
            f"/images/{urllib.parse.quote(image_id, safe='')}",
            action=f"show image {image_id}",
            missing_ok=True,
        )
        return None if response is None else ImageRecord.from_glance(response.json())

    def image_records(self, params: Mapping[str, str]) -> list[ImageRecord]:
        """Every image of a ``GET /v2/images`` listing with these filters (sent verbatim)."""
        query: dict[str, Any] = {**params, "limit": _PAGE}
        found: list[ImageRecord] = []
        while True:
            response = self._gateway.raw_request(
                "image", "GET", "/images", params=query, action="list images"
            )
            data = response.json() if response is not None else {}
            page = data.get("images") or []
            found.extend(ImageRecord.from_glance(record) for record in page)
            marker = _next_marker(data.get("next"))
            if not page or marker is None:
                return found
            query["marker"] = marker

    def create_image_record(self, body: Mapping[str, Any]) -> ImageRecord:
        """``POST /v2/images``: a queued image record without data."""
        response = self._gateway.raw_request(
            "image",
            "POST",
            "/images",
            json_body=dict(body),
            action=f"create image {body.get('name')!r}",
        )
        if response is None:  # pragma: no cover - only a 404 gives None, and POST has none
            raise AssertionError("Glance answered the image create with 404")
        return ImageRecord.from_glance(response.json())

    def upload_image_data(
        self, image_id: str, body: Iterable[bytes] | BinaryIO, *, size: int | None = None
    ) -> None:
        """``PUT /v2/images/{id}/file``: chunked from an iterator, or a file of ``size`` bytes."""
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        self._gateway.raw_request(
            "image",
            "PUT",
            _file_path(image_id),
            data=body,
            headers=headers,
            action=f"upload the data of image {image_id}",
            retries=False,
        )

    @contextlib.contextmanager
    def open_image_data(self, image_id: str) -> Iterator[ImageStream]:
        """``GET /v2/images/{id}/file`` as a stream of chunks; the response closes on exit."""
        action = f"download the data of image {image_id}"
        response = self._gateway.raw_request(
            "image", "GET", _file_path(image_id), action=action, stream=True, retries=False
        )
        if response is None:  # pragma: no cover - missing_ok is off
            raise AssertionError("Glance answered the download with 404")
        try:
            length = response.headers.get("Content-Length", "")
            yield ImageStream(
                chunks=self._chunks(response, action),
                length=int(length) if length.isdigit() else None,
                md5=response.headers.get("Content-MD5") or None,
            )
        finally:
            response.close()

    def _chunks(self, response: requests.Response, action: str) -> Iterator[bytes]:
        with translated(self.site, action):
            for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                if chunk:
                    yield chunk

    def image_usage(self) -> ImageUsage:
        """``GET /v2/info/usage`` (unified limits); "no limit known" when Glance has none."""
        response = self._gateway.raw_request(
            "image", "GET", "/info/usage", action="read the image quota", missing_ok=True
        )
        if response is None or not response.content:
            return ImageUsage()
        try:
            body = response.json()
        except ValueError:
            return ImageUsage()
        return usage_from_glance(body)


def _next_marker(next_link: object) -> str | None:
    if not isinstance(next_link, str) or not next_link:
        return None
    markers = urllib.parse.parse_qs(urllib.parse.urlsplit(next_link).query).get("marker")
    return markers[-1] if markers else None
