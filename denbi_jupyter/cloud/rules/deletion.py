"""May this image be deleted by this project? One rule, with a typed reason when not.

The refusals, checked in this order: protected; owned by another project (or by nobody
known); for the bulk delete, not a snapshot; visible to every project (``public`` or
``community``: other projects may boot it); shared with other projects (``shared`` with at
least one member, when the caller knows the members). A ``shared`` image without members is
Glance's default for an upload and counts as private.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from denbi_jupyter.cloud.types import Image, Snapshot

__all__ = ["OPEN_VISIBILITIES", "Refusal", "deletion_refusal"]

#: Visibilities that let every project of the cloud see and boot an image.
OPEN_VISIBILITIES = frozenset({"public", "community"})


class Refusal(StrEnum):
    """Why an image is not deleted; the value is the short text shown to people."""

    PROTECTED = "protected"
    NOT_OWNED = "not owned by this project"
    PUBLIC = "public: every project may use it"
    SHARED = "shared with other projects"
    NOT_A_SNAPSHOT = "not a snapshot"


def deletion_refusal(
    item: Image | Snapshot,
    project_id: str | None,
    *,
    snapshots_only: bool = True,
    members: Collection[str] | None = None,
) -> Refusal | None:
    """Why ``project_id`` may not delete ``item``, or None when it may.

    Protected images are never deleted, nor images another project owns (an unknown owner
    counts as another's); with ``snapshots_only`` (the bulk delete's rule) no image that is
    not a snapshot; nor public or community images (other projects may boot them), nor
    ``shared`` images with ``members`` (the projects they are shared with; None: not known,
    not judged). ``project_id`` None means "not known yet": ownership is
    not judged then (panels before the token is scoped), everything else is.
    """
    if item.protected:
        return Refusal.PROTECTED
    owner = item.owner if isinstance(item, Image) else item.project_id
    if project_id is not None and owner != project_id:
        return Refusal.NOT_OWNED
    if snapshots_only and isinstance(item, Image) and not item.is_snapshot:
        return Refusal.NOT_A_SNAPSHOT
    if item.visibility in OPEN_VISIBILITIES:
        return Refusal.PUBLIC
    if item.visibility == "shared" and members:
        return Refusal.SHARED
    return None
