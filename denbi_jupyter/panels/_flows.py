"""The one place where panels meet the flows: submitting a job and the snapshot pre-flight.

Panels name flows by :class:`denbi_jupyter.jobs.FlowRef` and never import ``flows``; the jobs
layer resolves a reference (behind its guard that the installed ``flows`` is ours) and lets
the flow open sites through the panel's clients (:func:`denbi_jupyter.jobs.use_clients`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.preflight import Preflight
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.jobs import FlowRef, resolve_flow, use_clients

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = [
    "SERVER_ACTION_FLOWS",
    "FlowRef",
    "boot_parameters",
    "preflight",
    "server_action_parameters",
    "submit_flow",
    "warm_flows",
]

#: The flows the panels start, resolved (Prefect imported) during the warm-up.
PANEL_FLOWS = (
    FlowRef.BOOT_SERVER,
    FlowRef.CREATE_SNAPSHOT,
    FlowRef.DELETE_SNAPSHOTS,
    FlowRef.STOP_SERVER,
)

#: The lifecycle flow of each server action.
SERVER_ACTION_FLOWS: Mapping[ServerAction, FlowRef] = {
    ServerAction.STOP: FlowRef.STOP_SERVER,
    ServerAction.START: FlowRef.START_SERVER,
    ServerAction.REBOOT: FlowRef.REBOOT_SERVER,
    ServerAction.HARD_REBOOT: FlowRef.REBOOT_SERVER,
    ServerAction.DELETE: FlowRef.DELETE_SERVER,
}


#: What a process's first flow run imports besides the flows (0.1-0.7 s on the first click).
_FIRST_RUN_MODULES = ("prefect.flow_engine", "prefect.task_engine")


def warm_flows() -> None:
    """Import the panels' flows, Prefect and its run engines; failures surface on first use."""
    import importlib

    try:
        for flow in PANEL_FLOWS:
            resolve_flow(flow)
        for module in _FIRST_RUN_MODULES:
            importlib.import_module(module)
    except Exception:  # noqa: BLE001 - reported by the job that needs the flow
        return


def submit_flow(
    runner: JobRunner,
    title: str,
    flow: FlowRef,
    parameters: Mapping[str, object],
    *,
    clients: Callable[[str], CloudClient],
) -> Job:
    """Submit ``flow(**parameters)`` to ``runner``; the flow opens sites through ``clients``."""
    with use_clients(clients):
        return runner.submit(title, flow, **parameters)


def boot_parameters(
    *, site: str, image: str, flavor: str, key_name: str, name: str
) -> dict[str, object]:
    """The parameters of :attr:`FlowRef.BOOT_SERVER`; an empty ``key_name`` means no key pair."""
    return {
        "site": site,
        "image": image,
        "flavor": flavor,
        "key_name": key_name or None,
        "name": name,
    }


def server_action_parameters(
    *, site: str, server_id: str, action: ServerAction
) -> dict[str, object]:
    """The parameters of the lifecycle flow of ``action`` (see :data:`SERVER_ACTION_FLOWS`)."""
    parameters: dict[str, object] = {"site": site, "server": server_id}
    if action is ServerAction.HARD_REBOOT:
        parameters["hard"] = True
    return parameters


def preflight(client: CloudClient, server_id: str, name: str) -> Preflight:
    """The snapshot pre-flight of ``server_id`` as ``name`` (three read calls).

    The verdict is :func:`denbi_jupyter.cloud.rules.preflight.evaluate`; gathering its facts
    lives beside the snapshot flow, reached here through the flow's own module (resolved by
    the jobs layer) until it moves to ``denbi_jupyter.cloud``.
    """
    flow = resolve_flow(FlowRef.CREATE_SNAPSHOT)
    module = inspect.getmodule(getattr(flow, "fn", flow))
    gather: Callable[[CloudClient, str, str], Preflight] = getattr(module, "preflight")  # noqa: B009
    return gather(client, server_id, name)
