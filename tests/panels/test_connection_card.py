"""The connection card: each way in with its readiness, copy buttons, a layout that fits.

The checks are injected (a recording TCP probe, a recording login check, a clock) except in the
last tests, where the card logs in for real to the SSH server of a local-cloud VM.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as w
import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.connect import LoginOutcome, LoginResult, ProbeResult, Readiness
from denbi_jupyter.panels import ConnectionCard, Shared, SiteClients
from denbi_jupyter.panels._html import copy_button
from tests.connect.test_ssh_login import LoginVm, keys, login_vm  # noqa: F401  (fixtures)
from tests.panels._support import shown, texts, vm_id, wait_until
from tests.panels.conftest import RecordingProbe
from tests.support.fake_cloud import FakeCloud
from tests.support.sites import loopback_site


@dataclass
class RecordingLogin:
    """A login check that answers ``outcome`` and records ``(host, port, user, key_path)``."""

    outcome: LoginOutcome = LoginOutcome.ACCEPTED
    reason: str = "logged in as ubuntu with the key"
    calls: list[tuple[str, int, str, str]] = field(default_factory=list)

    def __call__(self, host: str, port: int, user: str, key_path: str) -> LoginResult:
        self.calls.append((host, port, user, key_path))
        return LoginResult(
            host=host, port=port, user=user, outcome=self.outcome, reason=self.reason
        )


@dataclass
class Clock:
    """A clock the test moves."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


