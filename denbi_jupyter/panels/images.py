"""The image catalog: search, filter by desktop and OS, see details, boot a VM.

State lives in traits (``search``, ``desktop``, ``os_family``, ``selected_id``, results);
widgets only mirror it through :meth:`ImagePanel._render`. Searching asks the site's client
(debounced, in the background); booting submits ``flows.boot.boot_server`` as a job and ends
on a :class:`~denbi_jupyter.panels.connection.ConnectionCard`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import DesktopKind, Flavor, Image, ImageQuery, KeyPair
from denbi_jupyter.errors import DenbiError
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._html import Tone, badge, esc, human_size, human_time, notice, title
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels.connection import ConnectionCard, Prober
from denbi_jupyter.panels.jobs_view import JobCard, JobList

if TYPE_CHECKING:
    from denbi_jupyter.jobs import Job, JobRunner

__all__ = ["DESKTOP_FILTERS", "ImagePanel", "flavor_label", "server_id_of"]

#: Desktop filter values (besides ``x2go:<SESSION>``) and their labels.
DESKTOP_FILTERS: Mapping[str, str] = {
    "any": "Any kind",
    "x2go": "X2Go desktop (any session)",
    "guacamole": "Guacamole desktop",
    "research": "Research environment",
    "plain": "Plain OS (base image)",
}

_MAX_ROWS = 40
_VM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def flavor_label(flavor: Flavor) -> str:
    """``de.NBI small · 4 vCPU · 8 GB RAM · 20 GB disk (+50 GB ephemeral)``."""
    extra = f" (+{flavor.ephemeral_gb} GB ephemeral)" if flavor.ephemeral_gb else ""
    return (
        f"{flavor.name} · {flavor.vcpus} vCPU · {flavor.ram_gb:g} GB RAM · "
        f"{flavor.disk_gb} GB disk{extra}"
    )


def server_id_of(result: object) -> str | None:
    """The server id in a boot flow's result (``server_id``, ``id`` or ``server.id``)."""
    if isinstance(result, Mapping):
        for key in ("server_id", "id"):
            value = result.get(key)
            if isinstance(value, str) and value:
                return value
        server = result.get("server")
        if isinstance(server, Mapping):
            return server_id_of(server)
        value = getattr(server, "id", None)
        return value if isinstance(value, str) else None
    value = getattr(result, "id", None)
    return value if isinstance(value, str) else None


