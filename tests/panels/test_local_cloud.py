"""The panels against the real local cloud over loopback (openstacksdk, Keystone, Glance, Nova)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.panels import CloudPanel, Shared, SiteClients
from tests.panels._support import page_of, wait_until
from tests.panels.conftest import RecordingProbe

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def local_shared(local_cloud: LocalCloud, clouds_yaml: Path) -> Shared:
    sites = [site.name for site in local_cloud.config.sites]
    clients = SiteClients(lambda name: open_site(name, config_file=clouds_yaml), sites)
    return Shared(clients, debounce_s=0.0, warm_up=False)


def test_cloud_panel_shows_both_sites_of_the_local_cloud(local_shared: Shared) -> None:
    panel = CloudPanel(shared=local_shared, probe=RecordingProbe())
    assert panel.wait_idle(60)
    assert "project denbi-demo" in panel._header.value
    names = {image.name for image in panel.images.images}
    assert {"X2Go_xfce", "Guacamole-ubuntu22.04 de.NBI (2026-05-01)"} <= names
    assert "Ubuntu-20.04 de.NBI (2024-11-01)" not in names  # hidden by de.NBI
    own = {s.name for s in page_of(panel.snapshots).items}
    assert {"rnaseq-workbench-snap", "golden-analysis-snap"} <= own
    panel.images.search = "guacamole"
    panel.snapshots.text = "golden"
    panel._site_picker.value = "heidelberg"
    assert panel.wait_idle(60)
    assert panel.images.images and all("guacamole" in i.name.lower() for i in panel.images.images)
    assert [s.name for s in page_of(panel.snapshots).items] == ["golden-analysis-snap"]


def test_booting_from_the_panel_reaches_active_on_the_local_cloud(
    local_shared: Shared, job_runner: Any, local_env: Any
) -> None:
    shared = Shared(local_shared.clients, runner=job_runner, debounce_s=0.0, warm_up=False)
    panel = CloudPanel(shared=shared, probe=RecordingProbe())
    panel.wait_idle(60)
    image = next(i for i in panel.images.images if i.name == "Debian-12 de.NBI (2026-05-01)")
    panel.images.select(image.id)
    panel.images._boot_name.value = "panel-it-vm"
    panel.images._boot_button.click()
    wait_until(lambda: panel.images.jobs.cards, what="the job card")
    card = panel.images.jobs.cards[0]
    assert card.job.wait(120)
    assert card.state == "completed", card.job.error
    wait_until(lambda: panel.images._connections.children, what="the connection card")
    connection = panel.images._connections.children[0]
    connection.wait_idle(30)
    assert connection.target.server.status == "ACTIVE"
    assert connection._ssh_command.value.startswith("ssh -p 30")
    client = local_shared.clients.get("bielefeld")
    assert any(s.name == "panel-it-vm" and s.status == "ACTIVE" for s in client.list_servers())
    panel.wait_idle(30)
    assert panel.connection.server_id == connection.server_id


def test_a_glance_outage_shows_words_to_act_on_and_keeps_the_filter(
    local_shared: Shared, faults: Any
) -> None:
    panel = CloudPanel(shared=local_shared, probe=RecordingProbe())
    panel.wait_idle(60)
    faults({"kind": "error", "site": "bielefeld", "service": "image", "status": 503})
    panel.images._search.value = "rstudio"  # served from the catalog held: no request
    found = panel.images.images
    assert found and all("rstudio" in i.name.lower() for i in found)
    panel.images._reload.click()
    panel.wait_idle(60)
    message = panel.images.error
    assert message.startswith("bielefeld failed to list images (HTTP 503)"), message
    assert "Try again later" in message
    assert "Unexpected" not in message  # one of our errors, not a bug report
    assert panel.images._search.value == "rstudio"
    assert "denbi-error" in panel.images._error_box.value
