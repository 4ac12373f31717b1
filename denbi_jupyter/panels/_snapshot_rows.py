"""The rows of the snapshot table: pooled widgets that one method fills with a page.

Rows come from a pool, so paging and filtering only change widget values (a few comm messages)
instead of building widgets. Each row is a checkbox cell, one HTML cell strip and an actions
cell (start a VM, copy to a site, delete); with ``site_column`` (the all-sites view) the details
begin with the row's site, and rows are keyed ``site/id`` instead of by id. The header has the
same three parts with the same widths, and its strip the same structure as a row's, so every
header label sits over its column at any width.

The strip is responsive without a stylesheet: the name and the details are flex items that wrap
onto two lines when the table is narrow (the JupyterLab side area, ~350-420 px), and the details
are a grid of auto-fitting tracks. Nothing is cut off: long text wraps instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w

from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.types import Snapshot
from denbi_jupyter.panels._html import (
    Tone,
    badge,
    copy_button,
    esc,
    human_size,
    human_time,
    status_tone,
)

__all__ = ["DETAILS", "SnapshotRow", "SnapshotRows", "refusal_text"]

#: The titles of the detail cells, in the order of the row's cells.
DETAILS: tuple[str, ...] = ("Project", "Status", "Size", "Created", "Source server")
#: The strip: name and details side by side, wrapping onto two lines when narrow.
STRIP_STYLE = (
    "display:flex;flex-wrap:wrap;align-items:center;column-gap:8px;row-gap:2px;font-size:12.5px"
)
NAME_STYLE = "flex:2 1 160px;min-width:0;overflow-wrap:anywhere"
DETAILS_STYLE = (
    "flex:3 1 330px;min-width:0;display:grid;"
    "grid-template-columns:repeat(auto-fit,minmax(72px,1fr));column-gap:8px;row-gap:2px;"
    "align-items:center"
)
_CELL = "min-width:0;overflow-wrap:anywhere"
#: Widths of the checkbox and actions cells (the header keeps the same empty cells).
#: ``ACTIONS_WIDTH`` holds start, copy and delete; ``TWO_ACTIONS_WIDTH`` start and delete.
CHECK_WIDTH, ACTIONS_WIDTH, TWO_ACTIONS_WIDTH = "30px", "130px", "88px"


def refusal_text(snapshot: Snapshot, refusal: Refusal) -> str:
    """The refusal's text, with the owner named when the snapshot is another project's."""
    if refusal is Refusal.NOT_OWNED:
        owner = snapshot.project_name or snapshot.project_id or "unknown"
        return f"{refusal.value} (owner: {owner})"
    return refusal.value


def _strip(name: str, details: Sequence[str], *, style: str = "") -> str:
    cells = "".join(f'<div style="{_CELL}">{cell}</div>' for cell in details)
    return (
        f'<div class="denbi-snapshot-strip" style="{STRIP_STYLE}{style}">'
        f'<div class="denbi-snapshot-name" style="{NAME_STYLE}">{name}</div>'
        f'<div class="denbi-snapshot-details" style="{DETAILS_STYLE}">{cells}</div></div>'
    )


def header_html(*, site_column: bool = False) -> str:
    """The header strip: the same structure as a row's, so labels sit over their columns."""
    titles = ("Site", *DETAILS) if site_column else DETAILS
    return _strip("Name", [esc(title) for title in titles], style=";font-weight:600;color:#495057")


def cells_html(snapshot: Snapshot, *, refusal: Refusal | None, site: str | None = None) -> str:
    """One row's cell strip."""
    lock = (
        badge("protected", Tone.MUTED, tooltip="Protected: cannot be deleted")
        if refusal is Refusal.PROTECTED
        else ""
    )
    foreign = (
        badge("other project", Tone.WARN, tooltip=refusal_text(snapshot, refusal))
        if refusal is Refusal.NOT_OWNED
        else ""
    )
    source = snapshot.source_server_name or (
        f"{snapshot.source_server_id[:8]}…" if snapshot.source_server_id else "—"
    )
    name = (
        f"<b>{esc(snapshot.name)}</b> {lock}{foreign}<br>"
        f'<span style="color:#868e96;font-size:11px;font-family:monospace" '
        f'title="{esc(snapshot.id)}">{esc(snapshot.id[:13])}…</span> '
        + copy_button(snapshot.id, label="Copy ID", tooltip=f"Copy the full ID {snapshot.id}")
    )
    details = [] if site is None else [f"<b>{esc(site)}</b>"]
    details += [
        esc(snapshot.project_name or snapshot.project_id or "—"),
        badge(snapshot.status, status_tone(snapshot.status)),
        esc(human_size(snapshot.size)),
        esc(human_time(snapshot.created_at)),
        f'<span title="{esc(snapshot.source_server_id or "")}">{esc(source)}</span>',
    ]
    return _strip(name, details)


@dataclass(slots=True)
class SnapshotRow:
    """The widgets of one pooled row and the snapshot it shows."""

    box: w.HBox
    check: w.Checkbox
    cells: w.HTML
    delete: w.Button
    launch: w.Button
    snapshot_id: str = ""
    copy: w.Button | None = None


