"""denbi-jupyter: de.NBI Cloud images, snapshots and VMs from JupyterLab, on Prefect flows.

Importing the package is cheap: openstacksdk, Prefect and ipywidgets load only when a name
that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from denbi_jupyter.errors import (
    AuthenticationError,
    CloudUnavailableError,
    ConflictError,
    DenbiError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
    QuotaExceededError,
    UserInputError,
)

if TYPE_CHECKING:
    from denbi_jupyter.cloud import list_sites, open_site
    from denbi_jupyter.jobs import JobRunner
    from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig
    from denbi_jupyter.panels import (
        CloudPanel,
        ConnectionPanel,
        ImagePanel,
        SnapshotPanel,
        open_sidebar,
    )

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "CloudPanel": "denbi_jupyter.panels",
    "ConnectionPanel": "denbi_jupyter.panels",
    "ImagePanel": "denbi_jupyter.panels",
    "JobRunner": "denbi_jupyter.jobs",
    "LocalCloud": "denbi_jupyter.localcloud",
    "LocalCloudConfig": "denbi_jupyter.localcloud",
    "SnapshotPanel": "denbi_jupyter.panels",
    "list_sites": "denbi_jupyter.cloud",
    "open_sidebar": "denbi_jupyter.panels",
    "open_site": "denbi_jupyter.cloud",
}

__all__ = [
    "AuthenticationError",
    "CloudPanel",
    "CloudUnavailableError",
    "ConflictError",
    "ConnectionPanel",
    "DenbiError",
    "ImagePanel",
    "JobRunner",
    "LocalCloud",
    "LocalCloudConfig",
    "NotFoundError",
    "OperationFailedError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "SnapshotPanel",
    "UserInputError",
    "__version__",
    "list_sites",
    "open_sidebar",
    "open_site",
]


def __getattr__(name: str) -> Any:
    """Import the heavy parts of the public API on first use."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'denbi_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
