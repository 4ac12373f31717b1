"""Page numbers over Glance's marker paging.

Glance pages with ``limit`` and ``marker`` (the last id seen) and has no offsets. The browser
wants page numbers, so :class:`MarkerCache` remembers, per query, the marker that starts each
page seen so far: page N costs one request when page N-1 was seen. A jump to an unseen page
starts from the nearest known page before it and walks forward in 1000-item steps (see
``OpenStackCloud.list_snapshots``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["MarkerCache"]


class MarkerCache:
    """Per-query page → marker memory, bounded to the most recent queries; thread-safe.

    Page 1 needs no marker. :meth:`nearest` tells the best starting point for a page.
    """

    def __init__(self, *, max_queries: int = 64) -> None:
        self._max = max_queries
        self._lock = threading.Lock()
        self._markers: OrderedDict[Hashable, dict[int, str]] = OrderedDict()

    def nearest(self, key: Hashable, page: int) -> tuple[int, str | None]:
        """The highest known page ≤ ``page`` and its start marker (``(1, None)`` at worst)."""
        with self._lock:
            markers = self._markers.get(key)
            if markers is None:
                return 1, None
            self._markers.move_to_end(key)
            known = [p for p in markers if p <= page]
            if not known:
                return 1, None
            best = max(known)
            return best, markers[best]

    def remember(self, key: Hashable, page: int, marker: str) -> None:
        """Record that ``page`` of ``key`` starts after the image ``marker``."""
        if page <= 1:
            return
        with self._lock:
            markers = self._markers.setdefault(key, {})
            markers[page] = marker
            self._markers.move_to_end(key)
            while len(self._markers) > self._max:
                self._markers.popitem(last=False)

    def drop(self, key: Hashable) -> None:
        """Forget every marker of one query (e.g. its marker image vanished)."""
        with self._lock:
            self._markers.pop(key, None)

    def clear(self) -> None:
        """Forget everything (after a create or delete shifted the pages)."""
        with self._lock:
            self._markers.clear()
