"""``denbi-jupyter keypair`` and ``convert-key`` end to end on the local cloud, with real tools.

``puttygen`` makes the PuTTY keys and ``ssh-keygen`` says what the fingerprints must be. No
output of any command may contain private key material.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Result

pytestmark = pytest.mark.usefixtures("local_env")

SITE = "bielefeld"
PUTTYGEN = shutil.which("puttygen")
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_tools = pytest.mark.skipif(
    PUTTYGEN is None or SSH_KEYGEN is None,
    reason="puttygen (putty-tools) and ssh-keygen (openssh-client) are needed",
)


@pytest.fixture(scope="module")
def seen(seen: list[str]) -> Iterator[list[str]]:
    """Every output of this module: none may contain private key material."""
    yield seen
    joined = "\n".join(seen)
    assert "PRIVATE KEY" not in joined and "PuTTY-User-Key-File" not in joined


def _name(kind: str) -> str:
    return f"cli-{kind}-{uuid.uuid4().hex[:8]}"


def _tool(*args: str | Path) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout


def _fingerprint(public_file: Path) -> str:
    assert SSH_KEYGEN is not None
    return _tool(SSH_KEYGEN, "-lf", public_file).split()[1]


def _private_texts(*paths: Path) -> list[str]:
    """The base64 body lines of private key files: none may appear in any output."""
    lines: list[str] = []
    for path in paths:
        lines += [line for line in path.read_text().splitlines() if len(line) > 20]
    return lines


def _assert_not_shown(result: Result, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in result.out and secret not in result.err


@pytest.fixture
def ppk(tmp_path: Path) -> tuple[Path, Path]:
    """An Ed25519 .ppk made by puttygen, protected by the passphrase in the returned file."""
    if PUTTYGEN is None:
        pytest.skip("puttygen is not installed")
    secret = tmp_path / "pass"
    secret.write_text("s3cret words\n")
    key = tmp_path / "key.ppk"
    _tool(PUTTYGEN, "-t", "ed25519", "-q", "-C", "win-user", "--new-passphrase", secret, "-o", key)
    return key, secret


@needs_tools
def test_import_from_a_ppk_lists_it_with_the_fingerprint_ssh_keygen_prints(
    cli: Any, ppk: tuple[Path, Path], tmp_path: Path
) -> None:
    key, secret = ppk
    name = _name("ppk")
    saved = tmp_path / "id_win"
    args = ["keypair", "import", name, "--site", SITE, "--from-ppk", str(key)]
    refused = cli(*args)
    assert refused.code == 2 and "--passphrase-file" in refused.err
    done = cli(*args, "--passphrase-file", str(secret), "--save-private", str(saved))
    assert done.code == 0, done.err
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    public_file = tmp_path / "id_win.pub"
    assert (
        public_file.read_text().split()[:2]
        == _tool(PUTTYGEN or "", key, "-O", "public-openssh", "--old-passphrase", secret).split()[
            :2
        ]
    )
    expected = _fingerprint(public_file)
    assert expected in done.out and str(public_file) in done.out
    listed = cli("keypair", "list", "--site", SITE)
    row = next(line for line in listed.out.splitlines() if line.startswith(name))
    assert row.split()[1] == expected
    as_json = {k["name"]: k for k in cli("keypair", "list", "--site", SITE, "--json").json()}
    assert as_json[name]["sha256_fingerprint"] == expected
    for result in (done, listed):
        _assert_not_shown(result, [*_private_texts(saved), "s3cret"])
    assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0


@needs_tools
def test_convert_key_writes_the_pub_beside_the_private_key(
    cli: Any, ppk: tuple[Path, Path], tmp_path: Path
) -> None:
    key, secret = ppk
    out = tmp_path / "id_conv"
    done = cli("convert-key", str(key), str(out), "--passphrase-file", str(secret))
    assert done.code == 0, done.err
    public_file = tmp_path / "id_conv.pub"
    assert stat.S_IMODE(public_file.stat().st_mode) & 0o022 == 0
    assert f"public key to {public_file}" in done.out
    assert _fingerprint(public_file) in done.out
    _assert_not_shown(done, _private_texts(out))
    name = _name("conv")
    imported = cli("keypair", "import", name, "--site", SITE, "--public-key", str(public_file))
    assert imported.code == 0, imported.err
    assert _fingerprint(public_file) in imported.out
    assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0


@needs_tools
def test_generate_writes_0600_and_pub_and_the_cloud_has_the_key(cli: Any, tmp_path: Path) -> None:
    name = _name("gen")
    target = tmp_path / "id_gen"
    done = cli("keypair", "generate", name, "--site", SITE, "--private-key", str(target))
    assert done.code == 0, done.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    public_file = tmp_path / "id_gen.pub"
    expected = _fingerprint(public_file)
    assert expected in done.out
    _assert_not_shown(done, _private_texts(target))
    listed = {k["name"]: k for k in cli("keypair", "list", "--site", SITE, "--json").json()}
    assert listed[name]["sha256_fingerprint"] == expected
    assert (
        _tool(SSH_KEYGEN or "", "-y", "-f", target).split()[:2]
        == (public_file.read_text().split()[:2])
    )

    again = cli("keypair", "generate", _name("gen"), "--site", SITE, "--private-key", str(target))
    assert again.code == 2 and "already exists" in again.err
    assert _fingerprint(public_file) == expected  # untouched
    other = _name("gen")
    forced = cli(
        "keypair", "generate", other, "--site", SITE, "--private-key", str(target),
        "--overwrite", "--json",
    )  # fmt: skip
    assert forced.code == 0, forced.err
    made = forced.json()
    assert made["private_key_path"] == str(target) and made["public_key_path"] == str(public_file)
    assert made["sha256_fingerprint"] == _fingerprint(public_file) != expected
    _assert_not_shown(forced, _private_texts(target))
    assert cli("keypair", "delete", name, other, "--site", SITE, "--yes").code == 0


def test_delete_works_and_a_second_delete_says_not_found(cli: Any, tmp_path: Path) -> None:
    name = _name("del")
    created = cli("keypair", "generate", name, "--site", SITE, "--private-key", str(tmp_path / "k"))
    assert created.code == 0, created.err
    refused = cli("keypair", "delete", name, "--site", SITE)  # not a terminal, no --yes
    assert refused.code == 2 and "--yes" in refused.err
    deleted = cli("keypair", "delete", name, "--site", SITE, "--yes")
    assert deleted.code == 0 and f"Deleted key pair '{name}'" in deleted.out
    again = cli("keypair", "delete", name, "--site", SITE, "--yes")
    assert again.code == 3
    assert f"no key pair '{name}'" in again.err and len(again.err.strip().splitlines()) == 1
    names = [k["name"] for k in cli("keypair", "list", "--site", SITE, "--json").json()]
    assert name not in names


def test_the_same_import_again_finds_it_and_another_key_under_the_name_is_refused(
    cli: Any, tmp_path: Path
) -> None:
    from tests.support.keys import ed25519_public_line

    name = _name("again")
    mine, other = tmp_path / "mine.pub", tmp_path / "other.pub"
    mine.write_text(ed25519_public_line("mine") + "\n")
    other.write_text(ed25519_public_line("other") + "\n")
    args = ["keypair", "import", name, "--site", SITE, "--public-key"]
    first = cli(*args, str(mine), "--json")
    assert first.code == 0 and first.json()["reused"] is False, first.err
    again = cli(*args, str(mine))  # e.g. after the first run's answer was lost
    assert again.code == 0, again.err
    assert "already holds this key" in again.out and first.json()["sha256_fingerprint"] in again.out
    as_json = cli(*args, str(mine), "--json").json()
    assert as_json["reused"] is True and as_json["name"] == name
    refused = cli(*args, str(other))
    assert refused.code == 4 and "with another key" in refused.err
    pairs = [
        k for k in cli("keypair", "list", "--site", SITE, "--json").json() if k["name"] == name
    ]
    assert [k["sha256_fingerprint"] for k in pairs] == [first.json()["sha256_fingerprint"]]
    assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdz me\n", "damaged or cut off"),
        ("ssh-ed25519 not/base64! me\n", "not valid base64"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "private key"),
        ("", "empty"),
    ],
)
def test_a_bad_public_key_is_exit_code_2_with_a_clear_message(
    cli: Any, tmp_path: Path, content: str, says: str
) -> None:
    public_file = tmp_path / "bad.pub"
    public_file.write_text(content)
    name = _name("bad")
    result = cli("keypair", "import", name, "--site", SITE, "--public-key", str(public_file))
    assert result.code == 2
    assert says in result.err and len(result.err.strip().splitlines()) == 1
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in result.err + result.out
    names = [k["name"] for k in cli("keypair", "list", "--site", SITE, "--json").json()]
    assert name not in names


def test_a_missing_public_key_file_and_bad_name_are_user_errors(cli: Any, tmp_path: Path) -> None:
    missing = cli(
        "keypair", "import", _name("x"), "--site", SITE, "--public-key", str(tmp_path / "nope")
    )
    assert missing.code == 2 and "Cannot read" in missing.err
    target = str(tmp_path / "k")
    bad_name = cli("keypair", "generate", "bad/name", "--site", SITE, "--private-key", target)
    assert bad_name.code == 2 and not (tmp_path / "k").exists()


# --- the remembered private key path -------------------------------------------------------
@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder of this test's own: the registry of remembered key paths lives there."""
    from denbi_jupyter.connect.key_registry import STATE_DIR_ENV

    folder = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


