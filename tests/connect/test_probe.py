"""The TCP reachability probe: real sockets on 127.0.0.1, bounded time, never raises.

No test here reads a clock: the bound is checked as the timeout handed to the socket and as the
order of events (the probe returns while the resolver is still blocked). The wall-clock figures
are printed by ``benchmarks/connect_probe.py``.
"""

from __future__ import annotations

import socket
import threading

import pytest

from denbi_jupyter.connect import MAX_PROBE_TIMEOUT, ProbeResult, probe_tcp
from denbi_jupyter.errors import UserInputError


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        port: int = reserved.getsockname()[1]
    return port  # bound once, now closed: nothing listens there


def test_listening_port_is_reachable(listening_port: int) -> None:
    result = probe_tcp("127.0.0.1", listening_port, timeout=2.0)
    assert result.reachable
    assert result.error is None
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert (result.host, result.port) == ("127.0.0.1", listening_port)


def test_host_name_is_resolved(listening_port: int) -> None:
    assert probe_tcp("localhost", listening_port, timeout=2.0).reachable


def test_closed_port_is_unreachable_without_raising(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeouts: list[float | None] = []

    class RecordingSocket(socket.socket):
        def settimeout(self, value: float | None) -> None:
            timeouts.append(value)
            super().settimeout(value)

    monkeypatch.setattr(socket, "socket", RecordingSocket)
    result = probe_tcp("127.0.0.1", closed_port, timeout=0.5)
    assert timeouts, "the probe connected without a socket timeout"
    assert all(t is not None and 0 < t <= 0.5 for t in timeouts)
    assert result == ProbeResult(
        host="127.0.0.1", port=closed_port, reachable=False, error="connection refused"
    )


def test_unresolvable_host_is_reported_not_raised() -> None:
    result = probe_tcp("no-such-host.invalid", 22, timeout=2.0)
    assert not result.reachable
    assert result.latency_ms is None
    assert result.error is not None and "no-such-host.invalid" in result.error


def test_slow_name_resolution_is_cut_off_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    resolver_returned = threading.Event()

    def hanging_getaddrinfo(*_: object, **__: object) -> list[object]:
        release.wait(60)  # released by the test once the probe has returned
        resolver_returned.set()
        raise OSError("resolver released")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    try:
        result = probe_tcp("slow.example.org", 22, timeout=0.2)
        returned_first = not resolver_returned.is_set()
    finally:
        release.set()
    assert returned_first, "the probe waited for the resolver instead of its timeout"
    assert not result.reachable
    assert result.error is not None and "longer than 0.2 s" in result.error


def test_connect_timeout_is_reported_as_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    class SilentSocket(socket.socket):
        def connect(self, _address: object) -> None:
            raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "socket", SilentSocket)
    result = probe_tcp("127.0.0.1", 22, timeout=0.3)
    assert not result.reachable
    assert result.error == "no answer within 0.3 s"


@pytest.mark.parametrize(
    ("host", "port", "timeout"),
    [
        ("127.0.0.1", 0, 1.0),
        ("127.0.0.1", 65536, 1.0),
        ("127.0.0.1", True, 1.0),
        ("127.0.0.1", 22, 0.0),
        ("127.0.0.1", 22, -1.0),
        ("127.0.0.1", 22, MAX_PROBE_TIMEOUT + 1),
        ("", 22, 1.0),
    ],
)
def test_caller_mistakes_raise_user_input_error(host: str, port: int, timeout: float) -> None:
    with pytest.raises(UserInputError):
        probe_tcp(host, port, timeout=timeout)
