"""How Nova shows servers, flavors and key pairs, per microversion.

Field sets and their order follow the real Nova 34 answers in the golden files (37, 38, 49, 52):
``progress`` only for BUILD/ACTIVE-like statuses, ``security_groups`` only once the server has
ports, ``OS-EXT-SRV-ATTR:*`` and ``host_status`` for admins, the embedded flavor from 2.47,
image properties from 2.98, ``server_groups`` only in a single-server answer.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from starlette.requests import Request

from denbi_jupyter.localcloud.auth import TokenContext, utcnow
from denbi_jupyter.localcloud.neutron_ports import device_ports
from denbi_jupyter.localcloud.nova_microversion import Microversion
from denbi_jupyter.localcloud.store import loads

__all__ = [
    "compute_url",
    "db_time",
    "flavor_view",
    "nova_time",
    "server_links",
    "server_status",
    "server_summary",
    "server_view",
    "usage_time",
]

_PROGRESS_STATUSES = frozenset({"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE"})

#: Status Nova shows for (vm_state, task_state); task None is the default of a vm_state.
_STATUS: dict[str, dict[str | None, str]] = {
    "active": {
        None: "ACTIVE",
        "rebooting": "REBOOT",
        "reboot_pending": "REBOOT",
        "reboot_started": "REBOOT",
        "rebooting_hard": "HARD_REBOOT",
        "reboot_pending_hard": "HARD_REBOOT",
        "reboot_started_hard": "HARD_REBOOT",
    },
    "building": {None: "BUILD"},
    "stopped": {None: "SHUTOFF", "rebooting_hard": "HARD_REBOOT"},
    "error": {None: "ERROR"},
    "deleted": {None: "DELETED"},
}


def server_status(vm_state: str, task_state: str | None) -> str:
    """The API status of a server in ``vm_state`` with ``task_state``."""
    states = _STATUS.get(vm_state, {None: "UNKNOWN"})
    return states.get(task_state, states[None])


def db_time() -> str:
    """Now in the stored form (``2026-11-27T06:51:55.123456``, UTC)."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")


def nova_time(stored: str | None) -> str | None:
    """A stored time as Nova shows ``created``/``updated``: ``2026-11-27T06:51:55Z``."""
    return None if stored is None else stored[:19] + "Z"


def usage_time(stored: str | None) -> str | None:
    """A stored time as Nova shows ``launched_at``: ``2026-11-27T06:51:57.000000``."""
    return None if stored is None else stored[:19] + ".000000"


def compute_url(request: Request) -> str:
    """The compute endpoint's mount URL (``http://127.0.0.1:8790/bielefeld/compute``)."""
    path = request.url.path
    cut = path.find("/v2.1")
    mount = path[:cut] if cut >= 0 else path.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{mount}"


def _links(base: str, kind: str, item_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/v2.1/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{base}/{kind}/{item_id}"},
    ]


def server_links(base: str, server_id: str) -> list[dict[str, str]]:
    """The ``self`` and ``bookmark`` links of a server."""
    return _links(base, "servers", server_id)


def server_summary(row: sqlite3.Row, base: str) -> dict[str, Any]:
    """A server in a plain ``GET /servers`` list."""
    return {"id": row["id"], "name": row["name"], "links": server_links(base, row["id"])}


def flavor_view(
    row: sqlite3.Row, *, base: str, version: Microversion, detail: bool = True
) -> dict[str, Any]:
    """A flavor as ``/flavors/detail`` (or the plain list when ``detail`` is False) shows it."""
    flavor_id = str(row["id"])
    view: dict[str, Any] = {"id": flavor_id, "name": row["name"]}
    if detail:
        swap = int(row["swap"])
        view.update(
            {
                "ram": int(row["ram"]),
                "disk": int(row["disk"]),
                "swap": swap if version >= (2, 75) or swap else "",
                "OS-FLV-EXT-DATA:ephemeral": int(row["ephemeral"]),
            }
        )
        if version < (2, 75):
            view["OS-FLV-DISABLED:disabled"] = False
        view["vcpus"] = int(row["vcpus"])
        view["os-flavor-access:is_public"] = bool(row["is_public"])
        if version < (2, 75):
            view["rxtx_factor"] = 1.0
    view["links"] = _links(base, "flavors", flavor_id)
    if version >= (2, 55):
        view["description"] = row["description"]
    if detail and version >= (2, 61):
        view["extra_specs"] = loads(row["extra_specs"]) or {}
    return view


