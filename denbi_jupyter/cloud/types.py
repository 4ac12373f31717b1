"""Frozen domain types: what the rest of denbi-jupyter knows about a cloud.

Built from SDK objects or raw API JSON only inside the gateway (``_openstack.py``); everything
above it (flows, jobs, panels, CLI) sees these and nothing of openstacksdk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

from denbi_jupyter.errors import UserInputError

__all__ = [
    "DesktopKind",
    "Flavor",
    "GeneratedKeyPair",
    "Image",
    "ImageClass",
    "ImageQuery",
    "KeyPair",
    "Limits",
    "Page",
    "Server",
    "SiteSettings",
    "Snapshot",
    "SnapshotQuery",
    "SnapshotSort",
]

T = TypeVar("T")


class DesktopKind(StrEnum):
    """How a desktop image is reached."""

    X2GO = "x2go"
    GUACAMOLE = "guacamole"


class SnapshotSort(StrEnum):
    """Orders the snapshot browser offers."""

    NEWEST = "newest"
    OLDEST = "oldest"
    NAME = "name"
    SIZE = "size"


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """One de.NBI compute center: a ``clouds.yaml`` entry and its ``denbi:`` settings.

    Attributes:
        name: The ``clouds.yaml`` entry name (what flows and the CLI take).
        region: The entry's region, if set.
        auth_url: Keystone URL (no credentials).
        gateway_host: Host users SSH to; None when the site has no gateway setting.
        ssh_port_formula: Port formula over the VM's private IPv4, e.g. ``30000 + 256*oct3 + oct4``.
        guacamole_base_url: Guacamole server URL for desktop images, if the site runs one.
        ssh_user: Login user on de.NBI images.
        problem: Why the entry cannot be used (e.g. it has no ``auth_url``); empty when it can.
    """

    name: str
    region: str | None
    auth_url: str
    gateway_host: str | None = None
    ssh_port_formula: str | None = None
    guacamole_base_url: str | None = None
    ssh_user: str = "ubuntu"
    problem: str = ""


@dataclass(frozen=True, slots=True)
class ImageClass:
    """What an image is for, derived from its name, tags and properties."""

    desktop: DesktopKind | None = None
    x2go_session: str | None = None
    research_environment: str | None = None
    os_family: str | None = None
    os_version: str | None = None
    is_base: bool = False

    @property
    def label(self) -> str:
        """Short human label: ``X2Go XFCE``, ``Guacamole``, ``RStudio``, ``Ubuntu 22.04``."""
        if self.desktop is DesktopKind.X2GO:
            return f"X2Go {self.x2go_session}" if self.x2go_session else "X2Go"
        if self.desktop is DesktopKind.GUACAMOLE:
            return "Guacamole"
        if self.research_environment:
            return self.research_environment
        parts = [p for p in (self.os_family, self.os_version) if p]
        return " ".join(parts).title() if parts else "Image"


@dataclass(frozen=True, slots=True)
class Image:
    """A Glance image (snapshots too; see :class:`Snapshot` for the snapshot view)."""

    id: str
    name: str
    status: str
    visibility: str
    owner: str | None
    protected: bool
    size: int | None
    min_disk: int
    min_ram: int
    created_at: dt.datetime
    updated_at: dt.datetime
    tags: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    kind: ImageClass = field(default_factory=ImageClass)

    @property
    def is_snapshot(self) -> bool:
        """True for Nova snapshots and volume-backed snapshot images."""
        return (
            self.properties.get("image_type") == "snapshot"
            or "block_device_mapping" in self.properties
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot image with its project and provenance resolved."""

    id: str
    name: str
    status: str
    project_id: str | None
    project_name: str | None
    size: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    protected: bool
    visibility: str
    min_disk: int = 0
    source_server_id: str | None = None
    source_server_name: str | None = None
    source_image_id: str | None = None
    flavor_name: str | None = None
    tags: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flavor:
    """A Nova flavor."""

    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int = 0

    @property
    def ram_gb(self) -> float:
        """RAM in GiB."""
        return self.ram_mb / 1024


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A Nova key pair (public part only).

    ``fingerprint`` is Nova's (MD5, colon separated); ``sha256_fingerprint`` is what
    ``ssh-keygen -lf KEY.pub`` prints (``SHA256:…``), "" when Nova did not send the key.
    """

    name: str
    fingerprint: str
    type: str = "ssh"
    sha256_fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedKeyPair:
    """A key pair made on this machine and imported: where its files are (no key material)."""

    name: str
    fingerprint: str
    sha256_fingerprint: str
    private_key_path: Path
    public_key_path: Path


@dataclass(frozen=True, slots=True)
class Server:
    """A Nova server.

    ``fault`` is Nova's fault message once it is in ERROR; ``flavor`` the flavor as Nova embeds
    it in the server (microversion >= 2.47), still there when the flavor itself was deleted.
    """

    id: str
    name: str
    status: str
    task_state: str | None
    project_id: str | None
    image_id: str | None
    flavor_id: str | None
    flavor_name: str | None
    key_name: str | None
    private_ipv4: str | None
    created_at: dt.datetime | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    power_state: int | None = None
    fault: str | None = None
    flavor: Flavor | None = None
    #: Nova's ``locked`` (microversion >= 2.9): actions are refused until it is unlocked.
    locked: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """Absolute compute limits of the project and what is in use."""

    max_instances: int
    used_instances: int
    max_cores: int
    used_cores: int
    max_ram_mb: int
    used_ram_mb: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: The page's items.
        page: 1-based page number.
        per_page: Page size asked for.
        total: Number of matching items, when known without fetching them all.
        has_next: True when another page follows.
    """

    items: tuple[T, ...]
    page: int
    per_page: int
    total: int | None
    has_next: bool

    @property
    def pages(self) -> int | None:
        """Number of pages, when the total is known."""
        if self.total is None:
            return None
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """Filters of the image catalog; empty fields do not filter."""

    text: str = ""
    desktop: DesktopKind | None = None
    research_only: bool = False
    base_only: bool = False
    os_family: str | None = None
    include_snapshots: bool = False


@dataclass(frozen=True, slots=True)
class SnapshotQuery:
    """What the snapshot browser shows.

    Attributes:
        text: Matches name (substring, case-insensitive), project name, or OpenStack id.
        page: 1-based page.
        per_page: Page size (1..1000).
        sort: Order.
        own_only: Only snapshots owned by the current project; by default every snapshot the
            project can see (others' are visible when shared or public).
    """

    text: str = ""
    page: int = 1
    per_page: int = 25
    sort: SnapshotSort = SnapshotSort.NEWEST
    own_only: bool = False

    def __post_init__(self) -> None:
        """Refuse values of the wrong type (the ranges are checked where a page is fetched)."""
        if not isinstance(self.text, str):
            raise UserInputError(f"The snapshot filter must be text, not {self.text!r}.")
        for name in ("page", "per_page"):
            value = getattr(self, name)
            if type(value) is not int:
                raise UserInputError(
                    f"The {name.replace('_', ' ')} must be a whole number, not {value!r}."
                )
        try:
            object.__setattr__(self, "sort", SnapshotSort(self.sort))
        except ValueError:
            orders = ", ".join(sort.value for sort in SnapshotSort)
            raise UserInputError(f"Sort {self.sort!r} is unknown; use one of {orders}.") from None
