"""Neutron v2.0, enough for servers to get addresses: networks, subnets, ports.

Served at ``/{site}/network``: ``GET /`` (versions), ``/v2.0/networks``, ``/v2.0/subnets``,
``/v2.0/ports`` (create, list, show, update, delete), plus the read-only calls clients and
Nova make on the side (``extensions``, ``security-groups``, ``floatingips``, ``routers``,
``quotas``). Lists take Neutron's filters (any attribute, repeated = OR), ``fields``,
``limit``/``marker``; every path also answers with a ``.json`` suffix as old clients send it.
The resource handlers live in :mod:`neutron_api`; Nova allocates ports through the plain
functions of :mod:`neutron_ports`.

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

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from denbi_jupyter.localcloud import auth
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.http import Routes, mount, route, routes_of, service_route
from denbi_jupyter.localcloud.neutron_api import (
    Authenticator,
    NetworkApi,
    NeutronApi,
    PortApi,
    SecurityGroupApi,
)
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = [
    "Authenticator",
    "NeutronApiError",
    "build_router",
    "permissive_authenticator",
    "register_events",
]

_EXTENSIONS = (
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("external-net", "Neutron external network", "Adds external network attribute to network"),
    ("port-security", "Port Security", "Provides port security"),
    ("quotas", "Quota management support", "Expose functions for quotas management"),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding"),
    ("security-group", "security-group", "The security groups extension."),
)
_RESOURCES = ("network", "subnet", "port", "security_group", "floatingip", "router")
_QUOTA = {
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


class NeutronApiError(ApiError):
    """An :class:`ApiError` with Neutron's error ``type`` (e.g. ``PortNotFound``)."""

    def __init__(self, status: int, message: str, *, neutron_type: str) -> None:
        super().__init__(status, message, kind=neutron_type)


def permissive_authenticator(project_id: str, *, user_id: str = "nova") -> Authenticator:
    """A token check for a Neutron in front of a real Nova: any token passes.

    Args:
        project_id: The project a request speaks for when it has no ``X-Project-Id`` header.
        user_id: The user every request speaks for.
    """

    def authenticate(_site: Site, request: Request) -> TokenContext:
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


def versions(request: Request) -> dict[str, Any]:
    """``GET /``: the one API version."""
    href = f"{_mount_url(request)}/v2.0/"
    return {
        "versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": href, "rel": "self"}]}]
    }


def resources(request: Request) -> dict[str, Any]:
    """``GET /v2.0``: the collections served."""
    base = f"{_mount_url(request)}/v2.0"
    return {
        "resources": [
            {
                "links": [{"href": f"{base}/{n.replace('_', '-')}s", "rel": "self"}],
                "name": n,
                "collection": f"{n.replace('_', '-')}s",
            }
            for n in _RESOURCES
        ]
    }


class _ServiceApi(NeutronApi):
    """What Nova and clients read on the side: extensions, quotas, empty collections."""

    @route("GET", "/v2.0/extensions")
    def extensions(self, request: Request) -> dict[str, Any]:
        self.authenticate(self.site, request)
        return {
            "extensions": [
                {
                    "alias": alias,
                    "name": name,
                    "description": description,
                    "links": [],
                    "updated": "2013-01-01T10:00:00-00:00",
                }
                for alias, name, description in _EXTENSIONS
            ]
        }

    @route("GET", "/v2.0/floatingips")
    def floatingips(self, request: Request) -> dict[str, Any]:
        self.authenticate(self.site, request)
        return {"floatingips": []}

    @route("GET", "/v2.0/routers")
    def routers(self, request: Request) -> dict[str, Any]:
        self.authenticate(self.site, request)
        return {"routers": []}

    @route("GET", "/v2.0/quotas/{project_id}")
    def quota(self, request: Request) -> dict[str, Any]:
        """Neutron's default quotas, for any project (``{project_id}`` in the path)."""
        self.authenticate(self.site, request)
        return {"quota": dict(_QUOTA)}


_APIS: tuple[type[NeutronApi], ...] = (_ServiceApi, NetworkApi, PortApi, SecurityGroupApi)


def build_router(site: Site, *, authenticate: Authenticator = auth.authenticate) -> APIRouter:
    """The Neutron v2.0 API of ``site`` (mount it at ``/{site}/network``).

    Every path under ``/v2.0/`` also answers with a ``.json`` suffix. Errors are rendered in
    Neutron's shape by the routes themselves, wherever the router is mounted.

    Args:
        site: The site whose networks, subnets and ports are served.
        authenticate: Returns who a request speaks for or raises a 401 :class:`ApiError`;
            :func:`permissive_authenticator` makes one that accepts any token.
    """
    router = APIRouter(route_class=service_route("network"))
    routes: Routes = [("GET", "/", versions), ("GET", "/v2.0", resources)]
    routes.append(("GET", "/v2.0/", resources))
    for api in _APIS:
        routes.extend(routes_of(api(site, authenticate)))
    suffixed = [
        (m, p + ".json", e) for m, p, e in routes if p.startswith("/v2.0/") and p[-1] != "/"
    ]
    mount(router, suffixed + routes)
    return router
