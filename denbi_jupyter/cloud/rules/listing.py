"""Where a page of snapshots comes from: the in-memory index or one Glance request.

Glance filters exactly (``id``, ``owner``, ``image_type``) and sorts, but cannot search names;
the snapshot index (loaded once per site, 1000 images per request) can. :func:`plan_listing`
decides, without I/O, from the query and what is known:

- a loaded index answers any text query (no request); with ``prefer_index`` (a panel that
  loaded it on purpose) every query;
- no text, an OpenStack id (Glance ``id`` filter) or an exact project name (``owner``
  filter): one Glance request per page;
- own-only with another project's name: an empty page, no request;
- any other text before the index is loaded: load the index (once), then answer from it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from denbi_jupyter.cloud.types import SnapshotQuery, SnapshotSort

__all__ = ["GLANCE_SORT", "ListingPlan", "ListingSource", "is_uuid", "owner_named", "plan_listing"]

#: Glance's ``sort`` for each of our sort orders.
GLANCE_SORT: Mapping[SnapshotSort, str] = {
    SnapshotSort.NEWEST: "created_at:desc",
    SnapshotSort.OLDEST: "created_at:asc",
    SnapshotSort.NAME: "name:asc",
    SnapshotSort.SIZE: "size:desc",
}
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


class ListingSource(StrEnum):
    """Who answers a snapshot query."""

    INDEX = "index"  # the loaded index, no request
    GLANCE = "glance"  # one Glance request with ``params``
    LOAD_INDEX = "load index"  # load the index first (name search before it is loaded)
    EMPTY = "empty"  # nothing can match, no request


@dataclass(frozen=True, slots=True)
class ListingPlan:
    """The decision: the source and, for Glance, the exact filters to send."""

    source: ListingSource
    params: Mapping[str, str] = field(default_factory=dict)


def is_uuid(text: str) -> bool:
    """True when ``text`` is an OpenStack id (a UUID, with or without dashes)."""
    return _UUID.fullmatch(text) is not None


def owner_named(text: str, project_names: Mapping[str, str]) -> str | None:
    """The one project id whose name is ``text`` (exactly, else ignoring case), or None."""
    exact = [pid for pid, name in project_names.items() if name == text]
    if not exact:
        exact = [pid for pid, name in project_names.items() if name.lower() == text.lower()]
    return exact[0] if len(exact) == 1 else None


def plan_listing(
    query: SnapshotQuery,
    *,
    index_loaded: bool,
    project_id: str,
    project_names: Mapping[str, str],
    prefer_index: bool = False,
) -> ListingPlan:
    """Index or Glance for ``query`` (pure; the rules are in the module docstring)."""
    text = query.text.strip()
    if index_loaded and (text or prefer_index):
        return ListingPlan(ListingSource.INDEX)
    params: dict[str, str] = {"image_type": "snapshot", "sort": GLANCE_SORT[query.sort]}
    if query.own_only:
        params["owner"] = project_id
    if not text:
        return ListingPlan(ListingSource.GLANCE, params)
    if is_uuid(text):
        return ListingPlan(ListingSource.GLANCE, params | {"id": str(uuid.UUID(text))})
    owner = owner_named(text, project_names)
    if owner is None:
        return ListingPlan(ListingSource.LOAD_INDEX)
    if query.own_only and owner != project_id:
        return ListingPlan(ListingSource.EMPTY)
    return ListingPlan(ListingSource.GLANCE, params | {"owner": owner})
