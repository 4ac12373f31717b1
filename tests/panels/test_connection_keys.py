"""The Connect tab's keys: converter writes the .pub and imports it, the card names the key."""

from __future__ import annotations

import html
import shutil
import stat
from pathlib import Path

import pytest

from denbi_jupyter.cloud._keypairs import sha256_fingerprint
from denbi_jupyter.connect.key_registry import STATE_DIR_ENV, KeyRegistry
from denbi_jupyter.panels import ConnectionPanel, Shared
from tests.panels._support import loaded, shown
from tests.panels.conftest import RecordingProbe
from tests.panels.test_connection import make_ppk, upload
from tests.support.fake_cloud import FakeCloud

needs_puttygen = pytest.mark.skipif(
    shutil.which("puttygen") is None, reason="puttygen (putty-tools) is not installed"
)


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


def key_box(panel: ConnectionPanel) -> str:
    return html.unescape(panel._key_box.value)


def converted_panel(shared: Shared, folder: Path, save_as: str = "laptop") -> ConnectionPanel:
    keys = folder / "keys"
    keys.mkdir(exist_ok=True)
    panel = loaded(ConnectionPanel(shared, key_dir=keys, probe=RecordingProbe()))
    upload(panel, "laptop.ppk", make_ppk(folder, None))
    panel._save_as.value = save_as
    panel._convert.click()
    panel.wait_idle()
    return panel


def test_the_ppk_upload_has_a_real_tooltip(shared: Shared, tmp_path: Path) -> None:
    panel = ConnectionPanel(shared, key_dir=tmp_path, probe=RecordingProbe())
    assert panel._upload.get_state()["tooltip"] == panel._upload.tooltip
    assert ".ppk" in panel._upload.tooltip


@needs_puttygen
def test_convert_writes_the_pub_and_imports_it_in_one_click(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    panel = converted_panel(shared, tmp_path)
    private, public = tmp_path / "keys" / "laptop", tmp_path / "keys" / "laptop.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text().startswith("ssh-ed25519 ")
    assert str(public) in key_box(panel)
    assert shown(panel._import_row)
    assert panel._import.description == "Import as key pair on fake"
    assert panel._import_name.value == "laptop"  # prefilled from the file name
    panel._import.click()
    panel.wait_idle()
    assert fake.keypairs["laptop"].sha256_fingerprint == sha256_fingerprint(public.read_text())
    assert "Imported key pair 'laptop' on fake" in key_box(panel)
    assert not shown(panel._import_row)  # imported: nothing more to offer
    assert KeyRegistry().private_key("fake", "laptop") == private
    assert "laptop" in [k.name for k in panel.key_pairs.keypairs]  # the list follows


@needs_puttygen
def test_importing_under_a_taken_name_says_so(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    panel = converted_panel(shared, tmp_path)
    panel.key_pairs._import_name.value = "laptop"
    panel.key_pairs._public.value = (tmp_path / "keys" / "laptop.pub").read_text()
    panel.key_pairs._import.click()
    panel.wait_idle()
    panel._import.click()
    panel.wait_idle()
    assert "fake already has a key pair 'laptop'" in key_box(panel)
    assert shown(panel._import_row)  # still offered: give it another name
    assert KeyRegistry().private_key("fake", "laptop") is None


@needs_puttygen
def test_allow_overwriting_replaces_an_existing_key_file(shared: Shared, tmp_path: Path) -> None:
    panel = converted_panel(shared, tmp_path)
    first = (tmp_path / "keys" / "laptop.pub").read_text()
    upload(panel, "laptop.ppk", make_ppk(tmp_path, None))
    panel._save_as.value = "laptop"
    panel._convert.click()
    panel.wait_idle()
    assert "already exists; choose another file name or allow overwriting" in key_box(panel)
    assert (tmp_path / "keys" / "laptop.pub").read_text() == first
    panel._overwrite.value = True
    panel._convert.click()
    panel.wait_idle()
    assert "Saved" in key_box(panel)
    assert (tmp_path / "keys" / "laptop.pub").read_text() != first
    assert panel._overwrite.value is False


def test_the_card_names_the_private_key_remembered_for_the_vms_key_pair(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    key = tmp_path / "id_laptop"
    key.write_text("a key file\n")
    KeyRegistry().remember_key("fake", "laptop", key)
    x2go = next(i for i in fake.images.values() if i.name == "X2Go_xfce")
    vm = fake.add_server("desk", image_id=x2go.id, key_name="laptop", private_ipv4="192.168.1.30")
    fake.add_server("other", key_name="unknown", private_ipv4="192.168.1.31")
    panel = loaded(ConnectionPanel(shared, key_dir=tmp_path, probe=RecordingProbe()))
    panel._server_select.value = vm.id
    panel.wait_idle()
    assert panel.card.key_path == str(key)
    assert f"IdentityFile {key}\n" in panel.card._ssh_config.value
    assert panel.card.details.x2go_session is not None
    assert f"key={key}" in panel.card.details.x2go_session
    other = next(s for s in fake.servers.values() if s.name == "other")
    panel._server_select.value = other.id
    panel.wait_idle()
    assert panel.card.key_path is None and "IdentityFile" not in panel.card._ssh_config.value


def test_the_card_shows_a_generated_key_at_once(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    vm = fake.add_server("desk", key_name="fresh", private_ipv4="192.168.1.30")
    panel = loaded(ConnectionPanel(shared, key_dir=tmp_path, probe=RecordingProbe()))
    panel._server_select.value = vm.id
    panel.wait_idle()
    assert panel.card.key_path is None
    panel.key_pairs._gen_name.value = "fresh"
    panel.key_pairs._gen_file.value = "id_fresh"
    panel.key_pairs._generate.click()
    panel.wait_idle()
    assert panel.card.key_path == str(tmp_path / "id_fresh")
    assert f"IdentityFile {tmp_path / 'id_fresh'}\n" in panel.card._ssh_config.value
