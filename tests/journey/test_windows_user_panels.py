"""A Windows user's story through the panels, with real widgets, flows, ``puttygen`` and ``ssh``.

The story of ``test_windows_user_cli.py`` clicked through one :class:`CloudPanel`: Connect
converts a ``.ppk`` with a passphrase and imports it as a key pair; Images boots ``X2Go_xfce``
with it and ``ssh`` logs in with the card's config block; Snapshots snapshots and relaunches it
(X2Go session file: XFCE); Servers stops, starts and deletes, and refuses to delete a VM whose
snapshot uploads. The module has a cloud of its own (``module_cloud``): the key pair a boot form
preselects depends on the VMs and key pairs other stories leave. Tests run in file order.
"""

from __future__ import annotations

import base64
import configparser
import html
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w
import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud._keypairs import sha256_fingerprint
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import SnapshotResult
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.connect import Readiness, WayIn, WayInStatus
from denbi_jupyter.connect.key_registry import STATE_DIR_ENV
from denbi_jupyter.panels import CloudPanel, Shared, SiteClients
from denbi_jupyter.panels._connection_card import ConnectionCard
from denbi_jupyter.panels._server_rows import ServerRow
from denbi_jupyter.panels.cloud_panel import TAB_TITLES
from denbi_jupyter.panels.jobs_view import JobCard, JobList
from tests.panels._support import shown, texts, wait_until
from tests.support.keys import ssh_keygen_key
from tests.support.puttygen import puttygen_public_key, run_puttygen
from tests.support.ssh import accepts

from .conftest import SITE
from .test_windows_user_cli import _ssh as ssh_with_config

pytestmark = pytest.mark.timeout(300)

PASSPHRASE = "correct horse battery staple"
KEY_NAME = "windows-laptop"
FLAVOR = "de.NBI tiny"
DESKTOP_IMAGE = "X2Go_xfce"
#: How long a flow, a login check or a list may take on a busy 2-core machine.
SLOW = 120.0


@dataclass(frozen=True, slots=True)
class Vm:
    """A VM the story booted."""

    id: str
    name: str


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's working folder (the notebook's)."""
    return tmp_path_factory.mktemp("windows-user-panels")


@pytest.fixture(scope="module")
def cloud(module_clouds_yaml: Path) -> CloudClient:
    """An in-process client of the module's site, for checks between the clicks."""
    return open_site(SITE, config_file=module_clouds_yaml)


@pytest.fixture(scope="module")
def panel(
    tools: dict[str, str],  # skips first when a tool is missing
    prefect_harness: None,
    module_clouds_yaml: Path,
    folder: Path,
) -> Iterator[CloudPanel]:
    """The whole plugin on the module's cloud, with real flows and a fresh key registry."""
    from denbi_jupyter.jobs import JobRunner

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STATE_DIR_ENV, str(folder / "state"))  # no boot key of another story
        runner = JobRunner()
        runner.warm_up()
        clients = SiteClients(lambda name: open_site(name, config_file=module_clouds_yaml), [SITE])
        shared = Shared(clients, debounce_s=0.0, warm_up=False, runner=runner)
        (folder / "keys").mkdir()
        cloud_panel = CloudPanel(shared=shared, key_dir=folder / "keys")
        assert cloud_panel.wait_idle(SLOW)
        try:
            yield cloud_panel
        finally:
            cloud_panel.close()
            shared.close()


@pytest.fixture(scope="module")
def user_key(tools: dict[str, str], folder: Path) -> tuple[Path, str]:
    """A passphrase-protected Ed25519 ``.ppk`` from ``puttygen``, and its public key."""
    secret = folder / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    ppk = folder / "laptop.ppk"
    run_puttygen("-t", "ed25519", "-q", "-C", "laptop", "-o", ppk, "--new-passphrase", secret)
    public = puttygen_public_key(ppk, secret)
    secret.unlink()  # only the user knows it now
    return ppk, public


@pytest.fixture(scope="module")
def other_key(tools: dict[str, str], folder: Path) -> Path:
    """A key of somebody else (``ssh-keygen``), never imported."""
    return ssh_keygen_key(folder / "id_other", "other")


