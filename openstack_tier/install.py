"""Installs what the tier needs when it is missing: two Debian packages and its own virtualenv."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from openstack_tier.settings import TierPaths, constraints_digest

__all__ = [
    "APT_PACKAGES",
    "TOP_LEVEL_REQUIREMENTS",
    "InstallError",
    "ensure_apt_packages",
    "ensure_venv",
    "freeze_constraints",
    "missing_apt_packages",
    "venv_ready",
]

# Debian package -> a file it installs (checked instead of asking dpkg).
APT_PACKAGES: Mapping[str, str] = {
    "mariadb-server": "/usr/sbin/mariadbd",
    "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
}
# What the tier's virtualenv is made of; constraints.txt pins these and everything below them.
TOP_LEVEL_REQUIREMENTS: tuple[str, ...] = (
    "keystone==30.0.0",
    "glance==33.0.0",
    "openstack-placement==16.0.0",
    "nova==34.0.0",
    "uwsgi",
    "pymysql",
)
_MARKER = ".denbi-tier-installed"


class InstallError(RuntimeError):
    """An install step failed; the message says what to run by hand."""


def missing_apt_packages(packages: Mapping[str, str] = APT_PACKAGES) -> list[str]:
    return [name for name, probe in packages.items() if not Path(probe).exists()]


def ensure_apt_packages(log: Path) -> list[str]:
    """Installs the missing Debian packages (as root); returns what was installed."""
    missing = missing_apt_packages()
    if not missing:
        return []
    if os.geteuid() != 0:
        raise InstallError(
            f"missing Debian packages; run: sudo apt-get install {' '.join(missing)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        ):
            if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env).returncode:
                raise InstallError(f"{' '.join(argv)} failed; see {log}")
    return missing


def venv_ready(paths: TierPaths) -> bool:
    marker = paths.venv / _MARKER
    return marker.is_file() and marker.read_text().strip() == constraints_digest(paths.constraints)


def ensure_venv(paths: TierPaths, log: Path, python: str = sys.executable) -> bool:
    """Creates the tier's virtualenv in the cache unless an identical one is there.

    The folder name carries the digest of constraints.txt, so every clone with the same pins
    shares it; a lock file makes concurrent first runs wait for one another.
    Returns True if it installed.
    """
    paths.cache.mkdir(parents=True, exist_ok=True)
    lock_path = paths.cache / f"{paths.venv.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if venv_ready(paths):
            return False
        shutil.rmtree(paths.venv, ignore_errors=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        steps = [
            [python, "-m", "venv", str(paths.venv)],
            [
                *_installer(paths, python),
                "-q",
                "-c",
                str(paths.constraints),
                *TOP_LEVEL_REQUIREMENTS,
            ],
        ]
        with log.open("ab") as out:
            for argv in steps:
                if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode:
                    shutil.rmtree(paths.venv, ignore_errors=True)
                    raise InstallError(f"{' '.join(argv[:4])}… failed; see {log}")
        (paths.venv / _MARKER).write_text(constraints_digest(paths.constraints) + "\n")
        return True


def _installer(paths: TierPaths, python: str) -> list[str]:
    """``uv pip install`` into the tier's venv when uv is beside ``python`` (a third of pip's
    time for the same pins), else the venv's own pip."""
    uv = Path(python).with_name("uv")
    if uv.is_file():
        return [str(uv), "pip", "install", "--python", str(paths.venv_bin / "python")]
    return [str(paths.venv_bin / "python"), "-m", "pip", "--disable-pip-version-check", "install"]


def freeze_constraints(paths: TierPaths, log: Path, python: str = sys.executable) -> Path:
    """Resolves the newest releases of the pinned top level in a scratch venv, then freezes."""
    scratch = paths.cache / "lock-venv"
    shutil.rmtree(scratch, ignore_errors=True)
    pip = [str(scratch / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.run([python, "-m", "venv", str(scratch)], stdout=out, check=True)
        subprocess.run(
            [*pip, "install", "-q", *TOP_LEVEL_REQUIREMENTS], stdout=out, stderr=out, check=True
        )
        frozen = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True)
    header = (
        "# Pins of the real OpenStack tier's own virtualenv (keystone 30, glance 33, "
        "placement 16, nova 34).\n"
        "# Resolved once and frozen; regenerate with 'make test-openstack-lock'.\n"
    )
    paths.constraints.write_text(header + frozen.stdout)
    shutil.rmtree(scratch, ignore_errors=True)
    return paths.constraints
