"""The snapshot table: filter, sort, per-page size, paging, selection, and the index badge.

One component with its own traits and one render. Pages come from the site's snapshot index
once it has loaded (a filter keystroke costs no request), and from one Glance page request
until then. It asks for deletes and relaunches through events (:meth:`SnapshotTable.on_delete`,
:meth:`SnapshotTable.on_launch`); the forms that do them are other components.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.deletion import deletion_refusal
from denbi_jupyter.cloud.rules.listing import ListingSource, plan_listing
from denbi_jupyter.cloud.types import Page, Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind
from denbi_jupyter.panels._html import Tone, badge, esc, notice
from denbi_jupyter.panels._snapshot_rows import SnapshotRow, SnapshotRows

__all__ = ["PER_PAGE_CHOICES", "SORT_LABELS", "SnapshotTable", "fetch_page", "query_widgets"]

#: Page sizes offered in the per-page selector.
PER_PAGE_CHOICES: tuple[int, ...] = (10, 25, 50, 100)
SORT_LABELS = {
    SnapshotSort.NEWEST: "Newest first",
    SnapshotSort.OLDEST: "Oldest first",
    SnapshotSort.NAME: "Name",
    SnapshotSort.SIZE: "Size (largest first)",
}
_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
_ROW = w.Layout(flex_flow="row wrap", align_items="center", max_width="100%")


def plural(count: int, noun: str) -> str:
    """``1 snapshot``, ``2 snapshots``, ``1,234 snapshots``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def fetch_page(client: CloudClient, query: SnapshotQuery) -> tuple[Page[Snapshot], bool]:
    """One page for ``query`` from where the domain's listing plan says, and whether it came
    from the index (a loaded index answers every query: the table loaded it on purpose)."""
    index = client.snapshot_index()
    loaded = index.loaded  # then the plan is the index whatever the names: do not ask them
    plan = plan_listing(
        query,
        index_loaded=loaded,
        project_id=client.project_id,
        project_names={} if loaded else client.project_names(),
        prefer_index=True,
    )
    if plan.source is ListingSource.INDEX:
        return index.query(query), True
    if plan.source is ListingSource.EMPTY:
        return Page(
            items=(), page=query.page, per_page=query.per_page, total=0, has_next=False
        ), False
    return client.list_snapshots(query), False


def query_widgets(per_page_width: str) -> tuple[w.Text, w.Dropdown, w.Dropdown, w.Button]:
    """The filter box, sort and page-size pickers and the Reload button of a snapshot table."""
    text = w.Text(
        placeholder="Filter by name, project or OpenStack ID…",
        continuous_update=True,
        layout=w.Layout(width="320px", max_width="100%"),
    )
    sort = w.Dropdown(
        options=[(label, key) for key, label in SORT_LABELS.items()],
        description="Sort",
        layout=w.Layout(width="220px"),
    )
    sort.style.description_width = "36px"
    per_page = w.Dropdown(options=[], layout=w.Layout(width=per_page_width))
    return text, sort, per_page, w.Button(description="Reload", icon="refresh", layout=_BTN)