class _Attributes(HTMLParser):
    """The attributes of every element of one class in an HTML string."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls, self.found = cls, list[dict[str, str | None]]()

    def handle_starttag(self, _tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if self.cls in (values.get("class") or "").split():
            self.found.append(values)


def elements(html: str, cls: str) -> list[dict[str, str | None]]:
    parser = _Attributes(cls)
    parser.feed(html)
    return parser.found


def x2go_desk(fake: FakeCloud, status: str = "ACTIVE") -> str:
    """The id of a new VM ``desk`` from ``X2Go_xfce`` at 192.168.1.20 (gateway port 30276)."""
    image = next(i for i in fake.images.values() if i.name == "X2Go_xfce")
    return fake.add_server("desk", status=status, image_id=image.id, private_ipv4="192.168.1.20").id


def ssh_line(card: ConnectionCard) -> str:
    return next((way.text for way in card.ways_in() if way.way.value == "SSH"), "")


# --- what the card shows ----------------------------------------------------------------------
def test_card_shows_ssh_command_and_config_block_for_the_vm(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    card = ConnectionCard(shared, server_id=vm_id(fake, "vm1"), probe=probe)
    assert card.wait_idle()
    # fake site: gateway 192.0.2.1, port 30000 + 256*1 + 10 for 192.168.1.10
    assert card._ssh_command.value == "ssh -p 30266 ubuntu@192.0.2.1"
    assert "Host vm1\n    HostName 192.0.2.1\n    Port 30266" in card._ssh_config.value
    assert probe.calls == [("192.0.2.1", 30266)]
    assert "port 30266 reachable (3 ms)" in card._reach.value
    assert "No desktop on this image" in card._links.value


def test_unreachable_port_shows_a_red_badge_with_the_reason(
    fake: FakeCloud, shared: Shared
) -> None:
    login = RecordingLogin()
    card = ConnectionCard(
        shared, server_id=vm_id(fake, "vm1"), key_path="/keys/id", login_check=login,
        probe=RecordingProbe(reachable=False),
    )  # fmt: skip
    card.wait_idle()
    assert ssh_line(card) == "failed: port 30266 closed (connection refused)"
    assert "port 30266 closed (connection refused)" in card._reach.value
    assert "denbi-error" in card._reach.value
    assert login.calls == []  # a closed port is not logged in to


def test_live_badge_probes_the_real_port_on_loopback(listening_port: int) -> None:
    fake = FakeCloud(site=loopback_site(listening_port))
    vm = fake.add_server("vm1", key_name="laptop")
    card = ConnectionCard(Shared(SiteClients(fake), debounce_s=0, warm_up=False), server_id=vm.id)
    card.wait_idle()
    assert card._ssh_command.value == f"ssh -p {listening_port} ubuntu@127.0.0.1"
    assert "reachable (" in card._reach.value and "denbi-ok" in card._reach.value


def test_x2go_image_offers_a_session_file_download(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    card = ConnectionCard(shared, server_id=x2go_desk(fake), probe=probe)
    card.wait_idle()
    links = card._links.value
    assert 'download="desk.x2go-session.ini"' in links and "(XFCE)" in links
    encoded = links.split("base64,", 1)[1].split('"', 1)[0]
    session = base64.b64decode(encoded).decode()
    assert "command=XFCE" in session and "sshport=30276" in session and "host=192.0.2.1" in session


def test_guacamole_image_links_to_the_sites_guacamole(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    image = next(i for i in fake.images.values() if i.name.startswith("Guacamole"))
    vm = fake.add_server("guac", image_id=image.id)
    card = ConnectionCard(shared, server_id=vm.id, probe=probe)
    card.wait_idle()
    assert 'href="https://guacamole.fake.invalid/guacamole/#/client/' in card._links.value


def test_vm_without_an_address_explains_why_nothing_is_shown(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    vm = fake.add_server("early", status="BUILD", private_ipv4=None)
    card = ConnectionCard(shared, server_id=vm.id, probe=probe)
    card.wait_idle()
    assert "has no private IPv4 address yet (status BUILD)" in card._status.value
    assert not shown(card._details)
    assert probe.calls == []


def test_the_login_name_is_the_images_own(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    image = fake.add_image(
        "Rocky-9 de.NBI", tags=["base_image"], properties={"os_admin_user": "rocky"}
    )
    vm = fake.add_server("rocky", image_id=image.id, private_ipv4="192.168.1.40")
    login = RecordingLogin(reason="logged in as rocky with the key")
    card = ConnectionCard(shared, server_id=vm.id, probe=probe, key_path="/k/id", login_check=login)
    card.wait_idle()
    assert card._ssh_command.value == "ssh -i /k/id -p 30296 rocky@192.0.2.1"
    assert login.calls == [("192.0.2.1", 30296, "rocky", "/k/id")]


# --- readiness of each way in -------------------------------------------------------------------
def test_with_a_key_file_the_card_logs_in_after_the_port_answers(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    login = RecordingLogin()
    card = ConnectionCard(
        shared, server_id=vm_id(fake, "vm1"), probe=probe, key_path="~/.ssh/denbi",
        login_check=login,
    )  # fmt: skip
    card.wait_idle()
    assert probe.calls == [("192.0.2.1", 30266)]
    assert login.calls == [("192.0.2.1", 30266, "ubuntu", "~/.ssh/denbi")]
    assert ssh_line(card) == "ready: logged in as ubuntu with the key"
    assert (
        "denbi-ok" in card._reach.value and "logged in as ubuntu with the key" in card._reach.value
    )


def test_a_refused_key_fails_ssh_and_x2go_with_the_reason(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    desk = x2go_desk(fake)
    login = RecordingLogin(LoginOutcome.KEY_REFUSED, "key refused for user ubuntu")
    card = ConnectionCard(shared, server_id=desk, probe=probe, key_path="/k/id", login_check=login)
    card.wait_idle()
    assert [way.text for way in card.ways_in()] == [
        "failed: key refused for user ubuntu",
        "failed: needs SSH: key refused for user ubuntu",
    ]
    assert card._reach.value.count("denbi-error") == 2
    assert "X2Go session file" in card._links.value  # the download stays


def test_a_key_with_a_passphrase_says_it_cannot_be_checked(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    login = RecordingLogin(LoginOutcome.KEY_UNUSABLE, "key file has a passphrase: cannot check")
    card = ConnectionCard(
        shared, server_id=vm_id(fake, "vm1"), probe=probe, key_path="/k/id",
        login_check=login,
    )  # fmt: skip
    card.wait_idle()
    assert card.ways_in()[0].readiness is Readiness.UNKNOWN
    assert "key file has a passphrase: cannot check" in card._reach.value


def test_a_stopped_vm_has_every_way_in_not_yet_and_is_not_probed(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    desk = x2go_desk(fake, status="SHUTOFF")
    login = RecordingLogin()
    card = ConnectionCard(shared, server_id=desk, probe=probe, key_path="/k/id", login_check=login)
    card.wait_idle()
    assert [way.text for way in card.ways_in()] == ["not yet: VM is SHUTOFF"] * 2
    assert "not yet" in card._reach.value and "VM is SHUTOFF" in card._reach.value
    assert (probe.calls, login.calls) == ([], [])
    assert card._ssh_command.value == "ssh -i /k/id -p 30276 ubuntu@192.0.2.1"  # still shown


def test_guacamole_counts_down_its_15_minutes_and_check_again_updates_it(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    image = next(i for i in fake.images.values() if i.name.startswith("Guacamole"))
    vm = fake.add_server("guac", image_id=image.id)
    assert vm.created_at is not None
    clock = Clock(vm.created_at + dt.timedelta(minutes=3))
    card = ConnectionCard(shared, server_id=vm.id, probe=probe, clock=clock)
    card.wait_idle()
    guacamole = card.ways_in()[1]
    assert guacamole.text.startswith("not yet: about 12 min left: de.NBI's Guacamole")
    assert "about 12 min left" in card._reach.value
    assert 'class="denbi-guacamole-link"' in card._links.value  # the link is there meanwhile
    clock.now = vm.created_at + dt.timedelta(minutes=16)
    card._recheck.click()
    card.wait_idle()
    assert card.ways_in()[1].text == "ready"
    assert "about 12 min left" not in card._reach.value
    assert len(probe.calls) == 2


def test_check_again_reloads_the_vm_and_checks_again(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    vm1 = vm_id(fake, "vm1")
    login = RecordingLogin()
    card = ConnectionCard(shared, server_id=vm1, probe=probe, key_path="/k/id", login_check=login)
    card.wait_idle()
    assert (len(probe.calls), len(login.calls)) == (1, 1)
    card._recheck.click()
    card.wait_idle()
    assert (len(probe.calls), len(login.calls)) == (2, 2)
    fake.script_server(vm1, [("SHUTOFF", None)])
    card._recheck.click()
    card.wait_idle()
    assert ssh_line(card) == "not yet: VM is SHUTOFF"
    assert len(probe.calls) == 2


def test_checks_run_in_the_background_and_show_checking_meanwhile(
    fake: FakeCloud, shared: Shared
) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_probe(host: str, port: int) -> ProbeResult:
        started.set()
        release.wait(30)
        return ProbeResult(host=host, port=port, reachable=True, latency_ms=1.0)

    card = ConnectionCard(shared, server_id=vm_id(fake, "vm1"), probe=slow_probe)
    wait_until(started.is_set, what="the probe to start")
    wait_until(lambda: "checking" in card._reach.value, what="the checking badge")
    assert ssh_line(card) == "checking: probing port 30266"
    assert card._recheck.disabled
    release.set()
    # vm1 was booted without a key pair: reachable, but no key is known to be accepted
    wait_until(lambda: ssh_line(card).startswith("cannot check: port 30266 reachable"),
               what="the probe's answer")  # fmt: skip
    card.wait_idle()
    assert not card._recheck.disabled


# --- copy buttons and layout ----------------------------------------------------------------------
def test_copy_buttons_carry_the_ssh_command_and_the_config_block_exactly(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    card = ConnectionCard(shared, server_id=vm_id(fake, "vm1"), probe=probe, key_path="~/k")
    card.wait_idle()
    (command,) = elements(card._ssh_label.value, "denbi-copy")
    (config,) = elements(card._config_label.value, "denbi-copy")
    assert command["data-copy"] == card._ssh_command.value == "ssh -i ~/k -p 30266 ubuntu@192.0.2.1"
    assert config["data-copy"] == card._ssh_config.value
    assert "\n    Port 30266" in (config["data-copy"] or "")
    assert command["type"] == "button" and command["onclick"]


@pytest.mark.parametrize(
    "text", ['a"b', "<script>alert(1)</script>", "');alert(1);//", "x & y\nline 2", "it's"]
)
def test_copy_button_escapes_its_text_and_keeps_it_out_of_the_code(text: str) -> None:
    (button,) = elements(copy_button(text, label="Copy <id>", tooltip='say "hi"'), "denbi-copy")
    assert button["data-copy"] == text
    assert button["title"] == 'say "hi"'
    assert button["data-label"] == "Copy <id>"
    (plain,) = elements(copy_button("plain"), "denbi-copy")
    assert button["onclick"] == plain["onclick"]  # the text never enters the handler's code
    assert "<script>" not in copy_button(text)


# Runs a copy button's inline handler with a stub DOM: the text copied, the label shown.
_RUN_ONCLICK = """
const [code, text, secure] = JSON.parse(process.argv[1]);
const out = {copied: null, labels: []};
const area = {style: {}, setAttribute() {}, select() {}};
globalThis.window = {isSecureContext: secure};
globalThis.navigator = secure
  ? {clipboard: {writeText: async t => { out.copied = t; }}} : {};
