"""The gateway: the one module that imports ``openstack`` and ``keystoneauth1``.

It reads ``clouds.yaml`` through openstacksdk's own loader, keeps one lazy connection per site,
speaks the raw REST API through the SDK's service proxies (openstacksdk silently drops query
parameters it does not know, such as ``image_type``, and spends ~1.3 ms building an object per
image), and returns domain objects from :mod:`denbi_jupyter.cloud._records`.

Every SDK, keystoneauth and requests exception is turned into a
:mod:`denbi_jupyter.errors` type by :func:`map_error`, the only place that knows both trees.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keystoneauth1.exceptions as ks_exc
import keystoneauth1.identity as ks_identity
import requests
from openstack import connection as os_connection
from openstack import exceptions as os_exc
from openstack.config import OpenStackConfig

from denbi_jupyter.cloud._records import (
    flavor_from_nova,
    image_from_glance,
    keypair_from_nova,
    limits_from_nova,
    server_from_nova,
)
from denbi_jupyter.cloud.types import Flavor, Image, KeyPair, Limits, Server
from denbi_jupyter.errors import (
    AuthenticationError,
    CloudUnavailableError,
    ConflictError,
    DenbiError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
    QuotaExceededError,
    UserInputError,
)

__all__ = [
    "COMPUTE_MICROVERSIONS",
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

#: Seconds before an API call gives up, unless clouds.yaml sets ``api_timeout``.
DEFAULT_API_TIMEOUT = 60.0

#: Retries of a Glance 5xx unless clouds.yaml sets ``image_status_code_retries``: the SDK's
#: default (5, backing off 1+2+4+8 s) keeps a panel waiting 15 s for an outage.
DEFAULT_IMAGE_RETRIES = 1

_APP_NAME = "denbi-jupyter"
_JSON_PATCH = "application/openstack-images-v2.1-json-patch"
_QUOTA_WORDS = re.compile(r"quota|exceed|limit (?:is|was) reached|too many", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_URL = re.compile(r"(https?://[^\s?#'\"]+)\?[^\s'\"]*")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-=+/]{60,}")


# --- clouds.yaml ------------------------------------------------------------------------------
def _load_config(config_file: Path | None) -> OpenStackConfig:
    """openstacksdk's loader: the explicit file alone, else its usual search with env vars."""
    try:
        if config_file is None:
            return OpenStackConfig(app_name=_APP_NAME)
        if not config_file.is_file():
            raise UserInputError(
                f"The clouds.yaml file {config_file} does not exist: pass an existing file or "
                "leave it out to use OS_CLIENT_CONFIG_FILE / ~/.config/openstack/clouds.yaml."
            )
        return OpenStackConfig(
            config_files=[str(config_file)], load_envvars=False, app_name=_APP_NAME
        )
    except os_exc.SDKException as exc:
        raise map_error(exc, site="clouds.yaml", action="read clouds.yaml") from exc


def read_clouds(config_file: Path | None = None) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """Every ``clouds.yaml`` entry as (name, merged config) and the default entry's name.

    The default is ``OS_CLOUD``, else the only entry, else the first. Raises NotFoundError when
    there is no entry at all.
    """
    config = _load_config(config_file)
    entries: list[tuple[str, dict[str, Any]]] = []
    for name in config.get_cloud_names():
        raw = config.cloud_config["clouds"].get(name, {})
        if name == "defaults" and not raw.get("auth"):
            continue
        entries.append((name, _entry_config(config, name)))
    if not entries:
        where = config_file or config.config_filename or "OS_CLIENT_CONFIG_FILE"
        raise NotFoundError(
            f"No cloud is configured ({where}): download clouds.yaml from your site's dashboard "
            "and put it in ~/.config/openstack/ or point OS_CLIENT_CONFIG_FILE at it."
        )
    names = [name for name, _ in entries]
    wanted = os.environ.get("OS_CLOUD") if config_file is not None else config.default_cloud
    default = wanted if wanted in names else names[0]
    return entries, str(default)


def _entry_config(config: OpenStackConfig, name: str) -> dict[str, Any]:
    try:
        region = config.get_one(cloud=name)
    except os_exc.SDKException as exc:
        raise map_error(exc, site=name, action="read its clouds.yaml entry") from exc
    merged = dict(region.config)
    merged["region_name"] = region.region_name or None
    return merged


# --- errors -----------------------------------------------------------------------------------
def _clean(detail: object) -> str:
    """A server message fit for users: no HTML, no query strings, nothing token-like."""
    text = html.unescape(_TAGS.sub(" ", str(detail or "")))
    text = _URL.sub(r"\1", text)
    text = _TOKENISH.sub("<redacted>", text)
    text = " ".join(text.split()).strip(" .:")
    return text[:300]


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, os_exc.HttpException):
        status = exc.status_code
        if status is None and exc.response is not None:
            status = exc.response.status_code
        return status
    if isinstance(exc, ks_exc.HttpError):
        return exc.http_status or None
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return int(exc.response.status_code)
    return None


