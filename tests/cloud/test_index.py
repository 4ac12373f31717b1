"""The snapshot index: in-memory filter/sort/page, background loading, updates during a load."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence

import pytest

from denbi_jupyter.cloud import MemorySnapshotIndex, Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.errors import CloudUnavailableError, UserInputError

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def snap(
    n: int, name: str, *, project: str = "p1", project_name: str = "alpha", size: int = 1
) -> Snapshot:
    return Snapshot(
        id=f"00000000-0000-0000-0000-{n:012d}",
        name=name,
        status="active",
        project_id=project,
        project_name=project_name,
        size=size,
        created_at=T0 + dt.timedelta(minutes=n),
        updated_at=T0 + dt.timedelta(minutes=n),
        protected=False,
        visibility="private",
    )


SNAPSHOTS = [
    snap(1, "Backup-Monday", size=30),
    snap(2, "backup-tuesday", size=10),
    snap(3, "analysis", project="p2", project_name="beta-lab", size=20),
    snap(4, "Zeta", size=None),  # type: ignore[arg-type]
    snap(5, "alpha-run", project="p2", project_name="beta-lab", size=5),
]


def loaded_index(items: Sequence[Snapshot] = SNAPSHOTS, page_size: int = 2) -> MemorySnapshotIndex:
    def pages() -> Iterator[list[Snapshot]]:
        for start in range(0, len(items), page_size):
            yield list(items[start : start + page_size])

    index = MemorySnapshotIndex(pages, project_id=lambda: "p1", site="test")
    index.load()
    return index


def names(index: MemorySnapshotIndex, **kwargs: object) -> list[str]:
    return [s.name for s in index.query(SnapshotQuery(**kwargs)).items]  # type: ignore[arg-type]


def test_name_filter_is_a_case_insensitive_substring() -> None:
    index = loaded_index()
    assert names(index, text="BACKUP") == ["backup-tuesday", "Backup-Monday"]


def test_filter_matches_project_name_and_id() -> None:
    index = loaded_index()
    assert names(index, text="beta-l") == ["alpha-run", "analysis"]
    assert names(index, text="000000000003") == ["analysis"]


def test_own_only_keeps_the_current_projects_snapshots() -> None:
    assert names(loaded_index(), own_only=True) == ["Zeta", "backup-tuesday", "Backup-Monday"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (SnapshotSort.NEWEST, ["alpha-run", "Zeta", "analysis", "backup-tuesday", "Backup-Monday"]),
        (SnapshotSort.OLDEST, ["Backup-Monday", "backup-tuesday", "analysis", "Zeta", "alpha-run"]),
        (SnapshotSort.NAME, ["alpha-run", "analysis", "Backup-Monday", "backup-tuesday", "Zeta"]),
        (SnapshotSort.SIZE, ["Backup-Monday", "analysis", "backup-tuesday", "alpha-run", "Zeta"]),
    ],
)
def test_sort_orders(sort: SnapshotSort, expected: list[str]) -> None:
    assert names(loaded_index(), sort=sort) == expected


def test_pages_carry_total_and_has_next() -> None:
    index = loaded_index()
    first = index.query(SnapshotQuery(per_page=2, page=1))
    last = index.query(SnapshotQuery(per_page=2, page=3))
    assert (first.total, first.has_next, first.pages) == (5, True, 3)
    assert ([s.name for s in last.items], last.has_next) == (["Backup-Monday"], False)


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 1001)])
def test_out_of_range_pages_are_user_errors(page: int, per_page: int) -> None:
    with pytest.raises(UserInputError):
        loaded_index().query(SnapshotQuery(page=page, per_page=per_page))


def test_forget_and_add_change_results_without_reloading() -> None:
    index = loaded_index()
    index.forget([SNAPSHOTS[0].id])
    index.add(snap(9, "backup-new"))
    assert names(index, text="backup") == ["backup-new", "backup-tuesday"]


def test_progress_reports_counts_per_page() -> None:
    seen: list[tuple[int, int | None]] = []
    index = MemorySnapshotIndex(lambda: [SNAPSHOTS[:2], SNAPSHOTS[2:]], project_id=None, site="t")
    index.load(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, None), (5, None), (5, 5)]


def test_background_load_then_wait_loaded() -> None:
    release = threading.Event()

    def pages() -> Iterator[list[Snapshot]]:
        yield SNAPSHOTS[:2]
        release.wait(10)
        yield SNAPSHOTS[2:]

    index = MemorySnapshotIndex(pages, project_id=None, site="t")
    index.load_in_background()
    assert not index.wait_loaded(0.05)
    assert index.loading
    release.set()
    assert index.wait_loaded(10)
    assert len(index) == 5


def test_changes_during_a_load_survive_it() -> None:
    release = threading.Event()
    started = threading.Event()

    def pages() -> Iterator[list[Snapshot]]:
        started.set()
        release.wait(10)
        yield list(SNAPSHOTS)

    index = MemorySnapshotIndex(pages, project_id=None, site="t")
    index.load_in_background()
    assert started.wait(10)
    index.forget([SNAPSHOTS[1].id])
    index.add(snap(7, "made-during-load"))
    release.set()
    assert index.wait_loaded(10)
    assert "backup-tuesday" not in names(index)
    assert "made-during-load" in names(index)


def test_failed_load_is_reported_and_wait_returns() -> None:
    def pages() -> Iterator[list[Snapshot]]:
        raise CloudUnavailableError("site down")
        yield []

    index = MemorySnapshotIndex(pages, project_id=None, site="t")
    index.load_in_background()
    assert index.wait_loaded(10) is False
    assert isinstance(index.last_error, CloudUnavailableError)


def test_concurrent_queries_and_updates_stay_consistent() -> None:
    index = loaded_index([snap(n, f"snap-{n}") for n in range(1, 501)], page_size=100)
    failures: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                page = index.query(SnapshotQuery(text="snap-", per_page=50))
                assert page.total is not None and len(page.items) == 50
        # A thread's failure (an assertion or anything else) must reach the main thread, which
        # fails the test with it; uncaught, it would only be printed.
        except BaseException as error:  # noqa: BLE001  # pragma: no cover - reported below
            failures.append(error)

    def writer() -> None:
        for n in range(1000, 1200):
            index.add(snap(n, f"snap-{n}"))
            index.forget([f"00000000-0000-0000-0000-{n:012d}"])

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len(index) == 500
