"""Keystone v3 of one site: version discovery, tokens, the user's projects and the catalog.

Every response carries ``Vary: X-Auth-Token`` as Keystone's do; errors come out in Keystone's
shape through :class:`~denbi_jupyter.localcloud.responses.ApiError`.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from denbi_jupyter.localcloud.auth import TokenContext, authenticate
from denbi_jupyter.localcloud.http import (
    SiteHandlers,
    json_body,
    mount,
    route,
    routes_of,
    service_route,
)
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


#: A Keystone request body: JSON, else 400 "Expecting to find valid JSON in request body."
KeystoneBody = Annotated[Any, Depends(json_body("identity"))]


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


def _project_list(request: Request, site: Site, rows: list[sqlite3.Row]) -> Response:
    root = base_url(request)
    return _json(
        {
            "projects": [project_view(row, root, site) for row in rows],
            "links": {"next": None, "self": str(request.url), "previous": None},
        }
    )


def _subject_token(request: Request) -> str:
    subject = request.headers.get("X-Subject-Token")
    if not subject:
        raise ApiError(400, "Expecting to find X-Subject-Token in request headers.")
    return subject


def _user_view(row: sqlite3.Row, href: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "domain_id": row["domain_id"],
        "email": row["email"],
        "enabled": True,
        "password_expires_at": None,
        "options": {},
        "links": {"self": href},
    }


class KeystoneApi(SiteHandlers):
    """The handlers of ``site``'s Keystone; all but discovery and token creation need a token."""

    def _context(self, request: Request) -> TokenContext:
        return authenticate(self.site, request)

    @route("GET", "")
    @route("GET", "/")
    def versions(self, request: Request) -> Response:
        version = _version(self.site, request)
        return _json(
            {"versions": {"values": [version]}},
            status=300,
            headers={"Location": version["links"][0]["href"]},
        )

    @route("GET", "/v3")
    @route("GET", "/v3/")
    def version_v3(self, request: Request) -> Response:
        return _json({"version": _version(self.site, request)})

    @route("POST", "/v3/auth/tokens")
    def create_token(self, request: Request, payload: KeystoneBody) -> Response:
        nocatalog = "nocatalog" in request.query_params
        with self.site.store.tx() as conn:
            grant = resolve_grant(conn, payload)
            token_id = issue_token(conn, grant, lifetime=self.site.token_lifetime)
            token = load_token(conn, token_id)
            assert token is not None
            body = token_body(conn, self.site, base_url(request), token, catalog=not nocatalog)
        return _json(body, status=201, headers={"X-Subject-Token": token_id})

    @route("GET", "/v3/auth/tokens")
    def validate_token(self, request: Request) -> Response:
        self._context(request)
        subject = _subject_token(request)
        nocatalog = "nocatalog" in request.query_params
        with self.site.store.tx() as conn:
            token = load_token(conn, subject)
            if token is None:
                raise ApiError(404, "Could not find token.")
            body = token_body(conn, self.site, base_url(request), token, catalog=not nocatalog)
        return _json(body, headers={"X-Subject-Token": subject})

    @route("HEAD", "/v3/auth/tokens")
    def check_token(self, request: Request) -> Response:
        self._context(request)
        subject = _subject_token(request)
        with self.site.store.tx() as conn:
            if load_token(conn, subject) is None:
                raise ApiError(404, "Could not find token.")
        return Response(status_code=200, headers={**_VARY, "X-Subject-Token": subject})

    @route("DELETE", "/v3/auth/tokens")
    def delete_token(self, request: Request) -> Response:
        self._context(request)
        subject = _subject_token(request)
        with self.site.store.tx() as conn:
            if not revoke_token(conn, subject):
                raise ApiError(404, "Could not find token.")
        return Response(status_code=204, headers=_VARY)

    @route("GET", "/v3/auth/catalog")
    def catalog(self, request: Request) -> Response:
        if self._context(request).project_id is None:
            raise _forbidden("identity:get_auth_catalog")
        root = base_url(request)
        return _json(
            {
                "catalog": build_catalog(self.site, root),
                "links": {"self": f"{root}/{self.site.name}/identity/v3/auth/catalog"},
            }
        )

    def _projects_of(self, request: Request, user_id: str) -> Response:
        with self.site.store.tx() as conn:
            rows = user_projects(conn, user_id)
        return _project_list(request, self.site, rows)

    @route("GET", "/v3/auth/projects")
    def auth_projects(self, request: Request) -> Response:
        return self._projects_of(request, self._context(request).user_id)

    @route("GET", "/v3/users/{user_id}/projects")
    def projects_of_user(self, user_id: str, request: Request) -> Response:
        context = self._context(request)
        if user_id != context.user_id and not context.is_admin:
            raise _forbidden("identity:list_user_projects")
        return self._projects_of(request, user_id)

    @route("GET", "/v3/users/{user_id}")
    def show_user(self, user_id: str, request: Request) -> Response:
        context = self._context(request)
        if user_id != context.user_id and not context.is_admin:
            raise _forbidden("identity:get_user")
        with self.site.store.tx() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"Could not find user: {user_id}.")
        href = f"{base_url(request)}/{self.site.name}/identity/v3/users/{user_id}"
        return _json({"user": _user_view(row, href)})

    @route("GET", "/v3/projects")
    def all_projects(self, request: Request) -> Response:
        if not self._context(request).is_admin:
            raise _forbidden("identity:list_projects")
        name = request.query_params.get("name")
        with self.site.store.tx() as conn:
            if name is None:
                rows = conn.execute("SELECT * FROM projects ORDER BY name").fetchall()
            else:
                rows = conn.execute("SELECT * FROM projects WHERE name = ?", (name,)).fetchall()
        return _project_list(request, self.site, rows)

    @route("GET", "/v3/projects/{project_id}")
    def show_project(self, project_id: str, request: Request) -> Response:
        context = self._context(request)
        with self.site.store.tx() as conn:
            row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
            member = conn.execute(
                "SELECT 1 FROM role_assignments WHERE user_id = ? AND project_id = ?",
                (context.user_id, project_id),
            ).fetchone()
        if not context.is_admin and member is None:
            raise _forbidden("identity:get_project")
        if row is None:
            raise ApiError(404, f"Could not find project: {project_id}.")
        return _json({"project": project_view(row, base_url(request), self.site)})


def build_router(site: Site) -> APIRouter:
    """The routes of ``site``'s Keystone, mounted under ``/{site}/identity``."""
    router = APIRouter(route_class=service_route("identity"))
    mount(router, routes_of(KeystoneApi(site)))
    return router
