"""Sites: the ``clouds.yaml`` entries, read by openstacksdk's own loader, as :class:`SiteSettings`.

``OS_CLIENT_CONFIG_FILE`` and ``OS_CLOUD`` work as they do for the ``openstack`` command; an
explicit ``config_file`` is read alone (environment variables do not add entries to it, but
``OS_CLOUD`` still picks the default when it names one of its entries). Each entry may carry a
``denbi:`` section::

    denbi:
      gateway_host: 129.70.51.75
      ssh_port_formula: 30000 + 256*oct3 + oct4
      guacamole_base_url: https://guacamole.bi.denbi.de/guacamole
      ssh_user: ubuntu
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from denbi_jupyter._urls import public_url
from denbi_jupyter.cloud.types import SiteSettings
from denbi_jupyter.errors import NotFoundError, UserInputError

#: Key of a merged entry that cannot be used, holding why (the other entries stay usable).
PROBLEM_KEY = "_denbi_problem"

__all__ = [
    "default_site_name",
    "document_problem",
    "entry_problem",
    "get_site",
    "list_sites",
    "site_from_entry",
]

_SCALARS = (str, int, float, bool)
#: Top-level sections openstacksdk reads as mappings (it fails on anything else).
_TOP_MAPPINGS = ("cache", "client", "metrics")
#: Entry settings that must be text (openstacksdk parses them as URLs or names).
_ENTRY_TEXTS = ("profile", "cloud", "auth_type")


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, int | float) else "text"


def document_problem(document: object, *, secure: bool = False) -> str:
    """Why a parsed ``clouds.yaml`` (``secure.yaml`` with ``secure``) cannot be read, or ``''``.

    Only the shape openstacksdk relies on is checked; it fails with a ``TypeError`` or an
    ``AttributeError`` on anything else.
    """
    if document is None:
        return "it is empty; download clouds.yaml from your site's dashboard (API access)"
    if not isinstance(document, Mapping):
        return f"it holds {_kind(document)}, not a mapping with a 'clouds:' section"
    if "clouds" not in document and not secure:
        return "it has no 'clouds:' section; download clouds.yaml from your site's dashboard"
    clouds = document.get("clouds")
    if clouds is not None and not isinstance(clouds, Mapping):
        return f"'clouds:' must map entry names to their settings, not hold {_kind(clouds)}"
    for name in clouds or {}:
        if not isinstance(name, str):
            return f"the entry name {name!r} is not text; put it in quotes"
    for section in _TOP_MAPPINGS:
        value = document.get(section)
        if value is not None and not isinstance(value, Mapping):
            return f"'{section}:' must be a mapping of settings, not {_kind(value)}"
        if value and not all(isinstance(key, str) for key in value):
            return f"'{section}:' has a setting whose name is not text; put it in quotes"
    return ""


def _mapping_problem(entry: Mapping[Any, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        return f"'{key}:' must be a mapping of settings, not {_kind(value)}"
    for name, item in value.items():
        if not isinstance(name, str) or not (item is None or isinstance(item, _SCALARS)):
            return f"'{key}:' must map setting names to single values; {name!r} does not"
    return ""


def entry_problem(entry: object) -> str:
    """Why one ``clouds:`` entry has the wrong shape for openstacksdk, or ``''``."""
    if entry is None:
        return "it has no settings"
    if not isinstance(entry, Mapping):
        return f"its settings must be a mapping (auth:, region_name:, …), not {_kind(entry)}"
    for key in ("auth", "denbi"):
        problem = _mapping_problem(entry, key)
        if problem:
            return problem
    auth = entry.get("auth") or {}
    if "auth_url" in auth and not isinstance(auth["auth_url"], str):
        return "'auth_url' must be a URL, e.g. https://keystone.example.org:5000/v3"
    for key in _ENTRY_TEXTS:
        if key in entry and not isinstance(entry[key], str):
            return f"'{key}:' must be text, not {_kind(entry[key])}"
    networks = entry.get("networks")
    if networks is not None and not (
        isinstance(networks, list) and all(isinstance(net, Mapping) for net in networks)
    ):
        return "'networks:' must be a list of mappings (name: …)"
    return ""


def site_from_entry(name: str, entry: Mapping[str, Any]) -> SiteSettings:
    """:class:`SiteSettings` from one merged ``clouds.yaml`` entry (pure).

    Args:
        name: The entry name.
        entry: The entry as openstacksdk merged it (``auth``, ``region_name``, ``denbi``, …).
    """
    denbi = entry.get("denbi")
    settings: Mapping[str, Any] = denbi if isinstance(denbi, Mapping) else {}
    auth = entry.get("auth")
    auth_url = auth.get("auth_url") if isinstance(auth, Mapping) else None
    return SiteSettings(
        name=name,
        region=_optional_text(entry.get("region_name")),
        auth_url=public_url(str(auth_url or "")),
        gateway_host=_optional_text(settings.get("gateway_host")),
        ssh_port_formula=_optional_text(settings.get("ssh_port_formula")),
        guacamole_base_url=_optional_text(settings.get("guacamole_base_url")),
        ssh_user=_optional_text(settings.get("ssh_user")) or "ubuntu",
        problem=str(entry.get(PROBLEM_KEY) or ""),
    )


def _read(config_file: Path | None) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    from denbi_jupyter.cloud._openstack_config import read_clouds

    return read_clouds(config_file)


def list_sites(config_file: Path | None = None) -> list[SiteSettings]:
    """Every site configured in ``clouds.yaml``, in file order."""
    entries, _ = _read(config_file)
    return [site_from_entry(name, entry) for name, entry in entries]


def default_site_name(config_file: Path | None = None) -> str:
    """``OS_CLOUD`` when it names an entry, else the only (or first) entry."""
    _, default = _read(config_file)
    return default


def get_site(name: str | None = None, *, config_file: Path | None = None) -> SiteSettings:
    """One site by entry name (None: the default site); NotFoundError for an unknown name."""
    entries, default = _read(config_file)
    wanted = name or default
    for entry_name, entry in entries:
        if entry_name == wanted:
            site = site_from_entry(entry_name, entry)
            if site.problem:
                raise UserInputError(site.problem, site=entry_name, action="read its entry")
            return site
    known = ", ".join(entry_name for entry_name, _ in entries)
    raise NotFoundError(
        f"There is no clouds.yaml entry named {wanted!r} (entries: {known}). Pick one of those "
        "or add the site's entry to clouds.yaml.",
        site=wanted,
        action="read its clouds.yaml entry",
    )
