"""The Jupyter server extension of denbi-jupyter: Prefect for the lab, its UI, two endpoints.

Enable it as ``denbi_jupyter.labserver`` (``ServerApp.jpserver_extensions``). When the lab
starts, it finds or starts the user's one Prefect server (or uses ``PREFECT_API_URL`` when set),
the same one the user's commands use (:mod:`denbi_jupyter.user_prefect`), and exports
``PREFECT_API_URL`` to the kernels and terminals the lab starts; it serves the Prefect UI under
``<base_url>denbi-jupyter/prefect/`` (HTTP and websockets, lab-authenticated), and answers
``GET <base_url>denbi-jupyter/status`` and ``POST <base_url>denbi-jupyter/notebook``.

Importing this package is cheap: the server side loads when the lab loads the extension.
Environment variables it honours:

``PREFECT_API_URL``
    Use this Prefect API; start nothing (state ``external``).
``DENBI_JUPYTER_PREFECT_HOME``
    The folder of the lab's Prefect server (state file, SQLite, UI bundles) instead of
    ``<jupyter_data_dir>/denbi-jupyter/prefect`` (the demo and tests use their own).
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The extension point Jupyter server loads: this module."""
    return [{"module": "denbi_jupyter.labserver"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Set up Prefect for the lab and register the handlers (called by Jupyter server)."""
    from denbi_jupyter.labserver._extension import load

    load(serverapp)
