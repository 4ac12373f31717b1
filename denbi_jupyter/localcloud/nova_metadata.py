"""Nova ``/servers/{id}/metadata``: show, merge (POST), replace (PUT), and single items.

Changing metadata needs the server in a state Nova allows it in (:data:`_STATES`), unlocked,
and keeps within the ``metadata_items`` quota (:func:`~nova_servers.check_metadata`). Keys are
what Nova's API schema allows here (:data:`_KEY`: letters, digits, space and ``-_:.``).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.http import route
from denbi_jupyter.localcloud.nova_api import NovaApi, NovaBody, empty, ok
from denbi_jupyter.localcloud.nova_servers import check_metadata, server_to_change, set_metadata
from denbi_jupyter.localcloud.nova_state import check_state, get_server, update_server
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = ["MetadataApi"]

_STATES = ("active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded")
_NOT_FOUND = "Metadata item was not found"
#: The metadata keys Nova's schema accepts (``parameter_types.metadata``).
_KEY = re.compile(r"[a-zA-Z0-9_:. -]{1,255}")


def _check_keys(metadata: Any) -> None:
    """Refuse keys Nova's schema does not allow (400, as Nova words it)."""
    if not isinstance(metadata, dict):
        return
    for key in metadata:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ApiError(
                400,
                f"Invalid input for field/attribute metadata. Value: {metadata}. "
                f"Additional properties are not allowed ({key!r} was unexpected)",
            )


def _item(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The one ``meta`` item of a ``PUT …/metadata/{key}`` body.

    Raises:
        ApiError: 400 for a malformed body, more than one item or another key.
    """
    meta = body.get("meta")
    if not isinstance(meta, dict):
        raise ApiError(400, "Malformed request body")
    if len(meta) != 1:
        raise ApiError(400, "Request body contains too many items")
    if key not in meta:
        raise ApiError(400, "Request body and URI mismatch")
    return meta


def _changeable(
    conn: sqlite3.Connection, context: TokenContext, server_id: str, action: str
) -> sqlite3.Row:
    """The server ``context`` may change metadata of, in a state that allows it (else 404/409)."""
    row = server_to_change(conn, server_id, context)
    check_state(row, action, vm_states=_STATES, task_states=None)
    return row


class MetadataApi(NovaApi):
    """Server metadata, as a whole and by key."""

    def _current(self, request: Request, server_id: str) -> dict[str, Any]:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            metadata: dict[str, Any] = loads(get_server(conn, server_id, context)["metadata"])
        return metadata or {}

    @route("GET", "/servers/{server_id}/metadata")
    def show(self, server_id: str, request: Request) -> Response:
        return ok({"metadata": self._current(request, server_id)})

    @route("POST", "/servers/{server_id}/metadata")
    def merge(self, server_id: str, request: Request, body: NovaBody) -> Response:
        return self._write(request, body, server_id, replace=False)

    @route("PUT", "/servers/{server_id}/metadata")
    def replace(self, server_id: str, request: Request, body: NovaBody) -> Response:
        return self._write(request, body, server_id, replace=True)

    def _write(
        self, request: Request, body: dict[str, Any], server_id: str, *, replace: bool
    ) -> Response:
        context = self.context_of(request)
        if "metadata" not in body:
            raise ApiError(
                400, "Invalid input for field/attribute metadata. 'metadata' is a required property"
            )
        _check_keys(body["metadata"])
        with self.site.store.tx() as conn:
            row = _changeable(conn, context, server_id, "update metadata")
            metadata = check_metadata(conn, row["project_id"], body["metadata"])
            if not replace:
                merged = {**(loads(row["metadata"]) or {}), **metadata}
                check_metadata(conn, row["project_id"], merged)
            result = set_metadata(conn, row, metadata, replace=replace)
        return ok({"metadata": result})

    @route("GET", "/servers/{server_id}/metadata/{key}")
    def show_item(self, server_id: str, key: str, request: Request) -> Response:
        metadata = self._current(request, server_id)
        if key not in metadata:
            raise ApiError(404, _NOT_FOUND)
        return ok({"meta": {key: metadata[key]}})

    @route("PUT", "/servers/{server_id}/metadata/{key}")
    def put_item(self, server_id: str, key: str, request: Request, body: NovaBody) -> Response:
        context = self.context_of(request)
        meta = _item(body, key)
        _check_keys(meta)
        with self.site.store.tx() as conn:
            row = _changeable(conn, context, server_id, "update metadata")
            merged = {**(loads(row["metadata"]) or {}), **meta}
            check_metadata(conn, row["project_id"], merged)
            set_metadata(conn, row, merged, replace=True)
        return ok({"meta": meta})

    @route("DELETE", "/servers/{server_id}/metadata/{key}")
    def delete_item(self, server_id: str, key: str, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            row = _changeable(conn, context, server_id, "delete metadata")
            metadata = dict(loads(row["metadata"]) or {})
            if key not in metadata:
                raise ApiError(404, _NOT_FOUND)
            del metadata[key]
            update_server(conn, server_id, metadata=dumps(metadata))
        return empty(204)
