"""Waiting in the slow end-to-end tests: poll a check, with short pauses, against a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["until"]

T = TypeVar("T")


def until(what: str, check: Callable[[], T | None], *, timeout_s: float) -> T:
    """Poll ``check`` (short waits, against a deadline) until it returns something."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s")
        pause.wait(0.25)
