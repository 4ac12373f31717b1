"""The polling loop under our waiters: a deadline, growing intervals, tolerated failed polls.

:func:`poll_until` reads until a predicate accepts what it read; the waiters in
:mod:`flows._waiters` are that loop with their own read, predicate and progress reports.
:func:`await_landing` looks for what a create made when its answer never came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from denbi_jupyter.errors import CloudUnavailableError, OperationFailedError

if TYPE_CHECKING:
    from flows._waiters import Backoff, Clock

__all__ = ["LANDING_WINDOW_S", "MAX_POLL_FAILURES", "await_landing", "poll_until", "unanswered"]

#: After a create got no answer, how long (s) to look for it by its request id before the
#: request is sent again: an API may accept a request and act on it after the client gave up.
LANDING_WINDOW_S = 15.0

#: Consecutive failed polls (cloud unreachable, 5xx) a waiter tolerates before giving up.
MAX_POLL_FAILURES = 5

_T = TypeVar("_T")
_R = TypeVar("_R")


class _Polls:
    """Counts consecutive failed polls and sleeps within the deadline."""

    def __init__(self, clock: Clock, backoff: Backoff, timeout_s: float, what: str) -> None:
        self.clock = clock
        self.deadline = clock.now() + timeout_s
        self.timeout_s = timeout_s
        self.what = what
        self.failures = 0
        self._intervals = backoff.intervals()

    def fetch(self, call: Callable[[], _T], state: str) -> _T:
        """Call ``call`` until it answers; a failed poll counts, then waits (last ``state``)."""
        while True:
            try:
                result = call()
            except CloudUnavailableError as exc:
                self.failed(exc)
                self.pause_or_timeout(state)
                continue
            self.failures = 0
            return result

    def failed(self, error: CloudUnavailableError) -> None:
        self.failures += 1
        if self.failures >= MAX_POLL_FAILURES:
            raise OperationFailedError(
                f"Lost contact with the cloud while waiting for {self.what} "
                f"({self.failures} failed polls, last: {error}). Check its state later."
            ) from error

    def pause_or_timeout(self, state: str) -> None:
        remaining = self.deadline - self.clock.now()
        if remaining <= 0:
            raise OperationFailedError(
                f"Timed out after {self.timeout_s:.0f} s waiting for {self.what} (last state: "
                f"{state}). It may still finish: check it later, or delete it and try again."
            )
        self.clock.sleep(min(next(self._intervals), remaining))


def poll_until(
    read: Callable[[], _R],
    *,
    done: Callable[[_R], bool],
    state: Callable[[_R], str],
    what: str,
    timeout_s: float,
    clock: Clock,
    backoff: Backoff,
) -> _R:
    """Call ``read`` at growing intervals until ``done`` accepts what it returned.

    ``done`` may raise to end the wait with its own error (and may report progress);
    ``state`` describes a value that is not done yet, for the timeout message. A read that
    fails with :class:`CloudUnavailableError` counts as a failed poll and is retried.

    Returns:
        The first value ``done`` accepted.

    Raises:
        OperationFailedError: The cloud could not be reached for several polls, or
            ``timeout_s`` passed (``what`` names what we waited for).
    """
    polls = _Polls(clock, backoff, timeout_s, what)
    last = "not polled yet"
    while True:
        value = polls.fetch(read, last)
        if done(value):
            return value
        last = state(value)
        polls.pause_or_timeout(last)


def unanswered(error: CloudUnavailableError) -> bool:
    """Whether the cloud may have acted on a request whose answer never came (a timeout, a
    dropped connection, a gateway's 502/504) rather than refused it (503, 500)."""
    return error.status is None or error.status in (502, 504)


def await_landing(
    find: Callable[[], _T | None],
    *,
    window_s: float,
    clock: Clock,
    backoff: Backoff,
) -> _T | None:
    """Call ``find`` at growing intervals until it finds something or ``window_s`` passed.

    A failed look (:class:`CloudUnavailableError`) counts as "not there yet". Returns what
    ``find`` found, or None at the deadline (``find`` runs at least once).
    """
    deadline = clock.now() + window_s
    intervals = backoff.intervals()
    while True:
        try:
            found = find()
        except CloudUnavailableError:
            found = None
        if found is not None:
            return found
        remaining = deadline - clock.now()
        if remaining <= 0:
            return None
        clock.sleep(min(next(intervals), remaining))
