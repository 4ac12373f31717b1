"""The snapshot browser: paging, filter via the index, sort, selection, confirmations, forms."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

import pytest

from denbi_jupyter.cloud.index import MemorySnapshotIndex
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import Page, Snapshot, SnapshotQuery, SnapshotSort
from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel
from tests.panels._support import loaded, page_of, shown, texts, wait_until
from tests.support.fake_cloud import FakeCloud


def page_names(panel: SnapshotPanel) -> list[str]:
    return [s.name for s in page_of(panel).items]


def many_snapshots(fake: FakeCloud, count: int) -> None:
    for number in range(count):
        fake.add_snapshot(f"bulk-{number:03d}")


def test_first_page_lists_snapshots_with_project_status_and_index_badge(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = SnapshotPanel(shared)
    assert panel.wait_idle()
    assert panel.table.index_state == "loaded"
    assert sorted(page_names(panel)) == [
        "analysis-snap",
        "assembly-snap",
        "golden-snap",
        "theirs-snap",
    ]
    table = texts(panel.table)
    assert "my-project" in table and "other-project" in table and "active" in table
    assert "index: 4 snapshots" in panel.table._index_badge.value


def test_a_filter_keystroke_is_served_by_the_index_without_a_request(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(shared))
    before = len(fake.calls)
    panel.table._filter.value = "assem"
    panel.wait_idle()
    assert page_names(panel) == ["assembly-snap"]
    panel.table._filter.value = "other-proj"  # project name
    panel.wait_idle()
    assert page_names(panel) == ["theirs-snap"]
    snapshot_id = next(i for i in fake.images.values() if i.name == "golden-snap").id
    panel.table._filter.value = snapshot_id[:8]  # OpenStack id
    panel.wait_idle()
    assert page_names(panel) == ["golden-snap"]
    assert fake.calls[before:] == []


def test_a_filter_keystroke_renders_the_table_only(
    fake: FakeCloud, shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(SnapshotPanel(shared))
    renders: dict[str, int] = {}
    for part in panel._parts():
        name, render = type(part).__name__, part._render

        def counted(name: str = name, render: Callable[[], None] = render) -> None:
            renders[name] = renders.get(name, 0) + 1
            render()

        monkeypatch.setattr(part, "_render", counted)
    for text in ("a", "as", "ass"):
        panel.table._filter.value = text
    panel.wait_idle()
    assert page_names(panel) == ["assembly-snap"]
    assert renders.get("SnapshotTable", 0) >= 1
    assert set(renders) == {"SnapshotTable"}  # no form, no confirmation re-rendered
    assert "Page 1 of 1 · 1 snapshot<" in panel.table._page_label.value


def test_no_match_says_so_in_words(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    panel.table.text = "foo"
    panel.wait_idle()
    assert page_of(panel).items == ()
    assert "No snapshots match &#x27;foo&#x27;" in panel.table._empty.value


def test_paging_with_a_page_size_and_sorting_by_name(fake: FakeCloud, shared: Shared) -> None:
    many_snapshots(fake, 21)
    panel = loaded(SnapshotPanel(shared))
    panel.table._per_page.value = 25
    panel.wait_idle()
    assert "Page 1 of 1 · 25 snapshots" in panel.table._page_label.value
    assert len(panel.table.rows) == 25
    panel.table._per_page.value = 10
    panel.table._sort.value = SnapshotSort.NAME.value
    panel.wait_idle()
    assert page_names(panel)[:2] == ["analysis-snap", "assembly-snap"]
    assert "Page 1 of 3 · 25 snapshots" in panel.table._page_label.value
    assert panel.table._prev.disabled and not panel.table._next.disabled
    panel.table._next.click()
    panel.wait_idle()
    assert panel.table.page == 2 and page_names(panel)[0] == "bulk-008"
    panel.table._next.click()
    panel.wait_idle()
    assert len(page_names(panel)) == 5 and panel.table._next.disabled
    panel.table.text = "bulk-01"  # a new filter goes back to page 1
    panel.wait_idle()
    assert panel.table.page == 1 and len(page_names(panel)) == 10


def test_select_page_skips_protected_and_foreign_snapshots(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    panel.table._select_page.click()
    chosen = sorted(panel.table.name_of(i) for i in panel.selected)
    assert chosen == ["analysis-snap", "assembly-snap"]
    disabled = {
        panel.table.name_of(row.snapshot_id) for row in panel.table.rows if row.check.disabled
    }
    assert disabled == {"golden-snap", "theirs-snap"}
    assert panel.table._delete_selected.description == "Delete selected (2)"
    panel.table._select_page.click()  # all selected: the same button clears the page
    assert panel.selected == ()


def test_checkbox_clicks_select_and_select_all_matching_spans_pages(
    fake: FakeCloud, shared: Shared
) -> None:
    many_snapshots(fake, 30)
    panel = loaded(SnapshotPanel(shared))
    panel.table.per_page = 10
    panel.table.text = "bulk"
    panel.wait_idle()
    panel.table.rows[0].check.value = True
    assert len(panel.selected) == 1
    panel.table._select_matching.click()
    panel.wait_idle()
    assert len(panel.selected) == 30
    assert "Selected 30 matching snapshots" in panel.table._selection_label.value
    panel.table._clear_selection.click()
    assert not panel.selected and panel.table._delete_selected.disabled


def test_delete_asks_first_naming_each_snapshot_and_cancel_keeps_everything(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(shared))
    panel.table._select_page.click()
    panel.table._delete_selected.click()
    assert shown(panel.confirmation.box)
    assert "Delete these 2 snapshots from fake?" in panel.confirmation._html.value
    assert "analysis-snap" in panel.confirmation._html.value
    assert "assembly-snap" in panel.confirmation._html.value
    assert panel.confirmation._yes.description == "Delete 2"
    panel.confirmation._no.click()
    assert not shown(panel.confirmation.box)
    assert len(panel.selected) == 2
    assert not any(method == "delete_image" for method, _ in fake.calls)


def test_delete_one_row_asks_about_that_row_only(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    row = next(r for r in panel.table.rows if panel.table.name_of(r.snapshot_id) == "assembly-snap")
    row.delete.click()
    assert "Delete this snapshot from fake?" in panel.confirmation._html.value
    assert "assembly-snap" in panel.confirmation._html.value
    assert "analysis-snap" not in panel.confirmation._html.value


def test_start_vm_form_preselects_the_recorded_flavor(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    row = next(r for r in panel.table.rows if panel.table.name_of(r.snapshot_id) == "analysis-snap")
    row.launch.click()
    assert shown(panel.relaunch)
    small = next(f for f in fake.flavors.values() if f.name == "de.NBI small")
    assert panel.relaunch._flavor.value == small.id
    assert "Flavor recorded with the snapshot: <b>de.NBI small</b>" in panel.relaunch._head.value
    assert panel.relaunch._name.value.startswith("analysis-snap-vm-")
    panel.relaunch._cancel_button.click()
    assert not shown(panel.relaunch)


def test_create_form_shows_preflight_warnings_inline(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    vm1 = next(s for s in fake.servers.values() if s.name == "vm1")
    panel.create._server.value = vm1.id
    panel.create._name.value = "vm1-backup"
    panel.wait_idle()
    assert panel.create.preflight is not None and panel.create.preflight.ok
    assert "ACTIVE" in panel.create._preflight_html.value  # stop-first warning
    assert not panel.create._go.disabled
    panel.create._name.value = "analysis-snap"  # used already in this project
    panel.wait_idle()
    assert not panel.create.preflight.ok
    assert "analysis-snap" in panel.create._preflight_html.value
    assert panel.create._go.disabled


def test_site_switch_clears_selection_and_reloads(fake: FakeCloud) -> None:
    other = FakeCloud()
    other.add_snapshot("far-away-snap")
    clouds = {"bielefeld": fake, "heidelberg": other}
    from denbi_jupyter.panels import SiteClients

    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), debounce_s=0, warm_up=False)
    panel = loaded(SnapshotPanel(shared))
    panel.table._select_page.click()
    panel._site_picker.value = "heidelberg"
    panel.wait_idle()
    assert panel.selected == ()
    assert page_names(panel) == ["far-away-snap"]


def test_reload_fetches_snapshots_made_elsewhere(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    fake.add_snapshot("made-in-horizon")
    panel.table.text = "horizon"
    panel.wait_idle()
    assert page_names(panel) == []  # the index answers: it does not know it yet
    panel.table._refresh.click()
    assert panel.table._refresh.disabled  # while it loads
    panel.wait_idle()
    assert page_names(panel) == ["made-in-horizon"]
    assert "index: 5 snapshots" in panel.table._index_badge.value


def two_sites(
    a_snapshots: Iterable[str] = (), b_snapshots: Iterable[str] = ()
) -> tuple[FakeCloud, FakeCloud]:
    """Fake clouds for sites ``A`` and ``B`` (projects ``p-A``, ``p-B``) with these snapshots."""
    a, b = FakeCloud(project_id="p-A"), FakeCloud(project_id="p-B")
    for name in a_snapshots:
        a.add_snapshot(name)
    for name in b_snapshots:
        b.add_snapshot(name)
    return a, b


def site_pair(a: FakeCloud, b: FakeCloud, *, open_a: Callable[[], object] = lambda: None) -> Shared:
    """Shared state with sites ``A`` and ``B``; opening A's client first calls ``open_a``."""

    def open_site(name: str) -> CloudClient:
        if name == "A":
            open_a()
            return a
        return b

    return Shared(SiteClients(open_site, ["A", "B"]), debounce_s=0, warm_up=False)


