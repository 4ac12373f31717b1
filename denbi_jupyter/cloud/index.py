"""The snapshot index: every visible snapshot of a site in memory, for keystroke filtering.

Glance has no substring search, so name search runs here. One index belongs to one client; it
loads in a background thread (1000 snapshots per request, raw JSON), and :meth:`query` filters,
sorts and pages with zero requests. All methods are thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from denbi_jupyter.cloud.types import Page, Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.errors import CloudUnavailableError, DenbiError, UserInputError

if TYPE_CHECKING:
    from denbi_jupyter.cloud.protocol import ProgressCallback

__all__ = [
    "MAX_PER_PAGE",
    "MemorySnapshotIndex",
    "SnapshotPages",
    "matches_text",
    "page_of",
    "sort_snapshots",
    "validate_query",
]

#: The largest page the browser may ask for (Glance's own maximum).
MAX_PER_PAGE = 1000

#: Yields the site's snapshots one page at a time (a fresh iteration per load).
SnapshotPages = Callable[[], Iterable[Sequence[Snapshot]]]


def validate_query(query: SnapshotQuery) -> None:
    """Raise :class:`UserInputError` for a page or page size out of range."""
    if query.page < 1:
        raise UserInputError(f"Page {query.page} does not exist: pages are numbered from 1.")
    if not 1 <= query.per_page <= MAX_PER_PAGE:
        raise UserInputError(
            f"A page holds 1 to {MAX_PER_PAGE} snapshots, not {query.per_page}: pick a page size"
            " in that range."
        )


def _haystack(snapshot: Snapshot) -> str:
    return f"{snapshot.name}\0{snapshot.project_name or ''}\0{snapshot.id}".lower()


def matches_text(snapshot: Snapshot, text: str) -> bool:
    """True when ``text`` is in the name, project name or id (case-insensitive); '' matches."""
    needle = text.strip().lower()
    return not needle or needle in _haystack(snapshot)


def _sort_key(sort: SnapshotSort) -> tuple[Callable[[Snapshot], tuple[object, ...]], bool]:
    if sort is SnapshotSort.NAME:
        return (lambda s: (s.name.lower(), s.id)), False
    if sort is SnapshotSort.SIZE:
        return (lambda s: (s.size if s.size is not None else -1, s.id)), True
    if sort is SnapshotSort.OLDEST:
        return (lambda s: (s.created_at, s.id)), False
    return (lambda s: (s.created_at, s.id)), True


def sort_snapshots(snapshots: Iterable[Snapshot], sort: SnapshotSort) -> list[Snapshot]:
    """Snapshots in the browser's order: newest/oldest by creation, name A-Z, size largest first."""
    key, reverse = _sort_key(sort)
    return sorted(snapshots, key=key, reverse=reverse)


def page_of(ordered: Sequence[Snapshot], query: SnapshotQuery) -> Page[Snapshot]:
    """The ``query.page`` slice of already filtered and sorted snapshots."""
    start = (query.page - 1) * query.per_page
    items = tuple(ordered[start : start + query.per_page])
    return Page(
        items=items,
        page=query.page,
        per_page=query.per_page,
        total=len(ordered),
        has_next=start + query.per_page < len(ordered),
    )


