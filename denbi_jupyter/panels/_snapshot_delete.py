"""The delete confirmation: names what will go, runs the delete flow, shows each outcome.

A component with its own traits and one render. The table asks (:meth:`DeleteConfirmation.ask`),
the user confirms or cancels, and :meth:`DeleteConfirmation.on_deleted` reports the ids that are
gone so the table can drop them. The table shows this component where the user looks: under the
row whose delete button was clicked, or under the selection bar for a bulk delete. A finished
report is about the rows it names: :meth:`DeleteConfirmation.clear_results` drops it when the
table shows other rows. A selection of the all-sites view names each snapshot's site: one delete
job runs per site, each deleting only that site's selected snapshots at that site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.results import DeleteOutcome, DeleteReport
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._flows import FlowRef
from denbi_jupyter.panels._html import Tone, badge, esc
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job

__all__ = ["DeleteConfirmation", "delete_outcomes"]

_CONFIRM_LIST = 12
_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths
_GONE = {DeleteOutcome.DELETED: "deleted", DeleteOutcome.NOT_FOUND: "already gone"}


def delete_outcomes(result: object, names: Mapping[str, str]) -> list[tuple[str, str, bool, str]]:
    """Per-item outcomes ``(id, name, gone, message)`` of the delete flow's :class:`DeleteReport`.

    Snapshots may share a name, so callers match outcomes by id. Any other result counts as
    "not deleted" for every name asked about.
    """
    if not isinstance(result, DeleteReport):
        what = type(result).__name__
        return [(i, n, False, f"the delete flow returned a {what}") for i, n in names.items()]
    outcomes: list[tuple[str, str, bool, str]] = []
    for item in result.items:
        name = names.get(item.id) or item.name or item.id
        gone = _GONE.get(item.outcome)
        outcomes.append((item.id, name, gone is not None, gone or item.text))
    return outcomes


class DeleteConfirmation(Panel):
    """Asks before deleting, then deletes as a job and lists each snapshot's outcome.

    Args:
        shared: The shared state of the parent panel.
        site: The site the snapshots are on.
        jobs: Where the delete job's card goes.
    """

    ids = t.Tuple().tag(sync=False)
    names = t.Dict().tag(sync=False)
    #: Snapshot id → its site (the all-sites view); empty: every id is on :attr:`site`.
    sites = t.Dict().tag(sync=False)
    deleting = t.Bool(False).tag(sync=False)
    results: t.List[Any] = t.List().tag(sync=False)

    def __init__(self, shared: Shared, *, site: str, jobs: JobList) -> None:
        self._jobs = jobs
        self._deleted = w.CallbackDispatcher()
        self._html = w.HTML()
        self._yes = w.Button(button_style="danger", icon="trash", layout=_BTN)
        self._no = w.Button(description="Cancel", layout=_BTN)
        self.box = w.VBox(
            [self._html, w.HBox([self._yes, self._no], layout=w.Layout(flex_flow="row wrap"))],
            layout=w.Layout(border="1px solid #f1aeb5", padding="6px 10px", margin="4px 0"),
        )
        self.box.add_class("denbi-confirm")
        self._results = w.HTML()
        super().__init__(shared, site=site)
        self._layout([self._error_box, self.box, self._results])
        self._yes.on_click(self._guard(lambda _b: self.confirm()))
        self._no.on_click(self._guard(lambda _b: self.cancel()))
        self._render()

    def on_deleted(
        self, callback: Callable[[str, tuple[str, ...]], object], remove: bool = False
    ) -> None:
        """Call ``callback(site, gone_ids)`` when a delete job has ended."""
        self._deleted.register_callback(callback, remove=remove)

    def ask(
        self,
        snapshot_ids: Sequence[str],
        names: Mapping[str, str],
        *,
        sites: Mapping[str, str] | None = None,
    ) -> None:
        """Ask for confirmation before deleting ``snapshot_ids`` (``names``: id → name;
        ``sites``: id → site, for snapshots of several sites; by default all on :attr:`site`)."""
        ids = tuple(dict.fromkeys(snapshot_ids))
        self.results = []
        self.names = {i: names.get(i, i) for i in ids}
        self.sites = {i: sites[i] for i in ids if sites and i in sites}
        self.ids = ids

    def _by_site(self, ids: Sequence[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for image_id in ids:
            groups.setdefault(self.sites.get(image_id, self.site), []).append(image_id)
        return groups

    def cancel(self) -> None:
        """Close the confirmation without deleting."""
        self.ids = ()

    def clear_results(self) -> None:
        """Drop the report of a finished delete (the table shows other rows now)."""
        self.results = []

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self.ids, self.results = (), []

    def confirm(self) -> None:
        """Delete the snapshots named in the confirmation, as background jobs, one per site
        (once: a second click while the first one's jobs start does nothing).

        ``deleting`` is read first: a start clears the confirmation before it stops being busy,
        so a click never sees the old confirmation with no start in flight.
        """
        if self.deleting:
            return
        ids = list(self.ids)
        if not ids:
            return
        for site, site_ids in self._by_site(ids).items():
            self._delete_at(site, {i: self.names.get(i, i) for i in site_ids})

    def _delete_at(self, site: str, names: Mapping[str, str]) -> None:
        ids = list(names)

        def started(card: JobCard) -> None:
            self.ids = ()
            card.on_done(lambda done: self._on_done(site, names, done))

        title_text = f"Delete {names[ids[0]]}" if len(ids) == 1 else f"Delete {len(ids)} snapshots"
        self._start_job(
            "delete",
            title_text if site == self.site and not self.sites else f"{title_text} at {site}",
            FlowRef.DELETE_SNAPSHOTS,
            {"site": site, "image_ids": ids},
            jobs=self._jobs,
            describe_result=lambda result: _deleted_text(result, names),
            on_card=started,
            busy="deleting",
        )

    def _on_done(self, site: str, names: Mapping[str, str], job: Job) -> None:
        if job.state is not JobState.COMPLETED:
            failed = [(n, False, job.error or "failed") for n in names.values()]
            self.results = [*self.results, *failed]
            return
        outcomes = delete_outcomes(job.result, names)
        self.results = [*self.results, *((name, ok, msg) for _, name, ok, msg in outcomes)]
        gone = tuple(image_id for image_id, _, ok, _ in outcomes if ok and image_id in names)
        self._fire(self._deleted, site, gone)

    # --- view ----------------------------------------------------------------------------------
    @t.observe("ids", "deleting", "results", "error")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        ids = self.ids
        self.box.layout.display = "" if ids else "none"
        if ids:
            names = [self.names.get(i, i) for i in ids]
            listed = "".join(f"<li>{esc(n)}</li>" for n in names[:_CONFIRM_LIST])
            if len(names) > _CONFIRM_LIST:
                listed += f"<li>… and {len(names) - _CONFIRM_LIST:,} more</li>"
            what = f"these {len(ids):,} snapshots" if len(ids) > 1 else "this snapshot"
            where = " and ".join(esc(site) for site in sorted(self._by_site(ids)))
            self._html.value = (
                f"<div><b>Delete {what} from {where}?</b> This cannot be undone.</div>"
                f'<ul style="margin:4px 0 4px 18px;padding:0">{listed}</ul>'
            )
            self._yes.description = "Deleting…" if self.deleting else f"Delete {len(ids):,}"
            self._yes.disabled = self._no.disabled = self.deleting
        self._results.value = _results_html(self.results)


def _results_html(results: Sequence[tuple[str, bool, str]]) -> str:
    if not results:
        return ""
    rows = "".join(
        f"<li>{badge('deleted', Tone.OK) if ok else badge('not deleted', Tone.ERROR)} "
        f"{esc(name)}{'' if ok else ': ' + esc(message)}</li>"
        for name, ok, message in results
    )
    done = sum(1 for _, ok, _ in results if ok)
    return (
        f'<div style="margin:4px 0"><b>{done} of {len(results)} deleted</b>'
        f'<ul style="margin:2px 0 2px 18px;padding:0;list-style:none">{rows}</ul></div>'
    )


def _deleted_text(result: object, names: Mapping[str, str]) -> str:
    outcomes = delete_outcomes(result, names)
    done = sum(1 for _, _, ok, _ in outcomes if ok)
    return f"{done} of {len(names)} deleted."
