"""The create-snapshot form: pick a VM, name the snapshot, see the pre-flight, start the flow.

A component with its own traits (VM, name, the pre-flight's answer) and one render; the widgets
are bound to the traits. Pre-flight checks run (debounced, in the background) as the user types;
:meth:`CreateSnapshotForm.on_created` reports the new snapshot's id when its job has ended.
The suggested name follows the chosen VM until the user types a name of their own. Where the
pre-flight says "stop it first", a Stop button starts the stop flow as a job. Whenever a job of
the panel's list ends (a stop, a snapshot, a VM started from a snapshot), the form fetches the
VMs again, and a VM whose state changed gets a fresh pre-flight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import ServerActionResult, SnapshotResult
from denbi_jupyter.cloud.rules.servers import ServerAction, action_refusal
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._flows import (
    SERVER_ACTION_FLOWS,
    FlowRef,
    preflight,
    server_action_parameters,
)
from denbi_jupyter.panels._html import Tone, badge, esc, notice, title
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job

__all__ = ["CreateSnapshotForm"]

_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
_FIELD = {"width": "460px", "max_width": "100%"}


class CreateSnapshotForm(Panel):
    """Create a snapshot of one of the project's VMs.

    Args:
        shared: The shared state of the parent panel.
        site: The VMs' site.
        jobs: Where the snapshot job's card goes.
    """

    servers: t.List[Any] = t.List().tag(sync=False)
    server_id = t.Unicode("").tag(sync=False)
    name = t.Unicode("").tag(sync=False)
    preflight = t.Any(None).tag(sync=False)
    preflighting = t.Bool(False).tag(sync=False)
    creating = t.Bool(False).tag(sync=False)
    create_error = t.Unicode("").tag(sync=False)
    #: The id of the VM a Stop job (started here) is stopping, until the VM list shows it.
    stopping = t.Unicode("").tag(sync=False)

    def __init__(self, shared: Shared, *, site: str, jobs: JobList) -> None:
        self._jobs = jobs
        self._created = w.CallbackDispatcher()
        self._suggested = ""  # the name this form suggested last (replaced on a new VM)
        self._stop_job: Job | None = None  # a stop job started here that has ended
        self._server = w.Dropdown(description="VM", options=[], layout=w.Layout(**_FIELD))
        self._name = w.Text(
            description="Name",
            placeholder="e.g. rnaseq-vm-2026-06-10",
            layout=w.Layout(**_FIELD),
        )
        size_fields(self._server, self._name)
        self._preflight_html = w.HTML()
        self._stop = w.Button(
            description="Stop VM",
            icon="stop",
            button_style="warning",
            tooltip="Stop the VM (a job below shows its progress), then snapshot it",
            layout=_BTN,
        )
        self._stop_note = w.HTML()
        self._stop_row = w.HBox(
            [self._stop, self._stop_note],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        self._go = w.Button(
            description="Create snapshot", icon="camera", button_style="primary", layout=_BTN
        )
        super().__init__(
            shared,
            site=site,
            layout=w.Layout(border="1px solid #dee2e6", padding="6px 10px", margin="8px 0"),
        )
        self.add_class("denbi-snapshot-create")
        self._layout([
            w.HTML(title("Create a snapshot", sub="pre-flight checks run as you type")),
            self._server, self._name, self._preflight_html, self._stop_row, self._error_box,
            w.HBox([self._go]),
        ])  # fmt: skip
        self._server_choice = bind(self._server, self, "server_id")
        bind(self._name, self, "name")
        self._go.on_click(self._guard(lambda _b: self.create()))
        self._stop.on_click(self._guard(lambda _b: self.stop_server()))
        jobs.on_card(self._guard(self._follow_card))
        self._render()

    def on_created(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, image_id)`` when a snapshot job has made its snapshot."""
        self._created.register_callback(callback, remove=remove)

    def server(self, server_id: str) -> Server | None:
        """One of :attr:`servers` by id."""
        return next((s for s in self.servers if s.id == server_id), None)

    def reload(self) -> None:
        """Fetch the project's VMs again (a VM was started, stopped or deleted elsewhere)."""

        def fetch(client: CloudClient) -> list[Server]:
            return client.list_servers()

        def apply(servers: list[Server]) -> None:
            self.servers = list(servers)

        self._call("servers", fetch, apply)

    def _follow_card(self, card: JobCard) -> None:
        """A job of the panel's list: once it ends, VMs may have come, gone or changed."""
        card.on_done(lambda _job: self.reload() if card.site in ("", self.site) else None)

    @t.observe("servers")
    def _on_servers(self, change: dict[str, Any]) -> None:
        before = {s.id: s for s in change["old"] or ()}
        chosen = self.server(self.server_id)
        if self._stop_job is not None:  # the list was fetched after the stop job ended
            self._stop_job, self.stopping = None, ""
        if chosen is None:
            self.server_id = self.servers[0].id if self.servers else ""
        elif before.get(chosen.id) != chosen:  # e.g. ACTIVE -> SHUTOFF: check again
            self._check_preflight()

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self._cancel("preflight", busy="preflighting")
            self._cancel("servers")
            self._stop_job, self.stopping = None, ""
            self.servers, self.server_id, self.preflight = [], "", None
            self.reload()

    @t.observe("server_id", "name")
    def _on_form(self, change: dict[str, Any]) -> None:
        own_name = self.name.strip() and self.name != self._suggested
        if change["name"] == "server_id" and change["new"] and not own_name:
            server = self.server(change["new"])
            if server is not None:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
                suggestion = f"{server.name}-{stamp}"
                if suggestion != self.name:
                    self._suggested = self.name = suggestion  # observed: checks the pre-flight
                    return
        self._check_preflight()

    def _check_preflight(self) -> None:
        server_id, name = self.server_id, self.name
        self.create_error = ""
        self.preflight = None
        if not server_id or not name.strip():
            self._cancel("preflight", busy="preflighting")
            return

        def run(client: CloudClient) -> object:
            return preflight(client, server_id, name)

        self._call(
            "preflight", run, self._set_preflight, busy="preflighting",
            delay=self.shared.debounce_s,
        )  # fmt: skip

    def _set_preflight(self, result: object) -> None:
        self.create_error = ""  # a "wait for the pre-flight" is answered now
        self.preflight = result

    def create(self) -> None:
        """Start the snapshot flow for the chosen VM and name (after pre-flight passed).

        A click while the previous snapshot job is being handed over does nothing.
        """
        if self.creating:
            return
        check = self.preflight
        problem = (
            "Choose a VM to snapshot." if not self.server_id
            else "Give the snapshot a name." if not self.name.strip()
            else "Wait for the pre-flight checks to pass before starting."
            if check is None or self.preflighting
            else "Fix what the pre-flight checks found before starting."
            if not getattr(check, "ok", False)
            else ""
        )  # fmt: skip
        if problem:
            self.create_error = problem
            return
        server = self.server(self.server_id)
        name = str(getattr(check, "name", "") or self.name.strip())
        site = self.site

        def started(card: JobCard) -> None:
            card.on_done(lambda done: self._on_done(site, done))
            self.create_error = ""
            self.name = ""

        server_name = server.name if server else self.server_id
        self._start_job(
            "snapshot",
            f"Snapshot {server_name} → {name}",
            FlowRef.CREATE_SNAPSHOT,
            {"site": site, "server": self.server_id, "name": name},
            jobs=self._jobs,
            describe_result=_snapshot_text,
            on_card=started,
            busy="creating",
        )

    def _on_done(self, site: str, job: Job) -> None:
        if job.state is JobState.COMPLETED and isinstance(job.result, SnapshotResult):
            self._fire(self._created, site, job.result.image_id)

    def stop_server(self) -> None:
        """Stop the chosen VM as a job (for a consistent snapshot); when the job has ended,
        the VM list and the pre-flight are refreshed."""
        server = self.server(self.server_id)
        if server is None or self.stopping:
            return
        refusal = action_refusal(server, ServerAction.STOP)
        if refusal is not None:
            self.create_error = refusal.reason
            return
        self.stopping = server.id

        def started(card: JobCard) -> None:
            card.on_done(self._stopped)

        def failed(_exc: BaseException) -> None:
            self.stopping = ""

        self._start_job(
            "stop",
            f"Stop {server.name}",
            SERVER_ACTION_FLOWS[ServerAction.STOP],
            server_action_parameters(site=self.site, server_id=server.id, action=ServerAction.STOP),
            jobs=self._jobs,
            describe_result=_stopped_text,
            on_card=started,
            on_error=failed,
        )

    def _stopped(self, job: Job) -> None:
        self._stop_job = job  # the next VM list (fetched now) ends "stopping"
        self.reload()

    # --- view ----------------------------------------------------------------------------------
    @t.observe(
        "servers", "preflight", "preflighting", "creating", "create_error", "error", "stopping"
    )
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        options = [(f"{s.name}  ·  {s.status}", s.id) for s in self.servers]
        self._server_choice.set_options(options)
        self._server.disabled = not options
        self._error_box.value = self._error_html()
        check = self.preflight
        self._preflight_html.value = "".join(self._preflight_parts(check))
        ready = check is not None and getattr(check, "ok", False) and not self.preflighting
        self._go.disabled = self.creating or not ready
        self._go.description = "Starting…" if self.creating else "Create snapshot"
        self._render_stop(check)

    def _render_stop(self, check: object) -> None:
        """The Stop button, shown while the pre-flight says "stop it first" (an ACTIVE VM)."""
        server = self.server(self.server_id)
        stoppable = (
            server is not None
            and server.status == "ACTIVE"
            and check is not None
            and not self.preflighting
            and action_refusal(server, ServerAction.STOP) is None
        )
        busy = bool(self.stopping) and self.stopping == self.server_id
        self._stop_row.layout.display = "" if stoppable or busy else "none"
        self._stop.disabled = bool(self.stopping)  # one stop at a time
        self._stop.description = "Stopping…" if busy else "Stop VM"
        name = esc(server.name) if server is not None else ""
        self._stop_note.value = (
            f'<span style="color:#6c757d;font-size:12px">Stopping {name}: its job below shows '
            "the progress; the checks run again when it has stopped.</span>"
            if busy
            else ""
        )

    def _preflight_parts(self, check: object) -> list[str]:
        parts: list[str] = []
        if not self.servers:
            parts.append(notice("This project has no VMs on this site to snapshot.", Tone.MUTED))
        elif self.preflighting:
            parts.append(badge("checking…", Tone.BUSY))
        elif check is not None:
            parts += [notice(m, Tone.ERROR) for m in getattr(check, "errors", ())]
            parts += [notice(m, Tone.WARN) for m in getattr(check, "warnings", ())]
            if getattr(check, "ok", False) and not getattr(check, "warnings", ()):
                parts.append(notice("All pre-flight checks passed.", Tone.OK))
        if self.create_error:
            parts.append(notice(self.create_error, Tone.ERROR))
        return parts


def _stopped_text(result: object) -> str:
    if isinstance(result, ServerActionResult):
        return f"{result.name} is {result.status}."
    return "The VM has stopped."


def _snapshot_text(result: object) -> str:
    if isinstance(result, SnapshotResult):
        return f"Snapshot {result.name} is {result.status}."
    return "The snapshot is ready."
