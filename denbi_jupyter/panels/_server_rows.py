"""The rows of the Servers view: one card per VM, pooled, with its state and its actions.

Each row is a title line (name, state badges, short id, and Connect at its end), the details
(a grid of auto-fitting cells) with the lifecycle buttons Stop, Start, Reboot and Delete beside
them or, when the view is narrow (the JupyterLab side area, ~350-420 px), wrapped below them,
a note line for what the user must know about this VM (locked, a snapshot uploading,
Nova's fault, the reason an action was refused), and the policy line: the VM's snapshot policy
in words (or "no snapshot policy", or why its value cannot be used) and the last policy run's
outcome (its newest snapshot of the policy's schedule, with slot and status); the row's
"Policy…" button opens the policy form under it. Nothing overflows: every line wraps. A button is
enabled only where :func:`~denbi_jupyter.cloud.rules.servers.action_refusal` allows its
action; a disabled one carries the rule's reason as its tooltip.

:func:`image_infos` looks the VMs' images up (one Glance listing per 40 ids, plus the source
of each snapshot), so the view can show each image's name and desktop kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import ipywidgets as w

from denbi_jupyter.cloud.classify import classify_image
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.policy import (
    LEGACY_KEY,
    POLICY_KEY,
    PolicyError,
    SnapshotPolicy,
    policy_of,
)
from denbi_jupyter.cloud.rules.policy_preview import local_time, policy_slot
from denbi_jupyter.cloud.rules.servers import ServerAction, action_refusal, is_snapshotting
from denbi_jupyter.cloud.types import DesktopKind, Image, Server
from denbi_jupyter.panels._html import Tone, badge, esc, status_tone

__all__ = [
    "ACTIONS",
    "ImageInfo",
    "ServerRow",
    "ServerRows",
    "ago",
    "cells_html",
    "image_infos",
    "note_html",
    "policy_html",
    "short_id",
    "title_html",
]

#: The per-VM actions, in button order: (action, label, icon).
ACTIONS: tuple[tuple[ServerAction, str, str], ...] = (
    (ServerAction.STOP, "Stop", "stop"),
    (ServerAction.START, "Start", "play"),
    (ServerAction.REBOOT, "Reboot", "refresh"),
    (ServerAction.DELETE, "Delete", "trash"),
)
#: What a row says while a job of that action runs for the VM.
RUNNING_LABELS: Mapping[ServerAction, str] = {
    ServerAction.STOP: "stopping…",
    ServerAction.START: "starting…",
    ServerAction.REBOOT: "rebooting…",
    ServerAction.HARD_REBOOT: "rebooting…",
    ServerAction.DELETE: "deleting…",
}

_TITLE = "line-height:1.4;overflow-wrap:anywhere"
_DETAILS = (
    "display:grid;grid-template-columns:repeat(auto-fill,minmax(96px,1fr));column-gap:10px;"
    "row-gap:4px;line-height:1.35"
)
_CELL = "min-width:0;overflow-wrap:anywhere;font-size:12.5px"
_CAPTION = "display:block;color:#868e96;font-size:10.5px;text-transform:uppercase"
_BUTTON = w.Layout(width="auto", margin="2px 3px 2px 0", padding="0 8px", flex="0 0 auto")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the view shows of a VM's image: its name and what it is for.

    Attributes:
        name: The image's name (a snapshot's own name for a VM started from one).
        label: The desktop kind or purpose, e.g. ``X2Go XFCE``, ``Guacamole``, ``Ubuntu 22.04``.
        desktop: The desktop kind, when the image (or a snapshot's source) offers one.
        research: True when the image is a research environment (RStudio, …).
    """

    name: str
    label: str
    desktop: DesktopKind | None = None
    research: bool = False


