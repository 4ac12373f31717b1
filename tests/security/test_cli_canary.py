"""Every CLI command, succeeding and failing, leaves no canary secret anywhere.

The commands run in-process (``denbi_jupyter.cli.main``) against the canary cloud; their flows
run on the Prefect test harness. After each group the sweep searches the outputs, the logs, the
Prefect database, the widgets and every file written.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.security.canary import Canaries
from tests.security.conftest import (
    APP_CREDENTIAL_SITE,
    PASSWORD_SITE,
    WRONG_SITE,
    CanaryCloud,
    Texts,
)
from tests.support.cli import Result

pytestmark = [pytest.mark.usefixtures("prefect_harness", "canary_env"), pytest.mark.timeout(240)]

RUN = f"sec-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def vm_name() -> str:
    return f"{RUN}-vm"


def test_listing_commands_on_every_entry_kind(
    cli: Callable[..., Result], texts: Texts, sweep: Callable[..., None]
) -> None:
    assert cli("sites").code == 0
    assert cli("sites", "--json").code == 0
    assert cli("images", "--site", PASSWORD_SITE).code == 0
    assert cli("images", "--site", APP_CREDENTIAL_SITE, "--snapshots", "--json").code == 0
    assert cli("images", "--site", PASSWORD_SITE, "--desktop", "x2go", "--json").code == 0
    assert cli("snapshots", "list", "--site", PASSWORD_SITE, "--own").code == 0
    assert cli("snapshots", "list", "--site", APP_CREDENTIAL_SITE, "--json").code == 0
    assert cli("keypair", "list", "--site", APP_CREDENTIAL_SITE, "--json").code == 0
    assert cli("server", "list", "--site", PASSWORD_SITE).code == 0
    assert cli("policy", "show", "--site", PASSWORD_SITE, "--json").code == 0
    assert cli("serve-schedules", "--site", PASSWORD_SITE, "--check", "--json").code == 0
    sweep(texts)


def test_failing_commands_wrong_password_unknown_site_bad_arguments(
    cli: Callable[..., Result], texts: Texts, sweep: Callable[..., None]
) -> None:
    wrong = cli("images", "--site", WRONG_SITE)
    assert wrong.code != 0 and wrong.err
    assert cli("snapshots", "list", "--all-sites", "--json").code != 0  # one site refuses
    assert cli("server", "list", "--site", WRONG_SITE, "--json").code != 0
    assert cli("keypair", "list", "--site", WRONG_SITE).code != 0
    assert cli("images", "--site", "nowhere").code != 0
    assert cli("images", "--site", f"{PASSWORD_SITE}", "--desktop", "vnc").code == 2
    missing = cli("boot", "--site", PASSWORD_SITE, "--image", "no-such-image")
    assert missing.code == 2  # argparse: --flavor and --name are required
    no_image = cli(
        "boot", "--site", APP_CREDENTIAL_SITE, "--image", "no-such-image",
        "--flavor", "de.NBI tiny", "--name", f"{RUN}-never",
    )  # fmt: skip
    assert no_image.code != 0
    assert cli("connect", "--site", PASSWORD_SITE, "no-such-vm").code != 0
    assert cli("snapshot", "create", "--site", PASSWORD_SITE, "--server", "no-vm",
               "--name", "x").code != 0  # fmt: skip
    assert cli("keypair", "import", "--site", PASSWORD_SITE, "--public-key", "/nonexistent",
               "k").code != 0  # fmt: skip
    assert cli("policy", "set", "--site", PASSWORD_SITE, "--policy", "hourly never", "x").code
    assert cli("snapshots", "delete", "--site", PASSWORD_SITE, "--yes", "no-such").code != 0
    assert cli("server", "stop", "--site", WRONG_SITE, "some-vm").code != 0
    refused_boot = cli(
        "boot", "--site", WRONG_SITE, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny",
        "--name", f"{RUN}-refused",
    )  # fmt: skip
    assert refused_boot.code != 0
    assert cli("snapshot", "create", "--site", WRONG_SITE, "--server", "x", "--name", "y").code
    assert cli("policy", "preview", "--site", WRONG_SITE, "--keep", "1", "x").code != 0
    assert cli("snapshots", "delete", "--site", WRONG_SITE, "--yes", "x").code != 0
    assert cli("connect", "--site", WRONG_SITE, "x").code != 0
    sweep(texts)


def test_flows_failing_half_way_and_retrying(
    cli: Callable[..., Result],
    texts: Texts,
    sweep: Callable[..., None],
    faults: Callable[..., None],
) -> None:
    """A boot that ends in ERROR, a snapshot Glance kills, a stop whose first calls get 503."""
    site = ("--site", PASSWORD_SITE)
    faults({"kind": "boot_error", "site": PASSWORD_SITE, "count": 1})
    failed_boot = cli("boot", *site, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny",
                      "--name", f"{RUN}-error")  # fmt: skip
    assert failed_boot.code != 0
    name = f"{RUN}-half"
    booted = cli("boot", *site, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny", "--name", name)
    assert booted.code == 0, booted.err
    faults({"kind": "snapshot_killed", "site": PASSWORD_SITE, "count": 1})
    killed = cli("snapshot", "create", *site, "--server", name, "--name", f"{name}-snap")
    assert killed.code != 0
    faults({"kind": "error", "site": PASSWORD_SITE, "service": "compute", "method": "POST",
            "status": 503, "count": 2})  # fmt: skip
    cli("server", "stop", *site, name)  # retried or refused: either way its texts are searched
    assert cli("server", "delete", *site, name).code == 0
    cli("server", "delete", *site, f"{RUN}-error")  # an ERROR VM: its answer is searched too
    sweep(texts)


def test_cloud_outages_503_on_every_service(
    cli: Callable[..., Result],
    texts: Texts,
    sweep: Callable[..., None],
    faults: Callable[..., None],
) -> None:
    for service in ("image", "compute"):
        faults({"kind": "error", "site": PASSWORD_SITE, "service": service, "status": 503})
    faults({"kind": "error", "site": APP_CREDENTIAL_SITE, "service": "identity", "status": 503})
    assert cli("images", "--site", PASSWORD_SITE).code != 0
    assert cli("server", "list", "--site", PASSWORD_SITE, "--json").code != 0
    assert cli("snapshots", "list", "--site", PASSWORD_SITE).code != 0
    assert cli("images", "--site", APP_CREDENTIAL_SITE, "--json").code != 0
    assert cli("keypair", "list", "--site", APP_CREDENTIAL_SITE).code != 0
    assert cli("policy", "show", "--site", PASSWORD_SITE).code != 0
    sweep(texts)


def test_a_vm_lifecycle_through_the_cli(
    cli: Callable[..., Result],
    texts: Texts,
    sweep: Callable[..., None],
    vm_name: str,
    tmp_path: Path,
) -> None:
    site = ("--site", PASSWORD_SITE)
    booted = cli("boot", *site, "--image", "X2Go_xfce", "--flavor", "de.NBI tiny",
                 "--name", vm_name, "--json")  # fmt: skip
    assert booted.code == 0, booted.err
    assert cli("connect", *site, vm_name).code == 0
    assert cli("connect", *site, "--ssh-config", "--json", vm_name).code == 0
    session = tmp_path / "x2go-sessions"
    assert cli("connect", *site, "--x2go-session", str(session), vm_name).code == 0
    assert cli("policy", "set", *site, "--policy", "daily 02:00; tz=UTC; keep=1", vm_name).code == 0
    assert cli("policy", "preview", *site, "--json", vm_name).code == 0
    assert cli("policy", "show", *site, vm_name).code == 0
    assert cli("server", "stop", *site, "--json", vm_name).code == 0
    assert cli("server", "stop", *site, vm_name).code != 0  # refused: already stopped
    snap = f"{RUN}-snap"
    made = cli("snapshot", "create", *site, "--server", vm_name, "--name", snap, "--json")
    assert made.code == 0, made.err
    copied = cli("snapshot", "copy", *site, snap, "--to", APP_CREDENTIAL_SITE, "--json")
    assert copied.code == 0, copied.err
    assert cli("snapshots", "delete", "--site", APP_CREDENTIAL_SITE, "--yes", snap).code == 0
    assert cli("snapshots", "delete", *site, "--yes", "--json", snap).code == 0
    assert cli("server", "start", *site, vm_name).code == 0
    assert cli("server", "reboot", *site, vm_name).code == 0
    assert cli("policy", "clear", *site, vm_name).code == 0
    assert cli("server", "delete", *site, "--json", vm_name).code == 0
    assert cli("server", "delete", *site, vm_name).code != 0  # gone
    sweep(texts)


def test_the_local_cloud_command_started_on_the_canary_state(
    canary_cloud: CanaryCloud, canaries: Canaries, tmp_path: Path, sweep: Callable[..., None]
) -> None:
    """``denbi-jupyter local-cloud`` on a state folder whose password is the canary."""
    import shutil

    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(canary_cloud.cloud.state_dir / "credentials.json", state / "credentials.json")
    clouds = tmp_path / "lc-clouds.yaml"
    log = tmp_path / "local-cloud.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "denbi_jupyter", "local-cloud", "--port", "0", "--fast",
             "--no-ssh", "--state", str(state), "--clouds-yaml", str(clouds)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        from tests.panels._support import wait_until

        wait_until(lambda: clouds.exists() and clouds.stat().st_size > 0, timeout=60,
                   what="the local cloud's clouds.yaml")  # fmt: skip
        wait_until(lambda: b"ready at" in log.read_bytes() or child.poll() is not None,
                   timeout=30, what="the command's start message")  # fmt: skip
    finally:
        child.terminate()
        child.wait(30)
    canaries.skip(state)
    canaries.hold(clouds)
    sweep([("local-cloud output", log.read_text(errors="replace"))], prefect=False)


def test_an_openrc_environment_with_the_password_in_os_password(
    cli: Callable[..., Result],
    texts: Texts,
    sweep: Callable[..., None],
    canary_cloud: CanaryCloud,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``source openrc.sh`` puts the password in ``OS_PASSWORD``: openstacksdk's ``envvars``."""
    entry = canary_cloud.cloud.clouds_yaml()["clouds"][PASSWORD_SITE]["auth"]
    for key, value in {
        "OS_AUTH_URL": entry["auth_url"],
        "OS_USERNAME": entry["username"],
        "OS_PASSWORD": canary_cloud.password,
        "OS_PROJECT_NAME": entry["project_name"],
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
    }.items():
        monkeypatch.setenv(key, value)
    assert cli("sites", "--json").code == 0
    assert cli("images", "--site", "envvars", "--json").code == 0
    assert cli("server", "list", "--site", "envvars").code == 0
    assert cli("snapshots", "list", "--site", "envvars", "--json").code == 0
    assert cli("policy", "show", "--site", "envvars").code == 0
    monkeypatch.setenv("OS_PASSWORD", canary_cloud.wrong_password)
    assert cli("images", "--site", "envvars").code != 0
    sweep(texts)