globalThis.setTimeout = fn => fn();
globalThis.document = {createElement: () => area, body: {appendChild() {}, removeChild() {}},
  execCommand: () => { out.copied = area.value; return true; }};
const button = {attrs: {'data-copy': text, 'data-label': 'Copy'},
  getAttribute(k) { return this.attrs[k]; },
  set textContent(v) { out.labels.push(v); }};
new Function('event', code).call(button, {defaultPrevented: false, preventDefault() {}});
setImmediate(() => console.log(JSON.stringify(out)));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("secure", [True, False], ids=["clipboard-api", "textarea"])
def test_the_inline_fallback_copies_the_text_and_says_copied(secure: bool) -> None:
    text = "Host vm1\n    Port 30266 'quoted' \"double\""
    (button,) = elements(copy_button(text), "denbi-copy")
    args = json.dumps([button["onclick"], button["data-copy"], secure])
    done = subprocess.run(
        ["node", "-e", _RUN_ONCLICK, args], capture_output=True, text=True, timeout=30, check=True
    )
    out = json.loads(done.stdout)
    assert out == {"copied": text, "labels": ["Copied", "Copy"]}


def _widgets(root: w.Widget) -> Iterator[w.Widget]:
    yield root
    for child in getattr(root, "children", ()):
        yield from _widgets(child)


