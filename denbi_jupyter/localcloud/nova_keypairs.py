"""Nova key pairs: import (or, before 2.92, generate), list, show, delete; per user.

The fingerprint is Nova's: the MD5 of the decoded public key blob, colon separated. A
generated private key is returned once and never stored or logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import sqlite3
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.http import route
from denbi_jupyter.localcloud.nova_api import NovaApi, NovaBody, empty, ok
from denbi_jupyter.localcloud.nova_microversion import Microversion, microversion_of
from denbi_jupyter.localcloud.nova_quotas import quota_limits
from denbi_jupyter.localcloud.nova_views import db_time, usage_time
from denbi_jupyter.localcloud.responses import ApiError

__all__ = [
    "KeypairApi",
    "create_keypair",
    "delete_keypair",
    "fingerprint",
    "keypair_row",
    "keypair_view",
]

_NAME_OLD = re.compile(r"^[a-zA-Z0-9 _-]+$")
_NAME_292 = re.compile(r"^[a-zA-Z0-9 @._-]+$")


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key line.

    Raises:
        ApiError: 400 when the line is not a valid OpenSSH public key.
    """
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (ValueError, IndexError, binascii.Error, TypeError) as exc:
        raise ApiError(400, "Keypair data is invalid: failed to generate fingerprint") from exc
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def keypair_row(conn: sqlite3.Connection, user_id: str, name: str) -> sqlite3.Row:
    """The user's key pair ``name``.

    Raises:
        ApiError: 404 ``itemNotFound``.
    """
    row: sqlite3.Row | None = conn.execute(
        "SELECT rowid, * FROM keypairs WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone()
    if row is None:
        raise ApiError(404, f"Keypair {name} not found for user {user_id}")
    return row


def keypair_view(
    row: sqlite3.Row, *, version: Microversion, detail: bool, created: bool = False
) -> dict[str, Any]:
    """A key pair as list (``detail`` False), show or create answers show it."""
    view: dict[str, Any] = {}
    if version >= (2, 2):
        view["type"] = row["type"]
    view.update(
        {"name": row["name"], "public_key": row["public_key"], "fingerprint": row["fingerprint"]}
    )
    if created:
        view["user_id"] = row["user_id"]
        return view
    if detail:
        view.update(
            {
                "user_id": row["user_id"],
                "deleted": False,
                "created_at": usage_time(row["created_at"]),
                "updated_at": None,
                "deleted_at": None,
                "id": int(row["rowid"]),
            }
        )
    return view


def create_keypair(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    project_id: str,
    body: Any,
    version: Microversion,
) -> tuple[sqlite3.Row, str | None]:
    """Import (or generate, before 2.92) a key pair; return its row and any private key.

    Raises:
        ApiError: 400 for invalid input, 403 over the ``key_pairs`` quota, 409 for a duplicate.
    """
    keypair = body.get("keypair") if isinstance(body, dict) else None
    if not isinstance(keypair, dict):
        raise ApiError(
            400, "Invalid input for field/attribute keypair. 'keypair' is a required property"
        )
    name = keypair.get("name")
    pattern = _NAME_292 if version >= (2, 92) else _NAME_OLD
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or not pattern.match(name):
        raise ApiError(400, "Keypair data is invalid: Keypair name contains unsafe characters")
    key_type = keypair.get("type", "ssh")
    if key_type != "ssh":
        raise ApiError(400, "Keypair data is invalid: only 'ssh' key pairs are supported here")
    public_key = keypair.get("public_key")
    private_key: str | None = None
    if public_key is None:
        if version >= (2, 92):
            raise ApiError(
                400,
                "Invalid input for field/attribute keypair. Value: "
                f"{{'name': '{name}'}}. 'public_key' is a required property",
            )
        public_key, private_key = _generate()
    if not isinstance(public_key, str):
        raise ApiError(400, "Keypair data is invalid: failed to generate fingerprint")
    print_ = fingerprint(public_key)
    if conn.execute(
        "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone():
        raise ApiError(409, f"Key pair '{name}' already exists.")
    allowed = quota_limits(conn, project_id)["key_pairs"]
    count = conn.execute("SELECT COUNT(*) FROM keypairs WHERE user_id = ?", (user_id,)).fetchone()
    if 0 <= allowed <= int(count[0]):
        raise ApiError(403, "Quota exceeded, too many key pairs.", kind="forbidden")
    conn.execute(
        "INSERT INTO keypairs (name, user_id, public_key, fingerprint, type, created_at) "
        "VALUES (?, ?, ?, ?, 'ssh', ?)",
        (name, user_id, public_key.strip(), print_, db_time()),
    )
    return keypair_row(conn, user_id, name), private_key


def _generate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode() + " Generated-by-Nova", private


def delete_keypair(conn: sqlite3.Connection, user_id: str, name: str) -> None:
    """Delete the user's key pair ``name``.

    Raises:
        ApiError: 404 when it does not exist.
    """
    keypair_row(conn, user_id, name)
    conn.execute("DELETE FROM keypairs WHERE user_id = ? AND name = ?", (user_id, name))


class KeypairApi(NovaApi):
    """``/os-keypairs`` of the user who asks: list, create (import), show, delete."""

    @route("GET", "/os-keypairs")
    def list_keypairs(self, request: Request) -> Response:
        context = self.context_of(request)
        version = microversion_of(request)
        with self.site.store.tx() as conn:
            rows = conn.execute(
                "SELECT rowid, * FROM keypairs WHERE user_id = ? ORDER BY name",
                (context.user_id,),
            ).fetchall()
        items = [{"keypair": keypair_view(r, version=version, detail=False)} for r in rows]
        return ok({"keypairs": items})

    @route("POST", "/os-keypairs")
    def create(self, request: Request, body: NovaBody) -> Response:
        context = self.context_of(request)
        version = microversion_of(request)
        with self.site.store.tx() as conn:
            row, private_key = create_keypair(
                conn,
                user_id=context.user_id,
                project_id=str(context.project_id),
                body=body,
                version=version,
            )
        view = keypair_view(row, version=version, detail=False, created=version >= (2, 10))
        if private_key is not None:
            view["private_key"] = private_key
        return ok({"keypair": view}, 201 if version >= (2, 2) else 200)

    @route("GET", "/os-keypairs/{name}")
    def show(self, name: str, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            row = keypair_row(conn, context.user_id, name)
        return ok({"keypair": keypair_view(row, version=microversion_of(request), detail=True)})

    @route("DELETE", "/os-keypairs/{name}")
    def delete(self, name: str, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            delete_keypair(conn, context.user_id, name)
        return empty(204 if microversion_of(request) >= (2, 2) else 202)
