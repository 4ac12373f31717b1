"""The relaunch form: start a VM from a snapshot, "like before" (its recorded flavor).

A component with its own traits (every form value is one: name, flavor, key pair) and one
render; the widgets are bound to the traits. The key pair preselected is the one last booted
with on the site, else the key of the project's newest VM, else the first ("none" stays a
choice); see :func:`~denbi_jupyter.panels._image_view.preferred_key`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.types import Flavor, KeyPair, Server, Snapshot
from denbi_jupyter.connect.key_registry import KeyRegistry
from denbi_jupyter.jobs import Job, JobState
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._flows import FlowRef, boot_parameters
from denbi_jupyter.panels._html import Tone, esc, notice, title
from denbi_jupyter.panels._image_view import (
    flavor_label,
    key_after_change,
    needs_servers,
    preferred_key,
)
from denbi_jupyter.panels.jobs_view import JobCard, JobList

__all__ = ["RelaunchForm", "recorded_flavor"]

_BTN = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths


def recorded_flavor(snapshot: Snapshot) -> str:
    """The flavor a snapshot was taken on: property ``denbi_flavor``, else the recorded name."""
    return snapshot.properties.get("denbi_flavor") or snapshot.flavor_name or ""


def _preferred_flavor(flavors: list[Flavor], snapshot: Snapshot | None, current: str) -> str:
    ids = [f.id for f in flavors]
    if current in ids:
        return current
    recorded = recorded_flavor(snapshot) if snapshot is not None else ""
    match = [f.id for f in flavors if recorded and recorded in (f.name, f.id)]
    return match[0] if match else (ids[0] if ids else "")


class RelaunchForm(Panel):
    """Start a VM from one snapshot with a name, a flavor and a key pair.

    Args:
        shared: The shared state of the parent panel.
        site: The snapshot's site.
        jobs: Where the boot job's card goes.
        registry: Remembered boot keys; the user's by default.
    """

    snapshot = t.Any(None).tag(sync=False)  # Snapshot | None: the form is open while set
    name = t.Unicode("").tag(sync=False)
    flavor_id = t.Unicode("").tag(sync=False)
    key_name = t.Unicode("").tag(sync=False)
    flavors: t.List[Any] = t.List().tag(sync=False)
    keypairs: t.List[Any] = t.List().tag(sync=False)
    #: The project's VMs on the site, fetched when their key pairs must guide the pick.
    servers: t.List[Any] = t.List().tag(sync=False)
    launching = t.Bool(False).tag(sync=False)
    launch_error = t.Unicode("").tag(sync=False)

    def __init__(
        self, shared: Shared, *, site: str, jobs: JobList, registry: KeyRegistry | None = None
    ) -> None:
        self._jobs = jobs
        self._booted = w.CallbackDispatcher()
        self.registry = registry or KeyRegistry()
        self._keys_site = ""
        self._head = w.HTML()
        self._name = w.Text(description="Name")
        self._flavor = w.Dropdown(description="Flavor", options=[])
        self._key_pick = w.Dropdown(description="Key pair", options=[("none", "")])
        size_fields(self._name, self._flavor, self._key_pick, width="460px")
        self._go = w.Button(
            description="Start VM", icon="play", button_style="success", layout=_BTN
        )
        self._cancel_button = w.Button(description="Cancel", layout=_BTN)
        self._note = w.HTML()
        super().__init__(
            shared,
            site=site,
            layout=w.Layout(border="1px solid #a3cfbb", padding="6px 10px", margin="4px 0"),
        )
        self.add_class("denbi-snapshot-relaunch")
        self._layout([
            self._head, self._name, self._flavor, self._key_pick,
            w.HBox([self._go, self._cancel_button], layout=w.Layout(flex_flow="row wrap")),
            self._note,
        ])  # fmt: skip
        bind(self._name, self, "name")
        self._flavor_choice = bind(self._flavor, self, "flavor_id")
        self._key_choice = bind(self._key_pick, self, "key_name")
        self._go.on_click(self._guard(lambda _b: self.launch()))
        self._cancel_button.on_click(self._guard(lambda _b: self.cancel()))
        self._render()

    def start_from(self, snapshot: Snapshot) -> None:
        """Show the form for ``snapshot``, with a fresh name and its recorded flavor."""
        self.launch_error = ""
        stamp = dt.datetime.now(dt.UTC).strftime("%m%d-%H%M")
        self.name = f"{snapshot.name[:40]}-vm-{stamp}"
        self.flavor_id = _preferred_flavor(list(self.flavors), snapshot, "")
        self.key_name = self._preferred_key()
        self.snapshot = snapshot

    def cancel(self) -> None:
        """Hide the form."""
        self.snapshot = None

    @t.observe("flavors")
    def _on_flavors(self, _change: dict[str, Any]) -> None:
        self.flavor_id = _preferred_flavor(list(self.flavors), self.snapshot, self.flavor_id)

    def _preferred_key(self) -> str:
        last = self.registry.last_boot_key(self.site)
        return preferred_key(self.keypairs, last_used=last, servers=self.servers)

    @t.observe("keypairs")
    def _on_keypairs(self, _change: dict[str, Any]) -> None:
        fresh = self._keys_site != self.site  # a reload of the same site keeps the user's pick
        self._keys_site = self.site
        if fresh or self.key_name not in {pair.name for pair in self.keypairs} | {""}:
            self.key_name = picked = self._preferred_key()
            if needs_servers(self.keypairs, self.registry.last_boot_key(self.site)):
                self._call(
                    "servers",
                    lambda client: client.list_servers(),
                    lambda servers: self._apply_servers(servers, picked),
                )

    def take_keypairs(self, keypairs: Sequence[KeyPair]) -> None:
        """Show the site's key pairs as another view just changed them; a key pair just added
        becomes the pick."""
        picked = key_after_change(self.key_name, self.keypairs, keypairs)
        self.keypairs = list(keypairs)
        if picked is not None:
            self.key_name = picked

    def _apply_servers(self, servers: list[Server], picked: str) -> None:
        self.servers = list(servers)
        if self.key_name == picked:  # the user has not chosen meanwhile
            self.key_name = self._preferred_key()

    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self.snapshot = None
            self.servers = []

    def launch(self) -> None:
        """Boot a VM from the form's snapshot, name, flavor and key pair (once: a second click
        while the boot starts does nothing)."""
        if self.launching:
            return
        snapshot: Snapshot | None = self.snapshot
        name = self.name.strip()
        problem = (
            "Choose a snapshot to start a VM from." if snapshot is None
            else "Give the VM a name." if not name
            else "Choose a flavor." if not self.flavor_id
            else ""
        )  # fmt: skip
        if problem or snapshot is None:
            self.launch_error = problem
            return
        site, key_name, registry = self.site, self.key_name, self.registry
        parameters = boot_parameters(
            site=site, image=snapshot.id, flavor=self.flavor_id, key_name=key_name, name=name
        )

        def started(card: JobCard) -> None:
            registry.remember_boot_key(site, key_name)
            self.snapshot = None
            card.on_done(lambda job: self._on_launched(site, job))

        self._start_job(
            "launch",
            f"Start {name} from {snapshot.name}",
            FlowRef.BOOT_SERVER,
            parameters,
            jobs=self._jobs,
            describe_result=_started_text,
            on_card=started,
            busy="launching",
        )

    def on_booted(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, server_id)`` when a VM started here is ACTIVE."""
        self._booted.register_callback(callback, remove=remove)

    def _on_launched(self, site: str, job: Job) -> None:
        if job.state is JobState.COMPLETED and isinstance(job.result, BootResult):
            self._fire(self._booted, site, job.result.server_id)

    # --- view ----------------------------------------------------------------------------------
    @t.observe("snapshot", "flavors", "keypairs", "launching", "launch_error", "error")
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        snapshot: Snapshot | None = self.snapshot
        self.layout.display = "none" if snapshot is None else ""
        self._flavor_choice.set_options([(flavor_label(f), f.id) for f in self.flavors])
        self._key_choice.set_options([("none", "")] + [(k.name, k.name) for k in self.keypairs])
        self._error_box.value = self._error_html()
        if snapshot is not None:
            recorded = recorded_flavor(snapshot)
            hint = (
                f"Flavor recorded with the snapshot: <b>{esc(recorded)}</b>."
                if recorded
                else "No flavor was recorded with this snapshot: choose one."
            )
            self._head.value = title(f"Start a VM from {snapshot.name}") + (
                f'<div style="color:#6c757d;font-size:12px">{hint}</div>'
            )
        self._go.disabled = self.launching
        self._go.description = "Starting…" if self.launching else "Start VM"
        self._note.value = notice(self.launch_error, Tone.ERROR) if self.launch_error else ""


def _started_text(result: object) -> str:
    if isinstance(result, BootResult):
        return f"{result.name} is {result.status}: how to connect is in the Connect tab."
    return "The VM is running: how to connect is in the Connect tab."
