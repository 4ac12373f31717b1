"""Nova v2.1 of one site, mounted at ``/{site}/compute``; answers as Nova 34 does.

``GET /`` lists versions (200, unversioned). Everything under ``/v2.1`` negotiates a
microversion (2.1 to 2.104, see :mod:`nova_microversion`) and echoes it: version document,
flavors (+ ``os-extra_specs``), key pairs, servers (create, list, detail, show, update,
delete, metadata), actions (createImage, os-stop, os-start, reboot, lock, unlock), limits and
quota sets. Lasting changes run on the site's timeline (:mod:`nova_state`); validation lives in
:mod:`nova_servers`, :mod:`nova_actions`, :mod:`nova_keypairs`, :mod:`nova_quotas`, the
answer shapes in :mod:`nova_views`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud import auth, nova_state
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.faults import injector_of
from denbi_jupyter.localcloud.nova_actions import run_action
from denbi_jupyter.localcloud.nova_keypairs import (
    create_keypair,
    delete_keypair,
    keypair_row,
    keypair_view,
)
from denbi_jupyter.localcloud.nova_microversion import (
    MAX_VERSION,
    MIN_VERSION,
    NovaRoute,
    microversion_of,
)
from denbi_jupyter.localcloud.nova_quotas import (
    DEFAULT_QUOTAS,
    limits_view,
    quota_set_view,
    set_quota,
)
from denbi_jupyter.localcloud.nova_servers import (
    check_metadata,
    create_servers,
    delete_server,
    list_server_rows,
    server_to_change,
    set_metadata,
)
from denbi_jupyter.localcloud.nova_state import check_state, get_server, update_server
from denbi_jupyter.localcloud.nova_views import (
    compute_url,
    flavor_view,
    server_links,
    server_summary,
    server_view,
)
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = ["build_router", "register_events"]

_UPDATED = "2013-07-23T11:33:21Z"
_METADATA_STATES = ("active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded")


def register_events(site: Site) -> None:
    """Register Nova's delayed server steps on the site's timeline."""
    nova_state.register_events(site)


def _version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": _version_text(MAX_VERSION),
        "min_version": _version_text(MIN_VERSION),
        "updated": _UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
    }


async def _json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        ApiError: 400 "Malformed request body" otherwise.
    """
    try:
        data = await request.json()
    except ValueError as exc:
        raise ApiError(400, "Malformed request body") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Malformed request body")
    return data


async def _with_body(request: Request, handler: Callable[..., Response], *args: Any) -> Response:
    """Read the JSON body, then run ``handler(request, body, *args)`` in the threadpool."""
    body = await _json(request)
    return await run_in_threadpool(handler, request, body, *args)


def _ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def _empty(status: int) -> Response:
    return Response(status_code=status, media_type="application/json")


