"""Widgets as views of traits: a two-way binding that keeps the trait the source of truth.

``ipywidgets.link`` is enough for a text box; a dropdown needs more care: changing its options
makes it pick the first one, and a value outside its options is an error. :class:`Binding`
changes options without writing back, and shows a value the options lack as "nothing".

Background work (a catalog arriving) may re-render from a worker thread while the kernel's
main thread applies the user's pick: the "do not write back" mark is per thread, so a pick
that arrives meanwhile still reaches the trait.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

__all__ = ["Binding", "bind", "size_fields"]


class Binding:
    """Keep ``widget.value`` and ``owner.<name>`` in step; the trait wins.

    Args:
        widget: A value widget (Text, Dropdown, Checkbox, …).
        owner: The object holding the trait.
        name: The trait's name.
        empty: What the trait gets when the widget shows nothing (a dropdown without a pick).
        convert: Turns the widget's value into the trait's (e.g. a string into an enum).
    """

    def __init__(
        self,
        widget: w.ValueWidget,
        owner: t.HasTraits,
        name: str,
        *,
        empty: Any = "",
        convert: Callable[[Any], Any] | None = None,
    ) -> None:
        self.widget, self.owner, self.name, self.empty = widget, owner, name, empty
        self._convert = convert
        self._local = threading.local()
        owner.observe(self._to_widget, names=name)
        widget.observe(self._to_owner, names="value")
        self._to_widget()

    def set_options(self, options: Sequence[Any]) -> None:
        """Offer ``options`` (labels or ``(label, value)`` pairs) without changing the trait."""
        if list(self.widget.options) != list(options):
            with self._quietly():
                self.widget.options = list(options)
        self._to_widget()

    def _to_widget(self, _change: object = None) -> None:
        value = getattr(self.owner, self.name)
        if isinstance(self.widget, w.Dropdown) and value not in self.widget._options_values:
            value = None
        if self.widget.value != value:
            with self._quietly():
                self.widget.value = value

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Widget changes made by this thread inside the block are not written back."""
        self._local.quiet = True
        try:
            yield
        finally:
            self._local.quiet = False

    def _to_owner(self, change: dict[str, Any]) -> None:
        if getattr(self._local, "quiet", False):
            return
        value = self.empty if change["new"] is None else change["new"]
        if self._convert is not None and value is not self.empty:
            value = self._convert(value)
        if getattr(self.owner, self.name) != value:
            setattr(self.owner, self.name, value)


#: ``bind(widget, owner, name)``: a :class:`Binding` of ``widget`` to ``owner.<name>``.
bind = Binding


def size_fields(*fields: w.DOMWidget, label: str = "70px", width: str | None = None) -> None:
    """Give form fields one label width (and one field width, when given)."""
    for field in fields:
        field.style.description_width = label
        if width is not None:
            field.layout.width = width
