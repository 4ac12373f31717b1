"""``CloudGateway``: the I/O edge :class:`~denbi_jupyter.cloud.client.OpenStackCloud` talks to.

:class:`~denbi_jupyter.cloud._openstack.Gateway` implements it over openstacksdk and HTTP; unit
tests swap in an in-memory fake (``tests/support/fake_gateway.py``), the way httpx tests swap
the transport, so the client's rules run unchanged over both. Every method returns domain types
(``ImagePage`` included) and raises only :mod:`denbi_jupyter.errors` types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from denbi_jupyter.cloud._image_data import ImageStream
    from denbi_jupyter.cloud._openstack import ImagePage
    from denbi_jupyter.cloud.rules.copy import ImageRecord, ImageUsage
    from denbi_jupyter.cloud.types import Flavor, Image, KeyPair, Limits, Server

__all__ = ["CloudGateway", "ImageDataGateway"]


class CloudGateway(Protocol):
    """One site's Keystone, Glance and Nova calls, one request (or one paged listing) each."""

    # --- identity ---------------------------------------------------------------------------
    def token_project(self) -> tuple[str, str]:
        """(id, name) of the project the token is scoped to."""
        ...

    def auth_projects(self) -> dict[str, str]:
        """Project id → name for every project the user may scope to."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    # --- Glance -----------------------------------------------------------------------------
    def image_page(self, params: Mapping[str, Any], *, classified: bool = True) -> ImagePage:
        """One ``GET /v2/images`` page with exactly these query parameters."""
        ...

    def get_image(self, image_id: str) -> Image | None:
        """The image by id, or None when Glance answers 404."""
        ...

    def delete_image(self, image_id: str) -> None:
        """``DELETE /v2/images/{id}``."""
        ...

    def replace_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """Replace the image's whole tag list."""
        ...

    # --- Nova -------------------------------------------------------------------------------
    def list_servers(self, *, name: str | None = None) -> list[Server]:
        """The project's servers (``name`` is Nova's regex filter)."""
        ...

    def get_server(self, server_id: str) -> Server | None:
        """The server by id, or None on 404."""
        ...

    def create_server(self, body: Mapping[str, Any], *, action: str) -> str:
        """``POST /servers`` with this ``server`` body; the new server's id."""
        ...

    def delete_server(self, server_id: str) -> None:
        """``DELETE /servers/{id}``."""
        ...

    def server_action(self, server_id: str, action: str, argument: object = None) -> None:
        """``POST /servers/{id}/action`` with ``{action: argument}`` (os-stop, os-start, reboot)."""
        ...

    def set_server_metadata(self, server_id: str, items: Mapping[str, str]) -> dict[str, str]:
        """``POST /servers/{id}/metadata`` (merging); the server's metadata afterwards."""
        ...

    def delete_server_metadata(self, server_id: str, key: str) -> None:
        """``DELETE /servers/{id}/metadata/{key}`` (NotFoundError when there is no such item)."""
        ...

    def create_image(self, server_id: str, name: str, metadata: Mapping[str, str]) -> str:
        """Nova ``createImage``; the new image's id."""
        ...

    def list_flavors(self) -> list[Flavor]:
        """``GET /flavors/detail``."""
        ...

    def list_keypairs(self) -> list[KeyPair]:
        """``GET /os-keypairs``."""
        ...

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """``POST /os-keypairs`` with a public key."""
        ...

    def delete_keypair(self, name: str) -> None:
        """``DELETE /os-keypairs/{name}`` (NotFoundError when there is none)."""
        ...

    def limits(self) -> Limits:
        """``GET /limits`` (absolute limits and usage)."""
        ...


class ImageDataGateway(Protocol):
    """One site's Glance image-data calls (:class:`~denbi_jupyter.cloud._image_data.ImageData`).

    Separate from :class:`CloudGateway` so that a gateway without image data (the unit tests'
    in-memory fake) need not pretend to have it.
    """

    def image_record(self, image_id: str) -> ImageRecord | None:
        """``GET /v2/images/{id}`` with formats and hashes, or None on 404."""
        ...

    def image_records(self, params: Mapping[str, str]) -> list[ImageRecord]:
        """Every image of a filtered ``GET /v2/images`` listing (all pages)."""
        ...

    def create_image_record(self, body: Mapping[str, Any]) -> ImageRecord:
        """``POST /v2/images``: a queued record without data."""
        ...

    def upload_image_data(
        self, image_id: str, body: Iterable[bytes] | BinaryIO, *, size: int | None = None
    ) -> None:
        """``PUT /v2/images/{id}/file`` (chunked from an iterator, or a file of ``size``)."""
        ...

    def open_image_data(self, image_id: str) -> AbstractContextManager[ImageStream]:
        """``GET /v2/images/{id}/file`` as a stream of chunks."""
        ...

    def image_usage(self) -> ImageUsage:
        """``GET /v2/info/usage``; all None when no limit is known."""
        ...
