"""Show a panel beside the notebook instead of below a cell.

Uses ``sidecar`` (a JupyterLab 4 extension shipped as a Python package, already a dependency).
The default anchor ``split-right`` opens the panel as its own area to the right of the
notebook, wide enough for the snapshot table, and it stays there while the notebook scrolls;
``anchor="right"`` puts it into JupyterLab's narrow right sidebar instead. ``ipylab`` could add
a left-area panel, but it is one more front-end extension to install and keep compatible, for
no gain over sidecar's anchors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    from sidecar import Sidecar

__all__ = ["open_sidebar"]


def open_sidebar(
    panel: w.Widget | None = None,
    *,
    title: str = "de.NBI Cloud",
    anchor: str = "split-right",
    **panel_options: Any,
) -> Sidecar:
    """Show ``panel`` (a new :class:`CloudPanel` by default) in a JupyterLab side panel.

    Args:
        panel: The widget to show; None builds ``CloudPanel(**panel_options)``.
        title: The side panel's tab title.
        anchor: Where it opens: ``split-right`` (beside the notebook), ``right`` (the right
            sidebar), ``split-bottom``, ``tab-after``, …
        panel_options: Passed to :class:`CloudPanel` when ``panel`` is None.

    Returns:
        The ``Sidecar`` widget; ``.close()`` removes the side panel.
    """
    from sidecar import Sidecar

    if panel is None:
        from denbi_jupyter.panels.cloud_panel import CloudPanel

        panel = CloudPanel(**panel_options)
    sidecar = Sidecar(title=title, anchor=anchor)
    sidecar.append_display_data(panel)
    sidecar.panel = panel
    return sidecar
