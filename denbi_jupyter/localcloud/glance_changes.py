"""Validate and apply image changes: the body of ``POST /v2/images`` and JSON-patch documents.

Base attributes are checked against Glance's image schema; everything else is a custom property
whose value must be a string. Errors use Glance's status codes: 400 for malformed input, 403 for
read-only attributes and admin-only changes, 409 for patch operations on missing properties.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from denbi_jupyter.localcloud.glance_query import Viewer
from denbi_jupyter.localcloud.glance_records import db_time
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "READ_ONLY",
    "ImageChanges",
    "apply_changes",
    "changes_from_create",
    "changes_from_patch",
    "patch_media_type_message",
    "patch_media_type_ok",
]

#: Attributes a client can never set.
READ_ONLY = frozenset(
    {"status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
     "updated_at", "self", "file", "schema", "direct_url", "stores", "locations", "location"}
)  # fmt: skip
_CONTAINER_FORMATS = (None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
_DISK_FORMATS = (
    None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"
)  # fmt: skip
_VISIBILITIES = ("public", "private", "shared", "community")
_COLUMNS = (
    "name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "container_format",
    "disk_format", "owner",
)  # fmt: skip
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PATCH_TYPES = (
    "application/openstack-images-v2.0-json-patch",
    "application/openstack-images-v2.1-json-patch",
)


@dataclass(slots=True)
class ImageChanges:
    """Column values to set, custom properties to set or drop, and a new tag list."""

    columns: dict[str, Any] = field(default_factory=dict)
    set_properties: dict[str, str] = field(default_factory=dict)
    removed_properties: list[str] = field(default_factory=list)
    tags: list[str] | None = None


def _schema_error(detail: str) -> ApiError:
    return ApiError(400, f"Provided object does not match schema 'image': {detail}")


def _check_name(value: Any) -> Any:
    if value is not None and (not isinstance(value, str) or len(value) > 255):
        raise _schema_error(f"{value!r} is not a string of at most 255 characters")
    return value


def _check_flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _schema_error(f"{value!r} is not of type 'boolean'")
    return int(value)


def _check_minimum(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _schema_error(f"{value!r} is not a non-negative integer")
    return value


def _one_of(allowed: tuple[str | None, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise _schema_error(f"{value!r} is not one of {[v for v in allowed if v]}")
        return value

    return check


#: The check of each base attribute anyone may set: value -> the value to store.
_VALUE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _check_name,
    "protected": _check_flag,
    "os_hidden": _check_flag,
    "min_disk": _check_minimum,
    "min_ram": _check_minimum,
    "container_format": _one_of(_CONTAINER_FORMATS),
    "disk_format": _one_of(_DISK_FORMATS),
}


def _check_base(name: str, value: Any, viewer: Viewer) -> Any:
    """Validate one base attribute; return the value to store."""
    if name == "visibility":
        if value not in _VISIBILITIES:
            raise ApiError(400, f"Invalid visibility value: {value}")
        if value == "public" and not viewer.is_admin:
            raise ApiError(403, "You are not authorized to complete publicize_image action.")
        return value
    if name == "owner":
        if not viewer.is_admin:
            raise ApiError(403, "Attribute 'owner' can only be changed by an administrator.")
        if not isinstance(value, str):
            raise _schema_error(f"{value!r} is not of type 'string'")
        return value
    return _VALUE_CHECKS[name](value)


def _check_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _schema_error(f"{value!r} is not an array of strings")
    if any(len(tag) > 255 for tag in value):
        raise _schema_error("a tag is longer than 255 characters")
    return list(dict.fromkeys(value))


def _check_property(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _schema_error(f"{value!r} is not of type 'string'")
    if len(name) > 255:
        raise _schema_error("a property name is longer than 255 characters")
    return value


def changes_from_create(body: Any, viewer: Viewer) -> tuple[str | None, ImageChanges]:
    """Validate a create body; return the requested id (or None) and the attributes."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    changes = ImageChanges()
    image_id: str | None = None
    for name, value in body.items():
        if name in READ_ONLY:
            raise ApiError(403, f"Attribute '{name}' is read-only.")
        if name == "id":
            if not isinstance(value, str) or not _UUID.match(value):
                raise _schema_error(f"{value!r} does not match the image id pattern")
            image_id = value.lower()
        elif name == "tags":
            changes.tags = _check_tags(value)
        elif name in _COLUMNS:
            changes.columns[name] = _check_base(name, value, viewer)
        else:
            changes.set_properties[name] = _check_property(name, value)
    return image_id, changes