def image_infos(client: CloudClient, image_ids: Sequence[str]) -> dict[str, ImageInfo | None]:
    """What each image of ``image_ids`` is (None for one that is gone or not visible).

    One listing per 40 ids for all of them, and one lookup (:meth:`CloudClient.desktop_image`)
    per snapshot, whose desktop is that of the image it was made from.
    """
    found = client.get_images(list(dict.fromkeys(image_ids)))
    infos: dict[str, ImageInfo | None] = {}
    for image_id in image_ids:
        image = found.get(image_id)
        if image is None:
            infos[image_id] = None
            continue
        source = (client.desktop_image(image_id) or image) if image.is_snapshot else image
        kind = classify_image(source)
        infos[image_id] = ImageInfo(
            name=image.name,
            label=kind.label,
            desktop=kind.desktop,
            research=bool(kind.research_environment),
        )
    return infos


def ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``12 d ago``; a date beyond 60 days."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 60 * 86400:
        return f"{int(seconds // 86400)} d ago"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d")


def short_id(server_id: str) -> str:
    """The first 8 characters of an id, as people quote it."""
    return server_id[:8]


def _cell(caption: str, value: str, *, wide: bool = False) -> str:
    span = ";grid-column:span 2" if wide else ""  # long image names get two tracks
    return f'<div style="{_CELL}{span}"><span style="{_CAPTION}">{esc(caption)}</span>{value}</div>'


def _state_html(server: Server, running: ServerAction | None) -> str:
    state = badge(server.status, status_tone(server.status))
    if server.task_state:
        state += badge(server.task_state, Tone.BUSY)
    if running is not None:
        state += badge(RUNNING_LABELS[running], Tone.BUSY, tooltip="A job of this panel runs")
    if server.locked:
        state += badge("locked", Tone.WARN)
    return state


def _image_html(server: Server, info: ImageInfo | None, known: bool) -> str:
    if not server.image_id:
        return '<span style="color:#6c757d">booted from a volume</span>'
    if info is None:
        tip = esc(server.image_id)
        text = "looking up…" if not known else f"{short_id(server.image_id)}… (gone)"
        return f'<span style="color:#6c757d" title="{tip}">{esc(text)}</span>'
    tone = Tone.ACCENT if info.desktop is not None else Tone.INFO if info.research else Tone.MUTED
    name = f'<span title="{esc(server.image_id)}">{esc(info.name)}</span>'
    return f"{name}<br>{badge(info.label, tone)}"


def title_html(server: Server, *, running: ServerAction | None) -> str:
    """A VM's title line: its name, its state (status, task state, a job of ours), its id."""
    return (
        f'<div class="denbi-server-title" style="{_TITLE}">'
        f'<b style="font-size:13.5px;margin-right:6px">{esc(server.name)}</b>'
        f"{_state_html(server, running)}"
        f'<span style="color:#868e96;font-size:11px;font-family:monospace;margin-left:2px" '
        f'title="{esc(server.id)}">{esc(short_id(server.id))}</span></div>'
    )


def cells_html(
    server: Server, *, image: ImageInfo | None, image_known: bool, now: dt.datetime
) -> str:
    """A VM's details: image and its kind, flavor, private address, age, key pair."""
    created = server.created_at.isoformat() if server.created_at else ""
    details = [
        _cell("Image", _image_html(server, image, image_known), wide=True),
        _cell("Flavor", esc(server.flavor_name or server.flavor_id or "—")),
        _cell("Address", esc(server.private_ipv4 or "none yet")),
        _cell("Age", f'<span title="{esc(created)}">{esc(ago(server.created_at, now))}</span>'),
        _cell("Key pair", esc(server.key_name) if server.key_name else "none"),
    ]
    return f'<div class="denbi-server-details" style="{_DETAILS}">{"".join(details)}</div>'


