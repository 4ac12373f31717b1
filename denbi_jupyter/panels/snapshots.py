"""The snapshot browser: a thin panel composing four components.

* :class:`~denbi_jupyter.panels._snapshot_table.SnapshotTable`: filter, sort, paging, selection;
* :class:`~denbi_jupyter.panels._snapshot_delete.DeleteConfirmation`: confirm, delete, outcomes;
* :class:`~denbi_jupyter.panels._snapshot_relaunch.RelaunchForm`: start a VM from a snapshot;
* :class:`~denbi_jupyter.panels._snapshot_create.CreateSnapshotForm`: pre-flight and snapshot.

Each has its own traits and one render, so a filter keystroke re-renders the table page and its
count only. The panel wires their events together, loads the VMs, flavors and key pairs the
forms offer, and keeps every component on its site. The table hosts the delete confirmation
(under the row it is about, or under the selection bar for a bulk delete), and a finished
delete report goes when the table shows other rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Flavor, KeyPair, Page, Server, Snapshot
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels._snapshot_create import CreateSnapshotForm
from denbi_jupyter.panels._snapshot_delete import DeleteConfirmation, delete_outcomes
from denbi_jupyter.panels._snapshot_relaunch import RelaunchForm, recorded_flavor
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
    """

    #: The table's filter text (linked both ways), e.g. ``panel.text = "rnaseq"``.
    text = t.Unicode("").tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        show_site_picker: bool = True,
    ) -> None:
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        self.jobs = JobList(empty_text="Snapshot, delete and start jobs appear here.")
        super().__init__(source, sites=sites, site=site, runner=runner)
        shared, first = self.shared, self.site
        self.table = SnapshotTable(shared, site=first, lead=[self._site_picker])
        self.confirmation = DeleteConfirmation(shared, site=first, jobs=self.jobs)
        self.relaunch = RelaunchForm(shared, site=first, jobs=self.jobs)
        self.create = CreateSnapshotForm(shared, site=first, jobs=self.jobs)
        self.add_class("denbi-snapshot-panel")
        self.table.host(self.confirmation)  # shown in the table, next to what it is about
        self._layout([self.table, self.relaunch, self.create, self.jobs])
        for part in self._parts():
            t.dlink((self, "site"), (part, "site"))
        t.link((self, "text"), (self.table, "text"))
        t.dlink((self.confirmation, "deleting"), (self.table, "deleting"))
        t.dlink((self.confirmation, "ids"), (self.table, "confirming"), bool)
        self._follow_site_picker(self._site_picker)
        self.table.on_delete(self.ask_delete)
        self.table.observe(
            self._guard(lambda _change: self.confirmation.clear_results()),
            names=["text", "page", "per_page", "sort"],
        )  # a finished report is about rows the table no longer shows
        self.table.on_launch(self.open_launch)
        self.confirmation.on_deleted(self.table.forget)
        self.create.on_created(self.table.add)
        self.shared.warm_runner()
        self.table.reload()
        self.reload_servers()

    def _parts(self) -> Iterable[Panel]:
        return (self.table, self.confirmation, self.relaunch, self.create)

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

    def open_launch(self, snapshot_id: str) -> None:
        """Show the start-VM form for a snapshot, with its recorded flavor preselected."""
        snapshot = self.table.known(snapshot_id)
        if snapshot is not None:
            self.relaunch.start_from(snapshot)
