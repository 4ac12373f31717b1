"""Neutron's resource handlers: networks, subnets, ports, security groups; list filtering.

Lists take Neutron's filters (any attribute, repeated = OR), ``fields`` and ``limit``/``marker``
(:func:`listing`). Each class serves one resource of a site, checking tokens with the router's
:data:`Authenticator`; its handlers are marked with :func:`~denbi_jupyter.localcloud.http.route`
and :func:`~denbi_jupyter.localcloud.neutron.build_router` mounts them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud.auth import TokenContext, utcnow
from denbi_jupyter.localcloud.http import SiteHandlers, read_json, route
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
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "Authenticator",
    "NetworkApi",
    "NeutronApi",
    "PortApi",
    "SecurityGroupApi",
    "listing",
    "project_fields",
]

Authenticator = Callable[[Site, Request], TokenContext]

_PAGING_KEYS = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"})
_PORT_COLUMNS = ("name", "device_id", "device_owner")
_PORT_EXTRA_KEYS = frozenset(
    {"description", "binding:host_id", "binding:profile", "binding:vnic_type", "dns_name"}
)
_RULES = (("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"), ("ingress", "IPv6"))


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


def listing(request: Request, collection: str, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
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
    body[collection] = [project_fields(request, item) for item in selected]
    return body


def project_fields(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` cut down to the request's ``fields`` (all of it without any)."""
    fields = request.query_params.getlist("fields")
    if not fields:
        return item
    return {key: value for key, value in item.items() if key in fields}


