"""Starting a flow run again while the Prefect API says its database is busy (HTTP 503).

A Prefect server on SQLite answers 503 when a write transaction loses a lock race; Prefect's
client retries a few times (about a minute), but under a burst of flows (fifty at once) the
database can stay busy longer. A *start* is safe to repeat when nothing ran yet: the create
of a flow run (``POST /flow_runs/``, or a deployment's ``create_flow_run``, which carries an
idempotency key) that the server refused made no run, so no flow body ran and nothing reached
the cloud. :func:`start_while_busy` repeats such a start, backing off, for a bounded time;
every other failure, and a 503 on any other request, is raised at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BUSY_RETRY_S", "busy_answer", "refused_create", "start_while_busy"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long a start is tried again while the Prefect API answers 503, in seconds (counted
#: from the first attempt).
BUSY_RETRY_S = 180.0
#: Back-off between attempts: first and longest wait, in seconds.
_FIRST_DELAY_S, _MAX_DELAY_S = 0.5, 8.0
#: Never set: a wait on it is a back-off that, unlike a bare sleep, a test could end.
_RETRY_WAKE = threading.Event()


def busy_answer(exc: BaseException) -> bool:
    """True for Prefect's HTTP 503 (its database is busy: the request may be retried)."""
    from prefect.exceptions import PrefectHTTPStatusError

    return isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code == 503


def refused_create(exc: BaseException) -> bool:
    """True when the busy answer refused the *creation* of a flow run (nothing ran yet)."""
    from prefect.exceptions import PrefectHTTPStatusError

    if not isinstance(exc, PrefectHTTPStatusError) or not busy_answer(exc):
        return False
    request = exc.request
    path = request.url.path.rstrip("/")
    return request.method == "POST" and (
        path.endswith("/flow_runs") or path.endswith("/create_flow_run")
    )


def start_while_busy(
    start: Callable[[], T],
    *,
    retryable: Callable[[BaseException], bool] = refused_create,
    what: str = "a flow run",
    window_s: float = BUSY_RETRY_S,
) -> T:
    """``start()``, called again with a growing back-off while it fails ``retryable``.

    Raises the last failure once ``window_s`` has passed since the first attempt, and any
    failure that is not ``retryable`` at once.
    """
    deadline = time.monotonic() + window_s
    delay, attempt = _FIRST_DELAY_S, 1
    while True:
        try:
            return start()
        except Exception as exc:
            if not retryable(exc) or time.monotonic() + delay > deadline:
                raise
        _log.warning(
            "The Prefect API is busy (HTTP 503) and did not start %s; attempt %d again in %.1f s",
            what,
            attempt + 1,
            delay,
        )
        _RETRY_WAKE.wait(delay)
        delay, attempt = min(delay * 2, _MAX_DELAY_S), attempt + 1
