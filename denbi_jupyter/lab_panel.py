"""The panel of the JupyterLab sidebar: what the ``denbi-jupyter`` lab extension's kernel runs.

The extension starts a kernel of its own and runs ``show(site=...)``: the kernel displays one
:class:`~denbi_jupyter.panels.CloudPanel` over the ``clouds.yaml`` it finds
(``OS_CLIENT_CONFIG_FILE``, ``OS_CLOUD``, then openstacksdk's search path), or, when none is
configured, says what to do. :func:`focus` switches the shown panel's tab (palette entries
such as "Create a snapshot"). Converted keys are saved in the kernel's folder, the lab's root.
"""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as w

from denbi_jupyter.errors import DenbiError
from denbi_jupyter.panels import CloudPanel
from denbi_jupyter.panels._html import Tone, notice
from denbi_jupyter.panels.cloud_panel import TAB_TITLES

__all__ = ["TABS", "current_panel", "focus", "show"]

#: ``focus`` names, by tab of :class:`CloudPanel` (same order as its tab titles).
TABS: tuple[str, ...] = tuple(title.lower() for title in TAB_TITLES)

_shown: CloudPanel | None = None

_NO_CLOUDS = (
    "To use a de.NBI site, download the clouds.yaml of your project's application credential "
    "from the site's dashboard (Identity → Application Credentials), save it as "
    "~/.config/openstack/clouds.yaml (or point OS_CLIENT_CONFIG_FILE at it). "
)
_THEN = (
    "Then press Restart above; to try the panel without a cloud account, run 'denbi-jupyter demo'."
)
_NO_CLOUDS += _THEN


def _config_file() -> Path | None:
    configured = os.environ.get("OS_CLIENT_CONFIG_FILE")
    return Path(configured) if configured else None


def show(site: str = "") -> w.Widget:
    """Display the sidebar's panel (``site`` first when configured) and return it.

    Without any configured site, or with an unreadable ``clouds.yaml``, it displays what is
    wrong and how to fix it instead (the extension shows that, never a blank panel).
    """
    from IPython.display import display

    global _shown
    widget: w.Widget
    try:
        if _shown is not None:
            _shown.close()
            _shown = None
        from denbi_jupyter.cloud import list_sites

        names = [entry.name for entry in list_sites(_config_file())]
        if not names:
            widget = w.HTML(notice(_NO_CLOUDS, Tone.WARN, heading="No site configured."))
        else:
            _shown = CloudPanel(config_file=_config_file(), site=site or None)
            widget = _shown
    except DenbiError as error:
        widget = w.HTML(notice(f"{error} {_THEN}", Tone.ERROR, heading="No site to show."))
    widget.add_class("denbi-sidebar-root")
    display(widget)  # type: ignore[no-untyped-call]
    return widget


def current_panel() -> CloudPanel | None:
    """The panel :func:`show` displayed last, if it shows one."""
    return _shown


def focus(tab: str) -> None:
    """Switch the shown panel to ``tab`` (one of :data:`TABS`); ValueError for another name."""
    name = tab.strip().lower()
    if name not in TABS:
        raise ValueError(f"No tab {tab!r} in the de.NBI panel: pick one of {', '.join(TABS)}.")
    if _shown is not None:
        _shown.tabs.selected_index = TABS.index(name)
