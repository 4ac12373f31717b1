"""The networks of a new server: ``auto``/``none`` (from 2.37), or networks and ports by id.

Nova resolves them in its API, before it answers 202, with the wording here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from denbi_jupyter.localcloud.neutron_ports import (
    NetworkNotFoundError,
    network_row,
    visible_networks,
)
from denbi_jupyter.localcloud.nova_microversion import Microversion
from denbi_jupyter.localcloud.responses import ApiError

__all__ = ["requested_networks"]


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _invalid(field: str, value: Any, reason: str) -> ApiError:
    return _bad(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def _auto_candidates(conn: sqlite3.Connection, project_id: str) -> list[sqlite3.Row]:
    """The networks ``networks: auto`` may pick: the project's own, else the shared ones.

    Real Nova considers own and shared networks together and answers 409 "Multiple possible
    networks found" when there are several. The seeded sites give every project its own
    network *and* a shared one (a de.NBI project only ever sees its own), so the project's
    own network wins here when it has exactly one; several own networks still answer 409.
    """
    visible = [row for row in visible_networks(conn, project_id=project_id)]
    own = [row for row in visible if row["project_id"] == project_id and not row["shared"]]
    shared = [row for row in visible if row["shared"] and not row["external"]]
    return own or shared


def _auto_network(conn: sqlite3.Connection, networks: str, project_id: str) -> list[dict[str, str]]:
    """``"none"`` (no network) or ``"auto"``: the project's one network (409 if ambiguous)."""
    if networks == "none":
        return []
    if networks != "auto":
        raise _invalid("networks", networks, f"'{networks}' is not one of ['none', 'auto']")
    candidates = _auto_candidates(conn, project_id)
    if len(candidates) > 1:
        raise ApiError(
            409, "Multiple possible networks found, use a Network ID to be more specific."
        )
    if not candidates:
        raise _bad(f"Unable to automatically allocate a network for project {project_id}")
    return [{"network_id": str(candidates[0]["id"])}]


def _requested_port(conn: sqlite3.Connection, port_id: str, project_id: str) -> dict[str, str]:
    """A ``{"port": id}`` item: the project's port, not bound to a server yet."""
    port = conn.execute(
        "SELECT * FROM ports WHERE id = ? AND project_id = ?", (port_id, project_id)
    ).fetchone()
    if port is None:
        raise _bad(f"Port id {port_id} could not be found.")
    if port["device_id"]:
        raise ApiError(409, f"Port {port_id} is still in use.")
    return {"port_id": port_id}


def _requested_network(
    conn: sqlite3.Connection, item: dict[str, Any], project_id: str
) -> dict[str, str]:
    """A ``{"uuid": id[, "fixed_ip": ip]}`` item: a network the project may use."""
    network_id = str(item.get("uuid") or "")
    try:
        network_row(conn, network_id, project_id=project_id)
    except NetworkNotFoundError as exc:
        raise _bad(f"Network {network_id} could not be found.") from exc
    entry = {"network_id": network_id}
    if item.get("fixed_ip"):
        entry["fixed_ip"] = str(item["fixed_ip"])
    return entry


def requested_networks(
    conn: sqlite3.Connection, networks: Any, *, version: Microversion, project_id: str
) -> list[dict[str, str]]:
    """Resolve the request's ``networks`` to ``[{network_id[, fixed_ip]} | {port_id}]``."""
    if isinstance(networks, str) and version < (2, 37):
        raise _invalid("networks", networks, f"'{networks}' is not of type 'array'")
    if networks is None:
        if version >= (2, 37):
            raise _invalid("server", "{...}", "'networks' is a required property")
        networks = "auto"
    if isinstance(networks, str):
        return _auto_network(conn, networks, project_id)
    if not isinstance(networks, list):
        raise _invalid("networks", networks, f"{networks!r} is not of type 'array'")
    resolved: list[dict[str, str]] = []
    for item in networks:
        if not isinstance(item, dict):
            raise _invalid("networks", networks, f"{item!r} is not of type 'object'")
        if item.get("port"):
            resolved.append(_requested_port(conn, str(item["port"]), project_id))
        else:
            resolved.append(_requested_network(conn, item, project_id))
    return resolved
