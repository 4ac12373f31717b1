"""Server state: lookups, state checks, and the delayed steps of boot, power, delete, snapshot.

Every lasting operation (boot, stop, start, reboot, delete, snapshot) stamps the server with a
fresh operation id and schedules its steps on the site's timeline at fixed fractions of the
operation's duration (``site.timings``), all at once. A step whose operation id is no longer the
server's (the server was deleted, or a newer operation took over) does nothing, so a deleted
server never comes back to life and a stuck snapshot never finishes.

Snapshot steps follow the real Nova 34 timeline (golden 44): task_state
``image_snapshot_pending`` → ``image_snapshot`` → ``image_uploading`` → None while the Glance
image goes ``queued`` → ``saving`` → ``active`` slightly before the task state clears. An
injected outcome makes the image end ``killed``, vanish, or stay ``saving`` forever.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from denbi_jupyter.localcloud import glance_records, image_data
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.neutron_ports import (
    IpExhaustedError,
    NetworkNotFoundError,
    PortNotFoundError,
    allocate_port,
    attach_port,
    release_ports,
    set_device_ports_status,
)
from denbi_jupyter.localcloud.nova_views import db_time, server_status
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads
from denbi_jupyter.localcloud.timeline import Timeline, schedule

__all__ = [
    "EVENT_KIND",
    "check_state",
    "check_unlocked",
    "get_server",
    "register_events",
    "server_extra",
    "snapshot_disk",
    "start_operation",
    "update_server",
]

EVENT_KIND = "nova.server_step"
HOST = "ostack-host"


Step = Callable[[sqlite3.Connection, Site, sqlite3.Row, dict[str, Any]], None]


def get_server(conn: sqlite3.Connection, server_id: str, context: TokenContext) -> sqlite3.Row:
    """The live server ``server_id`` of the context's project (any project for admins).

    Raises:
        ApiError: 404 ``itemNotFound`` when it does not exist, is gone, or is another project's.
    """
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM servers WHERE id = ? AND deleted = 0", (server_id,)
    ).fetchone()
    if row is None or (not context.is_admin and row["project_id"] != context.project_id):
        raise ApiError(404, f"Instance {server_id} could not be found.")
    return row


def server_extra(row: sqlite3.Row) -> dict[str, Any]:
    """The server's ``extra`` JSON column as a dict."""
    extra: dict[str, Any] = loads(row["extra"]) or {}
    return extra


def update_server(
    conn: sqlite3.Connection,
    server_id: str,
    *,
    extra: dict[str, Any] | None = None,
    **columns: Any,
) -> None:
    """Update columns (and merge ``extra``); keep ``status`` and ``updated_at`` in step."""
    row = conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
    values: dict[str, Any] = dict(columns)
    vm_state = values.get("vm_state", row["vm_state"])
    task_state = values["task_state"] if "task_state" in values else row["task_state"]
    values["status"] = server_status(vm_state, task_state)
    values["updated_at"] = db_time()
    if extra is not None:
        merged = {**server_extra(row), **extra}
        values["extra"] = dumps({k: v for k, v in merged.items() if v is not None})
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.execute(f"UPDATE servers SET {assignments} WHERE id = ?", (*values.values(), server_id))


def check_state(
    row: sqlite3.Row,
    method: str,
    *,
    vm_states: tuple[str, ...],
    task_states: tuple[str | None, ...] | None = (None,),
) -> None:
    """Refuse ``method`` unless the server is in one of the states, as Nova words it.

    ``task_states=None`` checks the vm_state only.

    Raises:
        ApiError: 409 ``conflictingRequest`` "Cannot 'method' instance … while it is in …".
    """
    if row["vm_state"] not in vm_states:
        raise ApiError(
            409,
            f"Cannot '{method}' instance {row['id']} while it is in vm_state {row['vm_state']}",
        )
    if task_states is not None and row["task_state"] not in task_states:
        raise ApiError(
            409,
            f"Cannot '{method}' instance {row['id']} while it is in task_state {row['task_state']}",
        )


def check_unlocked(row: sqlite3.Row, context: TokenContext) -> None:
    """Refuse changes to a locked server unless the caller is an admin.

    Raises:
        ApiError: 409 ``conflictingRequest`` "Instance … is locked".
    """
    if server_extra(row).get("locked") and not context.is_admin:
        raise ApiError(409, f"Instance {row['id']} is locked")


def start_operation(
    conn: sqlite3.Connection,
    server_id: str,
    steps: list[tuple[float, str]],
    *,
    extra: dict[str, Any] | None = None,
    **columns: Any,
) -> str:
    """Stamp a new operation on the server, set its first state, schedule its ``steps``.

    Args:
        conn: Connection of an open ``site.store.tx()`` transaction.
        server_id: The server.
        steps: ``(delay in seconds, step name)`` pairs.
        extra: Values merged into the server's ``extra``.
        columns: Columns to set now (``task_state=…``).
    """
    operation = uuid.uuid4().hex
    update_server(conn, server_id, extra={**(extra or {}), "operation": operation}, **columns)
    for delay, step in steps:
        schedule(
            conn,
            delay=delay,
            kind=EVENT_KIND,
            payload={"server_id": server_id, "operation": operation, "step": step},
        )
    return operation


def _fault(message: str, details: str) -> str:
    return dumps(
        {"code": 500, "created": db_time()[:19] + "Z", "message": message, "details": details}
    )


def _fail_build(conn: sqlite3.Connection, row: sqlite3.Row, message: str, details: str) -> None:
    release_ports(conn, row["id"])
    update_server(
        conn,
        row["id"],
        vm_state="error",
        task_state=None,
        power_state=0,
        fault=_fault(message, details),
        extra={"operation": None},
    )


