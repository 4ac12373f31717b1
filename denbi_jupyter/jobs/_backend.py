"""Keeping the Prefect backend warm.

Without ``PREFECT_API_URL`` Prefect starts an ephemeral API server (a uvicorn subprocess with
a SQLite database) the first time a flow runs; a cold start takes about ten seconds (more
on a busy machine). :class:`Backend` starts it in a daemon thread, so a kernel pays it while
the user is still choosing what to do, and jobs wait for it instead of racing it (Prefect's
server start is not safe against two threads starting it at once). With ``PREFECT_API_URL``
set, warming up is one health check of that server.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time

from denbi_jupyter.jobs._flows import load_flows

__all__ = ["Backend"]

_log = logging.getLogger(__name__)


class Backend:
    """Starts the Prefect API once, in the background, and tells when it is ready."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._ready = threading.Event()
        self.error: str | None = None
        self.seconds: float | None = None

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
            flows = load_flows()
            flows.quiet_console()
            with flows.flow_settings():
                from prefect.client.orchestration import get_client

                with get_client(sync_client=True) as client:
                    failure = client.api_healthcheck()
            if failure is not None:
                self.error = f"The Prefect API is not healthy: {failure}"
        except Exception as exc:  # noqa: BLE001 - reported on the jobs that need the backend
            self.error = f"The Prefect backend did not start: {type(exc).__name__}: {exc}"
            _log.warning("%s", self.error)
        finally:
            self.seconds = time.perf_counter() - began
            self._ready.set()
