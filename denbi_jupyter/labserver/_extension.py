"""Wiring at lab start: decide about Prefect, export ``PREFECT_API_URL``, add the handlers."""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import url_path_join

from denbi_jupyter._urls import public_url
from denbi_jupyter.labserver._paths import URL_PREFIX, prefect_state_dir
from denbi_jupyter.labserver._settings import start_prefect
from denbi_jupyter.labserver._supervisor import LabPrefect

__all__ = ["load", "package_version", "public_url"]


def package_version() -> str:
    """The installed denbi-jupyter's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("denbi-jupyter")
    except PackageNotFoundError:
        from denbi_jupyter import __version__

        return __version__


def load(serverapp: Any) -> None:
    """Set up Prefect for the lab (see the package docstring) and register the handlers."""
    base_url: str = serverapp.base_url
    prefix = url_path_join(base_url, URL_PREFIX)
    proxy_path = url_path_join(prefix, "prefect")
    external = os.environ.get("PREFECT_API_URL", "")
    prefect: LabPrefect | None = None
    if external:
        serverapp.log.info("denbi-jupyter: using PREFECT_API_URL %s", public_url(external))
    elif start_prefect(serverapp):
        prefect = LabPrefect(state_dir=prefect_state_dir(), base_path=proxy_path)
        os.environ["PREFECT_API_URL"] = prefect.begin()
        serverapp.log.info(
            "denbi-jupyter: Prefect UI at %s/ (API %s)", proxy_path, os.environ["PREFECT_API_URL"]
        )
    else:
        serverapp.log.info("denbi-jupyter: starting Prefect is switched off (startPrefect)")
    _add_handlers(
        serverapp, prefix=prefix, proxy_path=proxy_path, prefect=prefect, external=external
    )


def _add_handlers(
    serverapp: Any, *, prefix: str, proxy_path: str, prefect: LabPrefect | None, external: str
) -> None:
    from jupyter_server_proxy.handlers import AddSlashHandler  # type: ignore[import-untyped]

    from denbi_jupyter.labserver._handlers import NotebookHandler, StatusHandler
    from denbi_jupyter.labserver._proxy import PrefectProxyHandler

    status = {
        "version": package_version(),
        "prefect": prefect,
        "external_url": public_url(external) if external else "",
        "ui_path": f"{proxy_path}/",
    }
    handlers: list[tuple[str, type, dict[str, Any]]] = [
        (url_path_join(prefix, "status"), StatusHandler, status),
        (url_path_join(prefix, "notebook"), NotebookHandler, {}),
    ]
    if prefect is not None:
        proxy_base = proxy_path.removeprefix(serverapp.base_url.rstrip("/")).lstrip("/")
        handlers += [
            (proxy_path, AddSlashHandler, {}),
            (
                proxy_path + "/(.*)",
                PrefectProxyHandler,
                {"prefect": prefect, "proxy_base": proxy_base, "absolute_url": True},
            ),
        ]
    serverapp.web_app.add_handlers(".*$", handlers)