def _scheduled(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    extra = server_extra(row)
    if extra.get("boot_outcome") == "error":
        _fail_build(
            conn,
            row,
            "No valid host was found. There are not enough hosts available.",
            "nova.exception.NoValidHost (injected fault)",
        )
        return
    number = conn.execute("SELECT COUNT(*) FROM servers").fetchone()[0]
    update_server(
        conn,
        row["id"],
        task_state=None,
        extra={"host": HOST, "instance_name": f"instance-{int(number):08x}"},
    )


def _networking(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    extra = server_extra(row)
    try:
        for request in extra.get("requested_networks", []):
            if "port_id" in request:
                attach_port(
                    conn, request["port_id"], project_id=row["project_id"], device_id=row["id"]
                )
            else:
                allocate_port(
                    conn,
                    network_id=request["network_id"],
                    project_id=row["project_id"],
                    device_id=row["id"],
                    device_owner="compute:nova",
                    fixed_ip=request.get("fixed_ip"),
                )
    except (IpExhaustedError, NetworkNotFoundError, PortNotFoundError, ValueError) as exc:
        _fail_build(
            conn,
            row,
            f"Build of instance {row['id']} aborted: Failed to allocate the network(s), "
            "not rescheduling.",
            str(exc),
        )
        return
    update_server(conn, row["id"], task_state="block_device_mapping")


def _spawning(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    update_server(conn, row["id"], task_state="spawning")


def _settle(
    conn: sqlite3.Connection, row: sqlite3.Row, *, ports: str, vm_state: str, **columns: Any
) -> None:
    """End the server's operation in ``vm_state`` with its ports ``ports``."""
    set_device_ports_status(conn, row["id"], ports)
    update_server(
        conn, row["id"], vm_state=vm_state, task_state=None, extra={"operation": None}, **columns
    )


def _active(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    _settle(conn, row, ports="ACTIVE", vm_state="active", power_state=1, launched_at=db_time())


def _stopped(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    _settle(conn, row, ports="DOWN", vm_state="stopped", power_state=4)


def _running(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    _settle(conn, row, ports="ACTIVE", vm_state="active", power_state=1)


def _deleted(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    update_server(
        conn,
        row["id"],
        vm_state="deleted",
        task_state=None,
        power_state=0,
        deleted=1,
        extra={"operation": None, "terminated_at": db_time()},
    )


def _snapshot_image(row: sqlite3.Row) -> tuple[str, str | None]:
    snapshot = server_extra(row).get("snapshot") or {}
    return str(snapshot.get("image_id", "")), snapshot.get("outcome")


def _end_snapshot(conn: sqlite3.Connection, row: sqlite3.Row) -> None:
    update_server(conn, row["id"], task_state=None, extra={"operation": None, "snapshot": None})


def _snapshot_started(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    update_server(conn, row["id"], task_state="image_snapshot")


def _snapshot_still(
    conn: sqlite3.Connection, row: sqlite3.Row, status: str
) -> tuple[str, str | None] | None:
    """The snapshot's (image id, outcome) while its image is still ``status``; else (the user
    deleted it, say) the snapshot ends, the upload fails and Nova gives up: None."""
    image_id, outcome = _snapshot_image(row)
    image = glance_records.get_image_row(conn, image_id)
    if image is None or image["status"] != status:
        _end_snapshot(conn, row)
        return None
    return image_id, outcome


def _snapshot_uploading(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    if (still := _snapshot_still(conn, row, "queued")) is None:
        return
    glance_records.set_image_status(conn, still[0], "saving")
    update_server(conn, row["id"], task_state="image_uploading")


def snapshot_disk(row: sqlite3.Row) -> Iterator[bytes]:
    """The bytes a snapshot of ``row`` uploads: a pseudo-random disk seeded from the server id,
    :func:`~denbi_jupyter.localcloud.image_data.snapshot_bytes` long, in chunks."""
    return image_data.disk_chunks(f"disk of {row['id']}", image_data.snapshot_bytes())


def _snapshot_image_done(
    conn: sqlite3.Connection, site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    if (still := _snapshot_still(conn, row, "saving")) is None:
        return
    image_id, outcome = still
    if outcome == "killed":
        glance_records.set_image_status(conn, image_id, "killed")
    elif outcome == "vanish":
        glance_records.delete_image_record(conn, site, image_id)
    elif outcome != "stuck":
        glance_records.finish_image_upload(conn, site, image_id, snapshot_disk(row))


def _snapshot_done(
    conn: sqlite3.Connection, _site: Site, row: sqlite3.Row, _payload: dict[str, Any]
) -> None:
    _, outcome = _snapshot_image(row)
    if outcome != "stuck":
        _end_snapshot(conn, row)


_STEPS: dict[str, Step] = {
    "scheduled": _scheduled,
    "networking": _networking,
    "spawning": _spawning,
    "active": _active,
    "stopped": _stopped,
    "running": _running,
    "deleted": _deleted,
    "snapshot_started": _snapshot_started,
    "snapshot_uploading": _snapshot_uploading,
    "snapshot_image_done": _snapshot_image_done,
    "snapshot_done": _snapshot_done,
}


def register_events(site: Site) -> None:
    """Register the handler that carries out every delayed server step of ``site``."""

    def run_step(conn: sqlite3.Connection, _timeline: Timeline, payload: dict[str, Any]) -> None:
        row = conn.execute(
            "SELECT * FROM servers WHERE id = ? AND deleted = 0", (payload["server_id"],)
        ).fetchone()
        if row is None or server_extra(row).get("operation") != payload["operation"]:
            return
        _STEPS[payload["step"]](conn, site, row, payload)

    site.timeline.handler(EVENT_KIND, run_step)
