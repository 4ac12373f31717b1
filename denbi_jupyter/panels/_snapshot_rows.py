"""The rows of the snapshot table: pooled widgets that one method fills with a page.

Rows come from a pool, so paging and filtering only change widget values (a few comm messages)
instead of building widgets. Each row is a checkbox, one HTML cell strip laid out with the same
CSS grid as the header, and two small action buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import ipywidgets as w

from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.types import Snapshot
from denbi_jupyter.panels._html import Tone, badge, esc, human_size, human_time, status_tone

__all__ = ["COLUMNS", "SnapshotRow", "SnapshotRows", "refusal_text"]

#: Column titles and widths (CSS grid tracks) of the cell strip.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Name", "minmax(170px, 2fr)"),
    ("Project", "minmax(90px, 1fr)"),
    ("Status", "80px"),
    ("Size", "72px"),
    ("Created", "118px"),
    ("Source server", "minmax(100px, 1fr)"),
)
_GRID = " ".join(width for _, width in COLUMNS)
_STRIP = f"display:grid;grid-template-columns:{_GRID};column-gap:8px;align-items:center"


def refusal_text(snapshot: Snapshot, refusal: Refusal) -> str:
    """The refusal's text, with the owner named when the snapshot is another project's."""
    if refusal is Refusal.NOT_OWNED:
        owner = snapshot.project_name or snapshot.project_id or "unknown"
        return f"{refusal.value} (owner: {owner})"
    return refusal.value


def header_html() -> str:
    """The header strip, aligned with the rows' cells."""
    cells = "".join(f"<div>{esc(name)}</div>" for name, _ in COLUMNS)
    return (
        f'<div style="{_STRIP};padding:4px 0 4px 34px;font-weight:600;font-size:12.5px;'
        f'color:#495057;border-bottom:2px solid #dee2e6">{cells}'
        "</div>"
    )


def cells_html(snapshot: Snapshot, *, refusal: Refusal | None) -> str:
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
    cells = [
        f'<div style="overflow:hidden;text-overflow:ellipsis" title="{esc(snapshot.id)}">'
        f"<b>{esc(snapshot.name)}</b> {lock}{foreign}<br>"
        f'<span style="color:#868e96;font-size:11px;font-family:monospace">'
        f"{esc(snapshot.id[:13])}…</span></div>",
        f"<div>{esc(snapshot.project_name or snapshot.project_id or '—')}</div>",
        f"<div>{badge(snapshot.status, status_tone(snapshot.status))}</div>",
        f"<div>{esc(human_size(snapshot.size))}</div>",
        f"<div>{esc(human_time(snapshot.created_at))}</div>",
        f'<div style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap" '
        f'title="{esc(snapshot.source_server_id or "")}">{esc(source)}</div>',
    ]
    return f'<div style="{_STRIP};font-size:12.5px">{"".join(cells)}</div>'


@dataclass(slots=True)
class SnapshotRow:
    """The widgets of one pooled row and the snapshot it shows."""

    box: w.HBox
    check: w.Checkbox
    cells: w.HTML
    delete: w.Button
    launch: w.Button
    snapshot_id: str = ""


class SnapshotRows(w.VBox):  # type: ignore[misc]
    """Header plus pooled rows; reports checkbox and button clicks through callbacks.

    Args:
        on_check: ``(snapshot_id, checked)`` when a row's checkbox changes.
        on_delete: ``snapshot_id`` when a row's delete button is clicked.
        on_launch: ``snapshot_id`` when a row's start-VM button is clicked.
    """

    def __init__(
        self,
        *,
        on_check: Callable[[str, bool], None],
        on_delete: Callable[[str], None],
        on_launch: Callable[[str], None],
    ) -> None:
        self._on_check = on_check
        self._on_delete = on_delete
        self._on_launch = on_launch
        self._rows: list[SnapshotRow] = []
        self._rendering = False
        self._header = w.HTML(header_html())
        self._body = w.VBox()
        super().__init__(children=[self._header, self._body], layout=w.Layout(width="100%"))
        self.add_class("denbi-snapshot-table")

    @property
    def rows(self) -> tuple[SnapshotRow, ...]:
        """The rows currently shown."""
        return tuple(self._rows[: len(self._body.children)])

    def show(
        self,
        snapshots: Sequence[Snapshot],
        *,
        selected: Collection[str],
        project_id: str | None,
        busy: bool,
    ) -> None:
        """Show ``snapshots``: one row each, checked when in ``selected``."""
        while len(self._rows) < len(snapshots):
            self._rows.append(self._make_row())
        self._rendering = True
        try:
            for row, snapshot in zip(self._rows, snapshots, strict=False):
                refusal = deletion_refusal(snapshot, project_id)
                row.snapshot_id = snapshot.id
                row.cells.value = cells_html(snapshot, refusal=refusal)
                row.check.value = snapshot.id in selected
                row.check.disabled = refusal is not None
                row.delete.disabled = refusal is not None or busy
                row.delete.tooltip = (
                    f"Cannot delete: {refusal_text(snapshot, refusal)}" if refusal else "Delete"
                )
                row.launch.disabled = snapshot.status.lower() != "active"
        finally:
            self._rendering = False
        shown = tuple(row.box for row in self._rows[: len(snapshots)])
        if self._body.children != shown:
            self._body.children = shown

    def _make_row(self) -> SnapshotRow:
        check = w.Checkbox(
            value=False, indent=False, layout=w.Layout(width="26px", flex="0 0 auto")
        )
        cells = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        delete = w.Button(icon="trash", layout=w.Layout(width="38px", flex="0 0 auto"))
        launch = w.Button(
            icon="play",
            tooltip="Start a VM from this snapshot",
            layout=w.Layout(width="38px", flex="0 0 auto", margin="0 4px 0 8px"),
        )
        box = w.HBox(
            [check, cells, launch, delete],
            layout=w.Layout(
                align_items="center",
                border_bottom="1px solid #f1f3f5",
                width="100%",
                flex="0 0 auto",
            ),
        )
        box.add_class("denbi-snapshot-row")
        row = SnapshotRow(box=box, check=check, cells=cells, delete=delete, launch=launch)

        def checked(change: dict[str, object]) -> None:
            if not self._rendering and row.snapshot_id:
                self._on_check(row.snapshot_id, bool(change["new"]))

        check.observe(checked, names="value")
        delete.on_click(lambda _b: self._on_delete(row.snapshot_id))
        launch.on_click(lambda _b: self._on_launch(row.snapshot_id))
        return row
