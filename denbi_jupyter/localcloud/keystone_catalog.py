"""The service catalog of one site, built from the URL the client used to reach it."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request

from denbi_jupyter.localcloud.site import Site

__all__ = ["base_url", "build_catalog", "stable_id"]

_NAMESPACE = uuid.UUID("5d0c6f5e-8a52-4d3b-9a8e-2f2b8c7f4e11")

#: (type, name, path below the site) of each service, as a real de.NBI catalog lists them:
#: Keystone and Nova versioned, Glance and Neutron unversioned (clients discover the version).
_SERVICES: tuple[tuple[str, str, str], ...] = (
    ("identity", "keystone", "identity/v3"),
    ("image", "glance", "image"),
    ("compute", "nova", "compute/v2.1"),
    ("network", "neutron", "network"),
)
_INTERFACES = ("public", "internal", "admin")


def stable_id(*parts: str) -> str:
    """A 32-hex id that is the same for the same parts (catalog and role ids)."""
    return uuid.uuid5(_NAMESPACE, "/".join(parts)).hex


def base_url(request: Request) -> str:
    """The scheme, host and port the client used, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def build_catalog(site: Site, root: str) -> list[dict[str, Any]]:
    """The catalog of ``site``: four services, three interfaces each, in the site's region.

    Args:
        site: The site whose catalog to build.
        root: Base URL as returned by :func:`base_url`, e.g. ``http://127.0.0.1:8790``.
    """
    region = site.profile.region
    catalog: list[dict[str, Any]] = []
    for service_type, name, path in _SERVICES:
        url = f"{root}/{site.name}/{path}"
        endpoints = [
            {
                "id": stable_id(site.name, service_type, interface),
                "interface": interface,
                "region_id": region,
                "url": url,
                "region": region,
            }
            for interface in _INTERFACES
        ]
        catalog.append(
            {
                "endpoints": endpoints,
                "id": stable_id(site.name, service_type),
                "type": service_type,
                "name": name,
            }
        )
    return catalog
