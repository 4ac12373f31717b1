"""Glance v2 of one site: version discovery, image records, data, tags and schemas.

Listing lives in ``glance_query`` (SQL filters, sort, keyset paging), attribute checks in
``glance_changes``, uploads in ``glance_upload``, image quota and ``/v2/info/usage`` in
``image_limits``. Nova makes its snapshot images through the
record functions re-exported here: :func:`create_image_record`, :func:`set_image_status`,
:func:`finish_image_upload`, :func:`get_image_row` and :func:`image_exists`.

Visibility follows Glance: a non-admin sees public and community images, the images its
project owns, and shared images of which its project is a member. Changing or deleting an
image that is visible but not owned answers 403; an invisible image answers 404.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from denbi_jupyter.localcloud import image_limits
from denbi_jupyter.localcloud.auth import TokenContext, scoped
from denbi_jupyter.localcloud.glance_changes import (
    ImageChanges,
    apply_changes,
    changes_from_create,
    changes_from_patch,
    patch_media_type_message,
    patch_media_type_ok,
)
from denbi_jupyter.localcloud.glance_query import (
    Viewer,
    list_images,
    parse_image_query,
    visible_clause,
)
from denbi_jupyter.localcloud.glance_records import (
    create_image_record,
    data_path,
    delete_image_record,
    finish_image_upload,
    get_image_row,
    image_exists,
    image_tags,
    image_view,
    set_image_status,
)
from denbi_jupyter.localcloud.glance_schema import image_schema, images_schema
from denbi_jupyter.localcloud.glance_upload import (
    ReceivedData,
    declared_size,
    drain,
    receive_data,
    store_data,
)
from denbi_jupyter.localcloud.http import (
    SiteHandlers,
    mount,
    parse_json,
    route,
    routes_of,
    service_route,
)
from denbi_jupyter.localcloud.keystone_catalog import base_url
from denbi_jupyter.localcloud.responses import ApiError, glance_patch_media_error
from denbi_jupyter.localcloud.site import Site

__all__ = [
    "VERSIONS",
    "build_router",
    "create_image_record",
    "finish_image_upload",
    "get_image_row",
    "image_exists",
    "register_events",
    "set_image_status",
]

#: The version ids Glance 33 lists at its root, in its order.
VERSIONS: tuple[tuple[str, str], ...] = (
    ("v2.15", "SUPPORTED"), ("v2.13", "SUPPORTED"), ("v2.12", "SUPPORTED"),
    ("v2.11", "SUPPORTED"), ("v2.10", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.8", "SUPPORTED"),
    ("v2.17", "CURRENT"), ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"), ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"), ("v2.3", "SUPPORTED"), ("v2.2", "SUPPORTED"), ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
)  # fmt: skip
_EMPTY_HTML = {"Content-Type": "text/html; charset=UTF-8"}
_MIB = 1024 * 1024


def _no_content() -> Response:
    """Glance's 204: empty body, ``text/html`` content type."""
    return Response(status_code=204, headers=_EMPTY_HTML)


