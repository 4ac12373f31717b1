"""The flows' typed results as the JSON the command line has always printed.

The flows return frozen types (:mod:`denbi_jupyter.cloud.results`); scripts that read
``--json`` output keep the shapes they knew, mapped here explicitly (one function per type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from denbi_jupyter.cloud.results import (
    BootResult,
    DeleteOutcome,
    DeleteReport,
    NightlyReport,
    RetentionReport,
    ServerActionResult,
    SnapshotResult,
)

__all__ = [
    "boot_json",
    "delete_json",
    "nightly_json",
    "result_json",
    "retention_json",
    "server_action_json",
    "snapshot_json",
]


def boot_json(result: BootResult) -> dict[str, object]:
    """``server``, ``connection`` (``available`` and the details or ``reason``), ids."""
    connection: dict[str, object]
    if result.connection is None:
        connection = {"available": False, "reason": result.unreachable_reason}
    else:
        connection = {"available": True, **result.connection.as_dict()}
    return {
        "server": {
            "site": result.site,
            "id": result.server_id,
            "name": result.name,
            "status": result.status,
            "image_id": result.image_id,
            "image_name": result.image_name,
            "flavor": result.flavor,
            "key_name": result.key_name,
            "private_ipv4": result.private_ipv4,
        },
        "connection": connection,
        "request_id": result.request_id,
        "reused": result.reused,
        "flow_run_id": result.flow_run_id,
    }


def snapshot_json(result: SnapshotResult) -> dict[str, object]:
    """The snapshot's fields, ``tags`` and ``warnings`` as lists."""
    return {
        "site": result.site,
        "image_id": result.image_id,
        "name": result.name,
        "status": result.status,
        "size": result.size,
        "server_id": result.server_id,
        "server_name": result.server_name,
        "source_image_id": result.source_image_id,
        "tags": list(result.tags),
        "request_id": result.request_id,
        "flow_run_id": result.flow_run_id,
        "reused": result.reused,
        "warnings": list(result.warnings),
    }


def delete_json(report: DeleteReport) -> dict[str, object]:
    """``results`` (``id``, ``name``, ``result`` text) and the four counts."""
    return {
        "results": [{"id": i.id, "name": i.name, "result": i.text} for i in report.items],
        "deleted": report.count(DeleteOutcome.DELETED),
        "refused": report.count(DeleteOutcome.REFUSED),
        "not_found": report.count(DeleteOutcome.NOT_FOUND),
        "failed": report.count(DeleteOutcome.FAILED),
    }


def retention_json(report: RetentionReport) -> dict[str, object]:
    """``found``, ``to_delete``, ``dry_run``, ``results`` (of the deletes) and ``unproven``."""
    deleted = delete_json(report.deleted)["results"] if report.deleted is not None else []
    return {
        "found": report.found,
        "to_delete": list(report.to_delete),
        "dry_run": report.dry_run,
        "results": deleted,
        "unproven": list(report.unproven),
    }


def nightly_json(report: NightlyReport) -> dict[str, object]:
    """``snapshots`` (``server`` with ``image_id`` or ``error``) and ``retention``."""
    snapshots: list[dict[str, object]] = []
    for item in report.snapshots:
        entry: dict[str, object] = {"server": item.server}
        if item.error is None:
            entry["image_id"] = item.image_id
        else:
            entry["error"] = item.error
        snapshots.append(entry)
    return {"snapshots": snapshots, "retention": retention_json(report.retention)}


def server_action_json(result: ServerActionResult) -> dict[str, object]:
    """``site``, ``id``, ``name``, ``action`` (the verb), final ``status``, ``flow_run_id``."""
    return {
        "site": result.site,
        "id": result.server_id,
        "name": result.name,
        "action": result.action.value,
        "status": result.status,
        "flow_run_id": result.flow_run_id,
    }


#: Each result type with its JSON mapping, in the order they are tried.
_MAPPINGS: tuple[tuple[type[Any], Callable[[Any], object]], ...] = (
    (BootResult, boot_json),
    (SnapshotResult, snapshot_json),
    (DeleteReport, delete_json),
    (RetentionReport, retention_json),
    (NightlyReport, nightly_json),
    (ServerActionResult, server_action_json),
)


def result_json(value: object) -> object:
    """A flow result as the command line's JSON; anything else unchanged."""
    for kind, to_json in _MAPPINGS:
        if isinstance(value, kind):
            return to_json(value)
    return value
