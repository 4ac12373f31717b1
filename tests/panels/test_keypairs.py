"""The key-pair panel: list, import (pasted or uploaded), generate, delete with a confirmation."""

from __future__ import annotations

import html
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from denbi_jupyter.cloud._keypairs import sha256_fingerprint
from denbi_jupyter.connect.key_registry import STATE_DIR_ENV, KeyRegistry
from denbi_jupyter.panels import ConnectionPanel, KeyPairPanel, Shared
from tests.panels._support import loaded, shown, texts
from tests.panels.conftest import RecordingProbe
from tests.support.fake_cloud import FakeCloud


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


def public_line(comment: str = "me@laptop") -> str:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{raw.decode()} {comment}"


def status(panel: KeyPairPanel) -> str:
    """The panel's status line as text."""
    return html.unescape(panel._status.value)


def upload(widget: object, name: str, data: bytes) -> None:
    """What the browser sends when a file is chosen."""
    entry = {"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": 0}  # fmt: skip
    widget.set_state({"value": [entry]})  # type: ignore[attr-defined]


def test_the_list_shows_name_type_and_sha256_fingerprint(fake: FakeCloud, shared: Shared) -> None:
    line = public_line()
    fake.import_keypair("laptop", line)
    panel = loaded(KeyPairPanel(shared))
    listed = texts(panel._rows)
    assert "laptop" in listed and "ssh" in listed
    assert sha256_fingerprint(line) in listed


def test_an_empty_site_says_how_to_get_a_key_pair(shared: Shared) -> None:
    panel = loaded(KeyPairPanel(shared))
    assert "No key pairs on fake yet: import your public key or generate one" in texts(panel)