def patch_media_type_ok(content_type: str) -> bool:
    """True for Glance's JSON-patch media types (parameters ignored)."""
    return content_type.split(";")[0].strip().lower() in _PATCH_TYPES


def patch_media_type_message(content_type: str) -> str:
    """Glance's 415 message for a PATCH with the wrong media type."""
    shown = content_type.split(";")[0].strip() or "None"
    return (
        f"The request media type {shown} is not supported by this server.\n<br /><br />\n"
        f"Image PATCH expects Content-Type one of: {', '.join(_PATCH_TYPES)}"
    )


def _pointer(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ApiError(400, f"Invalid JSON pointer for this resource: '{path}'")
    segment = path[1:]
    if "/" in segment or not segment or re.search(r"~(?![01])", segment):
        raise ApiError(400, f"Invalid JSON pointer for this resource: '{path}'")
    return segment.replace("~1", "/").replace("~0", "~")


def _operation(operation: Any) -> tuple[str, str, Any]:
    """``(op, attribute, value)`` of one JSON-patch operation.

    Raises:
        ApiError: 400 for a malformed operation, 403 for a read-only attribute.
    """
    if not isinstance(operation, dict):
        raise ApiError(400, "Each JSON-patch operation must be an object.")
    op = operation.get("op")
    if op not in ("add", "replace", "remove"):
        raise ApiError(
            400, f'Invalid operation: "{op}". It must be one of "add", "remove" or "replace".'
        )
    name = _pointer(operation.get("path"))
    if op != "remove" and "value" not in operation:
        raise ApiError(400, f'Operation "{op}" requires a member named "value".')
    if name in READ_ONLY or name == "id":
        raise ApiError(403, f"Attribute '{name}' is read-only.")
    return str(op), name, operation.get("value")


def _patch_property(
    changes: ImageChanges, properties: dict[str, Any], op: str, name: str, value: Any
) -> None:
    """Apply one operation on a custom property to ``changes`` (and the ``properties`` so far).

    Raises:
        ApiError: 409 removing or replacing a missing property, adding a present one.
    """
    if op == "remove":
        if name not in properties:
            raise ApiError(409, f"Property {name} does not exist.")
        properties.pop(name)
        changes.set_properties.pop(name, None)
        changes.removed_properties.append(name)
        return
    if op == "add" and name in properties:
        raise ApiError(409, f"Property {name} already present.")
    if op == "replace" and name not in properties:
        raise ApiError(409, f"Property {name} does not exist.")
    properties[name] = _check_property(name, value)
    changes.set_properties[name] = properties[name]
    if name in changes.removed_properties:
        changes.removed_properties.remove(name)


def changes_from_patch(operations: Any, row: sqlite3.Row, viewer: Viewer) -> ImageChanges:
    """Validate a JSON-patch document against the image in ``row``.

    Raises:
        ApiError: 400 malformed, 403 read-only or admin-only, 409 missing/present property.
    """
    if not isinstance(operations, list):
        raise ApiError(400, "Expected a list of JSON-patch operations.")
    properties: dict[str, Any] = dict(loads(row["properties"]) or {})
    changes = ImageChanges()
    for operation in operations:
        op, name, value = _operation(operation)
        if name not in _COLUMNS and name != "tags":
            _patch_property(changes, properties, op, name, value)
        elif op == "remove":
            raise ApiError(403, f"Attribute '{name}' cannot be removed.")
        elif name == "tags":
            changes.tags = _check_tags(value)
        else:
            changes.columns[name] = _check_base(name, value, viewer)
    return changes


def apply_changes(conn: sqlite3.Connection, image_id: str, changes: ImageChanges) -> None:
    """Write ``changes`` to the image and touch ``updated_at``."""
    row = conn.execute("SELECT properties FROM images WHERE id = ?", (image_id,)).fetchone()
    properties: dict[str, Any] = dict(loads(row["properties"]) or {})
    for name in changes.removed_properties:
        properties.pop(name, None)
    properties.update(changes.set_properties)
    assignments = [f"{column} = ?" for column in changes.columns]
    conn.execute(
        f"UPDATE images SET {', '.join([*assignments, 'properties = ?', 'updated_at = ?'])} "
        "WHERE id = ?",
        [*changes.columns.values(), dumps(properties), db_time(), image_id],
    )
    if changes.tags is not None:
        conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
        conn.executemany(
            "INSERT INTO image_tags (image_id, tag) VALUES (?, ?)",
            [(image_id, tag) for tag in changes.tags],
        )
