"""Nova quotas and limits: the ``quotas`` table, usage from live servers, Nova's wording.

Limits come from the ``quotas`` table (``project_id``, ``resource``, ``hard_limit``) with Nova's
defaults for missing rows; usage counts the project's servers that are not gone yet (a server
being deleted still counts, as in Nova). Over-quota server creates answer 403 ``forbidden``
"Quota exceeded for cores, ram: Requested …" exactly as Nova's v2.1 API does at every
microversion.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from denbi_jupyter.localcloud.auth import TokenContext
from denbi_jupyter.localcloud.http import route
from denbi_jupyter.localcloud.nova_api import NovaApi, NovaBody, ok
from denbi_jupyter.localcloud.nova_microversion import Microversion, microversion_of
from denbi_jupyter.localcloud.responses import ApiError
from denbi_jupyter.localcloud.store import loads

__all__ = [
    "DEFAULT_QUOTAS",
    "QuotaApi",
    "check_server_quota",
    "limits_view",
    "quota_limits",
    "quota_set_view",
    "set_quota",
    "usage",
]

DEFAULT_QUOTAS: dict[str, int] = {
    "cores": 20,
    "instances": 10,
    "key_pairs": 100,
    "metadata_items": 128,
    "ram": 51200,
    "server_group_members": 10,
    "server_groups": 10,
}

#: Quota keys Nova still shows before a microversion dropped them: (last version, values).
_LEGACY_QUOTAS: tuple[tuple[Microversion, dict[str, int]], ...] = (
    (
        (2, 56),
        {
            "injected_file_content_bytes": 10240,
            "injected_file_path_bytes": 255,
            "injected_files": 5,
        },
    ),
    (
        (2, 35),
        {"fixed_ips": -1, "floating_ips": 10, "security_group_rules": 20, "security_groups": 10},
    ),
)


def quota_limits(conn: sqlite3.Connection, project_id: str) -> dict[str, int]:
    """The project's hard limits (Nova's defaults where the table has no row)."""
    limits = dict(DEFAULT_QUOTAS)
    for row in conn.execute(
        "SELECT resource, hard_limit FROM quotas WHERE project_id = ?", (project_id,)
    ):
        limits[str(row["resource"])] = int(row["hard_limit"])
    return limits


def set_quota(conn: sqlite3.Connection, project_id: str, values: dict[str, int]) -> None:
    """Store new hard limits for the project."""
    conn.executemany(
        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?) "
        "ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
        [(project_id, resource, int(value)) for resource, value in values.items()],
    )


def usage(conn: sqlite3.Connection, project_id: str) -> dict[str, int]:
    """Instances, cores and RAM the project's live servers use."""
    used = {"instances": 0, "cores": 0, "ram": 0}
    for row in conn.execute(
        "SELECT extra FROM servers WHERE project_id = ? AND deleted = 0", (project_id,)
    ):
        flavor = (loads(row["extra"]) or {}).get("flavor", {})
        used["instances"] += 1
        used["cores"] += int(flavor.get("vcpus", 0))
        used["ram"] += int(flavor.get("ram", 0))
    return used


def check_server_quota(
    conn: sqlite3.Connection, project_id: str, *, count: int, vcpus: int, ram: int
) -> None:
    """Refuse ``count`` new servers of the flavor when they would exceed the quota.

    Raises:
        ApiError: 403 ``forbidden`` with Nova's "Quota exceeded for …" message.
    """
    limits = quota_limits(conn, project_id)
    used = usage(conn, project_id)
    wanted = {"instances": count, "cores": count * vcpus, "ram": count * ram}
    overs = sorted(
        resource
        for resource, amount in wanted.items()
        if limits[resource] >= 0 and used[resource] + amount > limits[resource]
    )
    if overs:
        requested = ", ".join(str(wanted[r]) for r in overs)
        in_use = ", ".join(str(used[r]) for r in overs)
        allowed = ", ".join(str(limits[r]) for r in overs)
        names = ", ".join(overs)
        raise ApiError(
            403,
            f"Quota exceeded for {names}: Requested {requested}, but already used {in_use} "
            f"of {allowed} {names}",
            kind="forbidden",
        )


def quota_set_view(
    conn: sqlite3.Connection,
    project_id: str,
    *,
    version: Microversion,
    detail: bool = False,
    with_id: bool = True,
    keypairs_used: int = 0,
) -> dict[str, Any]:
    """The ``quota_set`` body (``{in_use, limit, reserved}`` per key when ``detail``)."""
    limits = quota_limits(conn, project_id)
    for last, values in _LEGACY_QUOTAS:
        if version <= last:
            limits.update(values)
    used = {**usage(conn, project_id), "key_pairs": keypairs_used}
    body: dict[str, Any] = {"id": project_id} if with_id else {}
    for key in sorted(limits):
        if detail:
            body[key] = {"in_use": used.get(key, 0), "limit": limits[key], "reserved": 0}
        else:
            body[key] = limits[key]
    return body


