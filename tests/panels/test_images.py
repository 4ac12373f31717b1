"""The image panel: catalog, search, filters, details, availability, boot form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.connect.key_registry import STATE_DIR_ENV, KeyRegistry
from denbi_jupyter.errors import CloudUnavailableError
from denbi_jupyter.panels import ImagePanel, Shared, SiteClients, SnapshotPanel
from tests.panels._support import loaded, texts, wait_until
from tests.panels.conftest import RecordingProbe, seeded_cloud
from tests.panels.test_keypairs import public_line
from tests.support.fake_cloud import FakeCloud


def names(panel: ImagePanel) -> list[str]:
    return sorted(image.name for image in panel.images)


def test_catalog_loads_in_the_background_and_lists_every_image(shared: Shared) -> None:
    panel = ImagePanel(shared)
    assert panel.wait_idle()
    assert len(panel.images) == 6
    assert "6 of 6" in panel._count.value
    assert len(panel._rows.children) == 6


def test_the_projects_private_uploads_join_the_catalog_and_snapshots_stay_out(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_image("my-upload", visibility="private")
    fake.add_image("their-private", visibility="private", owner="p-other")
    panel = loaded(ImagePanel(shared))
    assert "my-upload" in names(panel)
    assert "their-private" not in names(panel)
    assert not {"analysis-snap", "theirs-snap"} & set(names(panel))
    assert "7 of 7" in panel._count.value
    calls = len(fake.calls)
    panel._reload.click()  # reload walks the private images again
    assert panel.wait_idle()
    assert len(fake.calls) > calls and "my-upload" in names(panel)


def test_the_desktop_filter_offers_each_x2go_session(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))
    assert ("   X2Go · MATE", "x2go:MATE") in panel._desktop.options


@pytest.mark.parametrize(
    ("widget", "value", "shown"),
    [
        pytest.param("_search", "x2go", ["X2Go_mate", "X2Go_xfce"], id="search-by-name"),
        pytest.param("_desktop", "x2go:MATE", ["X2Go_mate"], id="x2go-session-only-that-desktop"),
    ],
)
def test_a_filter_narrows_the_list(
    shared: Shared, widget: str, value: str, shown: list[str]
) -> None:
    panel = loaded(ImagePanel(shared))
    getattr(panel, widget).value = value
    assert panel.wait_idle()
    assert names(panel) == shown


def test_plain_os_filter_shows_base_images_and_os_filter_narrows_them(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))
    panel.desktop = "plain"
    panel.wait_idle()
    assert names(panel) == ["Debian-12 de.NBI", "Ubuntu-22.04 de.NBI"]
    panel._os.value = "debian"
    panel.wait_idle()
    assert names(panel) == ["Debian-12 de.NBI"]


def test_no_match_shows_an_empty_state_naming_the_search(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))
    panel.search = "nothing-like-this"
    panel.wait_idle()
    assert panel.images == []
    assert "No images match &#x27;nothing-like-this&#x27;" in panel._empty.value
    panel._clear.click()
    panel.wait_idle()
    assert len(panel.images) == 6 and panel._empty.value == ""


def test_filter_changes_are_answered_from_the_catalog_without_a_request(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ImagePanel(shared))
    before = len(fake.calls)
    for text in ("g", "gu", "gua", "guac"):
        panel._search.value = text
    assert names(panel) == ["Guacamole-ubuntu22.04 de.NBI"]  # at once: no background call
    panel._search.value = ""
    panel._desktop.value = "plain"
    panel._os.value = "ubuntu"
    assert names(panel) == ["Ubuntu-22.04 de.NBI"]
    panel._clear.click()
    assert panel.wait_idle()
    assert len(panel.images) == 6
    assert fake.calls[before:] == []


def test_selecting_an_image_shows_details_and_sites_offering_it() -> None:
    here, there = seeded_cloud(), FakeCloud()
    there.add_image("X2Go_xfce", tags=["x2go"])
    clouds = {"bielefeld": here, "heidelberg": there}
    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), debounce_s=0, warm_up=False)
    panel = loaded(ImagePanel(shared))
    selected: list[str] = []
    panel.on_select(lambda image: selected.append(image.name))
    for name in ("X2Go_xfce", "RStudio-ubuntu22.04 de.NBI"):
        image = next(i for i in panel.images if i.name == name)
        panel.select(image.id)
        panel.wait_idle()
        details = texts(panel._details)
        assert name in details
        if name == "X2Go_xfce":
            assert panel.availability == {"bielefeld": True, "heidelberg": True}
            assert "X2Go XFCE" in details
        else:
            assert panel.availability == {"bielefeld": True, "heidelberg": False}
            assert "✗ heidelberg" in panel._availability.value
    assert selected == ["X2Go_xfce", "RStudio-ubuntu22.04 de.NBI"]
    assert panel._boot_name.value == "rstudio-ubuntu22-04-de-nbi-vm"  # follows the image


def test_a_failed_load_shows_the_error_and_keeps_the_filters(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ImagePanel(shared))
    panel._search.value = "x2go"
    fake.fail_next("list_images", CloudUnavailableError("Glance on fake answered 503: try later."))
    panel.load_site()
    panel.wait_idle()
    assert "Glance on fake answered 503" in panel._error_box.value
    assert panel.search == "x2go" and panel._search.value == "x2go"
    panel.load_site()
    panel.wait_idle()
    assert panel._error_box.value == ""
    assert names(panel) == ["X2Go_mate", "X2Go_xfce"]


def test_boot_form_says_what_is_missing_before_starting_anything(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))
    panel.select(panel.images[0].id)
    panel._boot_name.value = "x" * 256
    panel._boot_button.click()
    assert "at most 255 fit" in panel._boot_note.value
    panel._boot_name.value = "  "
    panel._boot_button.click()
    assert "The server name is empty" in panel._boot_note.value
    panel._boot_name.value = "my analysis vm"
    assert "hostname keeps only letters, digits and" in panel._boot_note.value
    assert panel.jobs.cards == ()
    assert panel._boot_flavor.options[0][0].startswith("de.NBI mini · 1 vCPU · 2 GB RAM")


def test_a_failing_handler_is_shown_not_swallowed(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))

    def broken(_image: object) -> None:
        raise RuntimeError("listener bug")

    panel.on_select(broken)
    panel._rows.children[0].children[1].click()  # the row's Select button
    panel.wait_idle()
    assert "Unexpected RuntimeError: listener bug" in panel._error_box.value
    assert any("RuntimeError: listener bug" in line for line in panel.log.lines)
    assert panel.selected_image is not None  # the selection itself went through
    panel.on_select(broken, remove=True)


# --- the boot form: suggested names, key pairs, one boot per name ------------------------------
@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


def image_id(panel: ImagePanel, name: str) -> str:
    return str(next(i.id for i in panel.catalog if i.name == name))


def with_keys(fake: FakeCloud, *names: str) -> FakeCloud:
    for name in names:
        fake.import_keypair(name, public_line(name))
    return fake


def test_the_suggested_name_follows_the_image_and_a_typed_name_stays(shared: Shared) -> None:
    panel = loaded(ImagePanel(shared))
    panel.select(image_id(panel, "X2Go_xfce"))
    assert panel._boot_name.value == "x2go-xfce-vm"
    panel.select(image_id(panel, "Debian-12 de.NBI"))
    assert panel._boot_name.value == "debian-12-de-nbi-vm"  # not the previous image's name
    panel._boot_name.set_state({"value": "my-analysis"})  # the user types
    panel.select(image_id(panel, "X2Go_mate"))
    assert panel._boot_name.value == "my-analysis" == panel.boot_name


def test_a_name_typed_while_a_late_suggestion_was_on_its_way_wins_on_screen(
    shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(ImagePanel(shared))
    panel.select(image_id(panel, "X2Go_xfce"))
    panel._boot_name.set_state({"value": ""})  # the user clears the field to type a name
    sent: list[str] = []
    field = panel._boot_name
    original = field.send_state

    def send_state(key: object = None) -> None:
        if key is None or "value" in (key if isinstance(key, list | tuple) else [key]):
            sent.append(field.value)
        original(key)

    monkeypatch.setattr(field, "send_state", send_state)
    # The kernel is busy: the click on another image and the typing wait in its queue, in order.
    panel.select(image_id(panel, "X2Go_mate"))  # its suggestion goes out, over the typing
    field.set_state({"value": "my-desk"})  # the typed name arrives after it
    assert panel.boot_name == "my-desk"
    assert sent[-1] == "my-desk"  # the browser is told the typed name, not left on the suggestion


def test_the_key_last_booted_with_on_the_site_is_preselected(fake: FakeCloud) -> None:
    with_keys(fake, "alpha", "beta", "gamma")
    fake.add_server("newest", key_name="beta")
    KeyRegistry().remember_boot_key("fake", "gamma")
    panel = loaded(ImagePanel(Shared(SiteClients(fake), debounce_s=0, warm_up=False)))
    assert panel.key_name == "gamma" and panel._boot_key.value == "gamma"
    assert not [c for c in fake.calls if c[0] == "list_servers"]  # not needed to choose


def test_else_the_key_of_the_newest_vm_is_preselected(fake: FakeCloud) -> None:
    with_keys(fake, "alpha", "beta", "gamma")
    fake.add_server("older", key_name="gamma")
    fake.add_server("newest", key_name="beta")
    KeyRegistry().remember_boot_key("fake", "deleted-since")
    panel = loaded(ImagePanel(Shared(SiteClients(fake), debounce_s=0, warm_up=False)))
    assert panel.key_name == "beta"


def test_else_the_first_key_and_none_stays_possible(fake: FakeCloud) -> None:
    with_keys(fake, "beta", "alpha")
    panel = loaded(ImagePanel(Shared(SiteClients(fake), debounce_s=0, warm_up=False)))
    assert panel.key_name == "alpha"
    assert panel._boot_key.options[0] == ("none (add your key to the VM later)", "")
    panel._boot_key.value = ""
    panel.load_site(reload=True)
    panel.wait_idle()
    assert panel.key_name == "" and panel._boot_key.value == ""


def test_after_a_boot_the_card_names_the_key_and_already_booting_clears(
    fake: FakeCloud, job_runner: Any, probe: RecordingProbe, tmp_path: Path
) -> None:
    with_keys(fake, "alpha", "laptop")
    key = tmp_path / "id_laptop"
    key.write_text("a key file\n")
    KeyRegistry().remember_key("fake", "laptop", key)
    shared = Shared(SiteClients(fake), runner=job_runner, debounce_s=0.0, warm_up=False)
    panel = loaded(ImagePanel(shared, probe=probe))
    panel.select(image_id(panel, "X2Go_xfce"))
    panel._boot_name.value = "desk-2"
    panel._boot_key.value = "laptop"
    panel._boot_button.click()
    panel._boot_button.click()  # again, while it boots
    assert "already booting" in panel._boot_note.value
    wait_until(lambda: panel._connections.children, what="the connection card")
    wait_until(lambda: "already booting" not in panel._boot_note.value, what="the note to go")
    card = panel._connections.children[0]
    assert card.key_path == str(key)
    card.wait_idle()
    assert f"IdentityFile {key}\n" in card._ssh_config.value
    assert KeyRegistry().last_boot_key("fake") == "laptop"
    assert panel._boot_name.value == "desk-2"  # kept until another image is chosen
    panel.select(image_id(panel, "Debian-12 de.NBI"))
    assert panel._boot_name.value == "debian-12-de-nbi-vm"  # not the booted VM's name
    again = loaded(ImagePanel(Shared(SiteClients(fake), debounce_s=0, warm_up=False)))
    assert again.key_name == "laptop"  # remembered for the next boot on this site


def open_relaunch(fake: FakeCloud) -> SnapshotPanel:
    panel = loaded(SnapshotPanel(Shared(SiteClients(fake), debounce_s=0, warm_up=False)))
    panel.wait_idle()
    row = next(r for r in panel.table.rows if panel.table.name_of(r.snapshot_id) == "analysis-snap")
    row.launch.click()
    return panel


def test_the_relaunch_form_preselects_the_key_last_booted_with(fake: FakeCloud) -> None:
    with_keys(fake, "alpha", "beta")
    KeyRegistry().remember_boot_key("fake", "beta")
    panel = open_relaunch(fake)
    assert panel.relaunch.key_name == "beta" and panel.relaunch._key_pick.value == "beta"


def test_the_relaunch_form_else_preselects_the_newest_vms_key_and_offers_none(
    fake: FakeCloud,
) -> None:
    with_keys(fake, "alpha", "beta")
    fake.add_server("newest", key_name="beta")
    panel = open_relaunch(fake)
    assert panel.relaunch.key_name == "beta"
    assert ("none", "") in panel.relaunch._key_pick.options
    panel.relaunch._key_pick.value = ""
    panel.reload_servers()
    panel.wait_idle()
    assert panel.relaunch.key_name == ""  # a reload keeps the user's "none"
