"""Runs still in flight on the work pool, shown by a panel that did not start them.

With a work pool (``DENBI_WORK_POOL``), the panels' long steps run on the pool's workers and
outlive the kernel. A panel opened later (in another kernel, the sidebar, after a restart) asks
the runner once for the runs still going (:meth:`~denbi_jupyter.jobs.JobRunner.in_flight`, in
a background thread once the runner is warm) and shows each as a job card in the tab that starts
its flow (:func:`tab_of`). Without a pool nothing is asked.
"""

from __future__ import annotations

from enum import StrEnum

from denbi_jupyter.cloud.results import (
    BootResult,
    DeleteReport,
    ServerActionResult,
    SnapshotResult,
)
from denbi_jupyter.jobs import DEPLOYMENTS, FlowRef

__all__ = ["RELAUNCH_PREFIX", "Tab", "result_text", "tab_of"]

#: How the Snapshots tab titles a VM started from a snapshot (``Start vm from snap``); a boot
#: from the Images tab is titled ``Boot vm from image``.
RELAUNCH_PREFIX = "Start "


class Tab(StrEnum):
    """The tabs whose job lists show runs in flight (titles as in ``TAB_TITLES``)."""

    IMAGES = "Images"
    SERVERS = "Servers"
    SNAPSHOTS = "Snapshots"


_TABS: dict[FlowRef, Tab] = {
    FlowRef.CREATE_SNAPSHOT: Tab.SNAPSHOTS,
    FlowRef.DELETE_SNAPSHOTS: Tab.SNAPSHOTS,
    FlowRef.STOP_SERVER: Tab.SERVERS,
    FlowRef.START_SERVER: Tab.SERVERS,
    FlowRef.REBOOT_SERVER: Tab.SERVERS,
    FlowRef.DELETE_SERVER: Tab.SERVERS,
}


def tab_of(flow: object, title: str) -> Tab | None:
    """The tab that starts ``flow``: boot → Images (a VM started from a snapshot →
    Snapshots), snapshot and delete → Snapshots, server actions → Servers; None for a flow no
    tab starts (the scheduled clean-up, a plain function, a flow without a deployment)."""
    if not isinstance(flow, FlowRef) or flow not in DEPLOYMENTS:
        return None
    if flow is FlowRef.BOOT_SERVER:
        return Tab.SNAPSHOTS if title.startswith(RELAUNCH_PREFIX) else Tab.IMAGES
    return _TABS.get(flow)


def result_text(result: object) -> str:
    """The outcome line of a run this panel did not start (its typed result, rebuilt)."""
    if isinstance(result, BootResult):
        where = f" at {result.private_ipv4}" if result.private_ipv4 else ""
        return f"{result.name} is {result.status}{where}: how to connect is in the Connect tab."
    if isinstance(result, SnapshotResult):
        return f"Snapshot {result.name} is {result.status}."
    if isinstance(result, ServerActionResult):
        status = "deleted" if result.status == "DELETED" else result.status
        return f"{result.name} is {status}."
    if isinstance(result, DeleteReport):
        return f"{result.deleted} of {len(result.items)} deleted."
    return "Finished."
