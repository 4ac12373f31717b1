"""Use the front-end extension in JupyterLab like a person: one story per test, in order.

The lab serves an empty folder: the user starts from the Launcher's "de.NBI Cloud" tiles, uses
the left-area panel (its own kernel, the local cloud's clouds.yaml), reloads the page, reopens
the panel from the command palette, recovers from a killed kernel and finally reads the boot's
flow run in the Prefect UI, served by the lab's server extension under the lab's own URL.

Every wait is on a page (or API) condition, never a fixed sleep. Screenshots of each story go
to ``test-artifacts/screenshots/extension-NN-<story>.png``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from denbi_jupyter.lab import LabSession
from tests.browser.conftest import SCREENSHOTS, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.timeout(240)]

JOB_TIMEOUT_MS = 120_000
#: The panel's kernel starts, imports denbi_jupyter and opens a site: give it time on 2 cores.
RENDER_TIMEOUT_MS = 90_000
#: Where the panel should be, in JupyterLab 4's DOM: the left side area.
LEFT_AREA = "#jp-left-stack"
SIDEBAR = f"{LEFT_AREA} #denbi-cloud-panel.denbi-cloud-sidebar"
#: The session type the front-end gives the panel's kernel (labextension/src/panel.ts).
SESSION_TYPE = "denbi-cloud"
#: The boot flow's name (flows/boot.py) and the run name of the boot below ("boot-{name}").
BOOT_FLOW = "boot-server"
VM_NAME = "extension-vm"
#: Where the user drags the left area's edge to (the window is 1600 px wide).
SIDEBAR_WIDTH = 1180


#: The extension's page and its lab, for the stories that use both.
Story = tuple[Any, LabSession]


@pytest.fixture
def story(extension_page: Any, extension_lab: LabSession) -> Story:
    """The page (``extension_page``) and the lab it shows (``extension_lab``)."""
    return extension_page, extension_lab


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(locator)


def shot(page: Any, number: int, story: str) -> None:
    """Screenshot of the whole window, after checking that no error toast is shown."""
    expect(page.locator(".Toastify__toast--error")).to_have_count(0)
    page.screenshot(
        path=str(SCREENSHOTS / f"extension-{number:02d}-{story}.png"), animations="disabled"
    )


def api(lab: LabSession) -> Any:
    """An httpx client on the lab's URL, with the lab's token."""
    import httpx

    return httpx.Client(
        base_url=lab.url, headers={"Authorization": f"token {lab.token}"}, timeout=30
    )


def panel_sessions(lab: LabSession) -> list[dict[str, Any]]:
    """The lab's sessions that belong to the de.NBI panel (its type and hidden path)."""
    with api(lab) as client:
        sessions = client.get("/api/sessions").raise_for_status().json()
    return [
        session
        for session in sessions
        if session["type"] == SESSION_TYPE and session["path"].startswith(".denbi-cloud-panel-")
    ]