def test_the_card_fits_a_narrow_side_area(
    fake: FakeCloud, shared: Shared, probe: RecordingProbe
) -> None:
    card = ConnectionCard(shared, server_id=x2go_desk(fake), probe=probe)
    card.wait_idle()
    for area in (card._ssh_command, card._ssh_config):
        # No side label (it took 110 px of a ~350 px area); the label and copy button sit above.
        assert area.description == ""
        # "auto" in a column fills the card without the margin that made "100%" run over.
        assert (area.layout.width, area.layout.max_width, area.layout.min_width) == (
            "auto", "100%", "0",
        )  # fmt: skip
    for part in _widgets(card):
        assert not (part.layout.width or "").endswith("%"), part
        if isinstance(part, w.Box) and part is not card:
            assert part.layout.min_width == "0", part
    assert card.layout.max_width == "100%"
    row = next(p for p in _widgets(card) if isinstance(p, w.HBox))
    assert row.layout.flex_flow == "row wrap"
    # The reasons wrap: only the short readiness word is a no-wrap badge.
    assert "overflow-wrap:anywhere" in card._reach.value


def test_no_key_material_reaches_the_card(
    fake: FakeCloud,
    shared: Shared,
    probe: RecordingProbe,
    keys: dict[str, Path],  # noqa: F811
) -> None:
    login = RecordingLogin(LoginOutcome.KEY_REFUSED, "key refused for user ubuntu")
    key = keys["mine"]
    card = ConnectionCard(
        shared, server_id=vm_id(fake, "vm1"), probe=probe, key_path=str(key),
        login_check=login,
    )  # fmt: skip
    card.wait_idle()
    body = key.read_text().splitlines()[1]
    assert body not in texts(card) and body not in card._ssh_label.value


