"""The snapshot-policy form of the Servers view: set, change or remove one VM's policy.

Opened right under a VM's row by its "Policy…" button. The policy is given in parts (when:
``daily HH:MM``, ``weekly DAY HH:MM`` or ``cron`` and five fields; the time zone, Europe/Berlin
by default; keep the last N; a maximum age in days) or as the whole metadata value. As the user
types, a debounced background call checks it and shows the parse error, or the policy in words,
its next three run times in its zone, and the **retention preview**: what a policy run would
delete and keep now of the VM's snapshots, and why (the domain's
:func:`~denbi_jupyter.cloud.rules.policy_preview.preview_policy`, exactly what the run does).
Save writes :data:`~denbi_jupyter.cloud.rules.policy.POLICY_KEY` (and removes the old
``denbi_nightly`` marker, saying so); an invalid policy writes nothing. Remove clears both
keys; the VM's snapshots stay. Both report through :meth:`PolicyForm.on_saved`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import (
    LEGACY_KEY,
    POLICY_KEY,
    PolicyError,
    SnapshotPolicy,
    parse_policy,
    policy_of,
)
from denbi_jupyter.cloud.rules.policy_preview import (
    PolicyPreview,
    compose_policy,
    local_time,
    preview_policy,
)
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    RetentionDecision,
    made_by_schedule,
)
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._html import Tone, esc, notice

__all__ = ["DEFAULT_TIMEZONE", "PolicyCheck", "PolicyForm"]

#: The de.NBI zone: the form's default time zone.
DEFAULT_TIMEZONE = "Europe/Berlin"
_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
_FIELD = {"width": "340px", "max_width": "100%"}
_STATE = ("server", "mode", "check", "checking", "saving", "message")
_INPUTS = ("mode", "when", "timezone", "keep", "max_age", "value")


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    """The answer to what the user typed: the preview, or why the policy cannot be used."""

    preview: PolicyPreview | None = None
    error: str = ""
    #: Snapshots of the old nightly marker that the new policy would not count (they stay).
    nightly_left: int = 0


class PolicyForm(Panel):
    """Set, change or remove one VM's snapshot policy, with a preview as the user types.

    Args:
        shared: The shared state of the parent panel.
        site: The VM's site.
    """

    server: t.Any = t.Any(None).tag(sync=False)
    #: ``fields`` (when, zone, keep, max age) or ``text`` (the whole metadata value).
    mode = t.Unicode("fields").tag(sync=False)
    when = t.Unicode("daily 02:00").tag(sync=False)
    timezone = t.Unicode(DEFAULT_TIMEZONE).tag(sync=False)
    keep = t.Unicode("7").tag(sync=False)
    max_age = t.Unicode("").tag(sync=False)
    value = t.Unicode("").tag(sync=False)
    check: t.Any = t.Any(None).tag(sync=False)
    checking = t.Bool(False).tag(sync=False)
    saving = t.Bool(False).tag(sync=False)
    #: What went wrong with Save or Remove ("" for nothing).
    message = t.Unicode("").tag(sync=False)

    def __init__(self, shared: Shared, *, site: str) -> None:
        self._opening = False
        self._saved = w.CallbackDispatcher()
        self._closed_cb = w.CallbackDispatcher()
        self._heading = w.HTML()
        self._mode = w.ToggleButtons(
            options=[("Parts", "fields"), ("Whole value", "text")],
            style={"button_width": "auto"},
            layout=w.Layout(flex_flow="row wrap", max_width="100%"),
        )
        self._when = w.Text(description="When", placeholder="daily 02:00 · weekly sun 03:00 · "
                            "cron 0 */6 * * *", layout=w.Layout(**_FIELD))  # fmt: skip
        self._timezone = w.Text(description="Time zone", layout=w.Layout(**_FIELD))
        self._keep = w.Text(description="Keep last", placeholder="N snapshots",
                            layout=w.Layout(**_FIELD))  # fmt: skip
        self._max_age = w.Text(description="Max age", placeholder="D days (optional)",
                               layout=w.Layout(**_FIELD))  # fmt: skip
        self._value = w.Text(description="Policy", placeholder="daily 02:00; tz=Europe/Berlin; "
                             "keep=7", layout=w.Layout(**_FIELD))  # fmt: skip
        size_fields(self._when, self._timezone, self._keep, self._max_age, self._value,
                    label="80px")  # fmt: skip
        self._fields = w.VBox([self._when, self._timezone, self._keep, self._max_age])
        self._check_html = w.HTML()
        self._message_html = w.HTML()
        self._save = w.Button(description="Save policy", icon="save", button_style="primary",
                              layout=_BTN)  # fmt: skip
        self._remove = w.Button(description="Remove policy", icon="trash", layout=_BTN)
        self._close = w.Button(description="Close", layout=_BTN)
        super().__init__(
            shared,
            site=site,
            layout=w.Layout(border="1px solid #9ec5fe", padding="6px 10px", margin="2px 0 6px 0"),
        )
        self.add_class("denbi-policy-form")
        buttons = w.HBox([self._save, self._remove, self._close],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        self._layout([self._heading, self._mode, self._fields, self._value, self._check_html,
                      self._message_html, self._error_box, buttons])  # fmt: skip
        for name in _INPUTS:
            bind(getattr(self, f"_{name}"), self, name)
        self._save.on_click(self._guard(lambda _b: self.save()))
        self._remove.on_click(self._guard(lambda _b: self.remove()))
        self._close.on_click(self._guard(lambda _b: self._fire(self._closed_cb)))
        self._render()

    # --- events out ---------------------------------------------------------------------------
    def on_saved(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(server_id, what_was_done)`` once Save or Remove changed the VM."""
        self._saved.register_callback(callback, remove=remove)

    def on_close(self, callback: Callable[[], object], remove: bool = False) -> None:
        """Call ``callback()`` when the user closes the form."""
        self._closed_cb.register_callback(callback, remove=remove)

    # --- the policy typed ---------------------------------------------------------------------
    def open_for(self, server: Server) -> None:
        """Show ``server``'s policy (the defaults when it has none or an unusable one)."""
        self._cancel("save", busy="saving")
        self.message, self.error = "", ""
        current: SnapshotPolicy | None
        try:
            current, unusable = policy_of(server.metadata), False
        except PolicyError:  # shown as the whole value, so its error is shown
            current, unusable = None, True
        self._opening = True  # the inputs are set together: no carrying over, one check
        try:
            self.server = server
            self.mode = "text" if unusable else "fields"
            self.when = current.when if current else "daily 02:00"
            self.timezone = current.timezone if current else DEFAULT_TIMEZONE
            self.keep = str(current.keep_last or "") if current else "7"
            self.max_age = str(current.max_age_days or "") if current else ""
            self.value = server.metadata.get(POLICY_KEY, current.text() if current else "")
        finally:
            self._opening = False
        self._check_soon()

    def proposed(self) -> SnapshotPolicy:
        """The policy the form holds now.

        Raises:
            PolicyError: It cannot be used (the message names the part and how to fix it).
        """
        if self.mode == "text":
            return parse_policy(self.value)
        return compose_policy(when=self.when, timezone=self.timezone, keep_last=self.keep,
                              max_age_days=self.max_age)  # fmt: skip

    @t.observe(*_INPUTS)
    def _on_input(self, change: dict[str, Any]) -> None:
        if self._opening:
            return
        if change["name"] == "mode":
            self._switch_mode(change["new"])
        self.message = ""
        self._check_soon()

    def _switch_mode(self, mode: str) -> None:
        """Carry what was typed over to the other way of giving it, where it parses."""
        try:
            policy = parse_policy(self.value) if mode == "fields" else self._composed()
        except PolicyError:
            return
        if mode == "text":
            self.value = policy.text()
            return
        self.when, self.timezone = policy.when, policy.timezone
        self.keep = str(policy.keep_last or "")
        self.max_age = str(policy.max_age_days or "")

    def _composed(self) -> SnapshotPolicy:
        return compose_policy(when=self.when, timezone=self.timezone, keep_last=self.keep,
                              max_age_days=self.max_age)  # fmt: skip

    def _check_soon(self) -> None:
        server = self.server
        self.check = None
        if server is None:
            self._cancel("check", busy="checking")
            return
        try:
            policy = self.proposed()
        except PolicyError as exc:
            policy, error = None, str(exc)
        else:
            error = ""

        def run(client: CloudClient) -> PolicyCheck:
            if policy is None:
                return PolicyCheck(error=error)
            return _check(client, server, policy, dt.datetime.now(dt.UTC))

        self._call("check", run, self._set_check, busy="checking",
                   delay=self.shared.debounce_s)  # fmt: skip

    def _set_check(self, check: PolicyCheck) -> None:
        self.check = check

    # --- save and remove ----------------------------------------------------------------------
    def save(self) -> None:
        """Write the policy to the VM (replacing the old marker); an invalid one writes nothing."""
        server = self.server
        if server is None or self.saving:
            return
        try:
            policy = self.proposed()
        except PolicyError as exc:
            self.message = f"Nothing was saved: {exc}"
            return

        def write(client: CloudClient) -> str:
            updated = client.set_server_metadata(server.id, {POLICY_KEY: policy.text()},
                                                 checked=server)  # fmt: skip
            said = f"Policy of {server.name} saved: {policy.describe()}."
            if LEGACY_KEY in server.metadata:
                client.delete_server_metadata(server.id, [LEGACY_KEY], checked=updated)
                said += (f" It replaces the old {LEGACY_KEY} marker, which is removed; the "
                         "nightly snapshots stay.")  # fmt: skip
            return said

        self._write(server, write)

    def remove(self) -> None:
        """Remove the VM's policy and the old marker (its snapshots stay)."""
        server = self.server
        if server is None or self.saving:
            return
        keys = [key for key in (POLICY_KEY, LEGACY_KEY) if key in server.metadata]
        if not keys:
            self.message = f"{server.name} has no snapshot policy: nothing was changed."
            return

        def clear(client: CloudClient) -> str:
            # The panel's copy may predate a Save whose refresh has not come yet: read it again,
            # or a policy saved a moment ago would stay while the message said "removed".
            current = client.get_server(server.id)  # None: the call below says it is gone
            held = [key for key in (POLICY_KEY, LEGACY_KEY) if current and key in current.metadata]
            client.delete_server_metadata(server.id, held or keys, checked=current)
            if not held:
                return f"{server.name} has no snapshot policy: nothing was changed."
            return f"Policy of {server.name} removed ({', '.join(held)}); its snapshots stay."

        self._write(server, clear)

    def _write(self, server: Server, work: Callable[[CloudClient], str]) -> None:
        self.message = ""

        def failed(exc: BaseException) -> None:
            self.message = f"{server.name} was not changed: {describe_error(exc)}"

        self._call("save", work, lambda said: self._fire(self._saved, server.id, said),
                   busy="saving", on_error=failed)  # fmt: skip

    # --- view ---------------------------------------------------------------------------------
    @t.observe(*_STATE)
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        server: Server | None = self.server
        name = server.name if server is not None else "—"
        self._heading.value = (
            f'<div style="font-weight:600;overflow-wrap:anywhere">Snapshot policy of '
            f"{esc(name)}</div>"
        )
        self._fields.layout.display = "" if self.mode == "fields" else "none"
        self._value.layout.display = "" if self.mode == "text" else "none"
        self._check_html.value = _check_html(self.check, checking=self.checking)
        self._message_html.value = notice(self.message, Tone.WARN) if self.message else ""
        self._error_box.value = self._error_html()
        idle = not self.saving and server is not None
        # Nothing to remove, or a value known to be unusable: the button says so by being off.
        has_policy = server is not None and any(
            k in server.metadata for k in (POLICY_KEY, LEGACY_KEY)
        )
        self._save.disabled = not idle or bool(self.check is not None and self.check.error)
        self._remove.disabled = not idle or not has_policy
        self._save.description = "Saving…" if self.saving else "Save policy"


