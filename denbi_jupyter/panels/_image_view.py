"""What the image panel shows, as pure functions: filters over the catalog it holds and HTML.

:func:`filter_catalog` narrows the catalog the panel already holds, so a filter change costs
no request; :func:`image_query` turns the filter widgets' values into an ``ImageQuery``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules.names import NameKind, name_problem
from denbi_jupyter.cloud.types import DesktopKind, Flavor, Image, ImageQuery, KeyPair, Server
from denbi_jupyter.panels._html import Tone, badge, esc, human_size, human_time, notice, title

__all__ = [
    "DESKTOP_FILTERS",
    "already_booting",
    "availability_html",
    "boot_problem",
    "boot_result_text",
    "count_html",
    "desktop_options",
    "details_html",
    "empty_text",
    "filter_catalog",
    "flavor_label",
    "image_badges",
    "image_query",
    "merge_catalog",
    "needs_servers",
    "os_options",
    "preferred_key",
    "row_html",
    "suggest_name",
]

#: Desktop filter values (besides ``x2go:<SESSION>``) and their labels.
DESKTOP_FILTERS: Mapping[str, str] = {
    "any": "Any kind",
    "x2go": "X2Go desktop (any session)",
    "guacamole": "Guacamole desktop",
    "research": "Research environment",
    "plain": "Plain OS (base image)",
}


def flavor_label(flavor: Flavor) -> str:
    """``de.NBI small · 4 vCPU · 8 GB RAM · 20 GB disk (+50 GB ephemeral)``."""
    extra = f" (+{flavor.ephemeral_gb} GB ephemeral)" if flavor.ephemeral_gb else ""
    return (
        f"{flavor.name} · {flavor.vcpus} vCPU · {flavor.ram_gb:g} GB RAM · "
        f"{flavor.disk_gb} GB disk{extra}"
    )


def image_query(search: str, desktop: str, os_family: str) -> tuple[ImageQuery, str | None]:
    """The filter widgets' values as a query, plus the X2Go session asked for (upper case)."""
    session = None
    if desktop.startswith("x2go:"):
        desktop, session = "x2go", desktop.split(":", 1)[1].upper()
    query = ImageQuery(
        text=search.strip(),
        desktop={"x2go": DesktopKind.X2GO, "guacamole": DesktopKind.GUACAMOLE}.get(desktop),
        research_only=desktop == "research",
        base_only=desktop == "plain",
        os_family=os_family or None,
    )
    return query, session


def _matches(image: Image, query: ImageQuery, needle: str, session: str | None) -> bool:
    kind = image.kind
    checks = (
        query.desktop is None or kind.desktop is query.desktop,
        session is None or (kind.x2go_session or "").upper() == session,
        not query.research_only or kind.research_environment is not None,
        not query.base_only or kind.is_base,
        not query.os_family or (kind.os_family or "") == query.os_family.strip().lower(),
        not needle or needle in f"{image.name}\0{kind.label}\0{' '.join(image.tags)}".lower(),
    )
    return all(checks)


def filter_catalog(
    catalog: Sequence[Image], search: str, desktop: str, os_family: str
) -> list[Image]:
    """The images of ``catalog`` that the filters keep, in catalog order (no cloud request)."""
    query, session = image_query(search, desktop, os_family)
    needle = query.text.lower()
    return [image for image in catalog if _matches(image, query, needle, session)]


def image_badges(image: Image) -> str:
    """Badges for an image's desktop, research environment, OS, base and visibility."""
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


def suggest_name(image: Image) -> str:
    """A VM name derived from the image's name."""
    base = re.sub(r"[^a-z0-9]+", "-", image.name.lower()).strip("-")[:40] or "vm"
    return f"{base}-vm"


def preferred_key(
    keypairs: Sequence[KeyPair], *, last_used: str | None, servers: Sequence[Server]
) -> str:
    """The key pair to preselect: the one last booted with on the site, else the key of the
    project's newest VM, else the first; ``''`` (none) when the site has no key pairs."""
    names = [pair.name for pair in keypairs]
    if last_used in names:
        return str(last_used)
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    keyed = [server for server in servers if server.key_name in names]
    newest = max(keyed, key=lambda server: server.created_at or oldest, default=None)
    if newest is not None and newest.key_name:
        return newest.key_name
    return names[0] if names else ""


def key_after_change(
    current: str, before: Sequence[KeyPair], after: Sequence[KeyPair]
) -> str | None:
    """The boot form's new key pick when another view changed the site's key pairs, or None
    to keep ``current``: a key pair just added (one) is the one to boot with (also the first
    one: "none" was the only choice before); a deleted pick falls back to none."""
    names = {pair.name for pair in after}
    added = names - {pair.name for pair in before}
    if len(added) == 1 and (before or not current):
        return added.pop()
    if current and current not in names:
        return ""
    return None


def needs_servers(keypairs: Sequence[KeyPair], last_used: str | None) -> bool:
    """Whether :func:`preferred_key` needs the project's VMs to choose (a request saved)."""
    return len(keypairs) > 1 and last_used not in {pair.name for pair in keypairs}


