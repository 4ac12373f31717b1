"""What every site is seeded with: people, projects, flavors and a de.NBI-like image catalog.

Pure data; :mod:`denbi_jupyter.localcloud.seed` writes it into a site's database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ADMIN_PROJECT",
    "ADMIN_USER",
    "FLAVORS",
    "IMAGES",
    "OTHER_PEOPLE",
    "PRIMARY_PROJECT",
    "QUOTAS",
    "SECOND_PROJECT",
    "SNAPSHOTS",
    "USER_NAME",
    "FlavorSpec",
    "ImageSpec",
    "SnapshotSpec",
]

#: The de.NBI user the clouds.yaml entries log in as.
USER_NAME = "denbi-user"
#: The project the clouds.yaml entries are scoped to.
PRIMARY_PROJECT = "denbi-demo"
#: The user's second project (member there too).
SECOND_PROJECT = "denbi-course"
#: The cloud administrator and the project that owns the public catalog.
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
#: Other users and their projects, whose images our user mostly cannot see.
OTHER_PEOPLE: tuple[tuple[str, str], ...] = (("alice", "genomics-lab"), ("bob", "proteomics-lab"))

#: Nova quotas of every project.
QUOTAS: dict[str, int] = {"instances": 10, "cores": 32, "ram": 65536}


@dataclass(frozen=True, slots=True)
class FlavorSpec:
    """A Nova flavor (RAM in MB, disks in GB)."""

    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    description: str = ""


FLAVORS: tuple[FlavorSpec, ...] = (
    FlavorSpec("de.NBI tiny", 1, 2048, 20),
    FlavorSpec("de.NBI mini", 2, 4096, 20),
    FlavorSpec("de.NBI small", 4, 8192, 20),
    FlavorSpec("de.NBI medium", 8, 16384, 20),
    FlavorSpec("de.NBI large", 16, 32768, 20),
    FlavorSpec("de.NBI small + ephemeral", 4, 8192, 20, ephemeral=50),
    FlavorSpec("de.NBI large + ephemeral", 16, 32768, 20, ephemeral=250),
    FlavorSpec(
        "de.NBI highmem xlarge",
        28,
        491520,
        50,
        ephemeral=500,
        description="More than 256 GB RAM: de.NBI does not snapshot VMs of this flavor.",
    ),
)


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One catalog image; ``owner`` and ``members`` are project names."""

    name: str
    tags: tuple[str, ...]
    properties: dict[str, str]
    created_at: str
    visibility: str = "public"
    owner: str = ADMIN_PROJECT
    protected: bool = False
    os_hidden: bool = False
    min_disk: int = 20
    members: tuple[tuple[str, str], ...] = ()


def _os(distro: str, version: str, title: str, description: str) -> dict[str, str]:
    return {
        "os_distro": distro,
        "os_version": version,
        "title": title,
        "description": description,
        "hw_rng_model": "virtio",
    }


_UBUNTU22 = ("ubuntu", "22.04")
_DATE = "2026-05-01T06:00:00"


def _desktop(name: str, tags: tuple[str, ...], title: str, minute: int, **extra: str) -> ImageSpec:
    props = _os(*_UBUNTU22, title, f"{title} on Ubuntu 22.04, maintained by de.NBI.")
    props.update(extra)
    return ImageSpec(name, tags, props, f"2026-05-01T07:{minute:02d}:00")