def _addresses(
    conn: sqlite3.Connection, ports: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    addresses: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        network = conn.execute(
            "SELECT name FROM networks WHERE id = ?", (port["network_id"],)
        ).fetchone()
        name = network["name"] if network is not None else port["network_id"]
        for fixed in port["fixed_ips"]:
            addresses.setdefault(name, []).append(
                {
                    "version": 6 if ":" in fixed["ip_address"] else 4,
                    "addr": fixed["ip_address"],
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                }
            )
    return addresses


def _image(row: sqlite3.Row, extra: dict[str, Any], base: str, version: Microversion) -> Any:
    image_id = row["image_id"]
    if not image_id:
        return ""
    image: dict[str, Any] = {
        "id": image_id,
        "links": [{"rel": "bookmark", "href": f"{base}/images/{image_id}"}],
    }
    if version >= (2, 98):
        image["properties"] = dict(extra.get("image_properties", {}))
    return image


def _flavor(row: sqlite3.Row, extra: dict[str, Any], base: str, version: Microversion) -> Any:
    flavor = extra.get("flavor", {})
    if version < (2, 47):
        flavor_id = row["flavor_id"]
        return {
            "id": flavor_id,
            "links": [{"rel": "bookmark", "href": f"{base}/flavors/{flavor_id}"}],
        }
    return {
        "vcpus": flavor.get("vcpus", 0),
        "ram": flavor.get("ram", 0),
        "disk": flavor.get("disk", 0),
        "ephemeral": flavor.get("ephemeral", 0),
        "swap": flavor.get("swap", 0),
        "original_name": flavor.get("name", ""),
        "extra_specs": dict(flavor.get("extra_specs", {})),
    }


def _host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def server_view(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    *,
    base: str,
    version: Microversion,
    context: TokenContext,
    in_list: bool = False,
) -> dict[str, Any]:
    """A server as ``GET /servers/{id}`` (or one item of ``/servers/detail``) shows it."""
    extra: dict[str, Any] = loads(row["extra"]) or {}
    status = server_status(row["vm_state"], row["task_state"])
    host = extra.get("host")
    built = row["vm_state"] != "building" and row["task_state"] != "deleting"
    ports = device_ports(conn, row["id"]) if built else []
    view: dict[str, Any] = {
        "accessIPv4": "",
        "accessIPv6": "",
        "addresses": _addresses(conn, ports),
        "created": nova_time(row["created_at"]),
        "flavor": _flavor(row, extra, base, version),
        "hostId": _host_id(row["project_id"], host),
        "id": row["id"],
        "image": _image(row, extra, base, version),
        "links": server_links(base, row["id"]),
        "metadata": loads(row["metadata"]) or {},
        "name": row["name"],
        "status": status,
        "tenant_id": row["project_id"],
        "user_id": row["user_id"],
        "updated": nova_time(row["updated_at"]),
        "OS-DCF:diskConfig": "MANUAL",
    }
    if status in _PROGRESS_STATUSES:
        view["progress"] = 0
    view.update(
        {
            "OS-EXT-AZ:availability_zone": "nova" if host else "",
            "config_drive": "",
            "key_name": row["key_name"],
            "OS-SRV-USG:launched_at": usage_time(row["launched_at"]),
            "OS-SRV-USG:terminated_at": usage_time(extra.get("terminated_at")),
        }
    )
    security_groups = [{"name": "default"}] if ports else None
    if security_groups and not in_list:
        view["security_groups"] = security_groups
    if context.is_admin:
        view.update(_admin_attributes(row, extra, version))
    elif version >= (2, 90):
        view["OS-EXT-SRV-ATTR:hostname"] = extra.get("hostname", "")
    view.update(
        {
            "OS-EXT-STS:task_state": row["task_state"],
            "OS-EXT-STS:vm_state": row["vm_state"],
            "OS-EXT-STS:power_state": int(row["power_state"]),
            "os-extended-volumes:volumes_attached": [],
        }
    )
    fault = loads(row["fault"])
    if fault:
        view["fault"] = {
            key: value for key, value in fault.items() if key != "details" or context.is_admin
        }
    view.update(_versioned_attributes(extra, version, context, in_list=in_list))
    if security_groups and in_list:
        view["security_groups"] = security_groups
    return view


def _admin_attributes(
    row: sqlite3.Row, extra: dict[str, Any], version: Microversion
) -> dict[str, Any]:
    host = extra.get("host")
    attributes: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": host,
        "OS-EXT-SRV-ATTR:instance_name": extra.get("instance_name", "") if host else "",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
    }
    if version >= (2, 3):
        attributes.update(
            {
                "OS-EXT-SRV-ATTR:hostname": extra.get("hostname", ""),
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:launch_index": 0,
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:reservation_id": extra.get("reservation_id", ""),
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/sda" if row["launched_at"] else None,
                "OS-EXT-SRV-ATTR:user_data": extra.get("user_data"),
            }
        )
    return attributes


def _versioned_attributes(
    extra: dict[str, Any],
    version: Microversion,
    context: TokenContext,
    *,
    in_list: bool,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    host_status = "UP" if extra.get("host") else ""
    if version >= (2, 9):
        attributes["locked"] = bool(extra.get("locked", False))
    if version >= (2, 16) and context.is_admin and not in_list:
        attributes["host_status"] = host_status
    if version >= (2, 19):
        attributes["description"] = extra.get("description")
    if version >= (2, 26):
        attributes["tags"] = list(extra.get("tags", []))
    if version >= (2, 63):
        attributes["trusted_image_certificates"] = None
    if version >= (2, 71) and not in_list:
        attributes["server_groups"] = []
    if version >= (2, 73):
        attributes["locked_reason"] = extra.get("locked_reason")
    if version >= (2, 96):
        attributes["pinned_availability_zone"] = None
    if version >= (2, 100):
        attributes["scheduler_hints"] = {}
    if version >= (2, 16) and context.is_admin and in_list:
        attributes["host_status"] = host_status
    return attributes
