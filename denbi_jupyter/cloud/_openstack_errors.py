"""SDK, keystoneauth and requests exceptions as :mod:`denbi_jupyter.errors` types.

Part of the gateway (:mod:`denbi_jupyter.cloud._openstack`): one of the three private modules
allowed to import ``openstack`` and ``keystoneauth1``. :func:`map_error` is the only place that
knows both trees; every error it makes comes from one table, :data:`ERRORS`, and carries
``site``, ``action`` and, where the cloud answered, ``status``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import keystoneauth1.exceptions as ks_exc
import requests
from openstack import exceptions as os_exc

from denbi_jupyter import errors

__all__ = ["ERRORS", "TRANSLATED", "make_error", "map_error", "translated"]

_QUOTA_WORDS = re.compile(r"quota|exceed|limit (?:is|was) reached|too many", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_URL = re.compile(r"(https?://[^\s?#'\"]+)\?[^\s'\"]*")
#: User info in a URL (``scheme://user:secret@host``) and a query after a bare path: dropped.
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]*@", re.IGNORECASE)
_QUERY = re.compile(r"(/[^\s?#'\"]*)\?[^\s'\")]*")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-=+/]{60,}")

_NOT_FOUND = (
    errors.NotFoundError,
    "Could not {action} on {site}: it was not found{said}. It may have been deleted; refresh "
    "the list and check the name or id.",
)
_CONFLICT = (
    errors.ConflictError,
    "{site} cannot {action} right now{said}. Wait until the resource's current operation "
    "finishes, then try again.",
)
_QUOTA = (
    errors.QuotaExceededError,
    "{site} refused to {action} because your project is out of quota{said}. Delete servers or "
    "snapshots you no longer need, or ask the site's support for more quota.",
)

#: Every error made from a foreign exception: key → (our type, message template).
#:
#: A key is an HTTP status, ``"4xx"`` / ``"5xx"`` for the other statuses, ``"quota"`` (a 403
#: that talks about quota) or the kind of a failure without a status (see :data:`_NON_HTTP`).
#: Templates use ``{site}``, ``{action}``, ``{detail}`` (the server's cleaned explanation),
#: ``{said}`` (``": " + detail``, or nothing when there is none) and ``{status}``.
ERRORS: Mapping[int | str, tuple[type[errors.DenbiError], str]] = {
    400: (
        errors.UserInputError,
        "{site} rejected the request to {action}{said}. Check the values you gave.",
    ),
    401: (
        errors.AuthenticationError,
        "{site} refused the credentials of clouds.yaml entry {site!r} when asked to "
        "{action}{said}. Check username, password, project and domains in that entry (or renew "
        "the application credential).",
    ),
    403: (
        errors.PermissionDeniedError,
        "{site} does not allow you to {action}{said}. It may be protected or belong to another "
        "project; ask its owner or the project manager.",
    ),
    404: _NOT_FOUND,
    406: (
        errors.CloudUnavailableError,
        "{site} does not support the API version needed to {action}{said}. The site may run an "
        "older OpenStack; report this to the site's support.",
    ),
    409: _CONFLICT,
    410: _NOT_FOUND,
    412: _CONFLICT,
    413: _QUOTA,
    429: (
        errors.CloudUnavailableError,
        "{site} is limiting the request rate and refused to {action}{said}. Wait a minute, then "
        "try again.",
    ),
    "quota": _QUOTA,
    "4xx": (
        errors.UserInputError,
        "{site} rejected the request to {action} (HTTP {status}){said}. Check the values you gave.",
    ),
    "5xx": (
        errors.CloudUnavailableError,
        "{site} failed to {action} (HTTP {status}){said}. Try again later; if it persists, "
        "contact the site's support.",
    ),
    "unreachable": (
        errors.CloudUnavailableError,
        "{site} could not be reached to {action}{said}. Check your network (VPN) and the "
        "auth_url in clouds.yaml, then try again.",
    ),
    "auth_setup": (
        errors.AuthenticationError,
        "The credentials of clouds.yaml entry {site!r} are incomplete or unusable ({detail}) so "
        "denbi-jupyter could not {action}. Fix the entry's auth section.",
    ),
    "bad_config": (
        errors.UserInputError,
        "clouds.yaml entry {site!r} is not usable to {action}{said}. Fix the entry.",
    ),
    "no_service": (
        errors.CloudUnavailableError,
        "{site} offered no working endpoint to {action}{said}. The service may be down (try "
        "again later), or region_name/interface in clouds.yaml may not match the site.",
    ),
    "outage": (
        errors.CloudUnavailableError,
        "The {detail} at {site} is failing, so denbi-jupyter could not {action} (HTTP "
        "{status}): try again later; if it persists, contact the site's support.",
    ),
    "not_answering": (
        errors.CloudUnavailableError,
        "The {detail} at {site} is not answering (no answer within the api_timeout), so "
        "denbi-jupyter could not {action}: try again later; if it persists, contact the "
        "site's support.",
    ),
    "broken": (
        errors.CloudUnavailableError,
        "The {detail} at {site} broke off its answer, so denbi-jupyter could not {action}: "
        "try again later; if it persists, contact the site's support.",
    ),
    "down": (
        errors.CloudUnavailableError,
        "The {detail} at {site} is failing or not answering (it may be down), so "
        "denbi-jupyter could not {action}: try again later; if it persists, contact the "
        "site's support.",
    ),
    "timeout": (
        errors.OperationFailedError,
        "{site} did not finish in time to {action}{said}. Check its state and try again.",
    ),
    "bad_request": (
        errors.UserInputError,
        "Could not {action} on {site}{said}. Check the values you gave.",
    ),
    "ambiguous": (
        errors.UserInputError,
        "Could not {action} on {site}{said}. Several resources match; use the id.",
    ),
    "failed": (
        errors.CloudUnavailableError,
        "{site} failed to {action}{said}. Try again later; if it persists, contact the site's "
        "support.",
    ),
}

#: Exceptions without an HTTP status, most specific first: (types, key in :data:`ERRORS`).
_NON_HTTP: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((ks_exc.ConnectTimeout, requests.Timeout), "unreachable"),
    ((ks_exc.ConnectionError, ks_exc.RetriableConnectionFailure), "unreachable"),
    ((requests.ConnectionError,), "unreachable"),
    ((os_exc.ResourceTimeout,), "timeout"),
    ((os_exc.ResourceFailure,), "failed"),
    ((os_exc.DuplicateResource,), "ambiguous"),
    (
        (
            os_exc.ConfigException,
            os_exc.ValidationException,
            os_exc.InvalidResourceQuery,
            os_exc.InvalidRequest,
        ),
        "bad_config",
    ),
    (
        (os_exc.EndpointNotFound, os_exc.ServiceDiscoveryException, os_exc.NotSupported),
        "no_service",
    ),
    ((ks_exc.EndpointNotFound, ks_exc.CatalogException, ks_exc.DiscoveryFailure), "no_service"),
    ((ks_exc.ImpliedVersionMismatch, ks_exc.ServiceProviderNotFound), "no_service"),
    (
        (ks_exc.AuthPluginException, ks_exc.AuthorizationFailure, ks_exc.MissingAuthMethods),
        "auth_setup",
    ),
    ((os_exc.MethodNotSupported,), "bad_request"),
    ((os_exc.InvalidResponse, ks_exc.InvalidResponse), "failed"),
    ((os_exc.SDKException, ks_exc.ClientException, requests.RequestException), "failed"),
)

#: What :func:`map_error` translates (everything else is a bug and propagates).
TRANSLATED: tuple[type[BaseException], ...] = (
    os_exc.SDKException,
    ks_exc.ClientException,
    ks_exc.RetriableConnectionFailure,
    ks_exc.ImpliedVersionMismatch,
    requests.RequestException,
)


def _clean(detail: object) -> str:
    """A server message fit for users: no HTML, no query strings, nothing token-like."""
    text = html.unescape(_TAGS.sub(" ", str(detail or "")))
    text = _USERINFO.sub(r"\1", text)
    text = _URL.sub(r"\1", text)
    text = _QUERY.sub(r"\1", text)
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
    if isinstance(exc, os_exc.HttpException | ks_exc.HttpError):
        return _clean(exc.details or exc.message)
    return _clean(getattr(exc, "message", None) or str(exc) or type(exc).__name__)


#: A service that is in the catalog but answered its version discovery with nothing usable.
_LISTED = re.compile(r"The (\w+) service for \S+ exists but does not have any supported versions")
_DISCOVERY = (ks_exc.DiscoveryFailure, os_exc.NotSupported, os_exc.ServiceDiscoveryException)
#: A URL path part or port → the service it belongs to (for a message naming the service).
_SERVICE_HINTS = (
    (re.compile(r"/identity\b|:5000\b|/v3\b"), "identity"),
    (re.compile(r"/image\b|:9292\b"), "image"),
    (re.compile(r"/compute\b|:8774\b|/v2\.1\b"), "compute"),
    (re.compile(r"/network\b|:9696\b|/v2\.0\b"), "network"),
)
_SERVICE_NAMES = {
    "identity": "identity service (Keystone)",
    "image": "image service (Glance)",
    "compute": "compute service (Nova)",
    "network": "network service (Neutron)",
}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _service_in(exc: BaseException, action: str) -> str:
    """The service ``exc`` is about, as the message names it ("the image service (Glance)")."""
    text = " ".join(str(part) for part in _causes(exc))
    listed = _LISTED.search(text)
    if listed is not None and listed.group(1) in _SERVICE_NAMES:
        return _SERVICE_NAMES[listed.group(1)]
    if isinstance(exc, ks_exc.DiscoveryFailure) and "identity" in text:
        return _SERVICE_NAMES["identity"]
    for pattern, service in _SERVICE_HINTS:
        if pattern.search(text):
            return _SERVICE_NAMES[service]
    words = {"image": "image", "snapshot": "image", "server": "compute", "key pair": "compute"}
    return next((_SERVICE_NAMES[s] for w, s in words.items() if w in action), "cloud service")


def _silence_of(exc: BaseException) -> tuple[str, None] | None:
    """A service that took the connection and then did not answer, or broke off its answer:
    that is the service failing, not the network or the configuration."""
    causes = list(_causes(exc))
    if isinstance(exc, ks_exc.ConnectTimeout | requests.Timeout) and any(
        isinstance(cause, requests.ReadTimeout) for cause in causes
    ):
        return "not_answering", None
    if isinstance(
        exc, ks_exc.UnknownConnectionError | requests.exceptions.ChunkedEncodingError
    ) and any(isinstance(cause, requests.exceptions.ChunkedEncodingError) for cause in causes):
        return "broken", None
    return None


def _outage_of(exc: BaseException) -> tuple[str, int | None] | None:
    """``("outage", status)``, ``("not_answering" | "broken" | "down", None)`` when ``exc``
    says a service the catalog lists is failing or silent (not that the endpoint is missing,
    nor that the network or the configuration is wrong)."""
    if not isinstance(exc, _DISCOVERY):
        return _silence_of(exc)
    for cause in list(_causes(exc))[1:]:
        status = _status_of(cause)
        if status is not None and status >= 500:
            return "outage", status
        silence = _silence_of(cause)
        if silence is not None:
            return silence
    if _LISTED.search(str(exc)):
        return "down", None  # in the catalog, but its version document did not come
    return None


def _key_of(exc: BaseException, status: int | None, detail: str) -> int | str:
    """The :data:`ERRORS` key for an exception, its HTTP status and the server's detail."""
    if status is not None and status >= 400:
        if status == 403 and _QUOTA_WORDS.search(detail):
            return "quota"
        if status in ERRORS:
            return status
        return "4xx" if status < 500 else "5xx"
    return next((key for types, key in _NON_HTTP if isinstance(exc, types)), "failed")


