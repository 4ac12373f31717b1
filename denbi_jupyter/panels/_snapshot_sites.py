"""The all-sites snapshot table: every site's page at once, with a site column and site states.

One component with its own traits and one render, shown by the snapshot browser instead of the
one-site table while "All sites" is on. A page is
:func:`~denbi_jupyter.cloud.federation.federated_page`: page N of every site (one request per
site, or its loaded index), asked in parallel and merged; a site that fails or has not answered
within ``timeout`` shows its state in the status line, and a late site's rows are merged in
when they arrive. Rows and the selection are keyed ``site/id``; deleting, starting a VM and
copying are asked for through events with each row's own site.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.federation import FederatedPage, SiteSnapshot, SiteState, federated_page
from denbi_jupyter.cloud.rules.deletion import deletion_refusal
from denbi_jupyter.cloud.types import Page, Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind
from denbi_jupyter.panels._html import Tone, badge, notice
from denbi_jupyter.panels._snapshot_rows import SnapshotRows
from denbi_jupyter.panels._snapshot_table import (
    PER_PAGE_CHOICES,
    fetch_page,
    query_widgets,
)

__all__ = ["AllSitesTable", "split_key"]

_BTN = w.Layout(width="auto", flex="0 0 auto")
_ROW = w.Layout(flex_flow="row wrap", align_items="center", max_width="100%")
_TONES = {SiteState.OK: Tone.OK, SiteState.FAILED: Tone.ERROR, SiteState.LOADING: Tone.BUSY}


def split_key(key: str) -> tuple[str, str]:
    """``(site, snapshot id)`` of a row key ``site/id``."""
    site, _, image_id = key.rpartition("/")
    return site, image_id


def _answered(page: FederatedPage | None) -> int:
    return -1 if page is None else sum(s.state is not SiteState.LOADING for s in page.sites)


class AllSitesTable(Panel):
    """Browse the snapshots of every site a page at a time and select some of them.

    Args:
        shared: The shared state of the parent panel.
        site: The parent's site (kept for the base class; every site is shown).
        lead: Widgets to put first in the toolbar (the parent's "All sites" toggle).
        timeout: Seconds a page waits for each site before showing it as still loading.
    """

    text = t.Unicode("").tag(sync=False)
    page = t.Int(1).tag(sync=False)
    per_page = t.Int(10).tag(sync=False)
    sort = t.UseEnum(SnapshotSort, default_value=SnapshotSort.NEWEST).tag(sync=False)
    current = t.Any(None).tag(sync=False)  # FederatedPage | None
    selected = t.Tuple().tag(sync=False)  # row keys "site/id"
    loading = t.Bool(False).tag(sync=False)
    #: Shown (and loading pages); the parent switches it with its "All sites" toggle.
    active = t.Bool(False).tag(sync=False)
    project_ids = t.Dict().tag(sync=False)  # site -> project id
    deleting = t.Bool(False).tag(sync=False)

    def __init__(
        self, shared: Shared, *, site: str, lead: Sequence[w.Widget] = (), timeout: float = 20.0
    ) -> None:
        self.timeout = timeout
        self._known: dict[str, SiteSnapshot] = {}
        self._generation = itertools.count(1)
        self._wanted = 0
        self._lock = threading.Lock()
        self._requests = {n: w.CallbackDispatcher() for n in ("delete", "launch", "copy")}
        self._filter, self._sort, self._per_page, self._refresh = query_widgets("230px")
        self._status = w.HTML()
        self._slot = w.Box(layout=w.Layout(flex_flow="column", width="100%"))
        self._select_page = w.Button(description="Select page", icon="check-square-o", layout=_BTN)
        self._clear_selection = w.Button(description="Clear selection", layout=_BTN)
        self._selection_label = w.HTML()
        self._copy_selected = w.Button(description="Copy to site…", icon="clone", layout=_BTN)
        self._delete_selected = w.Button(
            description="Delete selected", icon="trash", button_style="danger", layout=_BTN
        )
        self.rows_view = SnapshotRows(
            on_check=self._guard(self._on_check),
            on_delete=self._guard(lambda key: self._ask("delete", (key,))),
            on_launch=self._guard(lambda key: self._ask("launch", (key,))),
            on_copy=self._guard(lambda key: self._ask("copy", (key,))),
            site_column=True,
        )
        self._empty = w.HTML()
        self._prev = w.Button(description="‹ Previous", layout=_BTN)
        self._next = w.Button(description="Next ›", layout=_BTN)
        self._page_label = w.HTML()
        super().__init__(shared, site=site)
        self.add_class("denbi-snapshot-sites")
        self._layout([
            w.HBox([*lead, self._filter, self._sort, self._per_page, self._refresh], layout=_ROW),
            self._status,
            self._error_box,
            w.HBox(
                [self._select_page, self._clear_selection, self._selection_label,
                 self._copy_selected, self._delete_selected],
                layout=_ROW,
            ),
            self._slot,
            self.rows_view,
            self._empty,
            w.HBox([self._prev, self._page_label, self._next], layout=_ROW),
        ])  # fmt: skip
        bind(self._filter, self, "text")
        bind(self._sort, self, "sort", empty=SnapshotSort.NEWEST, convert=SnapshotSort)
        self._per_page_choice = bind(self._per_page, self, "per_page", empty=10)
        self._refresh.on_click(self._guard(lambda _b: self.reload()))
        self._select_page.on_click(self._guard(lambda _b: self.toggle_page()))
        self._clear_selection.on_click(self._guard(lambda _b: self.clear_selection()))
        self._copy_selected.on_click(self._guard(lambda _b: self._ask("copy", self.selected)))
        self._delete_selected.on_click(self._guard(lambda _b: self._ask("delete", self.selected)))
        self._prev.on_click(self._guard(lambda _b: self.go_to(self.page - 1)))
        self._next.on_click(self._guard(lambda _b: self.go_to(self.page + 1)))
        self._render()

    # --- events out ------------------------------------------------------------------------------
    def on_delete(self, callback: Callable[[tuple[SiteSnapshot, ...]], object]) -> None:
        """Call ``callback(rows)`` when the user asks to delete snapshots (each at its site)."""
        self._requests["delete"].register_callback(callback)

    def on_launch(self, callback: Callable[[tuple[SiteSnapshot, ...]], object]) -> None:
        """Call ``callback((row,))`` when the user asks to start a VM from a row's snapshot."""
        self._requests["launch"].register_callback(callback)

    def on_copy(self, callback: Callable[[tuple[SiteSnapshot, ...]], object]) -> None:
        """Call ``callback(rows)`` when the user asks to copy snapshots to another site."""
        self._requests["copy"].register_callback(callback)

    def _ask(self, what: str, keys: Sequence[str]) -> None:
        rows = tuple(row for key in dict.fromkeys(keys) if (row := self._known.get(key)))
        if rows:
            self._fire(self._requests[what], rows)

    def host(self, widget: w.Widget) -> None:
        """Show ``widget`` above the rows (the delete confirmation, the copy form)."""
        self._slot.children = (*self._slot.children, widget)

    def known(self, key: str) -> SiteSnapshot | None:
        """A row this table has shown, by its key ``site/id``."""
        return self._known.get(key)

    # --- loading -------------------------------------------------------------------------------
    @t.observe("active")
    def _on_active(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.reload()

    @t.observe("text", "per_page", "sort")
    def _on_query_change(self, change: dict[str, Any]) -> None:
        if self.page != 1:
            self.page = 1
        else:
            self.reload(typed=change["name"] == "text")

    @t.observe("page")
    def _on_page_change(self, _change: dict[str, Any]) -> None:
        self.reload()

    def query(self) -> SnapshotQuery:
        """The query every site is asked."""
        return SnapshotQuery(text=self.text, page=self.page, per_page=self.per_page, sort=self.sort)

    def reload(self, *, typed: bool = False) -> None:
        """Ask every site for the current page (in the background; late sites merge in)."""
        if not self.active or self.closed:
            return
        self.error = ""
        query, clients, timeout = self.query(), self.clients, self.timeout
        with self._lock:
            generation = self._wanted = next(self._generation)
        owners: dict[str, str] = {}

        def fetch(site: str, wanted: SnapshotQuery) -> Page[Snapshot]:
            client = clients.get(site)
            owners[site] = client.project_id
            return fetch_page(client, wanted)[0]

        def apply(page: FederatedPage) -> None:
            with self._lock:
                if generation != self._wanted or _answered(page) < _answered(self.current):
                    return
                for row in page.items:
                    self._known[row.key] = row
                self.project_ids = {**self.project_ids, **owners}
                self.current = page

        def work() -> FederatedPage:
            return federated_page(clients.names, fetch, query, timeout=timeout, on_site=apply)

        with self._lock:
            self.current = None  # a new query: the old rows are not its rows
        delay = self.shared.debounce_s if typed else 0.0
        self._run_local("page", work, apply, busy="loading", delay=delay)

    def go_to(self, page: int) -> None:
        """Show page ``page`` (1-based) when it exists."""
        current: FederatedPage | None = self.current
        if page < 1 or (page > self.page and (current is None or not current.has_next)):
            return
        self.page = page

    def forget(self, site: str, snapshot_ids: Sequence[str]) -> None:
        """Drop deleted snapshots of ``site`` from the selection and show the page again."""
        gone = {f"{site}/{i}" for i in snapshot_ids}
        self.selected = tuple(key for key in self.selected if key not in gone)
        if gone and self.active:
            self.reload()

    # --- selection ------------------------------------------------------------------------------
    def _deletable_on_page(self) -> list[str]:
        current: FederatedPage | None = self.current
        rows = current.items if current is not None else ()
        owners = self.project_ids
        return [r.key for r in rows if deletion_refusal(r.snapshot, owners.get(r.site)) is None]

    def _on_check(self, key: str, checked: bool) -> None:
        chosen = [k for k in self.selected if k != key]
        self.selected = (*chosen, key) if checked else tuple(chosen)

    def toggle_page(self) -> None:
        """Select every deletable row on this page, or clear them if all are selected."""
        keys = self._deletable_on_page()
        if keys and set(keys) <= set(self.selected):
            self.selected = tuple(k for k in self.selected if k not in set(keys))
        else:
            self.selected = tuple(dict.fromkeys([*self.selected, *keys]))

    def clear_selection(self) -> None:
        """Unselect everything."""
        self.selected = ()

    # --- view ----------------------------------------------------------------------------------
    @t.observe("current", "selected", "loading", "error", "project_ids", "deleting", "active")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self.layout.display = "" if self.active else "none"
        self._error_box.value = self._error_html()
        choices = sorted({*PER_PAGE_CHOICES, self.per_page})
        self._per_page_choice.set_options([(f"{n} per page from each site", n) for n in choices])
        current: FederatedPage | None = self.current
        rows = current.items if current is not None else ()
        self.rows_view.show(
            [r.snapshot for r in rows], selected=set(self.selected), project_id=None,
            busy=self.deleting, sites=[r.site for r in rows], project_ids=self.project_ids,
        )  # fmt: skip
        self._status.value = self._status_html(current)
        self._empty.value = self._empty_html(current)
        page = current.page if current is not None else self.page
        total = current.total if current is not None else None
        count = f" · {total:,} snapshots on all sites" if total is not None else ""
        self._page_label.value = f'<span style="margin:0 12px">Page {page:,}{count}</span>'
        self._prev.disabled = page <= 1 or self.loading
        self._next.disabled = current is None or not current.has_next or self.loading
        n, keys = len(self.selected), self._deletable_on_page()
        self._select_page.disabled = not keys
        self._select_page.description = (
            "Unselect page" if keys and set(keys) <= set(self.selected) else "Select page"
        )
        self._clear_selection.disabled = self._copy_selected.disabled = n == 0
        self._delete_selected.disabled = n == 0 or self.deleting
        self._delete_selected.description = f"Delete selected ({n:,})" if n else "Delete selected"
        self._selection_label.value = f'<span style="margin:0 8px"><b>{n:,}</b> selected</span>'

    def _status_html(self, current: FederatedPage | None) -> str:
        if current is None:
            states = [badge(f"{site}: still loading", Tone.BUSY) for site in self.clients.names]
        else:
            states = [
                badge(s.text, _TONES[s.state], tooltip=s.message or s.text) for s in current.sites
            ]
        return f'<div style="margin:2px 0;font-size:12px">{"".join(states)}</div>'

    def _empty_html(self, current: FederatedPage | None) -> str:
        if current is None:
            return notice("Loading the snapshots of every site…", Tone.BUSY)
        if current.items:
            return ""
        if self.text.strip():
            return notice(f"No snapshots match '{self.text.strip()}' on any site.", Tone.MUTED)
        return notice("No snapshots on any site that answered.", Tone.MUTED)