# --- what a user does and sees ------------------------------------------------------------------
def _open_tab(panel: CloudPanel, title: str) -> None:
    """Click a tab (the panel refreshes what that tab lists) and wait for its loads."""
    panel.tabs.selected_index = TAB_TITLES.index(title)
    assert panel.wait_idle(SLOW)


def _card_titled(jobs: JobList, title: str) -> JobCard | None:
    found = (c for c in jobs.cards if isinstance(c, JobCard) and c.job.title == title)
    return next(found, None)


def _finished(jobs: JobList, title: str) -> JobCard:
    """The card of the job titled ``title``, once its job has ended successfully."""
    wait_until(lambda: _card_titled(jobs, title), SLOW, f"the card of {title!r}")
    card = _card_titled(jobs, title)
    assert card is not None
    assert card.job.wait(SLOW), f"{title!r} did not end"
    wait_until(lambda: card.state != "running", SLOW, f"the card of {title!r} to end")
    assert card.state == "completed", card.job.error
    return card


def _checked(card: ConnectionCard) -> WayInStatus:
    """The card's SSH way in, once its probe and key check have ended."""

    def ssh() -> WayInStatus | None:
        way = next((way for way in card.ways_in() if way.way is WayIn.SSH), None)
        return None if way is None or way.readiness is Readiness.CHECKING else way

    wait_until(ssh, SLOW, "the card's SSH checks")
    way = ssh()
    assert way is not None
    return way


def _ssh_config_file(folder: Path, card: ConnectionCard, key: Path | None = None) -> Path:
    """The card's ``~/.ssh/config`` block in a file (another key's path in it, if given)."""
    block = card._ssh_config.value
    if key is not None:
        block = re.sub(r"IdentityFile .*", f"IdentityFile {key}", block)
    config = folder / f"ssh_config-{card.target.server.name}-{key.name if key else 'own'}"
    config.write_text(block)
    return config


def _ssh(
    tools: dict[str, str], folder: Path, config: Path, command: str
) -> subprocess.CompletedProcess[str]:
    host = config.read_text().splitlines()[0].removeprefix("Host ").strip()
    return ssh_with_config(tools, folder, config, host, command)


def _x2go_session(card: ConnectionCard) -> configparser.SectionProxy:
    """The X2Go session file the card's download link holds, parsed."""
    found = re.search(r'href="data:text/plain;charset=utf-8;base64,([^"]+)"', card._links.value)
    assert found, card._links.value
    sessions = configparser.ConfigParser(interpolation=None)
    sessions.read_string(base64.b64decode(found.group(1)).decode("utf-8"))
    (section,) = sessions.sections()
    return sessions[section]


def _row(panel: CloudPanel, vm: Vm) -> ServerRow:
    return next(row for row in panel.servers._rows.rows if row.server_id == vm.id)


def shown_confirmation(panel: CloudPanel) -> bool:
    return panel.servers._confirm in panel.servers._rows.shown


def _status(panel: CloudPanel, vm: Vm) -> str:
    listed = panel.servers.server(vm.id)
    return listed.status if listed is not None else "gone"


# --- the story ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def private_key(panel: CloudPanel, user_key: tuple[Path, str]) -> Path:
    """The Connect tab converts the ``.ppk`` with its passphrase: the OpenSSH key's path."""
    _open_tab(panel, "Connect")
    connect = panel.connection
    ppk, _public = user_key
    data = ppk.read_bytes()
    entry = {"name": ppk.name, "type": "", "size": len(data),
             "content": memoryview(data), "last_modified": 0}  # fmt: skip
    connect._upload.set_state({"value": [entry]})  # what the browser sends
    connect._passphrase.value = PASSPHRASE
    connect._save_as.value = "id_laptop"
    connect._convert.click()
    assert panel.wait_idle(SLOW)
    assert "Saved" in connect._key_box.value, connect._key_box.value
    return Path(panel.connection.key_dir) / "id_laptop"


@pytest.fixture(scope="module")
def imported(panel: CloudPanel, private_key: Path) -> str:
    """Click "Import as key pair" under the story's name: the key pair's name."""
    connect = panel.connection
    assert shown(connect._import_row)
    connect._import_name.value = KEY_NAME
    connect._import.click()
    assert panel.wait_idle(SLOW)
    wait_until(lambda: not connect.key_pairs.loading, SLOW, "the key pair list")
    return KEY_NAME


