"""Image property keys that record where a snapshot came from.

Nova stamps its own keys on every snapshot (``instance_uuid``, ``base_image_ref``,
``owner_project_name``, …); denbi-jupyter adds the rest under a ``denbi_`` prefix so that they
never collide with Nova's or de.NBI portal keys. Flows pass :func:`provenance_metadata` to
``CloudClient.create_snapshot``; the cloud layer reads the same keys back into
:class:`~denbi_jupyter.cloud.types.Snapshot`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BASE_IMAGE_REF",
    "CREATED_BY",
    "FLAVOR_NAME",
    "FLOW_RUN_ID",
    "INSTANCE_UUID",
    "OWNER_PROJECT_NAME",
    "SOURCE_IMAGE_ID",
    "SOURCE_SERVER_ID",
    "SOURCE_SERVER_NAME",
    "made_from_its_source",
    "provenance_metadata",
]

#: Set by Nova: the server the snapshot was taken of.
INSTANCE_UUID = "instance_uuid"
#: Set by Nova: the image the server was booted from.
BASE_IMAGE_REF = "base_image_ref"
#: Set by Nova: the name of the project that took the snapshot.
OWNER_PROJECT_NAME = "owner_project_name"

SOURCE_SERVER_ID = "denbi_source_server_id"
SOURCE_SERVER_NAME = "denbi_source_server_name"
SOURCE_IMAGE_ID = "denbi_source_image_id"
FLAVOR_NAME = "denbi_flavor_name"
CREATED_BY = "denbi_created_by"
FLOW_RUN_ID = "denbi_flow_run_id"


def provenance_metadata(
    *,
    server_id: str,
    server_name: str,
    image_id: str | None,
    flavor_name: str | None,
    created_by: str | None = None,
    flow_run_id: str | None = None,
) -> dict[str, str]:
    """The createImage metadata that records a snapshot's origin (unset values are left out)."""
    values = {
        SOURCE_SERVER_ID: server_id,
        SOURCE_SERVER_NAME: server_name,
        SOURCE_IMAGE_ID: image_id,
        FLAVOR_NAME: flavor_name,
        CREATED_BY: created_by,
        FLOW_RUN_ID: flow_run_id,
    }
    return {key: value for key, value in values.items() if value}


def made_from_its_source(properties: Mapping[str, str]) -> bool:
    """True when the image's ``denbi_*`` provenance describes this very image.

    Nova copies the source image's properties into every snapshot, so a snapshot of a VM that
    was booted from one of our snapshots inherits that snapshot's ``denbi_*`` keys (request id,
    schedule, source server). Nova's own ``instance_uuid`` names the VM the image was really
    taken of: the provenance is this image's only when both name the same VM (or when Nova set
    no ``instance_uuid``, e.g. a volume-backed image).

    This is not enough to tell a *schedule's* snapshots: the snapshot flow rewrites the
    provenance of a hand-made snapshot to its VM while ``denbi_schedule`` stays inherited.
    Schedules use their own mark instead (:mod:`denbi_jupyter.cloud.rules.retention`).
    """
    instance = properties.get(INSTANCE_UUID)
    return instance is None or instance == properties.get(SOURCE_SERVER_ID)
