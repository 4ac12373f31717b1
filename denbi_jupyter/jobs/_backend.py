"""Keeping the Prefect backend warm.

Without ``PREFECT_API_URL`` Prefect starts an ephemeral API server (a uvicorn subprocess with
a SQLite database) the first time a flow runs; a cold start takes about ten seconds (more
on a busy machine). :class:`Backend` starts it in a daemon thread, so a kernel pays it while
the user is still choosing what to do, and jobs wait for it instead of racing it (Prefect's
server start is not safe against two threads starting it at once). With ``PREFECT_API_URL``
set, warming up waits (bounded) until that server answers ``/health``: the lab's server
extension exports the URL of a Prefect server it may still be starting, and a kernel must not
race it. With no Prefect API configured at all (a kernel outside the lab: VS Code, a plain
notebook server), the user's Prefect server is used when one runs
(:func:`denbi_jupyter.user_prefect.find_running`, leased while the kernel lives): the same
backend as the user's commands. A kernel never starts one; with none running it falls back to
Prefect's ephemeral API as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

from denbi_jupyter.jobs._flows import load_flows

if TYPE_CHECKING:
    from denbi_jupyter.user_prefect import Lease

__all__ = ["Backend", "wait_for_api"]

_log = logging.getLogger(__name__)

#: Longest wait for a server at ``PREFECT_API_URL`` to answer, in seconds.
API_WAIT_S = 120.0
_POLL_S = 0.25


def wait_for_api(
    api_url: str, *, timeout_s: float = API_WAIT_S, stop: threading.Event | None = None
) -> None:
    """Return once ``<api_url>/health`` answers 200; poll briefly against a deadline.

    Args:
        api_url: The value of ``PREFECT_API_URL``.
        timeout_s: How long to wait.
        stop: Ends the wait early (raising) when set.

    Raises:
        TimeoutError: Nothing answered within ``timeout_s`` (the message says what to do).
    """
    stop = stop or threading.Event()
    health = f"{api_url.rstrip('/')}/health"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(health, timeout=min(2.0, timeout_s)) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        left = deadline - time.monotonic()
        if left <= 0 or stop.wait(min(_POLL_S, left)):
            break
    parts = urllib.parse.urlsplit(api_url)  # shown without user info or query
    port = f":{parts.port}" if parts.port else ""
    shown = f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
    raise TimeoutError(
        f"The Prefect API at {shown} (PREFECT_API_URL) did not answer within {timeout_s:.0f} s: "
        "check that its server runs (the lab's Prefect status), or unset PREFECT_API_URL to "
        "use Prefect's ephemeral API."
    )


class Backend:
    """Starts the Prefect API once, in the background, and tells when it is ready."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._ready = threading.Event()
        self.error: str | None = None
        self.unreachable = False
        self.seconds: float | None = None
        #: The user's Prefect server the jobs use (None: the configured API or the ephemeral).
        self.api_url: str | None = None
        self._lease: Lease | None = None

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        """The block runs on the user's Prefect server when warming up found one."""
        if self.api_url is None:
            yield
            return
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            yield

    def close(self) -> None:
        """Drop the lease on the user's Prefect server (jobs still running lose nothing)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    def _find_user_server(self) -> None:
        """Use the user's running Prefect server when no Prefect API is configured."""
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return
        from denbi_jupyter.labserver._paths import prefect_state_dir
        from denbi_jupyter.user_prefect import find_running

        found = find_running(prefect_state_dir())
        if found is not None:
            server, self._lease = found
            self.api_url = server.api_url

    @property
    def ready(self) -> bool:
        """True once the API answered its health check."""
        return self._ready.is_set() and self.error is None

    @property
    def started(self) -> bool:
        """True once :meth:`start` was called."""
        return self._started

    def start(self) -> None:
        """Start warming up in a daemon thread; idempotent; returns at once."""
        with self._lock:
            if self._started:
                return
            self._started = True
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(self._warm,), name="denbi-prefect-warm-up", daemon=True
        )
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until warming up has ended (well or not); True when it ended in time."""
        return self._ready.wait(timeout)

    def _warm(self) -> None:
        began = time.perf_counter()
        try:
            api_url = os.environ.get("PREFECT_API_URL")
            if api_url:
                wait_for_api(api_url, timeout_s=API_WAIT_S)
            else:
                self._find_user_server()
            flows = load_flows()
            flows.quiet_console()
            with flows.flow_settings(), self.settings():
                from prefect.client.orchestration import get_client

                with get_client(sync_client=True) as client:
                    failure = client.api_healthcheck()
            if failure is not None:
                self.error = f"The Prefect API is not healthy: {failure}"
        except TimeoutError as exc:
            self.error, self.unreachable = str(exc), True
            _log.warning("%s", self.error)
        except Exception as exc:  # noqa: BLE001 - reported on the jobs that need the backend
            self.error = f"The Prefect backend did not start: {type(exc).__name__}: {exc}"
            _log.warning("%s", self.error)
        finally:
            self.seconds = time.perf_counter() - began
            self._ready.set()
