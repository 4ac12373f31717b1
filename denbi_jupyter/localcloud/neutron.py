"""Neutron v2.0, enough for servers to get addresses: networks, subnets, ports.

Served at ``/{site}/network``: ``GET /`` (versions), ``/v2.0/networks``, ``/v2.0/subnets``,
``/v2.0/ports`` (create, list, show, update, delete), plus the read-only calls clients and
Nova make on the side (``extensions``, ``security-groups``, ``floatingips``, ``routers``,
``quotas``). Lists take Neutron's filters (any attribute, repeated = OR), ``fields``,
``limit``/``marker``; every path also answers with a ``.json`` suffix as old clients send it.
Nova allocates ports through the plain functions of :mod:`neutron_ports`.

Reuse in front of a real Nova: the router's token check is pluggable, so the same Neutron can
serve a real Nova (which sends tokens this server cannot check) from a tiny app of its own,
with a store of its own and no Keystone::

    store = SiteStore(path=folder / "neutron.sqlite", data_dir=folder / "data")
    site = Site(profile=DEFAULT_SITES[0], store=store, timeline=Timeline(store),
                timings=Timings())
    with store.tx() as conn:
        neutron_ports.create_network(conn, name="private", project_id=project_id,
                                     cidr="192.0.2.0/24")
    app = FastAPI()
    app.include_router(
        neutron.build_router(site, authenticate=neutron.permissive_authenticator(project_id))
    )
    # serve ``app`` with uvicorn on 127.0.0.1:9696; Nova's [neutron] endpoint points there

:func:`permissive_authenticator` accepts any token (or none) and speaks for the project in the
``X-Project-Id`` header, else the fixed one, with the admin role (Nova creates and binds ports
as admin, naming the owner in ``tenant_id``). The router renders its own errors in Neutron's
shape and builds links from the request, so it works mounted anywhere, without the local
cloud's app, middleware or exception handlers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud import auth
from denbi_jupyter.localcloud.auth import TokenContext, utcnow
from denbi_jupyter.localcloud.neutron_ports import (
    IpExhaustedError,
    NetworkNotFoundError,
    allocate_port,
    default_security_group_id,
    network_row,
    network_view,
    port_view,
    subnet_view,
    visible_networks,
)
from denbi_jupyter.localcloud.responses import ApiError, keystone_error, neutron_error
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "Authenticator",
    "NeutronApiError",
    "build_router",
    "permissive_authenticator",
    "register_events",
]

Authenticator = Callable[[Site, Request], TokenContext]

_PAGING_KEYS = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"})
_PORT_COLUMNS = ("name", "device_id", "device_owner")
_PORT_EXTRA_KEYS = frozenset(
    {"description", "binding:host_id", "binding:profile", "binding:vnic_type", "dns_name"}
)
_EXTENSIONS = (
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("external-net", "Neutron external network", "Adds external network attribute to network"),
    ("port-security", "Port Security", "Provides port security"),
    ("quotas", "Quota management support", "Expose functions for quotas management"),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding"),
    ("security-group", "security-group", "The security groups extension."),
)


class NeutronApiError(ApiError):
    """An :class:`ApiError` with Neutron's error ``type`` (e.g. ``PortNotFound``)."""

    def __init__(self, status: int, message: str, *, neutron_type: str) -> None:
        super().__init__(status, message)
        self.neutron_type = neutron_type


