"""The cloud layer: domain types, the :class:`CloudClient` protocol and its OpenStack client.

``open_site("bielefeld")`` gives a client for a ``clouds.yaml`` entry; ``list_sites()`` lists
the entries. Importing this package does not import openstacksdk: the gateway is loaded by the
first :func:`open_site` (or site listing) call.

Every rule that decides something (names, deletability, the snapshot pre-flight, retention,
which sites offer an image, index-or-Glance listing) lives once in :mod:`.rules`; what flows
return is in :mod:`.results`.
"""

from denbi_jupyter.cloud.classify import (
    classify,
    classify_image,
    desktop_of,
    os_of,
    research_environment_of,
    x2go_session_of,
)
from denbi_jupyter.cloud.client import OpenStackCloud, open_site, sites_offering
from denbi_jupyter.cloud.index import MemorySnapshotIndex
from denbi_jupyter.cloud.protocol import CloudClient, ProgressCallback, SnapshotIndex
from denbi_jupyter.cloud.provenance import provenance_metadata
from denbi_jupyter.cloud.results import (
    BootResult,
    CopyResult,
    DeleteItem,
    DeleteOutcome,
    DeleteReport,
    NightlyItem,
    NightlyReport,
    RetentionReport,
    ServerActionResult,
    SnapshotResult,
)
from denbi_jupyter.cloud.rules import Preflight, Refusal, deletion_refusal
from denbi_jupyter.cloud.sites import default_site_name, get_site, list_sites
from denbi_jupyter.cloud.types import (
    DesktopKind,
    Flavor,
    GeneratedKeyPair,
    Image,
    ImageClass,
    ImageQuery,
    KeyPair,
    Limits,
    Page,
    Server,
    SiteSettings,
    Snapshot,
    SnapshotQuery,
    SnapshotSort,
)

__all__ = [
    "BootResult",
    "CloudClient",
    "CopyResult",
    "DeleteItem",
    "DeleteOutcome",
    "DeleteReport",
    "DesktopKind",
    "Flavor",
    "GeneratedKeyPair",
    "Image",
    "ImageClass",
    "ImageQuery",
    "KeyPair",
    "Limits",
    "MemorySnapshotIndex",
    "NightlyItem",
    "NightlyReport",
    "OpenStackCloud",
    "Page",
    "Preflight",
    "ProgressCallback",
    "Refusal",
    "RetentionReport",
    "Server",
    "ServerActionResult",
    "SiteSettings",
    "Snapshot",
    "SnapshotIndex",
    "SnapshotQuery",
    "SnapshotResult",
    "SnapshotSort",
    "classify",
    "classify_image",
    "default_site_name",
    "deletion_refusal",
    "desktop_of",
    "get_site",
    "list_sites",
    "open_site",
    "os_of",
    "provenance_metadata",
    "research_environment_of",
    "sites_offering",
    "x2go_session_of",
]
