"""Click through the main notebook in JupyterLab like a person: one story per test, in order.

Every wait is on a page condition (Playwright's ``expect``), never a fixed sleep. Screenshots
of each panel go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from denbi_jupyter.lab import LabSession
from tests.browser.conftest import SCREENSHOTS, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.timeout(240)]

JOB_TIMEOUT_MS = 120_000


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(locator)


def shot(page: Any, name: str, part: str = ".denbi-cloud-panel") -> None:
    """Screenshot of the whole panel, or of one part of it (scrolled into view)."""
    element = page.locator(part).first
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")


def tab(page: Any, title: str) -> None:
    page.locator(".denbi-cloud-panel .lm-TabBar-tab", has_text=title).first.click()


def test_the_main_notebook_runs_and_shows_the_panel(page: Any, lab: LabSession) -> None:
    page.goto(lab.notebook_url())
    expect(page.locator(".jp-Notebook").first).to_be_visible()
    # The status bar names the kernel only once it is connected (the toolbar says "idle" before).
    expect(page.locator(".jp-StatusBar-TextItem", has_text="ipykernel) | Idle")).to_be_visible()
    browser_tab = page.locator(".jp-SideBar.jp-mod-left li.lm-mod-current")
    if browser_tab.count():
        browser_tab.first.click()  # fold the file browser away: more room for the panel
    page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook is the current widget
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    expect(page.locator(".jp-InputPrompt", has_text="[1]:")).to_be_visible()
    panel = page.locator(".denbi-cloud-panel").first
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("project denbi-demo")
    expect(page.locator(".denbi-image-row")).to_have_count(17)
    expect(page.locator(".jp-OutputArea-output", has_text="snapshots match 'snap'")).to_be_visible()
    shot(page, "images")


def test_filtering_images_by_name_and_desktop(page: Any) -> None:
    images = page.locator(".denbi-image-panel").first
    search = images.get_by_placeholder("Search images by name…")
    search.fill("xfce")
    expect(page.locator(".denbi-image-row")).to_have_count(2)
    search.fill("")
    images.locator("select").nth(1).select_option(label="Guacamole desktop")
    expect(page.locator(".denbi-image-row")).to_have_count(3)
    search.fill("nothing-like-this")
    expect(images).to_contain_text("No images match 'nothing-like-this' + Guacamole desktop")
    images.get_by_role("button", name="Clear filters").click()
    expect(page.locator(".denbi-image-row")).to_have_count(17)
    search.fill("x2go")
    expect(page.locator(".denbi-image-row")).to_have_count(4)


def test_booting_a_vm_ends_on_a_connection_card(page: Any) -> None:
    images = page.locator(".denbi-image-panel").first
    row = page.locator(".denbi-image-row").filter(
        has=page.locator("b", has_text=re.compile(r"^X2Go_xfce$"))
    )
    row.get_by_role("button").click()
    expect(images).to_contain_text("Available on sites:")
    expect(images.locator(".denbi-badge", has_text="✓ heidelberg")).to_be_visible()
    name = images.get_by_placeholder("e.g. rnaseq-vm-1")
    name.fill("browser-vm")
    shot(page, "image-details")
    images.get_by_role("button", name="Boot VM").click()
    card = images.locator(".denbi-job-card").first
    expect(card).to_contain_text("Boot browser-vm from X2Go_xfce")
    expect(card.locator(".denbi-badge", has_text="done")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    connection = images.locator(".denbi-connection-card").first
    expect(connection.locator("textarea").first).to_have_value(re.compile(r"^ssh -p \d+ ubuntu@"))
    expect(connection.locator(".denbi-x2go-download")).to_contain_text("X2Go session file (XFCE)")
    ssh = connection.locator(".denbi-way-in", has_text="SSH").first  # booted without a key
    expect(ssh).to_contain_text(re.compile(r"port \d+ reachable"), timeout=JOB_TIMEOUT_MS)
    expect(ssh.locator(".denbi-badge")).to_have_text("cannot check")
    shot(page, "boot")


def test_creating_a_snapshot_shows_preflight_and_reaches_active(page: Any) -> None:
    tab(page, "Snapshots")
    snapshots = page.locator(".denbi-snapshot-panel").first
    create = snapshots.locator(".widget-vbox", has_text="Create a snapshot").last
    option = create.locator("option", has_text="browser-vm").first
    expect(option).to_be_attached()
    create.locator("select").select_option(label=option.text_content())
    create.locator("input[type=text]").fill("browser-snap")
    expect(create.locator(".denbi-badge", has_text="checking")).to_have_count(0)
    expect(create.locator(".denbi-notice", has_text="ACTIVE")).to_be_visible()
    expect(create.get_by_role("button", name="Create snapshot")).to_be_enabled()
    shot(page, "snapshot-preflight", ".denbi-snapshot-create")
    create.get_by_role("button", name="Create snapshot").click()
    card = snapshots.locator(".denbi-job-card").first
    expect(card).to_contain_text("Snapshot browser-vm → browser-snap")
    expect(card.locator(".denbi-badge", has_text="done")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    row = snapshots.locator(".denbi-snapshot-row", has_text="browser-snap")
    expect(row.locator(".denbi-badge", has_text="active")).to_be_visible()


def test_paging_and_filtering_the_snapshot_browser(page: Any) -> None:
    snapshots = page.locator(".denbi-snapshot-panel").first
    snapshots.locator("select").nth(2).select_option(label="25 per page")
    expect(snapshots).to_contain_text("Page 1 of 2 · 44 snapshots")
    expect(page.locator(".denbi-snapshot-row")).to_have_count(25)
    snapshots.locator("select").nth(2).select_option(label="10 per page")
    expect(snapshots).to_contain_text("Page 1 of 5 · 44 snapshots")
    expect(page.locator(".denbi-snapshot-row")).to_have_count(10)
    snapshots.get_by_role("button", name="Next ›").click()
    expect(snapshots).to_contain_text("Page 2 of 5")
    search = snapshots.get_by_placeholder("Filter by name, project or OpenStack ID…")
    search.fill("browser")
    expect(page.locator(".denbi-snapshot-row")).to_have_count(1)
    expect(snapshots).to_contain_text("Page 1 of 1 · 1 snapshot")
    search.fill("zzz-no-such")
    expect(snapshots).to_contain_text("No snapshots match 'zzz-no-such'")
    search.fill("rnaseq")
    expect(page.locator(".denbi-snapshot-row").first).to_contain_text("rnaseq")
    shot(page, "snapshots")


def test_selecting_two_snapshots_and_deleting_them(page: Any) -> None:
    snapshots = page.locator(".denbi-snapshot-panel").first
    rows = snapshots.locator(".denbi-snapshot-row").filter(
        has=page.locator("input[type=checkbox]:not([disabled])")
    )
    names = [rows.nth(index).locator("b").first.inner_text() for index in (0, 1)]
    for index in (0, 1):
        rows.nth(index).locator("input[type=checkbox]").check()
    expect(snapshots).to_contain_text("2 selected")
    snapshots.get_by_role("button", name="Delete selected (2)").click()
    confirm = snapshots.locator(".denbi-confirm")
    expect(confirm).to_contain_text("Delete these 2 snapshots from bielefeld?")
    for name in names:
        expect(confirm).to_contain_text(name)
    shot(page, "delete-confirm")
    confirm.get_by_role("button", name="Delete 2").click()
    expect(snapshots).to_contain_text("2 of 2 deleted", timeout=JOB_TIMEOUT_MS)
    for name in names:
        expect(snapshots.locator(".denbi-snapshot-row", has_text=name)).to_have_count(0)
    expect(snapshots).to_contain_text("0 selected")
    shot(page, "delete-done")


def test_the_connect_tab_shows_the_new_vm(page: Any) -> None:
    tab(page, "Connect")
    connect = page.locator(".denbi-connection-panel").first
    expect(connect.locator("select").first).to_contain_text("browser-vm")
    expect(connect.locator("textarea").first).to_have_value(re.compile(r"^ssh -p \d+ ubuntu@"))
    expect(connect).to_contain_text("PuTTY key → OpenSSH")
    shot(page, "connect")


def test_nothing_went_wrong_behind_the_scenes(page: Any) -> None:
    tab(page, "Activity")
    activity = page.locator(".denbi-activity-log").first
    expect(activity).to_be_visible()
    assert "ERROR" not in (activity.text_content() or "")


def test_the_panel_opens_beside_the_notebook(page: Any) -> None:
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("b")  # a new cell below
    page.keyboard.press("Enter")  # edit it
    page.keyboard.type("from denbi_jupyter import open_sidebar\nsidebar = open_sidebar(panel)")
    page.keyboard.press("Shift+Enter")
    expect(page.locator(".denbi-cloud-panel")).to_have_count(2)  # the cell's and the side's
    side = page.locator(".denbi-cloud-panel").nth(1)
    expect(side).to_be_visible()
    expect(side).to_contain_text("de.NBI Cloud")
    tab(page, "Images")
    page.screenshot(path=str(SCREENSHOTS / "sidebar.png"), animations="disabled")
