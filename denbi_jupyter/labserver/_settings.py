"""Whether the lab starts Prefect: traitlet config, overridden by the JupyterLab user setting.

``DenbiJupyter.start_prefect`` (True by default) is the administrator's default; the user's
JupyterLab setting ``startPrefect`` of plugin ``denbi-jupyter:plugin`` (the file
``<user settings dir>/denbi-jupyter/plugin.jupyterlab-settings``, JSON with comments) wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from traitlets import Bool
from traitlets.config import Configurable

__all__ = ["DenbiJupyter", "start_prefect", "strip_json_comments", "user_settings_file"]

_SETTINGS_FILE = Path("denbi-jupyter") / "plugin.jupyterlab-settings"


class DenbiJupyter(Configurable):
    """Configuration of the denbi-jupyter server extension."""

    start_prefect = Bool(
        True,
        help="Start (or reuse) a per-user Prefect server for the lab when PREFECT_API_URL "
        "is not set. The JupyterLab user setting 'startPrefect' overrides this.",
    ).tag(config=True)


def user_settings_file(serverapp: Any) -> Path:
    """The user-settings file of our lab plugin, in the lab's user settings directory."""
    folder: str | None = None
    for app in serverapp.extension_manager.extension_apps.get("jupyterlab", ()):
        folder = getattr(app, "user_settings_dir", None) or folder
    if not folder:
        folder = serverapp.config.get("LabApp", {}).get("user_settings_dir") or None
    if not folder:
        from jupyter_core.paths import jupyter_config_dir

        folder = os.environ.get("JUPYTERLAB_SETTINGS_DIR") or str(
            Path(jupyter_config_dir()) / "lab" / "user-settings"
        )
    return Path(folder) / _SETTINGS_FILE


def start_prefect(serverapp: Any) -> bool:
    """Whether this lab should find or start its Prefect server."""
    configured = bool(DenbiJupyter(config=serverapp.config).start_prefect)
    path = user_settings_file(serverapp)
    try:
        values = json.loads(strip_json_comments(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return configured
    except (OSError, ValueError) as exc:
        serverapp.log.warning("denbi-jupyter: ignoring unreadable %s (%s)", path, exc)
        return configured
    chosen = values.get("startPrefect") if isinstance(values, dict) else None
    return chosen if isinstance(chosen, bool) else configured


def strip_json_comments(text: str) -> str:
    """``text`` without ``//`` and ``/* */`` comments outside strings (JupyterLab's format)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """The index just after the JSON string that begins at ``start``."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return len(text)
