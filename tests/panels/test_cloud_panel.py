"""CloudPanel: one site picker for four tabs; the side panel; the public names."""

from __future__ import annotations

import ipywidgets as w

import denbi_jupyter
import denbi_jupyter.panels as panels
from denbi_jupyter.panels import CloudPanel, Shared, SiteClients, open_sidebar
from denbi_jupyter.panels.cloud_panel import TAB_TITLES
from tests.panels._support import loaded, page_of
from tests.panels.conftest import RecordingProbe, seeded_cloud
from tests.support.fake_cloud import FakeCloud


def two_sites() -> tuple[Shared, FakeCloud, FakeCloud]:
    here, there = seeded_cloud(), FakeCloud(project_name="far-project")
    there.add_image("Only-There", tags=["base_image"])
    clouds = {"bielefeld": here, "heidelberg": there}
    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), debounce_s=0, warm_up=False)
    return shared, here, there


def test_tabs_hold_the_four_panels_and_the_activity_log() -> None:
    shared, _, _ = two_sites()
    panel = CloudPanel(shared=shared, probe=RecordingProbe())
    assert panel.wait_idle()
    assert [panel.tabs.get_title(i) for i in range(5)] == [
        "Images",
        "Servers",
        "Snapshots",
        "Connect",
        "Activity",
    ]
    assert len(panel.tabs.children) == len(TAB_TITLES) == 5
    assert panel.tabs.children[:4] == (
        panel.images,
        panel.servers,
        panel.snapshots,
        panel.connection,
    )
    assert panel.servers._site_picker.layout.display == "none"
    assert "project my-project" in panel._header.value
    assert panel.images._site_picker.layout.display == "none"  # one picker, at the top


def test_picking_a_site_switches_every_tab() -> None:
    shared, _, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    panel._site_picker.value = "heidelberg"
    assert panel.wait_idle()
    assert [i.name for i in panel.images.images] == ["Only-There"]
    assert page_of(panel.snapshots).items == ()
    assert panel.connection.servers == [] and panel.servers.servers == []
    assert "No VMs in this project on heidelberg" in panel.servers._empty.value
    assert "project far-project" in panel._header.value
    tabs = (panel.images, panel.servers, panel.snapshots, panel.connection)
    assert {tab.site for tab in tabs} == {"heidelberg"}


def test_open_sidebar_puts_the_panel_into_a_sidecar() -> None:
    shared, _, _ = two_sites()
    panel = CloudPanel(shared=shared, probe=RecordingProbe())
    sidebar = open_sidebar(panel, title="Cloud")
    assert sidebar.title == "Cloud" and sidebar.anchor == "split-right"
    data = sidebar.outputs[0]["data"]
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.model_id
    assert isinstance(panel, w.VBox)


def test_panels_are_exported_from_the_package() -> None:
    assert panels.__all__ == sorted(panels.__all__)
    assert "ServersPanel" in panels.__all__
    for name in ("CloudPanel", "ConnectionPanel", "ImagePanel", "SnapshotPanel", "open_sidebar"):
        assert getattr(denbi_jupyter, name) is getattr(panels, name)


def test_a_booted_vm_is_selected_in_the_connect_tab_even_before_the_list_knows_it() -> None:
    shared, here, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    vm = here.add_server("fresh-vm", private_ipv4="192.168.1.77")
    panel._on_booted("bielefeld", vm.id)  # what ImagePanel.on_booted reports
    assert panel.wait_idle()
    assert panel.connection._server_select.value == vm.id
    assert "ssh -p 30333" in panel.connection.card._ssh_command.value
    assert any(s.id == vm.id for s in panel.snapshots.servers)
    assert any(s.id == vm.id for s in panel.servers.servers)  # the Servers tab lists it too
    assert not [line for line in shared.log.lines if line.startswith("ERROR")]


def test_a_boot_finishing_on_a_site_left_behind_keeps_every_tab_on_the_picked_site() -> None:
    shared, here, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    vm = here.add_server("booted-late", status="ACTIVE")
    panel._site_picker.value = "heidelberg"
    assert panel.wait_idle()
    panel._on_booted("bielefeld", vm.id)  # the boot started on bielefeld ends now
    assert panel.wait_idle()
    tabs = (panel.images, panel.servers, panel.snapshots, panel.connection)
    assert {tab.site for tab in tabs} == {"heidelberg"}
    assert all(s.id != vm.id for s in panel.servers.servers)
    assert panel.connection.server_id != vm.id and panel.connection.servers == []
    assert any(vm.id in line and "bielefeld" in line for line in shared.log.lines)


def test_a_servers_rows_connect_button_opens_the_connect_tab_with_that_vm() -> None:
    shared, here, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    vm = here.add_server("desk-vm", private_ipv4="192.168.1.42")
    panel.tabs.selected_index = TAB_TITLES.index("Servers")  # picking the tab lists it
    assert panel.wait_idle()
    row = next(r for r in panel.servers._rows.rows if r.server_id == vm.id)
    row.connect.click()
    assert panel.wait_idle()
    assert panel.tabs.get_title(panel.tabs.selected_index) == "Connect"
    assert panel.connection._server_select.value == vm.id
    assert "ssh -p 30298" in panel.connection.card._ssh_command.value


def test_each_tab_is_refreshed_by_title_when_picked() -> None:
    shared, here, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    vm = here.add_server("made-elsewhere")
    for title in ("Snapshots", "Connect", "Servers"):
        panel.tabs.selected_index = TAB_TITLES.index(title)
        assert panel.wait_idle()
        assert panel.tab == TAB_TITLES.index(title)
    assert any(s.id == vm.id for s in panel.servers.servers)
    assert any(s.id == vm.id for s in panel.snapshots.servers)
    assert any(s.id == vm.id for s in panel.connection.servers)


def test_closing_the_cloud_panel_closes_the_servers_tab() -> None:
    shared, _, _ = two_sites()
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    panel.close()
    assert panel.servers.closed and panel.images.closed
    shared.close()


def test_a_key_pair_added_in_the_connect_tab_is_offered_and_picked_by_the_boot_forms() -> None:
    """The walkthrough's gap: generate a key in Connect, the boot form still said "none"."""
    from tests.panels.test_keypairs import public_line

    shared, here, _there = two_sites()
    here.import_keypair("old-laptop", public_line())
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    assert panel.wait_idle()
    assert panel.images.key_name == "old-laptop"
    keys = panel.connection.key_pairs
    keys._import_name.value = "new-laptop"
    keys._public.value = public_line()
    keys._import.click()
    assert panel.wait_idle()
    for form in (panel.images, panel.snapshots.relaunch):
        assert {k.name for k in form.keypairs} == {"old-laptop", "new-laptop"}
        assert form.key_name == "new-laptop"
    here.delete_keypair("new-laptop")
    keys.reload()
    assert panel.wait_idle()
    assert panel.images.key_name == "" and [k.name for k in panel.images.keypairs] == ["old-laptop"]


def test_the_activity_tab_shows_the_log_unfolded() -> None:
    shared, _here, _there = two_sites()
    panel = CloudPanel(shared=shared, probe=RecordingProbe())
    assert shared.log.expanded
    assert panel.tabs.children[TAB_TITLES.index("Activity")].children[1] is shared.log
    panel.close()
