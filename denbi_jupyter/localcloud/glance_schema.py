"""Glance's JSON schemas for images (``/v2/schemas/image`` and ``/v2/schemas/images``),
as Glance 33 publishes them; openstackclient reads them to tell base attributes from
custom properties."""

from __future__ import annotations

from typing import Any

__all__ = ["image_schema", "images_schema"]

_IMAGE_PROPERTIES: dict[str, Any] = {
    "id": {
        "type": "string",
        "description": "An identifier for the image",
        "pattern": (
            "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
        ),
    },
    "name": {
        "type": ["null", "string"],
        "description": "Descriptive name for the image",
        "maxLength": 255,
    },
    "status": {
        "type": "string",
        "readOnly": True,
        "description": "Status of the image",
        "enum": [
            "queued",
            "saving",
            "active",
            "killed",
            "deleted",
            "uploading",
            "importing",
            "pending_delete",
            "deactivated",
        ],
    },
    "visibility": {
        "type": "string",
        "description": "Scope of image accessibility",
        "enum": ["community", "public", "private", "shared"],
    },
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {
        "type": "boolean",
        "description": "If true, image will not appear in default image list response.",
    },
    "checksum": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "md5 hash of image contents.",
        "maxLength": 32,
    },
    "os_hash_algo": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "Algorithm to calculate the os_hash_value",
        "maxLength": 64,
    },
    "os_hash_value": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "Hexdigest of the image contents using the algorithm "
        "specified by the os_hash_algo",
        "maxLength": 128,
    },
    "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
    "size": {
        "type": ["null", "integer"],
        "readOnly": True,
        "description": "Size of image file in bytes",
    },
    "virtual_size": {
        "type": ["null", "integer"],
        "readOnly": True,
        "description": "Virtual size of image in bytes",
    },
    "container_format": {
        "type": ["null", "string"],
        "description": "Format of the container",
        "enum": [None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"],
    },
    "disk_format": {
        "type": ["null", "string"],
        "description": "Format of the disk",
        "enum": [
            None,
            "ami",
            "ari",
            "aki",
            "vhd",
            "vhdx",
            "vmdk",
            "raw",
            "qcow2",
            "vdi",
            "iso",
            "ploop",
        ],
    },
    "created_at": {
        "type": "string",
        "readOnly": True,
        "description": "Date and time of image registration",
    },
    "updated_at": {
        "type": "string",
        "readOnly": True,
        "description": "Date and time of the last image modification",
    },
    "tags": {
        "type": "array",
        "description": "List of strings related to the image",
        "items": {"type": "string", "maxLength": 255},
    },
    "direct_url": {
        "type": "string",
        "readOnly": True,
        "description": "URL to access the image file kept in external store",
    },
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {
        "type": "integer",
        "description": "Amount of disk space (in GB) required to boot image.",
    },
    "self": {"type": "string", "readOnly": True, "description": "An image self url"},
    "file": {"type": "string", "readOnly": True, "description": "An image file url"},
    "stores": {
        "type": "string",
        "readOnly": True,
        "description": "Store in which image data resides.  Only present when the "
        "operator has enabled multiple stores.  May be a comma-separated "
        "list of store identifiers.",
    },
    "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
    "locations": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "url": {"type": "string", "maxLength": 255},
                "metadata": {"type": "object"},
                "validation_data": {
                    "description": "Values to be used "
                    "to populate the "
                    "corresponding "
                    "image properties. "
                    "If the image "
                    "status is not "
                    "'queued', values "
                    "must exactly "
                    "match those "
                    "already contained "
                    "in the image "
                    "properties.",
                    "type": "object",
                    "writeOnly": True,
                    "additionalProperties": False,
                    "properties": {
                        "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                        "os_hash_algo": {"type": "string", "maxLength": 64},
                        "os_hash_value": {"type": "string", "maxLength": 128},
                    },
                    "required": ["os_hash_algo", "os_hash_value"],
                },
            },
            "required": ["url", "metadata"],
        },
        "description": "A set of URLs to access the image file kept in external store",
    },
}

_IMAGE_LINKS: list[dict[str, str]] = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]


def image_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/image``."""
    return {
        "name": "image",
        "properties": _IMAGE_PROPERTIES,
        "additionalProperties": {"type": "string"},
        "links": _IMAGE_LINKS,
    }


def images_schema() -> dict[str, Any]:
    """The body of ``GET /v2/schemas/images``."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
