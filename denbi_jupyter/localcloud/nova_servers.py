"""Server create, list, delete and metadata: validation and records, Nova's wording.

Create checks what real Nova checks in its API before answering 202: the body's shape per
microversion (``networks`` required from 2.37, ``auto``/``none`` only from then), an active image
the project may use, the flavor, the key pair, the networks or ports, metadata and quota. The
boot itself then runs on the timeline (see :mod:`nova_state`).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from denbi_jupyter.localcloud import glance_records
from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.neutron_ports import release_ports
from denbi_jupyter.localcloud.nova_microversion import Microversion
from denbi_jupyter.localcloud.nova_networks import requested_networks
from denbi_jupyter.localcloud.nova_quotas import check_server_quota, quota_limits
from denbi_jupyter.localcloud.nova_state import (
    check_unlocked,
    get_server,
    server_extra,
    start_operation,
    update_server,
)
from denbi_jupyter.localcloud.nova_views import db_time
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps, loads

__all__ = [
    "CreatedServer",
    "check_metadata",
    "create_servers",
    "delete_server",
    "list_server_rows",
    "server_to_change",
    "set_metadata",
]

_PASSWORD_CHARS = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
_BUILD_STEPS = ((0.3, "scheduled"), (0.45, "networking"), (0.55, "spawning"), (1.0, "active"))


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _invalid(field: str, value: Any, reason: str) -> ApiError:
    return _bad(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def check_metadata(conn: sqlite3.Connection, project_id: str, metadata: Any) -> dict[str, str]:
    """Validate server metadata (string keys and values, within the ``metadata_items`` quota).

    Raises:
        ApiError: 400 for a malformed item, 403 over the quota.
    """
    if not isinstance(metadata, dict):
        raise _invalid("metadata", metadata, f"{metadata!r} is not of type 'object'")
    for key, value in metadata.items():
        if not isinstance(value, str) or not 1 <= len(key) <= 255 or len(value) > 255:
            raise _invalid(
                "metadata",
                metadata,
                "Metadata keys and values must be strings of 255 "
                "characters at most (keys at least 1).",
            )
    allowed = quota_limits(conn, project_id)["metadata_items"]
    if 0 <= allowed < len(metadata):
        raise ApiError(403, f"Maximum number of metadata items exceeds {allowed}")
    return {str(k): str(v) for k, v in metadata.items()}


def _image(conn: sqlite3.Connection, image_ref: Any, context: TokenContext) -> sqlite3.Row:
    if not isinstance(image_ref, str) or not image_ref:
        raise _bad(
            "Block Device Mapping is Invalid: Boot sequence for the instance and "
            "image/block device mapping combination is not valid."
        )
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    row = glance_records.get_image_row(conn, image_id)
    visible = row is not None and (
        row["visibility"] in ("public", "community")
        or row["owner"] == context.project_id
        or context.is_admin
    )
    if row is None or not visible:
        raise _bad(f"Image {image_id} could not be found.")
    if row["status"] != "active":
        raise _bad(f"Image {image_id} is not active.")
    return row


def _flavor(conn: sqlite3.Connection, flavor_ref: Any) -> sqlite3.Row:
    flavor_id = str(flavor_ref or "").rstrip("/").rsplit("/", 1)[-1]
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM flavors WHERE id = ?", (flavor_id,)
    ).fetchone()
    if row is None:
        raise _bad("Invalid flavorRef provided.")
    return row


def _hostname(name: str) -> str:
    host = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return host[:63] or "server"


class CreatedServer:
    """What ``POST /servers`` answers with: the (first) server's id and its admin password."""

    __slots__ = ("admin_pass", "server_id")

    def __init__(self, server_id: str, admin_pass: str) -> None:
        self.server_id = server_id
        self.admin_pass = admin_pass


@dataclass(frozen=True, slots=True)
class _Boot:
    """A checked ``POST /servers`` request: what each of its servers is made of."""

    server: Mapping[str, Any]
    name: str
    image: sqlite3.Row
    flavor: sqlite3.Row
    key_name: str | None
    networks: Any
    metadata: dict[str, str]
    count: int


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or name != name.strip():
        raise _invalid(
            "name",
            name,
            "The server name must be 1 to 255 characters without leading or trailing whitespace.",
        )
    return name


def _check_fit(image: sqlite3.Row, flavor: sqlite3.Row) -> None:
    """Refuse a flavor too small for the image's ``min_disk`` or ``min_ram``."""
    if int(image["min_disk"] or 0) > int(flavor["disk"]):
        raise _bad(
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{int(flavor['disk']) * 1024**3} bytes, minimum requested disk is "
            f"{int(image['min_disk']) * 1024**3} bytes."
        )
    if int(image["min_ram"] or 0) > int(flavor["ram"]):
        raise _bad("Flavor's memory is too small for requested image.")


