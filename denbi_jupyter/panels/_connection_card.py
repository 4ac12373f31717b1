"""How to reach one VM: SSH command and config, X2Go session file, Guacamole link, live badge.

What to show is computed once, by :func:`denbi_jupyter.connect.details.connection_details`;
this module only lays it out. Probing a port is local work: it never opens a site.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Image, Server, SiteSettings
from denbi_jupyter.connect import ConnectionInfo, ProbeResult, probe_tcp, ssh_alias
from denbi_jupyter.connect.details import ConnectionDetails, connection_details
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._html import Tone, badge, esc, notice, status_tone, title
from denbi_jupyter.panels._sites import ClientSource

__all__ = ["ConnectionCard", "Prober"]

#: Checks whether ``host:port`` accepts TCP connections.
Prober = Callable[[str, int], ProbeResult]

_DEFAULT_PROBE: Prober = functools.partial(probe_tcp, timeout=3.0)
_BUTTON = w.Layout(width="auto")


@dataclass(frozen=True, slots=True)
class _Target:
    """A server with what the card needs to describe it."""

    server: Server
    image: Image | None
    site: SiteSettings


class ConnectionCard(Panel):
    """Connection details of one server.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a parent panel.
        sites: Site names to offer with a factory.
        site: The server's site.
        server_id: The server to show; empty shows an empty state.
        key_path: Private key path to put into the SSH command and config.
        probe: Reachability check; defaults to a 3-second TCP connect.
    """

    server_id = t.Unicode("").tag(sync=False)
    key_path = t.Unicode(None, allow_none=True).tag(sync=False)
    target = t.Any(None).tag(sync=False)
    #: What the card shows (None while there is no target or it cannot be reached).
    details = t.Any(None).tag(sync=False)
    #: Why the VM cannot be reached (no address yet, no gateway settings), when it cannot.
    unreachable = t.Unicode("").tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    probe_result = t.Any(None).tag(sync=False)
    probing = t.Bool(False).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        server_id: str = "",
        key_path: str | None = None,
        probe: Prober | None = None,
    ) -> None:
        self._probe = probe or _DEFAULT_PROBE
        self._head = w.HTML()
        self._status = w.HTML()
        self._ssh_command = w.Textarea(
            rows=1, layout=w.Layout(width="100%"), description="SSH command"
        )
        self._ssh_config = w.Textarea(
            rows=5, layout=w.Layout(width="100%"), description="~/.ssh/config"
        )
        for area in (self._ssh_command, self._ssh_config):
            area.style.description_width = "110px"
            area.add_class("denbi-copyable")
        self._reach = w.HTML()
        self._recheck = w.Button(
            description="Check again", icon="refresh", layout=_BUTTON, tooltip="Probe the port"
        )
        self._recheck.on_click(self._guard(lambda _b: self.check_reachability()))
        self._links = w.HTML()
        self._details = w.VBox(
            [
                self._ssh_command,
                self._ssh_config,
                w.HBox([self._reach, self._recheck], layout=w.Layout(align_items="center")),
                self._links,
            ]
        )
        super().__init__(
            source,
            sites=sites,
            site=site,
            layout=w.Layout(border="1px solid #dee2e6", padding="8px 12px", margin="4px 0"),
        )
        self.add_class("denbi-connection-card")
        self._layout([self._head, self._error_box, self._status, self._details])
        self.key_path = key_path
        self.server_id = server_id
        self._render()

    # --- state changes -----------------------------------------------------------------
    @t.observe("server_id", "site")
    def _on_target_change(self, _change: dict[str, Any]) -> None:
        self.target = None
        self.error = ""
        if self.server_id:
            self.reload()
        else:  # an answer about the previous server must not land on the empty card
            self._cancel("server", busy="loading")

    @t.observe("target", "key_path")
    def _on_target_loaded(self, _change: dict[str, Any]) -> None:
        target: _Target | None = self.target
        details, reason = None, ""
        if target is not None:
            try:
                details = connection_details(
                    target.site, target.server, target.image, key_path=self.key_path
                )
            except UserInputError as exc:
                reason = describe_error(exc)
        self.unreachable = reason
        if details != self.details:
            self.details = details
            self.check_reachability()

    def reload(self) -> None:
        """Fetch the server (and its image) again."""
        server_id = self.server_id

        def fetch(client: CloudClient) -> _Target | None:
            server = client.get_server(server_id)
            if server is None:
                return None
            image = client.desktop_image(server.image_id) if server.image_id else None
            return _Target(server=server, image=image, site=client.site)

        def apply(target: _Target | None) -> None:
            if target is None:
                self.error = (
                    f"Server {server_id} no longer exists on {self.site}; choose another VM."
                )
            self.target = target

        self._call("server", fetch, apply, busy="loading")

    def check_reachability(self) -> None:
        """Probe the VM's SSH port in the background (no cloud call: works without Keystone)."""
        details: ConnectionDetails | None = self.details
        self.probe_result = None
        if details is None:
            self._cancel("probe", busy="probing")
            return
        probe, host, port = self._probe, details.host, details.port
        self._run_local("probe", lambda: probe(host, port), self._set_probe, busy="probing")

    def _set_probe(self, result: ProbeResult) -> None:
        self.probe_result = result

    def connection_info(self) -> ConnectionInfo:
        """The SSH connection of the shown server.

        Raises:
            UserInputError: No server, no address yet, or the site lacks gateway settings.
        """
        details: ConnectionDetails | None = self.details
        if details is not None:
            return details.info
        raise UserInputError(self.unreachable or "No VM is chosen; pick one to see how to connect.")

    # --- view -------------------------------------------------------------------------------
    @t.observe("details", "unreachable", "loading", "probe_result", "probing", "error")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        target: _Target | None = self.target
        details: ConnectionDetails | None = self.details
        self._details.layout.display = "none" if details is None else ""
        if target is None:
            self._head.value = title("Connection")
            if self.loading:
                self._status.value = notice("Loading the VM…", Tone.BUSY)
            elif not self.server_id:
                self._status.value = notice("Choose a VM to see how to connect to it.", Tone.MUTED)
            else:
                self._status.value = ""
            return
        server = target.server
        self._head.value = (
            title(server.name, sub=f"{server.flavor_name or ''} · {server.private_ipv4 or ''}")
            + badge(server.status, status_tone(server.status))
            + (badge(server.task_state, Tone.BUSY) if server.task_state else "")
        )
        if details is None:
            self._status.value = notice(self.unreachable, Tone.WARN) if self.unreachable else ""
            return
        self._status.value = ""
        self._ssh_command.value = details.ssh_command
        self._ssh_config.value = details.ssh_config
        self._reach.value = self._reach_html(details)
        self._recheck.disabled = self.probing
        self._links.value = _links_html(details, server.name)

    def _reach_html(self, details: ConnectionDetails) -> str:
        where = f"port {details.port} on {details.host}"
        result: ProbeResult | None = self.probe_result
        if self.probing or result is None:
            return badge(f"checking {where}…", Tone.BUSY)
        if result.reachable:
            latency = f" ({result.latency_ms:.0f} ms)" if result.latency_ms is not None else ""
            return badge(f"port {details.port} reachable{latency}", Tone.OK, tooltip=where)
        reason = result.error or "no answer"
        return badge(f"port {details.port} not reachable: {reason}", Tone.ERROR, tooltip=where)


