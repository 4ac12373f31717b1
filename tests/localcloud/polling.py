"""Polling for the local-cloud and cloud-layer tests: wait until a probe returns something."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, what: str, timeout: float = 10.0, interval: float = 0.01
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
