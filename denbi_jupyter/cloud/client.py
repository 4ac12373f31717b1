"""``OpenStackCloud``: the :class:`~denbi_jupyter.cloud.protocol.CloudClient` of a real site.

Listings let Glance filter (``status``, ``tag``, ``owner``, ``id``, ``image_type`` and any other
property, sent verbatim) and page (``limit``/``marker``); only what Glance cannot do (substring
name search, OR over tags) runs here.

Snapshots are images with ``image_type=snapshot``. Volume-backed snapshot images lack that
property and carry ``block_device_mapping`` plus ``bdm_v2=True`` instead; Glance cannot filter
on a property's presence, so the index loads them with a second, exact ``bdm_v2=True`` filter,
while the paged listing (one request per page) shows ``image_type=snapshot`` images only.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from denbi_jupyter.cloud._image_calls import ImageDataCalls
from denbi_jupyter.cloud._keypairs import KeyPairCalls
from denbi_jupyter.cloud._server_actions import ServerActions
from denbi_jupyter.cloud._server_metadata import ServerMetadata
from denbi_jupyter.cloud._snapshot_listing import GLANCE_PAGE_MAX, SnapshotListing, image_pages
from denbi_jupyter.cloud.index import MemorySnapshotIndex
from denbi_jupyter.cloud.paging import MarkerCache
from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.rules.lineage import desktop_source
from denbi_jupyter.cloud.rules.listing import is_uuid
from denbi_jupyter.cloud.rules.names import NameKind, check_name
from denbi_jupyter.cloud.rules.offering import offering
from denbi_jupyter.cloud.sites import get_site
from denbi_jupyter.cloud.types import (
    Flavor,
    Image,
    ImageQuery,
    Limits,
    Server,
    SiteSettings,
)
from denbi_jupyter.errors import (
    AuthenticationError,
    CloudUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    UserInputError,
)

if TYPE_CHECKING:
    from denbi_jupyter.cloud._gateway import CloudGateway, ImageDataGateway
    from denbi_jupyter.cloud._openstack import ImagePage
    from denbi_jupyter.cloud.protocol import CloudClient

__all__ = ["GLANCE_PAGE_MAX", "OpenStackCloud", "open_site", "sites_offering"]

_log = logging.getLogger(__name__)

#: Ids per ``id=in:…`` listing (keeps the URL under 2 KB).
IDS_PER_LISTING = 40

_ALL_IMAGES = ImageQuery()
#: The catalog's listings besides the project's private images (see ``offered_images``).
_OFFERED_VISIBILITIES = ("public", "shared")
_RESERVED_FILTERS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir", "page_size"})
_REGEX_CHARS = re.compile(r"[\\^$.|?*+()\[\]{}]")


class OpenStackCloud(SnapshotListing, KeyPairCalls, ServerActions, ServerMetadata, ImageDataCalls):
    """One site as one project, through a :class:`~denbi_jupyter.cloud._openstack.Gateway`.

    Thread-safe: panels call it from background threads while the snapshot index loads.

    Args:
        site: The site's settings.
        gateway: Its gateway (built by :func:`open_site`).
        index_timeout: Seconds a name search waits for the snapshot index to load.
        image_data: Its image-data calls (downloads, uploads, quota), if it has them.
    """

    def __init__(
        self,
        site: SiteSettings,
        gateway: CloudGateway,
        *,
        index_timeout: float = 120.0,
        image_data: ImageDataGateway | None = None,
    ) -> None:
        self._site = site
        self._gateway = gateway
        self._image_data = image_data
        self._index_timeout = index_timeout
        self._scope_lock = threading.Lock()
        self._names_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._token_project: tuple[str, str] | None = None
        self._project_names: Mapping[str, str] | None = None
        self._markers = MarkerCache()
        self._index: MemorySnapshotIndex | None = None

    # --- identity -----------------------------------------------------------------------
    @property
    def site(self) -> SiteSettings:
        """The site this client speaks to."""
        return self._site

    @property
    def gateway(self) -> CloudGateway:
        """The low-level gateway (instrumentation and diagnostics)."""
        return self._gateway

    def _scope(self) -> tuple[str, str]:
        with self._scope_lock:
            if self._token_project is None:
                self._token_project = self._gateway.token_project()
            return self._token_project

    @property
    def project_id(self) -> str:
        """The id of the project the token is scoped to."""
        return self._scope()[0]

    @property
    def project_name(self) -> str:
        """The name of that project."""
        return self._scope()[1]

    def project_names(self) -> Mapping[str, str]:
        """Project id → name for the user's projects: one Keystone call per client, cached."""
        with self._names_lock:
            if self._project_names is None:
                self._project_names = MappingProxyType(self._gateway.auth_projects())
            return self._project_names

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._gateway.close()

    # --- images -------------------------------------------------------------------------
    def _image_pages(
        self, params: Mapping[str, Any], *, classified: bool = True
    ) -> Iterator[ImagePage]:
        return image_pages(self._gateway, params, classified=classified)

    def _all_images(self, params: Mapping[str, Any]) -> list[Image]:
        return [image for page in self._image_pages(params) for image in page.images]

    def list_images(self, query: ImageQuery | None = None) -> list[Image]:
        """Active images matching ``query``, classified, newest first.

        Glance filters ``status=active`` (and ``tag=base_image`` for ``base_only``); the rest
        (text, desktop kind, research environment, OS, snapshots) needs names and OR-ed tags
        that Glance cannot match, so it is filtered here.
        """
        query = query or _ALL_IMAGES
        params: dict[str, Any] = {"status": "active", "sort": "created_at:desc"}
        if query.base_only:
            params["tag"] = "base_image"
        needle = query.text.strip().lower()
        family = (query.os_family or "").strip().lower()
        found: list[Image] = []
        for image in self._all_images(params):
            kind = image.kind
            if image.is_snapshot and not query.include_snapshots:
                continue
            if query.desktop is not None and kind.desktop is not query.desktop:
                continue
            if query.research_only and kind.research_environment is None:
                continue
            if family and (kind.os_family or "") != family:
                continue
            if (
                needle
                and needle not in f"{image.name}\0{kind.label}\0{' '.join(image.tags)}".lower()
            ):
                continue
            found.append(image)
        return found

    def offered_images(self) -> list[Image]:
        """Active public and shared images that are not snapshots, classified, newest first.

        One Glance listing per visibility: their size does not depend on the project's own
        snapshots (Nova makes those private). The catalog adds :meth:`private_images`.
        """
        found: dict[str, Image] = {}
        for visibility in _OFFERED_VISIBILITIES:
            params = {"status": "active", "visibility": visibility, "sort": "created_at:desc"}
            found.update((i.id, i) for i in self._all_images(params) if not i.is_snapshot)
        return sorted(found.values(), key=lambda image: image.created_at, reverse=True)

    def get_image(self, image_id: str) -> Image | None:
        """The image by id, or None when it does not exist (any more)."""
        return self._gateway.get_image(image_id)

    def desktop_image(self, image_id: str) -> Image | None:
        """The image that tells the desktop of a VM booted from ``image_id``: for a snapshot,
        the image it was made from (:func:`~denbi_jupyter.cloud.rules.lineage.desktop_source`)."""
        image = self._gateway.get_image(image_id)
        return None if image is None else desktop_source(image, self._gateway.get_image)

    def find_image(self, name_or_id: str) -> Image:
        """The image with this id or exact name; NotFoundError, or UserInputError if ambiguous."""

        def named(wanted: str) -> list[Image]:
            matches = self._all_images({"name": wanted})
            return [image for image in matches if image.status == "active"] or matches

        return _find_one(
            name_or_id,
            "an image",
            by_id=self._gateway.get_image,
            by_name=named,
            missing=lambda wanted: (
                f"{self._site.name} has no image named or with id {wanted!r}: "
                "check the spelling in the image list."
            ),
            many=lambda wanted, ids: (
                f"{len(ids)} images on {self._site.name} are named "
                f"{wanted!r} ({', '.join(ids[:5])}): use the id instead."
            ),
        )

    def find_images_by_property(self, key: str, value: str) -> list[Image]:
        """Images with property ``key`` = ``value``, filtered by Glance (server side)."""
        if not key or key in _RESERVED_FILTERS:
            raise UserInputError(
                f"{key!r} is not an image property Glance can filter on: use a property name "
                "such as os_distro or image_type."
            )
        return self._all_images({key: value})

    def set_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """Replace the image's tags (one PATCH; duplicates and blanks dropped)."""
        clean = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
        too_long = [tag for tag in clean if len(tag) > 255]
        if too_long:
            raise UserInputError(f"Tag {too_long[0][:40]!r}… is longer than 255 characters.")
        self._gateway.replace_image_tags(image_id, clean)

    def get_images(self, image_ids: Sequence[str]) -> dict[str, Image]:
        """The images of ``image_ids`` that exist and are visible, by id.

        One Glance listing per :data:`IDS_PER_LISTING` ids (``id=in:…``, ``visibility=all``),
        instead of one ``GET`` each; ids that are not UUIDs are left out (Glance has none).
        """
        canonical = {i: str(uuid.UUID(i)) for i in image_ids if is_uuid(i)}
        ids = list(dict.fromkeys(canonical.values()))
        found: dict[str, Image] = {}
        for start in range(0, len(ids), IDS_PER_LISTING):
            chunk = ids[start : start + IDS_PER_LISTING]
            params = {"id": "in:" + ",".join(chunk), "visibility": "all"}
            found.update((image.id, image) for image in self._all_images(params))
        return {given: found[key] for given, key in canonical.items() if key in found}

    def delete_image(self, image_id: str, *, checked: Image | None = None) -> None:
        """Delete an image; refuses protected images and other projects' images up front.

        Args:
            image_id: The image.
            checked: The image as just read by the caller (a bulk delete's listing): saves
                reading it again. The rule is :func:`~denbi_jupyter.cloud.rules.deletion_refusal`.
        """
        image = checked if checked is not None else self._gateway.get_image(image_id)
        if image is None:
            raise NotFoundError(
                f"Image {image_id} does not exist on {self._site.name} (deleted already?): "
                "refresh the list."
            )
        refusal = deletion_refusal(image, self.project_id, snapshots_only=False)
        if refusal is Refusal.PROTECTED:
            raise PermissionDeniedError(
                f"Image {image.name!r} ({image.id}) is protected and cannot be deleted. Remove "
                "its protection first if you really mean to delete it."
            )
        if refusal is Refusal.NOT_OWNED:
            owner = self.project_names().get(image.owner or "", image.owner or "no project")
            raise PermissionDeniedError(
                f"Image {image.name!r} ({image.id}) belongs to project {owner!r}, not to "
                f"{self.project_name!r}: only its own project can delete it."
            )
        self._gateway.delete_image(image_id)
        self._markers.clear()
        if self._index is not None:
            self._index.forget([image_id])

    def create_snapshot(self, server_id: str, *, name: str, metadata: Mapping[str, str]) -> str:
        """Nova createImage (microversion 2.45); returns the new image id.

        ConflictError (HTTP 409) while the server is busy, e.g. with another snapshot.
        """
        clean = check_name(NameKind.SNAPSHOT, name)
        values = {str(key): str(value) for key, value in metadata.items()}
        image_id = self._gateway.create_image(server_id, clean, values)
        self._markers.clear()
        return image_id

    # --- compute ------------------------------------------------------------------------
    def list_flavors(self) -> list[Flavor]:
        """Flavors the project may use, smallest first."""
        flavors = self._gateway.list_flavors()
        return sorted(flavors, key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb, f.name))

    def find_flavor(self, name_or_id: str) -> Flavor:
        """A flavor by id or exact name (one request)."""
        wanted = name_or_id.strip()
        flavors = self.list_flavors()
        for flavor in flavors:
            if flavor.id == wanted:
                return flavor
        named = [flavor for flavor in flavors if flavor.name == wanted]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise UserInputError(f"Several flavors are named {wanted!r}: use the flavor id.")
        known = ", ".join(flavor.name for flavor in flavors[:12])
        raise NotFoundError(
            f"{self._site.name} has no flavor {wanted!r} for your project (available: {known})."
        )

    def list_servers(self) -> list[Server]:
        """The project's servers, newest first."""
        servers = self._gateway.list_servers()
        return sorted(servers, key=lambda s: (s.created_at is not None, s.created_at), reverse=True)

    def find_server(self, name_or_id: str) -> Server:
        """A server by id or exact name; NotFoundError, or UserInputError if ambiguous."""

        def named(wanted: str) -> list[Server]:
            # Nova's name filter is a regex: send plain names only, compare exactly here.
            pattern = None if _REGEX_CHARS.search(wanted) else wanted
            return [s for s in self._gateway.list_servers(name=pattern) if s.name == wanted]

        return _find_one(
            name_or_id,
            "a server",
            by_id=self._gateway.get_server,
            by_name=named,
            missing=lambda wanted: (
                f"{self._site.name} has no server named or with id "
                f"{wanted!r} in project {self.project_name!r}: check the server list."
            ),
            many=lambda wanted, ids: (
                f"{len(ids)} servers are named {wanted!r} "
                f"({', '.join(ids[:5])}): use the id instead."
            ),
        )

    def get_server(self, server_id: str) -> Server | None:
        """A server by id, or None when it does not exist (any more)."""
        return self._gateway.get_server(server_id)

    def create_server(
        self,
        *,
        name: str,
        image_id: str,
        flavor_id: str,
        key_name: str | None,
        metadata: Mapping[str, str] | None = None,
    ) -> Server:
        """Ask Nova to boot a server (``networks: auto``); returns at once, status BUILD.

        The returned server is built from the request (one call, so a retried task never
        boots twice because a follow-up read failed); poll :meth:`get_server` for progress.
        """
        clean = check_name(NameKind.SERVER, name)
        body: dict[str, Any] = {
            "name": clean,
            "imageRef": image_id,
            "flavorRef": flavor_id,
            "networks": "auto",
        }
        if key_name:
            body["key_name"] = key_name
        meta = {str(k): str(v) for k, v in (metadata or {}).items()}
        if meta:
            body["metadata"] = meta
        server_id = self._gateway.create_server(body, action=f"boot server {clean!r}")
        return Server(
            id=server_id,
            name=clean,
            status="BUILD",
            task_state="scheduling",
            project_id=self.project_id,
            image_id=image_id,
            flavor_id=flavor_id,
            flavor_name=None,
            key_name=key_name,
            private_ipv4=None,
            created_at=None,
            metadata=meta,
        )

    # stop_server, start_server, reboot_server and delete_server: see ServerActions.

    def limits(self) -> Limits:
        """The project's compute limits and usage."""
        return self._gateway.limits()


