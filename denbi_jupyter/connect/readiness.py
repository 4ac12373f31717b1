"""Is each way into a VM ready? SSH, X2Go and Guacamole as ready / not yet / failed, with why.

:func:`ways_in` is pure: it takes the connection details, the server, what the probes found
(:class:`Checks`) and the time, and says for every way in the image offers how far it is, the
way Exosphere does. The probes themselves (:func:`~denbi_jupyter.connect.probe.probe_tcp`,
:func:`~denbi_jupyter.connect.ssh_login.check_ssh_login`) run elsewhere, in the background.

* **SSH** is ready when the gateway port answers and, when a key file is known, the VM accepts
  that key; it failed when the port is closed or silent or the key is refused. A VM that
  started less than :data:`SSH_START` ago gets "not yet" for a closed port instead: its SSH
  server is still coming up (the card checks again by itself meanwhile).
* **X2Go** (desktop images) runs over SSH, so it follows SSH's state and reason.
* **Guacamole** needs about :data:`GUACAMOLE_START` after the VM became ACTIVE before de.NBI's
  Guacamole reaches it. Nova gives no time of becoming ACTIVE, so the server's creation time
  stands in for it: a VM restarted later counts as ready at once.
* A VM that is not ACTIVE has every way in "not yet: VM is SHUTOFF" (failed for ERROR).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from denbi_jupyter.cloud.types import Server
from denbi_jupyter.connect.details import ConnectionDetails
from denbi_jupyter.connect.probe import ProbeResult
from denbi_jupyter.connect.ssh_login import LoginOutcome, LoginResult

__all__ = [
    "GUACAMOLE_START",
    "SSH_START",
    "Checks",
    "Readiness",
    "WayIn",
    "WayInStatus",
    "ways_in",
]

GUACAMOLE_START = dt.timedelta(minutes=15)
"""How long de.NBI's Guacamole needs after a VM became ACTIVE (de.NBI's documentation)."""
SSH_START = dt.timedelta(minutes=5)
"""How long a VM that just became ACTIVE may take to answer SSH (boot, cloud-init, sshd)."""

_FAILED_STATES = frozenset({"ERROR", "DELETED", "SOFT_DELETED"})


class Readiness(StrEnum):
    """How far one way in is."""

    READY = "ready"
    CHECKING = "checking"
    NOT_YET = "not yet"
    FAILED = "failed"
    UNKNOWN = "cannot check"


class WayIn(StrEnum):
    """A way into a VM."""

    SSH = "SSH"
    X2GO = "X2Go"
    GUACAMOLE = "Guacamole"


@dataclass(frozen=True, slots=True)
class WayInStatus:
    """One way in, how far it is, and why."""

    way: WayIn
    readiness: Readiness
    reason: str = ""

    @property
    def text(self) -> str:
        """``ready``, ``not yet: VM is SHUTOFF``, ``failed: key refused for user ubuntu``."""
        return f"{self.readiness.value}: {self.reason}" if self.reason else self.readiness.value


@dataclass(frozen=True, slots=True)
class Checks:
    """What the probes found so far.

    Attributes:
        port: The TCP probe of the gateway port; ``None`` while it runs (or before).
        login: The SSH login with the key file; ``None`` while it runs or when none is made.
        key_known: Whether a key file is known, so a login check is (or will be) made.
        started: When the VM last became ACTIVE, as far as the caller saw it (default: its
            creation time).
    """

    port: ProbeResult | None = None
    login: LoginResult | None = None
    key_known: bool = False
    started: dt.datetime | None = None


def _vm_state(server: Server) -> tuple[Readiness, str] | None:
    """Why no way in can work while the VM is not ACTIVE; ``None`` when it is."""
    status = server.status.upper()
    if status == "ACTIVE":
        return None
    if status in _FAILED_STATES:
        fault = f" ({server.fault})" if server.fault else ""
        return Readiness.FAILED, f"VM is {status}{fault}"
    return Readiness.NOT_YET, f"VM is {status}"


def _port_failure(port: ProbeResult) -> str:
    error = port.error or "no answer"
    if error == "connection refused":
        return f"port {port.port} closed (connection refused)"
    if error.startswith("no answer within"):
        return f"port {port.port} timed out ({error})"
    return f"port {port.port} not reachable: {error}"


def _starting(server: Server, checks: Checks, now: dt.datetime) -> bool:
    started = checks.started or server.created_at
    return started is not None and now - started < SSH_START


def _ssh(
    details: ConnectionDetails, checks: Checks, server: Server, now: dt.datetime
) -> WayInStatus:
    port = checks.port
    if port is None:
        return WayInStatus(WayIn.SSH, Readiness.CHECKING, f"probing port {details.port}")
    if not port.reachable:
        if _starting(server, checks, now):
            return WayInStatus(
                WayIn.SSH,
                Readiness.NOT_YET,
                f"{_port_failure(port)}: the VM just started and its SSH server is coming up; "
                "checking again",
            )
        return WayInStatus(WayIn.SSH, Readiness.FAILED, _port_failure(port))
    latency = f" ({port.latency_ms:.0f} ms)" if port.latency_ms is not None else ""
    reachable = f"port {details.port} reachable{latency}"
    if not checks.key_known and not server.key_name:
        return WayInStatus(
            WayIn.SSH,
            Readiness.UNKNOWN,
            f"{reachable}; the VM was booted without a key pair, so it may accept no key",
        )
    if not checks.key_known:
        return WayInStatus(WayIn.SSH, Readiness.READY, f"{reachable}; no key file to check")
    login = checks.login
    if login is None:
        return WayInStatus(WayIn.SSH, Readiness.CHECKING, f"{reachable}; checking the key")
    if login.accepted:
        return WayInStatus(WayIn.SSH, Readiness.READY, login.reason)
    if login.outcome is LoginOutcome.KEY_UNUSABLE:
        return WayInStatus(WayIn.SSH, Readiness.UNKNOWN, f"{reachable}; {login.reason}")
    return WayInStatus(WayIn.SSH, Readiness.FAILED, login.reason)


def _x2go(ssh: WayInStatus) -> WayInStatus:
    if ssh.readiness is Readiness.READY:
        return WayInStatus(WayIn.X2GO, Readiness.READY, "SSH is ready")
    if ssh.readiness is Readiness.CHECKING:
        return WayInStatus(WayIn.X2GO, Readiness.CHECKING, "waits for the SSH check")
    return WayInStatus(WayIn.X2GO, ssh.readiness, f"needs SSH: {ssh.reason}")


def _guacamole(server: Server, now: dt.datetime) -> WayInStatus:
    started = server.created_at
    if started is None:
        return WayInStatus(
            WayIn.GUACAMOLE,
            Readiness.UNKNOWN,
            f"start time unknown; Guacamole needs about {_minutes(GUACAMOLE_START)} min "
            "after the VM became ACTIVE",
        )
    left = GUACAMOLE_START - max(now - started, dt.timedelta(0))
    if left > dt.timedelta(0):
        minutes = max(1, math.ceil(left.total_seconds() / 60))
        return WayInStatus(
            WayIn.GUACAMOLE,
            Readiness.NOT_YET,
            f"about {minutes} min left: de.NBI's Guacamole reaches a VM about "
            f"{_minutes(GUACAMOLE_START)} min after it became ACTIVE",
        )
    return WayInStatus(WayIn.GUACAMOLE, Readiness.READY)


def _minutes(span: dt.timedelta) -> int:
    return round(span.total_seconds() / 60)


def ways_in(
    details: ConnectionDetails, server: Server, checks: Checks, *, now: dt.datetime
) -> tuple[WayInStatus, ...]:
    """Every way into ``server`` that its image offers, each with its readiness and reason.

    Args:
        details: What the card shows (which ways in the image offers).
        server: The VM (status, fault, creation time).
        checks: What the port probe and the login check found so far.
        now: The current time (timezone-aware, like the server's timestamps).

    Returns:
        SSH first, then X2Go (desktop images) and Guacamole (where the image offers one).
    """
    offered = [WayIn.SSH]
    if details.x2go_session_type is not None:
        offered.append(WayIn.X2GO)
    if details.guacamole_url:
        offered.append(WayIn.GUACAMOLE)
    state = _vm_state(server)
    if state is not None:
        return tuple(WayInStatus(way, *state) for way in offered)
    ssh = _ssh(details, checks, server, now)
    found = {WayIn.SSH: ssh, WayIn.X2GO: _x2go(ssh), WayIn.GUACAMOLE: _guacamole(server, now)}
    return tuple(found[way] for way in offered)