def limits_view(
    conn: sqlite3.Connection, project_id: str, *, version: Microversion
) -> dict[str, Any]:
    """The ``limits`` body of ``GET /limits`` (golden 51)."""
    limits = quota_limits(conn, project_id)
    used = usage(conn, project_id)
    absolute: dict[str, int] = {
        "maxTotalCores": limits["cores"],
        "maxTotalInstances": limits["instances"],
        "maxTotalKeypairs": limits["key_pairs"],
        "maxServerMeta": limits["metadata_items"],
        "maxTotalRAMSize": limits["ram"],
        "maxServerGroups": limits["server_groups"],
        "maxServerGroupMembers": limits["server_group_members"],
    }
    if version < (2, 39):
        absolute["maxImageMeta"] = limits["metadata_items"]
    if version < (2, 57):
        absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240})
    if version < (2, 36):
        absolute.update(
            {
                "maxTotalFloatingIps": 10,
                "maxSecurityGroups": 10,
                "maxSecurityGroupRules": 20,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    absolute.update(
        {
            "totalRAMUsed": used["ram"],
            "totalCoresUsed": used["cores"],
            "totalInstancesUsed": used["instances"],
            "totalServerGroupsUsed": 0,
        }
    )
    return {"rate": [], "absolute": absolute}


def _forbidden(action: str) -> ApiError:
    return ApiError(
        403, f"Policy doesn't allow os_compute_api:os-quota-sets:{action} to be performed."
    )


def _quota_changes(body: dict[str, Any]) -> dict[str, int]:
    """The limits a ``PUT /os-quota-sets`` body sets (``force`` ignored).

    Raises:
        ApiError: 400 for a missing ``quota_set`` or an unknown or non-integer limit.
    """
    values = body.get("quota_set")
    if not isinstance(values, dict):
        raise ApiError(400, "Invalid input for field/attribute quota_set.")
    changes = {k: v for k, v in values.items() if k != "force"}
    bad = [k for k, v in changes.items() if k not in DEFAULT_QUOTAS or not isinstance(v, int)]
    if bad:
        raise ApiError(
            400,
            f"Invalid input for field/attribute quota_set. Additional "
            f"properties are not allowed or not integers: {', '.join(bad)}",
        )
    return changes


class QuotaApi(NovaApi):
    """``/limits`` and ``/os-quota-sets``: show, detail, defaults, update (admin)."""

    @route("GET", "/limits")
    def limits(self, request: Request) -> Response:
        context = self.context_of(request)
        with self.site.store.tx() as conn:
            body = limits_view(conn, str(context.project_id), version=microversion_of(request))
        return ok({"limits": body})

    def _asker(self, request: Request, project_id: str, action: str) -> TokenContext:
        """Who asks about ``project_id``'s quota: its member or an admin (else 403)."""
        context = self.context_of(request)
        if project_id != context.project_id and not context.is_admin:
            raise _forbidden(action)
        return context

    @route("GET", "/os-quota-sets/{project_id}")
    def show(self, project_id: str, request: Request) -> Response:
        self._asker(request, project_id, "show")
        with self.site.store.tx() as conn:
            body = quota_set_view(conn, project_id, version=microversion_of(request))
        return ok({"quota_set": body})

    @route("GET", "/os-quota-sets/{project_id}/detail")
    def detail(self, project_id: str, request: Request) -> Response:
        context = self._asker(request, project_id, "detail")
        with self.site.store.tx() as conn:
            keypairs = conn.execute(
                "SELECT COUNT(*) FROM keypairs WHERE user_id = ?", (context.user_id,)
            ).fetchone()
            body = quota_set_view(
                conn,
                project_id,
                version=microversion_of(request),
                detail=True,
                keypairs_used=int(keypairs[0]),
            )
        return ok({"quota_set": body})

    @route("GET", "/os-quota-sets/{project_id}/defaults")
    def defaults(self, project_id: str, request: Request) -> Response:
        self.context_of(request)
        return ok({"quota_set": {"id": project_id, **DEFAULT_QUOTAS}})

    @route("PUT", "/os-quota-sets/{project_id}")
    def update(self, project_id: str, request: Request, body: NovaBody) -> Response:
        if not self.context_of(request).is_admin:
            raise _forbidden("update")
        changes = _quota_changes(body)
        with self.site.store.tx() as conn:
            set_quota(conn, project_id, changes)
            view = quota_set_view(conn, project_id, version=microversion_of(request), with_id=False)
        return ok({"quota_set": view})