def make_error(
    key: int | str, *, site: str, action: str, detail: str = "", status: int | None = None
) -> errors.DenbiError:
    """The error :data:`ERRORS` names under ``key``, with its context attached."""
    kind, template = ERRORS[key]
    said = f": {detail}" if detail else ""
    message = template.format(site=site, action=action, detail=detail, said=said, status=status)
    return kind(message, site=site, action=action, status=status)


def map_error(exc: BaseException, *, site: str, action: str) -> errors.DenbiError:
    """Our error for an SDK / keystoneauth / requests exception; the caller raises it ``from``.

    ``action`` is a verb phrase (``"delete image 1234"``) used in the message. Messages carry
    the server's explanation without HTML, query strings or token-like strings. Our own errors
    pass through unchanged.
    """
    if isinstance(exc, errors.DenbiError):
        return exc
    outage = _outage_of(exc)
    if outage is not None:
        kind, code = outage
        return make_error(kind, site=site, action=action, detail=_service_in(exc, action),
                          status=code)  # fmt: skip
    status = _status_of(exc)
    detail = _detail_of(exc)
    key = _key_of(exc, status, detail)
    return make_error(key, site=site, action=action, detail=detail, status=status)


@contextmanager
def translated(site: str, action: str) -> Iterator[None]:
    """Re-raise every SDK / keystoneauth / requests exception of the block as ours."""
    try:
        yield
    except TRANSLATED as exc:
        raise map_error(exc, site=site, action=action) from exc
