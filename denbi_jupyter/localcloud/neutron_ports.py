"""Neutron records: networks, subnets and ports as rows and as Neutron v2.0 shows them.

Nova calls the port functions directly inside its own transaction (a real Nova calls Neutron
over HTTP; here both share the site's database):

* :func:`allocate_port` creates a port with the lowest free IPv4 of the network's subnet and a
  ``fa:16:3e`` MAC address,
* :func:`release_ports` deletes a device's ports,
* :func:`device_ports` lists them (Nova builds ``addresses`` from them),
* :func:`set_device_ports_status` marks them ``ACTIVE`` / ``DOWN``.

Every function takes the connection of an open ``site.store.tx()`` transaction.
"""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3
import uuid
from typing import Any

from denbi_jupyter.localcloud.auth import utcnow
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "IpExhaustedError",
    "NetworkNotFoundError",
    "PortNotFoundError",
    "allocate_port",
    "api_time",
    "attach_port",
    "create_network",
    "default_security_group_id",
    "device_ports",
    "network_row",
    "network_view",
    "port_view",
    "release_ports",
    "set_device_ports_status",
    "subnet_view",
    "visible_networks",
]

_SECURITY_GROUP_NAMESPACE = uuid.UUID("3b0f3c1e-6f5e-4a1b-9a53-6c1d0f7e2a10")


class NetworkNotFoundError(LookupError):
    """The network does not exist or the project cannot see it."""


class PortNotFoundError(LookupError):
    """The port does not exist or the project cannot see it."""


class IpExhaustedError(RuntimeError):
    """The network's subnets have no free IPv4 address left."""


def _now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")


def api_time(stored: str | None) -> str | None:
    """A stored timestamp as Neutron shows it (``2026-11-27T06:51:55Z``)."""
    if not stored:
        return None
    return stored[:19] + "Z"


def default_security_group_id(project_id: str) -> str:
    """The id of a project's ``default`` security group (stable, derived from the project)."""
    return str(uuid.uuid5(_SECURITY_GROUP_NAMESPACE, project_id))


def network_row(
    conn: sqlite3.Connection, network_id: str, *, project_id: str | None
) -> sqlite3.Row:
    """The network ``network_id`` as ``project_id`` sees it (None: any project, as admin).

    Raises:
        NetworkNotFoundError: It does not exist or is neither the project's, shared nor external.
    """
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM networks WHERE id = ?", (network_id,)
    ).fetchone()
    if row is None or not _can_see(row, project_id):
        raise NetworkNotFoundError(f"Network {network_id} could not be found.")
    return row


def create_network(
    conn: sqlite3.Connection,
    *,
    name: str,
    project_id: str,
    cidr: str,
    shared: bool = False,
    external: bool = False,
) -> str:
    """Create a network with one IPv4 subnet (gateway: the first host); return its id.

    The seed writes its rows itself; this is for tests and for a Neutron reused on its own.
    """
    network_id = str(uuid.uuid4())
    subnet = ipaddress.ip_network(cidr, strict=False)
    conn.execute(
        "INSERT INTO networks (id, name, project_id, shared, created_at, external) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (network_id, name, project_id, int(shared), _now(), int(external)),
    )
    conn.execute(
        "INSERT INTO subnets (id, name, network_id, project_id, cidr, gateway_ip) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            str(uuid.uuid4()),
            f"{name}-subnet",
            network_id,
            project_id,
            str(subnet),
            str(subnet.network_address + 1),
        ),
    )
    return network_id


def _can_see(row: sqlite3.Row, project_id: str | None) -> bool:
    if project_id is None:
        return True
    return bool(row["project_id"] == project_id or row["shared"] or row["external"])


def visible_networks(conn: sqlite3.Connection, *, project_id: str | None) -> list[sqlite3.Row]:
    """Networks ``project_id`` can see (own, shared, external), oldest first."""
    rows = conn.execute("SELECT * FROM networks ORDER BY created_at, id").fetchall()
    return [row for row in rows if _can_see(row, project_id)]


def _subnets(conn: sqlite3.Connection, network_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM subnets WHERE network_id = ? ORDER BY id", (network_id,)
    ).fetchall()


def _used_addresses(conn: sqlite3.Connection, network_id: str) -> set[str]:
    used: set[str] = set()
    for row in conn.execute("SELECT fixed_ips FROM ports WHERE network_id = ?", (network_id,)):
        used.update(str(ip["ip_address"]) for ip in loads(row["fixed_ips"]) or [])
    return used


