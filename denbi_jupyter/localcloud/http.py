"""The one way the local cloud's routes read JSON bodies and render their errors.

Each service words a malformed body its own way (:data:`MALFORMED_BODY`); everything else is
shared. A service's router uses :func:`service_route` as its ``route_class``, so every
:class:`~denbi_jupyter.localcloud.responses.ApiError` a handler (or one of its dependencies)
raises is rendered by :func:`~denbi_jupyter.localcloud.responses.render_error` in that
service's shape, wherever the router is mounted.

Handlers are methods of a small class per resource, marked with :func:`route` and mounted with
:func:`mount` (:func:`routes_of` lists them); they take their body as a dependency::

    class Tokens:
        @route("POST", "/v3/auth/tokens")
        def create(self, request: Request, body: Annotated[Any, Depends(json_body("identity"))]):
            ...

    mount(router, routes_of(Tokens()))
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.responses import ApiError, Service, render_error
from denbi_jupyter.localcloud.site import Site

__all__ = [
    "MALFORMED_BODY",
    "Endpoint",
    "Routes",
    "ServiceRoute",
    "SiteHandlers",
    "json_body",
    "mount",
    "object_body",
    "parse_json",
    "read_json",
    "route",
    "routes_of",
    "service_route",
]

#: The 400 message of each service for a body that is not JSON (Nova, Neutron: nor an object).
MALFORMED_BODY: dict[Service, str] = {
    "identity": "Expecting to find valid JSON in request body.",
    "image": "Malformed JSON in request body.",
    "compute": "Malformed request body",
    "network": "Malformed request body",
}

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def parse_json(raw: bytes, service: Service) -> Any:
    """``raw`` parsed as JSON.

    Raises:
        ApiError: 400 with the service's wording when it is not JSON (or not UTF-8).
    """
    try:
        return json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        raise ApiError(400, MALFORMED_BODY[service]) from None


async def read_json(request: Request, service: Service) -> Any:
    """The request body parsed as JSON (see :func:`parse_json`)."""
    return parse_json(await request.body(), service)


def json_body(service: Service) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving the request's JSON body, or a 400 in ``service``'s shape."""

    async def body(request: Request) -> Any:
        return await read_json(request, service)

    return body


def object_body(service: Service) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency giving the request's body as a JSON object, or a 400 in its shape."""

    async def body(request: Request) -> dict[str, Any]:
        data = await read_json(request, service)
        if not isinstance(data, dict):
            raise ApiError(400, MALFORMED_BODY[service])
        return data

    return body


class ServiceRoute(APIRoute):
    """A route that renders its :class:`ApiError`\\ s in the shape of :attr:`service`."""

    service: ClassVar[Service] = "image"

    def get_route_handler(self) -> Endpoint:
        handler = super().get_route_handler()

        async def rendered(request: Request) -> Response:
            try:
                return await self.answer(request, handler)
            except ApiError as error:
                accept = request.headers.get("accept", "")
                return render_error(self.service, error, accept=accept)

        return rendered

    async def answer(self, request: Request, handler: Endpoint) -> Response:
        """Run ``handler``; subclasses wrap it (e.g. Nova's microversion negotiation)."""
        return await handler(request)


_ROUTES: dict[Service, type[ServiceRoute]] = {
    service: type(f"{service.title()}Route", (ServiceRoute,), {"service": service})
    for service in ("identity", "image", "compute", "network")
}


def service_route(service: Service) -> type[ServiceRoute]:
    """The route class that renders errors as ``service`` does."""
    return _ROUTES[service]


_MARK = "__localcloud_routes__"
_Handler = TypeVar("_Handler", bound=Callable[..., Any])
#: ``(method, path, handler)`` triples.
Routes = list[tuple[str, str, Callable[..., Any]]]


class SiteHandlers:
    """The handlers of one service of ``site``: methods marked with :func:`route`."""

    def __init__(self, site: Site) -> None:
        self.site = site


def route(method: str, path: str) -> Callable[[_Handler], _Handler]:
    """Mark a handler method as serving ``method`` ``path`` (stack it for more paths)."""

    def mark(handler: _Handler) -> _Handler:
        setattr(handler, _MARK, [(method, path), *getattr(handler, _MARK, [])])
        return handler

    return mark


def routes_of(handlers: object) -> Routes:
    """The :func:`route`-marked methods of ``handlers``, bound, in the order they are written
    (so ``/servers/detail`` stays before ``/servers/{server_id}``)."""
    found: Routes = []
    for cls in reversed(type(handlers).__mro__):
        for name, member in vars(cls).items():
            for method, path in getattr(member, _MARK, ()):
                found.append((method, path, getattr(handlers, name)))
    return found


def mount(router: APIRouter, routes: Routes, *, prefix: str = "") -> None:
    """Add ``routes`` to ``router``, each path below ``prefix``."""
    for method, path, endpoint in routes:
        router.add_api_route(prefix + path, endpoint, methods=[method])
