"""Which image tells a VM's desktop: for a snapshot, the image it was made from.

A snapshot's own name and tags say nothing of the desktop (Nova copies properties but no tags,
and users name snapshots freely), so a VM relaunched from a snapshot of an ``X2Go_xfce`` VM
would lose its X2Go card. The snapshot records its source: ``denbi_source_image_id`` (our
snapshot flow) or Nova's ``base_image_ref``; snapshots of snapshots are followed back.
"""

from __future__ import annotations

from collections.abc import Callable

from denbi_jupyter.cloud.provenance import BASE_IMAGE_REF, SOURCE_IMAGE_ID
from denbi_jupyter.cloud.types import Image

__all__ = ["MAX_HOPS", "desktop_source"]

#: How many snapshots back the lookup follows at most (each hop is one Glance request).
MAX_HOPS = 5


def desktop_source(image: Image, lookup: Callable[[str], Image | None]) -> Image:
    """The image whose name and tags tell the desktop of a VM booted from ``image``.

    ``image`` itself unless it is a snapshot; for a snapshot its source, followed back through
    snapshots until an image that is none (at most :data:`MAX_HOPS` lookups); where the chain
    breaks (a source deleted, a loop), the last image found.
    """
    current, seen = image, {image.id}
    for _ in range(MAX_HOPS):
        if not current.is_snapshot:
            break
        parent_id = current.properties.get(SOURCE_IMAGE_ID) or current.properties.get(
            BASE_IMAGE_REF
        )
        if not parent_id or parent_id in seen:
            break
        parent = lookup(parent_id)
        if parent is None:
            break
        current = parent
        seen.add(parent_id)
    return current