def test_select_all_matching_answered_after_a_site_switch_selects_nothing_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = two_sites([f"a-snap-{number}" for number in range(5)], ["b-only"])
    shared = site_pair(a, b)
    panel = SnapshotPanel(shared, site="A")
    assert panel.wait_idle()
    release = threading.Event()
    index = a.snapshot_index()
    query = index.query

    def held(wanted: SnapshotQuery) -> Page[Snapshot]:
        release.wait(30)  # A answers only after the user is on B
        return query(wanted)

    monkeypatch.setattr(index, "query", held)
    panel.table._select_matching.click()
    panel.site = "B"
    release.set()
    assert panel.wait_idle()
    assert panel.selected == ()
    assert not panel.table.selecting and panel.table.notice_text == ""
    assert panel.table._delete_selected.description == "Delete selected"
    shared.background.shutdown()


def test_a_slow_site_answering_after_a_switch_keeps_the_new_sites_project() -> None:
    a, b = two_sites()
    mine = b.add_snapshot("mine-on-B")
    release = threading.Event()
    shared = site_pair(a, b, open_a=lambda: release.wait(120))  # Keystone on A hangs
    panel = SnapshotPanel(shared, site="A")
    panel.site = "B"
    # B loads while A's calls still wait (within wait_until's 30 s, A's open hangs for 120)
    wait_until(lambda: panel.table.index_state == "loaded" and panel.current is not None, what="B")
    release.set()
    assert panel.wait_idle()
    panel.table._select_page.click()
    assert panel.selected == (mine.id,)  # B's own snapshot is not "owned by" A's project
    assert "owned by project" not in texts(panel.table)
    shared.background.shutdown()


def test_a_slow_index_load_left_behind_does_not_write_into_the_new_sites_badge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = two_sites([f"a-{number}" for number in range(4)], ["b-0"])
    release = threading.Event()

    def pages() -> Iterator[list[Snapshot]]:
        everything = a.list_snapshots(SnapshotQuery(per_page=100)).items
        yield list(everything[:2])
        release.wait(30)  # the rest of A arrives after the user is on B
        yield list(everything[2:])

    slow = MemorySnapshotIndex(pages, project_id=lambda: "p-A", site="A")
    monkeypatch.setattr(a, "snapshot_index", lambda: slow)
    shared = site_pair(a, b)
    panel = SnapshotPanel(shared, site="A")
    panel.site = "B"
    wait_until(lambda: panel.table.index_state == "loaded", what="B's index")
    release.set()
    assert panel.wait_idle()
    assert slow.loaded  # A's load did finish, and reported 4 on the way
    assert (panel.site, panel.table.index_count) == ("B", 1)
    assert "index: 1 snapshot<" in panel.table._index_badge.value
    shared.background.shutdown()
