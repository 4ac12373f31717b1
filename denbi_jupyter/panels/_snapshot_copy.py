"""The copy form: copy snapshots to another site, one copy job each, then boot at the target.

A component with its own traits and one render. The tables ask for it with the rows to copy
(:meth:`CopyForm.open_for`, each row with its own site); the user picks a target site (another
site than a single row's; rows of a selection already on the target are skipped), optionally
a name for a single row, and starts. Each row becomes one run of the copy flow
(``FlowRef.COPY_IMAGE``) whose card shows the bytes moved; a finished copy offers
"Boot at <target>" (:meth:`CopyForm.on_boot`: the panel opens the start-VM form there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.federation import SiteSnapshot
from denbi_jupyter.cloud.results import CopyResult
from denbi_jupyter.jobs import Job, JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._flows import FlowRef
from denbi_jupyter.panels._html import Tone, esc, human_size, notice, title
from denbi_jupyter.panels.jobs_view import JobCard, JobList

__all__ = ["CopyForm", "copy_parameters"]

_BTN = w.Layout(width="auto", flex="0 0 auto")


def copy_parameters(row: SiteSnapshot, target: str, name: str) -> dict[str, object]:
    """The parameters of :attr:`FlowRef.COPY_IMAGE` for one row (an empty name: the flow's)."""
    return {
        "site": row.site,
        "image_id": row.snapshot.id,
        "target_site": target,
        "name": name.strip() or None,
    }


class CopyForm(Panel):
    """Copy rows to a target site as jobs; offer to boot each finished copy there.

    Args:
        shared: The shared state of the parent panel.
        site: The parent's site.
        jobs: Where the copy jobs' cards go.
    """

    rows = t.Tuple().tag(sync=False)  # SiteSnapshot rows; the form is open while set
    target = t.Unicode("").tag(sync=False)
    name = t.Unicode("").tag(sync=False)
    starting = t.Bool(False).tag(sync=False)
    form_error = t.Unicode("").tag(sync=False)
    #: Finished copies, newest last: each offers "Boot at <target>".
    copies = t.Tuple().tag(sync=False)

    def __init__(self, shared: Shared, *, site: str, jobs: JobList) -> None:
        self._jobs = jobs
        self._boot_requests = w.CallbackDispatcher()
        self._head = w.HTML()
        self._target = w.Dropdown(description="To site", options=[])
        self._name = w.Text(description="Name", placeholder="the source's name")
        size_fields(self._target, self._name, width="460px")
        self._go = w.Button(description="Copy", icon="clone", button_style="primary", layout=_BTN)
        self._cancel_button = w.Button(description="Cancel", layout=_BTN)
        self._note = w.HTML()
        self._form = w.VBox(
            [
                self._head, self._target, self._name,
                w.HBox([self._go, self._cancel_button], layout=w.Layout(flex_flow="row wrap")),
                self._note,
            ],
            layout=w.Layout(border="1px solid #9ec5fe", padding="6px 10px", margin="4px 0"),
        )  # fmt: skip
        self._boots = w.VBox()
        super().__init__(shared, site=site)
        self.add_class("denbi-snapshot-copy-form")
        self._layout([self._error_box, self._form, self._boots])
        self._target_choice = bind(self._target, self, "target")
        bind(self._name, self, "name")
        self._go.on_click(self._guard(lambda _b: self.start()))
        self._cancel_button.on_click(self._guard(lambda _b: self.cancel()))
        self._render()

    def on_boot(self, callback: Callable[[str, str], object]) -> None:
        """Call ``callback(target_site, image_id)`` when the user asks to boot a copy."""
        self._boot_requests.register_callback(callback)

    def targets(self) -> list[str]:
        """The sites to offer: every site but a single row's own."""
        rows: tuple[SiteSnapshot, ...] = self.rows
        own = {rows[0].site} if len(rows) == 1 else set()
        return [site for site in self.clients.names if site not in own]

    def open_for(self, rows: Sequence[SiteSnapshot]) -> None:
        """Show the form for ``rows`` (a name field only for one row)."""
        self.form_error, self.name = "", ""
        self.rows = tuple(rows)
        offered = self.targets()
        if self.target not in offered:
            self.target = offered[0] if offered else ""

    def cancel(self) -> None:
        """Hide the form."""
        self.rows = ()

    def start(self) -> None:
        """Start one copy job per row not already on the target; refuse bad input with words.

        A second click while the copies start does nothing (instead of saying none is chosen)."""
        if self.starting:
            return
        rows: tuple[SiteSnapshot, ...] = self.rows
        target, name = self.target, self.name.strip() if len(self.rows) == 1 else ""
        moving = [row for row in rows if row.site != target]
        problem = (
            "Choose snapshots to copy." if not rows
            else "Choose the site to copy to." if not target
            else f"Every chosen snapshot is on {target} already: pick another site." if not moving
            else ""
        )  # fmt: skip
        if problem:
            self.form_error = problem
            return
        skipped = len(rows) - len(moving)
        for row in moving:
            self._copy(row, target, name)
        self.rows = ()
        self.form_error = ""
        if skipped:
            self.log.info(f"{skipped} snapshot(s) already on {target} were not copied.")

    def _copy(self, row: SiteSnapshot, target: str, name: str) -> None:
        def started(card: JobCard) -> None:
            card.on_done(self._on_done)

        self._start_job(
            "copy",
            f"Copy {row.snapshot.name} from {row.site} to {target}",
            FlowRef.COPY_IMAGE,
            copy_parameters(row, target, name),
            jobs=self._jobs,
            describe_result=_copied_text,
            on_card=started,
            busy="starting",
        )

    def _on_done(self, job: Job) -> None:
        if job.state is JobState.COMPLETED and isinstance(job.result, CopyResult):
            self.copies = (*self.copies, job.result)

    def boot(self, copy: CopyResult) -> None:
        """Ask for a VM from a finished copy at its site."""
        self._fire(self._boot_requests, copy.target_site, copy.target_id)

    # --- view ----------------------------------------------------------------------------------
    @t.observe("rows", "starting", "form_error", "copies", "error")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        rows: tuple[SiteSnapshot, ...] = self.rows
        self._error_box.value = self._error_html()
        self._form.layout.display = "" if rows else "none"
        self._target_choice.set_options([(site, site) for site in self.targets()])
        self._name.layout.display = "" if len(rows) == 1 else "none"
        if rows:
            what = rows[0].snapshot.name if len(rows) == 1 else f"{len(rows):,} snapshots"
            where = ", ".join(sorted({row.site for row in rows}))
            self._head.value = title(f"Copy {what} to another site", sub=f"from {where}")
        self._go.disabled = self.starting
        self._go.description = "Starting…" if self.starting else "Copy"
        self._note.value = notice(self.form_error, Tone.ERROR) if self.form_error else ""
        copies: tuple[CopyResult, ...] = self.copies
        if len(self._boots.children) != len(copies):
            self._boots.children = tuple(self._boot_row(copy) for copy in copies)

    def _boot_row(self, copy: CopyResult) -> w.HBox:
        button = w.Button(
            description=f"Boot at {copy.target_site}", icon="play", button_style="success",
            layout=_BTN,
        )  # fmt: skip
        button.on_click(self._guard(lambda _b: self.boot(copy)))
        text = w.HTML(
            f'<span style="margin:0 8px">{esc(copy.name)} is on {esc(copy.target_site)}'
            f"{' (found from an earlier copy)' if copy.reused else ''}.</span>"
        )
        return w.HBox([text, button], layout=w.Layout(flex_flow="row wrap", align_items="center"))


def _copied_text(result: object) -> str:
    if isinstance(result, CopyResult):
        return (
            f"{result.name} is active on {result.target_site} "
            f"({human_size(result.size)}, sha512 checked)."
        )
    return "The copy is active on the target site."
