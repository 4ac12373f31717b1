"""Which tasks retry, how often, and which errors they never retry.

Only idempotent tasks (reads, tag replacement, deletes) retry, three times with growing,
jittered delays. A retry cannot fix wrong input, a missing or protected resource, refused
credentials, exhausted quota, or a long operation that already ended badly, so
:func:`should_retry` refuses those. Tasks that create something (a server, a snapshot) never
retry: the flows look their earlier result up by request id instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from denbi_jupyter.errors import (
    AuthenticationError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
    QuotaExceededError,
    UserInputError,
)

__all__ = ["FINAL_ERRORS", "RETRIES", "RETRY_DELAYS", "idempotent", "once", "should_retry"]

P = ParamSpec("P")
R = TypeVar("R")

#: How often an idempotent task is retried after a transient failure.
RETRIES = 3
#: Seconds before each retry (jittered by 30 %).
RETRY_DELAYS = [0.5, 2.0, 5.0]
#: Errors no retry can fix.
FINAL_ERRORS: tuple[type[Exception], ...] = (
    UserInputError,
    NotFoundError,
    PermissionDeniedError,
    AuthenticationError,
    QuotaExceededError,
    OperationFailedError,
)


def should_retry(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:  # noqa: ARG001 - Prefect's signature
    """Prefect ``retry_condition_fn``: retry unless the failure is one of :data:`FINAL_ERRORS`."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as exc:  # noqa: BLE001 - the state's own exception, whatever it is
            error = exc
    return not isinstance(error, FINAL_ERRORS)


def idempotent(*, name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Decorate a task that may run twice safely: retried on transient errors."""
    return task(
        name=name,
        retries=RETRIES,
        retry_delay_seconds=RETRY_DELAYS,
        retry_jitter_factor=0.3,
        retry_condition_fn=should_retry,
        cache_policy=NO_CACHE,
        persist_result=False,
    )


def once(*, name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Decorate a task that must not run twice (it creates something): never retried."""
    return task(name=name, retries=0, cache_policy=NO_CACHE, persist_result=False)
