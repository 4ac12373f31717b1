"""The whole plugin in one widget: a site picker above tabs for images, servers, snapshots and
connections.

The four panels share one :class:`~denbi_jupyter.panels._base.Shared` (clients by site, a
background pool, the job runner and the activity log). Picking a site switches all of them;
a finished boot, or a Servers row's Connect button, switches to the Connect tab with that VM
selected. Tabs are found by title (:data:`TAB_TITLES`), never by a number. With a work pool,
the runs still in flight that another kernel started show as job cards in the tab that starts
their flow (see :mod:`denbi_jupyter.panels._in_flight`), followed to their end.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import BootResult, DeleteReport, SnapshotResult
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._background import guarded
from denbi_jupyter.panels._base import InFlight, Panel, Shared
from denbi_jupyter.panels._html import Tone, badge, esc
from denbi_jupyter.panels._in_flight import Tab, result_text, tab_of
from denbi_jupyter.panels._sites import ClientSource, SiteClients
from denbi_jupyter.panels._snapshot_delete import delete_outcomes
from denbi_jupyter.panels.connection import ConnectionPanel, Prober
from denbi_jupyter.panels.images import ImagePanel
from denbi_jupyter.panels.jobs_view import JobCard, JobList
from denbi_jupyter.panels.servers import ServersPanel
from denbi_jupyter.panels.snapshots import SnapshotPanel

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["TAB_TITLES", "CloudPanel"]

#: Tab titles, in order.
TAB_TITLES: tuple[str, ...] = ("Images", "Servers", "Snapshots", "Connect", "Activity")
_CONNECT = TAB_TITLES.index("Connect")


def _open_from_clouds_yaml(config_file: str | Path | None) -> tuple[SiteClients, list[str]]:
    from denbi_jupyter.cloud import list_sites, open_site

    config_file = Path(config_file) if config_file is not None else None
    names = [str(getattr(s, "name", s)) for s in list_sites(config_file=config_file)]

    def factory(name: str) -> CloudClient:
        return open_site(name, config_file=config_file)

    return SiteClients(factory, names), names


class CloudPanel(w.VBox):  # type: ignore[misc]
    """Site picker and tabs holding :class:`ImagePanel`, :class:`ServersPanel`,
    :class:`SnapshotPanel` and :class:`ConnectionPanel`.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or None to offer
            every ``clouds.yaml`` entry through ``open_site``.
        sites: Site names to offer with a factory.
        site: The site to show first (default: ``OS_CLOUD``'s when offered, else the first).
        runner: The job runner; created and warmed up in the background when None.
        config_file: The ``clouds.yaml`` to read when ``source`` is None.
        key_dir: Where converted PuTTY keys are saved (default: the current folder).
        probe: Reachability check for connection cards (default: 3-second TCP connect).
        shared: Ready shared state (tests); overrides ``source``, ``sites`` and ``runner``.
    """

    site = t.Unicode("").tag(sync=False)
    project = t.Unicode("").tag(sync=False)
    tab = t.Int(0).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | None = None,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        config_file: str | Path | None = None,
        key_dir: str | Path | None = None,
        probe: Prober | None = None,
        shared: Shared | None = None,
    ) -> None:
        self._owns_shared = shared is None
        if shared is None:
            if source is None:
                clients, _ = _open_from_clouds_yaml(config_file)
            else:
                clients = SiteClients.of(source, sites)
            shared = Shared(clients, runner=runner)
        self.shared = shared
        names = shared.clients.names
        first = site if site in names else names[0]
        self._site_picker = w.Dropdown(
            description="Site", options=list(names), value=first, layout=w.Layout(width="230px")
        )
        self._site_picker.style.description_width = "36px"
        self._header = w.HTML()
        self.images = ImagePanel(shared, site=first, show_site_picker=False, probe=probe)
        self.servers = ServersPanel(shared, site=first, show_site_picker=False)
        self.snapshots = SnapshotPanel(shared, site=first, show_site_picker=False)
        self.connection = ConnectionPanel(shared, site=first, key_dir=key_dir, probe=probe)
        self.connection._server_select.layout.width = "420px"
        shared.log.expanded = True  # the Activity tab is the log: nothing to unfold there
        self._activity = w.VBox(
            [
                w.HTML(
                    '<div style="color:#6c757d;margin:4px 0">Everything the panels did, and '
                    "every error with its details.</div>"
                ),
                shared.log,
            ]
        )
        self.tabs = w.Tab(
            children=[self.images, self.servers, self.snapshots, self.connection, self._activity],
            titles=TAB_TITLES,
        )
        super().__init__(
            children=[
                w.HBox(
                    [self._header, self._site_picker],
                    layout=w.Layout(
                        justify_content="flex-start",
                        align_items="center",
                        flex_flow="row wrap",
                        grid_gap="4px 16px",
                        border_bottom="2px solid #1f6fb2",
                        padding="0 0 4px 0",
                        margin="0 0 6px 0",
                    ),
                ),
                self.tabs,
            ],
            layout=w.Layout(width="100%"),
        )
        self.add_class("denbi-cloud-panel")
        self._site_picker.observe(guarded(shared.log, self._on_site_picked, "site"), names="value")
        self.tabs.observe(guarded(shared.log, self._on_tab_picked, "tab"), names="selected_index")
        self.images.on_booted(self._on_booted)
        self.servers.on_connect(self._on_connect)
        self.snapshots.relaunch.on_booted(self._on_booted)
        self.connection.key_pairs.observe(
            guarded(shared.log, self._on_keypairs_changed, "key pairs"), names="keypairs"
        )
        self.site = first
        self._render()
        shared.show_in_flight(self._show_in_flight)

    # --- events ---------------------------------------------------------------------------------
    def _on_keypairs_changed(self, change: dict[str, Any]) -> None:
        """A key pair generated, imported or deleted in the Connect tab: the boot and relaunch
        forms offer (and pick) it at once, without reloading the site."""
        if self.connection.key_pairs.site != self.site:
            return
        for form in (self.images, self.snapshots.relaunch):
            if form.site == self.site:
                form.take_keypairs(change["new"])

    def _on_site_picked(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.site = change["new"]

    def _on_tab_picked(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        self.tab = change["new"]
        # VMs come and go outside this tab: refresh what the tab lists or its forms offer.
        picked = TAB_TITLES[change["new"]]
        if picked == "Servers":
            self.servers.reload()
        elif picked == "Snapshots":
            self.snapshots.reload_servers()
        elif picked == "Connect":
            self.connection.reload()

    def _on_connect(self, site: str, server_id: str) -> None:
        self.connection.show_server(server_id, site=site)
        self.tab = _CONNECT

    def _on_booted(self, site: str, server_id: str) -> None:
        if site == self.site:
            self.connection.show_server(server_id, site=site)
        else:  # the user moved on: leave every tab on the site they picked
            self.shared.log.info(f"VM {server_id} booted on {site}; pick {site} to connect to it.")
        if site == self.snapshots.site:
            self.snapshots.reload_servers()
        if site == self.servers.site:
            self.servers.reload()

    def _jobs_of(self, tab: Tab) -> JobList:
        panel = {Tab.IMAGES: self.images, Tab.SERVERS: self.servers, Tab.SNAPSHOTS: self.snapshots}
        jobs: JobList = panel[tab].jobs
        return jobs

    def _show_in_flight(self, found: InFlight) -> None:
        """Show runs another kernel started (from a background thread), each in its tab."""
        if self.__dict__.get("_closed"):
            return
        for flow, job in found:
            tab = tab_of(flow, job.title)
            if tab is None:
                continue
            card = self._jobs_of(tab).add(JobCard(job, describe_result=result_text, site=job.site))
            card.on_done(functools.partial(self._on_in_flight_done, tab))
            where = f" on {job.site}" if job.site else ""
            self.shared.log.info(f"following job {job.title!r}{where}, started elsewhere")

    def _on_in_flight_done(self, tab: Tab, job: Job) -> None:
        """What the tab does when its own job ends, for a run it did not start."""
        if self.__dict__.get("_closed") or job.state is not JobState.COMPLETED:
            return
        result, site = job.result, job.site
        if isinstance(result, BootResult):
            self._on_booted(result.site, result.server_id)
        elif isinstance(result, SnapshotResult):
            self.snapshots.table.add(result.site, result.image_id)
        elif isinstance(result, DeleteReport):
            gone = [image_id for image_id, _, ok, _ in delete_outcomes(result, {}) if ok]
            self.snapshots.table.forget(site, gone)
        elif tab is Tab.SERVERS and site == self.servers.site:
            self.servers.reload()

    @t.observe("site")
    def _on_site(self, _change: dict[str, Any]) -> None:
        for panel in self._panels():
            panel.site = self.site
        self.project = ""
        site = self.site

        def fetch(client: CloudClient) -> str:
            return client.project_name

        def apply(name: str) -> None:
            if self.site == site:
                self.project = name

        self.images._call("project", fetch, apply, on_error=lambda _e: None)

    def close(self) -> None:
        """Close the four panels and, when this panel made them, the pool and the clients.

        Idempotent; jobs already running go on.
        """
        if not self.__dict__.get("_closed") and "images" in self.__dict__:
            self._closed = True
            for panel in self._panels():
                panel.close()
            if self._owns_shared:
                self.shared.close()
        super().close()

    def _panels(self) -> tuple[Panel, ...]:
        return (self.images, self.servers, self.snapshots, self.connection)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every panel's background calls are done (tests, scripts)."""
        return self.shared.background.wait_idle(timeout)

    # --- view -------------------------------------------------------------------------------------
    @t.observe("site", "project", "tab")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        if self._site_picker.value != self.site:
            self._site_picker.value = self.site
        if self.tabs.selected_index != self.tab:
            self.tabs.selected_index = self.tab
        project = badge(f"project {self.project}", Tone.INFO) if self.project else ""
        self._header.value = (
            '<div style="display:flex;align-items:center;gap:8px">'
            '<span style="font-size:18px;font-weight:700;color:#1f6fb2">de.NBI Cloud</span>'
            f'<span style="color:#6c757d">site</span> <b>{esc(self.site)}</b> {project}</div>'
        )
