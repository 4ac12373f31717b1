"""The gateway: one site's OpenStack APIs as domain objects.

Only this module and its two private siblings import ``openstack`` and ``keystoneauth1``:
:mod:`~denbi_jupyter.cloud._openstack_config` reads ``clouds.yaml`` through openstacksdk's own
loader, :mod:`~denbi_jupyter.cloud._openstack_errors` turns every SDK, keystoneauth and requests
exception into a :mod:`denbi_jupyter.errors` type (:func:`map_error`, one table). This module
keeps one lazy connection per site, speaks the raw REST API through the SDK's service proxies
(openstacksdk silently drops query parameters it does not know, such as ``image_type``, and
spends ~1.3 ms building an object per image), and returns domain objects from
:mod:`denbi_jupyter.cloud._records`.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import keystoneauth1.identity as ks_identity
import requests
from openstack import connection as os_connection
from openstack import exceptions as os_exc

from denbi_jupyter.cloud._openstack_config import (
    DEFAULT_API_TIMEOUT,
    DEFAULT_IMAGE_RETRIES,
    cloud_region,
    read_clouds,
)
from denbi_jupyter.cloud._openstack_errors import map_error, translated
from denbi_jupyter.cloud._records import (
    flavor_from_nova,
    image_from_glance,
    keypair_from_nova,
    limits_from_nova,
    server_from_nova,
)
from denbi_jupyter.cloud.types import Flavor, Image, KeyPair, Limits, Server
from denbi_jupyter.errors import AuthenticationError, CloudUnavailableError

if TYPE_CHECKING:
    from denbi_jupyter.cloud._image_data import ImageData

__all__ = [
    "COMPUTE_MICROVERSIONS",
    "DEFAULT_API_TIMEOUT",
    "DEFAULT_IMAGE_RETRIES",
    "Gateway",
    "ImagePage",
    "map_error",
    "read_clouds",
]

#: Compute microversions per call: createImage needs ≥ 2.45 to return ``image_id`` in the body.
COMPUTE_MICROVERSIONS: Mapping[str, str] = {
    "servers": "2.100",
    "create_image": "2.45",
    "flavors": "2.61",
    "keypairs": "2.92",
}

_JSON_PATCH = "application/openstack-images-v2.1-json-patch"


# --- the gateway ------------------------------------------------------------------------------
class ImagePage:
    """One Glance listing page: the images and the marker of the next page (None at the end)."""

    __slots__ = ("images", "next_marker")

    def __init__(self, images: list[Image], next_marker: str | None) -> None:
        self.images = images
        self.next_marker = next_marker


class _Options(TypedDict, total=False):
    """What a Nova request may carry besides its method, path and action (see ``_request``)."""

    params: Mapping[str, Any] | None
    body: object
    missing_ok: bool


def _path(collection: str, resource_id: str) -> str:
    """``/{collection}/{resource_id}`` with the id quoted as one path segment."""
    return f"/{collection}/{urllib.parse.quote(resource_id, safe='')}"


def _marker_of(next_link: object) -> str | None:
    if not isinstance(next_link, str) or not next_link:
        return None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(next_link).query)
    markers = query.get("marker")
    return markers[-1] if markers else None


class Gateway:
    """One site's OpenStack APIs as domain objects; the connection opens on first use.

    Args:
        site: The ``clouds.yaml`` entry name.
        config_file: An explicit ``clouds.yaml``; None uses openstacksdk's search
            (``OS_CLIENT_CONFIG_FILE``, ``./clouds.yaml``, ``~/.config/openstack/``, …).
    """

    def __init__(self, site: str, *, config_file: Path | None = None) -> None:
        self.site = site
        self._config_file = config_file
        self._lock = threading.Lock()
        self._proxy_lock = threading.Lock()
        self._connection: os_connection.Connection | None = None

    # --- connection ---------------------------------------------------------------------
    @property
    def connection(self) -> os_connection.Connection:
        """The openstacksdk connection (created, not yet authenticated, on first use)."""
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection

    def _connect(self) -> os_connection.Connection:
        region = cloud_region(self.site, self._config_file)
        with translated(self.site, "open a connection"):
            return os_connection.Connection(config=region)

    @property
    def http_session(self) -> requests.Session:
        """The ``requests`` session every call goes through (for instrumentation only)."""
        session: requests.Session = self.connection.session.session
        return session

    def close(self) -> None:
        """Close the connection's HTTP pool."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _compute(
        self, method: str, path: str, *, api: str, action: str, **options: Unpack[_Options]
    ) -> Any:
        """A Nova request at the microversion pinned for ``api`` in ``COMPUTE_MICROVERSIONS``."""
        microversion = COMPUTE_MICROVERSIONS[api]
        return self._request(
            "compute", method, path, action=action, microversion=microversion, **options
        )

    def _request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        microversion: str | None = None,
        headers: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """Send one request; return its JSON (None for an empty body or a tolerated 404)."""
        kwargs: dict[str, Any] = {"raise_exc": False}
        if params:
            kwargs["params"] = dict(params)
        # Glance answers errors in JSON only to clients that accept JSON (else an HTML page).
        kwargs["headers"] = {"Accept": "application/json", **(headers or {})}
        if microversion:
            kwargs["microversion"] = microversion
        if body is not None:
            if headers and "Content-Type" in headers:
                kwargs["data"] = json.dumps(body)
            else:
                kwargs["json"] = body
        with translated(self.site, action):
            # openstacksdk discovers a service's endpoint when its proxy is first made: one
            # thread at a time, or two panels' first calls would each discover it.
            with self._proxy_lock:
                proxy = getattr(self.connection, service)
            response: requests.Response = proxy.request(path, method, **kwargs)
            if missing_ok and response.status_code == 404:
                return None
            os_exc.raise_from_response(response)
            if not response.content or response.status_code == 204:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise os_exc.InvalidResponse(
                    f"{service} answered {method} {path.split('?')[0]} with no JSON"
                ) from exc

    def raw_request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, Any] | None = None,
        json_body: object = None,
        data: object = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retries: bool = True,
        missing_ok: bool = False,
    ) -> requests.Response | None:
        """Send one request; the checked response itself (None for a tolerated 404).

        For image data: ``data`` may be an iterator (sent chunked) or a file, ``stream``
        leaves the body unread. ``retries=False`` turns keystoneauth's retries off (a
        consumed stream cannot be sent twice).
        """
        kwargs: dict[str, Any] = {"raise_exc": False, "stream": stream}
        kwargs["headers"] = {"Accept": "application/json", **(headers or {})}
        if params:
            kwargs["params"] = dict(params)
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if not retries:
            kwargs.update(connect_retries=0, status_code_retries=0)
        with translated(self.site, action):
            with self._proxy_lock:
                proxy = getattr(self.connection, service)
            response: requests.Response = proxy.request(path, method, **kwargs)
            if missing_ok and response.status_code == 404:
                response.close()
                return None
            os_exc.raise_from_response(response)
            return response

    @property
    def image_data(self) -> ImageData:
        """The image-data calls over this connection (:mod:`._image_data`)."""
        from denbi_jupyter.cloud._image_data import ImageData

        return ImageData(self)

    # --- identity -----------------------------------------------------------------------
    def token_project(self) -> tuple[str, str]:
        """(id, name) of the project the token is scoped to (authenticates if needed)."""
        with translated(self.site, "authenticate"):
            session = self.connection.session
            auth = session.auth
            if not isinstance(auth, ks_identity.BaseIdentityPlugin):
                raise AuthenticationError(
                    f"The clouds.yaml entry {self.site!r} uses an auth type without a Keystone "
                    "token; use password or v3applicationcredential.",
                    site=self.site,
                    action="authenticate",
                )
            access = auth.get_access(session)
            project_id = access.project_id
            project_name = access.project_name
        if not project_id:
            raise AuthenticationError(
                f"The clouds.yaml entry {self.site!r} gives an unscoped token: set project_name "
                "(or project_id) in its auth section.",
                site=self.site,
                action="authenticate",
            )
        return str(project_id), str(project_name or project_id)

    def auth_projects(self) -> dict[str, str]:
        """Project id → name for every project the user may scope to (Keystone, one call)."""
        found: dict[str, str] = {}
        path = "/auth/projects"
        while path:
            data = self._request("identity", "GET", path, action="list your projects") or {}
            for project in data.get("projects", ()):
                found[str(project["id"])] = str(project.get("name") or project["id"])
            next_link = (data.get("links") or {}).get("next")
            path = next_link if isinstance(next_link, str) and next_link else ""
        return found

    # --- images -------------------------------------------------------------------------
    def image_page(self, params: Mapping[str, Any], *, classified: bool = True) -> ImagePage:
        """One ``GET /v2/images`` page with exactly these query parameters (sent verbatim)."""
        data = self._request("image", "GET", "/images", params=params, action="list images")
        records = (data or {}).get("images", ())
        images = [image_from_glance(record, classified=classified) for record in records]
        return ImagePage(images, _marker_of((data or {}).get("next")))

    def get_image(self, image_id: str) -> Image | None:
        """The image by id, or None when Glance answers 404."""
        data = self._request(
            "image",
            "GET",
            _path("images", image_id),
            action=f"show image {image_id}",
            missing_ok=True,
        )
        return None if data is None else image_from_glance(data)

    def delete_image(self, image_id: str) -> None:
        """``DELETE /v2/images/{id}``."""
        self._request(
            "image",
            "DELETE",
            _path("images", image_id),
            action=f"delete image {image_id}",
        )

    def replace_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """Replace the whole tag list with one JSON-patch (``/tags/-`` is rejected by Glance)."""
        self._request(
            "image",
            "PATCH",
            _path("images", image_id),
            action=f"set the tags of image {image_id}",
            body=[{"op": "replace", "path": "/tags", "value": list(tags)}],
            headers={"Content-Type": _JSON_PATCH},
        )

    # --- compute ------------------------------------------------------------------------
    def _servers(self, params: Mapping[str, Any] | None, action: str) -> list[Server]:
        servers: list[Server] = []
        query: dict[str, Any] = dict(params or {})
        while True:
            data = self._compute(
                "GET",
                "/servers/detail",
                params=query,
                api="servers",
                action=action,
            )
            page = (data or {}).get("servers", ())
            servers.extend(server_from_nova(record) for record in page)
            links = (data or {}).get("servers_links") or ()
            marker = next(
                (_marker_of(link.get("href")) for link in links if link.get("rel") == "next"), None
            )
            if not page or marker is None:
                return servers
            query["marker"] = marker

    def list_servers(self, *, name: str | None = None) -> list[Server]:
        """The project's servers (``servers/detail``; ``name`` is Nova's regex filter)."""
        params = {"name": name} if name else None
        return self._servers(params, "list servers")

    def get_server(self, server_id: str) -> Server | None:
        """The server by id, or None on 404."""
        data = self._compute(
            "GET",
            _path("servers", server_id),
            api="servers",
            action=f"show server {server_id}",
            missing_ok=True,
        )
        return None if data is None else server_from_nova(data["server"])

    def create_server(self, body: Mapping[str, Any], *, action: str) -> str:
        """``POST /servers``; returns the new server's id."""
        data = self._compute(
            "POST",
            "/servers",
            body={"server": dict(body)},
            api="servers",
            action=action,
        )
        return str(data["server"]["id"])

    def delete_server(self, server_id: str) -> None:
        """``DELETE /servers/{id}``."""
        action = f"delete server {server_id}"
        self._compute("DELETE", _path("servers", server_id), api="servers", action=action)

    def server_action(self, server_id: str, action: str, argument: object = None) -> None:
        """``POST /servers/{id}/action`` with ``{action: argument}``; Nova answers 202, no body."""
        self._compute(
            "POST",
            f"{_path('servers', server_id)}/action",
            body={action: argument},
            api="servers",
            action=f"{action.removeprefix('os-')} server {server_id}",
        )

    def set_server_metadata(self, server_id: str, items: Mapping[str, str]) -> dict[str, str]:
        """``POST /servers/{id}/metadata`` (merges ``items``); the server's whole metadata."""
        data = self._compute(
            "POST",
            f"{_path('servers', server_id)}/metadata",
            body={"metadata": dict(items)},
            api="servers",
            action=f"update metadata of server {server_id}",
        )
        metadata = (data or {}).get("metadata") or {}
        return {str(key): str(value) for key, value in metadata.items()}

    def delete_server_metadata(self, server_id: str, key: str) -> None:
        """``DELETE /servers/{id}/metadata/{key}`` (NotFoundError when there is no such item)."""
        self._compute(
            "DELETE",
            f"{_path('servers', server_id)}/{_path('metadata', key).lstrip('/')}",
            api="servers",
            action=f"delete metadata {key!r} of server {server_id}",
        )

    def create_image(self, server_id: str, name: str, metadata: Mapping[str, str]) -> str:
        """Nova ``createImage`` at microversion 2.45: the image id comes in the body."""
        data = self._compute(
            "POST",
            f"{_path('servers', server_id)}/action",
            body={"createImage": {"name": name, "metadata": dict(metadata)}},
            api="create_image",
            action=f"snapshot server {server_id}",
        )
        image_id = (data or {}).get("image_id")
        if not image_id:
            raise CloudUnavailableError(
                f"{self.site} accepted the snapshot of server {server_id} but did not say its "
                "image id; look for it in the snapshot list before retrying.",
                site=self.site,
                action=f"snapshot server {server_id}",
            )
        return str(image_id)

    def list_flavors(self) -> list[Flavor]:
        """``GET /flavors/detail``."""
        data = self._compute("GET", "/flavors/detail", api="flavors", action="list flavors")
        return [flavor_from_nova(record) for record in (data or {}).get("flavors", ())]

    def list_keypairs(self) -> list[KeyPair]:
        """``GET /os-keypairs``."""
        data = self._compute("GET", "/os-keypairs", api="keypairs", action="list key pairs")
        return [
            keypair_from_nova(entry.get("keypair", entry))
            for entry in (data or {}).get("keypairs", ())
        ]

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """``POST /os-keypairs`` with a public key (no key generation at ≥ 2.92)."""
        data = self._compute(
            "POST",
            "/os-keypairs",
            body={"keypair": {"name": name, "public_key": public_key, "type": "ssh"}},
            api="keypairs",
            action=f"import key pair {name!r}",
        )
        return keypair_from_nova(data["keypair"])

    def delete_keypair(self, name: str) -> None:
        """``DELETE /os-keypairs/{name}``."""
        action = f"delete key pair {name!r}"
        self._compute("DELETE", _path("os-keypairs", name), api="keypairs", action=action)

    def limits(self) -> Limits:
        """``GET /limits`` (absolute limits and usage)."""
        data = self._request("compute", "GET", "/limits", action="read the project's limits")
        return limits_from_nova(((data or {}).get("limits") or {}).get("absolute") or {})