class _NeutronRoute(APIRoute):
    """Renders every error of the route in Neutron's shape, wherever the router is mounted."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def rendered(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                if error.status == 401:
                    return keystone_error(401, error.message)
                kind = getattr(error, "neutron_type", None) or _default_type(error.status)
                response: Response = neutron_error(error.status, error.message, kind=kind)
                return response

        return rendered


def _default_type(status: int) -> str:
    return {400: "HTTPBadRequest", 403: "HTTPForbidden", 404: "HTTPNotFound"}.get(
        status, "NeutronError"
    )


def permissive_authenticator(project_id: str, *, user_id: str = "nova") -> Authenticator:
    """A token check for a Neutron in front of a real Nova: any token passes.

    Args:
        project_id: The project a request speaks for when it has no ``X-Project-Id`` header.
        user_id: The user every request speaks for.
    """

    def authenticate(site: Site, request: Request) -> TokenContext:
        project = request.headers.get("X-Project-Id") or project_id
        return TokenContext(
            token_id=request.headers.get("X-Auth-Token", ""),
            user_id=user_id,
            user_name=user_id,
            project_id=project,
            project_name=project,
            roles=("admin", "member", "reader"),
        )

    return authenticate


def register_events(site: Site) -> None:
    """Neutron has no delayed state changes (ports are ready at once)."""


def _mount_url(request: Request) -> str:
    """The absolute URL the router is mounted at (``http://host:port/bielefeld/network``)."""
    path = request.url.path
    cut = path.find("/v2.0")
    mount = path[:cut] if cut >= 0 else path.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{mount}"


def _matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    if key == "fixed_ips":
        pairs = [w.split("=", 1) for w in wanted if "=" in w]
        return any(
            str(ip.get(field)) == value for field, value in pairs for ip in item["fixed_ips"]
        )
    if key not in item:
        return True
    value = item[key]
    if isinstance(value, bool):
        return any(w.lower() == str(value).lower() for w in wanted)
    if isinstance(value, list):
        return any(w in [str(v) for v in value] for w in wanted)
    return any(w == ("" if value is None else str(value)) for w in wanted)


def _listing(request: Request, collection: str, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Filter, page and project ``items`` as Neutron does for ``GET /v2.0/<collection>``."""
    params = request.query_params
    selected = list(items)
    for key in {k for k in params if k not in _PAGING_KEYS}:
        wanted = params.getlist(key)
        selected = [item for item in selected if _matches(item, key, wanted)]
    marker = params.get("marker")
    if marker:
        ids = [item["id"] for item in selected]
        selected = selected[ids.index(marker) + 1 :] if marker in ids else []
    body: dict[str, Any] = {}
    limit = params.get("limit")
    if limit and limit.isdigit() and int(limit) > 0:
        page = selected[: int(limit)]
        if len(selected) > len(page):
            url = request.url.remove_query_params("marker").include_query_params(
                marker=page[-1]["id"]
            )
            body[f"{collection}_links"] = [{"href": str(url), "rel": "next"}]
        selected = page
    body[collection] = [_project(request, item) for item in selected]
    return body


def _project(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    fields = request.query_params.getlist("fields")
    if not fields:
        return item
    return {key: value for key, value in item.items() if key in fields}


async def _body(request: Request, key: str) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise NeutronApiError(400, "Malformed request body", neutron_type="HTTPBadRequest") from exc
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise NeutronApiError(
            400, f"Resource body required: '{key}'", neutron_type="HTTPBadRequest"
        )
    value: dict[str, Any] = data[key]
    return value


def build_router(site: Site, *, authenticate: Authenticator = auth.authenticate) -> APIRouter:
    """The Neutron v2.0 API of ``site`` (mount it at ``/{site}/network``).

    Args:
        site: The site whose networks, subnets and ports are served.
        authenticate: Returns who a request speaks for or raises a 401 :class:`ApiError`;
            :func:`permissive_authenticator` makes one that accepts any token.
    """
    router = APIRouter(route_class=_NeutronRoute)

    def visible_project(context: TokenContext) -> str | None:
        return None if context.is_admin else context.project_id

    def route(path: str, methods: list[str], endpoint: Callable[..., Any], **kw: Any) -> None:
        if path.startswith("/v2.0/") and not path.endswith("/"):
            router.add_api_route(path + ".json", endpoint, methods=methods, **kw)
        router.add_api_route(path, endpoint, methods=methods, **kw)

    def versions(request: Request) -> dict[str, Any]:
        href = f"{_mount_url(request)}/v2.0/"
        return {
            "versions": [
                {"status": "CURRENT", "id": "v2.0", "links": [{"href": href, "rel": "self"}]}
            ]
        }

    def resources(request: Request) -> dict[str, Any]:
        base = f"{_mount_url(request)}/v2.0"
        names = ("network", "subnet", "port", "security_group", "floatingip", "router")
        return {
            "resources": [
                {
                    "links": [{"href": f"{base}/{n.replace('_', '-')}s", "rel": "self"}],
                    "name": n,
                    "collection": f"{n.replace('_', '-')}s",
                }
                for n in names
            ]
        }

    def extensions(request: Request) -> dict[str, Any]:
        authenticate(site, request)
        return {
            "extensions": [
                {
                    "alias": a,
                    "name": n,
                    "description": d,
                    "links": [],
                    "updated": "2013-01-01T10:00:00-00:00",
                }
                for a, n, d in _EXTENSIONS
            ]
        }

    def list_networks(request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            rows = visible_networks(conn, project_id=visible_project(context))
            items = [network_view(conn, row) for row in rows]
        return _listing(request, "networks", items)

    def show_network(network_id: str, request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            try:
                row = network_row(conn, network_id, project_id=visible_project(context))
            except NetworkNotFoundError as exc:
                raise NeutronApiError(404, str(exc), neutron_type="NetworkNotFound") from exc
            return {"network": _project(request, network_view(conn, row))}

    def subnet_items(conn: sqlite3.Connection, context: TokenContext) -> list[dict[str, Any]]:
        items = []
        for network in visible_networks(conn, project_id=visible_project(context)):
            for row in conn.execute(
                "SELECT * FROM subnets WHERE network_id = ? ORDER BY id", (network["id"],)
            ):
                items.append(subnet_view(row, created_at=network["created_at"]))
        return items

    def list_subnets(request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            items = subnet_items(conn, context)
        return _listing(request, "subnets", items)

    def show_subnet(subnet_id: str, request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            items = [s for s in subnet_items(conn, context) if s["id"] == subnet_id]
        if not items:
            raise NeutronApiError(
                404, f"Subnet {subnet_id} could not be found.", neutron_type="SubnetNotFound"
            )
        return {"subnet": _project(request, items[0])}

    def port_row(conn: sqlite3.Connection, context: TokenContext, port_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM ports WHERE id = ?", (port_id,)
        ).fetchone()
        if row is None or (not context.is_admin and row["project_id"] != context.project_id):
            raise NeutronApiError(
                404, f"Port {port_id} could not be found.", neutron_type="PortNotFound"
            )
        return row

    def list_ports(request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            if context.is_admin:
                rows = conn.execute("SELECT * FROM ports ORDER BY created_at, id").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM ports WHERE project_id = ? ORDER BY created_at, id",
                    (context.project_id,),
                ).fetchall()
        return _listing(request, "ports", [port_view(row) for row in rows])

    def show_port(port_id: str, request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            return {"port": _project(request, port_view(port_row(conn, context, port_id)))}

    async def create_port(request: Request) -> JSONResponse:
        body = await _body(request, "port")
        return JSONResponse({"port": await _threaded(request, create_port_sync, body)}, 201)

    def create_port_sync(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        context = authenticate(site, request)
        network_id = body.get("network_id")
        if not isinstance(network_id, str):
            raise NeutronApiError(
                400,
                "Failed to parse request. Required attribute 'network_id' not specified",
                neutron_type="HTTPBadRequest",
            )
        owner = context.project_id or ""
        if context.is_admin:
            owner = str(body.get("project_id") or body.get("tenant_id") or owner)
        wanted = [
            ip.get("ip_address") for ip in body.get("fixed_ips") or [] if isinstance(ip, dict)
        ]
        extra = {k: v for k, v in body.items() if k in _PORT_EXTRA_KEYS}
        with site.store.tx() as conn:
            try:
                network_row(conn, network_id, project_id=visible_project(context))
                return allocate_port(
                    conn,
                    network_id=network_id,
                    project_id=owner,
                    device_id=str(body.get("device_id") or ""),
                    device_owner=str(body.get("device_owner") or ""),
                    name=str(body.get("name") or ""),
                    fixed_ip=next((str(ip) for ip in wanted if ip), None),
                    extra=extra,
                )
            except NetworkNotFoundError as exc:
                raise NeutronApiError(404, str(exc), neutron_type="NetworkNotFound") from exc
            except IpExhaustedError as exc:
                raise NeutronApiError(
                    409, str(exc), neutron_type="IpAddressGenerationFailure"
                ) from exc

    async def update_port(port_id: str, request: Request) -> dict[str, Any]:
        body = await _body(request, "port")
        return {"port": await _threaded(request, update_port_sync, body, port_id)}

    def update_port_sync(request: Request, body: dict[str, Any], port_id: str) -> dict[str, Any]:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            row = port_row(conn, context, port_id)
            extra = dict(loads(row["extra"]) or {})
            extra.update({k: v for k, v in body.items() if k in _PORT_EXTRA_KEYS})
            extra["revision_number"] = int(extra.get("revision_number", 1)) + 1
            extra["updated_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
            values = {
                c: str(body[c]) if body.get(c) is not None else ""
                for c in _PORT_COLUMNS
                if c in body
            }
            assignments = "".join(f"{column} = ?, " for column in values)
            conn.execute(
                f"UPDATE ports SET {assignments}extra = ? WHERE id = ?",
                (*values.values(), dumps(extra), port_id),
            )
            return port_view(port_row(conn, context, port_id))

    def delete_port(port_id: str, request: Request) -> Response:
        context = authenticate(site, request)
        with site.store.tx() as conn:
            port_row(conn, context, port_id)
            conn.execute("DELETE FROM ports WHERE id = ?", (port_id,))
        return Response(status_code=204)

    def security_group(project_id: str) -> dict[str, Any]:
        group_id = default_security_group_id(project_id)
        rules = [
            {
                "id": f"{group_id[:-3]}{index:03d}",
                "direction": direction,
                "ethertype": ethertype,
                "protocol": None,
                "port_range_min": None,
                "port_range_max": None,
                "remote_ip_prefix": None,
                "remote_group_id": None if direction == "egress" else group_id,
                "security_group_id": group_id,
                "tenant_id": project_id,
                "project_id": project_id,
                "description": "",
            }
            for index, (direction, ethertype) in enumerate(
                [("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"), ("ingress", "IPv6")]
            )
        ]
        return {
            "id": group_id,
            "name": "default",
            "description": "Default security group",
            "stateful": True,
            "tenant_id": project_id,
            "project_id": project_id,
            "security_group_rules": rules,
            "tags": [],
        }

    def list_security_groups(request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        groups = [security_group(context.project_id)] if context.project_id else []
        return _listing(request, "security_groups", groups)

    def show_security_group(group_id: str, request: Request) -> dict[str, Any]:
        context = authenticate(site, request)
        if context.project_id and group_id == default_security_group_id(context.project_id):
            return {"security_group": security_group(context.project_id)}
        raise NeutronApiError(
            404, f"Security group {group_id} does not exist", neutron_type="SecurityGroupNotFound"
        )

    def empty_list(collection: str) -> Callable[[Request], dict[str, Any]]:
        def listing(request: Request) -> dict[str, Any]:
            authenticate(site, request)
            return {collection: []}

        return listing

    def show_quota(project_id: str, request: Request) -> dict[str, Any]:
        authenticate(site, request)
        return {
            "quota": {
                "network": 100,
                "subnet": 100,
                "port": 500,
                "router": 10,
                "floatingip": 50,
                "security_group": 10,
                "security_group_rule": 100,
                "rbac_policy": 10,
                "subnetpool": -1,
            }
        }

    route("/", ["GET"], versions)
    route("/v2.0", ["GET"], resources)
    route("/v2.0/", ["GET"], resources)
    route("/v2.0/extensions", ["GET"], extensions)
    route("/v2.0/networks", ["GET"], list_networks)
    route("/v2.0/networks/{network_id}", ["GET"], show_network)
    route("/v2.0/subnets", ["GET"], list_subnets)
    route("/v2.0/subnets/{subnet_id}", ["GET"], show_subnet)
    route("/v2.0/ports", ["GET"], list_ports)
    route("/v2.0/ports", ["POST"], create_port)
    route("/v2.0/ports/{port_id}", ["GET"], show_port)
    route("/v2.0/ports/{port_id}", ["PUT"], update_port)
    route("/v2.0/ports/{port_id}", ["DELETE"], delete_port)
    route("/v2.0/security-groups", ["GET"], list_security_groups)
    route("/v2.0/security-groups/{group_id}", ["GET"], show_security_group)
    route("/v2.0/floatingips", ["GET"], empty_list("floatingips"))
    route("/v2.0/routers", ["GET"], empty_list("routers"))
    route("/v2.0/quotas/{project_id}", ["GET"], show_quota)
    return router


async def _threaded(request: Request, function: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking handler part in the threadpool (database work never blocks the loop)."""
    return await run_in_threadpool(function, request, *args)