def expect_panel_rendered(page: Any) -> Any:
    """The sidebar's kernel is idle and it shows the CloudPanel; returns the panel."""
    sidebar = page.locator(SIDEBAR)
    expect(sidebar).to_be_visible()
    cloud = sidebar.locator(".denbi-cloud-output .denbi-cloud-panel").first
    expect(cloud).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(cloud.locator(".denbi-image-row").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(sidebar.locator(".denbi-kernel-status")).to_have_attribute("data-state", "idle")
    expect(sidebar.locator(".denbi-kernel-error")).to_be_hidden()
    return cloud


def open_launcher(page: Any) -> Any:
    """The Launcher in the main area (a new one through the dock's "+" when none is shown)."""
    launcher = page.locator("#jp-main-dock-panel .jp-Launcher:visible")
    if launcher.count() == 0:
        page.locator("#jp-main-dock-panel .lm-TabBar-addButton:visible").first.click()
    expect(launcher).to_have_count(1)
    return launcher


def test_the_launcher_tile_opens_the_panel_on_the_left(story: Story) -> None:
    page, lab = story
    page.goto(f"{lab.url}/lab?token={lab.token}")
    # An empty folder and no workspace: the lab opens on the Launcher.
    launcher = page.locator("#jp-main-dock-panel .jp-Launcher")
    expect(launcher).to_be_visible(timeout=60_000)
    section = launcher.locator(".jp-Launcher-section").filter(
        has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile(r"^de\.NBI Cloud$"))
    )
    expect(section).to_have_count(1)
    cards = section.locator(".jp-LauncherCard-label")
    expect(cards).to_have_text(["de.NBI Cloud", "Prefect UI", "de.NBI notebook"])
    section.locator(".jp-LauncherCard", has_text="de.NBI Cloud").first.click()
    # In the left area, not in the main dock: the element is a child of the left stack.
    expect(page.locator(SIDEBAR)).to_be_visible()
    expect(page.locator("#jp-main-dock-panel #denbi-cloud-panel")).to_have_count(0)
    cloud = expect_panel_rendered(page)
    expect(cloud).to_contain_text("project denbi-demo")
    site_picker = cloud.locator(".widget-dropdown", has_text="Site").locator("select").first
    expect(site_picker.locator("option")).to_have_text(["bielefeld", "heidelberg"])
    expect(site_picker).to_have_value("bielefeld")
    # The header wraps into the narrow sidebar: the picker is inside it, not scrolled away.
    picker_box = site_picker.bounding_box()
    sidebar_box = page.locator(SIDEBAR).bounding_box()
    assert picker_box is not None and sidebar_box is not None
    assert picker_box["x"] + picker_box["width"] <= sidebar_box["x"] + sidebar_box["width"]
    shot(page, 1, "launcher-opens-panel")


