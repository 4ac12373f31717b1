"""Keystone tokens: check an auth request's credentials, issue, show and revoke tokens.

The ``tokens.methods`` column holds JSON ``{"methods": [...], "app_cred": id-or-null}`` so a
token issued for an application credential can name it again when it is validated.
Error messages never repeat a credential.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from denbi_jupyter.localcloud.auth import utcnow
from denbi_jupyter.localcloud.keystone_catalog import build_catalog, stable_id
from denbi_jupyter.localcloud.keystone_secrets import verify_secret
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "TOKEN_LIFETIME",
    "Grant",
    "end_tokens",
    "issue_token",
    "keystone_time",
    "load_token",
    "project_view",
    "resolve_grant",
    "revoke_token",
    "token_body",
    "user_projects",
]

#: How long a token lives (Keystone's default).
TOKEN_LIFETIME = dt.timedelta(hours=1)

_UNAUTHORIZED = "The request you have made requires authentication."


@dataclass(frozen=True, slots=True)
class Grant:
    """Whom a successful auth request identifies, and the project it is scoped to."""

    user_id: str
    methods: tuple[str, ...]
    project_id: str | None
    app_cred_id: str | None = None


def keystone_time(moment: dt.datetime) -> str:
    """A timestamp as Keystone shows it: ``2026-11-27T07:51:25.000000Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _unauthorized(message: str = _UNAUTHORIZED) -> ApiError:
    return ApiError(401, message)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad_request(f"Invalid input for field '{where}': expected an object.")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad_request(f"Invalid input for field '{where}': expected a non-empty string.")
    return value


def _domain_id(conn: sqlite3.Connection, ref: Any, where: str) -> str:
    domain = _object(ref, where)
    if "id" in domain:
        return _text(domain["id"], f"{where}.id")
    name = _text(domain.get("name"), f"{where}.name")
    row = conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise _unauthorized()
    return str(row["id"])


def _find_user(conn: sqlite3.Connection, ref: Any, where: str) -> sqlite3.Row:
    user = _object(ref, where)
    if "id" in user:
        row = conn.execute(
            "SELECT * FROM users WHERE id = ?", (_text(user["id"], f"{where}.id"),)
        ).fetchone()
    else:
        name = _text(user.get("name"), f"{where}.name")
        if "domain" not in user:
            raise _bad_request(f"Expecting to find domain in {where}.")
        domain_id = _domain_id(conn, user["domain"], f"{where}.domain")
        row = conn.execute(
            "SELECT * FROM users WHERE name = ? AND domain_id = ?", (name, domain_id)
        ).fetchone()
    if row is None:
        raise _unauthorized()
    found: sqlite3.Row = row
    return found


def _password_user(conn: sqlite3.Connection, identity: dict[str, Any]) -> str:
    password = _object(identity.get("password"), "identity.password")
    user_ref = _object(password.get("user"), "identity.password.user")
    user = _find_user(conn, user_ref, "identity.password.user")
    secret = user_ref.get("password")
    if not isinstance(secret, str) or not verify_secret(secret, user["password_hash"]):
        raise _unauthorized()
    return str(user["id"])


def _app_credential(conn: sqlite3.Connection, identity: dict[str, Any]) -> sqlite3.Row:
    ref = _object(identity.get("application_credential"), "identity.application_credential")
    secret = ref.get("secret")
    if not isinstance(secret, str):
        raise _bad_request("Invalid input for field 'application_credential.secret'.")
    if "id" in ref:
        row = conn.execute(
            "SELECT * FROM app_credentials WHERE id = ?",
            (_text(ref["id"], "application_credential.id"),),
        ).fetchone()
    else:
        name = _text(ref.get("name"), "application_credential.name")
        if "user" not in ref:
            raise _bad_request("Expecting to find user in application_credential.")
        user = _find_user(conn, ref["user"], "application_credential.user")
        row = conn.execute(
            "SELECT * FROM app_credentials WHERE name = ? AND user_id = ?", (name, user["id"])
        ).fetchone()
    if row is None or not verify_secret(secret, row["secret_hash"]):
        raise _unauthorized()
    expires = row["expires_at"]
    if expires is not None and dt.datetime.fromisoformat(expires) <= utcnow():
        raise _unauthorized()
    found: sqlite3.Row = row
    return found