def build_router(site: Site) -> APIRouter:
    """The Nova API of ``site`` (mount it at ``/{site}/compute``)."""
    router = APIRouter()
    api = APIRouter(route_class=NovaRoute)

    def context_of(request: Request) -> TokenContext:
        context = auth.authenticate(site, request)
        if context.project_id is None:
            raise ApiError(403, "Policy doesn't allow this call without a project-scoped token.")
        return context

    def outcome_fault(request: Request, prefix: str) -> Callable[[], str | None] | None:
        """How an injected fault ends the operation ``request`` starts (``snapshot``/``boot``)."""
        injector = injector_of(request)
        if injector is None:
            return None
        return lambda: injector.take_outcome(
            prefix, site=site.name, method=request.method, path=request.url.path
        )

    # --- versions -------------------------------------------------------------------------

    def root(request: Request) -> Response:
        base = compute_url(request)
        legacy = {
            "id": "v2.0",
            "status": "DEPRECATED",
            "version": "",
            "min_version": "",
            "updated": "2025-07-04T12:00:00Z",
            "links": [{"rel": "self", "href": f"{base}/v2/"}],
        }
        return _ok({"versions": [legacy, _version_doc(base)]})

    def version(request: Request) -> Response:
        base = compute_url(request)
        doc = _version_doc(base)
        doc["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        )
        doc["media-types"] = [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ]
        return _ok({"version": doc})

    # --- flavors --------------------------------------------------------------------------

    def flavor_rows(request: Request, context: TokenContext) -> list[Any]:
        params = request.query_params
        is_public = (params.get("is_public") or "true").lower()
        with site.store.tx() as conn:
            rows = conn.execute("SELECT * FROM flavors ORDER BY id").fetchall()
        if not context.is_admin:
            rows = [r for r in rows if r["is_public"]]
        elif is_public in ("false", "f", "0", "no", "off"):
            rows = [r for r in rows if not r["is_public"]]
        elif is_public not in ("none",):
            rows = [r for r in rows if r["is_public"]]
        if params.get("minDisk", "").isdigit():
            rows = [r for r in rows if int(r["disk"]) >= int(params["minDisk"])]
        if params.get("minRam", "").isdigit():
            rows = [r for r in rows if int(r["ram"]) >= int(params["minRam"])]
        marker = params.get("marker")
        if marker is not None:
            ids = [str(r["id"]) for r in rows]
            if marker not in ids:
                raise ApiError(400, f"marker [{marker}] not found")
            rows = rows[ids.index(marker) + 1 :]
        if params.get("limit", "").isdigit():
            rows = rows[: int(params["limit"])]
        return rows

    def list_flavors(request: Request, *, detail: bool) -> Response:
        context = context_of(request)
        base, version_ = compute_url(request), microversion_of(request)
        rows = flavor_rows(request, context)
        flavors = [flavor_view(r, base=base, version=version_, detail=detail) for r in rows]
        return _ok({"flavors": flavors})

    def flavors(request: Request) -> Response:
        return list_flavors(request, detail=False)

    def flavors_detail(request: Request) -> Response:
        return list_flavors(request, detail=True)

    def flavor_row(request: Request, flavor_id: str) -> Any:
        context = context_of(request)
        with site.store.tx() as conn:
            row = conn.execute("SELECT * FROM flavors WHERE id = ?", (flavor_id,)).fetchone()
        if row is None or (not row["is_public"] and not context.is_admin):
            raise ApiError(404, f"Flavor {flavor_id} could not be found.")
        return row

    def show_flavor(flavor_id: str, request: Request) -> Response:
        row = flavor_row(request, flavor_id)
        view = flavor_view(row, base=compute_url(request), version=microversion_of(request))
        return _ok({"flavor": view})

    def extra_specs(flavor_id: str, request: Request) -> Response:
        row = flavor_row(request, flavor_id)
        return _ok({"extra_specs": loads(row["extra_specs"]) or {}})

    def extra_spec(flavor_id: str, key: str, request: Request) -> Response:
        specs = loads(flavor_row(request, flavor_id)["extra_specs"]) or {}
        if key not in specs:
            raise ApiError(404, f"Flavor {flavor_id} has no extra specs with key {key}.")
        return _ok({key: specs[key]})

    # --- key pairs ------------------------------------------------------------------------

    def list_keypairs(request: Request) -> Response:
        context = context_of(request)
        version_ = microversion_of(request)
        with site.store.tx() as conn:
            rows = conn.execute(
                "SELECT rowid, * FROM keypairs WHERE user_id = ? ORDER BY name",
                (context.user_id,),
            ).fetchall()
        items = [{"keypair": keypair_view(r, version=version_, detail=False)} for r in rows]
        return _ok({"keypairs": items})

    async def create_keypair_route(request: Request) -> Response:
        return await _with_body(request, create_keypair_sync)

    def create_keypair_sync(request: Request, body: dict[str, Any]) -> Response:
        context = context_of(request)
        version_ = microversion_of(request)
        with site.store.tx() as conn:
            row, private_key = create_keypair(
                conn,
                user_id=context.user_id,
                project_id=str(context.project_id),
                body=body,
                version=version_,
            )
        view = keypair_view(row, version=version_, detail=False, created=version_ >= (2, 10))
        if private_key is not None:
            view["private_key"] = private_key
        return _ok({"keypair": view}, 201 if version_ >= (2, 2) else 200)

    def show_keypair(name: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            row = keypair_row(conn, context.user_id, name)
        return _ok({"keypair": keypair_view(row, version=microversion_of(request), detail=True)})

    def delete_keypair_route(name: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            delete_keypair(conn, context.user_id, name)
        return _empty(204 if microversion_of(request) >= (2, 2) else 202)

    # --- servers --------------------------------------------------------------------------

    async def create_server(request: Request) -> Response:
        return await _with_body(request, create_server_sync)

    def create_server_sync(request: Request, body: dict[str, Any]) -> Response:
        context = context_of(request)
        base = compute_url(request)
        with site.store.tx() as conn:
            created = create_servers(
                conn,
                site,
                context,
                body,
                version=microversion_of(request),
                boot_outcome=outcome_fault(request, "boot"),
            )
        server_id = created.server_id
        server = body.get("server", {})
        if server.get("return_reservation_id") or body.get("return_reservation_id"):
            with site.store.tx() as conn:
                row = get_server(conn, server_id, context)
            reservation = (loads(row["extra"]) or {}).get("reservation_id")
            return _ok({"reservation_id": reservation}, 202)
        answer = {
            "id": server_id,
            "links": server_links(base, server_id),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": created.admin_pass,
        }
        location = f"{base}/v2.1/servers/{server_id}"
        return _ok({"server": answer}, 202, headers={"Location": location})

    def list_servers(request: Request, *, detail: bool) -> Response:
        context = context_of(request)
        base, version_ = compute_url(request), microversion_of(request)
        with site.store.tx() as conn:
            rows = list_server_rows(conn, context, request.query_params)
            if detail:
                items = [
                    server_view(conn, r, base=base, version=version_, context=context, in_list=True)
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
        return _ok(body)

    def servers(request: Request) -> Response:
        return list_servers(request, detail=False)

    def servers_detail(request: Request) -> Response:
        return list_servers(request, detail=True)

    def show_server(server_id: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            row = get_server(conn, server_id, context)
            view = server_view(
                conn,
                row,
                base=compute_url(request),
                version=microversion_of(request),
                context=context,
            )
        return _ok({"server": view})

    async def update_server_route(server_id: str, request: Request) -> Response:
        return await _with_body(request, update_server_sync, server_id)

    def update_server_sync(request: Request, body: dict[str, Any], server_id: str) -> Response:
        context = context_of(request)
        version_ = microversion_of(request)
        changes = body.get("server")
        if not isinstance(changes, dict):
            raise ApiError(400, "Invalid input for field/attribute server.")
        with site.store.tx() as conn:
            row = server_to_change(conn, server_id, context)
            columns: dict[str, Any] = {}
            extra: dict[str, Any] = {}
            if "name" in changes:
                name = changes["name"]
                if not isinstance(name, str) or not 1 <= len(name) <= 255:
                    raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
                columns["name"] = name
            if "description" in changes and version_ >= (2, 19):
                extra["description"] = changes["description"]
            update_server(conn, server_id, extra=extra or None, **columns)
            row = get_server(conn, server_id, context)
            view = server_view(
                conn, row, base=compute_url(request), version=version_, context=context
            )
        return _ok({"server": view})

    def delete_server_route(server_id: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            row = get_server(conn, server_id, context)
            delete_server(conn, site, row, context)
        return _empty(204)

    async def action(server_id: str, request: Request) -> Response:
        return await _with_body(request, action_sync, server_id)

    def action_sync(request: Request, body: dict[str, Any], server_id: str) -> Response:
        context = context_of(request)
        version_ = microversion_of(request)
        with site.store.tx() as conn:
            row = get_server(conn, server_id, context)
            result = run_action(
                conn,
                site,
                row,
                context,
                body,
                version=version_,
                snapshot_outcome=outcome_fault(request, "snapshot"),
            )
        if result.image_id is None:
            return _empty(202)
        if version_ >= (2, 45):
            return _ok({"image_id": result.image_id}, 202)
        glance = compute_url(request).rsplit("/compute", 1)[0] + "/image"
        return Response(
            status_code=202,
            headers={
                "Content-Type": "text/html; charset=UTF-8",
                "Location": f"{glance}//images/{result.image_id}",
            },
        )

    # --- metadata -------------------------------------------------------------------------

    def get_metadata(server_id: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            row = get_server(conn, server_id, context)
        return _ok({"metadata": loads(row["metadata"]) or {}})

    async def post_metadata(server_id: str, request: Request) -> Response:
        return await _with_body(request, write_metadata, server_id, False)

    async def put_metadata(server_id: str, request: Request) -> Response:
        return await _with_body(request, write_metadata, server_id, True)

    def write_metadata(
        request: Request, body: dict[str, Any], server_id: str, replace: bool
    ) -> Response:
        context = context_of(request)
        if "metadata" not in body:
            raise ApiError(
                400, "Invalid input for field/attribute metadata. 'metadata' is a required property"
            )
        with site.store.tx() as conn:
            row = server_to_change(conn, server_id, context)
            check_state(row, "update metadata", vm_states=_METADATA_STATES, task_states=None)
            metadata = check_metadata(conn, row["project_id"], body["metadata"])
            if not replace:
                merged = {**(loads(row["metadata"]) or {}), **metadata}
                check_metadata(conn, row["project_id"], merged)
            result = set_metadata(conn, row, metadata, replace=replace)
        return _ok({"metadata": result})

    def get_metadata_item(server_id: str, key: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            metadata = loads(get_server(conn, server_id, context)["metadata"]) or {}
        if key not in metadata:
            raise ApiError(404, "Metadata item was not found")
        return _ok({"meta": {key: metadata[key]}})

    async def put_metadata_item(server_id: str, key: str, request: Request) -> Response:
        return await _with_body(request, put_item_sync, server_id, key)

    def put_item_sync(request: Request, body: dict[str, Any], server_id: str, key: str) -> Response:
        context = context_of(request)
        meta = body.get("meta")
        if not isinstance(meta, dict) or len(meta) != 1:
            raise ApiError(
                400,
                "Request body contains too many items"
                if isinstance(meta, dict)
                else "Malformed request body",
            )
        if key not in meta:
            raise ApiError(400, "Request body and URI mismatch")
        with site.store.tx() as conn:
            row = server_to_change(conn, server_id, context)
            check_state(row, "update metadata", vm_states=_METADATA_STATES, task_states=None)
            merged = {**(loads(row["metadata"]) or {}), **meta}
            check_metadata(conn, row["project_id"], merged)
            set_metadata(conn, row, merged, replace=True)
        return _ok({"meta": meta})

    def delete_metadata_item(server_id: str, key: str, request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            row = server_to_change(conn, server_id, context)
            check_state(row, "delete metadata", vm_states=_METADATA_STATES, task_states=None)
            metadata = dict(loads(row["metadata"]) or {})
            if key not in metadata:
                raise ApiError(404, "Metadata item was not found")
            del metadata[key]
            update_server(conn, server_id, metadata=dumps(metadata))
        return _empty(204)

    # --- limits and quotas ----------------------------------------------------------------

    def limits(request: Request) -> Response:
        context = context_of(request)
        with site.store.tx() as conn:
            body = limits_view(conn, str(context.project_id), version=microversion_of(request))
        return _ok({"limits": body})

    def quota_project(request: Request, project_id: str, action_name: str) -> TokenContext:
        context = context_of(request)
        if project_id != context.project_id and not context.is_admin:
            raise ApiError(
                403,
                f"Policy doesn't allow os_compute_api:os-quota-sets:{action_name} to be performed.",
            )
        return context

    def keypairs_used(conn: Any, context: TokenContext) -> int:
        row = conn.execute(
            "SELECT COUNT(*) FROM keypairs WHERE user_id = ?", (context.user_id,)
        ).fetchone()
        return int(row[0])

    def show_quota(project_id: str, request: Request) -> Response:
        quota_project(request, project_id, "show")
        with site.store.tx() as conn:
            body = quota_set_view(conn, project_id, version=microversion_of(request))
        return _ok({"quota_set": body})

    def quota_detail(project_id: str, request: Request) -> Response:
        context = quota_project(request, project_id, "detail")
        with site.store.tx() as conn:
            body = quota_set_view(
                conn,
                project_id,
                version=microversion_of(request),
                detail=True,
                keypairs_used=keypairs_used(conn, context),
            )
        return _ok({"quota_set": body})

    def quota_defaults(project_id: str, request: Request) -> Response:
        context_of(request)
        return _ok({"quota_set": {"id": project_id, **DEFAULT_QUOTAS}})

    async def update_quota(project_id: str, request: Request) -> Response:
        return await _with_body(request, update_quota_sync, project_id)

    def update_quota_sync(request: Request, body: dict[str, Any], project_id: str) -> Response:
        context = context_of(request)
        if not context.is_admin:
            raise ApiError(
                403, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."
            )
        values = body.get("quota_set")
        if not isinstance(values, dict):
            raise ApiError(400, "Invalid input for field/attribute quota_set.")
        changes = {k: v for k, v in values.items() if k != "force"}
        bad = [k for k, v in changes.items() if k not in DEFAULT_QUOTAS or not isinstance(v, int)]
        if bad:
            raise ApiError(
                400,
                f"Invalid input for field/attribute quota_set. Additional "
                f"properties are not allowed or not integers: {', '.join(bad)}",
            )
        with site.store.tx() as conn:
            set_quota(conn, project_id, changes)
            view = quota_set_view(conn, project_id, version=microversion_of(request), with_id=False)
        return _ok({"quota_set": view})

    router.add_api_route("/", root, methods=["GET"])
    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/v2.1", version),
        ("GET", "/v2.1/", version),
        ("GET", "/v2.1/flavors", flavors),
        ("GET", "/v2.1/flavors/detail", flavors_detail),
        ("GET", "/v2.1/flavors/{flavor_id}", show_flavor),
        ("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs", extra_specs),
        ("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", extra_spec),
        ("GET", "/v2.1/os-keypairs", list_keypairs),
        ("POST", "/v2.1/os-keypairs", create_keypair_route),
        ("GET", "/v2.1/os-keypairs/{name}", show_keypair),
        ("DELETE", "/v2.1/os-keypairs/{name}", delete_keypair_route),
        ("GET", "/v2.1/servers", servers),
        ("POST", "/v2.1/servers", create_server),
        ("GET", "/v2.1/servers/detail", servers_detail),
        ("GET", "/v2.1/servers/{server_id}", show_server),
        ("PUT", "/v2.1/servers/{server_id}", update_server_route),
        ("DELETE", "/v2.1/servers/{server_id}", delete_server_route),
        ("POST", "/v2.1/servers/{server_id}/action", action),
        ("GET", "/v2.1/servers/{server_id}/metadata", get_metadata),
        ("POST", "/v2.1/servers/{server_id}/metadata", post_metadata),
        ("PUT", "/v2.1/servers/{server_id}/metadata", put_metadata),
        ("GET", "/v2.1/servers/{server_id}/metadata/{key}", get_metadata_item),
        ("PUT", "/v2.1/servers/{server_id}/metadata/{key}", put_metadata_item),
        ("DELETE", "/v2.1/servers/{server_id}/metadata/{key}", delete_metadata_item),
        ("GET", "/v2.1/limits", limits),
        ("GET", "/v2.1/os-quota-sets/{project_id}", show_quota),
        ("PUT", "/v2.1/os-quota-sets/{project_id}", update_quota),
        ("GET", "/v2.1/os-quota-sets/{project_id}/detail", quota_detail),
        ("GET", "/v2.1/os-quota-sets/{project_id}/defaults", quota_defaults),
    ]
    for method, path, endpoint in routes:
        api.add_api_route(path, endpoint, methods=[method])
    router.include_router(api)
    return router