#: Images uploaded by projects, one per visibility and membership state the panels must show:
#: (name, title, description, day in June 2026, visibility, owner, members).
_PROJECT_IMAGES: tuple[tuple[str, str, str, int, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("demo-private-image", "Custom image", "Uploaded by the demo project.", 2,
     "private", PRIMARY_PROJECT, ()),
    ("genomics-pipeline-image", "Genomics pipeline", "Shared with denbi-demo by genomics-lab.", 3,
     "shared", "genomics-lab", ((PRIMARY_PROJECT, "accepted"),)),
    ("proteomics-offer-image", "Proteomics tools", "Offered to denbi-demo, not yet accepted.", 4,
     "shared", "proteomics-lab", ((PRIMARY_PROJECT, "pending"),)),
    ("community-cellprofiler", "CellProfiler", "A community image by proteomics-lab.", 5,
     "community", "proteomics-lab", ()),
    ("genomics-internal-image", "Internal", "Private to genomics-lab.", 6,
     "private", "genomics-lab", ()),
)  # fmt: skip


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec(
        "Ubuntu-22.04 de.NBI (2026-05-01)",
        ("base_image",),
        _os(*_UBUNTU22, "Ubuntu 22.04 LTS", "Ubuntu 22.04 Jammy, de.NBI base image."),
        _DATE,
        protected=True,
    ),
    ImageSpec(
        "Ubuntu-24.04 de.NBI (2026-05-01)",
        ("base_image",),
        _os("ubuntu", "24.04", "Ubuntu 24.04 LTS", "Ubuntu 24.04 Noble, de.NBI base image."),
        "2026-05-01T06:01:00",
        protected=True,
    ),
    ImageSpec(
        "Debian-12 de.NBI (2026-05-01)",
        ("base_image",),
        _os("debian", "12", "Debian 12", "Debian 12 Bookworm, de.NBI base image."),
        "2026-05-01T06:02:00",
    ),
    ImageSpec(
        "Rocky-9 de.NBI (2026-05-01)",
        ("base_image",),
        _os("rocky", "9", "Rocky Linux 9", "Rocky Linux 9, de.NBI base image."),
        "2026-05-01T06:03:00",
    ),
    ImageSpec(
        "Ubuntu-20.04 de.NBI (2024-11-01)",
        ("base_image",),
        _os("ubuntu", "20.04", "Ubuntu 20.04 LTS", "Outdated: use Ubuntu 22.04 or 24.04."),
        "2024-11-01T06:00:00",
        os_hidden=True,
    ),
    _desktop("X2Go_xfce", ("x2go",), "X2Go XFCE desktop", 0),
    _desktop("X2Go_mate", ("x2go",), "X2Go MATE desktop", 1),
    _desktop("X2Go_lxde", ("x2go",), "X2Go LXDE desktop", 2),
    _desktop("Ubuntu-22.04 X2Go_xfce de.NBI (2026-05-01)", ("x2go",), "X2Go XFCE desktop", 3),
    _desktop("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", ("guacamole",), "Guacamole desktop", 10),
    _desktop(
        "Guacamole-ubuntu24.04 de.NBI (2026-05-01)",
        ("guacamole",),
        "Guacamole desktop",
        11,
        os_version="24.04",
    ),
    _desktop(
        "GuacamoleVNC-ubuntu22.04 de.NBI (2026-05-01)",
        ("guacamole_vnc",),
        "Guacamole VNC desktop",
        12,
    ),
    _desktop("RStudio-ubuntu22.04 de.NBI (2026-05-01)", ("rstudio",), "RStudio Server", 20),
    _desktop("TheiaIDE-ubuntu22.04 de.NBI (2026-05-01)", ("theiaide",), "Theia IDE", 21),
    _desktop("JupyterLab-ubuntu22.04 de.NBI (2026-05-01)", ("jupyterlab",), "JupyterLab", 22),
    _desktop("VSCode-ubuntu22.04 de.NBI (2026-05-01)", ("vscode",), "VS Code Server", 23),
    *(
        ImageSpec(
            name,
            ("custom",),
            _os(*_UBUNTU22, title, description),
            f"2026-06-{day:02d}T10:00:00",
            visibility=visibility,
            owner=owner,
            members=members,
        )
        for name, title, description, day, visibility, owner, members in _PROJECT_IMAGES
    ),
)


@dataclass(frozen=True, slots=True)
class SnapshotSpec:
    """A snapshot image as Nova makes it; ``project`` and ``user`` are names."""

    name: str
    project: str
    user: str
    source: str
    created_at: str
    protected: bool = False
    tags: tuple[str, ...] = field(default=())


SNAPSHOTS: tuple[SnapshotSpec, ...] = (
    SnapshotSpec(
        "rnaseq-workbench-snap",
        PRIMARY_PROJECT,
        USER_NAME,
        "Ubuntu-22.04 de.NBI (2026-05-01)",
        "2026-06-10T09:00:00",
        tags=("base_image",),
    ),
    SnapshotSpec(
        "x2go-desktop-snap",
        PRIMARY_PROJECT,
        USER_NAME,
        "X2Go_xfce",
        "2026-06-11T09:00:00",
        tags=("x2go",),
    ),
    SnapshotSpec(
        "golden-analysis-snap",
        PRIMARY_PROJECT,
        USER_NAME,
        "RStudio-ubuntu22.04 de.NBI (2026-05-01)",
        "2026-06-12T09:00:00",
        protected=True,
        tags=("rstudio",),
    ),
    SnapshotSpec(
        "course-template-snap",
        SECOND_PROJECT,
        USER_NAME,
        "Guacamole-ubuntu22.04 de.NBI (2026-05-01)",
        "2026-06-13T09:00:00",
        tags=("guacamole",),
    ),
    SnapshotSpec(
        "course-exam-snap",
        SECOND_PROJECT,
        USER_NAME,
        "Debian-12 de.NBI (2026-05-01)",
        "2026-06-14T09:00:00",
    ),
    SnapshotSpec(
        "genomics-assembly-snap",
        "genomics-lab",
        "alice",
        "Ubuntu-22.04 de.NBI (2026-05-01)",
        "2026-06-15T09:00:00",
    ),
    SnapshotSpec(
        "proteomics-ms-snap",
        "proteomics-lab",
        "bob",
        "Rocky-9 de.NBI (2026-05-01)",
        "2026-06-16T09:00:00",
    ),
)
