"""Which sites offer an image with this name (for the image details' "Available on" line).

Asking the sites is I/O, here (in the background: it opens every site it asks); the verdict
from their answers is the domain's :func:`denbi_jupyter.cloud.rules.offering.offering`. A
site that cannot be asked reports None ("unknown"), not False.
"""

from __future__ import annotations

from collections.abc import Iterable

from denbi_jupyter.cloud.rules.offering import offering
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.errors import DenbiError
from denbi_jupyter.panels._sites import SiteClients

__all__ = ["sites_offering"]


def sites_offering(clients: SiteClients, image_name: str, *, here: str) -> dict[str, bool | None]:
    """Site name → True (an active image of that name), False (none) or None (not known).

    ``here`` is the site the image was picked from: it offers it without asking.
    """
    answers: dict[str, Iterable[Image] | None] = {}
    for site in clients.names:
        if site == here:
            continue
        try:
            answers[site] = clients.get(site).find_images_by_property("name", image_name)
        except DenbiError:
            answers[site] = None
    verdict = offering(answers, image_name)
    return {site: True if site == here else verdict[site] for site in clients.names}
