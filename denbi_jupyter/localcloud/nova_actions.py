"""``POST /servers/{id}/action``: createImage, os-stop, os-start, reboot, lock, unlock.

Each action checks the server's vm_state and task_state the way Nova's API does (409
``conflictingRequest`` "Cannot 'createImage' instance … while it is in task_state …") and then
starts an operation whose steps run on the timeline (see :mod:`nova_state`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from denbi_jupyter.localcloud import glance_records
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.nova_microversion import Microversion
from denbi_jupyter.localcloud.nova_servers import check_metadata
from denbi_jupyter.localcloud.nova_state import (
    check_state,
    check_unlocked,
    server_extra,
    start_operation,
    update_server,
)
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site

__all__ = ["ACTIONS", "ActionResult", "run_action"]

#: The actions the local cloud carries out.
ACTIONS = ("createImage", "os-stop", "os-start", "reboot", "lock", "unlock")

_SNAPSHOT_STEPS = (
    (0.15, "snapshot_started"),
    (0.35, "snapshot_uploading"),
    (0.85, "snapshot_image_done"),
    (1.0, "snapshot_done"),
)
#: Image properties a snapshot does not inherit from its source image.
_NOT_INHERITED = frozenset(
    {
        "image_type",
        "instance_uuid",
        "base_image_ref",
        "image_location",
        "image_state",
        "owner_id",
        "user_id",
        "owner_project_name",
        "owner_user_name",
        "boot_roles",
    }
)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action answers: the new image's id for createImage, else nothing."""

    image_id: str | None = None


def run_action(
    conn: sqlite3.Connection,
    site: Site,
    row: sqlite3.Row,
    context: TokenContext,
    body: dict[str, Any],
    *,
    version: Microversion,
    snapshot_outcome: Callable[[], str | None] | None = None,
) -> ActionResult:
    """Carry out the one action in ``body`` on the server ``row``.

    Args:
        conn: Connection of an open ``site.store.tx()`` transaction.
        site: The site (for its timings and image data).
        row: The server, already checked to be visible to ``context``.
        context: Who asks.
        body: The request body, e.g. ``{"os-stop": null}``.
        version: The request's microversion.
        snapshot_outcome: Called once a snapshot passed every check; returns the injected
            fault it must suffer (``killed``, ``vanish``, ``stuck``) or None.

    Raises:
        ApiError: 400 for an unknown or malformed action, 409 for a state conflict.
    """
    if len(body) != 1:
        raise ApiError(400, "Malformed request body: exactly one action is expected.")
    action, argument = next(iter(body.items()))
    if action == "createImage":
        check_unlocked(row, context)
        return ActionResult(
            _create_image(conn, site, row, context, argument, outcome=snapshot_outcome)
        )
    if action == "os-stop":
        check_unlocked(row, context)
        check_state(row, "stop", vm_states=("active", "error"))
        start_operation(
            conn, row["id"], [(site.timings.power, "stopped")], task_state="powering-off"
        )
    elif action == "os-start":
        check_unlocked(row, context)
        check_state(row, "start", vm_states=("stopped",))
        start_operation(
            conn, row["id"], [(site.timings.power, "running")], task_state="powering-on"
        )
    elif action == "reboot":
        check_unlocked(row, context)
        _reboot(conn, site, row, argument)
    elif action == "lock":
        reason = argument.get("locked_reason") if isinstance(argument, dict) else None
        if reason is not None and version < (2, 73):
            raise ApiError(
                400,
                "Invalid input for field/attribute lock. Additional properties "
                "are not allowed ('locked_reason' was unexpected)",
            )
        update_server(conn, row["id"], extra={"locked": True, "locked_reason": reason})
    elif action == "unlock":
        update_server(conn, row["id"], extra={"locked": None, "locked_reason": None})
    else:
        raise ApiError(400, f"There is no such action: {action}")
    return ActionResult()


def _reboot(conn: sqlite3.Connection, site: Site, row: sqlite3.Row, argument: Any) -> None:
    kind = argument.get("type") if isinstance(argument, dict) else None
    if kind not in ("SOFT", "HARD"):
        raise ApiError(
            400,
            f"Invalid input for field/attribute type. Value: {kind}. "
            f"{kind!r} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', "
            "'soft']",
        )
    if kind == "SOFT":
        check_state(row, "reboot", vm_states=("active",))
        task = "rebooting"
    else:
        check_state(
            row, "reboot", vm_states=("active", "stopped", "error"), task_states=(None, "rebooting")
        )
        task = "rebooting_hard"
    start_operation(conn, row["id"], [(site.timings.reboot, "running")], task_state=task)


def _create_image(
    conn: sqlite3.Connection,
    site: Site,
    row: sqlite3.Row,
    context: TokenContext,
    argument: Any,
    *,
    outcome: Callable[[], str | None] | None,
) -> str:
    if not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
        raise ApiError(
            400,
            f"Invalid input for field/attribute createImage. Value: {argument}. "
            "'name' is a required property",
        )
    name = argument["name"].strip()
    if not name:
        raise ApiError(
            400,
            "Invalid input for field/attribute name. Value: "
            f"{argument['name']!r}. The image name must not be empty.",
        )
    metadata = check_metadata(conn, row["project_id"], argument.get("metadata", {}))
    check_state(row, "createImage", vm_states=("active", "stopped", "paused", "suspended"))
    fault = outcome() if outcome is not None else None
    extra = server_extra(row)
    inherited = {
        key: value
        for key, value in extra.get("image_properties", {}).items()
        if key not in _NOT_INHERITED and not key.startswith("os_glance")
    }
    properties = {
        **inherited,
        "base_image_ref": row["image_id"] or "",
        "owner_user_name": context.user_name,
        "owner_project_name": context.project_name or "",
        "boot_roles": ",".join(context.roles),
        "instance_uuid": row["id"],
        "user_id": context.user_id,
        "image_type": "snapshot",
        **metadata,
    }
    source = glance_records.get_image_row(conn, row["image_id"]) if row["image_id"] else None
    image_id = glance_records.create_image_record(
        conn,
        owner=row["project_id"],
        name=name,
        properties=properties,
        visibility="private",
        min_disk=int(extra.get("flavor", {}).get("disk", 0)),
        min_ram=int(source["min_ram"]) if source is not None else 0,
        container_format="bare",
        disk_format=(source["disk_format"] if source is not None else None) or "qcow2",
    )
    total = site.timings.snapshot
    start_operation(
        conn,
        row["id"],
        [(total * share, step) for share, step in _SNAPSHOT_STEPS],
        task_state="image_snapshot_pending",
        extra={"snapshot": {"image_id": image_id, "outcome": fault}},
    )
    return image_id
