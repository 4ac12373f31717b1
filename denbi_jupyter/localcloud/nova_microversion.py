"""Nova microversions: read the request's version, echo it on every versioned answer.

Nova reads ``OpenStack-API-Version: compute X`` (or the legacy ``X-OpenStack-Nova-API-Version:
X``), resolves ``latest`` to its maximum, defaults to 2.1, answers 406 for a version outside its
range (echoing the requested one), and sends both headers plus ``Vary`` back on every response
under ``/v2.1``, errors included (but a missing or invalid token gets keystonemiddleware's
unversioned 401, as on a real cloud). :class:`NovaRoute` does all of that around each handler;
handlers read the negotiated version with :func:`microversion_of`.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.http import Endpoint, ServiceRoute
from denbi_jupyter.localcloud.responses import ApiError

__all__ = [
    "MAX_VERSION",
    "MIN_VERSION",
    "Microversion",
    "NovaRoute",
    "microversion_of",
    "negotiate",
    "version_headers",
]

Microversion = tuple[int, int]

MIN_VERSION: Microversion = (2, 1)
MAX_VERSION: Microversion = (2, 104)

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
_VARY = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"


def _text(version: Microversion) -> str:
    return f"{version[0]}.{version[1]}"


def _requested(request: Request) -> str | None:
    """The compute version the client asked for, as written, or None."""
    header = request.headers.get("OpenStack-API-Version")
    if header:
        for part in header.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == "compute":
                return words[1]
    legacy = request.headers.get("X-OpenStack-Nova-API-Version")
    return legacy.strip() if legacy else None


def version_headers(version_text: str) -> dict[str, str]:
    """The headers Nova sends back for ``version_text`` (e.g. ``"2.104"``)."""
    return {
        "OpenStack-API-Version": f"compute {version_text}",
        "X-OpenStack-Nova-API-Version": version_text,
        "Vary": _VARY,
    }


def negotiate(request: Request) -> Microversion:
    """The microversion of ``request``.

    Raises:
        ApiError: 400 for a malformed version string, 406 for one outside the served range
            (both carry the echo headers).
    """
    asked = _requested(request)
    if asked is None:
        return MIN_VERSION
    if asked.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(asked)
    if match is None:
        raise ApiError(
            400,
            f"API Version String {asked} is of invalid format. Must be of format "
            "MajorNum.MinorNum.",
            headers=version_headers(asked),
        )
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ApiError(
            406,
            f"Version {asked} is not supported by the API. Minimum is {_text(MIN_VERSION)} "
            f"and maximum is {_text(MAX_VERSION)}.",
            kind="computeFault",
            headers=version_headers(asked),
        )
    return version


def microversion_of(request: Request) -> Microversion:
    """The version :class:`NovaRoute` negotiated for ``request`` (2.1 outside it)."""
    version: Microversion = getattr(request.state, "microversion", MIN_VERSION)
    return version


class NovaRoute(ServiceRoute):
    """A route that negotiates the microversion and echoes it on every answer."""

    service = "compute"

    async def answer(self, request: Request, handler: Endpoint) -> Response:
        version = negotiate(request)  # its errors carry the echo headers already
        request.state.microversion = version
        headers = version_headers(_text(version))
        try:
            response = await handler(request)
        except ApiError as error:
            error.headers = {**headers, **error.headers}
            raise
        response.headers.update(headers)
        return response
