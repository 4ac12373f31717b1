"""The local cloud: an OpenStack-API-compatible server on loopback, seeded like de.NBI.

It is reached only through a ``clouds.yaml`` entry, exactly like a real cloud.
"""

from denbi_jupyter.localcloud.config import DEFAULT_SITES, LocalCloudConfig, SiteProfile, Timings
from denbi_jupyter.localcloud.server import LocalCloud

__all__ = ["DEFAULT_SITES", "LocalCloud", "LocalCloudConfig", "SiteProfile", "Timings"]