@pytest.fixture(scope="module")
def desktop_vm(panel: CloudPanel, imported: str) -> Vm:
    """The Images tab boots ``X2Go_xfce`` with the preselected key pair."""
    _open_tab(panel, "Images")
    images = panel.images
    image = next(i for i in images.images if i.name == DESKTOP_IMAGE)
    images.select(image.id)
    assert images._boot_key.value == imported  # the key pair just imported is preselected
    images._boot_flavor.value = next(f.id for f in images.flavors if f.name == FLAVOR)
    images._boot_name.value = "win-desk"
    images._boot_button.click()
    _finished(images.jobs, f"Boot win-desk from {DESKTOP_IMAGE}")
    wait_until(lambda: images._connections.children, SLOW, "the connection card")
    assert panel.wait_idle(SLOW)
    card = images._connections.children[0]
    assert isinstance(card, ConnectionCard)
    return Vm(card.server_id, "win-desk")


@pytest.fixture(scope="module")
def snapshot(panel: CloudPanel, desktop_vm: Vm) -> SnapshotResult:
    """The Snapshots tab's create form snapshots the desktop VM: the job's result."""
    _open_tab(panel, "Snapshots")
    create = panel.snapshots.create
    create._server.value = desktop_vm.id
    create._name.value = "win-desk-snap"
    wait_until(lambda: not create._go.disabled, SLOW, "the pre-flight checks to pass")
    create._go.click()
    card = _finished(panel.snapshots.jobs, "Snapshot win-desk → win-desk-snap")
    assert isinstance(card.job.result, SnapshotResult)
    return card.job.result


@pytest.fixture(scope="module")
def relaunched(panel: CloudPanel, snapshot: SnapshotResult) -> Vm:
    """The snapshot's row starts a VM from it (the relaunch form), with the same key pair."""
    snapshots = panel.snapshots

    def row_button() -> w.Button | None:
        rows = snapshots.table.rows_view.rows
        row = next((row for row in rows if row.snapshot_id == snapshot.image_id), None)
        return row.launch if row is not None and not row.launch.disabled else None

    wait_until(row_button, SLOW, "the snapshot's row with its start-VM button")
    button = row_button()
    assert button is not None
    button.click()
    form = snapshots.relaunch
    assert shown(form) and form._key_pick.value == KEY_NAME
    assert form._flavor.value == next(f.id for f in form.flavors if f.name == FLAVOR)
    form._name.value = "win-again"
    form._go.click()
    _finished(snapshots.jobs, f"Start win-again from {snapshot.name}")
    _open_tab(panel, "Servers")
    server = next(s for s in panel.servers.servers if s.name == "win-again")
    return Vm(server.id, server.name)


def test_the_putty_key_becomes_an_openssh_key_pair_the_cloud_knows(
    panel: CloudPanel,
    cloud: CloudClient,
    user_key: tuple[Path, str],
    private_key: Path,
    imported: str,
) -> None:
    _ppk, puttygen_public = user_key
    assert private_key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    public = private_key.with_name("id_laptop.pub")
    assert public.read_text().split()[:2] == puttygen_public.split()[:2]
    (pair,) = [pair for pair in cloud.list_keypairs() if pair.name == imported]
    assert pair.sha256_fingerprint == sha256_fingerprint(puttygen_public)
    connect = panel.connection
    said = html.unescape(connect._key_box.value)
    assert f"Imported key pair {imported!r} on {SITE}" in said
    assert str(private_key) in said
    assert not shown(connect._import_row)  # imported: nothing more to offer
    assert imported in texts(connect.key_pairs._rows)
    assert connect._passphrase.value == "" and not connect._upload.value