def boot_problem(image: Image | None, name: str, flavor_id: str | None) -> str:
    """What stops a boot with these inputs (the VM name rule is the domain's), or ``''``."""
    if image is None:
        return "Select an image first."
    problem = name_problem(NameKind.SERVER, name)
    if problem:
        return f"{problem} E.g. 'rnaseq-vm-1'."
    if not flavor_id:
        return "Choose a flavor."
    return ""


def merge_catalog(offered: Sequence[Image], private: Sequence[Image]) -> list[Image]:
    """The catalog: offered and the project's private images, each once, newest first."""
    by_id = {image.id: image for image in (*offered, *private)}
    return sorted(by_id.values(), key=lambda image: image.created_at, reverse=True)


def desktop_options(catalog: Sequence[Image]) -> list[tuple[str, str]]:
    """The desktop filter's options, with one entry per X2Go session in the catalog."""
    sessions = sorted({i.kind.x2go_session for i in catalog if i.kind.x2go_session})
    options = [(DESKTOP_FILTERS["any"], "any"), (DESKTOP_FILTERS["x2go"], "x2go")]
    options += [(f"   X2Go · {session}", f"x2go:{session.upper()}") for session in sessions]
    options += [(DESKTOP_FILTERS[k], k) for k in ("guacamole", "research", "plain")]
    return options


def os_options(catalog: Sequence[Image], current: str) -> list[tuple[str, str]]:
    """The OS filter's options: every OS family in the catalog (and ``current``)."""
    families = sorted({i.kind.os_family for i in catalog if i.kind.os_family} | {current} - {""})
    return [("Any OS", "")] + [(family.title(), family) for family in families]


def row_html(image: Image, *, selected: bool) -> str:
    """One catalog row."""
    subtitle = image.properties.get("title") or ""
    background = "#e7f1ff" if selected else "transparent"
    edge = "#0d6efd" if selected else "transparent"
    return (
        f'<div style="padding:3px 8px;background:{background};border-left:3px solid {edge};'
        f'line-height:1.35"><div><b>{esc(image.name)}</b></div><div>{image_badges(image)}'
        f'<span style="color:#6c757d;font-size:12px">{esc(subtitle)}</span></div></div>'
    )


def availability_html(availability: Mapping[str, bool | None], sites: Sequence[str]) -> str:
    """Which sites offer the image (with two sites or more)."""
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


def empty_text(search: str, desktop: str, os_family: str) -> str:
    """Why the list is empty, naming the filters."""
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


def details_html(image: Image) -> str:
    """The details of one image: title, badges, description and a table of facts."""
    kind, props = image.kind, image.properties
    os_text = (
        " ".join(p for p in (kind.os_family.title(), kind.os_version) if p)
        if kind.os_family
        else kind.label
    )
    facts = [
        ("OS", os_text),
        ("Minimum disk", f"{image.min_disk} GB" if image.min_disk else "—"),
        ("Size", human_size(image.size)),
        ("Created", human_time(image.created_at)),
        ("Visibility", image.visibility),
        ("ID", image.id),
    ]
    rows = "".join(
        f'<tr><td style="color:#6c757d;padding:1px 10px 1px 0">{esc(k)}</td>'
        f'<td style="font-family:var(--jp-code-font-family,monospace);font-size:12px">'
        f"{esc(v)}</td></tr>"
        for k, v in facts
    )
    description = props.get("description", "")
    return (
        title(props.get("title") or image.name, sub=image.name if props.get("title") else "")
        + f"<div>{image_badges(image)}</div>"
        + (f'<div style="margin:4px 0">{esc(description)}</div>' if description else "")
        + f'<table style="margin:4px 0">{rows}</table>'
    )


def count_html(
    site: str, matching: int, total: int, *, max_rows: int, loading: bool, private_loading: bool
) -> str:
    """The line above the list: how many images match, and what is still loading."""
    if loading and not total:
        return notice(f"Loading the image catalog of {site}…", Tone.BUSY)
    status = (
        badge("loading…", Tone.BUSY) if loading
        else badge("loading your project's own images…", Tone.BUSY) if private_loading
        else ""
    )  # fmt: skip
    more = f" · showing the first {max_rows}: refine the search" if matching > max_rows else ""
    return (
        f'<div style="margin:4px 0;color:#495057">{matching} of {total} '
        f"images on <b>{esc(site)}</b>{more} {status}</div>"
    )


def already_booting(site: str, name: str) -> str:
    """The boot form's note while a VM of that name is booting from this panel."""
    return f"A VM named {name!r} is already booting on {site}."


def boot_result_text(result: object) -> str:
    """The boot job's outcome line."""
    if isinstance(result, BootResult):
        where = f" at {result.private_ipv4}" if result.private_ipv4 else ""
        return f"{result.name} is {result.status}{where}: connection details below."
    return "The VM is ready: connection details below."
