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

from denbi_jupyter.cloud.types import SiteSettings
from denbi_jupyter.errors import NotFoundError, UserInputError

#: Key of a merged entry that cannot be used, holding why (the other entries stay usable).
PROBLEM_KEY = "_denbi_problem"

__all__ = ["default_site_name", "get_site", "list_sites", "site_from_entry"]


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


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
        auth_url=str(auth_url or ""),
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
