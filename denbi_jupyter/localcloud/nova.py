"""Nova v2.1 of one site, mounted at ``/{site}/compute``; answers as Nova 34 does.

``GET /`` lists versions (200, unversioned). Everything under ``/v2.1`` negotiates a
microversion (2.1 to 2.104, see :mod:`nova_microversion`) and echoes it: version document,
flavors (+ ``os-extra_specs``), key pairs, servers (create, list, detail, show, update,
delete, metadata), actions (createImage, os-stop, os-start, reboot, lock, unlock), limits and
quota sets. Lasting changes run on the site's timeline (:mod:`nova_state`). The handlers are
grouped by resource, each a :class:`~nova_api.NovaApi`: :mod:`nova_flavors`,
:mod:`nova_keypairs`, :mod:`nova_server_api`, :mod:`nova_metadata`, :mod:`nova_quotas`;
validation lives in :mod:`nova_servers`, :mod:`nova_networks` and :mod:`nova_actions`, answer
shapes in :mod:`nova_views`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud import nova_state
from denbi_jupyter.localcloud.http import mount, routes_of, service_route
from denbi_jupyter.localcloud.nova_api import NovaApi, ok
from denbi_jupyter.localcloud.nova_flavors import FlavorApi
from denbi_jupyter.localcloud.nova_keypairs import KeypairApi
from denbi_jupyter.localcloud.nova_metadata import MetadataApi
from denbi_jupyter.localcloud.nova_microversion import MAX_VERSION, MIN_VERSION, NovaRoute
from denbi_jupyter.localcloud.nova_quotas import QuotaApi
from denbi_jupyter.localcloud.nova_server_api import ServerApi
from denbi_jupyter.localcloud.nova_views import compute_url
from denbi_jupyter.localcloud.site import Site

__all__ = ["build_router", "register_events"]

_UPDATED = "2013-07-23T11:33:21Z"
_RESOURCES: tuple[type[NovaApi], ...] = (FlavorApi, KeypairApi, ServerApi, MetadataApi, QuotaApi)


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


def versions(request: Request) -> Response:
    """``GET /``: the deprecated v2.0 and the current v2.1."""
    base = compute_url(request)
    legacy = {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v2/"}],
    }
    return ok({"versions": [legacy, _version_doc(base)]})


def version(request: Request) -> Response:
    """``GET /v2.1``: the version document with its media type."""
    doc = _version_doc(compute_url(request))
    doc["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
    )
    doc["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    return ok({"version": doc})


def build_router(site: Site) -> APIRouter:
    """The Nova API of ``site`` (mount it at ``/{site}/compute``)."""
    router = APIRouter(route_class=service_route("compute"))
    router.add_api_route("/", versions, methods=["GET"])
    api = APIRouter(route_class=NovaRoute)
    api.add_api_route("/v2.1", version, methods=["GET"])
    api.add_api_route("/v2.1/", version, methods=["GET"])
    for resource in _RESOURCES:
        mount(api, routes_of(resource(site)), prefix="/v2.1")
    router.include_router(api)
    return router