def resource_body(key: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency giving ``body[key]``, a JSON object, else Neutron's 400."""

    async def body(request: Request) -> dict[str, Any]:
        data = await read_json(request, "network")
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise ApiError(400, f"Resource body required: '{key}'")
        value: dict[str, Any] = data[key]
        return value

    return body


PortBody = Annotated[dict[str, Any], Depends(resource_body("port"))]


class NeutronApi(SiteHandlers):
    """Handlers of one Neutron resource of ``site``; ``authenticate`` checks the token."""

    def __init__(self, site: Site, authenticate: Authenticator) -> None:
        super().__init__(site)
        self.authenticate = authenticate

    def asker(self, request: Request) -> tuple[TokenContext, str | None]:
        """Who asks, and the project whose resources they see (None: an admin sees all)."""
        context = self.authenticate(self.site, request)
        return context, None if context.is_admin else context.project_id


class NetworkApi(NeutronApi):
    """``/v2.0/networks`` and ``/v2.0/subnets`` (read-only; the seed makes them)."""

    @route("GET", "/v2.0/networks")
    def list_networks(self, request: Request) -> dict[str, Any]:
        _, project = self.asker(request)
        with self.site.store.tx() as conn:
            items = [network_view(conn, row) for row in visible_networks(conn, project_id=project)]
        return listing(request, "networks", items)

    @route("GET", "/v2.0/networks/{network_id}")
    def show_network(self, network_id: str, request: Request) -> dict[str, Any]:
        _, project = self.asker(request)
        with self.site.store.tx() as conn:
            try:
                row = network_row(conn, network_id, project_id=project)
            except NetworkNotFoundError as exc:
                raise ApiError(404, str(exc), kind="NetworkNotFound") from exc
            return {"network": project_fields(request, network_view(conn, row))}

    def _subnets(self, request: Request) -> list[dict[str, Any]]:
        _, project = self.asker(request)
        items = []
        with self.site.store.tx() as conn:
            for network in visible_networks(conn, project_id=project):
                for row in conn.execute(
                    "SELECT * FROM subnets WHERE network_id = ? ORDER BY id", (network["id"],)
                ):
                    items.append(subnet_view(row, created_at=network["created_at"]))
        return items

    @route("GET", "/v2.0/subnets")
    def list_subnets(self, request: Request) -> dict[str, Any]:
        return listing(request, "subnets", self._subnets(request))

    @route("GET", "/v2.0/subnets/{subnet_id}")
    def show_subnet(self, subnet_id: str, request: Request) -> dict[str, Any]:
        items = [s for s in self._subnets(request) if s["id"] == subnet_id]
        if not items:
            raise ApiError(404, f"Subnet {subnet_id} could not be found.", kind="SubnetNotFound")
        return {"subnet": project_fields(request, items[0])}


def _port_row(conn: sqlite3.Connection, context: TokenContext, port_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM ports WHERE id = ?", (port_id,)
    ).fetchone()
    if row is None or (not context.is_admin and row["project_id"] != context.project_id):
        raise ApiError(404, f"Port {port_id} could not be found.", kind="PortNotFound")
    return row


def _port_owner(body: dict[str, Any], context: TokenContext) -> str:
    """The project a new port belongs to: the asker's, or (for an admin) the one named."""
    owner = context.project_id or ""
    if context.is_admin:
        owner = str(body.get("project_id") or body.get("tenant_id") or owner)
    return owner


def _port_update(row: sqlite3.Row, body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The columns and the new ``extra`` of a port ``PUT``; bumps its revision."""
    extra = dict(loads(row["extra"]) or {})
    extra.update({k: v for k, v in body.items() if k in _PORT_EXTRA_KEYS})
    extra["revision_number"] = int(extra.get("revision_number", 1)) + 1
    extra["updated_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
    values = {
        c: str(body[c]) if body.get(c) is not None else "" for c in _PORT_COLUMNS if c in body
    }
    return values, extra


class PortApi(NeutronApi):
    """``/v2.0/ports``: list, create, show, update, delete."""

    @route("GET", "/v2.0/ports")
    def list_ports(self, request: Request) -> dict[str, Any]:
        context, _ = self.asker(request)
        with self.site.store.tx() as conn:
            if context.is_admin:
                rows = conn.execute("SELECT * FROM ports ORDER BY created_at, id").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM ports WHERE project_id = ? ORDER BY created_at, id",
                    (context.project_id,),
                ).fetchall()
        return listing(request, "ports", [port_view(row) for row in rows])

    @route("GET", "/v2.0/ports/{port_id}")
    def show(self, port_id: str, request: Request) -> dict[str, Any]:
        context, _ = self.asker(request)
        with self.site.store.tx() as conn:
            return {"port": project_fields(request, port_view(_port_row(conn, context, port_id)))}

    @route("POST", "/v2.0/ports")
    def create(self, request: Request, body: PortBody) -> JSONResponse:
        context, project = self.asker(request)
        network_id = body.get("network_id")
        if not isinstance(network_id, str):
            raise ApiError(
                400, "Failed to parse request. Required attribute 'network_id' not specified"
            )
        wanted = [
            ip.get("ip_address") for ip in body.get("fixed_ips") or [] if isinstance(ip, dict)
        ]
        with self.site.store.tx() as conn:
            try:
                network_row(conn, network_id, project_id=project)
                port = allocate_port(
                    conn,
                    network_id=network_id,
                    project_id=_port_owner(body, context),
                    device_id=str(body.get("device_id") or ""),
                    device_owner=str(body.get("device_owner") or ""),
                    name=str(body.get("name") or ""),
                    fixed_ip=next((str(ip) for ip in wanted if ip), None),
                    extra={k: v for k, v in body.items() if k in _PORT_EXTRA_KEYS},
                )
            except NetworkNotFoundError as exc:
                raise ApiError(404, str(exc), kind="NetworkNotFound") from exc
            except IpExhaustedError as exc:
                raise ApiError(409, str(exc), kind="IpAddressGenerationFailure") from exc
        return JSONResponse({"port": port}, 201)

    @route("PUT", "/v2.0/ports/{port_id}")
    def update(self, port_id: str, request: Request, body: PortBody) -> dict[str, Any]:
        context, _ = self.asker(request)
        with self.site.store.tx() as conn:
            values, extra = _port_update(_port_row(conn, context, port_id), body)
            assignments = "".join(f"{column} = ?, " for column in values)
            conn.execute(
                f"UPDATE ports SET {assignments}extra = ? WHERE id = ?",
                (*values.values(), dumps(extra), port_id),
            )
            return {"port": port_view(_port_row(conn, context, port_id))}

    @route("DELETE", "/v2.0/ports/{port_id}")
    def delete(self, port_id: str, request: Request) -> Response:
        context, _ = self.asker(request)
        with self.site.store.tx() as conn:
            _port_row(conn, context, port_id)
            conn.execute("DELETE FROM ports WHERE id = ?", (port_id,))
        return Response(status_code=204)


def _security_group(project_id: str) -> dict[str, Any]:
    """The project's ``default`` group: all egress, ingress from the group itself."""
    group_id = default_security_group_id(project_id)
    owner = {"tenant_id": project_id, "project_id": project_id}
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
            **owner,
            "description": "",
        }
        for index, (direction, ethertype) in enumerate(_RULES)
    ]
    return {
        "id": group_id,
        "name": "default",
        "description": "Default security group",
        "stateful": True,
        **owner,
        "security_group_rules": rules,
        "tags": [],
    }


class SecurityGroupApi(NeutronApi):
    """``/v2.0/security-groups``: each project has just its ``default`` group."""

    @route("GET", "/v2.0/security-groups")
    def list_groups(self, request: Request) -> dict[str, Any]:
        context, _ = self.asker(request)
        groups = [_security_group(context.project_id)] if context.project_id else []
        return listing(request, "security_groups", groups)

    @route("GET", "/v2.0/security-groups/{group_id}")
    def show(self, group_id: str, request: Request) -> dict[str, Any]:
        context, _ = self.asker(request)
        if context.project_id and group_id == default_security_group_id(context.project_id):
            return {"security_group": _security_group(context.project_id)}
        raise ApiError(
            404, f"Security group {group_id} does not exist", kind="SecurityGroupNotFound"
        )