def _detail_of(exc: BaseException) -> str:
    if isinstance(exc, os_exc.HttpException):
        return _clean(exc.details or exc.message)
    if isinstance(exc, ks_exc.HttpError):
        return _clean(exc.details or exc.message)
    return _clean(getattr(exc, "message", None) or str(exc) or type(exc).__name__)


def _from_status(status: int, detail: str, *, site: str, action: str) -> DenbiError:
    said = f": {detail}" if detail else ""
    if status == 400:
        return UserInputError(
            f"{site} rejected the request to {action}{said}. Check the values you gave."
        )
    if status == 401:
        return AuthenticationError(
            f"{site} refused the credentials of clouds.yaml entry {site!r} when asked to "
            f"{action}{said}. Check username, password, project and domains in that entry "
            "(or renew the application credential)."
        )
    if status == 413 or (status == 403 and _QUOTA_WORDS.search(detail)):
        return QuotaExceededError(
            f"{site} refused to {action} because your project is out of quota{said}. Delete "
            "servers or snapshots you no longer need, or ask the site's support for more quota."
        )
    if status == 403:
        return PermissionDeniedError(
            f"{site} does not allow you to {action}{said}. It may be protected or belong to "
            "another project; ask its owner or the project manager."
        )
    if status in (404, 410):
        return NotFoundError(
            f"Could not {action} on {site}: it was not found{said}. It may have been deleted; "
            "refresh the list and check the name or id."
        )
    if status in (409, 412):
        return ConflictError(
            f"{site} cannot {action} right now{said}. Wait until the resource's current "
            "operation finishes, then try again."
        )
    if status == 406:
        return CloudUnavailableError(
            f"{site} does not support the API version needed to {action}{said}. The site may "
            "run an older OpenStack; report this to the site's support."
        )
    if status == 429:
        return CloudUnavailableError(
            f"{site} is limiting the request rate and refused to {action}{said}. Wait a minute, "
            "then try again."
        )
    if status < 500:
        return UserInputError(
            f"{site} rejected the request to {action} (HTTP {status}){said}. Check the values "
            "you gave."
        )
    return CloudUnavailableError(
        f"{site} failed to {action} (HTTP {status}){said}. Try again later; if it persists, "
        "contact the site's support."
    )


def _unreachable(site: str, action: str, detail: str) -> DenbiError:
    return CloudUnavailableError(
        f"{site} could not be reached to {action}: {detail}. Check your network (VPN) and the "
        "auth_url in clouds.yaml, then try again."
    )


def _auth_setup(site: str, action: str, detail: str) -> DenbiError:
    return AuthenticationError(
        f"The credentials of clouds.yaml entry {site!r} are incomplete or unusable ({detail}) "
        f"so denbi-jupyter could not {action}. Fix the entry's auth section."
    )


def _bad_config(site: str, action: str, detail: str) -> DenbiError:
    return UserInputError(
        f"clouds.yaml entry {site!r} is not usable to {action}: {detail}. Fix the entry."
    )


def _no_service(site: str, action: str, detail: str) -> DenbiError:
    return CloudUnavailableError(
        f"{site} offered no working endpoint to {action}: {detail}. The service may be down "
        "(try again later), or region_name/interface in clouds.yaml may not match the site."
    )


def _timeout(site: str, action: str, detail: str) -> DenbiError:
    return OperationFailedError(
        f"{site} did not finish in time to {action}: {detail}. Check its state and try again."
    )


def _bad_request(site: str, action: str, detail: str) -> DenbiError:
    return UserInputError(f"Could not {action} on {site}: {detail}. Check the values you gave.")


def _ambiguous(site: str, action: str, detail: str) -> DenbiError:
    return UserInputError(
        f"Could not {action} on {site}: {detail}. Several resources match; use the id."
    )


def _failed(site: str, action: str, detail: str) -> DenbiError:
    return CloudUnavailableError(
        f"{site} failed to {action}: {detail}. Try again later; if it persists, contact the "
        "site's support."
    )


#: Exceptions without an HTTP status, most specific first: (types, error factory).
_NON_HTTP: tuple[tuple[tuple[type[BaseException], ...], Any], ...] = (
    ((ks_exc.ConnectTimeout, requests.Timeout), _unreachable),
    ((ks_exc.ConnectionError, ks_exc.RetriableConnectionFailure), _unreachable),
    ((requests.ConnectionError,), _unreachable),
    ((os_exc.ResourceTimeout,), _timeout),
    ((os_exc.ResourceFailure,), _failed),
    ((os_exc.DuplicateResource,), _ambiguous),
    (
        (
            os_exc.ConfigException,
            os_exc.ValidationException,
            os_exc.InvalidResourceQuery,
            os_exc.InvalidRequest,
        ),
        _bad_config,
    ),
    ((os_exc.EndpointNotFound, os_exc.ServiceDiscoveryException, os_exc.NotSupported), _no_service),
    ((ks_exc.EndpointNotFound, ks_exc.CatalogException, ks_exc.DiscoveryFailure), _no_service),
    ((ks_exc.ImpliedVersionMismatch, ks_exc.ServiceProviderNotFound), _no_service),
    (
        (
            ks_exc.AuthPluginException,
            ks_exc.AuthorizationFailure,
            ks_exc.MissingAuthMethods,
        ),
        _auth_setup,
    ),
    ((os_exc.MethodNotSupported,), _bad_request),
    ((os_exc.InvalidResponse, ks_exc.InvalidResponse), _failed),
    ((os_exc.SDKException, ks_exc.ClientException, requests.RequestException), _failed),
)