def _links_html(details: ConnectionDetails, server_name: str) -> str:
    parts: list[str] = []
    if details.x2go_session is not None and details.x2go_session_type is not None:
        data = base64.b64encode(details.x2go_session.encode("utf-8")).decode("ascii")
        filename = f"{ssh_alias(server_name)}.x2go-session.ini"
        parts.append(
            f'<a class="denbi-x2go-download" download="{esc(filename)}" '
            f'href="data:text/plain;charset=utf-8;base64,{data}" '
            'style="display:inline-block;padding:3px 10px;margin:2px 6px 2px 0;'
            "border:1px solid #0d6efd;border-radius:4px;color:#0d6efd;"
            f'text-decoration:none">⬇ X2Go session file ({esc(details.x2go_session_type.value)})'
            '</a><span style="color:#6c757d;font-size:12px">Import it in X2Go Client: '
            "Session → Import.</span>"
        )
    if details.guacamole_url:
        parts.append(
            f'<a class="denbi-guacamole-link" href="{esc(details.guacamole_url)}" '
            'target="_blank" rel="noopener" style="display:inline-block;padding:3px 10px;'
            "margin:2px 0;border:1px solid #198754;border-radius:4px;color:#198754;"
            'text-decoration:none">Open Guacamole desktop ↗</a>'
        )
    if not parts:
        parts.append(
            '<span style="color:#6c757d;font-size:12px">No desktop on this image: '
            "connect with SSH.</span>"
        )
    return "<div>" + "<br>".join(parts) + "</div>"
