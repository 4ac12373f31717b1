"""The guard around the top-level ``flows`` package (see ``flows/__init__.py`` for why).

Importing this module checks the ``flows`` package at once, so ``denbi_jupyter.jobs`` (which
imports it first) refuses a foreign ``flows`` with a clear message instead of failing later
on a missing name.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["load_flows"]


def load_flows() -> ModuleType:
    """Import ``flows`` and make sure it is denbi-jupyter's, not another distribution's.

    Raises:
        ImportError: The ``flows`` package found on ``sys.path`` lacks our marker.
    """
    module = importlib.import_module("flows")
    if getattr(module, "__denbi_jupyter__", None) is not True:
        where = getattr(module, "__file__", None) or "an unknown place"
        raise ImportError(
            f"The 'flows' package imported from {where} is not denbi-jupyter's; another "
            "installed distribution provides a top-level 'flows'. Uninstall it or put "
            "denbi-jupyter first on sys.path."
        )
    return module


load_flows()