def map_error(exc: BaseException, *, site: str, action: str) -> DenbiError:
    """Our error for an SDK / keystoneauth / requests exception; the caller raises it ``from``.

    ``action`` is a verb phrase (``"delete image 1234"``) used in the message. Messages carry
    the server's explanation without HTML, query strings or token-like strings.
    """
    if isinstance(exc, DenbiError):
        return exc
    status = _status_of(exc)
    detail = _detail_of(exc)
    if status is not None and status >= 400:
        return _from_status(status, detail, site=site, action=action)
    for types, factory in _NON_HTTP:
        if isinstance(exc, types):
            error: DenbiError = factory(site, action, detail)
            return error
    return _failed(site, action, detail)


#: What :func:`map_error` translates (everything else is a bug and propagates).
_TRANSLATED: tuple[type[BaseException], ...] = (
    os_exc.SDKException,
    ks_exc.ClientException,
    ks_exc.RetriableConnectionFailure,
    ks_exc.ImpliedVersionMismatch,
    requests.RequestException,
)


@contextmanager
def _translated(site: str, action: str) -> Iterator[None]:
    try:
        yield
    except _TRANSLATED as exc:
        raise map_error(exc, site=site, action=action) from exc


# --- the gateway ------------------------------------------------------------------------------
class ImagePage:
    """One Glance listing page: the images and the marker of the next page (None at the end)."""

    __slots__ = ("images", "next_marker")

    def __init__(self, images: list[Image], next_marker: str | None) -> None:
        self.images = images
        self.next_marker = next_marker


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
        config = _load_config(self._config_file)
        if self.site not in config.get_cloud_names():
            known = ", ".join(sorted(config.get_cloud_names())) or "none"
            raise NotFoundError(
                f"There is no clouds.yaml entry named {self.site!r} (entries: {known}). Pick "
                "one of those or add the site's clouds.yaml entry."
            )
        entry = config.cloud_config["clouds"].get(self.site, {})
        with _translated(self.site, "open a connection"):
            region = config.get_one(cloud=self.site)
            if region.config.get("api_timeout") is None:
                region.config["api_timeout"] = DEFAULT_API_TIMEOUT
            if "image_status_code_retries" not in entry:
                region.config["image_status_code_retries"] = DEFAULT_IMAGE_RETRIES
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
        self,
        method: str,
        path: str,
        *,
        api: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        body: object = None,
        missing_ok: bool = False,
    ) -> Any:
        """A Nova request at the microversion pinned for ``api`` in ``COMPUTE_MICROVERSIONS``."""
        return self._request(
            "compute",
            method,
            path,
            action=action,
            params=params,
            body=body,
            microversion=COMPUTE_MICROVERSIONS[api],
            missing_ok=missing_ok,
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
        with _translated(self.site, action):
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

    # --- identity -----------------------------------------------------------------------
    def token_project(self) -> tuple[str, str]:
        """(id, name) of the project the token is scoped to (authenticates if needed)."""
        with _translated(self.site, "authenticate"):
            session = self.connection.session
            auth = session.auth
            if not isinstance(auth, ks_identity.BaseIdentityPlugin):
                raise AuthenticationError(
                    f"The clouds.yaml entry {self.site!r} uses an auth type without a Keystone "
                    "token; use password or v3applicationcredential."
                )
            access = auth.get_access(session)
            project_id = access.project_id
            project_name = access.project_name
        if not project_id:
            raise AuthenticationError(
                f"The clouds.yaml entry {self.site!r} gives an unscoped token: set project_name "
                "(or project_id) in its auth section."
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
        self._compute(
            "DELETE",
            _path("servers", server_id),
            api="servers",
            action=f"delete server {server_id}",
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
                "image id; look for it in the snapshot list before retrying."
            )
        return str(image_id)

    def list_flavors(self) -> list[Flavor]:
        """``GET /flavors/detail``."""
        data = self._compute(
            "GET",
            "/flavors/detail",
            api="flavors",
            action="list flavors",
        )
        return [flavor_from_nova(record) for record in (data or {}).get("flavors", ())]

    def list_keypairs(self) -> list[KeyPair]:
        """``GET /os-keypairs``."""
        data = self._compute(
            "GET",
            "/os-keypairs",
            api="keypairs",
            action="list key pairs",
        )
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

    def limits(self) -> Limits:
        """``GET /limits`` (absolute limits and usage)."""
        data = self._request("compute", "GET", "/limits", action="read the project's limits")
        return limits_from_nova(((data or {}).get("limits") or {}).get("absolute") or {})