def open_site(name: str | None = None, *, config_file: Path | None = None) -> CloudClient:
    """A client for a ``clouds.yaml`` entry (None: ``OS_CLOUD`` or the only/first entry).

    No request is made until the first call that needs one.
    """
    from denbi_jupyter.cloud._openstack import Gateway

    site = get_site(name, config_file=config_file)
    gateway = Gateway(site.name, config_file=config_file)
    return OpenStackCloud(site, gateway, image_data=gateway.image_data)


def sites_offering(
    image_name: str, clients: Iterable[CloudClient], *, skip_unavailable: bool = True
) -> list[str]:
    """Names of the sites that offer an active image named exactly ``image_name``.

    Each site is asked once (Glance ``name`` filter), all at the same time; the verdict is
    :func:`~denbi_jupyter.cloud.rules.offering.offering`. A site that cannot be reached or
    refuses the credentials is left out (and logged) unless ``skip_unavailable`` is False.
    """
    client_list = list(clients)

    def ask(client: CloudClient) -> list[Image] | None:
        try:
            return client.find_images_by_property("name", image_name)
        except (CloudUnavailableError, AuthenticationError) as error:
            if not skip_unavailable:
                raise
            _log.warning("site %s left out of the multi-site view: %s", client.site.name, error)
            return None

    if not client_list:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(client_list))) as pool:
        answers = dict(
            zip((c.site.name for c in client_list), pool.map(ask, client_list), strict=True)
        )
    return sorted(site for site, ok in offering(answers, image_name).items() if ok)


_Found = TypeVar("_Found", Image, Server)


def _find_one(
    name_or_id: str,
    kind: str,
    *,
    by_id: Callable[[str], _Found | None],
    by_name: Callable[[str], list[_Found]],
    missing: Callable[[str], str],
    many: Callable[[str, list[str]], str],
) -> _Found:
    """The one resource with this id (tried first for a UUID) or exact name.

    ``missing(wanted)`` and ``many(wanted, ids)`` word the errors.
    """
    wanted = name_or_id.strip()
    if not wanted:
        raise UserInputError(f"No {kind.split()[-1]} given: type {kind} name or id.")
    if is_uuid(wanted):
        found = by_id(wanted)
        if found is not None:
            return found
    candidates = by_name(wanted)
    if not candidates:
        raise NotFoundError(missing(wanted))
    if len(candidates) > 1:
        raise UserInputError(many(wanted, [item.id for item in candidates]))
    first: _Found = candidates[0]
    return first