def test_filtering_and_booting_from_the_panel(extension_page: Any) -> None:
    page = extension_page
    # The left area opens ~250 px wide: the CloudPanel wraps into it (the image details would
    # go below the list). A user drags the split handle to the right to see the list, the
    # details and the boot form side by side.
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)")
    box = handle.first.bounding_box()
    assert box is not None
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, middle)
    page.mouse.down()
    page.mouse.move(SIDEBAR_WIDTH, middle, steps=8)
    page.mouse.up()
    sidebar = page.locator(SIDEBAR)
    page.wait_for_function(
        "width => document.getElementById('denbi-cloud-panel').offsetWidth > width",
        arg=SIDEBAR_WIDTH - 100,
    )
    cloud = sidebar.locator(".denbi-cloud-panel").first
    images = cloud.locator(".denbi-image-panel").first
    rows = images.locator(".denbi-image-row")
    expect(rows).to_have_count(17)
    images.get_by_placeholder("Search images by name…").fill("X2Go")
    expect(rows).to_have_count(4)
    assert all("x2go" in name.lower() for name in rows.locator("b").all_inner_texts())
    row = rows.filter(has=page.locator("b", has_text=re.compile(r"^X2Go_xfce$")))
    row.get_by_role("button").click()
    expect(images).to_contain_text("Available on sites:")
    images.get_by_placeholder("e.g. rnaseq-vm-1").fill(VM_NAME)
    images.get_by_role("button", name="Boot VM").click()
    card = images.locator(".denbi-job-card").first
    expect(card).to_contain_text(f"Boot {VM_NAME} from X2Go_xfce")
    expect(card.locator(".denbi-badge", has_text="done")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    connection = images.locator(".denbi-connection-card").first
    expect(connection.locator("textarea").first).to_have_value(re.compile(r"^ssh -p \d+ ubuntu@"))
    ssh = connection.locator(".denbi-way-in", has_text="SSH").first  # booted without a key
    expect(ssh).to_contain_text(re.compile(r"port \d+ reachable"), timeout=JOB_TIMEOUT_MS)
    # At this width nothing needs sideways scrolling: the panel fits the sidebar.
    output = sidebar.locator(".denbi-cloud-output")
    assert output.evaluate("node => node.scrollWidth <= node.clientWidth + 1")
    connection.scroll_into_view_if_needed()
    shot(page, 2, "boot-connection-card")


def test_a_reload_restores_the_panel_with_a_fresh_kernel(story: Story) -> None:
    page, lab = story
    (before,) = panel_sessions(lab)
    page.reload()
    cloud = expect_panel_rendered(page)
    expect(cloud).to_contain_text("project denbi-demo")
    status = page.locator(f"{SIDEBAR} .denbi-kernel-status")
    expect(status).not_to_have_attribute("title", re.compile(before["kernel"]["id"]))
    # The old kernel is shut down (on page hide, or by the new page): one panel session left.
    page.wait_for_function(
        """async () => {
            const sessions = await (await fetch('/api/sessions')).json();
            return sessions.filter(s => s.type === 'denbi-cloud').length === 1;
        }"""
    )
    (after,) = panel_sessions(lab)
    assert after["kernel"]["id"] != before["kernel"]["id"]
    shot(page, 3, "reload-restores-panel")


def test_the_palette_reopens_the_collapsed_panel(extension_page: Any) -> None:
    page = extension_page
    tab = page.locator(".jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id='denbi-cloud-panel']")
    expect(tab).to_have_class(re.compile(r"lm-mod-current"))
    tab.click()  # clicking the current tab collapses the left area
    expect(page.locator(SIDEBAR)).to_be_hidden()
    # Focus the main area (its Launcher tab), as a user would before a shortcut.
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Launcher").first.click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette")
    expect(palette).to_be_visible()
    palette.locator("input").fill("Open the de.NBI Cloud Panel")
    expect(palette.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text(
        "Open the de.NBI Cloud Panel"
    )
    page.keyboard.press("Enter")
    expect(palette).to_be_hidden()
    expect_panel_rendered(page)
    expect(tab).to_have_class(re.compile(r"lm-mod-current"))
    shot(page, 4, "palette-reopens-panel")


def test_a_killed_kernel_shows_dead_and_restart_recovers(story: Story) -> None:
    page, lab = story
    (session,) = panel_sessions(lab)
    with api(lab) as client:
        client.delete(f"/api/kernels/{session['kernel']['id']}").raise_for_status()
    sidebar = page.locator(SIDEBAR)
    status = sidebar.locator(".denbi-kernel-status")
    expect(status).to_have_attribute("data-state", re.compile(r"^(dead|disconnected)$"))
    error = sidebar.locator(".denbi-kernel-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("The de.NBI Cloud kernel stopped")
    expect(error).to_contain_text("Press Restart")
    expect(sidebar.locator(".denbi-cloud-output .denbi-cloud-panel")).to_have_count(0)
    shot(page, 5, "killed-kernel-dead")
    sidebar.locator(".denbi-kernel-restart").click()
    expect_panel_rendered(page)
    shot(page, 5, "restart-recovers")


def test_the_prefect_ui_lists_the_boot_run(story: Story) -> None:
    page, lab = story
    launcher = open_launcher(page)
    tile = launcher.locator(".jp-LauncherCard", has_text="Prefect UI")
    with page.context.expect_page() as new_tab:
        tile.click()
    prefect = new_tab.value
    prefect.wait_for_load_state()
    assert prefect.url.startswith(f"{lab.url}/denbi-jupyter/prefect/")
    expect(prefect.get_by_role("link", name="Runs")).to_be_visible(timeout=60_000)
    prefect.get_by_role("link", name="Runs").click()
    expect(prefect).to_have_url(re.compile(r"/denbi-jupyter/prefect/(v2/)?runs"))
    run = prefect.get_by_role("link", name=f"boot-{VM_NAME}")
    expect(run).to_be_visible(timeout=60_000)
    expect(prefect.get_by_role("link", name=BOOT_FLOW)).to_be_visible()
    expect(prefect.get_by_text("Completed", exact=True)).to_be_visible()
    expect(prefect.get_by_text("Can't connect to Server API")).to_have_count(0)
    prefect.screenshot(
        path=str(SCREENSHOTS / "extension-06-prefect-ui-runs.png"), animations="disabled"
    )
    with api(lab) as client:
        answer = client.post(
            "/denbi-jupyter/prefect/api/flow_runs/filter",
            json={"flows": {"name": {"any_": [BOOT_FLOW]}}},
        )
    runs = answer.raise_for_status().json()
    assert [(run["name"], run["state_type"]) for run in runs] == [(f"boot-{VM_NAME}", "COMPLETED")]
    prefect.close()
