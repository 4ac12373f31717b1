"""The cloud subcommands end to end through ``denbi_jupyter.cli.main`` and the local cloud."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cli import main
from denbi_jupyter.cloud.types import SnapshotQuery
from flows._ids import REQUEST_ID_KEY
from flows.snapshot import snapshot_request_id
from tests.flows.harness import LocalEnv

pytestmark = pytest.mark.usefixtures("prefect_harness", "local_env")

SITE = "bielefeld"
ROOT = Path(__file__).resolve().parents[2]
RUN = f"cli-{uuid.uuid4().hex[:6]}"


def _name(kind: str) -> str:
    return f"{RUN}-{kind}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def booted(site_clients: LocalEnv, prefect_harness: None) -> Iterator[dict[str, Any]]:
    """One VM booted through ``denbi-jupyter boot`` for the module; deleted afterwards."""
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(site_clients.clouds_yaml)
    name = _name("vm")
    try:
        code = main(
            [
                "boot",
                "--site",
                SITE,
                "--image",
                "X2Go_xfce",
                "--flavor",
                "de.NBI tiny",
                "--name",
                name,
                "--json",
            ]
        )
    finally:
        del os.environ["OS_CLIENT_CONFIG_FILE"]
    assert code == 0
    client = site_clients.client(SITE)
    server = client.find_server(name)
    yield {"name": name, "id": server.id}
    client.delete_server(server.id)
    for snapshot in client.list_snapshots(SnapshotQuery(text=RUN, per_page=1000)).items:
        if snapshot.name.lstrip("-").startswith(RUN) and not snapshot.protected:
            client.delete_image(snapshot.id)


def test_sites_lists_both_local_sites_as_json_without_credentials(cli: Any) -> None:
    result = cli("sites", "--json")
    assert result.code == 0
    names = [site["name"] for site in result.json()]
    assert names == ["bielefeld", "heidelberg"]
    assert "password" not in result.out


def test_images_filters_desktop_kinds(cli: Any) -> None:
    result = cli("images", "--site", SITE, "--desktop", "x2go", "--json")
    assert result.code == 0
    images = result.json()
    assert images and all(image["desktop"] == "x2go" for image in images)
    table = cli("images", "--site", SITE, "--search", "rstudio")
    assert table.code == 0 and "RStudio" in table.out and "X2Go" not in table.out


def test_the_site_defaults_to_os_cloud(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLOUD", "heidelberg")
    assert cli("images", "--search", "Rocky", "--json").code == 0
    monkeypatch.delenv("OS_CLOUD")
    missing = cli("images")
    assert missing.code == 2
    assert missing.err.strip().splitlines() == [
        "denbi-jupyter: error: No site given: pass --site NAME or set OS_CLOUD "
        "('denbi-jupyter sites' lists them)."
    ]


def test_boot_printed_json_and_connect_gives_ssh_config_and_x2go_session(
    cli: Any, booted: dict[str, Any], tmp_path: Path
) -> None:
    command = cli("connect", "--site", SITE, booted["name"])
    assert command.code == 0 and command.out.startswith("ssh -p ")
    assert command.out.strip().endswith("ubuntu@127.0.0.1")
    config = cli("connect", "--site", SITE, booted["id"], "--ssh-config")
    assert config.out.startswith(f"Host {booted['name']}")
    session = tmp_path / "vm.x2go"
    written = cli("connect", "--site", SITE, booted["name"], "--x2go-session", str(session))
    assert written.code == 0
    assert "command=XFCE" in session.read_text()
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    details = cli("connect", "--site", SITE, booted["name"], "--json").json()
    assert details["x2go_session_type"] == "XFCE" and details["server"]["id"] == booted["id"]


def test_the_x2go_session_file_is_never_overwritten_unasked_nor_written_through_a_link(
    cli: Any, booted: dict[str, Any], tmp_path: Path
) -> None:
    session, elsewhere = tmp_path / "vm.x2go", tmp_path / "precious.txt"
    session.write_text("the user's own file\n")
    elsewhere.write_text("not a session\n")
    refused = cli("connect", "--site", SITE, booted["name"], "--x2go-session", str(session))
    assert refused.code == 2 and "already exists" in refused.err
    assert session.read_text() == "the user's own file\n"
    forced = ("connect", "--site", SITE, booted["name"], "--x2go-session", str(session), "--force")
    assert cli(*forced).code == 0 and "command=XFCE" in session.read_text()
    link = tmp_path / "link.x2go"
    link.symlink_to(elsewhere)
    through = cli("connect", "--site", SITE, booted["name"], "--x2go-session", str(link))
    assert through.code == 2 and "already exists" in through.err
    replaced = ("connect", "--site", SITE, booted["name"], "--x2go-session", str(link), "--force")
    assert cli(*replaced).code == 0
    assert elsewhere.read_text() == "not a session\n"  # the link was replaced, not followed
    assert not link.is_symlink() and "command=XFCE" in link.read_text()
    assert stat.S_IMODE(link.stat().st_mode) == 0o600


def test_snapshot_create_list_and_delete_end_to_end(
    cli: Any, booted: dict[str, Any], site_clients: LocalEnv
) -> None:
    name = _name("snap")
    made = cli(
        "snapshot", "create", "--site", SITE, "--server", booted["name"], "--name", name, "--json"
    )
    assert made.code == 0, made.err
    snapshot = made.json()
    assert snapshot["status"] == "active" and snapshot["name"] == name
    assert "[" in made.err and "Glance" in made.err  # plain progress lines off a terminal
    again = cli("snapshot", "create", "--site", SITE, "--server", booted["id"], "--name", name)
    assert again.code == 0 and "existed already" in again.out

    listed = cli("snapshots", "list", "--site", SITE, "--filter", name, "--json").json()
    assert [item["id"] for item in listed["items"]] == [snapshot["image_id"]]
    by_id = cli("snapshots", "list", "--site", SITE, "--filter", snapshot["image_id"])
    assert name in by_id.out and "page 1" in by_id.out

    refused = cli("snapshots", "delete", "--site", SITE, snapshot["image_id"])
    assert refused.code == 2 and "Add --yes" in refused.err
    client = site_clients.client(SITE)
    own = client.list_snapshots(SnapshotQuery(per_page=1000, own_only=True)).items
    protected = next(item for item in own if item.protected)
    deleted = cli("snapshots", "delete", "--site", SITE, name, protected.id, "--yes")
    assert deleted.code == 1
    assert f"{snapshot['image_id']} ({name}): deleted" in deleted.out
    assert f"{protected.id} ({protected.name}): refused: protected" in deleted.out
    assert client.get_image(snapshot["image_id"]) is None
    assert client.get_image(protected.id) is not None


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["images", "--site", "nowhere"], 3, "no clouds.yaml entry named 'nowhere'"),
        (
            ["snapshot", "create", "--site", SITE, "--server", "no-such-vm", "--name", "x"],
            3,
            "no-such-vm",
        ),
        (
            ["snapshot", "create", "--site", SITE, "--server", "x", "--name", "  "],
            2,
            "name is empty",
        ),
        (["connect", "--site", SITE, "no-such-vm"], 3, "no-such-vm"),
        (
            ["serve-schedules", "--site", SITE, "--policy-cron", "every night", "--check"],
            2,
            "Cannot schedule 'every night'",
        ),
        (
            ["serve-schedules", "--site", SITE, "--timezone", "Mars/Base", "--check"],
            2,
            "Unknown time zone 'Mars/Base'",
        ),
        (
            ["serve-schedules", "--site", SITE, "--cleanup-days", "0", "--check"],
            2,
            "max_age_days must be positive",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_one_clear_line(
    cli: Any, argv: list[str], code: int, words: str
) -> None:
    result = cli(*argv)
    assert result.code == code
    lines = [line for line in result.err.splitlines() if not line.startswith("[")]
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("denbi-jupyter: error:")


def test_out_of_range_options_are_refused_by_the_parser(cli: Any) -> None:
    result = cli("snapshots", "list", "--site", SITE, "--per-page", "0")
    assert result.code == 2 and "between 1 and 1000" in result.err


def test_serve_schedules_check_describes_the_deployments(cli: Any) -> None:
    result = cli("serve-schedules", "--site", SITE, "--check", "--json")
    assert result.code == 0, result.err
    described = {item["flow"]: item for item in result.json()}
    assert set(described) == {"snapshot-policies", "cleanup-snapshots"}
    assert described["snapshot-policies"]["parameters"] == {"site": SITE, "catch_up_hours": 6.0}


def test_convert_key_writes_an_openssh_key_and_prints_no_key_material(
    cli: Any, tmp_path: Path
) -> None:
    import shutil

    puttygen = shutil.which("puttygen")
    if puttygen is None:
        pytest.skip("puttygen (putty-tools) is not installed; `make system-deps` adds it")
    secret = tmp_path / "pass"
    secret.write_text("s3cret words\n")
    ppk = tmp_path / "key.ppk"
    subprocess.run(
        [puttygen, "-t", "ed25519", "-q", "--new-passphrase", str(secret), "-o", str(ppk)],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    locked = cli("convert-key", str(ppk), str(tmp_path / "nope"))
    assert locked.code == 2 and "--passphrase-file" in locked.err
    out = tmp_path / "id_ed25519"
    result = cli("convert-key", str(ppk), str(out), "--passphrase-file", str(secret))
    assert result.code == 0
    assert out.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in result.out + result.err and "s3cret" not in result.out + result.err
    assert "NOT encrypted" in result.out
    again = cli("convert-key", str(ppk), str(out), "--passphrase-file", str(secret))
    assert again.code == 2 and "already exists" in again.err
    locked_out = tmp_path / "id_locked"
    kept = cli(
        "convert-key", str(ppk), str(locked_out), "--passphrase-file", str(secret),
        "--keep-passphrase",
    )  # fmt: skip
    assert kept.code == 0 and "encrypted with a passphrase" in kept.out
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    with pytest.raises(TypeError):  # encrypted: no passphrase, no key
        load_ssh_private_key(locked_out.read_bytes(), password=None)
    assert load_ssh_private_key(locked_out.read_bytes(), password=b"s3cret words") is not None


def test_no_wait_starts_the_snapshot_in_the_background(
    cli: Any, booted: dict[str, Any], site_clients: LocalEnv
) -> None:
    name = "-" + _name("bg")  # a leading dash: the detached run must still read it as the name
    started = cli(
        "snapshot",
        "create",
        "--site",
        SITE,
        "--server",
        booted["id"],
        f"--name={name}",
        "--no-wait",
        "--json",
    )
    assert started.code == 0
    info = started.json()
    client = site_clients.client(SITE)
    request_id = snapshot_request_id(SITE, booted["id"], name)
    deadline = time.monotonic() + 90
    found = []
    log = ""
    while time.monotonic() < deadline:  # until the image is active and the run has ended
        found = client.find_images_by_property(REQUEST_ID_KEY, request_id)
        log = Path(info["log"]).read_text()
        if found and found[0].status == "active" and log.rstrip().endswith("}"):
            break
        time.sleep(0.5)
    assert found and found[0].status == "active" and found[0].name == name, log
    assert f'"image_id": "{found[0].id}"' in log


def test_the_console_script_runs_as_a_real_process(
    site_clients: LocalEnv, cloud_password: str, seen: list[str]
) -> None:
    script = Path(sys.executable).parent / "denbi-jupyter"
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(site_clients.clouds_yaml), "OS_CLOUD": SITE}
    done = subprocess.run(
        [str(script), "snapshots", "list", "--per-page", "5", "--sort", "name", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert page["per_page"] == 5 and len(page["items"]) <= 5
    bad = subprocess.run(
        [str(script), "images", "--site", "nowhere"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1
    seen.extend([done.stdout, done.stderr, bad.stdout, bad.stderr])


def test_no_output_of_any_command_contains_the_password(
    seen: list[str], cloud_password: str
) -> None:
    assert len(seen) > 20
    assert not [text for text in seen if cloud_password in text]


def test_no_wait_checks_the_name_before_it_detaches(cli: Any, booted: dict[str, Any]) -> None:
    from denbi_jupyter.cli._flow_command import _replay

    refused = cli(
        "snapshot", "create", "--site", SITE, "--server", booted["id"],
        "--name", "x" * 300, "--no-wait",
    )  # fmt: skip
    assert refused.code == 2 and "at most 255 fit" in refused.err and "log" not in refused.out
    given = argparse.Namespace(name="-backup", timeout=60.0, flag=True)
    words = _replay(given, ["name", "timeout", "flag"])
    assert words == ["--name=-backup", "--timeout=60", "--flag"]
