"""Nova flavors: list (``is_public``, ``minDisk``, ``minRam``, ``marker``, ``limit``), show,
extra specs. Non-admins see public flavors only."""

from __future__ import annotations

import sqlite3

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.http import route
from denbi_jupyter.localcloud.nova_api import NovaApi, ok
from denbi_jupyter.localcloud.nova_microversion import microversion_of
from denbi_jupyter.localcloud.nova_views import compute_url, flavor_view
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.store import loads

__all__ = ["FlavorApi", "select_flavors"]

_FALSE = ("false", "f", "0", "no", "off")


def _by_visibility(
    rows: list[sqlite3.Row], context: TokenContext, is_public: str
) -> list[sqlite3.Row]:
    """Public flavors; an admin may ask for private ones (``false``) or all (``none``)."""
    if context.is_admin and is_public in _FALSE:
        return [r for r in rows if not r["is_public"]]
    if context.is_admin and is_public == "none":
        return rows
    return [r for r in rows if r["is_public"]]


def select_flavors(
    rows: list[sqlite3.Row], context: TokenContext, params: QueryParams
) -> list[sqlite3.Row]:
    """The flavors of a list request, filtered and paged as Nova does.

    Raises:
        ApiError: 400 for an unknown marker.
    """
    rows = _by_visibility(rows, context, (params.get("is_public") or "true").lower())
    for param, column in (("minDisk", "disk"), ("minRam", "ram")):
        if params.get(param, "").isdigit():
            rows = [r for r in rows if int(r[column]) >= int(params[param])]
    marker = params.get("marker")
    if marker is not None:
        ids = [str(r["id"]) for r in rows]
        if marker not in ids:
            raise ApiError(400, f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    if params.get("limit", "").isdigit():
        rows = rows[: int(params["limit"])]
    return rows


class FlavorApi(NovaApi):
    """``/flavors``: list, detail, show and extra specs."""

    def _listing(self, request: Request, *, detail: bool) -> Response:
        context = self.context_of(request)
        base, version = compute_url(request), microversion_of(request)
        with self.site.store.tx() as conn:
            rows = conn.execute("SELECT * FROM flavors ORDER BY id").fetchall()
        rows = select_flavors(rows, context, request.query_params)
        flavors = [flavor_view(r, base=base, version=version, detail=detail) for r in rows]
        return ok({"flavors": flavors})

    @route("GET", "/flavors")
    def list_flavors(self, request: Request) -> Response:
        return self._listing(request, detail=False)

    @route("GET", "/flavors/detail")
    def list_details(self, request: Request) -> Response:
        return self._listing(request, detail=True)

    def _row(self, request: Request, flavor_id: str) -> sqlite3.Row:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM flavors WHERE id = ?", (flavor_id,)
            ).fetchone()
        if row is None or (not row["is_public"] and not context.is_admin):
            raise ApiError(404, f"Flavor {flavor_id} could not be found.")
        return row

    @route("GET", "/flavors/{flavor_id}")
    def show(self, flavor_id: str, request: Request) -> Response:
        row = self._row(request, flavor_id)
        view = flavor_view(row, base=compute_url(request), version=microversion_of(request))
        return ok({"flavor": view})

    @route("GET", "/flavors/{flavor_id}/os-extra_specs")
    def extra_specs(self, flavor_id: str, request: Request) -> Response:
        return ok({"extra_specs": loads(self._row(request, flavor_id)["extra_specs"]) or {}})

    @route("GET", "/flavors/{flavor_id}/os-extra_specs/{key}")
    def extra_spec(self, flavor_id: str, key: str, request: Request) -> Response:
        specs = loads(self._row(request, flavor_id)["extra_specs"]) or {}
        if key not in specs:
            raise ApiError(404, f"Flavor {flavor_id} has no extra specs with key {key}.")
        return ok({key: specs[key]})
