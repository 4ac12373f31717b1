"""The snapshot browser: a thin panel composing four components.

* :class:`~denbi_jupyter.panels._snapshot_table.SnapshotTable`: filter, sort, paging, selection;
* :class:`~denbi_jupyter.panels._snapshot_sites.AllSitesTable`: the same over every site at once
  (shown instead of the one-site table while the "All sites" toggle is on);
* :class:`~denbi_jupyter.panels._snapshot_delete.DeleteConfirmation`: confirm, delete, outcomes;
* :class:`~denbi_jupyter.panels._snapshot_relaunch.RelaunchForm`: start a VM from a snapshot;
* :class:`~denbi_jupyter.panels._snapshot_create.CreateSnapshotForm`: pre-flight and snapshot.

Each has its own traits and one render, so a filter keystroke re-renders the table page and its
count only. The panel wires their events together, loads the VMs, flavors and key pairs the
forms offer, and keeps every component on its site. The table hosts the delete confirmation
(under the row it is about, or under the selection bar for a bulk delete), and a finished
delete report goes when the table shows other rows. Actions on all-sites rows go to each row's
own site: a delete runs one job per site; starting a VM switches the panel to the row's site.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.federation import SiteSnapshot
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Flavor, KeyPair, Page, Server, Snapshot
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels._snapshot_copy import CopyForm
from denbi_jupyter.panels._snapshot_create import CreateSnapshotForm
from denbi_jupyter.panels._snapshot_delete import DeleteConfirmation, delete_outcomes
from denbi_jupyter.panels._snapshot_relaunch import RelaunchForm, recorded_flavor
from denbi_jupyter.panels._snapshot_sites import AllSitesTable
from denbi_jupyter.panels._snapshot_table import PER_PAGE_CHOICES, SnapshotTable
from denbi_jupyter.panels.jobs_view import JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import JobRunner

__all__ = ["PER_PAGE_CHOICES", "SnapshotPanel", "delete_outcomes", "recorded_flavor"]


class SnapshotPanel(Panel):
    """Browse, select, delete, relaunch and create snapshots of one site.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a :class:`CloudPanel`.
        sites: Site names to offer with a factory.
        site: The site to show first.
        runner: The job runner; created (and warmed up) in the background when None.
        show_site_picker: Show a site dropdown (off inside :class:`CloudPanel`).
        site_timeout: Seconds the all-sites view waits for a site before showing it as still
            loading (its rows are merged in when they arrive).
    """

    #: The table's filter text (linked both ways), e.g. ``panel.text = "rnaseq"``.
    text = t.Unicode("").tag(sync=False)
    #: Show every site at once (the "All sites" toggle, offered with more than one site).
    all_sites = t.Bool(False).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        show_site_picker: bool = True,
        site_timeout: float = 20.0,
    ) -> None:
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        self._all_sites = w.ToggleButton(
            description="All sites",
            icon="globe",
            tooltip="Show the snapshots of every site at once",
            layout=w.Layout(width="auto", flex="0 0 auto"),
        )
        self.jobs = JobList(empty_text="Snapshot, delete and start jobs appear here.")
        super().__init__(source, sites=sites, site=site, runner=runner)
        shared, first = self.shared, self.site
        self._all_sites.layout.display = "" if len(self.clients.names) > 1 else "none"
        self.table = SnapshotTable(shared, site=first, lead=[self._site_picker, self._all_sites])
        self.sites_table = AllSitesTable(
            shared, site=first, lead=[self._all_sites], timeout=site_timeout
        )
        self.confirmation = DeleteConfirmation(shared, site=first, jobs=self.jobs)
        self.relaunch = RelaunchForm(shared, site=first, jobs=self.jobs)
        self.create = CreateSnapshotForm(shared, site=first, jobs=self.jobs)
        self.copy = CopyForm(shared, site=first, jobs=self.jobs)
        self.add_class("denbi-snapshot-panel")
        self.table.host(self.confirmation)  # shown in the table, next to what it is about
        self.sites_table.host(self.confirmation)
        # Only the table in use is mounted: both host the confirmation and the toggle, and a
        # hidden copy would still be in the page (two filter boxes, two confirmations).
        # Over all sites the copy form sits above the rows, beside "Copy to site…"; over one
        # site, under the table.
        self._tables = w.VBox([self.table, self.copy], layout=w.Layout(width="100%"))
        self.sites_table.host(self.copy)
        self._layout([self._tables, self.relaunch, self.create, self.jobs])
        for part in self._parts():
            t.dlink((self, "site"), (part, "site"))
        t.link((self, "text"), (self.table, "text"))
        t.dlink((self.confirmation, "deleting"), (self.table, "deleting"))
        t.dlink((self.confirmation, "deleting"), (self.sites_table, "deleting"))
        t.link((self, "all_sites"), (self._all_sites, "value"))
        t.dlink((self.confirmation, "ids"), (self.table, "confirming"), bool)
        self._follow_site_picker(self._site_picker)
        self.table.on_delete(self.ask_delete)
        self.table.observe(
            self._guard(lambda _change: self.confirmation.clear_results()),
            names=["text", "page", "per_page", "sort"],
        )  # a finished report is about rows the table no longer shows
        self.table.on_launch(self.open_launch)
        self.confirmation.on_deleted(self.table.forget)
        self.confirmation.on_deleted(self.sites_table.forget)
        self.sites_table.on_delete(self.ask_delete_rows)
        self.sites_table.on_launch(lambda rows: self.open_launch_at(rows[0]))
        self.sites_table.on_copy(self.copy.open_for)
        self.table.on_copy(self.open_copy)
        self.copy.on_boot(self.boot_copy)
        self.create.on_created(self.table.add)
        self.shared.warm_runner()
        self.table.reload()
        self.reload_servers()

    def _parts(self) -> Iterable[Panel]:
        return (
            self.table,
            self.sites_table,
            self.confirmation,
            self.copy,
            self.relaunch,
            self.create,
        )

    @t.observe("all_sites")
    def _on_all_sites(self, change: dict[str, Any]) -> None:
        on = bool(change["new"])
        self.confirmation.cancel()
        if on:  # the same filter, order and page size as the one-site table
            one, every = self.table, self.sites_table
            every.text, every.sort, every.per_page = one.text, one.sort, one.per_page
        self._tables.children = (self.sites_table,) if on else (self.table, self.copy)
        self.sites_table.active = on

    # --- what the table shows ----------------------------------------------------------------
    @property
    def current(self) -> Page[Snapshot] | None:
        """The page the table shows."""
        page: Page[Snapshot] | None = self.table.current
        return page

    @property
    def selected(self) -> tuple[str, ...]:
        """The selected snapshot ids."""
        return tuple(self.table.selected)

    @property
    def servers(self) -> list[Server]:
        """The project's VMs on this site (as the create form offers them)."""
        return list(self.create.servers)

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self._cancel("compute")
            self._reload_launch_choices()  # the create form reloads its VMs on its own

    def reload(self, *, fresh: bool = False) -> None:
        """Load the index, the current page and the project's VMs, flavors and key pairs."""
        self.table.reload(fresh=fresh)
        self.reload_servers()

    def reload_servers(self) -> None:
        """Fetch the project's VMs, flavors and key pairs again (for the forms).

        The create form also does this for its VMs whenever a job of this panel ends.
        """
        self.create.reload()
        self._reload_launch_choices()

    def _reload_launch_choices(self) -> None:
        def fetch(client: CloudClient) -> tuple[list[Flavor], list[KeyPair]]:
            return client.list_flavors(), client.list_keypairs()

        def apply(data: tuple[list[Flavor], list[KeyPair]]) -> None:
            flavors, keypairs = data
            self.relaunch.flavors, self.relaunch.keypairs = list(flavors), list(keypairs)

        self._call("compute", fetch, apply)

    # --- wiring ---------------------------------------------------------------------------------
    def ask_delete(self, snapshot_ids: Sequence[str]) -> None:
        """Ask for confirmation before deleting ``snapshot_ids`` (next to the row, for one)."""
        names = {i: self.table.name_of(i) for i in snapshot_ids}
        self.table.anchor = snapshot_ids[0] if len(names) == 1 else ""
        self.confirmation.ask(snapshot_ids, names)

    def ask_delete_one(self, snapshot_id: str) -> None:
        """Ask for confirmation before deleting one snapshot."""
        self.ask_delete([snapshot_id])

    def ask_delete_rows(self, rows: Sequence[SiteSnapshot]) -> None:
        """Ask before deleting the all-sites rows ``rows``, each at its own site."""
        names = {row.snapshot.id: row.snapshot.name for row in rows}
        sites = {row.snapshot.id: row.site for row in rows}
        self.table.anchor = ""
        self.confirmation.ask(list(names), names, sites=sites)

    def open_launch_at(self, row: SiteSnapshot) -> None:
        """Show the start-VM form for an all-sites row: the panel goes to the row's site."""
        self.site = row.site
        self.relaunch.start_from(row.snapshot)

    def open_copy(self, snapshot_id: str) -> None:
        """Show the copy form for one snapshot of the current site."""
        snapshot = self.table.known(snapshot_id)
        if snapshot is not None:
            self.copy.open_for([SiteSnapshot(self.site, snapshot)])

    def boot_copy(self, site: str, image_id: str) -> None:
        """Show the start-VM form at ``site`` for the image ``image_id`` (a finished copy)."""
        clients = self.clients

        def opened(snapshot: Snapshot | None) -> None:
            if snapshot is None:
                self.error = f"The copy {image_id} is gone from {site}."
                return
            self.open_launch_at(SiteSnapshot(site, snapshot))

        self._run_local("boot-copy", lambda: clients.get(site).get_snapshot(image_id), opened)

    def open_launch(self, snapshot_id: str) -> None:
        """Show the start-VM form for a snapshot, with its recorded flavor preselected."""
        snapshot = self.table.known(snapshot_id)
        if snapshot is not None:
            self.relaunch.start_from(snapshot)
