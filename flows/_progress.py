"""The progress channel: how a running flow tells its in-process watchers how far it is.

A flow calls :func:`report` with a fraction and a status line. The line goes to the run logger
(so the Prefect UI and any log reader see it) and, as a :class:`FlowEvent`, to every listener
registered with :func:`listen` in the calling context. The run logger's other lines (ours and
Prefect's engine lines) reach the same listeners as ``log`` events through a logging handler.

Listeners live in a :class:`contextvars.ContextVar`, not in a module-level registry: a job
thread enters ``with listen(job.handle):`` and runs the flow; Prefect runs tasks in the same
context or in a copy of it (its thread pool copies the context), so every event of that flow
run reaches exactly that job, and two flows running at once in two threads never mix. A flow
started elsewhere (a deployment, a worker) simply has no listener and only logs.

A listener that raises is logged and skipped; it never breaks the flow.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

__all__ = ["FlowEvent", "Listener", "current_flow_run_id", "listen", "report", "run_logger"]

_log = logging.getLogger(__name__)

EventKind = Literal["progress", "log"]


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One thing a running flow tells its listeners.

    Attributes:
        kind: ``progress`` for :func:`report`, ``log`` for a run-logger line.
        message: The status or log line (never a secret: flows hold none).
        fraction: 0.0..1.0 for progress events, None when indeterminate or for logs.
        level: The logging level of a log line (INFO for progress).
        flow_run_id: The Prefect flow run the event belongs to, when known.
    """

    kind: EventKind
    message: str
    fraction: float | None = None
    level: int = logging.INFO
    flow_run_id: str | None = None


Listener = Callable[[FlowEvent], None]

_LISTENERS: ContextVar[tuple[Listener, ...]] = ContextVar("denbi_flow_listeners", default=())
_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class _ForwardHandler(logging.Handler):
    """Sends run-logger records to the listeners of the context that logged them."""

    def emit(self, record: logging.LogRecord) -> None:
        listeners = _LISTENERS.get()
        if not listeners:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break the flow
            message = str(record.msg)
        flow_run_id = getattr(record, "flow_run_id", None)
        event = FlowEvent(
            kind="log",
            message=message,
            level=record.levelno,
            flow_run_id=str(flow_run_id) if flow_run_id else None,
        )
        _notify(listeners, event)


def _install_forwarding() -> None:
    """Attach the forwarding handler to Prefect's run loggers (idempotent).

    Prefect's logging set-up (``dictConfig``) replaces the handlers of these loggers, so it
    runs first.
    """
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    for name in _RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, _ForwardHandler) for handler in logger.handlers):
            logger.addHandler(_ForwardHandler(level=logging.DEBUG))


def _notify(listeners: tuple[Listener, ...], event: FlowEvent) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a listener (a widget) must never stop the flow
            _log.exception("A flow progress listener failed; the flow goes on")


@contextlib.contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Send the events of flows run inside this block (in this context) to ``listener``."""
    _install_forwarding()
    token = _LISTENERS.set((*_LISTENERS.get(), listener))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


def current_flow_run_id() -> str | None:
    """The id of the flow run this code runs in, or None outside a flow run."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return str(context.flow_run.id)


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run logger inside a run; this module's logger outside one (``.fn()``)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return _log


def report(fraction: float | None, message: str) -> None:
    """Tell the listeners (and the run log) how far the flow is.

    Args:
        fraction: Share done, 0.0..1.0 (clamped); None when it cannot be told.
        message: A short status line, e.g. ``Nova: image_uploading``.
    """
    if fraction is not None:
        fraction = min(1.0, max(0.0, fraction))
    shown = message if fraction is None else f"{message} ({fraction:.0%})"
    run_logger().info(shown)
    listeners = _LISTENERS.get()
    if listeners:
        event = FlowEvent(
            kind="progress",
            message=message,
            fraction=fraction,
            flow_run_id=current_flow_run_id(),
        )
        _notify(listeners, event)