class SnapshotRows(w.VBox):  # type: ignore[misc]
    """Header plus pooled rows; reports checkbox and button clicks through callbacks.

    Args:
        on_check: ``(snapshot_id, checked)`` when a row's checkbox changes.
        on_delete: ``snapshot_id`` when a row's delete button is clicked.
        on_launch: ``snapshot_id`` when a row's start-VM button is clicked.
        on_copy: ``snapshot_id`` when a row's copy button is clicked (no button when None).
        site_column: Show each row's site first (rows are then keyed ``site/id``).
    """

    def __init__(
        self,
        *,
        on_check: Callable[[str, bool], None],
        on_delete: Callable[[str], None],
        on_launch: Callable[[str], None],
        on_copy: Callable[[str], None] | None = None,
        site_column: bool = False,
    ) -> None:
        self._on_copy = on_copy
        self._on_check = on_check
        self._actions_width = TWO_ACTIONS_WIDTH if on_copy is None else ACTIONS_WIDTH
        self._on_delete = on_delete
        self._on_launch = on_launch
        self._rows: list[SnapshotRow] = []
        self._shown = 0
        self._rendering = False
        self._header = w.HBox(
            [_fixed_cell(CHECK_WIDTH),
             w.HTML(header_html(site_column=site_column), layout=_strip_layout()),
             _fixed_cell(self._actions_width)],
            layout=_line_layout(border_bottom="2px solid #dee2e6"),
        )  # fmt: skip
        self._header.add_class("denbi-snapshot-header")
        self._body = w.VBox(layout=w.Layout(width="100%"))
        super().__init__(children=[self._header, self._body], layout=w.Layout(width="100%"))
        self.add_class("denbi-snapshot-table")

    @property
    def rows(self) -> tuple[SnapshotRow, ...]:
        """The rows currently shown."""
        return tuple(self._rows[: self._shown])

    def show(
        self,
        snapshots: Sequence[Snapshot],
        *,
        selected: Collection[str],
        project_id: str | None,
        busy: bool,
        under: tuple[str, w.Widget] | None = None,
        sites: Sequence[str] | None = None,
        project_ids: Mapping[str, str | None] | None = None,
    ) -> None:
        """Show ``snapshots``: one row each, checked when in ``selected``; ``under`` is
        ``(snapshot_id, widget)``: a widget to show right under that snapshot's row.

        ``sites`` (the all-sites view) is each snapshot's site: rows are keyed ``site/id`` and
        deletability is judged against ``project_ids[site]`` instead of ``project_id``.
        """
        while len(self._rows) < len(snapshots):
            self._rows.append(self._make_row())
        self._rendering = True
        try:
            for number, (row, snapshot) in enumerate(zip(self._rows, snapshots, strict=False)):
                site = sites[number] if sites is not None else None
                own = project_id if site is None else (project_ids or {}).get(site)
                refusal = deletion_refusal(snapshot, own)
                row.snapshot_id = snapshot.id if site is None else f"{site}/{snapshot.id}"
                row.cells.value = cells_html(snapshot, refusal=refusal, site=site)
                row.check.value = row.snapshot_id in selected
                row.check.disabled = refusal is not None
                row.delete.disabled = refusal is not None or busy
                row.delete.tooltip = (
                    f"Cannot delete: {refusal_text(snapshot, refusal)}" if refusal else "Delete"
                )
                row.launch.disabled = snapshot.status.lower() != "active"
        finally:
            self._rendering = False
        self._shown = len(snapshots)
        shown: list[w.Widget] = []
        for row in self._rows[: len(snapshots)]:
            shown.append(row.box)
            if under is not None and row.snapshot_id == under[0]:
                shown.append(under[1])
        if self._body.children != tuple(shown):
            self._body.children = tuple(shown)

    def _make_row(self) -> SnapshotRow:
        check = w.Checkbox(value=False, indent=False, layout=w.Layout(width="26px"))
        cells = w.HTML(layout=_strip_layout())
        launch = w.Button(
            icon="play",
            tooltip="Start a VM from this snapshot",
            layout=w.Layout(width="38px", flex="0 0 auto"),
        )
        delete = w.Button(icon="trash", layout=w.Layout(width="38px", flex="0 0 auto"))
        copy = w.Button(
            icon="clone", tooltip="Copy to site…", layout=w.Layout(width="38px", flex="0 0 auto")
        )
        copy.add_class("denbi-snapshot-copy")
        actions = [launch, delete] if self._on_copy is None else [launch, copy, delete]
        box = w.HBox(
            [_fixed_cell(CHECK_WIDTH, check), cells, _fixed_cell(self._actions_width, *actions)],
            layout=_line_layout(border_bottom="1px solid #f1f3f5"),
        )
        box.add_class("denbi-snapshot-row")
        row = SnapshotRow(
            box=box, check=check, cells=cells, delete=delete, launch=launch,
            copy=None if self._on_copy is None else copy,
        )  # fmt: skip

        def checked(change: dict[str, object]) -> None:
            if not self._rendering and row.snapshot_id:
                self._on_check(row.snapshot_id, bool(change["new"]))

        check.observe(checked, names="value")
        delete.on_click(lambda _b: self._on_delete(row.snapshot_id))
        launch.on_click(lambda _b: self._on_launch(row.snapshot_id))
        on_copy = self._on_copy
        if on_copy is not None:
            copy.on_click(lambda _b: on_copy(row.snapshot_id))
        return row


def _line_layout(**extra: str) -> w.Layout:
    """A header or row line: three cells side by side, never wrapping (the strip wraps)."""
    return w.Layout(
        align_items="center", flex_flow="row nowrap", width="100%", flex="0 0 auto", **extra
    )


def _strip_layout() -> w.Layout:
    """The HTML strip's cell: takes the room between the fixed cells, may shrink to nothing."""
    return w.Layout(flex="1 1 0%", min_width="0", width="auto", margin="2px 0")


def _fixed_cell(width: str, *children: w.Widget) -> w.HBox:
    """A cell of a fixed width: the checkbox, the actions (or the header's empty twins)."""
    cell = w.HBox(
        list(children),
        layout=w.Layout(
            width=width, flex=f"0 0 {width}", justify_content="space-between", overflow="visible"
        ),
    )
    cell.add_class("denbi-snapshot-fixed")
    return cell