def _scoped_project(conn: sqlite3.Connection, scope: Any, user_id: str) -> str | None:
    if scope is None:
        return None
    if scope == "unscoped":
        return None
    scope_obj = _object(scope, "scope")
    if "project" not in scope_obj:
        raise _unauthorized("Only project-scoped and unscoped tokens are supported here.")
    project = _object(scope_obj["project"], "scope.project")
    if "id" in project:
        row = conn.execute(
            "SELECT id, enabled FROM projects WHERE id = ?",
            (_text(project["id"], "scope.project.id"),),
        ).fetchone()
    else:
        name = _text(project.get("name"), "scope.project.name")
        if "domain" not in project:
            raise _bad_request("Expecting to find domain in project.")
        domain_id = _domain_id(conn, project["domain"], "scope.project.domain")
        row = conn.execute(
            "SELECT id, enabled FROM projects WHERE name = ? AND domain_id = ?", (name, domain_id)
        ).fetchone()
    if row is None or not row["enabled"]:
        raise _unauthorized()
    has_role = conn.execute(
        "SELECT 1 FROM role_assignments WHERE user_id = ? AND project_id = ?",
        (user_id, row["id"]),
    ).fetchone()
    if has_role is None:
        raise _unauthorized()
    return str(row["id"])


def resolve_grant(conn: sqlite3.Connection, request_body: Any) -> Grant:
    """Check the credentials of a ``POST /v3/auth/tokens`` body.

    Raises:
        ApiError: 400 for a malformed body, 401 for wrong or unknown credentials.
    """
    auth = _object(_object(request_body, "body").get("auth"), "auth")
    identity = _object(auth.get("identity"), "auth.identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods:
        raise _bad_request("Invalid input for field 'identity.methods'.")
    if methods == ["password"]:
        user_id = _password_user(conn, identity)
        project_id = _scoped_project(conn, auth.get("scope"), user_id)
        return Grant(user_id=user_id, methods=("password",), project_id=project_id)
    if methods == ["application_credential"]:
        if auth.get("scope") is not None:
            raise _unauthorized("An application credential token cannot choose its scope.")
        cred = _app_credential(conn, identity)
        return Grant(
            user_id=str(cred["user_id"]),
            methods=("application_credential",),
            project_id=str(cred["project_id"]),
            app_cred_id=str(cred["id"]),
        )
    if methods == ["token"]:
        token = _object(identity.get("token"), "identity.token")
        row = load_token(conn, _text(token.get("id"), "identity.token.id"))
        if row is None:
            raise _unauthorized()
        user_id = str(row["user_id"])
        project_id = _scoped_project(conn, auth.get("scope"), user_id)
        return Grant(user_id=user_id, methods=("token",), project_id=project_id)
    raise _unauthorized("Attempted to authenticate with an unsupported method.")


def issue_token(
    conn: sqlite3.Connection, grant: Grant, *, lifetime: dt.timedelta = TOKEN_LIFETIME
) -> str:
    """Store a new token for ``grant`` living ``lifetime``; return its id (drops expired
    tokens on the way)."""
    now = utcnow().replace(microsecond=0)
    conn.execute("DELETE FROM tokens WHERE expires_at < ?", (now.isoformat(),))
    token_id = "gAAAAA" + secrets.token_urlsafe(96)
    audit_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    conn.execute(
        "INSERT INTO tokens (id, user_id, project_id, methods, issued_at, expires_at, audit_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            token_id,
            grant.user_id,
            grant.project_id,
            dumps({"methods": list(grant.methods), "app_cred": grant.app_cred_id}),
            now.isoformat(),
            (now + lifetime).isoformat(),
            audit_id,
        ),
    )
    return token_id


