"""The interface everything above the cloud layer uses: :class:`CloudClient`.

One client speaks to one site (a ``clouds.yaml`` entry) as one project. Calls are synchronous
and may take a network round trip: panels call them from background threads, flows from
tasks. Every method raises only :mod:`denbi_jupyter.errors` types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from denbi_jupyter.cloud.types import (
    Flavor,
    GeneratedKeyPair,
    Image,
    ImageQuery,
    KeyPair,
    Limits,
    Page,
    Server,
    SiteSettings,
    Snapshot,
    SnapshotQuery,
)

if TYPE_CHECKING:
    from denbi_jupyter.cloud._image_data import ImageStream
    from denbi_jupyter.cloud.rules.copy import ImageRecord, ImageUsage

__all__ = ["CloudClient", "ProgressCallback", "SnapshotIndex"]

#: Called with (items loaded so far, total if known) while an index loads.
ProgressCallback = Callable[[int, int | None], None]


class SnapshotIndex(Protocol):
    """All snapshots of a site held in memory, so a filter keystroke costs no request."""

    @property
    def loaded(self) -> bool:
        """True once a full load has finished."""
        ...

    def load(self, *, progress: ProgressCallback | None = None) -> None:
        """Fetch every visible snapshot (1000 per request) and replace the index; blocking."""
        ...

    def load_in_background(self) -> None:
        """Start :meth:`load` in a daemon thread unless one is running."""
        ...

    def wait_loaded(self, timeout: float) -> bool:
        """Block until loaded or ``timeout`` seconds pass; return :attr:`loaded`."""
        ...

    def query(self, query: SnapshotQuery) -> Page[Snapshot]:
        """Filter, sort and page in memory (no request)."""
        ...

    def forget(self, image_ids: Sequence[str]) -> None:
        """Drop deleted snapshots without reloading."""
        ...

    def add(self, snapshot: Snapshot) -> None:
        """Insert or replace one snapshot (a new one, or a changed status)."""
        ...


class CloudClient(Protocol):
    """What denbi-jupyter needs from one site."""

    @property
    def site(self) -> SiteSettings:
        """The site this client speaks to."""
        ...

    @property
    def project_id(self) -> str:
        """The id of the project the client's token is scoped to."""
        ...

    @property
    def project_name(self) -> str:
        """The name of that project."""
        ...

    # --- images -------------------------------------------------------------------------
    def list_images(self, query: ImageQuery | None = None) -> list[Image]:
        """Active catalog images matching ``query`` (all when None), classified, newest first."""
        ...

    def offered_images(self) -> list[Image]:
        """Active public and shared images that are not snapshots, classified, newest first.

        Requests do not grow with the number of snapshots; the project's private uploads come
        from :meth:`private_images`.
        """
        ...

    def private_images(self, *, reload: bool = False) -> list[Image]:
        """The project's own active private non-snapshot images (from the snapshot index).

        ``reload`` walks them again (with the snapshot index) instead of the last walk's.
        """
        ...

    def find_image(self, name_or_id: str) -> Image:
        """The image with this id or exact name; NotFoundError, or UserInputError if ambiguous."""
        ...

    def get_image(self, image_id: str) -> Image | None:
        """The image by id, or None when it does not exist (any more)."""
        ...

    def desktop_image(self, image_id: str) -> Image | None:
        """The image that tells a VM's desktop: for a snapshot, the image it was made from."""
        ...

    def find_images_by_property(self, key: str, value: str) -> list[Image]:
        """Images with property ``key`` = ``value``, filtered by Glance (server side)."""
        ...

    def set_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """Replace the image's tags."""
        ...

    def get_images(self, image_ids: Sequence[str]) -> dict[str, Image]:
        """The existing, visible images of ``image_ids`` by id, in one listing per 40 ids."""
        ...

    def delete_image(self, image_id: str, *, checked: Image | None = None) -> None:
        """Delete an image; PermissionDeniedError when protected or not the project's.

        ``checked`` is the image as the caller just read it, which saves reading it again.
        """
        ...

    # --- image data (copies between sites) -----------------------------------------------
    def image_record(self, image_id: str) -> ImageRecord | None:
        """The image with its formats, size and hashes, or None when it does not exist."""
        ...

    def find_copies(self, mark: str) -> list[ImageRecord]:
        """The project's images whose ``denbi_copied_from`` is ``mark`` (Glance filters)."""
        ...

    def image_usage(self) -> ImageUsage:
        """The project's image count and size limits and usage (None parts: unknown)."""
        ...

    def create_image_record(self, body: Mapping[str, Any]) -> ImageRecord:
        """A new queued image record (``POST /v2/images`` with ``body``), no data yet."""
        ...

    def upload_image_data(
        self, image_id: str, body: Iterable[bytes] | BinaryIO, *, size: int | None = None
    ) -> None:
        """Send an image's data: chunked from an iterator, or a file of ``size`` bytes."""
        ...

    def open_image_data(self, image_id: str) -> AbstractContextManager[ImageStream]:
        """The image's data as a stream of chunks, never read whole."""
        ...

    # --- snapshots ----------------------------------------------------------------------
    def list_snapshots(self, query: SnapshotQuery) -> Page[Snapshot]:
        """One page of snapshots: one Glance request (plus the cached project names)."""
        ...

    def get_snapshot(self, image_id: str) -> Snapshot | None:
        """One snapshot by id, or None when it does not exist."""
        ...

    def snapshot_index(self) -> SnapshotIndex:
        """This site's snapshot index (one per client; not loaded until asked)."""
        ...

    def create_snapshot(self, server_id: str, *, name: str, metadata: Mapping[str, str]) -> str:
        """Ask Nova to snapshot a server; return the new image id (ConflictError on 409)."""
        ...

    def project_names(self) -> Mapping[str, str]:
        """Project id to name for the projects the user can see (fetched once, cached)."""
        ...

    # --- compute ------------------------------------------------------------------------
    def list_flavors(self) -> list[Flavor]:
        """Flavors the project may use, smallest first."""
        ...

    def find_flavor(self, name_or_id: str) -> Flavor:
        """A flavor by id or name."""
        ...

    def list_keypairs(self) -> list[KeyPair]:
        """The user's key pairs."""
        ...

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """Import an OpenSSH public key as a key pair (UserInputError naming what is wrong)."""
        ...

    def import_or_find_keypair(self, name: str, public_key: str) -> tuple[KeyPair, bool]:
        """Import, or find the key pair ``name`` holding this very key: ``(pair, reused)``."""
        ...

    def generate_keypair(
        self, name: str, *, private_key_path: str | os.PathLike[str], overwrite: bool = False
    ) -> GeneratedKeyPair:
        """Make an Ed25519 key pair here (private key 0600 at the path, ``.pub`` beside it).

        Imports the public key; refuses an existing file unless ``overwrite``.
        """
        ...

    def delete_keypair(self, name: str) -> None:
        """Delete a key pair (NotFoundError when there is none of that name)."""
        ...

    def list_servers(self) -> list[Server]:
        """The project's servers, newest first."""
        ...

    def find_server(self, name_or_id: str) -> Server:
        """A server by id or exact name; NotFoundError, or UserInputError if ambiguous."""
        ...

    def get_server(self, server_id: str) -> Server | None:
        """A server by id, or None when it does not exist (any more)."""
        ...

    def create_server(
        self,
        *,
        name: str,
        image_id: str,
        flavor_id: str,
        key_name: str | None,
        metadata: Mapping[str, str] | None = None,
    ) -> Server:
        """Ask Nova to boot a server on the project's network; returns at once (BUILD)."""
        ...

    def delete_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Delete a server; ConflictError while one of its snapshots uploads, or when locked.

        ``checked`` is the server as the caller just read it (saves reading it again). The
        rule of this and the three calls below is
        :func:`~denbi_jupyter.cloud.rules.servers.action_refusal`.
        """
        ...

    def stop_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Ask Nova to stop a server (it goes SHUTOFF); ConflictError when the rule refuses."""
        ...

    def start_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Ask Nova to start a SHUTOFF server (it goes ACTIVE); ConflictError otherwise."""
        ...

    def reboot_server(
        self, server_id: str, *, hard: bool = False, checked: Server | None = None
    ) -> None:
        """Ask Nova to reboot an ACTIVE server (soft, or ``hard``); ConflictError otherwise."""
        ...

    def set_server_metadata(
        self, server_id: str, items: Mapping[str, str], *, checked: Server | None = None
    ) -> Server:
        """Set metadata items (merging: other items stay); the server with its new metadata.

        UserInputError for an item Nova would refuse (keys and values of at most 255
        characters), ConflictError while the server is locked, QuotaExceededError over the
        ``metadata_items`` quota.
        """
        ...

    def delete_server_metadata(
        self, server_id: str, keys: Iterable[str], *, checked: Server | None = None
    ) -> None:
        """Delete metadata items by key (a key the server does not have is no error)."""
        ...

    def limits(self) -> Limits:
        """The project's compute limits and usage."""
        ...