def _check(
    client: CloudClient, server: Server, policy: SnapshotPolicy, now: dt.datetime
) -> PolicyCheck:
    """The preview of ``policy`` over the VM's policy snapshots (one Glance listing, two for a
    VM on the old marker, whose nightly snapshots the new policy would not count)."""
    images = client.find_images_by_property(SCHEDULE_KEY, POLICY_SCHEDULE)
    preview = preview_policy(policy, images, server_id=server.id, schedule=POLICY_SCHEDULE,
                             now=now)  # fmt: skip
    left = 0
    if POLICY_KEY not in server.metadata and LEGACY_KEY in server.metadata:
        nightly = client.find_images_by_property(SCHEDULE_KEY, NIGHTLY)
        left = sum(1 for i in nightly if i.properties.get(SOURCE_SERVER_ID) == server.id
                   and made_by_schedule(i, NIGHTLY))  # fmt: skip
    return PolicyCheck(preview=preview, nightly_left=left)


def _names(decisions: tuple[RetentionDecision, ...]) -> str:
    return "; ".join(f"<b>{esc(d.image.name)}</b> ({esc(d.reason)})" for d in decisions) or "none"


def _check_html(check: PolicyCheck | None, *, checking: bool) -> str:
    if check is None:
        return notice("Checking the policy…", Tone.BUSY) if checking else ""
    if check.preview is None:
        return notice(check.error, Tone.ERROR, heading="This policy cannot be used:")
    preview = check.preview
    policy = preview.policy
    runs = ", ".join(local_time(when, policy) for when in preview.next_runs) or "none"
    lines = [
        f"<div><b>{esc(policy.describe())}</b></div>",
        f"<div>Next runs: {esc(runs)}</div>",
        f"<div>This policy would now delete: {_names(preview.deleted)}</div>",
        f"<div>and keep: {_names(preview.kept)}</div>",
    ]
    if check.nightly_left:
        lines.append(
            f"<div>Its {check.nightly_left} snapshot(s) of the old {esc(LEGACY_KEY)} marker are "
            "not counted by the new policy and would stay.</div>"
        )
    return (
        '<div class="denbi-policy-check" style="font-size:12.5px;line-height:1.45;'
        f'overflow-wrap:anywhere;margin:4px 0">{"".join(lines)}</div>'
    )
