"""A bounded TCP reachability probe for the "port reachable" badge.

:func:`probe_tcp` opens and closes one TCP connection. It never raises for network trouble:
refused, unreachable, timed out and unresolvable hosts all come back as a result with
``reachable=False`` and a short error text. The whole probe, name resolution included, ends
within ``timeout`` seconds (plus scheduling noise).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from denbi_jupyter.connect._checks import check_port, check_timeout
from denbi_jupyter.errors import UserInputError

__all__ = ["MAX_PROBE_TIMEOUT", "ProbeResult", "probe_tcp"]

MAX_PROBE_TIMEOUT = 30.0
"""The longest timeout :func:`probe_tcp` accepts, in seconds."""

_AddrInfo = Sequence[tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe.

    Attributes:
        host: The host that was probed.
        port: The TCP port that was probed.
        reachable: Whether a TCP connection was established.
        latency_ms: Time to establish the connection, in milliseconds; ``None`` if none was.
        error: Why the port is not reachable, in a few words; ``None`` when it is.
    """

    host: str
    port: int
    reachable: bool
    latency_ms: float | None = None
    error: str | None = None


def _resolve(host: str, port: int, timeout: float) -> _AddrInfo | str:
    """Resolve ``host`` within ``timeout`` seconds; return the addresses or an error text."""
    outcome: list[_AddrInfo | str] = []

    def run() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except UnicodeError:
            outcome.append(f"{host!r} is not a valid host name")
        except OSError as exc:
            outcome.append(f"cannot resolve {host!r}: {exc.strerror or exc}")

    # getaddrinfo ignores socket timeouts, so a slow resolver is waited for in a thread.
    worker = threading.Thread(target=run, name="denbi-probe-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return f"resolving {host!r} took longer than {timeout:g} s"
    return outcome[0]


def _describe(exc: OSError, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or type(exc).__name__


def probe_tcp(host: str, port: int, *, timeout: float = 3.0) -> ProbeResult:
    """Try one TCP connection to ``host:port`` and report whether it worked.

    Args:
        host: Host name or IP address.
        port: TCP port, 1..65535.
        timeout: Upper bound for the whole probe in seconds, at most ``MAX_PROBE_TIMEOUT``.

    Returns:
        The result; network failures are reported in it, never raised.

    Raises:
        UserInputError: ``host`` is empty, or ``port`` or ``timeout`` is out of range (a
            caller's mistake, not a network failure).
    """
    if not isinstance(host, str) or not host.strip():
        raise UserInputError(f"{host!r} is not a host name; give the gateway's name or address.")
    host = host.strip()
    check_port(port)
    check_timeout(timeout, maximum=MAX_PROBE_TIMEOUT, what="Probe timeout")
    deadline = time.monotonic() + timeout
    resolved = _resolve(host, port, timeout)
    if isinstance(resolved, str):
        return ProbeResult(host=host, port=port, reachable=False, error=resolved)
    error = f"no address found for {host!r}"
    for family, kind, proto, _, address in resolved:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            error = f"no answer within {timeout:g} s"
            break
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(remaining)
                started = time.perf_counter()
                sock.connect(address)
                latency = (time.perf_counter() - started) * 1000.0
        except OSError as exc:
            error = _describe(exc, timeout)
            continue
        return ProbeResult(host=host, port=port, reachable=True, latency_ms=round(latency, 2))
    return ProbeResult(host=host, port=port, reachable=False, error=error)
