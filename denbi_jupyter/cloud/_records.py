"""Raw API JSON → frozen domain types (pure; used by the gateway and the fake cloud alike).

The gateway reads Glance, Nova and Keystone answers as JSON (building openstacksdk resource
objects costs ~1.3 ms per image) and turns them into :mod:`~denbi_jupyter.cloud.types` here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from denbi_jupyter.cloud import provenance
from denbi_jupyter.cloud._keypairs import sha256_fingerprint
from denbi_jupyter.cloud.classify import classify
from denbi_jupyter.cloud.types import (
    Flavor,
    Image,
    ImageClass,
    KeyPair,
    Limits,
    Server,
    Snapshot,
)

__all__ = [
    "GLANCE_BASE_FIELDS",
    "classified",
    "flavor_from_nova",
    "image_from_glance",
    "keypair_from_nova",
    "limits_from_nova",
    "parse_time",
    "server_from_nova",
    "snapshot_from_glance",
    "snapshot_from_image",
]

#: Keys of a Glance v2 image that are not custom properties.
GLANCE_BASE_FIELDS = frozenset(
    {
        "id", "name", "status", "visibility", "owner", "protected", "container_format",
        "disk_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
        "min_disk", "min_ram", "os_hidden", "created_at", "updated_at", "tags", "self", "file",
        "schema", "stores", "locations", "direct_url",
    }
)  # fmt: skip

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(value: object) -> dt.datetime | None:
    """An API timestamp (``2026-11-27T06:51:27Z``, with or without zone) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _properties(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: _text(value)
        for key, value in record.items()
        if key not in GLANCE_BASE_FIELDS and value is not None
    }


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def image_from_glance(record: Mapping[str, Any], *, classified: bool = True) -> Image:
    """An :class:`Image` from a Glance v2 image record; ``classified`` computes ``kind``."""
    name = str(record.get("name") or "")
    tags = tuple(sorted(str(tag) for tag in record.get("tags") or ()))
    properties = _properties(record)
    created = parse_time(record.get("created_at")) or _EPOCH
    return Image(
        id=str(record["id"]),
        name=name,
        status=str(record.get("status") or "unknown"),
        visibility=str(record.get("visibility") or "private"),
        owner=record.get("owner") or None,
        protected=bool(record.get("protected")),
        size=_optional_int(record.get("size")),
        min_disk=_int(record.get("min_disk")),
        min_ram=_int(record.get("min_ram")),
        created_at=created,
        updated_at=parse_time(record.get("updated_at")) or created,
        tags=tags,
        properties=properties,
        kind=classify(name, tags, properties) if classified else ImageClass(),
    )


def classified(image: Image) -> Image:
    """``image`` with its ``kind`` computed (for one read with ``classified=False``)."""
    return dataclasses.replace(image, kind=classify(image.name, image.tags, image.properties))


def snapshot_from_image(image: Image, project_names: Mapping[str, str]) -> Snapshot:
    """The snapshot view of an image; the project name comes from ``project_names``.

    When the owner is not among the user's projects (a shared or public snapshot), Nova's
    ``owner_project_name`` property names it.
    """
    props = image.properties
    project_name = project_names.get(image.owner or "") or props.get(provenance.OWNER_PROJECT_NAME)
    return Snapshot(
        id=image.id,
        name=image.name,
        status=image.status,
        project_id=image.owner,
        project_name=project_name or None,
        size=image.size,
        created_at=image.created_at,
        updated_at=image.updated_at,
        protected=image.protected,
        visibility=image.visibility,
        min_disk=image.min_disk,
        source_server_id=props.get(provenance.INSTANCE_UUID)
        or props.get(provenance.SOURCE_SERVER_ID),
        source_server_name=props.get(provenance.SOURCE_SERVER_NAME),
        source_image_id=props.get(provenance.SOURCE_IMAGE_ID)
        or props.get(provenance.BASE_IMAGE_REF),
        flavor_name=props.get(provenance.FLAVOR_NAME),
        tags=image.tags,
        properties=props,
    )


def snapshot_from_glance(record: Mapping[str, Any], project_names: Mapping[str, str]) -> Snapshot:
    """A :class:`Snapshot` straight from a Glance record (no classification: cheap for indexes)."""
    return snapshot_from_image(image_from_glance(record, classified=False), project_names)