def test_a_pasted_public_key_is_imported_and_listed(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(KeyPairPanel(shared))
    panel._import_name.value = "laptop"
    panel._public.value = public_line()
    panel._import.click()
    panel.wait_idle()
    assert "Imported key pair 'laptop' on fake (SHA256:" in status(panel)
    assert [k.name for k in panel.keypairs] == ["laptop"] == list(fake.keypairs)
    assert panel._public.value == "" and panel._import_name.value == ""


@pytest.mark.parametrize(
    ("name", "key", "says"),
    [
        pytest.param("bad/name", "ok", "not a usable key pair name", id="bad-name"),
        pytest.param("laptop", "ok", "fake already has a key pair 'laptop'", id="name-taken"),
        pytest.param("new", "ssh-ed25519 not/base64! me", "not valid base64", id="not-a-key"),
        pytest.param("new", "", "Paste a public key or choose a .pub file first", id="no-key"),
    ],
)
def test_a_bad_import_says_what_is_wrong_and_imports_nothing(
    fake: FakeCloud, shared: Shared, name: str, key: str, says: str
) -> None:
    fake.import_keypair("laptop", public_line())
    panel = loaded(KeyPairPanel(shared))
    panel._import_name.value = name
    panel._public.value = public_line() if key == "ok" else key
    panel._import.click()
    panel.wait_idle()
    assert says in status(panel)
    assert list(fake.keypairs) == ["laptop"]


def test_a_pasted_private_key_is_refused_and_cleared_from_the_form(
    fake: FakeCloud, shared: Shared
) -> None:
    private = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    panel = loaded(KeyPairPanel(shared))
    panel._import_name.value = "oops"
    panel._public.value = private.decode()
    panel._import.click()
    panel.wait_idle()
    assert "That is a private key" in status(panel)
    assert panel._public.value == "" and "PRIVATE KEY" not in texts(panel)
    assert list(fake.keypairs) == []


def test_an_uploaded_pub_file_prefills_the_name_and_imports(
    fake: FakeCloud, shared: Shared
) -> None:
    line = public_line()
    panel = loaded(KeyPairPanel(shared))
    assert panel._pub_upload.get_state()["tooltip"]  # a real hover text, not "null"
    upload(panel._pub_upload, "id_work.pub", (line + "\n").encode())
    assert panel._import_name.value == "id_work" and panel._public.value == line
    panel._import.click()
    panel.wait_idle()
    assert fake.keypairs["id_work"].sha256_fingerprint == sha256_fingerprint(line)


def test_an_uploaded_private_key_is_refused_without_showing_it(shared: Shared) -> None:
    panel = loaded(KeyPairPanel(shared))
    upload(panel._pub_upload, "id_work.pub", b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n")
    assert "holds a private key" in status(panel)
    assert panel._public.value == "" and "AAAA" not in texts(panel)


def test_generate_writes_a_0600_key_remembers_it_and_never_shows_it(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    panel = loaded(KeyPairPanel(shared, key_dir=tmp_path))
    saved: list[tuple[str, str, Path]] = []
    panel.on_saved(lambda site, name, path: saved.append((site, name, path)))
    panel._gen_name.value = "denbi-laptop"
    panel._gen_file.value = "denbi_ed25519"
    panel._generate.click()
    panel.wait_idle()
    private, public = tmp_path / "denbi_ed25519", tmp_path / "denbi_ed25519.pub"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert fake.keypairs["denbi-laptop"].sha256_fingerprint == sha256_fingerprint(
        public.read_text()
    )
    assert str(private) in status(panel) and "mode 0600" in status(panel)
    everything = texts(panel) + "\n".join(panel.log.lines)
    body = private.read_text().splitlines()[1]
    assert "PRIVATE KEY" not in everything and body not in everything
    assert KeyRegistry().private_key("fake", "denbi-laptop") == private
    assert saved == [("fake", "denbi-laptop", private)]
    assert "denbi-laptop" in texts(panel._rows)


def test_generate_refuses_an_existing_file_unless_overwriting_is_allowed(
    fake: FakeCloud, shared: Shared, tmp_path: Path
) -> None:
    existing = tmp_path / "id_old"
    existing.write_text("keep me\n")
    panel = loaded(KeyPairPanel(shared, key_dir=tmp_path))
    panel._gen_name.value = "fresh"
    panel._gen_file.value = "id_old"
    panel._generate.click()
    panel.wait_idle()
    assert "already exists; choose another file name or allow overwriting" in status(panel)
    assert existing.read_text() == "keep me\n" and "fresh" not in fake.keypairs
    panel._overwrite.value = True
    panel._generate.click()
    panel.wait_idle()
    assert "Generated key pair 'fresh'" in status(panel)
    assert existing.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert panel._overwrite.value is False  # asked for once, not kept


@pytest.mark.parametrize(
    ("file_name", "says"),
    [("../escape", "plain file name"), ("", "plain file name"), ("id.pub", "public key's name")],
)
def test_generate_wants_a_plain_private_key_file_name(
    fake: FakeCloud, shared: Shared, tmp_path: Path, file_name: str, says: str
) -> None:
    panel = loaded(KeyPairPanel(shared, key_dir=tmp_path))
    panel._gen_name.value = "fresh"
    panel._gen_file.value = file_name
    panel._generate.click()
    assert says in status(panel)
    assert fake.keypairs == {}


def test_delete_asks_naming_the_key_pair_and_one_click_deletes_one(
    fake: FakeCloud, shared: Shared
) -> None:
    for name in ("laptop", "work"):
        fake.import_keypair(name, public_line())
    panel = loaded(KeyPairPanel(shared))
    assert not shown(panel._confirm)
    row = next(r for r in panel._rows.children if "work" in r.children[0].value)
    row.children[1].click()  # the row's Delete button only asks
    assert shown(panel._confirm) and "<b>work</b>" in panel._confirm_html.value
    assert panel._confirm_go.description == "Delete work"
    assert set(fake.keypairs) == {"laptop", "work"}
    panel._confirm_go.click()
    panel._confirm_go.click()  # a double click: the second finds nothing to delete
    panel.wait_idle()
    assert set(fake.keypairs) == {"laptop"}
    assert [c for c in fake.gateway.calls if c[0] == "delete_keypair"] == [
        ("delete_keypair", ("work",))
    ]
    assert "Deleted key pair 'work' on fake." in status(panel)
    assert [k.name for k in panel.keypairs] == ["laptop"]


def test_cancel_deletes_nothing(fake: FakeCloud, shared: Shared) -> None:
    fake.import_keypair("laptop", public_line())
    panel = loaded(KeyPairPanel(shared))
    panel.ask_delete("laptop")
    panel._confirm_cancel.click()
    panel.wait_idle()
    assert not shown(panel._confirm) and list(fake.keypairs) == ["laptop"]


def test_the_connect_tab_shows_the_key_pairs_under_the_card_above_the_converter(
    shared: Shared, tmp_path: Path
) -> None:
    panel = loaded(ConnectionPanel(shared, key_dir=tmp_path, probe=RecordingProbe()))
    children = list(panel.children)
    card, keys = children.index(panel.card), children.index(panel.key_pairs)
    converter = next(i for i, c in enumerate(children) if "PuTTY key" in texts(c))
    assert card < keys < converter
    assert panel.key_pairs.key_dir == tmp_path
