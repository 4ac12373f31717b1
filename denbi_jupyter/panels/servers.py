"""The Servers view: the project's VMs on one site, each with its state and its actions.

One row per VM (see :mod:`~denbi_jupyter.panels._server_rows`): status and task state, image
and its desktop kind, flavor, private address, age and key pair, and the buttons Connect, Stop,
Start, Reboot and Delete. A button is enabled only where the domain's rule
(:func:`~denbi_jupyter.cloud.rules.servers.action_refusal`) allows it. Each action starts its
lifecycle flow as a job (a card in :attr:`ServersPanel.jobs`); the list reloads when the job
has started and when it ends. Delete asks first, right under the VM's row. Images are looked up
once per distinct image id, in the background; a render costs no request.

Each row also shows the VM's snapshot policy and the last policy run's outcome (the newest
snapshot its schedule's mark proves its own: one Glance listing per schedule in use, after each
listing of the VMs, none when no VM has a policy); "Policy…" opens the
:class:`~denbi_jupyter.panels._server_policy.PolicyForm` under the row (one form at a time, as
the delete question), whose Save and Remove reload the list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import ServerActionResult
from denbi_jupyter.cloud.rules.policy import LEGACY_KEY, POLICY_KEY
from denbi_jupyter.cloud.rules.policy_preview import last_policy_snapshot, schedule_of
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY
from denbi_jupyter.cloud.rules.servers import ServerAction, action_refusal
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._flows import SERVER_ACTION_FLOWS, server_action_parameters
from denbi_jupyter.panels._html import Tone, badge, esc, notice
from denbi_jupyter.panels._server_policy import PolicyForm
from denbi_jupyter.panels._server_rows import ImageInfo, ServerRows, image_infos, short_id
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["ServersPanel"]

_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
_STATE = (
    "servers", "images", "running", "confirm_id", "notes", "loading", "listed", "error",
    "policy_id", "policy_snapshots", "policy_notes",
)  # fmt: skip


class ServersPanel(Panel):
    """The project's VMs on one site: list them, stop, start, reboot, delete, connect.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a :class:`CloudPanel`.
        sites: Site names to offer with a factory.
        site: The site to show first.
        runner: The job runner; created (and warmed up) in the background when None.
        show_site_picker: Show a site dropdown (off inside :class:`CloudPanel`).
    """

    servers: t.List[Any] = t.List().tag(sync=False)
    #: Image id → what it is (None: gone or not visible); filled in the background.
    images = t.Dict().tag(sync=False)
    #: Server id → the action whose job runs for it (this site's jobs of this panel).
    running = t.Dict().tag(sync=False)
    #: The VM whose delete is being confirmed ("" for none).
    confirm_id = t.Unicode("").tag(sync=False)
    #: Server id → what the user was told about it (a refusal, a failed job).
    notes = t.Dict().tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    #: True once the current site's VMs were listed.
    listed = t.Bool(False).tag(sync=False)
    #: The VM whose policy form is open ("" for none).
    policy_id = t.Unicode("").tag(sync=False)
    #: Server id → its last policy snapshot (None: none yet), for the VMs with a policy.
    policy_snapshots = t.Dict().tag(sync=False)
    #: Server id → what the policy form's Save or Remove did.
    policy_notes = t.Dict().tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        show_site_picker: bool = True,
    ) -> None:
        self._connect = w.CallbackDispatcher()
        self._jobs_lock = threading.Lock()
        # A render reads the state and shows the rows as one step: a render from the kernel's
        # thread and one from a background callback must not interleave (the later would show
        # what the earlier read).
        self._render_lock = threading.RLock()
        self._jobs_by_vm: dict[tuple[str, str], ServerAction] = {}
        self._images_asked: set[str] = set()  # image ids being looked up
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        self._refresh = w.Button(description="Refresh", icon="refresh", layout=_BTN)
        self._count = w.HTML(layout=w.Layout(flex="1 1 200px", min_width="0"))
        self._empty = w.HTML()
        self._rows = ServerRows(
            on_action=lambda i, a: self._guard(self.act)(i, a),
            on_connect=lambda i: self._guard(self.connect)(i),
            on_policy=lambda i: self._guard(self.open_policy)(i),
        )
        self._confirm_html = w.HTML()
        self._confirm_yes = w.Button(
            description="Delete VM", icon="trash", button_style="danger", layout=_BTN
        )
        self._confirm_no = w.Button(description="Cancel", layout=_BTN)
        self._confirm = w.VBox(
            [self._confirm_html, w.HBox([self._confirm_yes, self._confirm_no],
                                        layout=w.Layout(flex_flow="row wrap"))],
            layout=w.Layout(border="1px solid #f1aeb5", padding="6px 10px", margin="2px 0 6px 0"),
        )  # fmt: skip
        self._confirm.add_class("denbi-confirm")
        self.jobs = JobList(empty_text="Stop, start, reboot and delete jobs appear here.")
        super().__init__(source, sites=sites, site=site, runner=runner)
        self.add_class("denbi-servers-panel")
        self.policy_form = PolicyForm(self.shared, site=self.site)
        self.policy_form.on_saved(self._policy_saved)
        self.policy_form.on_close(self.close_policy)
        toolbar = w.HBox(
            [self._site_picker, self._refresh, self._count],
            layout=w.Layout(flex_flow="row wrap", align_items="center", width="100%"),
        )
        self._layout([toolbar, self._error_box, self._empty, self._rows, self.jobs])
        self._follow_site_picker(self._site_picker)
        self._refresh.on_click(self._guard(lambda _b: self.reload()))
        self._confirm_yes.on_click(self._guard(lambda _b: self.confirm_delete()))
        self._confirm_no.on_click(self._guard(lambda _b: self.cancel_delete()))
        self.shared.warm_runner()
        self.reload()
        self._render()

    # --- events out ---------------------------------------------------------------------------
    def on_connect(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, server_id)`` when a row's Connect button is clicked."""
        self._connect.register_callback(callback, remove=remove)

    # --- loading ------------------------------------------------------------------------------
    def reload(self) -> None:
        """List the project's VMs again (in the background), then look up new images."""
        site = self.site

        def apply(servers: list[Server]) -> None:
            if self.site != site:
                return
            self.error = ""
            self.servers, self.listed = list(servers), True
            known = {i for i in self.notes if any(s.id == i for s in servers)}
            self.notes = {i: n for i, n in self.notes.items() if i in known}
            self._look_up_images(servers)
            self._look_up_policy_snapshots(servers)

        self._call("servers", lambda client: client.list_servers(), apply, busy="loading")

    def _look_up_images(self, servers: Sequence[Server]) -> None:
        asked = self._images_asked
        wanted = sorted({s.image_id for s in servers if s.image_id} - set(self.images) - asked)
        if not wanted:
            return
        site = self.site
        asked.update(wanted)

        def fetch(client: CloudClient) -> dict[str, ImageInfo | None]:
            return image_infos(client, wanted)

        def apply(found: dict[str, ImageInfo | None]) -> None:
            asked.difference_update(wanted)
            if self.site == site:
                self.images = {**self.images, **found}

        def failed(exc: BaseException) -> None:  # the rows show the ids: no error line
            asked.difference_update(wanted)
            self.log.info(f"looking up the VMs' images on {site} failed: {exc}")

        self._call(f"images:{','.join(wanted)}", fetch, apply, on_error=failed)

    def _look_up_policy_snapshots(self, servers: Sequence[Server]) -> None:
        opted = [s for s in servers if POLICY_KEY in s.metadata or LEGACY_KEY in s.metadata]
        if not opted:
            self._cancel("policy-snapshots")
            self.policy_snapshots = {}
            return
        site = self.site

        def fetch(client: CloudClient) -> dict[str, Image | None]:
            schedules = {schedule_of(s.metadata) for s in opted}
            found = {x: client.find_images_by_property(SCHEDULE_KEY, x) for x in schedules}
            return {
                s.id: last_policy_snapshot(
                    found[schedule_of(s.metadata)], server_id=s.id, schedule=schedule_of(s.metadata)
                )
                for s in opted
            }

        def apply(lasts: dict[str, Image | None]) -> None:
            if self.site == site:
                self.policy_snapshots = lasts

        def failed(exc: BaseException) -> None:  # the rows then say nothing about the last run
            self.log.info(f"looking up the policy snapshots on {site} failed: {exc}")

        self._call("policy-snapshots", fetch, apply, on_error=failed)

    def _parts(self) -> tuple[PolicyForm, ...]:
        return (self.policy_form,)

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self._cancel("servers", busy="loading")
            self._cancel("policy-snapshots")
            self.policy_form.site = change["new"]
            self.policy_id, self.policy_snapshots, self.policy_notes = "", {}, {}
            self.servers, self.images, self.notes = [], {}, {}
            self._images_asked = set()
            self.confirm_id, self.listed, self.error = "", False, ""
            self._sync_running()
            self.reload()

    # --- what the rows show -----------------------------------------------------------------
    def server(self, server_id: str) -> Server | None:
        """The listed VM with this id, if any."""
        return next((s for s in self.servers if s.id == server_id), None)

    def _tell(self, server_id: str, text: str) -> None:
        self.notes = {**self.notes, server_id: text}

    def _sync_running(self) -> None:
        with self._jobs_lock:
            here = {i: a for (site, i), a in self._jobs_by_vm.items() if site == self.site}
        self.running = here

    # --- policies ---------------------------------------------------------------------------
    def open_policy(self, server_id: str) -> None:
        """Open the policy form of the VM right under its row (closing a delete question)."""
        server = self.server(server_id)
        if server is None:
            self.error = f"VM {server_id} is no longer listed on {self.site}: press Refresh."
            return
        self.confirm_id = ""
        self.policy_notes = {}
        self.policy_form.open_for(server)
        self.policy_id = server_id

    def close_policy(self) -> None:
        """Close the policy form (nothing is written)."""
        self.policy_id = ""

    def _policy_saved(self, server_id: str, said: str) -> None:
        self.policy_id = ""
        self.policy_notes = {server_id: said}
        self.reload()

    # --- actions ----------------------------------------------------------------------------
    def connect(self, server_id: str) -> None:
        """Report that the user wants to connect to ``server_id`` (see :meth:`on_connect`)."""
        self._fire(self._connect, self.site, server_id)

    def act(self, server_id: str, action: ServerAction) -> None:
        """Do ``action`` to the VM (a delete asks first); a refusal is said under its row."""
        server = self.server(server_id)
        self.notes = {}
        if server is None:
            self.error = f"VM {server_id} is no longer listed on {self.site}: press Refresh."
            return
        if server_id in self.running:
            verb = self.running[server_id].value
            self._tell(server_id, f"A {verb} job is already running for {server.name}.")
            return
        refusal = action_refusal(server, action)
        if refusal is not None:
            self._tell(server_id, refusal.reason)
            return
        if action is ServerAction.DELETE:
            self.policy_id = ""
            self.confirm_id = server_id
            return
        self.confirm_id = ""
        self._run(server, action)

    def ask_delete(self, server_id: str) -> None:
        """Ask for confirmation before deleting the VM (next to its row)."""
        self.act(server_id, ServerAction.DELETE)

    def cancel_delete(self) -> None:
        """Close the confirmation without deleting."""
        self.confirm_id = ""

    def confirm_delete(self) -> None:
        """Delete the VM being confirmed, as a job (once: a second click does nothing)."""
        server = self.server(self.confirm_id)
        self.confirm_id = ""
        if server is None or server.id in self.running:
            return
        refusal = action_refusal(server, ServerAction.DELETE)
        if refusal is not None:  # the list was reloaded while the question was open
            self._tell(server.id, refusal.reason)
            return
        self._run(server, ServerAction.DELETE)

    def _run(self, server: Server, action: ServerAction) -> None:
        site, key = self.site, (self.site, server.id)
        with self._jobs_lock:
            self._jobs_by_vm[key] = action
        self._sync_running()

        def finished() -> None:
            with self._jobs_lock:
                self._jobs_by_vm.pop(key, None)
            self._sync_running()

        def started(card: JobCard) -> None:
            card.on_done(lambda job: self._on_job_done(server, action, site, job, finished))
            self.reload()  # shows Nova's task state (powering-off, deleting, …)

        self._start_job(
            f"{action.value}:{server.id}",
            f"{action.value.capitalize()} {server.name}",
            SERVER_ACTION_FLOWS[action],
            server_action_parameters(site=site, server_id=server.id, action=action),
            jobs=self.jobs,
            describe_result=_result_text,
            on_card=started,
            on_error=lambda _exc: finished(),
        )

    def _on_job_done(
        self,
        server: Server,
        action: ServerAction,
        site: str,
        job: Job,
        finished: Callable[[], None],
    ) -> None:
        finished()
        if self.site != site:
            return
        if job.state is not JobState.COMPLETED:
            reason = job.error or "the job failed without saying why"
            self._tell(server.id, f"{action.value.capitalize()} {server.name} failed: {reason}")
        self.reload()

    # --- view ---------------------------------------------------------------------------------
    @t.observe(*_STATE)
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        with self._render_lock:
            self._render_now()

    def _render_now(self) -> None:
        self._error_box.value = self._error_html()
        self._refresh.disabled = self.loading
        self._count.value = self._count_html()
        servers: list[Server] = list(self.servers)
        quiet = servers or not self.listed or self.error
        self._empty.value = "" if quiet else notice(
            f"No VMs in this project on {self.site} yet. Boot one from an image "
            "(the Images tab).", Tone.MUTED,
        )  # fmt: skip
        confirming = self.server(self.confirm_id)
        under: tuple[str, w.Widget] | None = None
        if confirming is not None:
            self._confirm_html.value = _confirm_text(confirming, self.site)
            under = (confirming.id, self._confirm)
        elif self.server(self.policy_id) is not None:
            under = (self.policy_id, self.policy_form)
        self._rows.show(
            servers,
            images=self.images,
            running=self.running,
            notes=self.notes,
            policy_snapshots=self.policy_snapshots,
            policy_notes=self.policy_notes,
            under=under,
        )

    def _count_html(self) -> str:
        if self.loading and not self.listed:
            return notice(f"Loading the VMs of {self.site}…", Tone.BUSY)
        if not self.listed:
            return ""
        count = len(self.servers)
        noun = "VM" if count == 1 else "VMs"
        busy = badge("refreshing…", Tone.BUSY) if self.loading else ""
        return (
            f'<div style="margin:4px 0;color:#495057">{count} {noun} on '
            f"<b>{esc(self.site)}</b> {busy}</div>"
        )


def _confirm_text(server: Server, site: str) -> str:
    return (
        f'<div style="line-height:1.4;overflow-wrap:anywhere"><b>Delete VM {esc(server.name)} '
        f"({esc(short_id(server.id))}) from {esc(site)}?</b></div>"
        '<div style="font-size:12.5px;line-height:1.4;margin:2px 0 4px 0">Its disks are '
        "deleted with it and this cannot be undone. Its snapshots stay.</div>"
    )


def _result_text(result: object) -> str:
    if isinstance(result, ServerActionResult):
        if result.status == "DELETED":
            return f"{result.name} is deleted."
        return f"{result.name} is {result.status}."
    return "Finished."
