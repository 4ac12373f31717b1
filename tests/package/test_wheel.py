"""The wheel carries the JupyterLab extension, the server extension's config and the notebooks.

One wheel is built (``uv build --wheel``: the build backend in an isolated environment, as
``python -m build`` does; hatch-jupyter-builder reuses an existing ``denbi_jupyter/labextension``
build, else runs npm) and installed with ``-c constraints.txt`` into a fresh virtualenv, where
``jupyter labextension list`` and ``jupyter server extension list`` must report both extensions
enabled and OK. uv (the dev venv's, pinned) does both in a fraction of pip's time: its cache,
filled by ``make setup``, makes the install local; only PyPI and npm are ever contacted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABEXTENSION = "share/jupyter/labextensions/denbi-jupyter"
SERVER_CONFIG = "etc/jupyter/jupyter_server_config.d/denbi_jupyter.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
UV = str(Path(sys.executable).parent / "uv")

pytestmark = pytest.mark.timeout(1200)


@dataclass(frozen=True, slots=True)
class InstalledWheel:
    wheel: Path
    venv: Path
    env: dict[str, str]

    def run(self, *args: str) -> str:
        """Run a command of the venv; its stdout and stderr, without colours."""
        done = subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.venv,
            timeout=120,
            check=False,
        )
        output = ANSI.sub("", done.stdout + done.stderr)
        assert done.returncode == 0, output
        return output


def _run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> None:
    """Run a build step; its output goes into the failure message."""
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment without this venv and without the user's Jupyter config."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"} and not key.startswith("JUPYTER")
    }
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "jupyter-config")
    env["JUPYTER_DATA_DIR"] = str(tmp / "jupyter-data")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "lab-settings")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledWheel]:
    tmp = tmp_path_factory.mktemp("wheel")
    env = _clean_env(tmp)
    dist = tmp / "dist"
    _run(
        [UV, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], env=env, cwd=ROOT, timeout=900
    )
    (wheel,) = dist.glob("denbi_jupyter-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=tmp, timeout=120)
    python = str(venv / "bin" / "python")
    constraints = str(ROOT / "constraints.txt")
    install = [UV, "pip", "install", "-q", "--python", python, "-c", constraints, f"{wheel}[lab]"]
    _run(install, env=env, cwd=tmp, timeout=900)
    yield InstalledWheel(wheel=wheel, venv=venv, env=env)


def test_wheel_carries_the_lab_extension_notebooks_and_server_config(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    data = "denbi_jupyter-0.1.0.data/data"
    expected = {
        "denbi_jupyter/_notebooks/denbi_cloud.ipynb",
        "denbi_jupyter/_notebooks/snapshots_and_schedules.ipynb",
        "denbi_jupyter/py.typed",
        "denbi_jupyter/lab_panel.py",
        "denbi_jupyter/labserver/__init__.py",
        "flows/__init__.py",
        f"{data}/{LABEXTENSION}/package.json",
        f"{data}/{LABEXTENSION}/install.json",
        f"{data}/{SERVER_CONFIG}",
    }
    assert expected <= names, sorted(expected - names)
    # Every file of the packages goes in (data such as localcloud/*.json too), never caches.
    assert not any("__pycache__" in n for n in names)
    assert any(n.startswith(f"{data}/{LABEXTENSION}/static/remoteEntry.") for n in names)
    # The build lives in the wheel once, as shared data, not also inside the package.
    assert not any(n.startswith("denbi_jupyter/labextension/") for n in names)


def test_installed_lab_extension_is_enabled_and_ok(installed):
    output = installed.run("jupyter", "labextension", "list")
    line = next((ln for ln in output.splitlines() if "denbi-jupyter" in ln), None)
    assert line is not None, output
    assert "enabled" in line and "OK" in line, output
    assert str(installed.venv) in output


def test_installed_server_extension_is_enabled_and_ok(installed):
    output = installed.run("jupyter", "server", "extension", "list")
    assert re.search(r"denbi_jupyter\.labserver\s+enabled", output), output
    assert re.search(r"denbi_jupyter\.labserver\s+(\S+\s+)?OK", output), output
