"""The image catalog's widgets that hold no state: the filter bar and a pooled list row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w

__all__ = ["FilterBar", "image_row"]

_BUTTON = w.Layout(width="auto", flex="0 0 auto")  # labels stay whole at narrow widths


@dataclass(frozen=True, slots=True)
class FilterBar:
    """Search box, desktop and OS dropdowns, "Clear filters" and "Reload"."""

    search: w.Text
    desktop: w.Dropdown
    os: w.Dropdown
    clear: w.Button
    reload: w.Button

    @classmethod
    def create(cls) -> FilterBar:
        """New, empty filter widgets."""
        return cls(
            search=w.Text(
                placeholder="Search images by name…",
                continuous_update=True,
                layout=w.Layout(width="260px"),
            ),
            desktop=w.Dropdown(options=[], layout=w.Layout(width="250px")),
            os=w.Dropdown(options=[("Any OS", "")], layout=w.Layout(width="150px")),
            clear=w.Button(description="Clear filters", icon="times", layout=_BUTTON),
            reload=w.Button(description="Reload", icon="refresh", layout=_BUTTON),
        )

    def box(self, site_picker: w.Widget) -> w.HBox:
        """The bar, wrapping at narrow widths."""
        return w.HBox(
            [site_picker, self.search, self.desktop, self.os, self.clear, self.reload],
            layout=w.Layout(flex_flow="row wrap", align_items="center"),
        )


def image_row(on_select: Callable[[w.Button], None]) -> tuple[w.HBox, w.HTML, w.Button]:
    """A catalog row: its text and its "Select" button (``on_select`` gets the button)."""
    html = w.HTML(layout=w.Layout(flex="1 1 auto"))
    button = w.Button(
        description="Select", layout=w.Layout(width="84px", flex="0 0 auto", margin="0 6px")
    )
    button.on_click(on_select)
    row = w.HBox(
        [html, button],
        layout=w.Layout(align_items="center", border_bottom="1px solid #f1f3f5", flex="0 0 auto"),
    )
    row.add_class("denbi-image-row")
    return row, html, button
