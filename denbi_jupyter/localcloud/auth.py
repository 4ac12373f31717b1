"""Token checks shared by Glance, Nova and Neutron (Keystone issues the tokens)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request

from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = ["TokenContext", "authenticate", "utcnow"]


def utcnow() -> dt.datetime:
    """The current time in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class TokenContext:
    """Who a valid token speaks for."""

    token_id: str
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        """True for a token with the admin role."""
        return "admin" in self.roles


def authenticate(site: Site, request: Request) -> TokenContext:
    """Return the context of the request's ``X-Auth-Token`` or raise a 401 :class:`ApiError`."""
    token_id = request.headers.get("X-Auth-Token")
    if not token_id:
        raise ApiError(401, "The request you have made requires authentication.")
    with site.store.tx() as conn:
        row = conn.execute(
            "SELECT t.user_id, u.name AS user_name, t.project_id, p.name AS project_name, "
            "t.expires_at FROM tokens t JOIN users u ON u.id = t.user_id "
            "LEFT JOIN projects p ON p.id = t.project_id WHERE t.id = ?",
            (token_id,),
        ).fetchone()
        if row is None or dt.datetime.fromisoformat(row["expires_at"]) <= utcnow():
            raise ApiError(401, "The request you have made requires authentication.")
        roles = tuple(
            r["role"]
            for r in conn.execute(
                "SELECT role FROM role_assignments WHERE user_id = ? AND project_id = ?",
                (row["user_id"], row["project_id"]),
            )
        )
    return TokenContext(
        token_id=token_id,
        user_id=row["user_id"],
        user_name=row["user_name"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        roles=roles,
    )


def scoped(site: Site, request: Request, *, refusal: str) -> TokenContext:
    """Like :func:`authenticate`, for a call that needs a project-scoped token.

    Raises:
        ApiError: 401 without a valid token, 403 with ``refusal`` for an unscoped one.
    """
    context = authenticate(site, request)
    if context.project_id is None:
        raise ApiError(403, refusal)
    return context
