"""The create-snapshot form: pick a VM, name the snapshot, see the pre-flight, start the flow.

A component with its own traits (VM, name, the pre-flight's answer) and one render; the widgets
are bound to the traits. Pre-flight checks run (debounced, in the background) as the user types;
:meth:`CreateSnapshotForm.on_created` reports the new snapshot's id when its job has ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import SnapshotResult
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._flows import FlowRef, preflight
from denbi_jupyter.panels._html import Tone, badge, notice, title
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job

__all__ = ["CreateSnapshotForm"]

_BTN = w.Layout(width="auto")


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

    def __init__(self, shared: Shared, *, site: str, jobs: JobList) -> None:
        self._jobs = jobs
        self._created = w.CallbackDispatcher()
        self._server = w.Dropdown(description="VM", options=[], layout=w.Layout(width="460px"))
        self._name = w.Text(
            description="Name",
            placeholder="e.g. rnaseq-vm-2026-06-10",
            layout=w.Layout(width="460px"),
        )
        size_fields(self._server, self._name)
        self._preflight_html = w.HTML()
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
            self._server, self._name, self._preflight_html, self._error_box, w.HBox([self._go]),
        ])  # fmt: skip
        self._server_choice = bind(self._server, self, "server_id")
        bind(self._name, self, "name")
        self._go.on_click(self._guard(lambda _b: self.create()))
        self._render()

    def on_created(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, image_id)`` when a snapshot job has made its snapshot."""
        self._created.register_callback(callback, remove=remove)

    def server(self, server_id: str) -> Server | None:
        """One of :attr:`servers` by id."""
        return next((s for s in self.servers if s.id == server_id), None)

    @t.observe("servers")
    def _on_servers(self, _change: dict[str, Any]) -> None:
        if self.server(self.server_id) is None:
            self.server_id = self.servers[0].id if self.servers else ""

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self._cancel("preflight", busy="preflighting")
            self.servers, self.server_id, self.preflight = [], "", None

    @t.observe("server_id", "name")
    def _on_form(self, change: dict[str, Any]) -> None:
        if change["name"] == "server_id" and change["new"] and not self.name.strip():
            server = self.server(change["new"])
            if server is not None:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
                self.name = f"{server.name}-{stamp}"  # observed: checks the pre-flight
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
        self.preflight = result

    def create(self) -> None:
        """Start the snapshot flow for the chosen VM and name (after pre-flight passed)."""
        check = self.preflight
        if check is None or not getattr(check, "ok", False):
            self.create_error = "Wait for the pre-flight checks to pass before starting."
            return
        server = self.server(self.server_id)
        name = str(getattr(check, "name", "") or self.name.strip())
        site = self.site

        def started(card: JobCard) -> None:
            card.on_done(lambda done: self._on_done(site, done))
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

    # --- view ----------------------------------------------------------------------------------
    @t.observe("servers", "preflight", "preflighting", "creating", "create_error", "error")
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


def _snapshot_text(result: object) -> str:
    if isinstance(result, SnapshotResult):
        return f"Snapshot {result.name} is {result.status}."
    return "The snapshot is ready."