def _image_badges(image: Image) -> str:
    kind = image.kind
    parts: list[str] = []
    if kind.desktop is DesktopKind.X2GO:
        parts.append(badge(kind.label, Tone.ACCENT))
    elif kind.desktop is DesktopKind.GUACAMOLE:
        parts.append(badge("Guacamole", Tone.ACCENT))
    if kind.research_environment:
        parts.append(badge(kind.research_environment, Tone.INFO))
    if kind.os_family:
        os_text = " ".join(p for p in (kind.os_family.title(), kind.os_version) if p)
        parts.append(badge(os_text, Tone.MUTED))
    if kind.is_base:
        parts.append(badge("base image", Tone.OK))
    if image.is_snapshot:
        parts.append(badge("snapshot", Tone.WARN))
    if image.visibility in ("private", "shared", "community"):
        parts.append(badge(image.visibility, Tone.WARN))
    return "".join(parts)


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
    """

    search = t.Unicode("").tag(sync=False)
    desktop = t.Unicode("any").tag(sync=False)
    os_family = t.Unicode("").tag(sync=False)
    catalog: t.List[Any] = t.List().tag(sync=False)
    images: t.List[Any] = t.List().tag(sync=False)
    selected_id = t.Unicode("").tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    searching = t.Bool(False).tag(sync=False)
    availability = t.Dict().tag(sync=False)
    flavors: t.List[Any] = t.List().tag(sync=False)
    keypairs: t.List[Any] = t.List().tag(sync=False)
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
    ) -> None:
        self._probe = probe
        self._select_callbacks: list[Callable[[Image], object]] = []
        self._booted_callbacks: list[Callable[[str, str], object]] = []
        self._availability_cache: dict[tuple[str, str], dict[str, bool | None]] = {}
        self._running_boots: set[tuple[str, str]] = set()
        self._site_picker = self._new_site_picker(visible=show_site_picker)
        self._search = w.Text(
            placeholder="Search images by name…",
            continuous_update=True,
            layout=w.Layout(width="260px"),
        )
        self._desktop = w.Dropdown(options=[], layout=w.Layout(width="250px"))
        self._os = w.Dropdown(options=[("Any OS", "")], layout=w.Layout(width="150px"))
        self._clear = w.Button(
            description="Clear filters", icon="times", layout=w.Layout(width="auto")
        )
        self._count = w.HTML()
        self._rows = w.VBox(layout=w.Layout(width="100%", max_height="460px", overflow_y="auto"))
        self._row_pool: list[tuple[w.HBox, w.HTML, w.Button]] = []
        self._empty = w.HTML()
        self._detail_head = w.HTML()
        self._availability = w.HTML()
        self._boot_name = w.Text(description="Name", placeholder="e.g. rnaseq-vm-1")
        self._boot_flavor = w.Dropdown(description="Flavor", options=[])
        self._boot_key = w.Dropdown(description="Key pair", options=[("none", "")])
        for field in (self._boot_name, self._boot_flavor, self._boot_key):
            field.style.description_width = "70px"
            field.layout.width = "97%"
        self._boot_button = w.Button(
            description="Boot VM",
            icon="rocket",
            button_style="success",
            layout=w.Layout(width="auto"),
        )
        self._boot_note = w.HTML()
        self.jobs = JobList(empty_text="Booted VMs and their progress appear here.")
        self._connections = w.VBox()
        self._boot_form = w.VBox(
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
        self._details = w.VBox(
            [self._detail_head, self._availability, self._boot_form],
            layout=w.Layout(flex="2 1 320px", min_width="300px", padding="0 0 0 12px"),
        )
        super().__init__(source, sites=sites, site=site, runner=runner)
        self.add_class("denbi-image-panel")
        filters = w.HBox(
            [self._site_picker, self._search, self._desktop, self._os, self._clear],
            layout=w.Layout(flex_flow="row wrap", align_items="center"),
        )
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
        self._search.observe(self._guard(self._on_search_typed), names="value")
        self._desktop.observe(self._guard(self._on_desktop_picked), names="value")
        self._os.observe(self._guard(self._on_os_picked), names="value")
        self._clear.on_click(self._guard(lambda _b: self.clear_filters()))
        self._boot_button.on_click(self._guard(lambda _b: self.boot()))
        self.shared.warm_runner()
        self.load_site()
        self._render()

    # --- events out ---------------------------------------------------------------------------
    def on_select(self, callback: Callable[[Image], object], remove: bool = False) -> None:
        """Call ``callback(image)`` when the user selects an image (failures are logged)."""
        _register(self._select_callbacks, callback, remove=remove)

    def on_booted(self, callback: Callable[[str, str], object], remove: bool = False) -> None:
        """Call ``callback(site, server_id)`` when a boot job completes (failures are logged)."""
        _register(self._booted_callbacks, callback, remove=remove)

    # --- inputs -> traits ---------------------------------------------------------------------
    def _on_search_typed(self, change: dict[str, Any]) -> None:
        self.search = change["new"]

    def _on_desktop_picked(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.desktop = change["new"]

    def _on_os_picked(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.os_family = change["new"]

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
            self.load_site()

    def load_site(self) -> None:
        """Load the catalog, flavors and key pairs of the current site."""
        self.error = ""

        def fetch(client: CloudClient) -> tuple[list[Image], list[Flavor], list[KeyPair]]:
            return client.list_images(ImageQuery()), client.list_flavors(), client.list_keypairs()

        self._call("site", fetch, self._apply_site, busy="loading")

    def _apply_site(self, data: tuple[list[Image], list[Flavor], list[KeyPair]]) -> None:
        catalog, flavors, keypairs = data
        self.flavors = list(flavors)
        self.keypairs = list(keypairs)
        self.catalog = list(catalog)
        if self._filters_empty():
            self.images = list(catalog)
        else:
            self._search_images(delay=0.0)

    def _filters_empty(self) -> bool:
        return not self.search.strip() and self.desktop == "any" and not self.os_family

    @t.observe("search", "desktop", "os_family")
    def _on_filter(self, change: dict[str, Any]) -> None:
        delay = self.shared.debounce_s if change["name"] == "search" else 0.0
        self._search_images(delay=delay)

    def _search_images(self, *, delay: float) -> None:
        if self._filters_empty():
            self._cancel("search", busy="searching")
            self.images = list(self.catalog)
            return
        query, session = self._query()

        def fetch(client: CloudClient) -> list[Image]:
            found = client.list_images(query)
            if session is not None:
                found = [i for i in found if (i.kind.x2go_session or "").upper() == session]
            return found

        def apply(found: list[Image]) -> None:
            self.error = ""
            self.images = found

        self._call("search", fetch, apply, busy="searching", delay=delay)

    def _query(self) -> tuple[ImageQuery, str | None]:
        desktop, session = self.desktop, None
        if desktop.startswith("x2go:"):
            desktop, session = "x2go", desktop.split(":", 1)[1].upper()
        query = ImageQuery(
            text=self.search.strip(),
            desktop={"x2go": DesktopKind.X2GO, "guacamole": DesktopKind.GUACAMOLE}.get(desktop),
            research_only=desktop == "research",
            base_only=desktop == "plain",
            os_family=self.os_family or None,
        )
        return query, session

    @t.observe("selected_id")
    def _on_selected(self, change: dict[str, Any]) -> None:
        image = self.selected_image
        self.boot_error = ""
        if image is None:
            return
        if not self._boot_name.value.strip():
            self._boot_name.value = _suggest_name(image)
        for callback in list(self._select_callbacks):
            self._guard(callback)(image)
        self._check_availability(image)

    def _check_availability(self, image: Image) -> None:
        cache_key = (self.site, image.name)
        cached = self._availability_cache.get(cache_key)
        if cached is not None:
            self.availability = cached
            return
        names, here, clients = self.clients.names, self.site, self.clients
        self.availability = {s: (True if s == here else None) for s in names}

        def fetch(_client: CloudClient) -> dict[str, bool | None]:
            found: dict[str, bool | None] = {}
            for other in names:
                if other == here:
                    found[other] = True
                    continue
                try:
                    matches = clients.get(other).find_images_by_property("name", image.name)
                except DenbiError:
                    found[other] = None
                else:
                    found[other] = any(m.status == "active" for m in matches)
            return found

        def apply(found: dict[str, bool | None]) -> None:
            self._availability_cache[cache_key] = found
            if self.selected_id == image.id:
                self.availability = found

        self._call("availability", fetch, apply)

    # --- boot ----------------------------------------------------------------------------------
    def boot(self) -> None:
        """Start the boot flow for the selected image with the form's name, flavor and key."""
        image = self.selected_image
        name = self._boot_name.value.strip()
        flavor_id = self._boot_flavor.value
        key_name = self._boot_key.value or None
        problem = _boot_problem(image, name, flavor_id)
        if problem or image is None:
            self.boot_error = problem or "Select an image first."
            return
        site = self.site
        if (site, name) in self._running_boots:
            self.boot_error = f"A VM named {name!r} is already booting on {site}."
            return
        self.boot_error = ""
        self._running_boots.add((site, name))
        parameters: dict[str, object] = {
            "site": site,
            "image": image.id,
            "flavor": flavor_id,
            "key_name": key_name,
            "name": name,
        }

        def started(card: JobCard) -> None:
            card.on_done(lambda done: self._on_boot_done(site, name, done))

        def not_started(exc: BaseException) -> None:
            self._running_boots.discard((site, name))

        self._start_job(
            "boot",
            f"Boot {name} from {image.name}",
            "boot:boot_server",
            parameters,
            jobs=self.jobs,
            describe_result=_boot_result_text,
            on_card=started,
            busy="submitting",
            on_error=not_started,
        )

    def _on_boot_done(self, site: str, name: str, job: Job) -> None:
        self._running_boots.discard((site, name))
        if job.state.value != "completed":
            return
        server_id = server_id_of(job.result)
        if server_id is None:
            self.log.info(f"boot of {name} finished without a server id in its result")
            return
        card = ConnectionCard(self.shared, site=site, server_id=server_id, probe=self._probe)
        self._connections.children = (card, *self._connections.children)
        for callback in list(self._booted_callbacks):
            self._guard(callback)(site, server_id)

    # --- view ----------------------------------------------------------------------------------
    @property
    def selected_image(self) -> Image | None:
        """The selected image, if it is in the catalog or the current results."""
        images: list[Image] = [*self.images, *self.catalog]
        return next((i for i in images if i.id == self.selected_id), None)

    @t.observe(
        "catalog",
        "images",
        "selected_id",
        "loading",
        "searching",
        "availability",
        "flavors",
        "keypairs",
        "submitting",
        "boot_error",
        "error",
        "search",
        "desktop",
        "os_family",
    )
    def _on_state(self, change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        self._sync_inputs()
        self._render_list()
        self._render_details()

    def _sync_inputs(self) -> None:
        if self._site_picker.value != self.site:
            self._site_picker.value = self.site
        if self._search.value != self.search:
            self._search.value = self.search
        desktop_options = _desktop_options(self.catalog)
        if list(self._desktop.options) != desktop_options:
            self._desktop.options = desktop_options
        if self.desktop not in {v for _, v in desktop_options}:
            self._desktop.options = [*desktop_options, (self.desktop, self.desktop)]
        self._desktop.value = self.desktop
        os_options = [("Any OS", "")] + [
            (family.title(), family)
            for family in sorted({i.kind.os_family for i in self.catalog if i.kind.os_family})
        ]
        if self.os_family and self.os_family not in {v for _, v in os_options}:
            os_options.append((self.os_family.title(), self.os_family))
        if list(self._os.options) != os_options:
            self._os.options = os_options
        self._os.value = self.os_family
        self._clear.disabled = self._filters_empty()

    def _render_list(self) -> None:
        images: Sequence[Image] = self.images
        shown = images[:_MAX_ROWS]
        while len(self._row_pool) < len(shown):
            self._row_pool.append(self._make_row())
        for (_row, html, button), image in zip(self._row_pool, shown, strict=False):
            selected = image.id == self.selected_id
            html.value = _row_html(image, selected=selected)
            button.description = "Selected" if selected else "Select"
            button.button_style = "info" if selected else ""
            button.tooltip = image.id
            button.image_id = image.id  # type: ignore[attr-defined]
        self._rows.children = tuple(row for row, _, _ in self._row_pool[: len(shown)])
        busy = self.loading or self.searching
        status = badge("loading…", Tone.BUSY) if busy else ""
        if self.loading and not self.catalog:
            self._count.value = notice(f"Loading the image catalog of {self.site}…", Tone.BUSY)
        else:
            more = (
                f" · showing the first {_MAX_ROWS}: refine the search"
                if len(images) > _MAX_ROWS
                else ""
            )
            self._count.value = (
                f'<div style="margin:4px 0;color:#495057">{len(images)} of {len(self.catalog)} '
                f"images on <b>{esc(self.site)}</b>{more} {status}</div>"
            )
        if not images and not self.loading and not self.searching:
            self._empty.value = notice(_empty_text(self.search, self.desktop, self.os_family))
        else:
            self._empty.value = ""

    def _make_row(self) -> tuple[w.HBox, w.HTML, w.Button]:
        html = w.HTML(layout=w.Layout(flex="1 1 auto"))
        button = w.Button(
            description="Select", layout=w.Layout(width="84px", flex="0 0 auto", margin="0 6px")
        )
        button.on_click(self._guard(lambda b: self.select(getattr(b, "image_id", ""))))
        row = w.HBox(
            [html, button],
            layout=w.Layout(
                align_items="center", border_bottom="1px solid #f1f3f5", flex="0 0 auto"
            ),
        )
        row.add_class("denbi-image-row")
        return row, html, button

    def _render_details(self) -> None:
        image = self.selected_image
        if image is None:
            self._detail_head.value = notice(
                "Select an image to see its details and boot a VM from it.", Tone.MUTED
            )
            self._availability.value = ""
            self._boot_form.layout.display = "none"
            return
        self._boot_form.layout.display = ""
        props = image.properties
        facts = [
            ("OS", image.kind.label if not image.kind.os_family else
                   " ".join(p for p in (image.kind.os_family.title(), image.kind.os_version) if p)),
            ("Minimum disk", f"{image.min_disk} GB" if image.min_disk else "—"),
            ("Size", human_size(image.size)),
            ("Created", human_time(image.created_at)),
            ("Visibility", image.visibility),
            ("ID", image.id),
        ]  # fmt: skip
        rows = "".join(
            f'<tr><td style="color:#6c757d;padding:1px 10px 1px 0">{esc(k)}</td>'
            f'<td style="font-family:var(--jp-code-font-family,monospace);font-size:12px">'
            f"{esc(v)}</td></tr>"
            for k, v in facts
        )
        description = props.get("description", "")
        self._detail_head.value = (
            title(props.get("title") or image.name, sub=image.name if props.get("title") else "")
            + f"<div>{_image_badges(image)}</div>"
            + (f'<div style="margin:4px 0">{esc(description)}</div>' if description else "")
            + f'<table style="margin:4px 0">{rows}</table>'
        )
        self._availability.value = _availability_html(self.availability, self.clients.names)
        flavor_options = [(flavor_label(f), f.id) for f in self.flavors]
        if list(self._boot_flavor.options) != flavor_options:
            current = self._boot_flavor.value
            self._boot_flavor.options = flavor_options
            ids = [v for _, v in flavor_options]
            self._boot_flavor.value = current if current in ids else (ids[0] if ids else None)
        key_options: list[tuple[str, str]] = [("none (add your key to the VM later)", "")] + [
            (f"{k.name}  ({k.fingerprint})", k.name) for k in self.keypairs
        ]
        if list(self._boot_key.options) != key_options:
            current_key = self._boot_key.value
            self._boot_key.options = key_options
            names = [v for _, v in key_options]
            # Preselect the user's (first) key: booting without one is rarely what they want.
            self._boot_key.value = current_key if current_key in names[1:] else (
                names[1] if len(names) > 1 else ""
            )  # fmt: skip
        self._boot_button.disabled = self.submitting or self.loading or not flavor_options
        self._boot_button.description = "Starting…" if self.submitting else "Boot VM"
        self._boot_note.value = notice(self.boot_error, Tone.ERROR) if self.boot_error else ""


def _register(callbacks: list[Any], callback: Any, *, remove: bool) -> None:
    if remove:
        if callback in callbacks:
            callbacks.remove(callback)
    elif callback not in callbacks:
        callbacks.append(callback)


def _suggest_name(image: Image) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", image.name.lower()).strip("-")[:40] or "vm"
    return f"{base}-vm"


def _boot_problem(image: Image | None, name: str, flavor_id: str | None) -> str:
    if image is None:
        return "Select an image first."
    if not name:
        return "Give the VM a name, e.g. 'rnaseq-vm-1'."
    if not _VM_NAME.match(name):
        return (
            f"{name!r} is not a usable VM name: use letters, digits, '.', '_' and '-' "
            "(up to 63 characters), starting with a letter or digit."
        )
    if not flavor_id:
        return "Choose a flavor."
    return ""


def _boot_result_text(result: object) -> str:
    server = result.get("server") if isinstance(result, Mapping) else None
    if isinstance(server, Mapping):
        name = server.get("name") or "The VM"
        address = server.get("private_ipv4")
        status = server.get("status") or "ACTIVE"
        where = f" at {address}" if address else ""
        return f"{name} is {status}{where}: connection details below."
    return "The VM is ready: connection details below."


def _desktop_options(catalog: Sequence[Image]) -> list[tuple[str, str]]:
    sessions = sorted({i.kind.x2go_session for i in catalog if i.kind.x2go_session})
    options = [(DESKTOP_FILTERS["any"], "any"), (DESKTOP_FILTERS["x2go"], "x2go")]
    options += [(f"   X2Go · {session}", f"x2go:{session.upper()}") for session in sessions]
    options += [(DESKTOP_FILTERS[k], k) for k in ("guacamole", "research", "plain")]
    return options


def _row_html(image: Image, *, selected: bool) -> str:
    subtitle = image.properties.get("title") or ""
    background = "#e7f1ff" if selected else "transparent"
    edge = "#0d6efd" if selected else "transparent"
    return (
        f'<div style="padding:3px 8px;background:{background};border-left:3px solid {edge};'
        f'line-height:1.35"><div><b>{esc(image.name)}</b></div><div>{_image_badges(image)}'
        f'<span style="color:#6c757d;font-size:12px">{esc(subtitle)}</span></div></div>'
    )


def _availability_html(availability: Mapping[str, bool | None], sites: Sequence[str]) -> str:
    if len(sites) < 2:
        return ""
    parts: list[str] = []
    for site in sites:
        state = availability.get(site)
        if state is True:
            parts.append(badge(f"✓ {site}", Tone.OK))
        elif state is False:
            parts.append(badge(f"✗ {site}", Tone.MUTED, tooltip="no image with this name"))
        else:
            parts.append(badge(f"{site}: checking…", Tone.BUSY))
    label = '<span style="color:#6c757d">Available on sites:</span>'
    return f'<div style="margin:4px 0">{label} {"".join(parts)}</div>'


def _empty_text(search: str, desktop: str, os_family: str) -> str:
    criteria: list[str] = []
    if search.strip():
        criteria.append(f"'{search.strip()}'")
    if desktop != "any":
        label = DESKTOP_FILTERS.get(desktop) or f"X2Go {desktop.split(':', 1)[-1]}"
        criteria.append(label)
    if os_family:
        criteria.append(os_family.title())
    if not criteria:
        return "This site offers no images to your project."
    return f"No images match {' + '.join(criteria)}. Clear the filters to see all images."