def load_token(conn: sqlite3.Connection, token_id: str) -> sqlite3.Row | None:
    """The row of a valid (known, unexpired) token, else None."""
    row = conn.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
    if row is None or dt.datetime.fromisoformat(row["expires_at"]) <= utcnow():
        return None
    found: sqlite3.Row = row
    return found


def revoke_token(conn: sqlite3.Connection, token_id: str) -> bool:
    """Forget a token; True when it existed."""
    return conn.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount > 0


def end_tokens(conn: sqlite3.Connection, how: str, token_id: str | None = None) -> int:
    """End the token ``token_id`` (None: every token issued so far): ``"revoke"`` forgets it,
    ``"expire"`` makes it expired (as a token outliving its ``expires_at``); how many ended."""
    where, args = ("", ()) if token_id is None else (" WHERE id = ?", (token_id,))
    if how == "revoke":
        return conn.execute("DELETE FROM tokens" + where, args).rowcount
    past = (utcnow() - dt.timedelta(seconds=1)).replace(microsecond=0).isoformat()
    return conn.execute("UPDATE tokens SET expires_at = ?" + where, (past, *args)).rowcount


def _domain_ref(conn: sqlite3.Connection, domain_id: str) -> dict[str, str]:
    row = conn.execute("SELECT name FROM domains WHERE id = ?", (domain_id,)).fetchone()
    return {"id": domain_id, "name": row["name"] if row is not None else domain_id}


def token_body(
    conn: sqlite3.Connection, site: Site, root: str, token: sqlite3.Row, *, catalog: bool = True
) -> dict[str, Any]:
    """The ``{"token": …}`` body Keystone returns on create and validate.

    Args:
        conn: Open transaction.
        site: The site (for the catalog).
        root: Base URL the client used (see ``keystone_catalog.base_url``).
        token: The token's row.
        catalog: Include the service catalog (scoped tokens only, as Keystone does).
    """
    info = loads(token["methods"])
    user = conn.execute("SELECT * FROM users WHERE id = ?", (token["user_id"],)).fetchone()
    body: dict[str, Any] = {
        "methods": info["methods"],
        "user": {
            "domain": _domain_ref(conn, user["domain_id"]),
            "id": user["id"],
            "name": user["name"],
            "password_expires_at": None,
        },
        "audit_ids": [token["audit_id"]],
        "expires_at": keystone_time(dt.datetime.fromisoformat(token["expires_at"])),
        "issued_at": keystone_time(dt.datetime.fromisoformat(token["issued_at"])),
    }
    project_id = token["project_id"]
    if project_id is not None:
        project = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
        roles = conn.execute(
            "SELECT role FROM role_assignments WHERE user_id = ? AND project_id = ? ORDER BY role",
            (user["id"], project_id),
        ).fetchall()
        body["project"] = {
            "domain": _domain_ref(conn, project["domain_id"]),
            "id": project["id"],
            "name": project["name"],
        }
        body["is_domain"] = False
        body["roles"] = [{"id": stable_id("role", r["role"]), "name": r["role"]} for r in roles]
        if catalog:
            body["catalog"] = build_catalog(site, root)
    if info.get("app_cred"):
        cred = conn.execute(
            "SELECT id, name FROM app_credentials WHERE id = ?", (info["app_cred"],)
        ).fetchone()
        if cred is not None:
            body["application_credential"] = {
                "id": cred["id"],
                "name": cred["name"],
                "restricted": True,
            }
    return {"token": body}


def project_view(row: sqlite3.Row, root: str, site: Site) -> dict[str, Any]:
    """A project as Keystone v3 shows it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "domain_id": row["domain_id"],
        "description": row["description"],
        "enabled": bool(row["enabled"]),
        "parent_id": row["domain_id"],
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{root}/{site.name}/identity/v3/projects/{row['id']}"},
    }


def user_projects(conn: sqlite3.Connection, user_id: str) -> list[sqlite3.Row]:
    """The projects on which ``user_id`` has any role, by name."""
    return conn.execute(
        "SELECT * FROM projects WHERE id IN "
        "(SELECT project_id FROM role_assignments WHERE user_id = ?) ORDER BY name",
        (user_id,),
    ).fetchall()
