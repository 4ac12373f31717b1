"""Test-only endpoints at ``/_admin``: manage fault rules and image limits while the cloud runs.

* ``GET /_admin/faults`` → ``{"rules": [...]}`` (each with ``id``, remaining ``count``, ``fired``)
* ``POST /_admin/faults`` with a rule, a list of rules or ``{"rules": [...]}`` → 201 with the
  added rules; 400 with ``{"error": "..."}`` for an invalid rule (nothing is added then)
* ``DELETE /_admin/faults`` → 204, every rule removed
* ``GET /_admin/image-limits`` → ``{"sites": {site: {"use_keystone_limits", "default",
  "projects"}}}``: each site's Glance image limits (see :mod:`image_limits`)
* ``POST /_admin/image-limits`` with ``{"site": S, "project_id": P, "image_count_total": 2,
  ...}`` → 200 with the limits now in force: sets the named limits of project ``P`` (without
  ``project_id``: the site's default; without ``site``: every site); ``"use_keystone_limits":
  false`` turns Glance's unified limits off; 400 with ``{"error": "..."}`` when invalid
* ``DELETE /_admin/image-limits`` → 204, every site back to its configured limits
* ``GET /_admin/tokens`` → ``{"sites": {site: {"lifetime_s"}}}``
* ``POST /_admin/tokens`` with ``{"lifetime_s": N}`` (tokens issued from now on live N
  seconds), ``{"revoke": "all"}`` (every token issued so far is invalid: its next use gets
  Keystone's 401) and/or ``{"expire": "all"}`` (every token issued so far has expired), each
  for every site or only ``"site"`` → 200 ``{"sites": {site: {"lifetime_s", "ended"}}}``;
  400 when invalid

No Keystone token is needed: the server listens on loopback only, and these endpoints refuse
any client that is not on loopback (403). The rule format is documented in :mod:`faults`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud.config import IMAGE_LIMIT_NAMES
from denbi_jupyter.localcloud.image_limits import check_change
from denbi_jupyter.localcloud.keystone_tokens import end_tokens
from denbi_jupyter.localcloud.site import CloudState, Site

__all__ = ["build_router"]


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def _refused() -> JSONResponse:
    return JSONResponse({"error": "/_admin answers loopback clients only"}, status_code=403)


async def _json_body(request: Request) -> tuple[Any, Response | None]:
    """The request's JSON body, or the answer that refuses it (403 off loopback, 400 not JSON)."""
    if not _from_loopback(request):
        return None, _refused()
    try:
        return await request.json(), None
    except ValueError:
        return None, JSONResponse({"error": "the body must be JSON"}, status_code=400)


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
        data, refusal = await _json_body(request)
        if refusal is not None:
            return refusal
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

    _image_limit_routes(router, cloud)
    _token_routes(router, cloud)
    return router


def _limit_sites(cloud: CloudState, data: dict[str, Any]) -> list[Site]:
    """The sites a ``POST /_admin/image-limits`` body names (all without ``site``)."""
    name = data.get("site")
    if name is None:
        return list(cloud.sites.values())
    if name not in cloud.sites:
        raise ValueError(f"unknown site {name!r}; sites: {', '.join(sorted(cloud.sites))}")
    return [cloud.sites[name]]


def _check_limit_fields(data: dict[str, Any]) -> None:
    known = {"site", "project_id", "use_keystone_limits", *IMAGE_LIMIT_NAMES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown image limit field(s): {', '.join(unknown)}")
    project = data.get("project_id")
    if project is not None and not isinstance(project, str):
        raise ValueError(f"project_id must be a string, got {project!r}")


def _image_limit_routes(router: APIRouter, cloud: CloudState) -> None:
    @router.get("/image-limits")
    def list_limits(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        sites = {
            name: site.image_limits.describe(site.profile) for name, site in cloud.sites.items()
        }
        return JSONResponse({"sites": sites})

    @router.post("/image-limits")
    async def change_limits(request: Request) -> Response:
        data, refusal = await _json_body(request)
        if refusal is not None:
            return refusal
        try:
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            _check_limit_fields(data)
            sites = _limit_sites(cloud, data)
            check_change(data)  # all or nothing
            changed = {
                site.name: asdict(
                    site.image_limits.change(site.profile, data, data.get("project_id"))
                )
                for site in sites
            }
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"sites": changed})

    @router.delete("/image-limits")
    def reset_limits(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        for site in cloud.sites.values():
            site.image_limits.reset()
        return Response(status_code=204)


def _token_change(data: Any) -> tuple[float | None, str | None]:
    """The lifetime and the ending (``revoke``/``expire``) a ``POST /_admin/tokens`` asks for."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(data) - {"site", "lifetime_s", "revoke", "expire"})
    if unknown:
        raise ValueError(f"unknown token field(s): {', '.join(unknown)}")
    lifetime = data.get("lifetime_s")
    if lifetime is not None and (
        isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0
    ):
        raise ValueError(f"lifetime_s must be a positive number, got {lifetime!r}")
    endings = [how for how in ("revoke", "expire") if how in data]
    for how in endings:
        if data[how] != "all":
            raise ValueError(f'{how} must be "all", got {data[how]!r}')
    if len(endings) > 1:
        raise ValueError("give revoke or expire, not both")
    return lifetime, (endings[0] if endings else None)


def _token_routes(router: APIRouter, cloud: CloudState) -> None:
    @router.get("/tokens")
    def token_settings(request: Request) -> Response:
        if not _from_loopback(request):
            return _refused()
        sites = {
            name: {"lifetime_s": site.token_lifetime.total_seconds()}
            for name, site in cloud.sites.items()
        }
        return JSONResponse({"sites": sites})

    @router.post("/tokens")
    async def change_tokens(request: Request) -> Response:
        data, refusal = await _json_body(request)
        if refusal is not None:
            return refusal
        try:
            lifetime, ending = _token_change(data)
            sites = _limit_sites(cloud, data)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        changed = {}
        for site in sites:
            if lifetime is not None:
                site.token_lifetime = dt.timedelta(seconds=lifetime)
            ended = 0
            if ending is not None:
                with site.store.tx() as conn:
                    ended = end_tokens(conn, ending)
            changed[site.name] = {
                "lifetime_s": site.token_lifetime.total_seconds(),
                "ended": ended,
            }
        return JSONResponse({"sites": changed})
