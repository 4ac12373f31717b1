"""May this image be deleted by this project? One rule, with a typed reason when not."""

from __future__ import annotations

from enum import StrEnum

from denbi_jupyter.cloud.types import Image, Snapshot

__all__ = ["Refusal", "deletion_refusal"]


class Refusal(StrEnum):
    """Why an image is not deleted; the value is the short text shown to people."""

    PROTECTED = "protected"
    NOT_OWNED = "not owned by this project"
    NOT_A_SNAPSHOT = "not a snapshot"


def deletion_refusal(
    item: Image | Snapshot, project_id: str | None, *, snapshots_only: bool = True
) -> Refusal | None:
    """Why ``project_id`` may not delete ``item``, or None when it may.

    Protected images are never deleted, nor images another project owns (an unknown owner
    counts as another's). With ``snapshots_only`` (the bulk delete's rule), an image that is not
    a snapshot is refused too. ``project_id`` None means "not known yet": ownership is not
    judged then (panels before the token is scoped), everything else is.
    """
    if item.protected:
        return Refusal.PROTECTED
    owner = item.owner if isinstance(item, Image) else item.project_id
    if project_id is not None and owner != project_id:
        return Refusal.NOT_OWNED
    if snapshots_only and isinstance(item, Image) and not item.is_snapshot:
        return Refusal.NOT_A_SNAPSHOT
    return None