def _reserved(subnet: sqlite3.Row) -> set[str]:
    network = ipaddress.ip_network(subnet["cidr"], strict=False)
    gateway = subnet["gateway_ip"] or str(network.network_address + 1)
    return {str(network.network_address), gateway, str(network.broadcast_address)}


def _free_address(conn: sqlite3.Connection, network_id: str, wanted: str | None) -> tuple[str, str]:
    """(subnet id, address): ``wanted`` if free, else the lowest free IPv4 of the network."""
    used = _used_addresses(conn, network_id)
    subnets = [s for s in _subnets(conn, network_id) if int(s["ip_version"]) == 4]
    for subnet in subnets:
        network = ipaddress.ip_network(subnet["cidr"], strict=False)
        taken = used | _reserved(subnet)
        if wanted is not None:
            if ipaddress.ip_address(wanted) in network and wanted not in taken:
                return str(subnet["id"]), wanted
            continue
        for host in network.hosts():
            if str(host) not in taken:
                return str(subnet["id"]), str(host)
    if wanted is not None:
        raise IpExhaustedError(
            f"IP address {wanted} is not available on network {network_id}: it is outside "
            "its subnets or already in use."
        )
    raise IpExhaustedError(f"No more IP addresses available on network {network_id}.")


def _new_mac(conn: sqlite3.Connection) -> str:
    while True:
        tail = secrets.token_bytes(3)
        mac = "fa:16:3e:" + ":".join(f"{byte:02x}" for byte in tail)
        if conn.execute("SELECT 1 FROM ports WHERE mac_address = ?", (mac,)).fetchone() is None:
            return mac