def test_generate_remembers_the_private_key_path_never_the_key(
    cli: Any, tmp_path: Path, state: Path
) -> None:
    from denbi_jupyter.connect.key_registry import KeyRegistry

    name, target = _name("mem"), tmp_path / "id_mem"
    assert cli("keypair", "generate", name, "--site", SITE, "--private-key", str(target)).code == 0
    assert KeyRegistry().private_key(SITE, name) == target
    stored = (state / "keys.json").read_text()
    assert str(target) in stored and "PRIVATE KEY" not in stored
    assert all(secret not in stored for secret in _private_texts(target))
    assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0


@needs_tools
def test_import_from_a_ppk_with_save_private_remembers_the_saved_key(
    cli: Any, ppk: tuple[Path, Path], tmp_path: Path, state: Path
) -> None:
    from denbi_jupyter.connect.key_registry import KeyRegistry

    key, secret = ppk
    name, saved = _name("ppkmem"), tmp_path / "id_ppkmem"
    done = cli(
        "keypair", "import", name, "--site", SITE, "--from-ppk", str(key),
        "--passphrase-file", str(secret), "--save-private", str(saved),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert KeyRegistry().private_key(SITE, name) == saved
    assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0


@pytest.mark.usefixtures("prefect_harness")
def test_connect_uses_the_remembered_key_and_boot_remembers_its_key_pair(
    cli: Any, tmp_path: Path, state: Path, site_clients: Any
) -> None:
    from denbi_jupyter.connect.key_registry import KeyRegistry

    name, target, vm = _name("conn"), tmp_path / "id_conn", _name("vm")
    assert cli("keypair", "generate", name, "--site", SITE, "--private-key", str(target)).code == 0
    booted = cli(
        "boot", "--site", SITE, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny",
        "--key-name", name, "--name", vm, "--json",
    )  # fmt: skip
    try:
        assert booted.code == 0, booted.err
        assert KeyRegistry().last_boot_key(SITE) == name
        shown = cli("connect", "--site", SITE, vm)
        assert shown.code == 0, shown.err
        assert f"-i {target}" in shown.out or f"-i '{target}'" in shown.out
        assert str(target) in shown.err and f"key pair {name!r}" in shown.err
        session = tmp_path / "desk.ini"
        assert cli("connect", "--site", SITE, vm, "--x2go-session", str(session)).code == 0
        assert f"key={target}" in session.read_text()
        chosen = cli("connect", "--site", SITE, vm, "--identity-file", "/elsewhere/key")
        assert "/elsewhere/key" in chosen.out and chosen.err == ""
        target.unlink()  # a vanished key is not offered
        gone = cli("connect", "--site", SITE, vm)
        assert str(target) not in gone.out and gone.err == ""
    finally:
        client = site_clients.client(SITE)
        for server in client.list_servers():
            if server.name == vm:
                client.delete_server(server.id)
        assert cli("keypair", "delete", name, "--site", SITE, "--yes").code == 0
