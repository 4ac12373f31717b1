"""The demo lab's first settings and layout: written into the lab's own temporary folders.

:func:`write_lab_settings` starts kernels without asking and fetches no news (optionally opening
the de.NBI panel); :func:`write_workspace` opens the main notebook with the panel on the left,
wide enough for its tables.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["PANEL_ID", "write_lab_settings", "write_workspace"]

#: The id of the front-end's panel in JupyterLab's left area.
PANEL_ID = "denbi-cloud-panel"

#: Lab settings of the demo: start the kernel without asking, fetch no news from the internet.
_LAB_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


#: Lab settings that open the front-end's de.NBI panel when the lab starts.
_PANEL_SETTINGS: dict[str, dict[str, object]] = {"denbi-jupyter/plugin": {"openOnStart": True}}


def write_lab_settings(folder: Path, *, open_panel: bool = False) -> None:
    """The settings files of the lab's user settings ``folder``."""
    settings = {**_LAB_SETTINGS, **(_PANEL_SETTINGS if open_panel else {})}
    for plugin, values in settings.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


#: Widths of the left, main and right areas in the demo's first layout.
_DEMO_SPLIT = (0.42, 0.58, 0.0)


def write_workspace(folder: Path, *, notebook: str) -> None:
    """The default workspace: ``notebook`` in the main area, our panel shown on the left."""
    from jupyterlab_server.workspaces_handler import WORKSPACE_EXTENSION, slugify

    widget = f"notebook:{notebook}"
    data = {
        "data": {
            "layout-restorer:data": {
                "main": {
                    "dock": {"type": "tab-area", "currentIndex": 0, "widgets": [widget]},
                    "current": widget,
                },
                "left": {
                    "collapsed": False,
                    "visible": True,
                    "current": PANEL_ID,
                    "widgets": ["filebrowser", "running-sessions", PANEL_ID],
                },
                # Left area, main area, right area: the panel needs room for its table.
                "relativeSizes": list(_DEMO_SPLIT),
            },
            widget: {"data": {"path": notebook, "factory": "Notebook"}},
        },
        "metadata": {"id": "default"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slugify('default')}{WORKSPACE_EXTENSION}").write_text(json.dumps(data, indent=2))
