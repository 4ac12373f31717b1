"""The image catalog: search, filter by desktop and OS, see details, boot a VM.

State lives in traits (``search``, ``desktop``, ``os_family``, ``selected_id``, the boot form's
``boot_name``, ``flavor_id`` and ``key_name``); widgets are bound to them. The catalog is
loaded once per site in the background; filters narrow the catalog the panel holds
(:func:`~denbi_jupyter.panels._image_view.filter_catalog`), so a filter change costs no
request. Booting submits the boot flow as a job and ends on a
:class:`~denbi_jupyter.panels.connection.ConnectionCard` that names the private key remembered
for the boot's key pair.

The boot form suggests a VM name from the image; the suggestion follows the selected image
until the user types a name of their own, and a name typed while a suggestion was on its way
(a busy kernel) wins. The key pair preselected is the one last booted with on the site, else
the key of the project's newest VM, else the first (see
:func:`~denbi_jupyter.panels._image_view.preferred_key`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules.names import vm_name_warning
from denbi_jupyter.cloud.types import Flavor, Image, KeyPair
from denbi_jupyter.connect.key_registry import KeyRegistry
from denbi_jupyter.jobs import JobState
from denbi_jupyter.panels._availability import sites_offering
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind, size_fields
from denbi_jupyter.panels._flows import FlowRef, boot_parameters
from denbi_jupyter.panels._html import Tone, notice, title
from denbi_jupyter.panels._image_view import (
    DESKTOP_FILTERS,
    already_booting,
    availability_html,
    boot_problem,
    boot_result_text,
    count_html,
    desktop_options,
    details_html,
    empty_text,
    filter_catalog,
    flavor_label,
    key_after_change,
    merge_catalog,
    needs_servers,
    os_options,
    preferred_key,
    row_html,
    suggest_name,
)
from denbi_jupyter.panels._image_widgets import FilterBar, image_row
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels.connection import ConnectionCard, Prober
from denbi_jupyter.panels.jobs_view import JobCard, JobList
from denbi_jupyter.panels.keypairs import shown_fingerprint

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["DESKTOP_FILTERS", "ImagePanel", "flavor_label"]

#: What a site load brings: offered images, flavors, key pairs and the key to preselect.
_SiteData = tuple[list[Image], list[Flavor], list[KeyPair], str]

_MAX_ROWS = 40
_LIST_STATE = ("images", "catalog", "selected_id", "loading", "private_loading", "error")
_DETAIL_STATE = (
    "selected_id", "catalog", "availability", "flavors", "keypairs", "submitting",
    "boot_error", "boot_name", "loading",
)  # fmt: skip


class ImagePanel(Panel):
    """Browse a site's image catalog and boot a VM from an image.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a :class:`CloudPanel`.
        sites: Site names to offer with a factory.
        site: The site to show first.
        runner: The job runner; created (and warmed up) in the background when None.
        show_site_picker: Show a site dropdown (off inside :class:`CloudPanel`).
        probe: Reachability check for the connection card after a boot.
        registry: Remembered private key paths and boot keys; the user's by default.
    """

    search = t.Unicode("").tag(sync=False)
    desktop = t.Unicode("any").tag(sync=False)
    os_family = t.Unicode("").tag(sync=False)
    catalog: t.List[Any] = t.List().tag(sync=False)
    images: t.List[Any] = t.List().tag(sync=False)
    selected_id = t.Unicode("").tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    private_loading = t.Bool(False).tag(sync=False)
    availability = t.Dict().tag(sync=False)
    flavors: t.List[Any] = t.List().tag(sync=False)
    keypairs: t.List[Any] = t.List().tag(sync=False)
    boot_name = t.Unicode("").tag(sync=False)
    flavor_id = t.Unicode("").tag(sync=False)
    key_name = t.Unicode("").tag(sync=False)
    submitting = t.Bool(False).tag(sync=False)
    boot_error = t.Unicode("").tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        runner: JobRunner | None = None,
        show_site_picker: bool = True,
        probe: Prober | None = None,
        registry: KeyRegistry | None = None,
    ) -> None:
        #: Renders of the list run one at a time: a trait set in the kernel's thread (a click)
        #: and a background answer's update would otherwise interleave, and the later-written
        #: but earlier-read count could say "6 of 7" after the seventh image arrived.
        self._list_lock = threading.RLock()
        self._probe = probe
        self.registry = registry or KeyRegistry()
        #: The name the panel last put into the name field (it may replace it; the user's not).
        self._suggested = ""
        self._suggestion_sent = False
        self._keys_site = ""
        self._selected = w.CallbackDispatcher()
        self._booted = w.CallbackDispatcher()
        self._availability_cache: dict[tuple[str, str], dict[str, bool | None]] = {}
        self._running_boots: set[tuple[str, str]] = set()
        self._offered: list[Image] = []
        self._private: list[Image] = []
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        bar = FilterBar.create()
        self._search, self._desktop, self._os = bar.search, bar.desktop, bar.os
        self._clear, self._reload = bar.clear, bar.reload
        self._count = w.HTML()
        self._rows = w.VBox(layout=w.Layout(width="100%", max_height="460px", overflow_y="auto"))
        self._row_pool: list[tuple[w.HBox, w.HTML, w.Button]] = []
        self._empty = w.HTML()
        self._detail_head = w.HTML()
        self._availability = w.HTML()
        self.jobs = JobList(empty_text="Booted VMs and their progress appear here.")
        self._connections = w.VBox()
        self._boot_form = self._make_boot_form()
        self._details = w.VBox(
            [self._detail_head, self._availability, self._boot_form],
            layout=w.Layout(flex="2 1 320px", min_width="300px", padding="0 0 0 12px"),
        )
        super().__init__(source, sites=sites, site=site, runner=runner)
        self.add_class("denbi-image-panel")
        filters = bar.box(self._site_picker)
        listing = w.VBox(
            [self._count, self._rows, self._empty],
            layout=w.Layout(flex="3 1 380px", min_width="340px"),
        )
        self._layout([
            filters,
            self._error_box,
            w.HBox([listing, self._details], layout=w.Layout(flex_flow="row wrap", width="100%")),
            self.jobs,
            self._connections,
        ])  # fmt: skip
        self._follow_site_picker(self._site_picker)
        bind(self._search, self, "search")
        self._desktop_choice = bind(self._desktop, self, "desktop", empty="any")
        self._os_choice = bind(self._os, self, "os_family")
        bind(self._boot_name, self, "boot_name")
        self._boot_name.observe(self._on_name_typed, names="value")
        self._flavor_choice = bind(self._boot_flavor, self, "flavor_id")
        self._key_choice = bind(self._boot_key, self, "key_name")
        self._clear.on_click(self._guard(lambda _b: self.clear_filters()))
        self._reload.on_click(self._guard(lambda _b: self.load_site(reload=True)))
        self._boot_button.on_click(self._guard(lambda _b: self.boot()))
        self.shared.warm_runner()
        self.load_site()
        self._render()

    def _make_boot_form(self) -> w.VBox:
        self._boot_name = w.Text(description="Name", placeholder="e.g. rnaseq-vm-1")
        self._boot_flavor = w.Dropdown(description="Flavor", options=[])
        self._boot_key = w.Dropdown(description="Key pair", options=[("none", "")])
        size_fields(self._boot_name, self._boot_flavor, self._boot_key, width="97%")
        self._boot_button = w.Button(
            description="Boot VM",
            icon="rocket",
            button_style="success",
            layout=w.Layout(width="auto", flex="0 0 auto"),
        )
        self._boot_note = w.HTML()
        return w.VBox(
            [
                w.HTML(title("Boot a VM from this image")),
                self._boot_name,
                self._boot_flavor,
                self._boot_key,
                w.HBox([self._boot_button], layout=w.Layout(justify_content="flex-end")),
                self._boot_note,
            ],
            layout=w.Layout(border_top="1px solid #dee2e6", padding="6px 0 0 0", margin="8px 0"),
        )

    def _parts(self) -> Iterable[Panel]:
        return tuple(c for c in self._connections.children if isinstance(c, Panel))

    # --- events out ---------------------------------------------------------------------------
    def on_select(self, callback: Callable[[Image], object], remove: bool = False) -> None:
        """Call ``callback(image)`` when the user selects an image (failures are logged)."""
        self._selected.register_callback(callback, remove=remove)

    def on_booted(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, server_id)`` when a boot job completes (failures are logged)."""
        self._booted.register_callback(callback, remove=remove)

    # --- inputs -------------------------------------------------------------------------------
    def clear_filters(self) -> None:
        """Reset search, desktop and OS filters."""
        self.search, self.desktop, self.os_family = "", "any", ""

    def select(self, image_id: str) -> None:
        """Select an image by id and show its details."""
        self.selected_id = image_id

    # --- effects -----------------------------------------------------------------------------
    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self._offered, self._private = [], []
            self.catalog, self.selected_id = [], ""
            self.load_site()

    def load_site(self, *, reload: bool = False) -> None:
        """Load the catalog, flavors and key pairs of the current site (the only requests).

        The public and shared images come first, in requests that do not grow with the
        project's snapshots; the project's private uploads join when the snapshot index (which
        walks the private images anyway) has loaded. ``reload`` walks it again.
        """
        self.error = ""
        registry, site = self.registry, self.site

        def fetch(client: CloudClient) -> _SiteData:
            offered, flavors, keypairs = (
                client.offered_images(), client.list_flavors(), client.list_keypairs()
            )  # fmt: skip
            last = registry.last_boot_key(site)
            servers = client.list_servers() if needs_servers(keypairs, last) else []
            key = preferred_key(keypairs, last_used=last, servers=servers)
            return offered, flavors, keypairs, key

        self._call("site", fetch, self._apply_site, busy="loading")
        self._call(
            "private",
            lambda client: client.private_images(reload=reload),
            self._apply_private,
            busy="private_loading",
        )

    def _apply_site(self, data: _SiteData) -> None:
        offered, flavors, keypairs, preferred = data
        fresh = self._keys_site != self.site  # a reload of the same site keeps the user's pick
        self._keys_site = self.site
        had_keys = bool(self.keypairs)  # "none" was a choice, not the only option
        self.flavors, self.keypairs, self._offered = list(flavors), list(keypairs), list(offered)
        names = {pair.name for pair in keypairs}
        if fresh or self.key_name not in names | {""} or not (self.key_name or had_keys):
            self.key_name = preferred
        self.catalog = merge_catalog(self._offered, self._private)

    def take_keypairs(self, keypairs: Sequence[KeyPair]) -> None:
        """Show the site's key pairs as another view just changed them (one generated,
        imported or deleted); a key pair just added becomes the pick."""
        picked = key_after_change(self.key_name, self.keypairs, keypairs)
        self.keypairs = list(keypairs)
        if picked is not None:
            self.key_name = picked

    def _apply_private(self, private: list[Image]) -> None:
        self._private = list(private)
        self.catalog = merge_catalog(self._offered, self._private)

    @t.observe("catalog", "search", "desktop", "os_family")
    def _on_filter(self, _change: dict[str, Any]) -> None:
        self.images = filter_catalog(self.catalog, self.search, self.desktop, self.os_family)

    @t.observe("boot_name", "flavor_id")
    def _on_boot_form(self, _change: dict[str, Any]) -> None:
        self.boot_error = ""  # the user is fixing what it said

    @t.observe("flavors")
    def _on_flavors(self, _change: dict[str, Any]) -> None:
        ids = [f.id for f in self.flavors]
        if self.flavor_id not in ids:
            self.flavor_id = ids[0] if ids else ""

    @t.observe("selected_id")
    def _on_selected(self, _change: dict[str, Any]) -> None:
        image = self.selected_image
        self.boot_error = ""
        if image is None:
            return
        self._suggest(suggest_name(image))
        self._fire(self._selected, image)
        self._check_availability(image)

    def _suggest(self, name: str) -> None:
        """Put ``name`` into the name field unless the field holds a name the user typed."""
        if self.boot_name.strip() not in {"", self._suggested}:
            return
        self._suggested = name
        if self.boot_name != name:
            self.boot_name = name
            self._suggestion_sent = True

    def _on_name_typed(self, change: dict[str, Any]) -> None:
        """A name typed while a suggestion was on its way (a busy kernel) wins, on screen too.

        The browser may have shown the late suggestion over the typing; the echo of the typed
        value does not repaint it, so the typed value is sent back as a plain update.
        """
        if self._suggestion_sent and change["new"] != self._suggested:
            self._suggestion_sent = False
            self._boot_name.send_state("value")

    def _check_availability(self, image: Image) -> None:
        cache_key = (self.site, image.name)
        cached = self._availability_cache.get(cache_key)
        if cached is not None:
            self.availability = cached
            return
        here, clients = self.site, self.clients
        self.availability = {s: (True if s == here else None) for s in clients.names}

        def fetch() -> dict[str, bool | None]:
            return sites_offering(clients, image.name, here=here)

        def apply(found: dict[str, bool | None]) -> None:
            self._availability_cache[cache_key] = found
            if self.selected_id == image.id:
                self.availability = found

        self._run_local("availability", fetch, apply)

    # --- boot ----------------------------------------------------------------------------------
    def boot(self) -> None:
        """Start the boot flow for the selected image with the form's name, flavor and key."""
        image = self.selected_image
        name = self.boot_name.strip()
        problem = boot_problem(image, name, self.flavor_id)
        if problem or image is None:
            self.boot_error = problem or "Select an image first."
            return
        site = self.site
        if (site, name) in self._running_boots:
            self.boot_error = already_booting(site, name)
            return
        self.boot_error = ""
        self._running_boots.add((site, name))
        self._suggested = name  # the next image's suggestion replaces the booted VM's name
        key_name, registry = self.key_name, self.registry
        parameters = boot_parameters(
            site=site, image=image.id, flavor=self.flavor_id, key_name=key_name, name=name
        )

        def started(card: JobCard) -> None:
            registry.remember_boot_key(site, key_name)
            card.on_done(lambda done: self._on_boot_done(site, name, key_name, done))

        def not_started(_exc: BaseException) -> None:
            self._running_boots.discard((site, name))

        self._start_job(
            "boot",
            f"Boot {name} from {image.name}",
            FlowRef.BOOT_SERVER,
            parameters,
            jobs=self.jobs,
            describe_result=boot_result_text,
            on_card=started,
            busy="submitting",
            on_error=not_started,
        )

    def _on_boot_done(self, site: str, name: str, key_name: str, job: Job) -> None:
        self._running_boots.discard((site, name))
        if self.boot_error == already_booting(site, name):
            self.boot_error = ""  # it is no longer booting
        if job.state is not JobState.COMPLETED:
            return
        result = job.result
        if not isinstance(result, BootResult):
            self.log.info(f"boot of {name} finished without a BootResult: {type(result).__name__}")
            return
        key_path = self.registry.private_key(site, key_name)
        card = ConnectionCard(
            self.shared,
            site=site,
            server_id=result.server_id,
            key_path=str(key_path) if key_path is not None else None,
            probe=self._probe,
        )
        self._connections.children = (card, *self._connections.children)
        self._fire(self._booted, site, result.server_id)

    # --- view ----------------------------------------------------------------------------------
    @property
    def selected_image(self) -> Image | None:
        """The selected image, if it is in the catalog."""
        return next((i for i in self.catalog if i.id == self.selected_id), None)

    @t.observe(*_LIST_STATE)
    def _on_list_state(self, _change: dict[str, Any]) -> None:
        self._render_list()

    @t.observe(*_DETAIL_STATE)
    def _on_detail_state(self, _change: dict[str, Any]) -> None:
        self._render_details()

    def _render(self) -> None:
        self._render_list()
        self._render_details()

    def _render_list(self) -> None:
        with self._list_lock:
            self._render_list_now()

    def _render_list_now(self) -> None:
        self._error_box.value = self._error_html()
        self._desktop_choice.set_options(self._with_current(desktop_options(self.catalog)))
        self._os_choice.set_options(os_options(self.catalog, self.os_family))
        self._clear.disabled = not (self.search.strip() or self.desktop != "any" or self.os_family)
        self._reload.disabled = self.loading
        images: Sequence[Image] = self.images
        shown = images[:_MAX_ROWS]
        while len(self._row_pool) < len(shown):
            self._row_pool.append(self._make_row())
        for (_row, html, button), image in zip(self._row_pool, shown, strict=False):
            selected = image.id == self.selected_id
            html.value = row_html(image, selected=selected)
            button.description = "Selected" if selected else "Select"
            button.button_style = "info" if selected else ""
            button.tooltip = image.id
            button.image_id = image.id
        self._rows.children = tuple(row for row, _, _ in self._row_pool[: len(shown)])
        self._count.value = count_html(
            self.site, len(images), len(self.catalog), max_rows=_MAX_ROWS,
            loading=self.loading, private_loading=self.private_loading,
        )  # fmt: skip
        quiet = images or self.loading
        self._empty.value = "" if quiet else notice(
            empty_text(self.search, self.desktop, self.os_family)
        )  # fmt: skip

    def _with_current(self, options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if self.desktop in {value for _, value in options}:
            return options
        return [*options, (self.desktop, self.desktop)]

    def _make_row(self) -> tuple[w.HBox, w.HTML, w.Button]:
        return image_row(self._guard(lambda b: self.select(getattr(b, "image_id", ""))))

    def _render_details(self) -> None:
        image = self.selected_image
        self._flavor_choice.set_options([(flavor_label(f), f.id) for f in self.flavors])
        self._key_choice.set_options(
            [("none (add your key to the VM later)", "")]
            + [(f"{k.name}  ({shown_fingerprint(k)})", k.name) for k in self.keypairs]
        )
        if image is None:
            self._detail_head.value = notice(
                "Select an image to see its details and boot a VM from it.", Tone.MUTED
            )
            self._availability.value = ""
            self._boot_form.layout.display = "none"
            return
        self._boot_form.layout.display = ""
        self._detail_head.value = details_html(image)
        self._availability.value = availability_html(self.availability, self.clients.names)
        self._boot_button.disabled = self.submitting or self.loading or not self.flavors
        self._boot_button.description = "Starting…" if self.submitting else "Boot VM"
        hint = vm_name_warning(self.boot_name)
        self._boot_note.value = (
            notice(self.boot_error, Tone.ERROR) if self.boot_error
            else notice(hint, Tone.MUTED) if hint
            else ""
        )  # fmt: skip
