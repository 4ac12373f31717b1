"""How to reach one VM: each way in with its readiness, SSH command and config, X2Go, Guacamole.

What to show is computed once, by :func:`denbi_jupyter.connect.details.connection_details`, and
how far each way in is by :func:`denbi_jupyter.connect.readiness.ways_in`; this module lays it
out and runs the checks in the background: a TCP probe of the gateway port and, when the key
file is known, a real SSH login with it (:func:`~denbi_jupyter.connect.check_ssh_login`).
Both are local work: they never open a site. "Check again" reloads the VM and checks again.

Layout: nothing is wider than the card. The text boxes take the card's width (``auto`` in a
column, never ``100%`` plus margins) with their labels above them, and rows wrap, so the card
fits a ~350 px side area.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Image, Server, SiteSettings
from denbi_jupyter.connect import (
    Checks,
    ConnectionInfo,
    LoginResult,
    ProbeResult,
    Readiness,
    WayInStatus,
    check_ssh_login,
    probe_tcp,
    ssh_alias,
    ways_in,
)
from denbi_jupyter.connect.details import ConnectionDetails, connection_details
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._html import Tone, badge, copy_button, esc, notice, status_tone, title
from denbi_jupyter.panels._sites import ClientSource

__all__ = ["Clock", "ConnectionCard", "LoginCheck", "Prober"]

#: Checks whether ``host:port`` accepts TCP connections.
Prober = Callable[[str, int], ProbeResult]
#: Logs in to ``host:port`` as ``user`` with the private key file ``key_path``.
LoginCheck = Callable[[str, int, str, str], LoginResult]
#: The current time, timezone-aware.
Clock = Callable[[], dt.datetime]

_DEFAULT_PROBE: Prober = functools.partial(probe_tcp, timeout=3.0)
_BUTTON = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
#: Characters of the SSH command per text row at the side area's width (the box wraps it).
_CHARS_PER_ROW = 42
#: Longest pause between two probes of a VM whose SSH server is still coming up.
_MAX_REPROBE_S = 15.0
_TONES = {
    Readiness.READY: Tone.OK,
    Readiness.CHECKING: Tone.BUSY,
    Readiness.NOT_YET: Tone.WARN,
    Readiness.FAILED: Tone.ERROR,
    Readiness.UNKNOWN: Tone.MUTED,
}


def _default_login(host: str, port: int, user: str, key_path: str) -> LoginResult:
    return check_ssh_login(host, port, user=user, key_path=key_path, timeout=8.0)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fitting(**extra: str) -> w.Layout:
    """A layout that never makes its widget wider than its container."""
    return w.Layout(width="auto", max_width="100%", min_width="0", **extra)


@dataclass(frozen=True, slots=True)
class _Target:
    """A server with what the card needs to describe it."""

    server: Server
    image: Image | None
    site: SiteSettings


class ConnectionCard(Panel):
    """Connection details of one server, each way in with its readiness.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a parent panel.
        sites: Site names to offer with a factory.
        site: The server's site.
        server_id: The server to show; empty shows an empty state.
        key_path: Private key path to put into the SSH command and config, and to check.
        probe: Reachability check; defaults to a 3-second TCP connect.
        login_check: Key check ``(host, port, user, key_path)``; defaults to a real SSH login
            (8-second bound).
        clock: The current time (for Guacamole's start-up time); the system's by default.
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
    login_result = t.Any(None).tag(sync=False)
    checking_key = t.Bool(False).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        server_id: str = "",
        key_path: str | None = None,
        probe: Prober | None = None,
        login_check: LoginCheck | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._probe = probe or _DEFAULT_PROBE
        self._login_check = login_check or _default_login
        self._clock = clock or _utc_now
        self._seen_inactive: set[str] = set()  # servers this card saw not ACTIVE
        self._started: dict[str, dt.datetime] = {}  # … and when it then saw them ACTIVE
        self._reprobes = 0
        self._head = w.HTML(layout=_fitting())
        self._status = w.HTML(layout=_fitting())
        self._reach = w.HTML(layout=_fitting())
        self._recheck = w.Button(
            description="Check again", icon="refresh", layout=_BUTTON,
            tooltip="Reload the VM, probe its port and try the key again",
        )  # fmt: skip
        self._recheck.on_click(self._guard(lambda _b: self.check_again()))
        self._ssh_label = w.HTML(layout=_fitting())
        self._ssh_command = w.Textarea(rows=1, layout=_fitting())
        self._config_label = w.HTML(layout=_fitting())
        self._ssh_config = w.Textarea(rows=5, layout=_fitting())
        for area in (self._ssh_command, self._ssh_config):
            area.add_class("denbi-copyable")
        self._links = w.HTML(layout=_fitting())
        self._details = w.VBox(
            [
                self._reach,
                w.HBox([self._recheck], layout=_fitting(flex_flow="row wrap")),
                self._ssh_label,
                self._ssh_command,
                self._config_label,
                self._ssh_config,
                self._links,
            ],
            layout=_fitting(),
        )
        super().__init__(
            source,
            sites=sites,
            site=site,
            layout=_fitting(border="1px solid #dee2e6", padding="8px 12px", margin="4px 0"),
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
            self._note_start(target.server)
            try:
                details = connection_details(
                    target.site, target.server, target.image, key_path=self.key_path
                )
            except UserInputError as exc:
                reason = describe_error(exc)
        self.unreachable = reason
        self.details = details
        self.check_reachability()

    def reload(self) -> None:
        """Fetch the server (and its image) again; checks again when it has not changed."""
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
            if target is not None and target == self.target:
                self.check_reachability()  # the observer only runs on a change
            self.target = target

        self._call("server", fetch, apply, busy="loading")

    def _note_start(self, server: Server) -> None:
        if server.status.upper() != "ACTIVE":
            self._seen_inactive.add(server.id)
            self._started.pop(server.id, None)
        elif server.id in self._seen_inactive and server.id not in self._started:
            self._started[server.id] = self._clock()

    def check_again(self) -> None:
        """What "Check again" does: reload the VM (its state may have changed) and check."""
        if self.server_id:
            self.reload()

    def check_reachability(self) -> None:
        """Probe the SSH port, then try the key, in the background (no cloud call)."""
        details: ConnectionDetails | None = self.details
        target: _Target | None = self.target
        self.probe_result = None
        self.login_result = None
        self._cancel("login", busy="checking_key")
        if details is None or target is None or target.server.status.upper() != "ACTIVE":
            self._cancel("probe", busy="probing")  # nothing answers before the VM is ACTIVE
            return
        self._reprobes = 0
        probe, host, port = self._probe, details.host, details.port
        self._run_local("probe", lambda: probe(host, port), self._on_probe(details), busy="probing")

    def _probe_later(self, details: ConnectionDetails) -> None:
        """Probe again after a back-off (1, 2, 4 … 15 s) while SSH is "not yet" ready."""
        delay = min(2.0**self._reprobes, _MAX_REPROBE_S)
        self._reprobes += 1
        probe, host, port = self._probe, details.host, details.port
        self._run_local("probe", lambda: probe(host, port), self._on_probe(details), delay=delay)

    def _on_probe(self, details: ConnectionDetails) -> Callable[[ProbeResult], None]:
        def apply(result: ProbeResult) -> None:
            self.probe_result = result
            key_path = details.info.key_path
            if not result.reachable:
                ways = self.ways_in()
                if ways and ways[0].readiness is Readiness.NOT_YET and self.details == details:
                    self._probe_later(details)
                return
            if key_path is None:
                return
            check, info = self._login_check, details.info
            self._run_local(
                "login",
                lambda: check(info.host, info.port, info.user, key_path),
                self._set_login,
                busy="checking_key",
            )

        return apply

    def _set_login(self, result: LoginResult) -> None:
        self.login_result = result

    def connection_info(self) -> ConnectionInfo:
        """The SSH connection of the shown server.

        Raises:
            UserInputError: No server, no address yet, or the site lacks gateway settings.
        """
        details: ConnectionDetails | None = self.details
        if details is not None:
            return details.info
        raise UserInputError(self.unreachable or "No VM is chosen; pick one to see how to connect.")

    def ways_in(self) -> tuple[WayInStatus, ...]:
        """Each way into the shown VM with its readiness now; empty without details."""
        details: ConnectionDetails | None = self.details
        target: _Target | None = self.target
        if details is None or target is None:
            return ()
        checks = Checks(
            port=None if self.probing else self.probe_result,
            login=None if self.checking_key else self.login_result,
            key_known=details.info.key_path is not None,
            started=self._started.get(target.server.id),
        )
        return ways_in(details, target.server, checks, now=self._clock())

    # --- view -------------------------------------------------------------------------------
    @t.observe(
        "details", "unreachable", "loading", "probe_result", "probing", "login_result",
        "checking_key", "error",
    )  # fmt: skip
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
        self._ssh_command.rows = 1 + len(details.ssh_command) // _CHARS_PER_ROW
        self._ssh_config.value = details.ssh_config
        self._ssh_config.rows = details.ssh_config.count("\n") + 1
        self._ssh_label.value = _field_label("SSH command", details.ssh_command, "the command")
        self._config_label.value = _field_label(
            "~/.ssh/config", details.ssh_config, "the block for ~/.ssh/config"
        )
        self._reach.value = _ways_html(self.ways_in(), details)
        self._recheck.disabled = self.loading or self.probing or self.checking_key
        self._links.value = _links_html(details, server.name)


def _field_label(label: str, text: str, what: str) -> str:
    """A text box's label above it, with a button that copies the box's text (``what``)."""
    return (
        '<div style="display:flex;flex-wrap:wrap;align-items:center;gap:4px;margin-top:4px">'
        f'<span style="font-size:12px;font-weight:600">{esc(label)}</span>'
        + copy_button(text, tooltip=f"Copy {what} to the clipboard")
        + "</div>"
    )


def _ways_html(ways: Sequence[WayInStatus], details: ConnectionDetails) -> str:
    """One line per way in: its name, a readiness badge and the reason (wrapping)."""
    lines = [
        '<div class="denbi-way-in" style="margin:2px 0;overflow-wrap:anywhere">'
        f'<b style="display:inline-block;min-width:72px">{esc(way.way.value)}</b>'
        + badge(
            way.readiness.value, _TONES[way.readiness], tooltip=f"{details.host}:{details.port}"
        )
        + (f'<span style="font-size:12px">{esc(way.reason)}</span>' if way.reason else "")
        + "</div>"
        for way in ways
    ]
    return "<div>" + "".join(lines) + "</div>"


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
    parts += [
        f'<span class="denbi-way-problem" style="color:#842029;font-size:12px">{esc(problem)}'
        "</span>"
        for problem in details.problems
    ]
    if not parts:
        parts.append(
            '<span style="color:#6c757d;font-size:12px">No desktop on this image: '
            "connect with SSH.</span>"
        )
    return "<div>" + "<br>".join(parts) + "</div>"
