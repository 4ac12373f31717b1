"""The typed flow registry and the guard around the top-level ``flows`` package.

Panels and the command line name a flow by :class:`FlowRef` (``FlowRef.CREATE_SNAPSHOT``),
never by a ``"module:fn"`` string and never by importing ``flows`` themselves. A reference is
resolved to its flow function only when the flow is first needed: importing this module does
nothing (no ``flows``, no Prefect). Resolving goes through :func:`load_flows`, which refuses a
``flows`` package that is not denbi-jupyter's (see ``flows/__init__.py`` for why the guard
exists).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from denbi_jupyter.cloud.protocol import CloudClient

__all__ = ["FlowRef", "load_flows", "resolve_flow", "use_clients"]


class FlowRef(StrEnum):
    """The flows a kernel can start (value: ``module:function`` inside ``flows``)."""

    BOOT_SERVER = "boot:boot_server"
    CREATE_SNAPSHOT = "snapshot:create_snapshot"
    DELETE_SNAPSHOTS = "delete:delete_snapshots"
    COPY_IMAGE = "copy:copy_image"
    CLEANUP_SNAPSHOTS = "scheduled:cleanup_snapshots"
    NIGHTLY_SNAPSHOTS = "scheduled:nightly_snapshots"
    STOP_SERVER = "servers:stop_server"
    START_SERVER = "servers:start_server"
    REBOOT_SERVER = "servers:reboot_server"
    DELETE_SERVER = "servers:delete_server"

    def resolve(self) -> Callable[..., object]:
        """The flow function this reference names (imports ``flows`` and Prefect on first use).

        Raises:
            ImportError: The installed ``flows`` package is not denbi-jupyter's.
        """
        load_flows()
        module_name, _, name = self.value.partition(":")
        function: Callable[..., object] = getattr(
            importlib.import_module(f"flows.{module_name}"), name
        )
        return function


def resolve_flow(flow: FlowRef | Callable[..., object]) -> Callable[..., object]:
    """``flow`` itself when it is callable, else the function its :class:`FlowRef` names."""
    if isinstance(flow, FlowRef):
        return flow.resolve()
    if not callable(flow):
        raise TypeError(f"{flow!r} is not a flow")
    return flow


def load_flows() -> ModuleType:
    """Import ``flows`` and make sure it is denbi-jupyter's, not another distribution's.

    Raises:
        ImportError: The ``flows`` package found on ``sys.path`` lacks our marker.
    """
    module = importlib.import_module("flows")
    if getattr(module, "__denbi_jupyter__", None) is not True:
        where = getattr(module, "__file__", None) or "an unknown place"
        raise ImportError(
            f"The 'flows' package imported from {where} is not denbi-jupyter's; another "
            "installed distribution provides a top-level 'flows'. Uninstall it or put "
            "denbi-jupyter first on sys.path."
        )
    return module


def use_clients(source: Callable[[str], CloudClient]) -> AbstractContextManager[None]:
    """Let flows submitted inside this block open sites through ``source(site)``.

    The guarded door to :func:`flows.use_clients` for code that must not import ``flows``
    itself (panels): a job copies the caller's context at submit, so the flows it runs use
    ``source``.
    """
    flows = load_flows()
    manager: AbstractContextManager[None] = flows.use_clients(source)
    return manager
