"""Readiness of each way in: pure, from probe results, the server and an explicit time."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from denbi_jupyter.cloud.types import Server
from denbi_jupyter.connect import (
    Checks,
    ConnectionInfo,
    LoginOutcome,
    LoginResult,
    ProbeResult,
    Readiness,
    SessionType,
    WayIn,
    WayInStatus,
    ways_in,
)
from denbi_jupyter.connect.details import ConnectionDetails

BOOTED = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
INFO = ConnectionInfo(host="gw.example.org", port=30266, user="ubuntu", server_name="vm1")
PLAIN = ConnectionDetails(info=INFO, ssh_command="ssh …", ssh_config="Host vm1")
X2GO = replace(PLAIN, x2go_session_type=SessionType.XFCE, x2go_session="[vm1]")
GUACAMOLE = replace(PLAIN, guacamole_url="https://guac.example.org/#/client/abc")
OPEN = ProbeResult(host="gw.example.org", port=30266, reachable=True, latency_ms=3.0)
REFUSED = ProbeResult(
    host="gw.example.org", port=30266, reachable=False, error="connection refused"
)
SILENT = ProbeResult(
    host="gw.example.org", port=30266, reachable=False, error="no answer within 3 s"
)


def server(status: str = "ACTIVE", *, created_at: dt.datetime | None = BOOTED) -> Server:
    return Server(
        id="s1", name="vm1", status=status, task_state=None, project_id="p", image_id="i",
        flavor_id="f", flavor_name="de.NBI small", key_name="k", private_ipv4="192.168.1.10",
        created_at=created_at,
    )  # fmt: skip


def login(outcome: LoginOutcome, reason: str) -> LoginResult:
    return LoginResult(
        host="gw.example.org", port=30266, user="ubuntu", outcome=outcome, reason=reason
    )


def ssh_of(checks: Checks, vm: Server | None = None) -> WayInStatus:
    (ssh,) = ways_in(PLAIN, vm or server(), checks, now=BOOTED)
    return ssh


def test_plain_image_offers_only_ssh_and_desktops_add_theirs() -> None:
    checks, vm = Checks(port=OPEN), server()
    assert [s.way for s in ways_in(PLAIN, vm, checks, now=BOOTED)] == [WayIn.SSH]
    assert [s.way for s in ways_in(X2GO, vm, checks, now=BOOTED)] == [WayIn.SSH, WayIn.X2GO]
    assert [s.way for s in ways_in(GUACAMOLE, vm, checks, now=BOOTED)] == [
        WayIn.SSH,
        WayIn.GUACAMOLE,
    ]


def test_ssh_is_checking_while_the_port_probe_runs() -> None:
    assert ssh_of(Checks()).text == "checking: probing port 30266"


def test_open_port_without_a_key_file_is_ready_and_says_the_key_is_unchecked() -> None:
    assert ssh_of(Checks(port=OPEN)).text == (
        "ready: port 30266 reachable (3 ms); no key file to check"
    )


@pytest.mark.parametrize(
    ("probe", "text"),
    [
        (REFUSED, "failed: port 30266 closed (connection refused)"),
        (SILENT, "failed: port 30266 timed out (no answer within 3 s)"),
        (
            replace(REFUSED, error="Network is unreachable"),
            "failed: port 30266 not reachable: Network is unreachable",
        ),
    ],
)
def test_a_port_that_does_not_answer_fails_with_the_reason(probe: ProbeResult, text: str) -> None:
    long_ago = server(created_at=BOOTED - dt.timedelta(hours=1))
    assert ssh_of(Checks(port=probe, key_known=True), long_ago).text == text


def test_a_closed_port_of_a_vm_that_just_started_is_not_yet_ready() -> None:
    """Right after ACTIVE the SSH server is still coming up: not yet, and checked again."""
    status = ssh_of(Checks(port=REFUSED, key_known=True))
    assert status.readiness is Readiness.NOT_YET
    assert status.reason.startswith("port 30266 closed (connection refused): the VM just started")
    restarted = Checks(port=REFUSED, started=BOOTED - dt.timedelta(minutes=1))
    old_vm = server(created_at=BOOTED - dt.timedelta(days=3))
    assert ssh_of(restarted, old_vm).readiness is Readiness.NOT_YET
    assert ssh_of(replace(restarted, started=None), old_vm).readiness is Readiness.FAILED


def test_with_a_key_file_ssh_waits_for_the_login_check() -> None:
    status = ssh_of(Checks(port=OPEN, key_known=True))
    assert status.readiness is Readiness.CHECKING
    assert status.reason == "port 30266 reachable (3 ms); checking the key"


def test_an_accepted_key_is_ready() -> None:
    accepted = login(LoginOutcome.ACCEPTED, "logged in as ubuntu with the key")
    assert ssh_of(Checks(port=OPEN, login=accepted, key_known=True)).text == (
        "ready: logged in as ubuntu with the key"
    )


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (LoginOutcome.KEY_REFUSED, "key refused for user ubuntu"),
        (LoginOutcome.TIMED_OUT, "timed out: no login within 8 s"),
        (LoginOutcome.PORT_CLOSED, "port closed (connection refused)"),
    ],
)
def test_a_refused_or_silent_login_fails_with_its_reason(
    outcome: LoginOutcome, reason: str
) -> None:
    status = ssh_of(Checks(port=OPEN, login=login(outcome, reason), key_known=True))
    assert (status.readiness, status.reason) == (Readiness.FAILED, reason)


def test_a_key_with_a_passphrase_cannot_be_checked_but_the_port_is_open() -> None:
    unusable = login(LoginOutcome.KEY_UNUSABLE, "key file has a passphrase: cannot check")
    status = ssh_of(Checks(port=OPEN, login=unusable, key_known=True))
    assert status.readiness is Readiness.UNKNOWN
    assert status.text == (
        "cannot check: port 30266 reachable (3 ms); key file has a passphrase: cannot check"
    )


@pytest.mark.parametrize("status", ["SHUTOFF", "BUILD", "REBOOT", "SUSPENDED"])
def test_a_vm_that_is_not_active_has_every_way_in_not_yet(status: str) -> None:
    details = replace(X2GO, guacamole_url="https://guac.example.org/#/client/abc")
    found = ways_in(details, server(status), Checks(port=OPEN), now=BOOTED)
    assert [s.text for s in found] == [f"not yet: VM is {status}"] * 3


def test_a_vm_in_error_fails_every_way_in_with_its_fault() -> None:
    broken = replace(server("ERROR"), fault="No valid host was found")
    (ssh, x2go) = ways_in(X2GO, broken, Checks(port=OPEN), now=BOOTED)
    assert ssh.text == x2go.text == "failed: VM is ERROR (No valid host was found)"


def test_x2go_follows_ssh() -> None:
    refused = login(LoginOutcome.KEY_REFUSED, "key refused for user ubuntu")
    accepted = login(LoginOutcome.ACCEPTED, "logged in as ubuntu with the key")
    vm = server()

    def x2go(checks: Checks) -> str:
        return ways_in(X2GO, vm, checks, now=BOOTED)[1].text

    assert x2go(Checks()) == "checking: waits for the SSH check"
    assert x2go(Checks(port=OPEN, login=accepted, key_known=True)) == "ready: SSH is ready"
    assert x2go(Checks(port=OPEN, login=refused, key_known=True)) == (
        "failed: needs SSH: key refused for user ubuntu"
    )
    assert x2go(Checks(port=REFUSED, started=BOOTED - dt.timedelta(hours=1))) == (
        "failed: needs SSH: port 30266 closed (connection refused)"
    )


@pytest.mark.parametrize(
    ("since_boot", "text"),
    [
        (dt.timedelta(0), "not yet: about 15 min left"),
        (dt.timedelta(minutes=3, seconds=10), "not yet: about 12 min left"),
        (dt.timedelta(minutes=14, seconds=50), "not yet: about 1 min left"),
        (dt.timedelta(minutes=15), "ready"),
        (dt.timedelta(days=3), "ready"),
        (-dt.timedelta(minutes=2), "not yet: about 15 min left"),  # a clock behind Nova's
    ],
)
def test_guacamole_needs_about_15_minutes_after_boot(since_boot: dt.timedelta, text: str) -> None:
    status = ways_in(GUACAMOLE, server(), Checks(), now=BOOTED + since_boot)[1]
    assert status.way is WayIn.GUACAMOLE
    shown = status.text.split(":", 2)
    assert ":".join(shown[:2]) == text


def test_guacamole_says_why_it_waits() -> None:
    status = ways_in(GUACAMOLE, server(), Checks(), now=BOOTED)[1]
    assert status.reason == (
        "about 15 min left: de.NBI's Guacamole reaches a VM about 15 min after it became ACTIVE"
    )


def test_guacamole_without_a_creation_time_cannot_tell() -> None:
    status = ways_in(GUACAMOLE, server(created_at=None), Checks(), now=BOOTED)[1]
    assert status.readiness is Readiness.UNKNOWN
    assert "needs about 15 min after the VM became ACTIVE" in status.reason


def test_guacamole_does_not_wait_for_ssh() -> None:
    later = BOOTED + dt.timedelta(hours=1)
    ssh, guacamole = ways_in(GUACAMOLE, server(), Checks(port=REFUSED), now=later)
    assert (ssh.readiness, guacamole.readiness) == (Readiness.FAILED, Readiness.READY)


def test_a_vm_booted_without_a_key_pair_cannot_be_called_ready() -> None:
    keyless = replace(server(), key_name=None)
    status = ssh_of(Checks(port=OPEN), keyless)
    assert status.readiness is Readiness.UNKNOWN
    assert status.reason.endswith("booted without a key pair, so it may accept no key")
    assert ssh_of(Checks(port=OPEN)).readiness is Readiness.READY  # it has one: the port will do
