"""Polling helpers with deadlines: ports, HTTP endpoints, arbitrary conditions."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

__all__ = ["NotReadyError", "http_status", "wait_for_http", "wait_for_port", "wait_until"]


class NotReadyError(TimeoutError):
    """A service did not become ready in time; the message names it and its log."""


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    died: Callable[[], bool] | None = None,
) -> float:
    """Polls `check` until it returns True; returns the seconds it took.

    `died`, if given, is asked between polls: once it says the process is gone, waiting
    stops at once with an error instead of running into the timeout.
    """
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if died is not None and died():
            raise NotReadyError(f"{what}: the process exited")
        if time.monotonic() - start > timeout:
            raise NotReadyError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(interval)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float, what: str) -> float:
    return wait_until(lambda: port_open(host, port), timeout=timeout, what=what)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET (redirects not followed), or None if nothing answers."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def wait_for_http(
    url: str, *, timeout: float, what: str, died: Callable[[], bool] | None = None
) -> float:
    """Waits until `url` answers with a status below 500."""

    def answered() -> bool:
        status = http_status(url)
        return status is not None and status < 500

    return wait_until(answered, timeout=timeout, what=what, died=died)
