"""The connection card and panel: SSH, X2Go file, Guacamole link, live badge, PPK converter."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from denbi_jupyter.panels import ConnectionPanel, Shared, SiteClients
from tests.panels._support import loaded, texts, vm_id
from tests.panels.conftest import RecordingProbe, seeded_cloud
from tests.support.fake_cloud import FakeCloud

PUTTYGEN = shutil.which("puttygen")


def test_panel_lists_vms_and_switching_updates_the_card(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe, tmp_path: Path
) -> None:
    panel = loaded(ConnectionPanel(shared, key_dir=tmp_path, probe=probe))
    labels = [label for label, _ in panel._server_select.options]
    assert any(label.startswith("vm1") for label in labels)
    panel._server_select.value = vm_id(fake, "vm2")
    panel.wait_idle()
    assert "ssh -p 30267" in panel.card._ssh_command.value
    assert "vm2" in texts(panel.card)


def test_panel_without_vms_says_how_to_get_one(probe: RecordingProbe, tmp_path: Path) -> None:
    panel = loaded(ConnectionPanel(FakeCloud(), key_dir=tmp_path, probe=probe))
    assert "no VMs on fake yet: boot one in the Images tab" in panel._summary.value
    assert panel.log in panel.children  # a panel on its own brings its activity log


def make_ppk(folder: Path, passphrase: str | None) -> bytes:
    assert PUTTYGEN is not None
    key = folder / "in.ppk"
    args = [PUTTYGEN, "-t", "ed25519", "-o", str(key), "-O", "private", "-q"]
    if passphrase:
        secret = folder / "pass.txt"
        secret.write_text(passphrase)
        args += ["--new-passphrase", str(secret)]
    else:
        args += ["--new-passphrase", "/dev/null"]
    subprocess.run(args, check=True, capture_output=True)
    return key.read_bytes()


def upload(panel: ConnectionPanel, name: str, data: bytes) -> None:
    """What the browser sends when a file is chosen."""
    entry = {"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": 0}  # fmt: skip
    panel._upload.set_state({"value": [entry]})


@pytest.mark.skipif(PUTTYGEN is None, reason="puttygen (putty-tools) is not installed")
def test_ppk_upload_writes_an_openssh_key_with_mode_0600_and_never_shows_it(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    data = make_ppk(tmp_path, "s3cret pass")
    panel = loaded(ConnectionPanel(shared, key_dir=keys, probe=probe))
    upload(panel, "my laptop.ppk", data)
    assert panel._save_as.value == "my laptop_openssh"
    panel._passphrase.value = "wrong"
    panel._convert.click()
    panel.wait_idle()
    assert "passphrase does not open this key" in panel._key_box.value
    assert panel._upload.value  # nothing lost: try again with the right passphrase
    panel._passphrase.value = "s3cret pass"
    panel._convert.click()
    panel.wait_idle()
    written = keys / "my laptop_openssh"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert written.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert str(written) in panel._key_box.value and "mode 0600" in panel._key_box.value
    assert panel._upload.value == () and panel._passphrase.value == ""
    everything = texts(panel) + "\n".join(panel.log.lines)
    assert "PRIVATE KEY" not in everything and "s3cret" not in everything
    assert f"-i '{written}'" in panel.card._ssh_command.value
    assert f'IdentityFile "{written}"' in panel.card._ssh_config.value
    panel._convert.disabled = False
    upload(panel, "my laptop.ppk", data)
    panel._passphrase.value = "s3cret pass"
    panel._convert.click()
    panel.wait_idle()
    assert "already exists" in panel._key_box.value


def test_convert_without_a_file_asks_for_one(shared: Shared, tmp_path: Path) -> None:
    panel = ConnectionPanel(shared, key_dir=tmp_path, probe=RecordingProbe())
    panel.convert_key()
    assert "Choose a .ppk file first." in panel._key_box.value


def test_the_same_panel_works_with_a_plain_client(tmp_path: Path) -> None:
    panel = ConnectionPanel(seeded_cloud(), key_dir=tmp_path, probe=RecordingProbe())
    assert panel.wait_idle()
    assert panel.server_id


def test_switching_to_a_site_without_vms_never_looks_the_old_vm_up_there(
    probe: RecordingProbe, tmp_path: Path
) -> None:
    here, there = seeded_cloud(), FakeCloud(project_id="p-there")
    clouds = {"bielefeld": here, "heidelberg": there}
    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), debounce_s=0, warm_up=False)
    panel = ConnectionPanel(shared, key_dir=tmp_path, probe=probe)
    assert panel.wait_idle()
    assert panel.card.server_id
    panel.site = "heidelberg"
    assert panel.wait_idle()
    assert panel.card.error == "" and "no longer exists" not in texts(panel)
    assert not [call for call in there.calls if call[0] == "get_server"]
    assert "no VMs on heidelberg yet" in panel._summary.value
    shared.background.shutdown()
