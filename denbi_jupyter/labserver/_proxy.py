"""The Prefect UI and API under the lab's URL: ``<base_url>denbi-jupyter/prefect/…``.

A :class:`jupyter_server_proxy.handlers.ProxyHandler` (HTTP and websockets, every request
authenticated by the lab) with ``absolute_url`` semantics: the Prefect server serves under the
same path, so the full path is forwarded unchanged. The port comes from the lab's
:class:`~denbi_jupyter.labserver._supervisor.LabPrefect` on each request. A server the lab
shares but did not start may serve another path (see the supervisor): the lab's prefix is then
replaced by the server's.
"""

from __future__ import annotations

from typing import Any

from jupyter_server_proxy.handlers import ProxyHandler  # type: ignore[import-untyped]
from tornado import web

from denbi_jupyter.labserver._supervisor import LabPrefect, PrefectState

__all__ = ["PrefectProxyHandler"]

_HOST = "127.0.0.1"
#: Request headers that stay with the lab: its token and cookies are not Prefect's business.
_PRIVATE_HEADERS = ("Authorization", "Cookie")


class PrefectProxyHandler(ProxyHandler):  # type: ignore[misc]  # jupyter-server-proxy is untyped
    """Forwards ``<base_url>denbi-jupyter/prefect/<path>`` to the lab's Prefect server."""

    def initialize(self, *, prefect: LabPrefect, proxy_base: str) -> None:
        """Tornado's hook: the lab's Prefect server and our path below ``base_url``."""
        self.prefect = prefect
        self.proxy_base = proxy_base

    def _port(self) -> int:
        status = self.prefect.status
        if status.port is None or status.state in (PrefectState.DISABLED, PrefectState.EXTERNAL):
            raise web.HTTPError(404, "This lab does not serve a Prefect server.")
        if status.state is PrefectState.FAILED:
            raise web.HTTPError(502, "The lab's Prefect server failed to start.")
        if status.state is PrefectState.STARTING:
            self.set_header("Retry-After", "5")
            raise web.HTTPError(503, "The Prefect server is starting; reload in a few seconds.")
        return status.port

    def _path(self, path: str) -> str:
        return "/" + path

    def _get_context_path(self, host: str, port: int) -> str:
        """The server's own base path (jupyter-server-proxy prefixes the request path with it)."""
        served = self.prefect.status.base_path
        return served or str(super()._get_context_path(host, port))

    def proxy_request_headers(self) -> Any:
        """The browser's headers without the lab's credentials."""
        headers = super().proxy_request_headers()
        for name in _PRIVATE_HEADERS:
            if name in headers:
                del headers[name]
        return headers

    async def http_get(self, path: str) -> Any:
        """A plain GET."""
        return await self.proxy(_HOST, self._port(), self._path(path))

    async def open(self, path: str) -> Any:
        """A websocket (Prefect's events and logs)."""
        return await self.proxy_open(_HOST, self._port(), self._path(path))

    def _forward(self, path: str) -> Any:
        """Any other method, as it came."""
        return self.proxy(_HOST, self._port(), self._path(path))

    post = put = delete = head = patch = options = _forward
