"""Error responses in the exact shapes each real OpenStack service uses.

* Keystone: ``{"error": {"code": 401, "message": "...", "title": "Unauthorized"}}``
* Glance: ``{"message": "...<br /><br />\\n\\n\\n", "code": "400 Bad Request",
  "title": "Bad Request"}`` for ``Accept: application/json``; an HTML page otherwise
* Nova: ``{"conflictingRequest": {"code": 409, "message": "..."}}`` (the key names the kind)
* Neutron: ``{"NeutronError": {"type": "PortNotFound", "message": "...", "detail": ""}}``

Handlers raise :class:`ApiError`; :func:`render_error` renders it for the service the request
went to (:mod:`~denbi_jupyter.localcloud.http` does so around every route). A 401 in front of
Nova or Neutron comes from keystonemiddleware, so it has Keystone's shape there. Nothing here
ever echoes a credential.
"""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Literal

from starlette.responses import JSONResponse, Response

__all__ = [
    "ApiError",
    "Service",
    "glance_error",
    "keystone_error",
    "neutron_error",
    "nova_error",
    "render_error",
]

Service = Literal["identity", "image", "compute", "network"]

NOVA_ERROR_KINDS: dict[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "HTTPMethodNotAllowed",
    406: "computeFault",
    409: "conflictingRequest",
    413: "overLimit",
    415: "unsupportedMediaType",
    500: "computeFault",
    503: "serviceUnavailable",
}
NEUTRON_ERROR_TYPES: dict[int, str] = {
    400: "HTTPBadRequest",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
}


class ApiError(Exception):
    """An error answer: rendered in the shape of the service that raised it.

    Args:
        status: The HTTP status.
        message: What the body says.
        kind: The error's name in the service's vocabulary where it has one: Nova's wrapper
            key (``forbidden``), Neutron's ``type`` (``PortNotFound``); by status otherwise.
        headers: Extra response headers.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.headers = headers or {}


def keystone_error(status: int, message: str) -> JSONResponse:
    """Keystone's error body."""
    title = HTTPStatus(status).phrase
    body = {"error": {"code": status, "message": message, "title": title}}
    return JSONResponse(body, status_code=status, headers={"Vary": "X-Auth-Token"})


def glance_error(status: int, message: str, *, accept: str = "application/json") -> Response:
    """Glance's error answer, negotiated on ``Accept`` as Glance's webob does.

    JSON (``code`` is a string with the reason phrase, the message has HTML line breaks) only
    when the client accepts ``application/json``; otherwise an HTML page (also for ``*/*`` or no
    header), or plain text for ``text/plain``. Real Glance 33 answers exactly so.
    """
    phrase = HTTPStatus(status).phrase
    wanted = accept.lower()
    if "json" in wanted:
        body = {
            "message": f"{message}<br /><br />\n\n\n",
            "code": f"{status} {phrase}",
            "title": phrase,
        }
        return JSONResponse(body, status_code=status)
    if "text/plain" in wanted and "html" not in wanted and "*/*" not in wanted:
        text = f"{status} {phrase}\n\n{message}\n\n   "
        return Response(text, status_code=status, media_type="text/plain; charset=UTF-8")
    page = (
        f"<html>\n <head>\n  <title>{status} {phrase}</title>\n </head>\n <body>\n"
        f"  <h1>{status} {phrase}</h1>\n  {html.escape(message, quote=False)}<br /><br />\n\n\n\n"
        " </body>\n</html>"
    )
    return Response(page, status_code=status, media_type="text/html; charset=UTF-8")


def glance_patch_media_error(message: str) -> Response:
    """Glance's 415 for a PATCH with the wrong media type: JSON, message without line breaks."""
    body = {
        "message": message,
        "code": "415 Unsupported Media Type",
        "title": "Unsupported Media Type",
    }
    return JSONResponse(body, status_code=415)


def nova_error(status: int, message: str, *, kind: str | None = None) -> Response:
    """Nova's error body, wrapped by kind, with ``application/json; charset=UTF-8``."""
    key = kind or NOVA_ERROR_KINDS.get(status, "computeFault")
    body = {key: {"code": status, "message": message}}
    response = JSONResponse(body, status_code=status)
    response.headers["Content-Type"] = "application/json; charset=UTF-8"
    return response


def neutron_error(status: int, message: str, *, kind: str | None = None) -> JSONResponse:
    """Neutron's error body; ``kind`` is its ``type`` (by status when left out)."""
    name = kind or NEUTRON_ERROR_TYPES.get(status, "NeutronError")
    body = {"NeutronError": {"type": name, "message": message, "detail": ""}}
    return JSONResponse(body, status_code=status)


#: Services behind keystonemiddleware: their 401 is Keystone's, without extra headers.
_KEYSTONE_401: frozenset[Service] = frozenset({"compute", "network"})


def _render(service: Service, error: ApiError, accept: str) -> Response:
    if service == "identity":
        return keystone_error(error.status, error.message)
    if service == "image":
        return glance_error(error.status, error.message, accept=accept)
    if service == "compute":
        return nova_error(error.status, error.message, kind=error.kind)
    return neutron_error(error.status, error.message, kind=error.kind)


def render_error(
    service: Service, error: ApiError, *, accept: str = "application/json"
) -> Response:
    """Render an :class:`ApiError` for the service it came from and the client's ``Accept``."""
    if error.status == 401 and service in _KEYSTONE_401:
        return keystone_error(401, error.message)
    response = _render(service, error, accept)
    response.headers.update(error.headers)
    return response
