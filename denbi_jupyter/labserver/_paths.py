"""Where things are: the Prefect state folder, the lab's user settings, the main notebook."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "MAIN_NOTEBOOK",
    "PREFECT_HOME_ENV",
    "URL_PREFIX",
    "notebook_source",
    "prefect_state_dir",
]

#: Environment variable naming the lab's Prefect folder (overrides the per-user default).
PREFECT_HOME_ENV = "DENBI_JUPYTER_PREFECT_HOME"
#: The notebook ``POST denbi-jupyter/notebook`` puts into the lab's root.
MAIN_NOTEBOOK = "denbi_cloud.ipynb"
#: Everything of ours is under ``<base_url>denbi-jupyter/``.
URL_PREFIX = "denbi-jupyter"


def prefect_state_dir() -> Path:
    """``$DENBI_JUPYTER_PREFECT_HOME``, else ``<jupyter_data_dir>/denbi-jupyter/prefect``."""
    configured = os.environ.get(PREFECT_HOME_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "denbi-jupyter" / "prefect"


def notebook_source(name: str = MAIN_NOTEBOOK) -> Path | None:
    """The shipped notebook: the installed package's ``_notebooks/``, else the checkout's."""
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "_notebooks", package.parent / "notebooks"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
