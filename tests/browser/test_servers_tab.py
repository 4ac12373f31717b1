"""The Servers tab in a real JupyterLab: see a VM, stop it, watch it reach SHUTOFF; then the
same tab at the width of JupyterLab's side area, where rows must wrap and nothing be cut off.

Every wait is on a page condition (Playwright's ``expect``), never a fixed sleep. Screenshots go
to ``/tmp/shots/`` and ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.lab import LabSession
from tests.browser.conftest import SCREENSHOTS, needs_chromium
from tests.panels._support import wait_until

pytestmark = [pytest.mark.browser, needs_chromium, pytest.mark.timeout(300)]

JOB_TIMEOUT_MS = 120_000
SITE = "bielefeld"
VM = "servers-tab-vm"
#: JupyterLab's side area is ~350-420 px wide.
SIDE_WIDTH = 380


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(locator)


def save(element: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")


@pytest.fixture(scope="module")
def client(lab: LabSession) -> Iterator[CloudClient]:
    """The lab's bielefeld site, as the test's own client (to seed and to check)."""
    assert lab.clouds_yaml is not None
    site = open_site(SITE, config_file=lab.clouds_yaml)
    yield site
    getattr(site, "close", lambda: None)()  # the protocol has no close; the real client does


@pytest.fixture(scope="module")
def vm(client: CloudClient) -> str:
    """An ACTIVE X2Go VM booted before the panel opens (the Servers tab must list it)."""
    image = client.find_image("X2Go_xfce")
    flavor = min(client.list_flavors(), key=lambda f: f.ram_mb)
    server = client.create_server(name=VM, image_id=image.id, flavor_id=flavor.id, key_name=None)
    wait_until(
        lambda: (client.get_server(server.id) or server).status == "ACTIVE", 120, "VM ACTIVE"
    )
    return server.id


def test_the_servers_tab_lists_the_vm_and_stops_it(
    page: Any, lab: LabSession, vm: str, client: CloudClient
) -> None:
    page.goto(lab.notebook_url())
    expect(page.locator(".jp-StatusBar-TextItem", has_text="ipykernel) | Idle")).to_be_visible()
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    panel = page.locator(".denbi-cloud-panel").first
    expect(panel).to_contain_text(f"site {SITE}")
    titles = panel.locator(".lm-TabBar-tab")
    expect(titles).to_have_text(["Images", "Servers", "Snapshots", "Connect", "Activity"])
    titles.filter(has_text="Servers").click()
    servers = page.locator(".denbi-servers-panel").first
    row = servers.locator(".denbi-server-row", has_text=VM)
    expect(row.locator(".denbi-badge", has_text=re.compile(r"^ACTIVE$"))).to_be_visible()
    expect(row.locator(".denbi-badge", has_text="X2Go XFCE")).to_be_visible()
    expect(row).to_contain_text(vm[:8])
    expect(row.get_by_role("button", name="Start")).to_be_disabled()
    row.get_by_role("button", name="Stop").click()
    card = servers.locator(".denbi-job-card", has_text=f"Stop {VM}").first
    expect(card.locator(".denbi-badge", has_text="done")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(card).to_contain_text(f"{VM} is SHUTOFF.")
    expect(row.locator(".denbi-badge", has_text=re.compile(r"^SHUTOFF$"))).to_be_visible()
    expect(row.get_by_role("button", name="Start")).to_be_enabled()
    expect(row.get_by_role("button", name="Stop")).to_be_disabled()
    assert (client.get_server(vm) or pytest.fail("the VM is gone")).status == "SHUTOFF"
    save(servers, "servers-tab-wide")


def test_at_side_area_width_rows_wrap_and_no_button_is_cut(page: Any) -> None:
    panel = page.locator(".denbi-cloud-panel").first
    panel.evaluate(f"node => {{ node.style.width = '{SIDE_WIDTH}px'; }}")
    servers = page.locator(".denbi-servers-panel").first
    row = servers.locator(".denbi-server-row", has_text=VM)
    row.get_by_role("button", name="Delete").click()
    confirm = servers.locator(".denbi-confirm")
    expect(confirm).to_contain_text(f"Delete VM {VM}")
    expect(confirm).to_contain_text("Its snapshots stay")
    overflow = servers.evaluate(
        """root => {
            const box = root.getBoundingClientRect();
            const out = [];
            for (const el of root.querySelectorAll('button, .denbi-server-row, .denbi-confirm')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0) continue;
                if (r.left < box.left - 1 || r.right > box.right + 1 ||
                    el.scrollWidth > el.clientWidth + 1) {
                    out.push((el.textContent || el.className).trim().slice(0, 40));
                }
            }
            return out;
        }"""
    )
    assert overflow == [], f"cut off or overflowing at {SIDE_WIDTH} px: {overflow}"
    assert servers.evaluate("root => root.scrollWidth <= root.clientWidth + 1")
    save(servers, "servers-tab")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