def allocate_port(
    conn: sqlite3.Connection,
    *,
    network_id: str,
    project_id: str,
    device_id: str = "",
    device_owner: str = "",
    name: str = "",
    fixed_ip: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a port on ``network_id`` with a free IPv4 and a new MAC; return its view.

    Args:
        conn: Connection of an open ``site.store.tx()`` transaction.
        network_id: The network (not checked for visibility: the caller did that).
        project_id: The owning project.
        device_id: The server using the port (empty for a free port).
        device_owner: E.g. ``compute:nova``.
        name: Port name.
        fixed_ip: A specific IPv4 to take instead of the lowest free one.
        extra: Further attributes (``description``, ``binding:host_id``, …).

    Raises:
        NetworkNotFoundError: The network does not exist.
        IpExhaustedError: No IPv4 address is free (or ``fixed_ip`` is taken).
    """
    if conn.execute("SELECT 1 FROM networks WHERE id = ?", (network_id,)).fetchone() is None:
        raise NetworkNotFoundError(f"Network {network_id} could not be found.")
    subnet_id, address = _free_address(conn, network_id, fixed_ip)
    port_id = str(uuid.uuid4())
    now = _now()
    conn.execute(
        "INSERT INTO ports (id, name, network_id, project_id, device_id, device_owner, "
        "mac_address, fixed_ips, status, created_at, extra) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'DOWN', ?, ?)",
        (
            port_id,
            name,
            network_id,
            project_id,
            device_id,
            device_owner,
            _new_mac(conn),
            dumps([{"subnet_id": subnet_id, "ip_address": address}]),
            now,
            dumps({**(extra or {}), "updated_at": now}),
        ),
    )
    return port_view(_port(conn, port_id))


def _port(conn: sqlite3.Connection, port_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM ports WHERE id = ?", (port_id,)
    ).fetchone()
    if row is None:
        raise PortNotFoundError(f"Port {port_id} could not be found.")
    return row


def attach_port(
    conn: sqlite3.Connection, port_id: str, *, project_id: str, device_id: str
) -> dict[str, Any]:
    """Bind an existing free port of ``project_id`` to ``device_id``; return its view.

    Raises:
        PortNotFoundError: No such port in the project.
        ValueError: The port is already in use by another device.
    """
    row = _port(conn, port_id)
    if row["project_id"] != project_id:
        raise PortNotFoundError(f"Port {port_id} could not be found.")
    if row["device_id"] and row["device_id"] != device_id:
        raise ValueError(f"Port {port_id} is still in use.")
    extra = {**(loads(row["extra"]) or {}), "preexisting": True}
    conn.execute(
        "UPDATE ports SET device_id = ?, device_owner = 'compute:nova', extra = ? WHERE id = ?",
        (device_id, dumps(extra), port_id),
    )
    return port_view(_port(conn, port_id))


def device_ports(conn: sqlite3.Connection, device_id: str) -> list[dict[str, Any]]:
    """The views of the ports bound to ``device_id``, oldest first."""
    rows = conn.execute(
        "SELECT * FROM ports WHERE device_id = ? ORDER BY created_at, id", (device_id,)
    ).fetchall()
    return [port_view(row) for row in rows]


def release_ports(conn: sqlite3.Connection, device_id: str) -> list[str]:
    """Delete the ports Nova made for ``device_id``, detach the others; return deleted ids."""
    rows = conn.execute("SELECT id, extra FROM ports WHERE device_id = ?", (device_id,)).fetchall()
    deleted: list[str] = []
    for row in rows:
        if (loads(row["extra"]) or {}).get("preexisting"):
            conn.execute(
                "UPDATE ports SET device_id = '', device_owner = '', status = 'DOWN' WHERE id = ?",
                (row["id"],),
            )
        else:
            conn.execute("DELETE FROM ports WHERE id = ?", (row["id"],))
            deleted.append(str(row["id"]))
    return deleted


def set_device_ports_status(conn: sqlite3.Connection, device_id: str, status: str) -> None:
    """Set the status (``ACTIVE`` or ``DOWN``) of every port of ``device_id``."""
    conn.execute("UPDATE ports SET status = ? WHERE device_id = ?", (status, device_id))


def port_view(row: sqlite3.Row) -> dict[str, Any]:
    """A port as Neutron v2.0 shows it."""
    extra: dict[str, Any] = dict(loads(row["extra"]) or {})
    extra.pop("preexisting", None)
    updated = extra.pop("updated_at", row["created_at"])
    revision = int(extra.pop("revision_number", 1))
    bound = bool(row["device_id"])
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "network_id": row["network_id"],
        "tenant_id": row["project_id"],
        "mac_address": row["mac_address"],
        "admin_state_up": True,
        "status": row["status"],
        "device_id": row["device_id"],
        "device_owner": row["device_owner"],
        "fixed_ips": loads(row["fixed_ips"]) or [],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "security_groups": [default_security_group_id(row["project_id"])],
        "description": "",
        "binding:vnic_type": "normal",
        "binding:host_id": "ostack-host" if bound else "",
        "binding:profile": {},
        "binding:vif_type": "ovs" if bound else "unbound",
        "binding:vif_details": {},
        "port_security_enabled": True,
        "dns_name": "",
        "dns_assignment": [],
        "ip_allocation": "immediate",
        "tags": [],
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(updated),
        "revision_number": revision,
        "project_id": row["project_id"],
    }
    view.update(extra)
    return view


def subnet_view(row: sqlite3.Row, *, created_at: str | None = None) -> dict[str, Any]:
    """A subnet as Neutron v2.0 shows it; the pool skips network, gateway and broadcast."""
    network = ipaddress.ip_network(row["cidr"], strict=False)
    reserved = _reserved(row)
    hosts = [str(h) for h in network.hosts() if str(h) not in reserved]
    pools = [{"start": hosts[0], "end": hosts[-1]}] if hosts else []
    return {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "network_id": row["network_id"],
        "ip_version": int(row["ip_version"]),
        "subnetpool_id": None,
        "enable_dhcp": True,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "gateway_ip": row["gateway_ip"],
        "cidr": str(network),
        "allocation_pools": pools,
        "host_routes": [],
        "dns_nameservers": [],
        "description": "",
        "service_types": [],
        "tags": [],
        "created_at": api_time(created_at),
        "updated_at": api_time(created_at),
        "revision_number": 0,
        "project_id": row["project_id"],
    }


def network_view(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """A network as Neutron v2.0 shows it."""
    subnet_ids = [str(s["id"]) for s in _subnets(conn, row["id"])]
    view: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "tenant_id": row["project_id"],
        "admin_state_up": True,
        "mtu": 1450,
        "status": row["status"],
        "subnets": subnet_ids,
        "shared": bool(row["shared"]),
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "router:external": bool(row["external"]),
        "description": "",
        "port_security_enabled": True,
        "l2_adjacency": True,
        "tags": [],
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(row["created_at"]),
        "revision_number": 1,
        "project_id": row["project_id"],
    }
    if row["external"]:
        view["is_default"] = False
    return view
