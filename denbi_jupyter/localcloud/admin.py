"""Test-only endpoints at ``/_admin``: manage fault rules while the cloud runs.

* ``GET /_admin/faults`` → ``{"rules": [...]}`` (each with ``id``, remaining ``count``, ``fired``)
* ``POST /_admin/faults`` with a rule, a list of rules or ``{"rules": [...]}`` → 201 with the
  added rules; 400 with ``{"error": "..."}`` for an invalid rule (nothing is added then)
* ``DELETE /_admin/faults`` → 204, every rule removed

No Keystone token is needed: the server listens on loopback only, and these endpoints refuse
any client that is not on loopback (403). The rule format is documented in :mod:`faults`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud.site import CloudState

__all__ = ["build_router"]


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def _refused() -> JSONResponse:
    return JSONResponse({"error": "/_admin answers loopback clients only"}, status_code=403)


def build_router(cloud: CloudState) -> APIRouter:
    """The ``/_admin`` endpoints of ``cloud`` (mount them at ``/_admin``)."""
    router = APIRouter()

    @router.get("/faults")
    def list_faults(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        return JSONResponse({"rules": cloud.faults.rules()})

    @router.post("/faults")
    async def add_faults(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        try:
            data: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        try:
            rules = cloud.faults.add(data)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"rules": [rule.to_dict() for rule in rules]}, status_code=201)

    @router.delete("/faults")
    def clear_faults(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        cloud.faults.clear()
        return Response(status_code=204)

    return router
