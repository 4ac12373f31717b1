"""Which SSH listeners the local cloud should run: one per ACTIVE VM with a private IPv4.

:func:`wanted_listeners` reads a site's database and answers, for every ACTIVE server that has
a port with an IPv4 address, the gateway port the site's formula gives for that address, the
login user and the public key of the key pair it was booted with (``None`` without one, or when
that key pair is gone or unreadable: then every key is refused).

The formula language is the one the client speaks (``30000 + 256*oct3 + oct4``: integers,
``oct1``..``oct4``, ``+ - * // %``, unary minus, parentheses); it is evaluated here without
``eval`` because the local cloud imports nothing of the client.
"""

from __future__ import annotations

import ast
import ipaddress
import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.ssh_commands import VmIdentity
from denbi_jupyter.localcloud.store import loads

__all__ = ["DEFAULT_USER", "SshTarget", "gateway_port", "wanted_listeners"]

#: The login user of the local cloud's images unless an image names its own
#: (``os_admin_user``); the clouds.yaml entries tell the client the same (``ssh_user``).
DEFAULT_USER = "ubuntu"

_OPERATORS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


@dataclass(frozen=True, slots=True)
class SshTarget:
    """One SSH listener the local cloud should run.

    Attributes:
        site: The site's name.
        server_id: The VM.
        port: The gateway port (the site's formula over the VM's IPv4 address).
        identity: What the VM's commands answer (host name, user, OS).
        public_key: The OpenSSH public key accepted for ``identity.user``; None: none is.
    """

    site: str
    server_id: str
    port: int
    identity: VmIdentity
    public_key: str | None


def _evaluate(node: ast.expr, octets: dict[str, int]) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id in octets:
        return octets[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, octets)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left, octets), _evaluate(node.right, octets)
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"not part of the port formula language: {ast.dump(node)[:60]}")


def gateway_port(formula: str, address: str) -> int | None:
    """The port ``formula`` gives for IPv4 ``address``; None if it gives no valid TCP port."""
    try:
        packed = ipaddress.IPv4Address(address).packed
        tree = ast.parse(formula.strip(), mode="eval")
        port = _evaluate(tree.body, {f"oct{i + 1}": octet for i, octet in enumerate(packed)})
    except (ValueError, SyntaxError, ZeroDivisionError):
        return None
    return port if 1 <= port <= 65535 else None


def _first_ipv4(conn: sqlite3.Connection, server_id: str) -> str | None:
    rows = conn.execute(
        "SELECT fixed_ips FROM ports WHERE device_id = ? ORDER BY created_at, id", (server_id,)
    ).fetchall()
    for row in rows:
        for fixed in loads(row["fixed_ips"]) or []:
            address = str(fixed.get("ip_address", ""))
            if "." in address:
                return address
    return None


def _public_key(conn: sqlite3.Connection, user_id: str, key_name: str | None) -> str | None:
    if not key_name:
        return None
    row = conn.execute(
        "SELECT public_key FROM keypairs WHERE user_id = ? AND name = ?", (user_id, key_name)
    ).fetchone()
    return None if row is None else str(row["public_key"])


def _identity(row: sqlite3.Row) -> VmIdentity:
    extra = loads(row["extra"]) or {}
    properties = extra.get("image_properties") or {}
    return VmIdentity(
        hostname=str(extra.get("hostname") or row["name"]),
        user=str(properties.get("os_admin_user") or DEFAULT_USER),
        distro=str(properties.get("os_distro") or ""),
        version=str(properties.get("os_version") or ""),
    )


def wanted_listeners(site: Site) -> list[SshTarget]:
    """Every listener ``site``'s ACTIVE VMs should have now, oldest VM first."""
    targets: list[SshTarget] = []
    with site.store.tx() as conn:
        rows = conn.execute(
            "SELECT id, name, user_id, key_name, extra FROM servers "
            "WHERE deleted = 0 AND status = 'ACTIVE' ORDER BY created_at, id"
        ).fetchall()
        for row in rows:
            address = _first_ipv4(conn, row["id"])
            port = None if address is None else gateway_port(site.profile.ssh_port_formula, address)
            if port is None:
                continue
            key = _public_key(conn, row["user_id"], row["key_name"])
            targets.append(SshTarget(site.name, row["id"], port, _identity(row), key))
    return targets