class SnapshotTable(Panel):
    """Browse one site's snapshots a page at a time and select some of them.

    Args:
        shared: The shared state of the parent panel.
        site: The site to show.
        lead: Widgets to put first in the toolbar (the parent's site picker).
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
    notice_text = t.Unicode("").tag(sync=False)
    project_id = t.Unicode(None, allow_none=True).tag(sync=False)
    #: Set by the parent while a delete runs or is being confirmed.
    deleting = t.Bool(False).tag(sync=False)
    confirming = t.Bool(False).tag(sync=False)
    #: The row a hosted widget (the delete confirmation) is shown under; "" for the top.
    anchor = t.Unicode("").tag(sync=False)

    def __init__(self, shared: Shared, *, site: str, lead: Sequence[w.Widget] = ()) -> None:
        self._known: dict[str, Snapshot] = {}
        self._hosted: w.Widget | None = None
        self._slot = w.Box(layout=w.Layout(flex_flow="column", width="100%"))
        self._delete_requests = w.CallbackDispatcher()
        self._launch_requests = w.CallbackDispatcher()
        self._copy_requests = w.CallbackDispatcher()
        self._filter, self._sort, self._per_page, self._refresh = query_widgets("130px")
        self._index_badge = w.HTML()
        self._select_page = w.Button(description="Select page", icon="check-square-o", layout=_BTN)
        self._select_matching = w.Button(description="Select all matching", layout=_BTN)
        self._clear_selection = w.Button(description="Clear selection", layout=_BTN)
        self._selection_label = w.HTML()
        self._delete_selected = w.Button(
            description="Delete selected", icon="trash", button_style="danger", layout=_BTN
        )
        self.rows_view = SnapshotRows(
            on_check=self._guard(self._on_check),
            on_delete=self._guard(lambda snapshot_id: self._ask_delete((snapshot_id,))),
            on_launch=self._guard(
                lambda snapshot_id: self._fire(self._launch_requests, snapshot_id)
            ),
            on_copy=self._guard(lambda snapshot_id: self._fire(self._copy_requests, snapshot_id)),
        )
        self._empty = w.HTML()
        self._prev = w.Button(description="‹ Previous", layout=_BTN)
        self._next = w.Button(description="Next ›", layout=_BTN)
        self._page_label = w.HTML()
        super().__init__(shared, site=site)
        self._layout([
            w.HBox([*lead, self._filter, self._sort, self._per_page, self._refresh], layout=_ROW),
            self._index_badge,
            self._error_box,
            w.HBox(
                [self._select_page, self._select_matching, self._clear_selection,
                 self._selection_label, self._delete_selected],
                layout=_ROW,
            ),
            self._slot,
            self.rows_view,
            self._empty,
            w.HBox(
                [self._prev, self._page_label, self._next],
                layout=w.Layout(
                    align_items="center", justify_content="center", flex_flow="row wrap"
                ),
            ),
        ])  # fmt: skip
        bind(self._filter, self, "text")
        bind(self._sort, self, "sort", empty=SnapshotSort.NEWEST, convert=SnapshotSort)
        self._per_page_choice = bind(self._per_page, self, "per_page", empty=10)
        self._refresh.on_click(self._guard(lambda _b: self.reload(fresh=True)))
        self._select_page.on_click(self._guard(lambda _b: self.toggle_page()))
        self._select_matching.on_click(self._guard(lambda _b: self.select_all_matching()))
        self._clear_selection.on_click(self._guard(lambda _b: self.clear_selection()))
        self._delete_selected.on_click(self._guard(lambda _b: self._ask_delete(self.selected)))
        self._prev.on_click(self._guard(lambda _b: self.go_to(self.page - 1)))
        self._next.on_click(self._guard(lambda _b: self.go_to(self.page + 1)))
        self._render()

    # --- events out ------------------------------------------------------------------------------
    def on_delete(
        self, callback: Callable[[tuple[str, ...]], object], remove: bool = False
    ) -> None:
        """Call ``callback(snapshot_ids)`` when the user asks to delete snapshots."""
        self._delete_requests.register_callback(callback, remove=remove)

    def on_launch(self, callback: Callable[[str], object], remove: bool = False) -> None:
        """Call ``callback(snapshot_id)`` when the user asks to start a VM from a snapshot."""
        self._launch_requests.register_callback(callback, remove=remove)

    def on_copy(self, callback: Callable[[str], object]) -> None:
        """Call ``callback(snapshot_id)`` when the user asks to copy a snapshot to a site."""
        self._copy_requests.register_callback(callback)

    def _ask_delete(self, snapshot_ids: Sequence[str]) -> None:
        self._fire(self._delete_requests, tuple(dict.fromkeys(snapshot_ids)))

    @property
    def rows(self) -> tuple[SnapshotRow, ...]:
        """The rows currently shown."""
        return self.rows_view.rows

    def host(self, widget: w.Widget) -> None:
        """Show ``widget`` under the row :attr:`anchor` names while it is on the page, else
        above the rows (under the selection bar)."""
        self._hosted = widget
        self._render()

    def known(self, snapshot_id: str) -> Snapshot | None:
        """A snapshot this table has shown or selected."""
        return self._known.get(snapshot_id)

    def name_of(self, snapshot_id: str) -> str:
        """The name of a known snapshot, else its id."""
        snapshot = self._known.get(snapshot_id)
        return snapshot.name if snapshot is not None else snapshot_id

    # --- loading -------------------------------------------------------------------------------
    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            # Work started for the old site must not land in the new site's selection or index.
            for key in ("select-all", "add", "forget", "index", "page"):
                self._cancel(key)
            self.selecting = self.loading = False
            self.project_id = None
            self.selected, self.notice_text = (), ""
            self.current, self.from_index = None, False
            self.reload()

    def reload(self, *, fresh: bool = False) -> None:
        """Load the index and the current page.

        Args:
            fresh: Fetch the snapshot index again even when it is loaded (the Reload button).
        """
        self.error = ""
        self._load_index(fresh=fresh)
        self._refresh_page()

    def _load_index(self, *, fresh: bool = False) -> None:
        self.index_state, self.index_count = "loading", 0
        site = self.site

        def progress(done: int, _total: object) -> None:
            if self.site == site:  # a slow load of a site left behind reports nothing
                self.index_count = done

        def load(client: CloudClient) -> tuple[int, str]:
            project_id = client.project_id
            index = client.snapshot_index()
            if fresh or not index.loaded:
                index.load(progress=progress)
            return index.query(SnapshotQuery(per_page=1)).total or 0, project_id

        def loaded(result: tuple[int, str]) -> None:
            self.index_count, self.project_id = result
            self.index_state = "loaded"
            self._refresh_page()

        def failed(exc: BaseException) -> None:
            self.index_state = "failed"
            self.error = describe_error(exc)

        self._call("index", load, loaded, on_error=failed)

    @t.observe("text", "per_page", "sort")
    def _on_query_change(self, change: dict[str, Any]) -> None:
        if self.page != 1:
            self.page = 1  # observed below: refreshes
        else:
            self._refresh_page(typed=change["name"] == "text")

    @t.observe("page")
    def _on_page_change(self, _change: dict[str, Any]) -> None:
        self._refresh_page()

    def query(self) -> SnapshotQuery:
        """The query the table shows."""
        return SnapshotQuery(text=self.text, page=self.page, per_page=self.per_page, sort=self.sort)

    def _refresh_page(self, *, typed: bool = False) -> None:
        query = self.query()
        indexed = self.index_state == "loaded"

        def fetch(client: CloudClient) -> tuple[Page[Snapshot], bool]:
            return fetch_page(client, query)

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

    def forget(self, site: str, snapshot_ids: Sequence[str]) -> None:
        """Drop deleted snapshots from the selection and (on this site) from the index."""
        gone = set(snapshot_ids)
        self.selected = tuple(i for i in self.selected if i not in gone)
        if site != self.site or not gone:
            return

        def forget(client: CloudClient) -> None:
            client.snapshot_index().forget(list(snapshot_ids))

        def forgotten(_value: None) -> None:
            if self.index_state == "loaded":
                self.index_count = max(0, self.index_count - len(gone))
            self._refresh_page()

        self._call("forget", forget, forgotten)

    def add(self, site: str, image_id: str | None) -> None:
        """Show a snapshot made on ``site`` (fetched once and added to the index)."""
        if site != self.site:
            return
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

    # --- selection ------------------------------------------------------------------------------
    def _page_items(self) -> tuple[Snapshot, ...]:
        current: Page[Snapshot] | None = self.current
        return current.items if current is not None else ()

    def _deletable_on_page(self) -> list[str]:
        project_id = self.project_id
        return [s.id for s in self._page_items() if deletion_refusal(s, project_id) is None]

    def _on_check(self, snapshot_id: str, checked: bool) -> None:
        chosen = [s for s in self.selected if s != snapshot_id]
        if checked:
            chosen.append(snapshot_id)
        self.selected = tuple(chosen)

    def toggle_page(self) -> None:
        """Select every deletable snapshot on this page, or clear them if all are selected."""
        page_ids = self._deletable_on_page()
        chosen = set(self.selected)
        if page_ids and all(i in chosen for i in page_ids):
            self.selected = tuple(i for i in self.selected if i not in set(page_ids))
        else:
            self.selected = tuple(dict.fromkeys([*self.selected, *page_ids]))

    def select_all_matching(self) -> None:
        """Select every deletable snapshot that matches the filter, on all pages."""
        text, sort, project_id = self.text, self.sort, self.project_id

        def collect(client: CloudClient) -> tuple[list[Snapshot], int]:
            found: list[Snapshot] = []
            page = 1
            while True:
                wanted = SnapshotQuery(text=text, page=page, per_page=1000, sort=sort)
                result, _ = fetch_page(client, wanted)
                found.extend(result.items)
                if not result.has_next:
                    break
                page += 1
            keep = [s for s in found if deletion_refusal(s, project_id) is None]
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

    @t.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        if not change["new"]:  # "Selected N matching …" described a selection that is gone
            self.notice_text = ""

    # --- view ----------------------------------------------------------------------------------
    @t.observe(
        "current", "selected", "loading", "index_state", "index_count", "selecting",
        "notice_text", "error", "deleting", "confirming", "project_id", "anchor",
    )  # fmt: skip
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        choices = sorted({*PER_PAGE_CHOICES, self.per_page})
        self._per_page_choice.set_options([(f"{n} per page", n) for n in choices])
        self._index_badge.value = self._badge_html()
        self._refresh.disabled = self.loading or self.index_state == "loading"
        current: Page[Snapshot] | None = self.current
        items = current.items if current is not None else ()
        hosted, anchor = self._hosted, self.anchor
        inline = hosted is not None and any(s.id == anchor for s in items)
        self.rows_view.show(
            items, selected=set(self.selected), project_id=self.project_id, busy=self.deleting,
            under=(anchor, hosted) if inline and hosted is not None else None,
        )  # fmt: skip
        slot = (hosted,) if hosted is not None and not inline else ()
        if self._slot.children != slot:
            self._slot.children = slot
        self._empty.value = self._empty_html(current)
        self._page_label.value = self._page_html(current)
        page = current.page if current is not None else self.page
        self._prev.disabled = page <= 1 or self.loading
        self._next.disabled = current is None or not current.has_next or self.loading
        self._render_selection(current)

    def _badge_html(self) -> str:
        text, hint = "", ""
        if self.index_state == "loading":
            text = badge(f"indexing snapshots… {self.index_count:,} so far", Tone.BUSY)
            hint = " Filtering by name works once the index is loaded."
        elif self.index_state == "loaded":
            text = badge(f"index: {plural(self.index_count, 'snapshot')}", Tone.OK)
        elif self.index_state == "failed":
            text, hint = badge("index not loaded", Tone.ERROR), " Reload to try again."
        busy = badge("loading…", Tone.BUSY) if self.loading else ""
        return (
            f'<div style="margin:2px 0;font-size:12px;color:#6c757d">{text}{busy}{esc(hint)}</div>'
        )

    def _empty_html(self, current: Page[Snapshot] | None) -> str:
        if current is None:
            return notice(f"Loading the snapshots of {self.site}…", Tone.BUSY)
        if current.items:
            return ""
        if self.text.strip():
            return notice(
                f"No snapshots match '{self.text.strip()}'. Try part of a name, a project name "
                "or an ID.",
                Tone.MUTED,
            )
        return notice(f"No snapshots on {self.site} yet: create one below.", Tone.MUTED)

    def _page_html(self, current: Page[Snapshot] | None) -> str:
        page = current.page if current is not None else self.page
        pages = current.pages if current is not None else None
        total = current.total if current is not None else None
        of = f" of {pages:,}" if pages else ""
        count = f" · {plural(total, 'snapshot')}" if total is not None else ""
        return f'<span style="margin:0 12px;color:#495057">Page {page:,}{of}{count}</span>'

    def _render_selection(self, current: Page[Snapshot] | None) -> None:
        n = len(self.selected)
        page_ids = self._deletable_on_page()
        chosen = set(self.selected)
        all_on_page = bool(page_ids) and all(i in chosen for i in page_ids)
        self._select_page.description = "Unselect page" if all_on_page else "Select page"
        self._select_page.disabled = not page_ids
        total = current.total if current is not None else None
        if self.selecting:
            self._select_matching.description = "Selecting…"
        elif total is not None:
            self._select_matching.description = f"Select all {total:,} matching"
        else:
            self._select_matching.description = "Select all matching"
        self._select_matching.disabled = self.selecting or not self._page_items()
        self._clear_selection.disabled = n == 0
        self._delete_selected.disabled = n == 0 or self.deleting or self.confirming
        self._delete_selected.description = f"Delete selected ({n:,})" if n else "Delete selected"
        note = f" · {esc(self.notice_text)}" if self.notice_text else ""
        self._selection_label.value = (
            f'<span style="margin:0 8px;color:#495057"><b>{n:,}</b> selected{note}</span>'
        )
