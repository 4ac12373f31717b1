"""The reachability probe's time bound, measured: the figures tests/connect/test_probe.py no
longer asserts (a test reading a clock fails on a loaded machine).

Run: ``.venv/bin/python benchmarks/connect_probe.py`` (a few seconds). Each figure is printed
beside its baseline, measured in the same run:

* a closed port on 127.0.0.1 with ``timeout=0.5``; baseline = a bare
  ``socket.create_connection`` to the same port (the refusal itself);
* a resolver that hangs, with ``timeout=0.2``; baseline = the timeout (target: the probe
  returns within the timeout plus 0.3 s of thread scheduling, whatever the resolver does).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from unittest import mock

from _common import median_ms

from denbi_jupyter.connect import probe_tcp

ROUNDS = 20


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        port: int = reserved.getsockname()[1]
    return port


def bare_connect(port: int) -> None:
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def main() -> int:
    port = closed_port()
    ours = median_ms(lambda: probe_tcp("127.0.0.1", port, timeout=0.5), ROUNDS, warm_up=True)
    bare = median_ms(lambda: bare_connect(port), ROUNDS, warm_up=True)
    print(f"closed port, timeout 0.5 s: probe {ours:.2f} ms, bare connect {bare:.2f} ms (median)")

    release = threading.Event()

    def hanging(*_: object, **__: object) -> list[object]:
        release.wait(60)
        raise OSError("released")

    with mock.patch.object(socket, "getaddrinfo", hanging):
        try:
            slow = median_ms(lambda: probe_tcp("slow.example.org", 22, timeout=0.2), 5)
        finally:
            release.set()
    met = slow <= 200 + 300
    print(
        f"hanging resolver, timeout 0.2 s: probe {slow:.0f} ms, baseline 200 ms (the timeout); "
        f"target ≤ 500 ms: {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
