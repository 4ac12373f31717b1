"""The ASGI app: every site's Keystone, Glance, Nova and Neutron under one port.

URLs are ``/{site}/identity/v3…``, ``/{site}/image/v2…``, ``/{site}/compute/v2.1…`` and
``/{site}/network/v2.0…``; ``/_admin`` holds the test-only fault endpoints. Each site is a
separate cloud with its own catalog, exactly as two real de.NBI sites are.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from denbi_jupyter.localcloud import admin, glance, keystone, neutron, nova
from denbi_jupyter.localcloud.faults_stream import StreamCut
from denbi_jupyter.localcloud.responses import ApiError, Service, render_error
from denbi_jupyter.localcloud.site import CloudState

__all__ = ["SERVICES", "create_app", "service_of"]

SERVICES: tuple[Service, ...] = ("identity", "image", "compute", "network")


def service_of(path: str) -> Service | None:
    """The service a request path goes to (``/bielefeld/image/v2/images`` → ``image``)."""
    parts = path.split("/", 3)
    segment = parts[2] if len(parts) >= 3 else ""
    return next((service for service in SERVICES if service == segment), None)


class _SiteMiddleware:
    """Before each site request: apply injected faults, then run the site's due events; an
    answer goes out through the held answers' ``send`` and an image download through the data
    faults'."""

    def __init__(self, app: ASGIApp, cloud: CloudState) -> None:
        self.app = app
        self.cloud = cloud

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/", 3)
        site = self.cloud.sites.get(parts[1]) if len(parts) > 1 else None
        if site is not None:
            going_on = await self.cloud.faults.intercept(scope, receive, send, site=site.name)
            if going_on is None:
                return  # a fault answered
            receive = going_on
            await run_in_threadpool(site.timeline.advance)
            send = self.cloud.faults.answer_send(scope, send, site=site.name)
            send = self.cloud.faults.data_send(scope, send, site=site.name)
        try:
            await self.app(scope, receive, send)
        except StreamCut:
            return  # a download_cut fault: the answer stays unfinished, the connection closes


def _error_response(request: Request, status: int, message: str) -> Response:
    service = service_of(request.url.path)
    if service is None:
        return JSONResponse({"message": message, "code": status}, status_code=status)
    accept = request.headers.get("accept", "")
    return render_error(service, ApiError(status, message), accept=accept)


def create_app(cloud: CloudState) -> FastAPI:
    """Build the app serving every site of ``cloud``."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for site in cloud.sites.values():
        app.include_router(keystone.build_router(site), prefix=f"/{site.name}/identity")
        app.include_router(glance.build_router(site), prefix=f"/{site.name}/image")
        app.include_router(nova.build_router(site), prefix=f"/{site.name}/compute")
        app.include_router(neutron.build_router(site), prefix=f"/{site.name}/network")
    app.include_router(admin.build_router(cloud), prefix="/_admin")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        service = service_of(request.url.path) or "image"
        return render_error(service, error, accept=request.headers.get("accept", ""))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error_response(request, 400, f"Invalid input for field/attribute {where}.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        message = (
            "The resource could not be found." if error.status_code == 404 else str(error.detail)
        )
        return _error_response(request, error.status_code, message)

    app.add_middleware(_SiteMiddleware, cloud=cloud)
    return app