def note_html(server: Server, told: str = "") -> str:
    """What the user must know about this VM now: ``told`` (a refusal, a failed job), else
    why it is held (locked, a snapshot uploading) or Nova's fault."""
    if told:
        return _line(told, Tone.WARN)
    if server.locked:
        refusal = action_refusal(server, ServerAction.STOP)
        return _line(refusal.reason if refusal else "Locked.", Tone.WARN)
    if is_snapshotting(server):
        refusal = action_refusal(server, ServerAction.DELETE)
        return _line(refusal.reason if refusal else "", Tone.INFO)
    if server.status == "ERROR":
        return _line(f"Nova says: {server.fault or 'no fault recorded'}", Tone.ERROR)
    return ""


def _line(text: str, tone: Tone, *, kind: str = "note") -> str:
    colours = {Tone.WARN: "#664d03", Tone.ERROR: "#842029", Tone.INFO: "#055160"}
    colour = colours.get(tone, "#495057")
    return (
        f'<div class="denbi-server-{kind} denbi-{tone.value}" style="color:{colour};'
        f'font-size:12px;line-height:1.4;margin:2px 0;overflow-wrap:anywhere">{esc(text)}</div>'
    )


def policy_html(server: Server, *, last: Image | None, known: bool, said: str = "") -> str:
    """A VM's snapshot policy in words (or none, or why it cannot be used), the last policy
    snapshot when ``known`` (looked up), and ``said``: what Save or Remove just did."""
    policy: SnapshotPolicy | None = None
    try:
        policy = policy_of(server.metadata)
    except PolicyError as exc:
        text, tone = f"Snapshot policy unusable (policy runs report it as failed): {exc}", Tone.WARN
    else:
        if policy is None:
            text, tone = "no snapshot policy", Tone.MUTED
        else:
            old = "" if POLICY_KEY in server.metadata else f" (the old {LEGACY_KEY} marker)"
            text, tone = f"Snapshot policy: {policy.describe()}{old}", Tone.INFO
    if known and (policy is not None or POLICY_KEY in server.metadata):
        text += "; " + (
            f"last policy snapshot: {local_time(policy_slot(last), policy)}, {last.status}"
            if last is not None else "no policy snapshot yet"
        )  # fmt: skip
    return _line(text, tone, kind="policy") + (
        _line(said, Tone.INFO, kind="policy") if said else ""
    )


@dataclass(slots=True)
class ServerRow:
    """The widgets of one pooled row and the VM it shows."""

    box: w.VBox
    title: w.HTML
    cells: w.HTML
    note: w.HTML
    connect: w.Button
    policy: w.HTML
    policy_button: w.Button
    buttons: dict[ServerAction, w.Button] = field(default_factory=dict)
    server_id: str = ""


