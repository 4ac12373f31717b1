"""Nova ``/servers``: create, list, detail, show, update, delete and the action endpoint.

Validation and records live in :mod:`nova_servers` and :mod:`nova_actions`, answer shapes in
:mod:`nova_views`; the handlers here read the request and shape the answer.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.http import route
from denbi_jupyter.localcloud.nova_actions import run_action
from denbi_jupyter.localcloud.nova_api import NovaApi, NovaBody, empty, ok
from denbi_jupyter.localcloud.nova_microversion import Microversion, microversion_of
from denbi_jupyter.localcloud.nova_servers import (
    create_servers,
    delete_server,
    list_server_rows,
    server_to_change,
)
from denbi_jupyter.localcloud.nova_state import get_server, update_server
from denbi_jupyter.localcloud.nova_views import (
    compute_url,
    server_links,
    server_summary,
    server_view,
)
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.store import loads

__all__ = ["ServerApi"]


def _update_values(
    changes: dict[str, Any], version: Microversion
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns and extra attributes a ``PUT /servers/{id}`` changes.

    Raises:
        ApiError: 400 for an invalid name.
    """
    columns: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if "name" in changes:
        name = changes["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
        columns["name"] = name
    if "description" in changes and version >= (2, 19):
        extra["description"] = changes["description"]
    return columns, extra


class ServerApi(NovaApi):
    """``/servers`` and ``/servers/{id}/action``."""

    @route("POST", "/servers")
    def create(self, request: Request, body: NovaBody) -> Response:
        context = self.context_of(request)
        base = compute_url(request)
        with self.site.store.tx() as conn:
            created = create_servers(
                conn,
                self.site,
                context,
                body,
                version=microversion_of(request),
                boot_outcome=self.outcome_fault(request, "boot"),
            )
        server_id = created.server_id
        if body.get("server", {}).get("return_reservation_id") or body.get("return_reservation_id"):
            with self.site.store.tx() as conn:
                row = get_server(conn, server_id, context)
            reservation = (loads(row["extra"]) or {}).get("reservation_id")
            return ok({"reservation_id": reservation}, 202)
        answer = {
            "id": server_id,
            "links": server_links(base, server_id),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": created.admin_pass,
        }
        location = f"{base}/v2.1/servers/{server_id}"
        return ok({"server": answer}, 202, headers={"Location": location})

    def _listing(self, request: Request, *, detail: bool) -> Response:
        context = self.context_of(request)
        base, version = compute_url(request), microversion_of(request)
        with self.site.store.tx() as conn:
            rows = list_server_rows(conn, context, request.query_params)
            if detail:
                items = [
                    server_view(conn, r, base=base, version=version, context=context, in_list=True)
                    for r in rows
                ]
            else:
                items = [server_summary(r, base) for r in rows]
        body: dict[str, Any] = {"servers": items}
        limit = request.query_params.get("limit")
        if limit is not None and items and len(items) >= int(limit):
            url = request.url.remove_query_params("marker").include_query_params(
                marker=items[-1]["id"]
            )
            body["servers_links"] = [{"rel": "next", "href": str(url)}]
        return ok(body)

    @route("GET", "/servers")
    def list_servers(self, request: Request) -> Response:
        return self._listing(request, detail=False)

    @route("GET", "/servers/detail")
    def list_details(self, request: Request) -> Response:
        return self._listing(request, detail=True)

    def _view(
        self, conn: sqlite3.Connection, request: Request, server_id: str, context: TokenContext
    ) -> Response:
        row = get_server(conn, server_id, context)
        view = server_view(
            conn, row, base=compute_url(request), version=microversion_of(request), context=context
        )
        return ok({"server": view})

    @route("GET", "/servers/{server_id}")
    def show(self, server_id: str, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            return self._view(conn, request, server_id, context)

    @route("PUT", "/servers/{server_id}")
    def update(self, server_id: str, request: Request, body: NovaBody) -> Response:
        context = self.context_of(request)
        changes = body.get("server")
        if not isinstance(changes, dict):
            raise ApiError(400, "Invalid input for field/attribute server.")
        with self.site.store.tx() as conn:
            server_to_change(conn, server_id, context)
            columns, extra = _update_values(changes, microversion_of(request))
            update_server(conn, server_id, extra=extra or None, **columns)
            return self._view(conn, request, server_id, context)

    @route("DELETE", "/servers/{server_id}")
    def delete(self, server_id: str, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            row = get_server(conn, server_id, context)
            delete_server(conn, self.site, row, context)
        return empty(204)

    @route("POST", "/servers/{server_id}/action")
    def action(self, server_id: str, request: Request, body: NovaBody) -> Response:
        context = self.context_of(request)
        version = microversion_of(request)
        with self.site.store.tx() as conn:
            row = get_server(conn, server_id, context)
            result = run_action(
                conn,
                self.site,
                row,
                context,
                body,
                version=version,
                snapshot_outcome=self.outcome_fault(request, "snapshot"),
            )
        if result.image_id is None:
            return empty(202)
        if version >= (2, 45):
            return ok({"image_id": result.image_id}, 202)
        glance = compute_url(request).rsplit("/compute", 1)[0] + "/image"
        return Response(
            status_code=202,
            headers={
                "Content-Type": "text/html; charset=UTF-8",
                "Location": f"{glance}//images/{result.image_id}",
            },
        )