# --- against the local cloud's SSH ---------------------------------------------------------------
@pytest.fixture
def local_card(
    login_vm: LoginVm,  # noqa: F811
    keys: dict[str, Path],  # noqa: F811
) -> Iterator[Callable[[str], ConnectionCard]]:
    """``local_card(key)``: a card of the local cloud's login VM, its check with that key done."""
    clients = SiteClients(
        lambda name: open_site(name, config_file=login_vm.clouds_yaml), [login_vm.site]
    )
    state = Shared(clients, debounce_s=0.0, warm_up=False)

    def checked(key: str) -> ConnectionCard:
        card = ConnectionCard(
            state, site=login_vm.site, server_id=login_vm.server_id, key_path=str(keys[key])
        )
        wait_until(lambda: ssh_line(card).startswith(("ready", "failed")), what="the key check")
        return card

    yield checked
    state.close()


def test_the_card_logs_in_to_the_local_cloud_vm_with_its_key(
    login_vm: LoginVm,  # noqa: F811
    local_card: Callable[[str], ConnectionCard],
) -> None:
    card = local_card("mine")
    assert ssh_line(card) == "ready: logged in as ubuntu with the key"
    assert card._ssh_command.value.endswith(f"-p {login_vm.port} ubuntu@127.0.0.1")


def test_the_card_says_another_key_is_refused_by_the_local_cloud_vm(
    local_card: Callable[[str], ConnectionCard],
) -> None:
    card = local_card("other")
    assert ssh_line(card) == "failed: key refused for user ubuntu"
    assert "denbi-error" in card._reach.value


@dataclass
class OpensLater:
    """A probe that finds the port closed ``closed`` times, then open (sshd coming up)."""

    closed: int
    calls: int = 0

    def __call__(self, host: str, port: int) -> ProbeResult:
        self.calls += 1
        if self.calls <= self.closed:
            return ProbeResult(host=host, port=port, reachable=False, error="connection refused")
        return ProbeResult(host=host, port=port, reachable=True, latency_ms=1.0)


def test_a_just_started_vm_is_not_yet_reachable_and_the_card_checks_again_by_itself(
    fake: FakeCloud, shared: Shared
) -> None:
    """Right after ACTIVE the port is closed: "not yet", then ready without a click."""
    vm = fake.add_server("fresh", private_ipv4="192.168.1.30")
    assert vm.created_at is not None
    probe = OpensLater(closed=2)
    login = RecordingLogin()
    card = ConnectionCard(
        shared, server_id=vm.id, probe=probe, key_path="/k/id", login_check=login,
        clock=Clock(vm.created_at + dt.timedelta(seconds=20)),
    )  # fmt: skip
    wait_until(lambda: card.probe_result is not None, what="the first probe")
    assert ssh_line(card).startswith("not yet: port 30286 closed (connection refused): the VM")
    wait_until(lambda: ssh_line(card).startswith("ready"), what="SSH ready after the re-checks")
    assert probe.calls == 3 and len(login.calls) == 1


def test_a_vm_that_does_not_answer_long_after_it_started_fails_without_re_checking(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("old", private_ipv4="192.168.1.31")
    assert vm.created_at is not None
    probe = OpensLater(closed=99)
    card = ConnectionCard(
        shared, server_id=vm.id, probe=probe,
        clock=Clock(vm.created_at + dt.timedelta(hours=2)),
    )  # fmt: skip
    assert card.wait_idle()
    assert ssh_line(card) == "failed: port 30287 closed (connection refused)"
    assert probe.calls == 1
