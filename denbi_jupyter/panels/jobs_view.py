"""Widgets that follow background jobs: a card per job and a list of cards.

A :class:`JobCard` subscribes to :meth:`Job.on_update` (called from the job's worker thread)
and mirrors the job into its widgets: title, state badge, progress bar, last message, log lines
and, at the end, the result or the error. Every card names the site its job runs on, so jobs
left running on another site are never mistaken for this one's. Nothing here waits for a job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets as t

from denbi_jupyter.panels._html import Tone, badge, esc, notice, status_tone

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job

__all__ = ["JobCard", "JobList", "PendingJobCard"]

_MAX_LOG_LINES = 12
_STATE_LABELS = {
    "pending": "queued",
    "running": "running",
    "completed": "done",
    "failed": "failed",
}


class JobCard(w.VBox):  # type: ignore[misc]
    """One background job: progress bar, state, message, log lines, result or error.

    Args:
        job: The job to follow.
        describe_result: Turns the job's result into one line of text for the card.
        site: The site the job runs on (named in the card's title).
    """

    state = t.Unicode("pending").tag(sync=False)
    progress = t.Float(None, allow_none=True).tag(sync=False)
    message = t.Unicode("").tag(sync=False)
    logs = t.Tuple().tag(sync=False)
    outcome = t.Unicode("").tag(sync=False)

    def __init__(
        self,
        job: Job,
        *,
        describe_result: Callable[[object], str] | None = None,
        site: str = "",
    ) -> None:
        self.job = job
        self.site = site
        self._describe_result = describe_result or _default_result_text
        self._done_callbacks: list[Callable[[Job], None]] = []
        self._done_fired = False
        self._lock = threading.RLock()
        self._header = w.HTML()
        self._bar = w.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=w.Layout(width="100%", height="14px")
        )
        self._message = w.HTML()
        self._log = w.HTML()
        self._log_box = w.Accordion(children=[self._log], titles=("Log",))
        self._log_box.selected_index = None
        self._outcome = w.HTML()
        super().__init__(
            children=[self._header, self._bar, self._message, self._log_box, self._outcome],
            layout=w.Layout(
                border="1px solid #dee2e6", padding="6px 10px", margin="4px 0", width="100%"
            ),
        )
        self.add_class("denbi-job-card")
        job.on_update(self._on_update)
        self._on_update(job)

    def on_done(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once when the job has completed or failed."""
        with self._lock:
            fire_now = self._done_fired
            if not fire_now:
                self._done_callbacks.append(callback)
        if fire_now:
            callback(self.job)

    def _on_update(self, job: Job) -> None:
        with self._lock:
            self.state = str(job.state.value)
            self.progress = job.progress
            self.message = job.message or ""
            self.logs = tuple(job.logs)
            if job.state.value == "completed":
                self.outcome = self._describe_result(job.result)
            elif job.state.value == "failed":
                self.outcome = job.error or "The job failed without saying why."
            self._render()
            callbacks: Sequence[Callable[[Job], None]] = ()
            if job.done and not self._done_fired:
                self._done_fired = True
                callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            callback(job)

    def _render(self) -> None:
        label = _STATE_LABELS.get(self.state, self.state)
        tone = status_tone(self.state)
        self._header.value = _header_html(self.job.title, self.site, badge(label, tone))
        if self.state == "completed":
            self._bar.value, self._bar.bar_style = 1.0, "success"
        elif self.state == "failed":
            self._bar.bar_style = "danger"
        elif self.progress is None:
            self._bar.value, self._bar.bar_style = 0.05 if self.state == "running" else 0.0, "info"
        else:
            self._bar.value, self._bar.bar_style = max(0.0, min(1.0, self.progress)), "info"
        pct = "" if self.progress is None else f" · {self.progress:.0%}"
        text = self.message or ("waiting for a worker" if self.state == "pending" else "")
        self._message.value = (
            f'<span style="color:#495057;font-size:12.5px">{esc(text)}{pct}</span>'
            if text or pct
            else ""
        )
        lines = self.logs[-_MAX_LOG_LINES:]
        self._log.value = (
            '<pre style="margin:0;font-size:11.5px;white-space:pre-wrap">'
            + esc("\n".join(lines))
            + "</pre>"
            if lines
            else '<span style="color:#6c757d">No log lines yet.</span>'
        )
        if self.state == "failed":
            self._outcome.value = notice(self.outcome, Tone.ERROR, heading="Failed:")
        elif self.state == "completed" and self.outcome:
            self._outcome.value = notice(self.outcome, Tone.OK)
        else:
            self._outcome.value = ""


def _header_html(title: str, site: str, state: str) -> str:
    """A card's title line: what the job does, where it runs, and its state."""
    where = (
        f' <span class="denbi-job-site" style="color:#6c757d;font-weight:normal">on '
        f"<b>{esc(site)}</b></span>"
        if site
        else ""
    )
    return (
        '<div style="display:flex;flex-wrap:wrap;justify-content:space-between;'
        f'align-items:center;column-gap:8px"><span><b>{esc(title)}</b>{where}</span>{state}</div>'
    )


class PendingJobCard(w.VBox):  # type: ignore[misc]
    """Shown the moment a job is asked for, until the runner has accepted it."""

    def __init__(self, title: str, *, site: str = "") -> None:
        self.title = title
        self.site = site
        header = w.HTML(_header_html(title, site, badge("starting", Tone.BUSY)))
        bar = w.FloatProgress(
            value=0.02, min=0.0, max=1.0, bar_style="info",
            layout=w.Layout(width="100%", height="14px"),
        )  # fmt: skip
        message = w.HTML(
            '<span style="color:#495057;font-size:12.5px">Handing the job to the runner…</span>'
        )
        super().__init__(
            children=[header, bar, message],
            layout=w.Layout(
                border="1px solid #dee2e6", padding="6px 10px", margin="4px 0", width="100%"
            ),
        )
        self.add_class("denbi-job-card")
        self.add_class("denbi-job-pending")


class JobList(w.VBox):  # type: ignore[misc]
    """The jobs a panel started, newest first, with an empty state."""

    def __init__(self, *, empty_text: str = "No jobs yet.") -> None:
        self._empty = w.HTML(f'<span style="color:#6c757d">{esc(empty_text)}</span>')
        self._cards: list[JobCard] = []
        self._pending: list[PendingJobCard] = []
        self._added = w.CallbackDispatcher()
        self._lock = threading.Lock()
        super().__init__(children=[self._empty])
        self.add_class("denbi-job-list")

    @property
    def cards(self) -> tuple[JobCard, ...]:
        """The cards, newest first."""
        with self._lock:
            return tuple(self._cards)

    def on_card(self, callback: Callable[[JobCard], object], remove: bool = False) -> None:
        """Call ``callback(card)`` whenever a job's card is added (e.g. to act when it ends)."""
        self._added.register_callback(callback, remove=remove)

    def add(self, card: JobCard, *, replacing: PendingJobCard | None = None) -> JobCard:
        """Show a new job card on top (in place of its pending card, if given)."""
        with self._lock:
            self._cards.insert(0, card)
            self._pending = [p for p in self._pending if p is not replacing]
            self._show()
        self._added(card)
        return card

    def add_pending(self, title: str, *, site: str = "") -> PendingJobCard:
        """Show a card for a job that is being handed to the runner."""
        pending = PendingJobCard(title, site=site)
        with self._lock:
            self._pending.insert(0, pending)
            self._show()
        return pending

    def drop_pending(self, pending: PendingJobCard) -> None:
        """Remove a pending card whose job could not start."""
        with self._lock:
            self._pending = [p for p in self._pending if p is not pending]
            self._show()

    def _show(self) -> None:
        shown: tuple[w.Widget, ...] = (*self._pending, *self._cards)
        self.children = shown or (self._empty,)


def _default_result_text(result: object) -> str:
    if isinstance(result, dict):
        name = result.get("name") or result.get("server_name") or result.get("image_name")
        return f"Finished: {name}." if name else "Finished."
    return "Finished."
