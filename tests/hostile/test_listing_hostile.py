"""Snapshot filters, page numbers and sizes: a right page or a clear error, never a crash."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.cloud.index import MAX_PER_PAGE, MemorySnapshotIndex, matches_text
from denbi_jupyter.cloud.paging import MarkerCache
from denbi_jupyter.cloud.rules.listing import ListingSource, is_uuid, plan_listing
from denbi_jupyter.cloud.types import Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples
from tests.hostile.test_names_hostile import HOSTILE_TEXT

_PROJECT = "p-own"
_NAMES = {"p-own": "Own Project", "p-other": "other", "p-twin1": "Twin", "p-twin2": "twin"}


def _snapshot(number: int, name: str, project: str) -> Snapshot:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number % 7)
    return Snapshot(
        id=str(uuid.UUID(int=number)),
        name=name,
        status="active",
        project_id=project,
        project_name=_NAMES.get(project),
        size=number * 3 % 11,
        created_at=when,
        updated_at=when,
        protected=False,
        visibility="private",
    )


_SNAPSHOTS = st.lists(st.tuples(HOSTILE_TEXT, st.sampled_from(list(_NAMES))), max_size=30).map(
    lambda pairs: [_snapshot(i, name, project) for i, (name, project) in enumerate(pairs)]
)
_NUMBERS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([0, MAX_PER_PAGE, MAX_PER_PAGE + 1, 2**63, 10**30, -(2**63)]),
    st.floats(allow_nan=True),
    st.sampled_from([True, "2", None]),
)
_FILTERS = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from(["Own Project", "twin", "OTHER", str(uuid.UUID(int=3)), uuid.UUID(int=3).hex]),
)


def _query(**fields: object) -> SnapshotQuery | None:
    try:
        return SnapshotQuery(**fields)  # type: ignore[arg-type]
    except UserInputError as error:
        assert str(error)
        return None


@settings(max_examples=examples(80))
@given(
    snapshots=_SNAPSHOTS,
    text=_FILTERS,
    page=_NUMBERS,
    per_page=_NUMBERS,
    sort=st.sampled_from([*SnapshotSort, "name", "biggest", 3]),
    own_only=st.booleans(),
)
@example(snapshots=[], text="", page=1.5, per_page=25, sort="newest", own_only=False)
@example(snapshots=[], text="", page=1, per_page=0, sort="newest", own_only=False)
@example(snapshots=[], text="", page=10**30, per_page=1000, sort="size", own_only=True)
def test_a_page_is_the_right_slice_or_a_clear_error(
    snapshots: list[Snapshot],
    text: str,
    page: object,
    per_page: object,
    sort: object,
    own_only: bool,
) -> None:
    query = _query(text=text, page=page, per_page=per_page, sort=sort, own_only=own_only)
    if query is None:
        return

    def pages() -> Iterator[list[Snapshot]]:
        yield snapshots

    index = MemorySnapshotIndex(pages, project_id=lambda: _PROJECT, site="hostile")
    index.load()
    try:
        result = index.query(query)
    except UserInputError as error:
        assert not (query.page >= 1 and 1 <= query.per_page <= MAX_PER_PAGE), str(error)
        return
    matching = [
        s for s in snapshots if matches_text(s, text) and (not own_only or s.project_id == _PROJECT)
    ]
    start = (query.page - 1) * query.per_page
    assert result.total == len(matching)
    assert len(result.items) == len(matching[start : start + query.per_page])
    assert {s.id for s in result.items} <= {s.id for s in matching}
    assert result.has_next == (start + query.per_page < len(matching))
    assert result.pages is not None and result.pages >= 1


@settings(max_examples=examples(80))
@given(text=_FILTERS, own_only=st.booleans(), loaded=st.booleans(), prefer=st.booleans())
@example(text=uuid.UUID(int=3).hex.upper(), own_only=False, loaded=False, prefer=False)
@example(text="twin", own_only=False, loaded=False, prefer=False)  # two projects match
def test_a_listing_plan_sends_only_exact_filters_glance_knows(
    text: str, own_only: bool, loaded: bool, prefer: bool
) -> None:
    query = SnapshotQuery(text=text, own_only=own_only)
    plan = plan_listing(
        query, index_loaded=loaded, project_id=_PROJECT, project_names=_NAMES, prefer_index=prefer
    )
    if plan.source is not ListingSource.GLANCE:
        assert not plan.params
        return
    assert set(plan.params) <= {"image_type", "sort", "owner", "id"}
    assert plan.params["image_type"] == "snapshot"
    if "id" in plan.params:
        assert is_uuid(text.strip()) and str(uuid.UUID(plan.params["id"])) == plan.params["id"]
    if "owner" in plan.params:
        assert plan.params["owner"] in _NAMES
        assert not own_only or plan.params["owner"] == _PROJECT
    assert all(value.isprintable() for value in plan.params.values())


@settings(max_examples=examples(40))
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["remember", "nearest", "drop", "clear"]),
            st.integers(0, 5),
            st.integers(-3, 10**6),
        ),
        max_size=40,
    )
)
def test_the_marker_cache_returns_the_nearest_known_page_at_or_before(
    steps: list[tuple[str, int, int]],
) -> None:
    cache = MarkerCache(max_queries=3)
    model: dict[int, dict[int, str]] = {}
    order: list[int] = []
    for action, key, page in steps:
        if action == "remember":
            cache.remember(key, page, f"m{page}")
            if page > 1:
                model.setdefault(key, {})[page] = f"m{page}"
                order = [k for k in order if k != key] + [key]
                while len(order) > 3:
                    model.pop(order.pop(0))
        elif action == "drop":
            cache.drop(key)
            model.pop(key, None)
            order = [k for k in order if k != key]
        elif action == "clear":
            cache.clear()
            model.clear()
            order = []
        else:
            known = [p for p in model.get(key, {}) if p <= page]
            expected = (max(known), model[key][max(known)]) if known else (1, None)
            assert cache.nearest(key, page) == expected
            if key in model:
                order = [k for k in order if k != key] + [key]