class ServerRows(w.VBox):  # type: ignore[misc]
    """Pooled rows; reports Connect and action clicks through callbacks.

    Args:
        on_action: ``(server_id, action)`` when an action button is clicked.
        on_connect: ``server_id`` when a Connect button is clicked.
        on_policy: ``server_id`` when a "Policy…" button is clicked.
    """

    def __init__(
        self,
        *,
        on_action: Callable[[str, ServerAction], None],
        on_connect: Callable[[str], None],
        on_policy: Callable[[str], None],
    ) -> None:
        self._on_action = on_action
        self._on_connect = on_connect
        self._on_policy = on_policy
        self._rows: list[ServerRow] = []
        self._shown = 0
        self._body = w.VBox(layout=w.Layout(width="100%"))
        super().__init__(children=[self._body], layout=w.Layout(width="100%"))
        self.add_class("denbi-server-rows")

    @property
    def rows(self) -> tuple[ServerRow, ...]:
        """The rows currently shown."""
        return tuple(self._rows[: self._shown])

    @property
    def shown(self) -> tuple[w.Widget, ...]:
        """The widgets shown, in order: each row's box and what is shown under a row."""
        return tuple(self._body.children)

    def show(
        self,
        servers: Sequence[Server],
        *,
        images: Mapping[str, ImageInfo | None],
        running: Mapping[str, ServerAction],
        notes: Mapping[str, str],
        policy_snapshots: Mapping[str, Image | None] | None = None,
        policy_notes: Mapping[str, str] | None = None,
        under: tuple[str, w.Widget] | None = None,
    ) -> None:
        """Show one row per VM; ``under`` is ``(server_id, widget)`` to show below that row.

        ``policy_snapshots``: server id → its last policy snapshot (None: none yet) for the VMs
        looked up; ``policy_notes``: server id → what Save or Remove did.
        """
        lasts, said = policy_snapshots or {}, policy_notes or {}
        while len(self._rows) < len(servers):
            self._rows.append(self._make_row())
        now = dt.datetime.now(dt.UTC)
        for row, server in zip(self._rows, servers, strict=False):
            job = running.get(server.id)
            row.server_id = server.id
            row.title.value = title_html(server, running=job)
            row.cells.value = cells_html(
                server,
                image=images.get(server.image_id or ""),
                image_known=(server.image_id or "") in images,
                now=now,
            )
            row.note.value = note_html(server, notes.get(server.id, ""))
            row.policy.value = policy_html(
                server,
                last=lasts.get(server.id),
                known=server.id in lasts,
                said=said.get(server.id, ""),
            )
            row.policy_button.tooltip = (
                f"Set, change or remove the snapshot policy of {server.name}"
            )
            row.connect.tooltip = f"Show how to connect to {server.name} (Connect tab)"
            for action, button in row.buttons.items():
                refusal = action_refusal(server, action)
                button.disabled = refusal is not None or job is not None
                button.tooltip = (
                    refusal.reason if refusal
                    else f"A {job.value} job is running for {server.name}" if job
                    else f"{action.value.capitalize()} {server.name}"
                )  # fmt: skip
        self._shown = len(servers)
        shown: list[w.Widget] = []
        for row in self._rows[: self._shown]:
            shown.append(row.box)
            if under is not None and row.server_id == under[0]:
                shown.append(under[1])
        if self._body.children != tuple(shown):
            self._body.children = tuple(shown)

    def _make_row(self) -> ServerRow:
        title = w.HTML(layout=w.Layout(flex="1 1 160px", min_width="0", margin="0"))
        connect = w.Button(
            description="Connect", icon="terminal", button_style="info", layout=_BUTTON
        )
        head = w.HBox([title, connect], layout=_wrapping(justify_content="space-between"))
        cells = w.HTML(layout=w.Layout(flex="1 1 240px", min_width="0", margin="2px 8px 2px 0"))
        buttons = {
            action: w.Button(description=label, icon=icon, layout=_BUTTON)
            for action, label, icon in ACTIONS
        }
        policy_button = w.Button(description="Policy…", icon="calendar", layout=_BUTTON)
        actions = w.HBox([*buttons.values(), policy_button], layout=_wrapping(flex="0 1 auto"))
        actions.add_class("denbi-server-actions")
        body = w.HBox([cells, actions], layout=_wrapping(width="100%"))
        note = w.HTML(layout=w.Layout(margin="0"))
        policy = w.HTML(layout=w.Layout(margin="0"))
        box = w.VBox(
            [head, body, note, policy],
            layout=w.Layout(
                width="100%", border_bottom="1px solid #e9ecef", padding="6px 2px", flex="0 0 auto"
            ),
        )
        box.add_class("denbi-server-row")
        row = ServerRow(box=box, title=title, cells=cells, note=note, connect=connect,
                        policy=policy, policy_button=policy_button, buttons=buttons)  # fmt: skip
        connect.on_click(lambda _b: self._on_connect(row.server_id))
        policy_button.on_click(lambda _b: self._on_policy(row.server_id))
        for action, button in buttons.items():
            button.on_click(lambda _b, action=action: self._on_action(row.server_id, action))
        return row


def _wrapping(**extra: str) -> w.Layout:
    """A line of parts that wraps onto the next line when narrow (never overflows)."""
    return w.Layout(flex_flow="row wrap", align_items="center", **extra)