def _check_placement(
    conn: sqlite3.Connection, context: TokenContext, server: Mapping[str, Any]
) -> None:
    """Refuse an unknown key pair or availability zone."""
    key_name = server.get("key_name")
    if (
        key_name is not None
        and conn.execute(
            "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?", (context.user_id, key_name)
        ).fetchone()
        is None
    ):
        raise _bad("Invalid key_name provided.")
    zone = server.get("availability_zone")
    if zone not in (None, "", "nova"):
        raise _bad(f"The requested availability zone is not available: {zone}")


def _check_boot(
    conn: sqlite3.Connection,
    context: TokenContext,
    body: Mapping[str, Any],
    version: Microversion,
) -> _Boot:
    """Every check Nova's API makes on a ``POST /servers`` body, in its order."""
    server = body.get("server")
    if not isinstance(server, dict):
        raise _invalid("server", server, "'server' is a required property")
    name = _check_name(server.get("name"))
    project_id = str(context.project_id)
    image = _image(conn, server.get("imageRef"), context)
    flavor = _flavor(conn, server.get("flavorRef"))
    _check_fit(image, flavor)
    _check_placement(conn, context, server)
    networks = requested_networks(
        conn, server.get("networks"), version=version, project_id=project_id
    )
    metadata = check_metadata(conn, project_id, server.get("metadata", {}))
    count = _count(body, server)
    check_server_quota(
        conn, project_id, count=count, vcpus=int(flavor["vcpus"]), ram=int(flavor["ram"])
    )
    return _Boot(server, name, image, flavor, server.get("key_name"), networks, metadata, count)


def _flavor_copy(flavor: sqlite3.Row) -> dict[str, Any]:
    """The flavor as the server keeps it (later flavor changes do not touch the server)."""
    copy: dict[str, Any] = {"id": flavor["id"], "name": flavor["name"]}
    for column in ("vcpus", "ram", "disk", "ephemeral", "swap"):
        copy[column] = int(flavor[column])
    copy["extra_specs"] = loads(flavor["extra_specs"]) or {}
    return copy


def _insert_server(
    conn: sqlite3.Connection,
    context: TokenContext,
    boot: _Boot,
    name: str,
    extra: dict[str, Any],
) -> str:
    """Insert one server in BUILD/scheduling; return its new id."""
    server_id = str(uuid.uuid4())
    now = db_time()
    conn.execute(
        "INSERT INTO servers (id, name, project_id, user_id, image_id, flavor_id, key_name, "
        "status, vm_state, task_state, power_state, created_at, updated_at, metadata, "
        "extra) VALUES (?, ?, ?, ?, ?, ?, ?, 'BUILD', 'building', 'scheduling', 0, ?, ?, "
        "?, ?)",
        (
            server_id,
            name,
            str(context.project_id),
            context.user_id,
            boot.image["id"],
            boot.flavor["id"],
            boot.key_name,
            now,
            now,
            dumps(boot.metadata),
            dumps({k: v for k, v in extra.items() if v is not None}),
        ),
    )
    return server_id


def create_servers(
    conn: sqlite3.Connection,
    site: Site,
    context: TokenContext,
    body: Mapping[str, Any],
    *,
    version: Microversion,
    boot_outcome: Callable[[], str | None] | None = None,
) -> CreatedServer:
    """Validate a ``POST /servers`` body, insert the server(s), schedule their boot.

    Args:
        conn: Connection of an open ``site.store.tx()`` transaction.
        site: The site (for its timings).
        context: Who creates them.
        body: The request body.
        version: The request's microversion.
        boot_outcome: Called per server once the request passed every check; returns
            ``"error"`` when an injected fault makes its boot end in ERROR.

    Raises:
        ApiError: 400 for invalid input, 403 over quota, 409 for ambiguous networks.
    """
    boot = _check_boot(conn, context, body, version)
    server = boot.server
    reservation = "r-" + "".join(
        secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8)
    )
    flavor = _flavor_copy(boot.flavor)
    properties = {k: str(v) for k, v in (loads(boot.image["properties"]) or {}).items()}
    first = ""
    for index in range(boot.count):
        server_name = f"{boot.name}-{index + 1}" if boot.count > 1 else boot.name
        extra = {
            "flavor": flavor,
            "image_properties": properties,
            "requested_networks": boot.networks,
            "reservation_id": reservation,
            "hostname": _hostname(server_name),
            "description": server.get("description"),
            "user_data": server.get("user_data"),
            "tags": [str(t) for t in server.get("tags", [])],
            "boot_outcome": boot_outcome() if boot_outcome is not None else None,
        }
        server_id = _insert_server(conn, context, boot, server_name, extra)
        first = first or server_id
        steps = [(site.timings.boot * share, step) for share, step in _BUILD_STEPS]
        start_operation(conn, server_id, steps, task_state="scheduling")
    admin_pass = "".join(secrets.choice(_PASSWORD_CHARS) for _ in range(12))
    return CreatedServer(first, admin_pass)


