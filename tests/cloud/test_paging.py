"""The marker cache that turns Glance's marker paging into page numbers."""

from __future__ import annotations

from denbi_jupyter.cloud.paging import MarkerCache


def test_unknown_query_starts_at_page_one() -> None:
    assert MarkerCache().nearest("q", 7) == (1, None)


def test_nearest_known_page_at_or_before_the_wanted_one() -> None:
    cache = MarkerCache()
    cache.remember("q", 2, "m2")
    cache.remember("q", 5, "m5")
    assert cache.nearest("q", 4) == (2, "m2")
    assert cache.nearest("q", 5) == (5, "m5")
    assert cache.nearest("q", 9) == (5, "m5")
    assert cache.nearest("other", 9) == (1, None)


def test_page_one_needs_no_marker() -> None:
    cache = MarkerCache()
    cache.remember("q", 1, "ignored")
    assert cache.nearest("q", 1) == (1, None)


def test_oldest_queries_are_evicted() -> None:
    cache = MarkerCache(max_queries=2)
    for key in ("a", "b", "c"):
        cache.remember(key, 2, f"m-{key}")
    assert cache.nearest("a", 2) == (1, None)
    assert cache.nearest("c", 2) == (2, "m-c")


def test_drop_and_clear_forget_markers() -> None:
    cache = MarkerCache()
    cache.remember("a", 2, "x")
    cache.remember("b", 2, "y")
    cache.drop("a")
    assert cache.nearest("a", 2) == (1, None)
    cache.clear()
    assert cache.nearest("b", 2) == (1, None)
