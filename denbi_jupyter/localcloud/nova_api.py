"""What every Nova handler class shares: the site, who asks, fault outcomes, answer helpers.

Each resource (:mod:`nova_flavors`, :mod:`nova_keypairs`, :mod:`nova_quotas`,
:mod:`nova_server_api`, :mod:`nova_metadata`) subclasses :class:`NovaApi` and marks its
handlers with :func:`~denbi_jupyter.localcloud.http.route` (paths below ``/v2.1``);
:func:`~denbi_jupyter.localcloud.nova.build_router` mounts them under ``/v2.1`` with
:class:`~denbi_jupyter.localcloud.nova_microversion.NovaRoute`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud import auth
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.faults import injector_of
from denbi_jupyter.localcloud.http import SiteHandlers, object_body

__all__ = ["NovaApi", "NovaBody", "Outcome", "empty", "ok"]

#: A Nova request body: a JSON object, else 400 "Malformed request body".
NovaBody = Annotated[dict[str, Any], Depends(object_body("compute"))]
#: Asked once an operation passed its checks: how an injected fault ends it, or None.
Outcome = Callable[[], str | None]


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return JSONResponse(body, status_code=status, headers=headers)


def empty(status: int) -> Response:
    """An answer without a body (Nova still says ``application/json``)."""
    return Response(status_code=status, media_type="application/json")


class NovaApi(SiteHandlers):
    """Handlers of one Nova resource of ``site``."""

    def context_of(self, request: Request) -> TokenContext:
        """Who asks (a project-scoped token).

        Raises:
            ApiError: 401 without a valid token, 403 for an unscoped one.
        """
        refusal = "Policy doesn't allow this call without a project-scoped token."
        return auth.scoped(self.site, request, refusal=refusal)

    def outcome_fault(self, request: Request, prefix: str) -> Outcome | None:
        """How an injected fault ends the operation ``request`` starts (``snapshot``/``boot``)."""
        injector = injector_of(request)
        if injector is None:
            return None
        site = self.site.name
        return lambda: injector.take_outcome(
            prefix, site=site, method=request.method, path=request.url.path
        )
