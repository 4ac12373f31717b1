"""The image-data half of :class:`~denbi_jupyter.cloud.client.OpenStackCloud`: what a copy needs.

Split from ``client.py`` (one subject per module). The calls go to an
:class:`~denbi_jupyter.cloud._gateway.ImageDataGateway` given to the client (``open_site``
gives every real site one); a client without one (a unit test's fake) says so with a
:class:`~denbi_jupyter.errors.CloudUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO

from denbi_jupyter.cloud.rules.copy import COPIED_FROM_KEY, ImageRecord, ImageUsage
from denbi_jupyter.cloud.rules.names import NameKind, check_name
from denbi_jupyter.errors import CloudUnavailableError, UserInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from denbi_jupyter.cloud._gateway import ImageDataGateway
    from denbi_jupyter.cloud._image_data import ImageStream
    from denbi_jupyter.cloud.types import SiteSettings

__all__ = ["ImageDataCalls"]


class ImageDataCalls:
    """Image records with hashes, the image quota, and streaming the data in and out."""

    _site: SiteSettings
    _image_data: ImageDataGateway | None

    if TYPE_CHECKING:

        @property
        def project_id(self) -> str:
            """The project of the token (OpenStackCloud's)."""
            ...

    def _data_gateway(self) -> ImageDataGateway:
        if self._image_data is None:
            raise CloudUnavailableError(
                f"The client of {self._site.name} cannot move image data (it has no image-data "
                "gateway): open the site with open_site().",
                site=self._site.name,
            )
        return self._image_data

    def image_record(self, image_id: str) -> ImageRecord | None:
        """The image with its formats, size and hashes, or None when it does not exist."""
        return self._data_gateway().image_record(image_id)

    def find_copies(self, mark: str) -> list[ImageRecord]:
        """The project's images whose ``denbi_copied_from`` is ``mark`` (Glance filters)."""
        if not mark.strip():
            raise UserInputError("No copy mark given: name the source as '<site>:<image id>'.")
        return self._data_gateway().image_records({COPIED_FROM_KEY: mark, "owner": self.project_id})

    def image_usage(self) -> ImageUsage:
        """The project's image count and size limits and usage (None parts: unknown)."""
        return self._data_gateway().image_usage()

    def create_image_record(self, body: Mapping[str, Any]) -> ImageRecord:
        """A new queued image record (no data yet); the name is checked first."""
        name = check_name(NameKind.SNAPSHOT, str(body.get("name") or ""))
        return self._data_gateway().create_image_record({**body, "name": name})

    def upload_image_data(
        self, image_id: str, body: Iterable[bytes] | BinaryIO, *, size: int | None = None
    ) -> None:
        """Send an image's data: chunked from an iterator, or a file of ``size`` bytes."""
        self._data_gateway().upload_image_data(image_id, body, size=size)

    def open_image_data(self, image_id: str) -> AbstractContextManager[ImageStream]:
        """The image's data as a stream of chunks (``with client.open_image_data(id) as s``)."""
        return self._data_gateway().open_image_data(image_id)
