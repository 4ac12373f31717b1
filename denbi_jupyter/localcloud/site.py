"""One served site (a separate cloud) and the whole local cloud's state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from denbi_jupyter.localcloud.config import LocalCloudConfig, SiteProfile, Timings
from denbi_jupyter.localcloud.image_limits import ImageLimitBook
from denbi_jupyter.localcloud.store import SiteStore
from denbi_jupyter.localcloud.timeline import Timeline

if TYPE_CHECKING:
    from denbi_jupyter.localcloud.faults import FaultInjector

__all__ = ["CloudState", "Site"]


@dataclass(slots=True)
class Site:
    """A site's profile, database, timeline, timings, run-time image limits and the
    lifetime of the tokens its Keystone issues."""

    profile: SiteProfile
    store: SiteStore
    timeline: Timeline
    timings: Timings
    image_limits: ImageLimitBook = field(default_factory=ImageLimitBook)
    token_lifetime: dt.timedelta = dt.timedelta(hours=1)

    @property
    def name(self) -> str:
        """The site's name, also the first path segment of all its URLs."""
        return self.profile.name


@dataclass(slots=True)
class CloudState:
    """Every site of the local cloud plus the fault injector they share."""

    config: LocalCloudConfig
    sites: dict[str, Site]
    faults: FaultInjector
    closed: bool = field(default=False)

    def close(self) -> None:
        """Close every site's database."""
        if not self.closed:
            for site in self.sites.values():
                site.store.close()
            self.closed = True
