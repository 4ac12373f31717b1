"""The snapshot half of :class:`~denbi_jupyter.cloud.client.OpenStackCloud`: index and pages.

Split from ``client.py`` (one subject per module): the per-site snapshot index (every visible
snapshot, 1000 per request, raw JSON), one page of snapshots from the index or from one Glance
request with remembered markers (:mod:`denbi_jupyter.cloud.paging`), and the fresh view of one
snapshot. Which source answers is :func:`denbi_jupyter.cloud.rules.listing.plan_listing`.

Volume-backed snapshot images lack ``image_type=snapshot`` and carry ``block_device_mapping``
plus ``bdm_v2=True`` instead; Glance cannot filter on a property's presence, so the index loads
them with a second, exact ``bdm_v2=True`` filter, while the paged listing shows
``image_type=snapshot`` images only.

The index walks the project's private images without a type filter (Nova makes snapshots
private): the non-snapshot ones among them are the project's own uploads, which the image
catalog needs and cannot get in a number of requests independent of the snapshots, since
Glance has no negative filter. :meth:`SnapshotListing.private_images` hands them over.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cloud._records import classified, snapshot_from_image
from denbi_jupyter.cloud.index import MemorySnapshotIndex, validate_query
from denbi_jupyter.cloud.paging import MarkerCache
from denbi_jupyter.cloud.rules.listing import ListingSource, plan_listing
from denbi_jupyter.cloud.types import Image, Page, SiteSettings, Snapshot, SnapshotQuery
from denbi_jupyter.errors import CloudUnavailableError, NotFoundError, UserInputError

if TYPE_CHECKING:
    from denbi_jupyter.cloud._gateway import CloudGateway
    from denbi_jupyter.cloud._openstack import ImagePage

__all__ = ["GLANCE_PAGE_MAX", "SnapshotListing", "image_pages"]

#: Glance's largest page (``api_limit_max``); bigger limits are capped silently.
GLANCE_PAGE_MAX = 1000
#: Every visible snapshot without one Glance listing per visibility growing with the others:
#: the project's private images (snapshots and uploads alike), then the snapshots others
#: publish or share, the project's own community ones, and volume-backed ones.
_PRIVATE_FILTER: Mapping[str, str] = {"visibility": "private"}
_SNAPSHOT_FILTERS: tuple[Mapping[str, str], ...] = (
    {"image_type": "snapshot", "visibility": "public"},
    {"image_type": "snapshot", "visibility": "shared"},
    {"bdm_v2": "True"},
)


def image_pages(
    gateway: CloudGateway, params: Mapping[str, Any], *, classified: bool = True
) -> Iterator[ImagePage]:
    """Every page of a Glance listing, :data:`GLANCE_PAGE_MAX` images per request."""
    query: dict[str, Any] = {**params, "limit": GLANCE_PAGE_MAX}
    while True:
        page = gateway.image_page(query, classified=classified)
        yield page
        if page.next_marker is None or not page.images:
            return
        query["marker"] = page.next_marker


def _empty_page(query: SnapshotQuery, *, total: int | None) -> Page[Snapshot]:
    return Page(items=(), page=query.page, per_page=query.per_page, total=total, has_next=False)


class SnapshotListing:
    """Snapshot listing for a client that has a gateway, a site and a project (a mixin)."""

    _gateway: CloudGateway
    _site: SiteSettings
    _index_timeout: float
    _index_lock: threading.Lock
    _markers: MarkerCache
    _index: MemorySnapshotIndex | None
    _private_uploads: tuple[Image, ...] | None = None

    @property
    def project_id(self) -> str:  # pragma: no cover - provided by the client
        raise NotImplementedError

    def project_names(self) -> Mapping[str, str]:  # pragma: no cover - provided by the client
        raise NotImplementedError

    def snapshot_index(self) -> MemorySnapshotIndex:
        """This client's snapshot index (created on first call, not loaded until asked)."""
        with self._index_lock:
            if self._index is None:
                self._index = MemorySnapshotIndex(
                    self._snapshot_pages, project_id=lambda: self.project_id, site=self._site.name
                )
            return self._index

    def _snapshot_pages(self) -> Iterator[list[Snapshot]]:
        """Every visible snapshot, 1000 per request, as raw JSON (no classification).

        The private pass also keeps the project's non-snapshot images for
        :meth:`private_images` (classified: they are few).
        """
        names = self.project_names()
        seen: set[str] = set()
        uploads: list[Image] = []
        filters = (
            _PRIVATE_FILTER,
            *_SNAPSHOT_FILTERS,
            {"image_type": "snapshot", "visibility": "community", "owner": self.project_id},
        )
        for params in filters:
            for page in image_pages(
                self._gateway, {**params, "sort": "created_at:desc"}, classified=False
            ):
                if params is _PRIVATE_FILTER:
                    uploads.extend(classified(i) for i in page.images if not i.is_snapshot)
                batch = [
                    snapshot_from_image(image, names)
                    for image in page.images
                    if image.id not in seen and image.is_snapshot
                ]
                seen.update(snapshot.id for snapshot in batch)
                yield batch
            if params is _PRIVATE_FILTER:
                self._private_uploads = tuple(uploads)

    def private_images(self, *, reload: bool = False) -> list[Image]:
        """The project's own active private images that are not snapshots, newest first.

        They come from the snapshot index's walk (loaded in the background when needed, and
        at most ``index_timeout`` awaited), so the image catalog's own requests do not grow
        with the number of snapshots. ``reload`` walks them again.
        """
        index = self.snapshot_index()
        if reload or not index.loaded or self._private_uploads is None:
            if not index.loading:
                index.load_in_background()
            self._await_index(index, "the project's private images")
        active = [i for i in self._private_uploads or () if i.status == "active"]
        return sorted(active, key=lambda image: image.created_at, reverse=True)

    def list_snapshots(self, query: SnapshotQuery) -> Page[Snapshot]:
        """One page of snapshots, from the index or one Glance request.

        :func:`~denbi_jupyter.cloud.rules.listing.plan_listing` decides; a name search before
        the index is loaded waits for it (``index_timeout``).
        """
        validate_query(query)
        index = self.snapshot_index()
        plan = plan_listing(
            query,
            index_loaded=index.loaded,
            project_id=self.project_id,
            project_names=self.project_names(),
        )
        if plan.source is ListingSource.INDEX:
            return index.query(query)
        if plan.source is ListingSource.LOAD_INDEX:
            return self._query_index(index, query)
        if plan.source is ListingSource.EMPTY:
            return _empty_page(query, total=0)
        return self._glance_page(dict(plan.params), query)

    def _query_index(self, index: MemorySnapshotIndex, query: SnapshotQuery) -> Page[Snapshot]:
        index.load_in_background()
        self._await_index(index, "a name search")
        return index.query(query)

    def _await_index(self, index: MemorySnapshotIndex, purpose: str) -> None:
        if not index.wait_loaded(self._index_timeout):
            error = index.last_error
            if error is not None:
                raise error
            raise CloudUnavailableError(
                f"Loading the snapshot list of {self._site.name} for {purpose} took longer "
                f"than {self._index_timeout:.0f} s; try again in a moment."
            )

    def _glance_page(self, params: dict[str, Any], query: SnapshotQuery) -> Page[Snapshot]:
        key = (tuple(sorted(params.items())), query.per_page)
        try:
            return self._fetch_page(key, params, query)
        except (UserInputError, NotFoundError):
            # A marker image vanished (deleted elsewhere): forget this query's markers, retry.
            start, _ = self._markers.nearest(key, query.page)
            if start == 1:
                raise
            self._markers.drop(key)
            return self._fetch_page(key, params, query)

    def _fetch_page(
        self, key: tuple[object, ...], params: dict[str, Any], query: SnapshotQuery
    ) -> Page[Snapshot]:
        per_page = query.per_page
        start, marker = self._markers.nearest(key, query.page)
        if start < query.page:
            reached, marker = self._walk(key, params, per_page, start, marker, query.page)
            if not reached:
                return _empty_page(query, total=None)
        limit = min(per_page + 1, GLANCE_PAGE_MAX)
        request = {**params, "limit": limit}
        if marker:
            request["marker"] = marker
        page = self._gateway.image_page(request, classified=False)
        images = page.images[:per_page]
        has_next = len(page.images) > per_page or (
            limit == per_page and len(images) == per_page and page.next_marker is not None
        )
        if has_next and images:
            self._markers.remember(key, query.page + 1, images[-1].id)
        names = self.project_names()
        return Page(
            items=tuple(snapshot_from_image(image, names) for image in images),
            page=query.page,
            per_page=per_page,
            total=None,
            has_next=has_next,
        )

    def _walk(
        self,
        key: tuple[object, ...],
        params: Mapping[str, Any],
        per_page: int,
        start: int,
        marker: str | None,
        page: int,
    ) -> tuple[bool, str | None]:
        """Skip from page ``start`` to ``page`` in 1000-item steps, remembering every boundary."""
        position = (start - 1) * per_page
        target = (page - 1) * per_page
        while position < target:
            want = min(GLANCE_PAGE_MAX, target - position)
            request: dict[str, Any] = {**params, "limit": want}
            if marker:
                request["marker"] = marker
            chunk = self._gateway.image_page(request, classified=False)
            if not chunk.images:
                return False, marker
            for offset, image in enumerate(chunk.images, start=position + 1):
                if offset % per_page == 0:
                    self._markers.remember(key, offset // per_page + 1, image.id)
            position += len(chunk.images)
            marker = chunk.images[-1].id
            if chunk.next_marker is None and position < target:
                return False, marker
        return True, marker

    def get_snapshot(self, image_id: str) -> Snapshot | None:
        """The snapshot view of an image by id, or None when it does not exist.

        A loaded index is updated with the fresh state (so a finished upload shows at once).
        """
        image = self._gateway.get_image(image_id)
        if image is None:
            if self._index is not None:
                self._index.forget([image_id])
            return None
        snapshot = snapshot_from_image(image, self.project_names())
        if self._index is not None and image.is_snapshot:
            self._index.add(snapshot)
        return snapshot