class MemorySnapshotIndex:
    """An in-memory :class:`~denbi_jupyter.cloud.protocol.SnapshotIndex` over a page source.

    Args:
        pages: Called once per load; yields pages of snapshots (the client's Glance pager).
        project_id: Returns the client's project id, for ``own_only`` queries (called only
            by such a query, so making the index costs no request).
        site: Site name, for messages.
    """

    def __init__(
        self, pages: SnapshotPages, *, project_id: Callable[[], str] | None, site: str
    ) -> None:
        self._pages = pages
        self._project_id = project_id
        self._site = site
        self._lock = threading.Condition()
        self._items: dict[str, Snapshot] = {}
        self._haystacks: dict[str, str] = {}
        self._sorted: dict[SnapshotSort, list[Snapshot]] = {}
        self._loaded = False
        self._loading = False
        self._changes: list[tuple[str, Snapshot | str]] = []
        self._thread: threading.Thread | None = None
        self._last_error: DenbiError | None = None
        self._loaded_at: float | None = None

    # --- state ------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """True once a full load has finished."""
        with self._lock:
            return self._loaded

    @property
    def loading(self) -> bool:
        """True while a load runs."""
        with self._lock:
            return self._loading

    @property
    def last_error(self) -> DenbiError | None:
        """Why the last load failed, or None when it succeeded (or none ran)."""
        with self._lock:
            return self._last_error

    @property
    def loaded_at(self) -> float | None:
        """``time.monotonic()`` when the last load finished, or None."""
        with self._lock:
            return self._loaded_at

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    # --- loading ----------------------------------------------------------------------
    def load(self, *, progress: ProgressCallback | None = None) -> None:
        """Fetch every visible snapshot and replace the index; blocking.

        Snapshots added or forgotten while the load runs are applied on top of its result.
        """
        with self._lock:
            self._loading = True
            self._changes = []
        try:
            fresh: dict[str, Snapshot] = {}
            for page in self._pages():
                for snapshot in page:
                    fresh[snapshot.id] = snapshot
                if progress is not None:
                    progress(len(fresh), None)
        except DenbiError as error:
            with self._lock:
                self._loading = False
                self._last_error = error
                self._lock.notify_all()
            raise
        except Exception as error:
            with self._lock:
                self._loading = False
                self._last_error = CloudUnavailableError(
                    f"Loading the snapshots of {self._site} failed: {error}. Try again later."
                )
                self._lock.notify_all()
            raise
        with self._lock:
            for change, value in self._changes:
                if change == "add" and isinstance(value, Snapshot):
                    fresh[value.id] = value
                elif isinstance(value, str):
                    fresh.pop(value, None)
            self._items = fresh
            self._haystacks = {key: _haystack(value) for key, value in fresh.items()}
            self._sorted = {}
            self._changes = []
            self._loaded = True
            self._loading = False
            self._last_error = None
            self._loaded_at = time.monotonic()
            self._lock.notify_all()
        if progress is not None:
            progress(len(fresh), len(fresh))

    def load_in_background(self) -> None:
        """Start :meth:`load` in a daemon thread unless one is running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._loading = True
            self._thread = threading.Thread(
                target=self._load_quietly, name=f"denbi-snapshot-index-{self._site}", daemon=True
            )
            self._thread.start()

    def _load_quietly(self) -> None:
        try:
            self.load()
        except Exception:  # noqa: BLE001 - kept in last_error for the caller to show (thread)
            return

    def wait_loaded(self, timeout: float) -> bool:
        """Block until loaded (or a load failed) or ``timeout`` seconds pass; return loaded."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._loading or not (self._loaded or self._last_error):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return self._loaded

    # --- queries and updates --------------------------------------------------------------
    def _ordered(self, sort: SnapshotSort) -> list[Snapshot]:
        ordered = self._sorted.get(sort)
        if ordered is None:
            ordered = sort_snapshots(self._items.values(), sort)
            self._sorted[sort] = ordered
        return ordered

    def query(self, query: SnapshotQuery) -> Page[Snapshot]:
        """Filter (name/project/id substring, own project), sort and page in memory."""
        validate_query(query)
        needle = query.text.strip().lower()
        own = self._project_id() if query.own_only and self._project_id is not None else None
        with self._lock:
            ordered = self._ordered(query.sort)
            haystacks = self._haystacks
            if needle or query.own_only:
                ordered = [
                    s
                    for s in ordered
                    if (not needle or needle in haystacks[s.id])
                    and (not query.own_only or s.project_id == own)
                ]
        return page_of(ordered, query)

    def forget(self, image_ids: Sequence[str]) -> None:
        """Drop deleted snapshots without reloading."""
        with self._lock:
            for image_id in image_ids:
                self._items.pop(image_id, None)
                self._haystacks.pop(image_id, None)
                if self._loading:
                    self._changes.append(("forget", image_id))
            self._sorted = {}

    def add(self, snapshot: Snapshot) -> None:
        """Insert or replace one snapshot (a new one, or a changed status)."""
        with self._lock:
            self._items[snapshot.id] = snapshot
            self._haystacks[snapshot.id] = _haystack(snapshot)
            if self._loading:
                self._changes.append(("add", snapshot))
            self._sorted = {}

    def get(self, image_id: str) -> Snapshot | None:
        """The indexed snapshot with this id, or None."""
        with self._lock:
            return self._items.get(image_id)
