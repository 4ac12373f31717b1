"""The REST endpoints the front-end calls: the extension's status, and the main notebook."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from tornado import web

from denbi_jupyter.labserver._paths import MAIN_NOTEBOOK, notebook_source
from denbi_jupyter.labserver._supervisor import LabPrefect, PrefectState

__all__ = ["NotebookHandler", "StatusHandler", "status_answer"]


def status_answer(
    *, version: str, prefect: LabPrefect | None, external_url: str, ui_path: str
) -> dict[str, Any]:
    """The JSON of ``GET denbi-jupyter/status`` (no credentials: URLs lose their user info)."""
    if prefect is None:
        state = PrefectState.EXTERNAL if external_url else PrefectState.DISABLED
        return {
            "version": version,
            "prefect": {
                "state": state.value,
                "ui_path": None,
                "api_url": external_url,
                "error": "",
            },
        }
    status = prefect.status
    return {
        "version": version,
        "prefect": {
            "state": status.state.value,
            "ui_path": ui_path,
            "api_url": status.api_url,
            "error": status.error,
        },
    }


class StatusHandler(APIHandler):
    """``GET <base_url>denbi-jupyter/status``."""

    def initialize(
        self, *, version: str, prefect: LabPrefect | None, external_url: str, ui_path: str
    ) -> None:
        """Tornado's hook: what the answer is made of."""
        self._version = version
        self._prefect = prefect
        self._external_url = external_url
        self._ui_path = ui_path

    @web.authenticated
    def get(self) -> None:
        """The extension's version and where the lab's Prefect server is."""
        answer = status_answer(
            version=self._version,
            prefect=self._prefect,
            external_url=self._external_url,
            ui_path=self._ui_path,
        )
        self.finish(json.dumps(answer))


class NotebookHandler(APIHandler):
    """``POST <base_url>denbi-jupyter/notebook``: the main notebook into the root, never twice."""

    @web.authenticated
    async def post(self) -> None:
        """Copy the shipped main notebook to the root unless a file of that name is there."""
        manager: Any = self.contents_manager  # untyped in jupyter_server
        if await ensure_async(manager.file_exists(MAIN_NOTEBOOK)):
            self.finish(json.dumps({"path": MAIN_NOTEBOOK, "created": False}))
            return
        source = notebook_source()
        if source is None:
            raise web.HTTPError(500, f"{MAIN_NOTEBOOK} is not installed with denbi-jupyter.")
        import nbformat

        notebook = nbformat.read(source, as_version=nbformat.NO_CONVERT)  # type: ignore[no-untyped-call]
        model = {"type": "notebook", "format": "json", "content": notebook}
        await ensure_async(manager.save(model, MAIN_NOTEBOOK))
        self.set_status(201)
        self.finish(json.dumps({"path": MAIN_NOTEBOOK, "created": True}))
