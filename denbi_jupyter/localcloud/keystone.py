"""Keystone v3 of one site: version discovery, tokens, the user's projects and the catalog.

Every response carries ``Vary: X-Auth-Token`` as Keystone's do; errors come out in Keystone's
shape through :class:`~denbi_jupyter.localcloud.responses.ApiError`.
"""

# No ``from __future__ import annotations``: FastAPI must resolve the route-local
# ``Annotated`` dependency aliases when the routes are defined.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud.auth import TokenContext, authenticate
from denbi_jupyter.localcloud.keystone_catalog import base_url, build_catalog
from denbi_jupyter.localcloud.keystone_tokens import (
    issue_token,
    load_token,
    project_view,
    resolve_grant,
    revoke_token,
    token_body,
    user_projects,
)
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = ["API_VERSION", "build_router"]

#: The identity API version Keystone 30 reports.
API_VERSION = "v3.14"
_UPDATED = "2020-04-07T00:00:00Z"
_VARY = {"Vary": "X-Auth-Token"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**_VARY, **(headers or {})})


async def _json_payload(request: Request) -> Any:
    """The request body parsed as JSON, or a Keystone 400."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Expecting to find valid JSON in request body.") from None


def _forbidden(action: str) -> ApiError:
    return ApiError(403, f"You are not authorized to perform the requested action: {action}.")


def _version(site: Site, request: Request) -> dict[str, Any]:
    return {
        "id": API_VERSION,
        "status": "stable",
        "updated": _UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/{site.name}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def build_router(site: Site) -> APIRouter:
    """The routes of ``site``'s Keystone, mounted under ``/{site}/identity``."""
    router = APIRouter()

    def auth_context(request: Request) -> TokenContext:
        return authenticate(site, request)

    Ctx = Annotated[TokenContext, Depends(auth_context)]

    @router.get("")
    @router.get("/")
    def versions(request: Request) -> Response:
        version = _version(site, request)
        return _json(
            {"versions": {"values": [version]}},
            status=300,
            headers={"Location": version["links"][0]["href"]},
        )

    @router.get("/v3")
    @router.get("/v3/")
    def version_v3(request: Request) -> Response:
        return _json({"version": _version(site, request)})

    @router.post("/v3/auth/tokens")
    def create_token(request: Request, payload: Annotated[Any, Depends(_json_payload)]) -> Response:
        nocatalog = "nocatalog" in request.query_params
        with site.store.tx() as conn:
            grant = resolve_grant(conn, payload)
            token_id = issue_token(conn, grant)
            token = load_token(conn, token_id)
            assert token is not None
            body = token_body(conn, site, base_url(request), token, catalog=not nocatalog)
        return _json(body, status=201, headers={"X-Subject-Token": token_id})

    def subject_token(request: Request) -> str:
        subject = request.headers.get("X-Subject-Token")
        if not subject:
            raise ApiError(400, "Expecting to find X-Subject-Token in request headers.")
        return subject

    @router.get("/v3/auth/tokens")
    def validate_token(request: Request, _: Ctx) -> Response:
        subject = subject_token(request)
        nocatalog = "nocatalog" in request.query_params
        with site.store.tx() as conn:
            token = load_token(conn, subject)
            if token is None:
                raise ApiError(404, "Could not find token.")
            body = token_body(conn, site, base_url(request), token, catalog=not nocatalog)
        return _json(body, headers={"X-Subject-Token": subject})

    @router.head("/v3/auth/tokens")
    def check_token(request: Request, _: Ctx) -> Response:
        subject = subject_token(request)
        with site.store.tx() as conn:
            if load_token(conn, subject) is None:
                raise ApiError(404, "Could not find token.")
        return Response(status_code=200, headers={**_VARY, "X-Subject-Token": subject})

    @router.delete("/v3/auth/tokens")
    def delete_token(request: Request, _: Ctx) -> Response:
        subject = subject_token(request)
        with site.store.tx() as conn:
            if not revoke_token(conn, subject):
                raise ApiError(404, "Could not find token.")
        return Response(status_code=204, headers=_VARY)

    @router.get("/v3/auth/catalog")
    def catalog(request: Request, context: Ctx) -> Response:
        if context.project_id is None:
            raise _forbidden("identity:get_auth_catalog")
        root = base_url(request)
        return _json(
            {
                "catalog": build_catalog(site, root),
                "links": {"self": f"{root}/{site.name}/identity/v3/auth/catalog"},
            }
        )

    def project_list(request: Request, user_id: str) -> Response:
        root = base_url(request)
        with site.store.tx() as conn:
            rows = user_projects(conn, user_id)
        return _json(
            {
                "projects": [project_view(row, root, site) for row in rows],
                "links": {"next": None, "self": str(request.url), "previous": None},
            }
        )

    @router.get("/v3/auth/projects")
    def auth_projects(request: Request, context: Ctx) -> Response:
        return project_list(request, context.user_id)

    @router.get("/v3/users/{user_id}/projects")
    def projects_of_user(user_id: str, request: Request, context: Ctx) -> Response:
        if user_id != context.user_id and not context.is_admin:
            raise _forbidden("identity:list_user_projects")
        return project_list(request, user_id)

    @router.get("/v3/users/{user_id}")
    def show_user(user_id: str, request: Request, context: Ctx) -> Response:
        if user_id != context.user_id and not context.is_admin:
            raise _forbidden("identity:get_user")
        with site.store.tx() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"Could not find user: {user_id}.")
        return _json(
            {
                "user": {
                    "id": row["id"],
                    "name": row["name"],
                    "domain_id": row["domain_id"],
                    "email": row["email"],
                    "enabled": True,
                    "password_expires_at": None,
                    "options": {},
                    "links": {
                        "self": f"{base_url(request)}/{site.name}/identity/v3/users/{user_id}"
                    },
                }
            }
        )

    @router.get("/v3/projects")
    def all_projects(request: Request, context: Ctx) -> Response:
        if not context.is_admin:
            raise _forbidden("identity:list_projects")
        root = base_url(request)
        name = request.query_params.get("name")
        with site.store.tx() as conn:
            if name is None:
                rows = conn.execute("SELECT * FROM projects ORDER BY name").fetchall()
            else:
                rows = conn.execute("SELECT * FROM projects WHERE name = ?", (name,)).fetchall()
        return _json(
            {
                "projects": [project_view(row, root, site) for row in rows],
                "links": {"next": None, "self": str(request.url), "previous": None},
            }
        )

    @router.get("/v3/projects/{project_id}")
    def show_project(project_id: str, request: Request, context: Ctx) -> Response:
        with site.store.tx() as conn:
            row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
            member = conn.execute(
                "SELECT 1 FROM role_assignments WHERE user_id = ? AND project_id = ?",
                (context.user_id, project_id),
            ).fetchone()
        if not context.is_admin and member is None:
            raise _forbidden("identity:get_project")
        if row is None:
            raise ApiError(404, f"Could not find project: {project_id}.")
        return _json({"project": project_view(row, base_url(request), site)})

    return router
