"""The snapshot browser: filter, sort, page, select, bulk delete, relaunch, create.

Pages come from the site's snapshot index once it has loaded (a keystroke costs no request),
and from one Glance page request until then. Deleting, relaunching and creating run as flows
through the job runner; the panel shows each job and applies its result to the index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import (
    Flavor,
    KeyPair,
    Page,
    Server,
    Snapshot,
    SnapshotQuery,
    SnapshotSort,
)
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared, load_flow
from denbi_jupyter.panels._html import Tone, badge, esc, notice, title
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels._snapshot_table import SnapshotTable, can_delete
from denbi_jupyter.panels.images import flavor_label
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["PER_PAGE_CHOICES", "SnapshotPanel", "delete_outcomes"]

#: Page sizes offered in the per-page selector.
PER_PAGE_CHOICES: tuple[int, ...] = (10, 25, 50, 100)
_SORT_LABELS = {
    SnapshotSort.NEWEST: "Newest first",
    SnapshotSort.OLDEST: "Oldest first",
    SnapshotSort.NAME: "Name",
    SnapshotSort.SIZE: "Size (largest first)",
}
_CONFIRM_LIST = 12
_BTN = w.Layout(width="auto")


def delete_outcomes(result: object, names: Mapping[str, str]) -> list[tuple[str, str, bool, str]]:
    """Per-item outcomes ``(id, name, gone, message)`` from ``flows.delete.delete_snapshots``.

    The flow returns ``{"results": [{"id", "name", "result"}]}`` where ``result`` is
    ``deleted``, ``not found`` (already gone), ``refused: …`` or ``failed: …``. Snapshots may
    share a name, so callers match outcomes by id.
    """
    listed = result.get("results") if isinstance(result, Mapping) else None
    outcomes: list[tuple[str, str, bool, str]] = []
    for entry in listed if isinstance(listed, Sequence) else ():
        if not isinstance(entry, Mapping):
            continue
        image_id = str(entry.get("id") or "")
        name = names.get(image_id) or str(entry.get("name") or image_id)
        text = str(entry.get("result") or "")
        if text == "deleted":
            outcomes.append((image_id, name, True, "deleted"))
        elif text == "not found":
            outcomes.append((image_id, name, True, "already gone"))
        else:
            outcomes.append((image_id, name, False, text or "not deleted"))
    return outcomes


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

    text = t.Unicode("").tag(sync=False)
    page = t.Int(1).tag(sync=False)
    per_page = t.Int(10).tag(sync=False)
    sort = t.UseEnum(SnapshotSort, default_value=SnapshotSort.NEWEST).tag(sync=False)
    current = t.Any(None).tag(sync=False)  # Page[Snapshot] | None
    from_index = t.Bool(False).tag(sync=False)
    selected = t.Tuple().tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    index_state = t.Unicode("idle").tag(sync=False)
    index_count = t.Int(0).tag(sync=False)
    selecting = t.Bool(False).tag(sync=False)
    confirm = t.Tuple().tag(sync=False)
    deleting = t.Bool(False).tag(sync=False)
    delete_results: t.List[Any] = t.List().tag(sync=False)
    launch_id = t.Unicode("").tag(sync=False)
    launching = t.Bool(False).tag(sync=False)
    launch_error = t.Unicode("").tag(sync=False)
    servers: t.List[Any] = t.List().tag(sync=False)
    flavors: t.List[Any] = t.List().tag(sync=False)
    keypairs: t.List[Any] = t.List().tag(sync=False)
    snap_server_id = t.Unicode("").tag(sync=False)
    snap_name = t.Unicode("").tag(sync=False)
    preflight = t.Any(None).tag(sync=False)
    preflighting = t.Bool(False).tag(sync=False)
    creating = t.Bool(False).tag(sync=False)
    create_error = t.Unicode("").tag(sync=False)
    notice_text = t.Unicode("").tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        show_site_picker: bool = True,
    ) -> None:
        self._known: dict[str, Snapshot] = {}
        self._project_id: str | None = None
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        self._filter = w.Text(
            placeholder="Filter by name, project or OpenStack ID…",
            continuous_update=True,
            layout=w.Layout(width="320px"),
        )
        self._sort = w.Dropdown(
            options=[(label, s.value) for s, label in _SORT_LABELS.items()],
            description="Sort",
            layout=w.Layout(width="220px"),
        )
        self._per_page = w.Dropdown(
            options=[(f"{n} per page", n) for n in PER_PAGE_CHOICES], layout=w.Layout(width="130px")
        )
        for box in (self._sort,):
            box.style.description_width = "36px"
        self._refresh = w.Button(description="Reload", icon="refresh", layout=_BTN)
        self._index_badge = w.HTML()
        self._select_page = w.Button(description="Select page", icon="check-square-o", layout=_BTN)
        self._select_matching = w.Button(description="Select all matching", layout=_BTN)
        self._clear_selection = w.Button(description="Clear selection", layout=_BTN)
        self._selection_label = w.HTML()
        self._delete_selected = w.Button(
            description="Delete selected", icon="trash", button_style="danger", layout=_BTN
        )
        self._confirm_html = w.HTML()
        self._confirm_yes = w.Button(button_style="danger", icon="trash", layout=_BTN)
        self._confirm_no = w.Button(description="Cancel", layout=_BTN)
        self._confirm_box = w.VBox(
            [self._confirm_html, w.HBox([self._confirm_yes, self._confirm_no])],
            layout=w.Layout(border="1px solid #f1aeb5", padding="6px 10px", margin="4px 0"),
        )
        self._confirm_box.add_class("denbi-confirm")
        self._results = w.HTML()
        self.table = SnapshotTable(
            on_check=self._guard(self._on_check),
            on_delete=self._guard(self.ask_delete_one),
            on_launch=self._guard(self.open_launch),
        )
        self._empty = w.HTML()
        self._prev = w.Button(description="‹ Previous", layout=_BTN)
        self._next = w.Button(description="Next ›", layout=_BTN)
        self._page_label = w.HTML()
        self._launch_head = w.HTML()
        self._launch_name = w.Text(description="Name")
        self._launch_flavor = w.Dropdown(description="Flavor", options=[])
        self._launch_key = w.Dropdown(description="Key pair", options=[("none", "")])
        for field in (self._launch_name, self._launch_flavor, self._launch_key):
            field.style.description_width = "70px"
            field.layout.width = "460px"
        self._launch_go = w.Button(
            description="Start VM", icon="play", button_style="success", layout=_BTN
        )
        self._launch_cancel = w.Button(description="Cancel", layout=_BTN)
        self._launch_note = w.HTML()
        self._launch_box = w.VBox(
            [
                self._launch_head,
                self._launch_name,
                self._launch_flavor,
                self._launch_key,
                w.HBox([self._launch_go, self._launch_cancel]),
                self._launch_note,
            ],
            layout=w.Layout(border="1px solid #a3cfbb", padding="6px 10px", margin="4px 0"),
        )
        self._snap_server = w.Dropdown(description="VM", options=[], layout=w.Layout(width="460px"))
        self._snap_name = w.Text(
            description="Name",
            placeholder="e.g. rnaseq-vm-2026-06-10",
            layout=w.Layout(width="460px"),
        )
        for field in (self._snap_server, self._snap_name):
            field.style.description_width = "70px"
        self._preflight_html = w.HTML()
        self._snap_go = w.Button(
            description="Create snapshot", icon="camera", button_style="primary", layout=_BTN
        )
        self._create_box = w.VBox(
            [
                w.HTML(title("Create a snapshot", sub="pre-flight checks run as you type")),
                self._snap_server,
                self._snap_name,
                self._preflight_html,
                w.HBox([self._snap_go]),
            ],
            layout=w.Layout(border="1px solid #dee2e6", padding="6px 10px", margin="8px 0"),
        )
        self._create_box.add_class("denbi-snapshot-create")
        self.jobs = JobList(empty_text="Snapshot, delete and start jobs appear here.")
        super().__init__(source, sites=sites, site=site, runner=runner)
        self.add_class("denbi-snapshot-panel")
        self._layout([
            w.HBox(
                [self._site_picker, self._filter, self._sort, self._per_page, self._refresh],
                layout=w.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self._index_badge,
            self._error_box,
            w.HBox(
                [
                    self._select_page,
                    self._select_matching,
                    self._clear_selection,
                    self._selection_label,
                    self._delete_selected,
                ],
                layout=w.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self._confirm_box,
            self._results,
            self.table,
            self._empty,
            w.HBox(
                [self._prev, self._page_label, self._next],
                layout=w.Layout(align_items="center", justify_content="center"),
            ),
            self._launch_box,
            self._create_box,
            self.jobs,
        ])  # fmt: skip
        self._follow_site_picker(self._site_picker)
        self._filter.observe(self._guard(self._picked("text")), names="value")
        self._sort.observe(self._guard(self._on_sort_picked), names="value")
        self._per_page.observe(self._guard(self._picked("per_page")), names="value")
        self._snap_server.observe(self._guard(self._picked("snap_server_id")), names="value")
        self._snap_name.observe(self._guard(self._picked("snap_name")), names="value")
        self._refresh.on_click(self._guard(lambda _b: self.reload(fresh=True)))
        self._select_page.on_click(self._guard(lambda _b: self.toggle_page()))
        self._select_matching.on_click(self._guard(lambda _b: self.select_all_matching()))
        self._clear_selection.on_click(self._guard(lambda _b: self.clear_selection()))
        self._delete_selected.on_click(self._guard(lambda _b: self.ask_delete(self.selected)))
        self._confirm_yes.on_click(self._guard(lambda _b: self.confirm_delete()))
        self._confirm_no.on_click(self._guard(lambda _b: self.cancel_delete()))
        self._prev.on_click(self._guard(lambda _b: self.go_to(self.page - 1)))
        self._next.on_click(self._guard(lambda _b: self.go_to(self.page + 1)))
        self._launch_go.on_click(self._guard(lambda _b: self.launch()))
        self._launch_cancel.on_click(self._guard(lambda _b: self.close_launch()))
        self._snap_go.on_click(self._guard(lambda _b: self.create_snapshot()))
        self.shared.warm_runner()
        self.reload()
        self._render()

    # --- inputs -> traits -----------------------------------------------------------------------
    def _picked(self, name: str) -> Callable[[dict[str, Any]], None]:
        def apply(change: dict[str, Any]) -> None:
            if change["new"] is not None:
                setattr(self, name, change["new"])

        return apply

    def _on_sort_picked(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.sort = SnapshotSort(change["new"])

    # --- loading ----------------------------------------------------------------------------
    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            # Work started for the old site must not land in the new site's selection or index.
            self._cancel("select-all", busy="selecting")
            self._cancel("add")
            self._cancel("forget")
            self._project_id = None
            self.selected, self.confirm, self.delete_results = (), (), []
            self.notice_text = ""
            self.launch_id, self.preflight, self.snap_server_id = "", None, ""
            self.current, self.from_index = None, False
            self.reload()

    def reload(self, *, fresh: bool = False) -> None:
        """Load the index, the current page and the project's VMs, flavors and key pairs.

        Args:
            fresh: Fetch the snapshot index again even when it is loaded (the Reload button).
        """
        self.error = ""
        self._load_index(fresh=fresh)
        self._refresh_page()
        self.reload_servers()

    def _load_index(self, *, fresh: bool = False) -> None:
        self.index_state, self.index_count = "loading", 0
        site = self.site

        def progress(done: int, _total: object) -> None:
            if self.site == site:  # a slow load of a site left behind reports nothing
                self._set_index_count(done)

        def load(client: CloudClient) -> tuple[int, str]:
            project_id = client.project_id
            index = client.snapshot_index()
            if fresh or not index.loaded:
                index.load(progress=progress)
            return index.query(SnapshotQuery(per_page=1)).total or 0, project_id

        def loaded(result: tuple[int, str]) -> None:
            count, self._project_id = result
            self.index_count = count
            self.index_state = "loaded"
            self._refresh_page()

        def failed(exc: BaseException) -> None:
            self.index_state = "failed"
            self.error = describe_error(exc)

        self._call("index", load, loaded, on_error=failed)

    def _set_index_count(self, count: int) -> None:
        self.index_count = count

    def reload_servers(self) -> None:
        """Fetch the project's VMs, flavors and key pairs again (for the forms)."""

        def fetch(client: CloudClient) -> tuple[list[Server], list[Flavor], list[KeyPair]]:
            return client.list_servers(), client.list_flavors(), client.list_keypairs()

        def apply(data: tuple[list[Server], list[Flavor], list[KeyPair]]) -> None:
            servers, flavors, keypairs = data
            self.flavors, self.keypairs, self.servers = list(flavors), list(keypairs), list(servers)
            if self.snap_server_id not in {s.id for s in servers}:
                self.snap_server_id = servers[0].id if servers else ""

        self._call("compute", fetch, apply)

    @t.observe("text", "per_page", "sort")
    def _on_query_change(self, change: dict[str, Any]) -> None:
        if self.page != 1:
            self.page = 1  # observed below: refreshes
        else:
            self._refresh_page(typed=change["name"] == "text")

    @t.observe("page")
    def _on_page_change(self, change: dict[str, Any]) -> None:
        self._refresh_page()

    def query(self) -> SnapshotQuery:
        """The query the panel shows."""
        return SnapshotQuery(text=self.text, page=self.page, per_page=self.per_page, sort=self.sort)

    def _refresh_page(self, *, typed: bool = False) -> None:
        query = self.query()
        indexed = self.index_state == "loaded"

        def fetch(client: CloudClient) -> tuple[Page[Snapshot], bool]:
            index = client.snapshot_index()
            if index.loaded:
                return index.query(query), True
            return client.list_snapshots(query), False

        def apply(result: tuple[Page[Snapshot], bool]) -> None:
            page, from_index = result
            for snapshot in page.items:
                self._known[snapshot.id] = snapshot
            if self.error and self.index_state != "failed":
                self.error = ""
            self.from_index = from_index
            self.current = page

        # Typing waits for a pause only while pages still cost a request.
        delay = self.shared.debounce_s if typed and not indexed else 0.0
        self._call("page", fetch, apply, busy="loading", delay=delay)

    def go_to(self, page: int) -> None:
        """Show page ``page`` (1-based), clamped to the pages that exist."""
        current: Page[Snapshot] | None = self.current
        last = current.pages if current is not None and current.pages else None
        if page < 1 or (last is not None and page > last):
            return
        if current is not None and page > self.page and not current.has_next:
            return
        self.page = page

    # --- selection -----------------------------------------------------------------------------
    def _on_check(self, snapshot_id: str, checked: bool) -> None:
        chosen = [s for s in self.selected if s != snapshot_id]
        if checked:
            chosen.append(snapshot_id)
        self.selected = tuple(chosen)

    def toggle_page(self) -> None:
        """Select every deletable snapshot on this page, or clear them if all are selected."""
        page_ids = [s.id for s in self._page_items() if not can_delete(s, self._project_id)]
        chosen = set(self.selected)
        if page_ids and all(i in chosen for i in page_ids):
            self.selected = tuple(i for i in self.selected if i not in set(page_ids))
        else:
            self.selected = tuple(dict.fromkeys([*self.selected, *page_ids]))

    def select_all_matching(self) -> None:
        """Select every deletable snapshot that matches the filter, on all pages."""
        text, sort, project_id = self.text, self.sort, self._project_id

        def collect(client: CloudClient) -> tuple[list[Snapshot], int]:
            index = client.snapshot_index()
            source = index.query if index.loaded else client.list_snapshots
            found: list[Snapshot] = []
            page = 1
            while True:
                result = source(SnapshotQuery(text=text, page=page, per_page=1000, sort=sort))
                found.extend(result.items)
                if not result.has_next:
                    break
                page += 1
            keep = [s for s in found if not can_delete(s, project_id)]
            return keep, len(found) - len(keep)

        def apply(result: tuple[list[Snapshot], int]) -> None:
            keep, left_out = result
            for snapshot in keep:
                self._known[snapshot.id] = snapshot
            self.selected = tuple(dict.fromkeys([*self.selected, *(s.id for s in keep)]))
            self.notice_text = f"Selected {len(keep):,} matching snapshots" + (
                f"; {left_out:,} protected or other projects' were left out." if left_out else "."
            )

        self._call("select-all", collect, apply, busy="selecting")

    def clear_selection(self) -> None:
        """Unselect everything."""
        self.selected = ()
        self.notice_text = ""

    # --- delete ----------------------------------------------------------------------------------
    def ask_delete(self, snapshot_ids: Sequence[str]) -> None:
        """Ask for confirmation before deleting ``snapshot_ids``."""
        self.delete_results = []
        self.confirm = tuple(dict.fromkeys(snapshot_ids))

    def ask_delete_one(self, snapshot_id: str) -> None:
        """Ask for confirmation before deleting one snapshot."""
        self.ask_delete([snapshot_id])

    def cancel_delete(self) -> None:
        """Close the confirmation without deleting."""
        self.confirm = ()

    def confirm_delete(self) -> None:
        """Delete the snapshots named in the confirmation, as a background job."""
        ids = list(self.confirm)
        if not ids:
            return
        names = {i: self._name_of(i) for i in ids}
        site = self.site

        def started(card: JobCard) -> None:
            self.confirm = ()
            card.on_done(lambda done: self._on_deleted(site, names, done))

        title_text = f"Delete {names[ids[0]]}" if len(ids) == 1 else f"Delete {len(ids)} snapshots"
        self._start_job(
            "delete",
            title_text,
            "delete:delete_snapshots",
            {"site": site, "image_ids": ids},
            jobs=self.jobs,
            describe_result=lambda result: _deleted_text(result, names),
            on_card=started,
            busy="deleting",
        )

    def _on_deleted(self, site: str, names: Mapping[str, str], job: Job) -> None:
        if job.state.value != "completed":
            self.delete_results = [(n, False, job.error or "failed") for n in names.values()]
            return
        outcomes = delete_outcomes(job.result, names)
        self.delete_results = [(name, ok, message) for _, name, ok, message in outcomes]
        gone = [image_id for image_id, _, ok, _ in outcomes if ok and image_id in names]
        gone_ids = set(gone)
        self.selected = tuple(i for i in self.selected if i not in gone_ids)
        if site != self.site:
            return

        def forget(client: CloudClient) -> None:
            client.snapshot_index().forget(gone)

        def forgotten(_value: None) -> None:
            if self.index_state == "loaded":
                self.index_count = max(0, self.index_count - len(gone))
            self._refresh_page()

        self._call("forget", forget, forgotten)

    # --- start a VM from a snapshot ---------------------------------------------------------------
    def open_launch(self, snapshot_id: str) -> None:
        """Show the start-VM form for a snapshot, with its recorded flavor preselected."""
        self.launch_error = ""
        self.launch_id = snapshot_id
        snapshot = self._known.get(snapshot_id)
        if snapshot is not None:
            stamp = dt.datetime.now(dt.UTC).strftime("%m%d-%H%M")
            self._launch_name.value = f"{snapshot.name[:40]}-vm-{stamp}"
            recorded = recorded_flavor(snapshot)
            match = [f.id for f in self.flavors if recorded in (f.name, f.id)]
            if match:
                self._launch_flavor.options = [(flavor_label(f), f.id) for f in self.flavors]
                self._launch_flavor.value = match[0]

    def close_launch(self) -> None:
        """Hide the start-VM form."""
        self.launch_id = ""

    def launch(self) -> None:
        """Boot a VM from the snapshot in the start-VM form."""
        snapshot = self._known.get(self.launch_id)
        name = self._launch_name.value.strip()
        if snapshot is None:
            self.launch_error = "Choose a snapshot to start a VM from."
            return
        if not name:
            self.launch_error = "Give the VM a name."
            return
        if not self._launch_flavor.value:
            self.launch_error = "Choose a flavor."
            return
        parameters: dict[str, object] = {
            "site": self.site,
            "image": snapshot.id,
            "flavor": self._launch_flavor.value,
            "key_name": self._launch_key.value or None,
            "name": name,
        }

        def started(_card: JobCard) -> None:
            self.launch_id = ""

        self._start_job(
            "launch",
            f"Start {name} from {snapshot.name}",
            "boot:boot_server",
            parameters,
            jobs=self.jobs,
            describe_result=_started_text,
            on_card=started,
            busy="launching",
        )

    # --- create a snapshot ------------------------------------------------------------------------
    @t.observe("snap_server_id", "snap_name")
    def _on_snapshot_form(self, change: dict[str, Any]) -> None:
        if change["name"] == "snap_server_id" and change["new"]:
            server = self._server(change["new"])
            if server is not None and not self._snap_name.value.strip():
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
                self._snap_name.value = f"{server.name}-{stamp}"
        self._check_preflight()

    def _check_preflight(self) -> None:
        server_id, name = self.snap_server_id, self.snap_name
        self.create_error = ""
        if not server_id or not name.strip():
            self._cancel("preflight", busy="preflighting")
            self.preflight = None
            return

        def run(client: CloudClient) -> object:
            preflight = load_flow("snapshot:preflight")
            return preflight(client, server_id, name)

        self.preflight = None
        self._call(
            "preflight", run, self._set_preflight, busy="preflighting",
            delay=self.shared.debounce_s,
        )  # fmt: skip

    def _set_preflight(self, result: object) -> None:
        self.preflight = result

    def create_snapshot(self) -> None:
        """Start the snapshot flow for the chosen VM and name (after pre-flight passed)."""
        check = self.preflight
        if check is None or not getattr(check, "ok", False):
            self.create_error = "Wait for the pre-flight checks to pass before starting."
            return
        server = self._server(self.snap_server_id)
        name = str(getattr(check, "name", "") or self.snap_name.strip())
        site = self.site

        def started(card: JobCard) -> None:
            card.on_done(lambda done: self._on_snapshot_done(site, done))
            self._snap_name.value = ""

        server_name = server.name if server else self.snap_server_id
        self._start_job(
            "snapshot",
            f"Snapshot {server_name} → {name}",
            "snapshot:create_snapshot",
            {"site": site, "server": self.snap_server_id, "name": name},
            jobs=self.jobs,
            describe_result=_snapshot_text,
            on_card=started,
            busy="creating",
        )

    def _on_snapshot_done(self, site: str, job: Job) -> None:
        if job.state.value != "completed" or site != self.site:
            return
        image_id = _image_id_of(job.result)
        if image_id is None:
            self._refresh_page()
            return

        def add(client: CloudClient) -> bool:
            snapshot = client.get_snapshot(image_id)
            if snapshot is not None:
                client.snapshot_index().add(snapshot)
            return snapshot is not None

        def added(known: bool) -> None:
            if known and self.index_state == "loaded":
                self.index_count += 1
            self._refresh_page()

        self._call("add", add, added)

    # --- helpers ---------------------------------------------------------------------------------
    def _page_items(self) -> tuple[Snapshot, ...]:
        current: Page[Snapshot] | None = self.current
        return current.items if current is not None else ()

    def _name_of(self, snapshot_id: str) -> str:
        snapshot = self._known.get(snapshot_id)
        return snapshot.name if snapshot is not None else snapshot_id

    def _server(self, server_id: str) -> Server | None:
        return next((s for s in self.servers if s.id == server_id), None)

    # --- view ------------------------------------------------------------------------------------
    @t.observe(
        "current", "selected", "loading", "index_state", "index_count", "selecting", "confirm",
        "deleting", "delete_results", "launch_id", "launching", "launch_error", "servers",
        "flavors", "keypairs", "snap_server_id", "preflight", "preflighting", "creating",
        "create_error", "notice_text", "error", "text", "per_page", "sort",
    )  # fmt: skip
    def _on_state(self, change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        self._sync_inputs()
        self._render_index_badge()
        self._render_table()
        self._render_selection()
        self._render_confirm()
        self._render_launch()
        self._render_create()

    def _sync_inputs(self) -> None:
        if self._site_picker.value != self.site:
            self._site_picker.value = self.site
        if self._filter.value != self.text:
            self._filter.value = self.text
        if self._sort.value != self.sort.value:
            self._sort.value = self.sort.value
        if self._per_page.value != self.per_page:
            if self.per_page not in PER_PAGE_CHOICES:
                self._per_page.options = [
                    (f"{n} per page", n) for n in sorted({*PER_PAGE_CHOICES, self.per_page})
                ]
            self._per_page.value = self.per_page

    def _render_index_badge(self) -> None:
        self._refresh.disabled = self.loading or self.index_state == "loading"
        if self.index_state == "loading":
            text = badge(f"indexing snapshots… {self.index_count:,} so far", Tone.BUSY)
            hint = " Filtering by name works once the index is loaded."
        elif self.index_state == "loaded":
            text = badge(f"index: {self.index_count:,} snapshots", Tone.OK)
            hint = ""
        elif self.index_state == "failed":
            text, hint = badge("index not loaded", Tone.ERROR), " Reload to try again."
        else:
            text, hint = "", ""
        busy = badge("loading…", Tone.BUSY) if self.loading else ""
        self._index_badge.value = (
            f'<div style="margin:2px 0;font-size:12px;color:#6c757d">{text}{busy}{esc(hint)}</div>'
        )

    def _render_table(self) -> None:
        current: Page[Snapshot] | None = self.current
        items = current.items if current is not None else ()
        self.table.render(
            items, selected=set(self.selected), project_id=self._project_id, busy=self.deleting
        )
        if current is None:
            self._empty.value = notice(f"Loading the snapshots of {self.site}…", Tone.BUSY)
        elif not items and self.text.strip():
            self._empty.value = notice(
                f"No snapshots match '{self.text.strip()}'. Try part of a name, a project name "
                "or an ID.",
                Tone.MUTED,
            )
        elif not items:
            self._empty.value = notice(
                f"No snapshots on {self.site} yet: create one below.", Tone.MUTED
            )
        else:
            self._empty.value = ""
        page = current.page if current is not None else self.page
        pages = current.pages if current is not None else None
        total = current.total if current is not None else None
        of = f" of {pages:,}" if pages else ""
        count = f" · {total:,} snapshots" if total is not None else ""
        self._page_label.value = (
            f'<span style="margin:0 12px;color:#495057">Page {page:,}{of}{count}</span>'
        )
        self._prev.disabled = page <= 1 or self.loading
        self._next.disabled = current is None or not current.has_next or self.loading

    def _render_selection(self) -> None:
        n = len(self.selected)
        page_ids = [s.id for s in self._page_items() if not can_delete(s, self._project_id)]
        all_on_page = bool(page_ids) and all(i in set(self.selected) for i in page_ids)
        self._select_page.description = "Unselect page" if all_on_page else "Select page"
        self._select_page.disabled = not page_ids
        total = self.current.total if self.current is not None else None
        self._select_matching.description = (
            "Selecting…"
            if self.selecting
            else f"Select all {total:,} matching"
            if total is not None
            else "Select all matching"
        )
        self._select_matching.disabled = self.selecting or not self._page_items()
        self._clear_selection.disabled = n == 0
        self._delete_selected.disabled = n == 0 or self.deleting or bool(self.confirm)
        self._delete_selected.description = f"Delete selected ({n:,})" if n else "Delete selected"
        note = f" · {esc(self.notice_text)}" if self.notice_text else ""
        self._selection_label.value = (
            f'<span style="margin:0 8px;color:#495057"><b>{n:,}</b> selected{note}</span>'
        )

    def _render_confirm(self) -> None:
        ids = self.confirm
        if not ids:
            self._confirm_box.layout.display = "none"
        else:
            self._confirm_box.layout.display = ""
            names = [self._name_of(i) for i in ids]
            listed = "".join(f"<li>{esc(n)}</li>" for n in names[:_CONFIRM_LIST])
            more = (
                f"<li>… and {len(names) - _CONFIRM_LIST:,} more</li>"
                if len(names) > _CONFIRM_LIST
                else ""
            )
            what = f"these {len(ids):,} snapshots" if len(ids) > 1 else "this snapshot"
            self._confirm_html.value = (
                f"<div><b>Delete {what} from {esc(self.site)}?</b> This cannot be undone.</div>"
                f'<ul style="margin:4px 0 4px 18px;padding:0">{listed}{more}</ul>'
            )
            self._confirm_yes.description = "Deleting…" if self.deleting else f"Delete {len(ids):,}"
            self._confirm_yes.disabled = self.deleting
            self._confirm_no.disabled = self.deleting
        if not self.delete_results:
            self._results.value = ""
            return
        rows = "".join(
            f"<li>{badge('deleted', Tone.OK) if ok else badge('not deleted', Tone.ERROR)} "
            f"{esc(name)}{'' if ok else ': ' + esc(message)}</li>"
            for name, ok, message in self.delete_results
        )
        done = sum(1 for _, ok, _ in self.delete_results if ok)
        self._results.value = (
            f'<div style="margin:4px 0"><b>{done} of {len(self.delete_results)} deleted</b>'
            f'<ul style="margin:2px 0 2px 18px;padding:0;list-style:none">{rows}</ul></div>'
        )

    def _render_launch(self) -> None:
        snapshot = self._known.get(self.launch_id) if self.launch_id else None
        if snapshot is None:
            self._launch_box.layout.display = "none"
            return
        self._launch_box.layout.display = ""
        recorded = recorded_flavor(snapshot)
        hint = (
            f"Flavor recorded with the snapshot: <b>{esc(recorded)}</b>."
            if recorded
            else "No flavor was recorded with this snapshot: choose one."
        )
        self._launch_head.value = title(f"Start a VM from {snapshot.name}") + (
            f'<div style="color:#6c757d;font-size:12px">{hint}</div>'
        )
        options = [(flavor_label(f), f.id) for f in self.flavors]
        if list(self._launch_flavor.options) != options:
            current = self._launch_flavor.value
            self._launch_flavor.options = options
            match = [f.id for f in self.flavors if recorded in (f.name, f.id)]
            ids = [v for _, v in options]
            self._launch_flavor.value = (
                current if current in ids else match[0] if match else ids[0] if ids else None
            )
        keys: list[tuple[str, str]] = [("none", "")] + [(k.name, k.name) for k in self.keypairs]
        if list(self._launch_key.options) != keys:
            self._launch_key.options = keys
        self._launch_go.disabled = self.launching
        self._launch_go.description = "Starting…" if self.launching else "Start VM"
        self._launch_note.value = notice(self.launch_error, Tone.ERROR) if self.launch_error else ""

    def _render_create(self) -> None:
        options = [(f"{s.name}  ·  {s.status}", s.id) for s in self.servers]
        if list(self._snap_server.options) != options:
            self._snap_server.options = options
        ids = {value for _, value in options}
        self._snap_server.value = self.snap_server_id if self.snap_server_id in ids else None
        self._snap_server.disabled = not options
        check = self.preflight
        parts: list[str] = []
        if not self.servers:
            parts.append(notice("This project has no VMs on this site to snapshot.", Tone.MUTED))
        elif self.preflighting:
            parts.append(badge("checking…", Tone.BUSY))
        elif check is not None:
            for message in getattr(check, "errors", ()):
                parts.append(notice(message, Tone.ERROR))
            for message in getattr(check, "warnings", ()):
                parts.append(notice(message, Tone.WARN))
            if getattr(check, "ok", False) and not getattr(check, "warnings", ()):
                parts.append(notice("All pre-flight checks passed.", Tone.OK))
        if self.create_error:
            parts.append(notice(self.create_error, Tone.ERROR))
        self._preflight_html.value = "".join(parts)
        ready = check is not None and getattr(check, "ok", False) and not self.preflighting
        self._snap_go.disabled = self.creating or not ready
        self._snap_go.description = "Starting…" if self.creating else "Create snapshot"


def recorded_flavor(snapshot: Snapshot) -> str:
    """The flavor a snapshot was taken on: property ``denbi_flavor``, else the recorded name."""
    return snapshot.properties.get("denbi_flavor") or snapshot.flavor_name or ""


def _image_id_of(result: object) -> str | None:
    if isinstance(result, Mapping):
        value = result.get("image_id") or result.get("id")
        return value if isinstance(value, str) else None
    return None


def _snapshot_text(result: object) -> str:
    if isinstance(result, Mapping):
        status = result.get("status") or "active"
        return f"Snapshot {result.get('name', '')} is {status}."
    return "The snapshot is ready."


def _started_text(result: object) -> str:
    server = result.get("server") if isinstance(result, Mapping) else None
    if isinstance(server, Mapping):
        return f"{server.get('name') or 'The VM'} is {server.get('status') or 'ACTIVE'}."
    return "The VM is running."


def _deleted_text(result: object, names: Mapping[str, str]) -> str:
    outcomes = delete_outcomes(result, names)
    done = sum(1 for _, _, ok, _ in outcomes if ok)
    return f"{done} of {len(names)} deleted."
