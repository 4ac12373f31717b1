"""At the side area's width (~350 px) no button is cut: buttons keep their width, rows wrap."""

from __future__ import annotations

from collections.abc import Iterator

import ipywidgets as w

from denbi_jupyter.panels import CloudPanel, Shared
from tests.panels.conftest import RecordingProbe


def _widgets(root: w.Widget) -> Iterator[w.Widget]:
    yield root
    for child in getattr(root, "children", ()):
        yield from _widgets(child)


def _shrinks(button: w.Button) -> bool:
    """A button a narrow row may squeeze until its label is cut ("Conve…")."""
    flex = (button.layout.flex or "").split()
    fixed = (button.layout.width or "").endswith("px")
    return not fixed and not (len(flex) >= 2 and flex[1] == "0")


def test_no_button_of_the_cloud_panel_can_be_squeezed_and_rows_of_buttons_wrap(
    shared: Shared,
) -> None:
    panel = CloudPanel(shared=shared, probe=RecordingProbe())
    assert panel.wait_idle()
    squeezed = []
    for widget in _widgets(panel):
        if isinstance(widget, w.HBox):
            buttons = [c for c in widget.children if isinstance(c, w.Button)]
            labelled = [b for b in buttons if b.description]  # icon-only ones are tiny
            wraps = (widget.layout.flex_flow or "").endswith("wrap")
            if len(labelled) > 1 and not wraps:
                squeezed += [f"row of buttons without wrap: {b.description!r}" for b in buttons]
            squeezed += [f"button shrinks: {b.description!r}" for b in buttons if _shrinks(b)]
    assert squeezed == []
    panel.close()
