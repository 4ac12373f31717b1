"""Glance image records: the rows behind ``/v2/images``, their data files and JSON shape.

Nova makes its snapshot images through these functions (never by writing the ``images`` table
itself): :func:`create_image_record`, then :func:`set_image_status` (``saving``), then
:func:`finish_image_upload`. Every function takes the connection of an open
``site.store.tx()`` transaction and never commits on its own.

Timestamps are stored as ``YYYY-MM-DDTHH:MM:SS`` (UTC, whole seconds, as Glance's database keeps
them, so images made in the same second sort by id) and shown with a ``Z`` suffix.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from denbi_jupyter.localcloud.auth import utcnow
from denbi_jupyter.localcloud.image_data import write_chunks
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "BASE_FIELDS",
    "IMAGE_STATUSES",
    "api_time",
    "create_image_record",
    "data_path",
    "db_time",
    "delete_image_record",
    "finish_image_upload",
    "get_image_row",
    "image_exists",
    "image_tags",
    "image_view",
    "record_image_data",
    "set_image_status",
]

#: Statuses a Glance v2 image can have.
IMAGE_STATUSES = frozenset(
    {
        "queued",
        "saving",
        "active",
        "killed",
        "deleted",
        "pending_delete",
        "deactivated",
        "uploading",
        "importing",
    }
)

#: Image attributes that are columns (everything else is a custom property).
BASE_FIELDS = (
    "id", "name", "status", "visibility", "owner", "protected", "container_format",
    "disk_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
    "min_disk", "min_ram", "os_hidden", "created_at", "updated_at",
)  # fmt: skip


def db_time(moment: Any = None) -> str:
    """A timestamp in the stored form (now when ``moment`` is None)."""
    value = utcnow() if moment is None else moment
    return str(value.strftime("%Y-%m-%dT%H:%M:%S"))


def api_time(stored: str) -> str:
    """A stored timestamp as Glance shows it: seconds precision, ``Z`` suffix."""
    return stored[:19] + "Z"


def data_path(site: Site, image_id: str) -> Path:
    """Where the data of ``image_id`` lives (the file may not exist)."""
    return site.store.data_dir / f"{image_id}.img"


def create_image_record(
    conn: sqlite3.Connection,
    *,
    owner: str,
    name: str | None,
    properties: Mapping[str, str],
    visibility: str = "private",
    min_disk: int = 0,
    min_ram: int = 0,
    container_format: str | None = "bare",
    disk_format: str | None = "qcow2",
    tags: Iterable[str] = (),
    protected: bool = False,
    os_hidden: bool = False,
    image_id: str | None = None,
) -> str:
    """Insert a new image with status ``queued`` and no data; return its id.

    Args:
        conn: Connection of an open ``site.store.tx()`` transaction.
        owner: Project id that owns the image.
        name: Image name (Glance allows duplicates and None).
        properties: Custom properties, e.g. ``{"image_type": "snapshot"}``.
        visibility: ``public``, ``private``, ``shared`` or ``community``.
        min_disk: Minimum disk in GB.
        min_ram: Minimum RAM in MB.
        container_format: Container format (``bare``).
        disk_format: Disk format (``qcow2``, ``raw``, …).
        tags: Initial tags.
        protected: Whether deletion is refused.
        os_hidden: Whether the image is hidden from default listings.
        image_id: Use this id instead of a new UUID.
    """
    new_id = image_id or str(uuid.uuid4())
    now = db_time()
    conn.execute(
        "INSERT INTO images (id, name, status, visibility, owner, protected, container_format, "
        "disk_format, min_disk, min_ram, os_hidden, created_at, updated_at, properties) "
        "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id, name, visibility, owner, int(protected), container_format, disk_format,
            min_disk, min_ram, int(os_hidden), now, now, dumps(dict(properties)),
        ),
    )  # fmt: skip
    conn.executemany(
        "INSERT OR IGNORE INTO image_tags (image_id, tag) VALUES (?, ?)",
        [(new_id, tag) for tag in tags],
    )
    return new_id


def set_image_status(conn: sqlite3.Connection, image_id: str, status: str) -> None:
    """Set the status of ``image_id`` (e.g. ``saving``, ``killed``) and touch ``updated_at``.

    Raises:
        ValueError: ``status`` is not a Glance image status.
    """
    if status not in IMAGE_STATUSES:
        raise ValueError(f"unknown image status {status!r}")
    conn.execute(
        "UPDATE images SET status = ?, updated_at = ? WHERE id = ?", (status, db_time(), image_id)
    )


def finish_image_upload(
    conn: sqlite3.Connection, site: Site, image_id: str, data: bytes | Iterable[bytes]
) -> None:
    """Store ``data`` (bytes, or chunks streamed to disk) as the image's file; set size,
    checksum, sha512 hash and status ``active``."""
    chunks: Iterable[bytes] = [data] if isinstance(data, bytes) else data
    digest = write_chunks(data_path(site, image_id), chunks)
    record_image_data(conn, image_id, size=digest.size, md5=digest.md5, sha512=digest.sha512)


def record_image_data(
    conn: sqlite3.Connection, image_id: str, *, size: int, md5: str, sha512: str
) -> None:
    """Record the size and hashes of an image's stored data and make it ``active``."""
    conn.execute(
        "UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?, "
        "os_hash_algo = 'sha512', os_hash_value = ?, updated_at = ? WHERE id = ?",
        (size, size, md5, sha512, db_time(), image_id),
    )


def get_image_row(conn: sqlite3.Connection, image_id: str) -> sqlite3.Row | None:
    """The ``images`` row of ``image_id``, or None when it does not exist."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM images WHERE id = ?", (image_id,)
    ).fetchone()
    return row


def image_exists(conn: sqlite3.Connection, image_id: str) -> bool:
    """True when an image with this id exists (whatever its status or visibility)."""
    return conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None


def image_tags(conn: sqlite3.Connection, image_id: str) -> list[str]:
    """The tags of ``image_id``."""
    rows = conn.execute("SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag", (image_id,))
    return [str(row["tag"]) for row in rows]


def delete_image_record(conn: sqlite3.Connection, site: Site, image_id: str) -> None:
    """Remove the image, its tags and its data file."""
    conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
    conn.execute("DELETE FROM image_members WHERE image_id = ?", (image_id,))
    conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
    data_path(site, image_id).unlink(missing_ok=True)


def image_view(row: sqlite3.Row, tags: Iterable[str]) -> dict[str, Any]:
    """The image as Glance v2 shows it: custom properties first, then the base fields."""
    image_id = row["id"]
    body: dict[str, Any] = dict(loads(row["properties"]) or {})
    body.update(
        {
            "name": row["name"],
            "disk_format": row["disk_format"],
            "container_format": row["container_format"],
            "visibility": row["visibility"],
            "size": row["size"],
            "virtual_size": row["virtual_size"],
            "status": row["status"],
            "checksum": row["checksum"],
            "protected": bool(row["protected"]),
            "min_ram": row["min_ram"],
            "min_disk": row["min_disk"],
            "owner": row["owner"],
            "os_hidden": bool(row["os_hidden"]),
            "os_hash_algo": row["os_hash_algo"],
            "os_hash_value": row["os_hash_value"],
            "id": image_id,
            "created_at": api_time(row["created_at"]),
            "updated_at": api_time(row["updated_at"]),
            "tags": list(tags),
            "self": f"/v2/images/{image_id}",
            "file": f"/v2/images/{image_id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    if row["checksum"] is not None:
        body["stores"] = "fs"
    return body
