"""Settings of the local cloud: where it listens, what it seeds, how fast things change."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_SITES",
    "IMAGE_LIMIT_NAMES",
    "ImageLimits",
    "LocalCloudConfig",
    "SiteProfile",
    "Timings",
]

#: Glance's unified-limit resources, in the order ``GET /v2/info/usage`` lists them.
IMAGE_LIMIT_NAMES: tuple[str, ...] = (
    "image_size_total",
    "image_stage_total",
    "image_count_total",
    "image_count_uploading",
)


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds each asynchronous state change takes (a real cloud takes longer)."""

    boot: float = 2.0
    snapshot: float = 3.0
    upload: float = 0.2
    delete: float = 0.3
    power: float = 0.5
    reboot: float = 1.0

    @classmethod
    def fast(cls) -> Timings:
        """Timings for tests: every change lands within a fraction of a second."""
        return cls(boot=0.3, snapshot=0.5, upload=0.05, delete=0.1, power=0.1, reboot=0.1)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """A project's Glance limits as Keystone's unified limits hold them; -1 is unlimited.

    Attributes:
        image_size_total: MiB of image data the project may store (Glance counts whole MiB).
        image_stage_total: MiB the project may hold in the import staging area.
        image_count_total: How many images (not killed or deleted) the project may own.
        image_count_uploading: How many of its images may be uploading at once.
    """

    image_size_total: int = -1
    image_stage_total: int = -1
    image_count_total: int = -1
    image_count_uploading: int = -1

    def value(self, name: str) -> int:
        """The limit called ``name`` (one of :data:`IMAGE_LIMIT_NAMES`)."""
        return int(getattr(self, name))


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """One de.NBI compute center as the local cloud plays it."""

    name: str
    region: str
    gateway_host: str
    ssh_port_formula: str
    guacamole_base_url: str
    network_cidr: str
    #: The image limits of every project of the site (Keystone's registered limits).
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    #: Glance's ``use_keystone_limits``: off, nothing is enforced and ``/v2/info/usage``
    #: answers ``{"usage": {}}``, as a Glance without unified limits does.
    use_keystone_limits: bool = True


def _loopback_site(
    name: str, *, guacamole_code: str, ssh_port_formula: str, network_cidr: str
) -> SiteProfile:
    """The local play of site ``name``, its SSH gateway on loopback.

    The live "port reachable" probe of a demo or test must never send traffic to the real
    de.NBI gateways; the Guacamole URL is the real site's (``guacamole.<code>.denbi.de``).
    """
    return SiteProfile(
        name=name,
        region=name.title(),
        gateway_host="127.0.0.1",
        ssh_port_formula=ssh_port_formula,
        guacamole_base_url=f"https://guacamole.{guacamole_code}.denbi.de/guacamole",
        network_cidr=network_cidr,
    )


DEFAULT_SITES: tuple[SiteProfile, ...] = (
    _loopback_site(
        "bielefeld",
        guacamole_code="bi",
        ssh_port_formula="30000 + 256*oct3 + oct4",
        network_cidr="192.168.1.0/24",
    ),
    _loopback_site(
        "heidelberg",
        guacamole_code="hd",
        ssh_port_formula="30000 + oct4",
        network_cidr="192.168.20.0/24",
    ),
)


@dataclass(frozen=True, slots=True)
class LocalCloudConfig:
    """Everything the local cloud needs to start.

    Attributes:
        host: Loopback address to listen on.
        port: TCP port; 0 picks a free one.
        state_dir: Folder for the SQLite files and image data; None keeps state in a temporary
            folder that is removed on stop.
        sites: The compute centers to serve, each a separate cloud.
        seed_snapshots: Extra snapshots to seed in the first site (for scale tests).
        timings: Durations of the asynchronous state changes.
        faults_file: JSON file of fault rules to load at start (see ``faults.py``).
        fault_seed: Seed of the random generator behind probabilistic faults.
        ssh: Whether every ACTIVE VM answers SSH on its gateway port (see ``ssh_server.py``).
        token_lifetime_s: How long a Keystone token lives (Keystone's default: an hour); change
            it at run time with ``POST /_admin/tokens``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    state_dir: Path | None = None
    sites: tuple[SiteProfile, ...] = DEFAULT_SITES
    seed_snapshots: int = 0
    timings: Timings = field(default_factory=Timings)
    faults_file: Path | None = None
    fault_seed: int = 0
    ssh: bool = True
    token_lifetime_s: float = 3600.0
