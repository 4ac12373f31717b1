"""Binding a dropdown to a trait while options change in a worker thread."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.panels._bind import bind


class _Filters(t.HasTraits):
    desktop = t.Unicode("any")


def test_a_pick_during_an_option_change_in_another_thread_reaches_the_trait() -> None:
    """The catalog re-renders from a worker while the user picks a filter on the main thread."""
    owner = _Filters()
    dropdown = w.Dropdown(options=[("Any", "any"), ("Guacamole", "guacamole")])
    binding = bind(dropdown, owner, "desktop", empty="any")
    inside, picked = threading.Event(), threading.Event()

    def hold_while_options_change(_change: dict[str, Any]) -> None:
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            assert picked.wait(10), "the main thread never picked"

    dropdown.observe(hold_while_options_change, names="options")
    worker = threading.Thread(
        target=binding.set_options,
        args=([("Any", "any"), ("X2Go", "x2go"), ("Guacamole", "guacamole")],),
    )
    worker.start()
    assert inside.wait(10)
    dropdown.value = "guacamole"  # the frontend's pick, applied by the kernel's main thread
    picked.set()
    worker.join(10)
    assert owner.desktop == "guacamole"
    assert dropdown.value == "guacamole"


def test_options_change_keeps_the_trait_and_shows_a_missing_value_as_nothing() -> None:
    owner = _Filters(desktop="guacamole")
    dropdown = w.Dropdown(options=[("Any", "any"), ("Guacamole", "guacamole")])
    binding = bind(dropdown, owner, "desktop", empty="any")
    assert dropdown.value == "guacamole"
    binding.set_options([("Any", "any"), ("X2Go", "x2go")])
    assert owner.desktop == "guacamole"
    assert dropdown.value is None
    binding.set_options([("Guacamole", "guacamole"), ("Any", "any")])
    assert dropdown.value == "guacamole"
    dropdown.value = "any"
    assert owner.desktop == "any"
