"""Private-key material and passphrases stay in their 0600 files: CLI and panel, PPK and generated.

The canaries here are the base64 body lines (of the private section) of every private key
written (converted from a PPK or generated), the raw Ed25519 private bytes (hex and base64),
the PPKs' ``Private-Lines`` blobs, and the PPK passphrase. Each private-key file must be mode
0600; everything else is searched (outputs, logs, widgets, the Prefect database, every file).
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.panels import ConnectionPanel, Shared, SiteClients
from tests.panels.conftest import RecordingProbe
from tests.security.canary import Canaries
from tests.security.conftest import APP_CREDENTIAL_SITE, PASSWORD_SITE, CanaryCloud, Texts
from tests.support.cli import Result

PUTTYGEN = shutil.which("puttygen")
pytestmark = [
    pytest.mark.usefixtures("prefect_harness", "canary_env"),
    pytest.mark.skipif(PUTTYGEN is None, reason="puttygen (putty-tools) is not installed"),
    pytest.mark.timeout(240),
]
RUN = f"seckey-{secrets.token_hex(3)}"


def _private_file(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def make_ppk(
    folder: Path, name: str, *, key_type: str, passphrase: Path | None, version: int
) -> Path:
    """A PPK made by puttygen (``--ppk-param version=N``)."""
    assert PUTTYGEN is not None
    out = folder / f"{name}.ppk"
    args = [PUTTYGEN, *key_type.split(), "-q", "-C", "canary", "-o", str(out), "-O", "private"]
    args += ["--new-passphrase", str(passphrase or "/dev/null")]
    args += ["--ppk-param", f"version={version}"]
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    return out


def ppk_private_lines(path: Path) -> list[str]:
    """The ``Private-Lines`` blob of a PPK, line by line."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Private-Lines:"))
    count = int(lines[start].split(":", 1)[1])
    return lines[start + 1 : start + 1 + count]


def _private_section_start(blob: bytes) -> int:
    """Where an OpenSSH key's private section starts (after the header and the public key)."""
    at = len(b"openssh-key-v1\0")
    for _field in ("cipher", "kdf", "kdf options"):
        at += 4 + int.from_bytes(blob[at : at + 4], "big")
    at += 4  # the number of keys
    return at + 4 + int.from_bytes(blob[at : at + 4], "big")


def private_lines(text: str) -> list[str]:
    """The body lines of an OpenSSH private key that carry bytes of its private section.

    The lines before are the same header in every key of a type, or the public key.
    """
    body = [line for line in text.splitlines() if line and not line.startswith("-----")]
    start = _private_section_start(base64.b64decode("".join(body)))
    kept, chars = [], 0
    for line in body:
        chars += len(line)
        if chars * 3 // 4 > start:
            kept.append(line)
    return kept