def test_the_boot_card_logs_in_with_the_converted_key(
    panel: CloudPanel, tools: dict[str, str], folder: Path, private_key: Path, desktop_vm: Vm
) -> None:
    card = panel.images._connections.children[0]
    assert isinstance(card, ConnectionCard)
    assert card.target.server.status == "ACTIVE" and card.target.server.key_name == KEY_NAME
    assert f"IdentityFile {private_key}\n" in card._ssh_config.value
    ssh = _checked(card)
    assert ssh.readiness is Readiness.READY, ssh.reason
    assert card.login_result.accepted and ssh.reason.startswith("logged in as ubuntu")
    assert "ready" in card._reach.value and html.escape(ssh.reason) in card._reach.value
    config = _ssh_config_file(folder, card)
    answer = _ssh(tools, folder, config, "hostname")
    assert (answer.returncode, answer.stdout) == (0, f"{desktop_vm.name}\n"), answer.stderr
    connect = panel.connection  # the boot switched the Connect tab to the new VM
    assert connect.server_id == desktop_vm.id
    wait_until(lambda: connect.card.details is not None, SLOW, "the Connect tab's card")
    assert f"IdentityFile {private_key}\n" in connect.card._ssh_config.value


def test_ssh_with_another_key_is_refused(
    panel: CloudPanel, tools: dict[str, str], folder: Path, other_key: Path, desktop_vm: Vm
) -> None:
    card = panel.images._connections.children[0]
    assert isinstance(card, ConnectionCard) and card.server_id == desktop_vm.id
    refused = _ssh(tools, folder, _ssh_config_file(folder, card, other_key), "hostname")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr
    assert refused.stdout == ""


def test_a_vm_relaunched_from_the_snapshot_is_an_xfce_desktop_with_the_same_login(
    panel: CloudPanel,
    cloud: CloudClient,
    tools: dict[str, str],
    folder: Path,
    private_key: Path,
    desktop_vm: Vm,
    snapshot: SnapshotResult,
    relaunched: Vm,
) -> None:
    stored = cloud.get_snapshot(snapshot.image_id)
    assert stored is not None and stored.status == "active"
    assert (snapshot.name, snapshot.server_id) == ("win-desk-snap", desktop_vm.id)
    _open_tab(panel, "Connect")
    connect = panel.connection
    assert connect.server_id == relaunched.id  # the relaunch showed its VM in the Connect tab
    wait_until(lambda: connect.card.details is not None, SLOW, "the card of the relaunched VM")
    card = connect.card
    assert card.target.server.name == relaunched.name
    assert "X2Go session file (XFCE)" in card._links.value
    session = _x2go_session(card)
    assert session["command"] == "XFCE"
    assert (session["host"], session["user"]) == ("127.0.0.1", "ubuntu")
    assert session["key"] == str(private_key)
    ssh = _checked(card)
    assert ssh.readiness is Readiness.READY and card.login_result.accepted, ssh.reason
    answer = _ssh(tools, folder, _ssh_config_file(folder, card), "hostname")
    assert (answer.returncode, answer.stdout) == (0, f"{relaunched.name}\n"), answer.stderr


def _click(panel: CloudPanel, vm: Vm, action: ServerAction) -> None:
    button = _row(panel, vm).buttons[action]
    assert not button.disabled, button.tooltip
    button.click()


def test_stop_and_start_in_the_servers_tab_and_ssh_follows_the_vm(
    panel: CloudPanel, tools: dict[str, str], folder: Path, relaunched: Vm
) -> None:
    _open_tab(panel, "Connect")
    panel.connection._server_select.value = relaunched.id
    wait_until(lambda: panel.connection.card.details is not None, SLOW, "the card")
    config = _ssh_config_file(folder, panel.connection.card)
    port = panel.connection.card.connection_info().port
    servers = panel.servers
    _open_tab(panel, "Servers")
    _click(panel, relaunched, ServerAction.STOP)
    _finished(servers.jobs, f"Stop {relaunched.name}")
    wait_until(lambda: _status(panel, relaunched) == "SHUTOFF", SLOW, "the row to say SHUTOFF")
    assert "SHUTOFF" in _row(panel, relaunched).title.value
    wait_until(lambda: not accepts(port), SLOW, "SSH to stop with the VM")
    down = _ssh(tools, folder, config, "hostname")
    assert down.returncode == 255 and "Connection refused" in down.stderr

    _click(panel, relaunched, ServerAction.START)
    _finished(servers.jobs, f"Start {relaunched.name}")
    wait_until(lambda: _status(panel, relaunched) == "ACTIVE", SLOW, "the row to say ACTIVE")
    wait_until(lambda: accepts(port), SLOW, "SSH to return with the VM")
    assert _ssh(tools, folder, config, "hostname").stdout == f"{relaunched.name}\n"


