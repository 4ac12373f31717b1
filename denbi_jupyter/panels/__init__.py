"""ipywidgets panels for JupyterLab: images, servers, snapshots, connections, all in tabs.

Each panel is a widget (a ``VBox``): put it last in a cell to show it, or call
:func:`open_sidebar` to show :class:`CloudPanel` in JupyterLab's side area. Panels take a
:class:`~denbi_jupyter.cloud.protocol.CloudClient`, or a factory that opens one by site name,
and never call the cloud on the kernel's thread.
"""

from __future__ import annotations

from denbi_jupyter.panels._background import ActivityLog
from denbi_jupyter.panels._base import Shared
from denbi_jupyter.panels._sites import SiteClients
from denbi_jupyter.panels.cloud_panel import CloudPanel
from denbi_jupyter.panels.connection import ConnectionCard, ConnectionPanel
from denbi_jupyter.panels.images import ImagePanel
from denbi_jupyter.panels.jobs_view import JobCard, JobList
from denbi_jupyter.panels.keypairs import KeyPairPanel
from denbi_jupyter.panels.servers import ServersPanel
from denbi_jupyter.panels.sidebar import open_sidebar
from denbi_jupyter.panels.snapshots import SnapshotPanel

__all__ = [
    "ActivityLog",
    "CloudPanel",
    "ConnectionCard",
    "ConnectionPanel",
    "ImagePanel",
    "JobCard",
    "JobList",
    "KeyPairPanel",
    "ServersPanel",
    "Shared",
    "SiteClients",
    "SnapshotPanel",
    "open_sidebar",
]