def watch_private_key(canaries: Canaries, path: Path, label: str) -> None:
    """Hold ``path`` (0600) and look for its private lines and raw key bytes everywhere else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    canaries.hold(path)
    text = path.read_text()
    key = serialization.load_ssh_private_key(text.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    lines = [line for line in private_lines(text) if line not in public.decode()]
    assert lines, f"{label}: no private key body"
    canaries.add_many(f"{label} private line", lines)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes_raw()
        canaries.add(f"{label} raw hex", raw.hex())
        canaries.add(f"{label} raw base64", base64.b64encode(raw).decode())


@pytest.fixture
def passphrase(canaries: Canaries, tmp_path: Path) -> Path:
    """A passphrase file (0600) whose passphrase is a canary."""
    words = f"CANARY-pass-{secrets.token_hex(12)}"
    canaries.add("ppk passphrase", words)
    path = _private_file(tmp_path / "passphrase.txt", words + "\n")
    canaries.hold(path)
    return path


def _ppk(canaries: Canaries, folder: Path, name: str, **kw: object) -> Path:
    path = make_ppk(folder, name, **kw)  # type: ignore[arg-type]
    canaries.hold(path)
    canaries.add_many(f"{name} Private-Lines", ppk_private_lines(path))
    canaries.add(f"{name} Private-Lines blob", "".join(ppk_private_lines(path)))
    return path


def test_convert_key_and_ppk_import_and_generate_through_the_cli(
    cli: Callable[..., Result],
    texts: Texts,
    sweep: Callable[..., None],
    canaries: Canaries,
    passphrase: Path,
    tmp_path: Path,
) -> None:
    v3 = _ppk(canaries, tmp_path, "ed-v3", key_type="-t ed25519", passphrase=passphrase, version=3)
    v2 = _ppk(canaries, tmp_path, "rsa-v2", key_type="-t rsa -b 2048", passphrase=None, version=2)
    wrong = _private_file(tmp_path / "wrong.txt", "not the passphrase\n")
    out_v3, out_v2 = tmp_path / "id_v3", tmp_path / "id_v2"
    assert cli("convert-key", str(v3), str(out_v3)).code != 0  # needs the passphrase
    assert cli("convert-key", str(v3), str(out_v3), "--passphrase-file", str(wrong)).code != 0
    done = cli("convert-key", str(v3), str(out_v3), "--passphrase-file", str(passphrase))
    assert done.code == 0, done.err
    watch_private_key(canaries, out_v3, "converted v3")
    assert cli("convert-key", str(v3), str(out_v3), "--passphrase-file", str(passphrase)).code
    assert cli("convert-key", str(v2), str(out_v2)).code == 0
    watch_private_key(canaries, out_v2, "converted v2")
    assert cli("convert-key", str(tmp_path / "none.ppk"), str(tmp_path / "x")).code != 0
    assert cli("convert-key", str(out_v3), str(tmp_path / "y")).code != 0  # not a PPK
    kept = tmp_path / "id_kept"
    assert cli("convert-key", str(v3), str(kept), "--passphrase-file", str(passphrase),
               "--keep-passphrase").code == 0  # fmt: skip
    canaries.hold(kept)  # encrypted with the canary passphrase: searched for as a holder only
    fresh_words = f"CANARY-newpass-{secrets.token_hex(12)}"
    canaries.add("new passphrase", fresh_words)
    fresh = _private_file(tmp_path / "new-passphrase.txt", fresh_words + "\n")
    canaries.hold(fresh)
    renewed = tmp_path / "id_renewed"
    assert cli("convert-key", str(v2), str(renewed), "--new-passphrase-file", str(fresh)).code == 0
    canaries.hold(renewed)

    saved = tmp_path / "id_imported"
    imported = cli(
        "keypair", "import", f"{RUN}-ppk", "--site", PASSWORD_SITE, "--from-ppk", str(v3),
        "--passphrase-file", str(passphrase), "--save-private", str(saved),
    )  # fmt: skip
    assert imported.code == 0, imported.err
    watch_private_key(canaries, saved, "saved from ppk")
    refused = cli("keypair", "import", f"{RUN}-bad", "--site", PASSWORD_SITE, "--from-ppk",
                  str(v3), "--passphrase-file", str(wrong))  # fmt: skip
    assert refused.code != 0

    generated = tmp_path / "id_generated"
    made = cli("keypair", "generate", f"{RUN}-gen", "--site", APP_CREDENTIAL_SITE,
               "--private-key", str(generated), "--json")  # fmt: skip
    assert made.code == 0, made.err
    watch_private_key(canaries, generated, "generated")
    again = cli("keypair", "generate", f"{RUN}-gen2", "--site", APP_CREDENTIAL_SITE,
                "--private-key", str(generated))  # fmt: skip
    assert again.code != 0  # the file exists
    # the usual mistake: the private key where the public key belongs
    assert cli("keypair", "import", "--site", PASSWORD_SITE, "--public-key", str(generated),
               f"{RUN}-oops").code == 2  # fmt: skip
    both = tmp_path / "both.pub"  # the test's own file holding the key: 0600, not searched
    _private_file(both, generated.with_suffix(".pub").read_text() + generated.read_text())
    canaries.hold(both)
    assert cli("keypair", "import", "--site", PASSWORD_SITE, "--public-key", str(both),
               f"{RUN}-oops").code == 2  # fmt: skip
    assert cli("convert-key", str(generated), str(tmp_path / "z")).code == 2
    booted = cli(
        "boot", "--site", APP_CREDENTIAL_SITE, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny",
        "--key-name", f"{RUN}-gen", "--name", f"{RUN}-vm", "--json",
    )  # fmt: skip
    assert booted.code == 0, booted.err
    assert cli("connect", "--site", APP_CREDENTIAL_SITE, "--ssh-config", f"{RUN}-vm").code == 0
    assert cli("server", "delete", "--site", APP_CREDENTIAL_SITE, f"{RUN}-vm").code == 0
    assert cli("keypair", "delete", "--site", PASSWORD_SITE, "--yes", f"{RUN}-ppk").code == 0
    assert cli("keypair", "delete", "--site", APP_CREDENTIAL_SITE, "--yes", f"{RUN}-gen").code == 0
    sweep(texts)


def _upload(panel: ConnectionPanel, name: str, data: bytes) -> None:
    """What the browser sends when a file is chosen."""
    entry = {"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": 0}  # fmt: skip
    panel._upload.set_state({"value": [entry]})


def _private_key_where_the_public_key_belongs(panel: ConnectionPanel, private: Path) -> None:
    """Pasted into the import form, and chosen as the .pub file: refused, and not kept."""
    pairs = panel.key_pairs
    pairs.import_name = f"{RUN}-oops"
    pairs.public_text = private.read_text()
    pairs.import_key()
    assert panel.wait_idle(60)
    assert "private key" in pairs.problem
    data = private.read_bytes()
    entry = {"name": "id_panel", "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": 0}  # fmt: skip
    pairs._pub_upload.set_state({"value": [entry]})
    assert panel.wait_idle(60)
    assert "private key" in pairs.problem
    assert f"{RUN}-oops" not in [k.name for k in pairs.keypairs]


def test_the_connect_panel_converts_a_ppk_and_generates_a_key(
    canary_cloud: CanaryCloud,
    canaries: Canaries,
    passphrase: Path,
    sweep: Callable[..., None],
    tmp_path: Path,
) -> None:
    ppk = _ppk(canaries, tmp_path, "panel", key_type="-t ed25519", passphrase=passphrase, version=3)
    words = passphrase.read_text().strip()
    sites = [PASSWORD_SITE, APP_CREDENTIAL_SITE]
    clients = SiteClients(lambda name: open_site(name, config_file=canary_cloud.clouds_yaml), sites)
    shared = Shared(clients, debounce_s=0.0, warm_up=False)
    keys = tmp_path / "keys"
    keys.mkdir()
    panel = ConnectionPanel(shared, key_dir=keys, probe=RecordingProbe())
    try:
        assert panel.wait_idle(60)
        _upload(panel, "laptop.ppk", ppk.read_bytes())
        panel._passphrase.value = "wrong words"
        panel._convert.click()
        assert panel.wait_idle(60)
        assert "passphrase" in html.unescape(panel._key_box.value)
        panel._passphrase.value = words
        panel._save_as.value = "laptop"
        panel._convert.click()
        assert panel.wait_idle(60)
        converted = keys / "laptop"
        assert converted.exists(), html.unescape(panel._key_box.value)
        watch_private_key(canaries, converted, "panel converted")
        panel.key_pairs._gen_name.value = f"{RUN}-panel"
        panel.key_pairs._gen_file.value = "id_panel"
        panel.key_pairs._generate.click()
        assert panel.wait_idle(60)
        made = keys / "id_panel"
        assert made.exists(), html.unescape(panel.key_pairs._status.value)
        watch_private_key(canaries, made, "panel generated")
        _private_key_where_the_public_key_belongs(panel, made)
        sweep(prefect=False)
    finally:
        for name in (f"{RUN}-panel", "laptop"):
            for site in sites:
                with contextlib.suppress(Exception):  # not there on that site
                    clients.get(site).delete_keypair(name)
        panel.close()
        shared.background.shutdown()