def test_delete_is_refused_while_a_snapshot_of_the_vm_uploads(
    panel: CloudPanel, cloud: CloudClient, desktop_vm: Vm, module_faults: Callable[..., None]
) -> None:
    module_faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})
    # Another session (e.g. ``snapshot create --no-wait``) starts a snapshot that never ends.
    cloud.create_snapshot(desktop_vm.id, name="win-desk-stuck", metadata={})
    servers = panel.servers

    def uploading() -> bool:
        servers._refresh.click()
        assert panel.wait_idle(SLOW)
        listed = panel.servers.server(desktop_vm.id)
        return listed is not None and listed.task_state == "image_uploading"

    wait_until(uploading, SLOW, "the row to show the snapshot uploading")
    row = _row(panel, desktop_vm)
    reason = row.buttons[ServerAction.DELETE].tooltip
    assert row.buttons[ServerAction.DELETE].disabled
    assert "is taking a snapshot (image_uploading)" in reason
    assert reason in html.unescape(row.note.value)
    servers.act(desktop_vm.id, ServerAction.DELETE)  # a click on a row shown before the refresh
    assert not servers.confirm_id and not shown_confirmation(panel)
    assert "is taking a snapshot (image_uploading)" in _row(panel, desktop_vm).note.value
    servers._refresh.click()
    assert panel.wait_idle(SLOW)
    still = cloud.get_server(desktop_vm.id)
    assert still is not None and still.status == "ACTIVE"
    assert panel.servers.server(desktop_vm.id) is not None


def test_delete_asks_first_and_the_vm_leaves_the_list(
    panel: CloudPanel, cloud: CloudClient, relaunched: Vm
) -> None:
    servers = panel.servers
    _click(panel, relaunched, ServerAction.DELETE)
    assert servers.confirm_id == relaunched.id and shown_confirmation(panel)
    assert f"Delete VM {relaunched.name}" in servers._confirm_html.value
    assert cloud.get_server(relaunched.id) is not None  # nothing is deleted before the yes
    servers._confirm_yes.click()
    _finished(servers.jobs, f"Delete {relaunched.name}")
    wait_until(lambda: _status(panel, relaunched) == "gone", SLOW, "the VM to leave the list")
    assert relaunched.name not in texts(servers._rows)
    assert cloud.get_server(relaunched.id) is None


def test_no_widget_shows_the_private_key_or_the_passphrase(
    panel: CloudPanel, private_key: Path, module_clouds_yaml: Path
) -> None:
    import yaml

    password = yaml.safe_load(module_clouds_yaml.read_text())["clouds"][SITE]["auth"]["password"]
    shown_text = texts(panel)  # every tab, the job cards and the activity log
    secret_lines = private_key.read_text().splitlines()[2:-1]
    assert "PRIVATE KEY" not in shown_text
    assert secret_lines and not [line for line in secret_lines if line in shown_text]
    assert PASSPHRASE not in shown_text
    assert password not in shown_text


def test_the_images_tab_offers_a_key_pair_made_in_the_connect_tab(tmp_path: Path) -> None:
    from tests.panels.conftest import seeded_cloud

    shared = Shared(SiteClients(seeded_cloud()), debounce_s=0.0, warm_up=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
        fake_panel = CloudPanel(shared=shared, key_dir=tmp_path)
    try:
        assert fake_panel.wait_idle(SLOW)
        _open_tab(fake_panel, "Connect")
        pairs = fake_panel.connection.key_pairs
        pairs._gen_name.value, pairs._gen_file.value = "laptop", "id_laptop"
        pairs._generate.click()
        assert fake_panel.wait_idle(SLOW)
        assert "laptop" in [k.name for k in pairs.keypairs]
        _open_tab(fake_panel, "Images")
        fake_panel.images._reload.click()
        assert fake_panel.wait_idle(SLOW)
        offered = [value for _, value in fake_panel.images._boot_key.options]
        assert "laptop" in offered
        assert fake_panel.images._boot_key.value == "laptop"
    finally:
        fake_panel.close()
        shared.close()