def _private_ipv4(addresses: object) -> str | None:
    if not isinstance(addresses, Mapping):
        return None
    fallback: str | None = None
    for entries in addresses.values():
        for entry in entries or ():
            if entry.get("version") != 4:
                continue
            kind = entry.get("OS-EXT-IPS:type")
            if kind in (None, "fixed"):
                return str(entry.get("addr"))
            fallback = fallback or str(entry.get("addr"))
    return fallback


def server_from_nova(record: Mapping[str, Any]) -> Server:
    """A :class:`Server` from a Nova ``server`` object (any microversion from 2.1 to 2.104)."""
    flavor = record.get("flavor") or {}
    image = record.get("image")
    metadata = record.get("metadata") or {}
    power = record.get("OS-EXT-STS:power_state")
    return Server(
        id=str(record["id"]),
        name=str(record.get("name") or ""),
        status=str(record.get("status") or "UNKNOWN"),
        task_state=record.get("OS-EXT-STS:task_state") or None,
        project_id=record.get("tenant_id") or record.get("project_id") or None,
        image_id=(image.get("id") if isinstance(image, Mapping) else None) or None,
        flavor_id=flavor.get("id") if isinstance(flavor, Mapping) else None,
        flavor_name=flavor.get("original_name") if isinstance(flavor, Mapping) else None,
        key_name=record.get("key_name") or None,
        private_ipv4=_private_ipv4(record.get("addresses")),
        created_at=parse_time(record.get("created")),
        metadata={str(k): str(v) for k, v in metadata.items()},
        power_state=power if isinstance(power, int) else None,
        fault=_fault_message(record.get("fault")),
        locked=bool(record.get("locked")),
        flavor=_embedded_flavor(flavor),
    )


def _embedded_flavor(flavor: object) -> Flavor | None:
    """The flavor Nova embeds in a server at >= 2.47 (``original_name``, ``ram``, …)."""
    if not isinstance(flavor, Mapping) or "ram" not in flavor:
        return None
    name = str(flavor.get("original_name") or flavor.get("id") or "")
    return Flavor(
        id=str(flavor.get("id") or name),
        name=name,
        vcpus=_int(flavor.get("vcpus")),
        ram_mb=_int(flavor.get("ram")),
        disk_gb=_int(flavor.get("disk")),
        ephemeral_gb=_int(flavor.get("ephemeral")),
    )


def _fault_message(fault: object) -> str | None:
    """Nova's fault message (``{"code", "message", "created"}`` on a server in ERROR)."""
    if isinstance(fault, Mapping) and fault.get("message"):
        return str(fault["message"])
    return None


def flavor_from_nova(record: Mapping[str, Any]) -> Flavor:
    """A :class:`Flavor` from a Nova ``flavor`` object."""
    return Flavor(
        id=str(record["id"]),
        name=str(record.get("name") or record["id"]),
        vcpus=_int(record.get("vcpus")),
        ram_mb=_int(record.get("ram")),
        disk_gb=_int(record.get("disk")),
        ephemeral_gb=_int(record.get("OS-FLV-EXT-DATA:ephemeral")),
    )


def keypair_from_nova(record: Mapping[str, Any]) -> KeyPair:
    """A :class:`KeyPair` from a Nova ``keypair`` object (never the private key)."""
    return KeyPair(
        name=str(record["name"]),
        fingerprint=str(record.get("fingerprint") or ""),
        type=str(record.get("type") or "ssh"),
        sha256_fingerprint=sha256_fingerprint(str(record.get("public_key") or "")),
    )


def limits_from_nova(absolute: Mapping[str, Any]) -> Limits:
    """:class:`Limits` from Nova's ``limits.absolute`` object."""
    return Limits(
        max_instances=_int(absolute.get("maxTotalInstances"), -1),
        used_instances=_int(absolute.get("totalInstancesUsed")),
        max_cores=_int(absolute.get("maxTotalCores"), -1),
        used_cores=_int(absolute.get("totalCoresUsed")),
        max_ram_mb=_int(absolute.get("maxTotalRAMSize"), -1),
        used_ram_mb=_int(absolute.get("totalRAMUsed")),
    )
