"""Helpers of the panel tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import ipywidgets as w

from denbi_jupyter.cloud.types import Page, Snapshot
from tests.support.fake_cloud import FakeCloud


class _Loading(Protocol):
    """A panel: it can wait for its background loads."""

    def wait_idle(self, timeout: float = ...) -> bool: ...


P = TypeVar("P", bound=_Loading)


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Wait until ``condition()`` is true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        tick.wait(0.02)


def vm_id(fake: FakeCloud, name: str) -> str:
    """The id of the VM called ``name`` on ``fake``."""
    return next(s.id for s in fake.servers.values() if s.name == name)


def loaded(panel: P) -> P:
    """``panel``, once the loads it started on creation have finished."""
    panel.wait_idle()
    return panel


def texts(widget: w.Widget) -> str:
    """Every HTML/Label value and button description inside ``widget``, joined."""
    found: list[str] = []

    def walk(node: w.Widget) -> None:
        if isinstance(node, w.HTML | w.Label):
            found.append(str(node.value))
        if isinstance(node, w.Button):
            found.append(str(node.description))
        if isinstance(node, w.Textarea | w.Text):
            found.append(str(node.value))
        for child in getattr(node, "children", ()):
            walk(child)

    walk(widget)
    return "\n".join(found)


def shown(widget: w.Widget) -> bool:
    """True unless the widget is hidden with ``display: none``."""
    return bool(widget.layout.display != "none")


def page_of(panel: object) -> Page[Snapshot]:
    """The snapshot page a panel (or its table) shows; fails when none is shown yet."""
    current = getattr(panel, "current", None)
    assert isinstance(current, Page), "no snapshot page is shown yet"
    return current