def _no_data() -> Response:
    """Glance's 204 for a download of an image without data: no body, no content type."""
    return Response(status_code=204)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: The raw request body (parsed with :func:`~denbi_jupyter.localcloud.http.parse_json` once
#: the handler knows who asks, so a bad token answers 401 before a bad body answers 400).
RawBody = Annotated[bytes, Depends(_raw_body)]


def _chunks(handle: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    """Read ``handle`` in chunks and close it at the end."""
    with handle:
        while chunk := handle.read(size):
            yield chunk


def _viewer(context: TokenContext) -> Viewer:
    return Viewer(project_id=context.project_id, is_admin=context.is_admin)


def _visible_row(conn: sqlite3.Connection, image_id: str, viewer: Viewer) -> sqlite3.Row | None:
    sql, params = visible_clause(viewer)
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM images WHERE id = ? AND {sql}", [image_id, *params]
    ).fetchone()
    return row


def _require_visible(conn: sqlite3.Connection, image_id: str, viewer: Viewer) -> sqlite3.Row:
    row = _visible_row(conn, image_id, viewer)
    if row is None:
        raise ApiError(404, f"No image found with ID {image_id}")
    return row


def _require_owned(
    conn: sqlite3.Connection, image_id: str, viewer: Viewer, action: str
) -> sqlite3.Row:
    row = _require_visible(conn, image_id, viewer)
    if not viewer.is_admin and row["owner"] != viewer.project_id:
        raise ApiError(403, f"You are not permitted to {action} image {image_id}.")
    return row


def _show(conn: sqlite3.Connection, image_id: str) -> dict[str, Any]:
    row = get_image_row(conn, image_id)
    assert row is not None
    return image_view(row, image_tags(conn, image_id))


def _page_links(request: Request, rows: list[sqlite3.Row], limit: int) -> dict[str, str]:
    """``first``, ``schema`` and (for a full page) ``next``, re-encoded as Glance does."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        params[key] = value
    params.pop("marker", None)
    query = urlencode(params)
    links = {
        "first": f"/v2/images?{query}" if query else "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if rows and len(rows) == limit:
        params["marker"] = rows[-1]["id"]
        links["next"] = f"/v2/images?{urlencode(params)}"
    return links


def _tags_of(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {image_id: [] for image_id in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT image_id, tag FROM image_tags WHERE image_id IN ({marks})", chunk
        )
        for row in rows:
            tags[row["image_id"]].append(row["tag"])
    return tags


def _create(
    site: Site,
    conn: sqlite3.Connection,
    viewer: Viewer,
    image_id: str | None,
    changes: ImageChanges,
) -> str:
    if image_id is not None and image_exists(conn, image_id):
        raise ApiError(409, f"Image with identifier {image_id} already exists!")
    columns = changes.columns
    owner = str(columns.get("owner", viewer.project_id))
    image_limits.enforce(site, conn, viewer.project_id or "", "image_count_total", delta=1)
    return create_image_record(
        conn,
        owner=owner,
        name=columns.get("name"),
        properties=changes.set_properties,
        visibility=columns.get("visibility", "shared"),
        min_disk=columns.get("min_disk", 0),
        min_ram=columns.get("min_ram", 0),
        container_format=columns.get("container_format"),
        disk_format=columns.get("disk_format"),
        tags=changes.tags or (),
        protected=bool(columns.get("protected", 0)),
        os_hidden=bool(columns.get("os_hidden", 0)),
        image_id=image_id,
    )


def _upload_checked(
    conn: sqlite3.Connection, image_id: str, viewer: Viewer, content_type: str
) -> None:
    """Refuse an upload with another media type (415), or to an image not ``queued`` (409)."""
    if content_type.split(";")[0].strip() != "application/octet-stream":
        raise ApiError(
            415, f"The request media type {content_type} is not supported by this server."
        )
    row = _require_owned(conn, image_id, viewer, "upload data to")
    if row["status"] != "queued":
        raise ApiError(
            409, f"Image status transition from {row['status']} to saving is not allowed"
        )


class GlanceApi(SiteHandlers):
    """The handlers of ``site``'s Glance; each first checks who asks (:meth:`viewer`)."""

    def viewer(self, request: Request) -> Viewer:
        """Who asks (a project-scoped token).

        Raises:
            ApiError: 401 without a valid token, 403 for an unscoped one.
        """
        return _viewer(scoped(self.site, request, refusal="Glance needs a project-scoped token."))

    @route("GET", "")
    @route("GET", "/")
    def versions(self, request: Request) -> Response:
        href = f"{base_url(request)}/{self.site.name}/image/v2/"
        values = [
            {"id": vid, "status": status, "links": [{"rel": "self", "href": href}]}
            for vid, status in VERSIONS
        ]
        return JSONResponse({"versions": values}, status_code=300)

    @route("GET", "/v2/schemas/image")
    def schema_image(self, request: Request) -> Response:
        self.viewer(request)
        return JSONResponse(image_schema())

    @route("GET", "/v2/schemas/images")
    def schema_images(self, request: Request) -> Response:
        self.viewer(request)
        return JSONResponse(images_schema())

    @route("GET", "/v2/images")
    def list_images(self, request: Request) -> Response:
        who = self.viewer(request)
        query = parse_image_query(list(request.query_params.multi_items()), who)
        with self.site.store.tx() as conn:
            rows = list_images(conn, query, who)
            tags = _tags_of(conn, [row["id"] for row in rows])
        body: dict[str, Any] = {"images": [image_view(row, tags[row["id"]]) for row in rows]}
        body.update(_page_links(request, rows, query.limit))
        return JSONResponse(body)

    @route("POST", "/v2/images")
    def create(self, request: Request, raw: RawBody) -> Response:
        who = self.viewer(request)
        requested_id, changes = changes_from_create(parse_json(raw, "image"), who)
        with self.site.store.tx() as conn:
            image_id = _create(self.site, conn, who, requested_id, changes)
            body = _show(conn, image_id)
        location = f"{base_url(request)}/{self.site.name}/image/v2/images/{image_id}"
        return JSONResponse(body, status_code=201, headers={"Location": location})

    @route("GET", "/v2/images/{image_id}")
    def show(self, image_id: str, request: Request) -> Response:
        who = self.viewer(request)
        with self.site.store.tx() as conn:
            _require_visible(conn, image_id, who)
            return JSONResponse(_show(conn, image_id))

    @route("PATCH", "/v2/images/{image_id}")
    def patch(self, image_id: str, request: Request, raw: RawBody) -> Response:
        who = self.viewer(request)
        content_type = request.headers.get("Content-Type", "")
        if not patch_media_type_ok(content_type):
            return glance_patch_media_error(patch_media_type_message(content_type))
        operations = parse_json(raw, "image")
        with self.site.store.tx() as conn:
            row = _require_owned(conn, image_id, who, "modify")
            apply_changes(conn, image_id, changes_from_patch(operations, row, who))
            return JSONResponse(_show(conn, image_id))

    @route("DELETE", "/v2/images/{image_id}")
    def delete(self, image_id: str, request: Request) -> Response:
        who = self.viewer(request)
        with self.site.store.tx() as conn:
            row = _visible_row(conn, image_id, who)
            if row is None:
                raise ApiError(404, f"Failed to find image {image_id} to delete")
            if not who.is_admin and row["owner"] != who.project_id:
                raise ApiError(403, "You are not permitted to delete this image.")
            if row["protected"]:
                raise ApiError(403, f"Image {image_id} is protected and cannot be deleted.")
            delete_image_record(conn, self.site, image_id)
        return _no_content()

    @route("PUT", "/v2/images/{image_id}/file")
    async def upload(self, image_id: str, request: Request) -> Response:
        who = await run_in_threadpool(self.viewer, request)
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        try:
            declared = declared_size(request)
            await run_in_threadpool(self._begin, image_id, who, content_type, declared)
        except ApiError:
            await drain(request)
            raise
        try:
            received = await receive_data(request, self.site)
            try:
                await run_in_threadpool(self._store, image_id, who, received)
            finally:
                received.discard()
        except BaseException:
            await run_in_threadpool(self._restore, image_id)
            raise
        return _no_content()

    def _begin(self, image_id: str, who: Viewer, content_type: str, declared: int | None) -> None:
        """Check the upload may start (as Glance 33, in its order) and mark the image
        ``saving``; a refusal leaves it ``queued``."""
        with self.site.store.tx() as conn:
            _upload_checked(conn, image_id, who, content_type)
            delta = (declared or 0) // _MIB
            image_limits.enforce(self.site, conn, who.project_id or "", "image_size_total", delta)
            set_image_status(conn, image_id, "saving")
            image_limits.enforce(self.site, conn, who.project_id or "", "image_count_uploading")

    def _store(self, image_id: str, who: Viewer, received: ReceivedData) -> None:
        with self.site.store.tx() as conn:
            row = get_image_row(conn, image_id)
            if row is None or row["status"] != "saving":
                raise ApiError(
                    410,
                    f"Image {image_id} could not be found after upload. The image may "
                    "have been deleted during the upload, cleaning up the chunks uploaded.",
                )
            delta = received.size // _MIB
            image_limits.enforce(self.site, conn, who.project_id or "", "image_size_total", delta)
            store_data(conn, self.site, image_id, received)

    def _restore(self, image_id: str) -> None:
        """After a failed upload the image goes back to ``queued``, as in Glance."""
        with self.site.store.tx() as conn:
            row = get_image_row(conn, image_id)
            if row is not None and row["status"] == "saving":
                set_image_status(conn, image_id, "queued")

    @route("GET", "/v2/images/{image_id}/file")
    def download(self, image_id: str, request: Request) -> Response:
        who = self.viewer(request)
        with self.site.store.tx() as conn:
            row = _require_visible(conn, image_id, who)
        if row["status"] == "deactivated" and not who.is_admin:
            raise ApiError(
                403,
                "The requested image has been deactivated. Image data download is forbidden.",
            )
        if row["status"] != "active":
            return _no_data()
        try:
            # Opened here, the data stays readable even if the image is deleted meanwhile.
            handle = data_path(self.site, image_id).open("rb")
        except FileNotFoundError:
            return _no_data()
        headers = {"Content-Length": str(row["size"])}
        if row["checksum"]:
            headers["Content-MD5"] = row["checksum"]
        return StreamingResponse(
            _chunks(handle), media_type="application/octet-stream", headers=headers
        )

    @route("GET", "/v2/info/usage")
    def info_usage(self, request: Request) -> Response:
        who = self.viewer(request)
        with self.site.store.tx() as conn:
            return JSONResponse(image_limits.usage_view(self.site, conn, who.project_id or ""))

    @route("PUT", "/v2/images/{image_id}/tags/{tag}")
    def add_tag(self, image_id: str, tag: str, request: Request) -> Response:
        who = self.viewer(request)
        if len(tag) > 255:
            raise ApiError(400, "Tag is longer than 255 characters.")
        with self.site.store.tx() as conn:
            _require_owned(conn, image_id, who, "modify")
            conn.execute(
                "INSERT OR IGNORE INTO image_tags (image_id, tag) VALUES (?, ?)", (image_id, tag)
            )
            apply_changes(conn, image_id, ImageChanges())
        return _no_content()

    @route("DELETE", "/v2/images/{image_id}/tags/{tag}")
    def delete_tag(self, image_id: str, tag: str, request: Request) -> Response:
        who = self.viewer(request)
        with self.site.store.tx() as conn:
            _require_owned(conn, image_id, who, "modify")
            removed = conn.execute(
                "DELETE FROM image_tags WHERE image_id = ? AND tag = ?", (image_id, tag)
            ).rowcount
            if not removed:
                raise ApiError(404, f"Tag {tag} not found for image {image_id}")
            apply_changes(conn, image_id, ImageChanges())
        return _no_content()


def build_router(site: Site) -> APIRouter:
    """The routes of ``site``'s Glance, mounted under ``/{site}/image``."""
    router = APIRouter(route_class=service_route("image"))
    mount(router, routes_of(GlanceApi(site)))
    return router


def register_events(site: Site) -> None:
    """Register Glance's timeline handlers on ``site`` (uploads finish synchronously: none)."""
