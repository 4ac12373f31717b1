"""Readiness of the Nova services, read from the databases (no credentials, no API calls).

A service row counts as fresh when its last heartbeat (`updated_at`, or `created_at` before the
first) is not older than the moment we launched the process: after a restart the old rows are
still there, and the scheduler skips a compute host "not heard from in a while".
"""

from __future__ import annotations

from collections.abc import Callable

from openstack_tier.backing import mysql_query
from openstack_tier.configs import COMPUTE_HOST, TierConfig
from openstack_tier.waiting import wait_until

__all__ = ["compute_ready_sql", "db_now", "service_fresh_sql", "wait_compute", "wait_service"]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def db_now(config: TierConfig) -> str:
    """The database's clock in UTC, as Nova writes its timestamps."""
    return mysql_query(config, "SELECT UTC_TIMESTAMP();\n").strip()


def service_fresh_sql(binary: str, host: str, since: str) -> str:
    """Counts the live rows of `binary` on `host` that reported at or after `since`."""
    return (
        "SELECT COUNT(*) FROM nova.services WHERE deleted = 0"
        f" AND `binary` = {_quote(binary)} AND host = {_quote(host)}"
        f" AND COALESCE(updated_at, created_at) >= {_quote(since)};\n"
    )


def compute_ready_sql(host: str, since: str) -> str:
    """Three counts: placement provider, cell mapping, fresh compute service row."""
    fresh = service_fresh_sql("nova-compute", host, since).rstrip(";\n")
    return (
        "SELECT"
        f" (SELECT COUNT(*) FROM placement.resource_providers WHERE name = {_quote(host)}),"
        f" (SELECT COUNT(*) FROM nova_api.host_mappings WHERE host = {_quote(host)}),"
        f" ({fresh});\n"
    )


def wait_service(
    config: TierConfig,
    binary: str,
    since: str,
    died: Callable[[], bool] | None = None,
    timeout: float = 90.0,
) -> float:
    """Waits until `binary` (on the tier's host) has reported since `since`."""
    sql = service_fresh_sql(binary, COMPUTE_HOST, since)
    log = config.paths.logs / f"{binary}.log"
    return wait_until(
        lambda: mysql_query(config, sql).strip() == "1",
        timeout=timeout,
        what=f"{binary} heartbeat (log: {log})",
        interval=0.5,
        died=died,
    )


def wait_compute(
    config: TierConfig, since: str, died: Callable[[], bool] | None = None, timeout: float = 120.0
) -> float:
    """Waits until the compute host is in placement, mapped to cell1, and reporting."""
    sql = compute_ready_sql(COMPUTE_HOST, since)
    log = config.paths.logs / "nova-compute.log"
    return wait_until(
        lambda: mysql_query(config, sql).split() == ["1", "1", "1"],
        timeout=timeout,
        what=f"compute host (log: {log})",
        interval=0.5,
        died=died,
    )