def _count(body: Mapping[str, Any], server: Mapping[str, Any]) -> int:
    low = server.get("min_count", body.get("min_count", 1))
    high = server.get("max_count", body.get("max_count", low))
    if not isinstance(low, int) or not isinstance(high, int) or not 1 <= low <= high:
        raise _bad("min_count must be <= max_count, both positive integers")
    return high


def delete_server(
    conn: sqlite3.Connection, site: Site, row: sqlite3.Row, context: TokenContext
) -> None:
    """Start deleting a server: ports go at once, the record after ``site.timings.delete``.

    A snapshot still uploading dies with the server, as in real Nova: its image is removed.
    """
    check_unlocked(row, context)
    snapshot = server_extra(row).get("snapshot") or {}
    image_id = snapshot.get("image_id")
    if image_id:
        image = glance_records.get_image_row(conn, image_id)
        if image is not None and image["status"] in ("queued", "saving"):
            glance_records.delete_image_record(conn, site, image_id)
    release_ports(conn, row["id"])
    start_operation(
        conn,
        row["id"],
        [(site.timings.delete, "deleted")],
        task_state="deleting",
        extra={"snapshot": None},
    )


def _name_matches(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


def list_server_rows(
    conn: sqlite3.Connection, context: TokenContext, params: QueryParams
) -> list[sqlite3.Row]:
    """The servers a list call returns, newest first, after Nova's filters and paging.

    Raises:
        ApiError: 403 for ``all_tenants`` without the admin role, 400 for a bad marker/limit.
    """
    all_tenants = params.get("all_tenants", params.get("all_projects"))
    everyone = all_tenants is not None and all_tenants.lower() not in ("0", "false", "off")
    if everyone and not context.is_admin:
        raise ApiError(
            403,
            "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.",
        )
    if everyone:
        rows = conn.execute(
            "SELECT * FROM servers WHERE deleted = 0 ORDER BY created_at DESC, id DESC"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM servers WHERE deleted = 0 AND project_id = ? "
            "ORDER BY created_at DESC, id DESC",
            (context.project_id,),
        ).fetchall()
    rows = [row for row in rows if _passes(row, params)]
    marker = params.get("marker")
    if marker is not None:
        ids = [row["id"] for row in rows]
        if marker not in ids:
            raise _bad(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    limit = params.get("limit")
    if limit is not None:
        if not limit.isdigit():
            raise _bad("limit param must be an integer")
        rows = rows[: int(limit)]
    return rows


def _passes(row: sqlite3.Row, params: QueryParams) -> bool:
    name = params.get("name")
    if name is not None and not _name_matches(name, row["name"]):
        return False
    status = params.get("status")
    if status is not None and row["status"] != status.upper():
        return False
    image = params.get("image")
    if image is not None and row["image_id"] != image.rstrip("/").rsplit("/", 1)[-1]:
        return False
    flavor = params.get("flavor")
    if flavor is not None and row["flavor_id"] != flavor.rstrip("/").rsplit("/", 1)[-1]:
        return False
    since = params.get("changes-since")
    if since is not None and row["updated_at"][:19] < since.replace(" ", "T")[:19]:
        return False
    before = params.get("changes-before")
    return before is None or row["updated_at"][:19] <= before.replace(" ", "T")[:19]


def set_metadata(
    conn: sqlite3.Connection, row: sqlite3.Row, metadata: dict[str, str], *, replace: bool
) -> dict[str, str]:
    """Merge (or replace) the server's metadata; return the result."""
    current: dict[str, str] = {} if replace else dict(loads(row["metadata"]) or {})
    current.update(metadata)
    update_server(conn, row["id"], metadata=dumps(current))
    return current


def server_to_change(
    conn: sqlite3.Connection, server_id: str, context: TokenContext
) -> sqlite3.Row:
    """The server a rename or metadata call changes (refused while it is locked)."""
    row = get_server(conn, server_id, context)
    check_unlocked(row, context)
    return row
