"""Prefect settings denbi-jupyter runs its flows with.

* **No flow-run heartbeats.** Prefect 3.9 (``flows.heartbeat_frequency``, environment variable
  ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``) starts a heartbeat thread per flow run and joins it
  at the end, which costs about one second per run (measured: 1.1 s vs 0.13 s for a trivial
  flow). The setting accepts no "off" value from the environment (its minimum is 30), only
  ``None`` set in code, which is what :func:`flow_settings` does. Crash detection by
  heartbeats matters for workers, not for flows run in-process from a kernel or the CLI.
* **No telemetry.** An ephemeral API started under these settings does not report usage
  (its first-run telemetry write also races Prefect's own SQLite migrations).
* **Patience with a cold start.** The ephemeral API's first start migrates a new SQLite
  database; on a busy two-core machine that took more than Prefect's default 20 s, so the
  limit is raised to :data:`EPHEMERAL_STARTUP_TIMEOUT_S`.
* **Quiet console.** In a kernel Prefect's console handler would print every run-logger line
  into the notebook cell; :func:`quiet_console` raises its level to WARNING. Jobs and the CLI
  show progress themselves from the progress channel.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["EPHEMERAL_STARTUP_TIMEOUT_S", "flow_settings", "quiet_console"]

#: Longest wait for the ephemeral Prefect API to start, in seconds.
EPHEMERAL_STARTUP_TIMEOUT_S = 120


@contextlib.contextmanager
def flow_settings() -> Iterator[None]:
    """Run the block with denbi-jupyter's Prefect settings (heartbeats and telemetry off)."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    updates = {
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: EPHEMERAL_STARTUP_TIMEOUT_S,
    }
    with temporary_settings(updates=updates):
        yield


def quiet_console(level: int = logging.WARNING) -> None:
    """Show only ``level`` and above from Prefect's console handlers (idempotent)."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()

    for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(max(handler.level, level))
