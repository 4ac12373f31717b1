"""What importing a module drags in, seen from a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

__all__ = ["HEAVY_MODULES", "heavy_modules_loaded_by"]

#: The dependencies that importing the light parts of the package must not load.
HEAVY_MODULES = ("openstack", "prefect", "ipywidgets")


def heavy_modules_loaded_by(module: str) -> list[str]:
    """Which of :data:`HEAVY_MODULES` are loaded once a new interpreter has imported ``module``."""
    code = (
        f"import sys, {module}; print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in done.stdout.strip().split(",") if name]
