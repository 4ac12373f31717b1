"""Fixtures of the journey tests: a private local cloud with SSH, the real tools, the CLI.

* ``journey_cloud`` (session): a local cloud with fast timings and SSH on, whose one site
  (``bielefeld``) maps ``oct4`` into a port range of its own that is free when it starts
  (other test sessions on this machine use the default ``30000 + …`` ports).
* ``tools``: the paths of ``puttygen``, ``ssh`` and ``ssh-keygen``; skips naming the Debian
  package to install when one is missing.
* ``denbi``: runs the ``denbi-jupyter`` console script as a real process against that cloud
  and the session's Prefect test API; every output is kept in ``outputs`` for secret checks.
* ``cloud``: an in-process client of that site, for checks and polls between the commands.
* ``faults``: adds fault rules to the journey cloud for one test; all rules go after it.
* ``module_cloud``, ``module_clouds_yaml``, ``module_faults``: the same for one test module
  that needs a cloud nobody else changes (e.g. no key pairs or VMs of another story).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings
from tests.flows.harness import prefect_harness  # noqa: F401  (fixture)
from tests.support.faults import fault_rules

#: The journey's site (a clouds.yaml entry).
SITE = DEFAULT_SITES[0].name
#: The gateway ports above the base that must be free: one per ``oct4`` (the seeded VMs hold
#: the first addresses of the /24, the story's VMs the next ones).
_PORTS_CHECKED = 254
#: The Debian package of each tool.
_PACKAGES = {"puttygen": "putty-tools", "ssh": "openssh-client", "ssh-keygen": "openssh-client"}


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_base() -> int:
    """A base port whose next ``_PORTS_CHECKED`` ports are free on loopback right now."""
    draw = random.Random()
    for _ in range(50):  # below Linux's ephemeral ports (32768 and up)
        base = draw.randrange(20000, 32768 - _PORTS_CHECKED - 1)
        if all(_free(base + offset) for offset in range(1, _PORTS_CHECKED + 1)):
            return base
    pytest.fail("no free range of gateway ports found on 127.0.0.1")


def _journey_config() -> LocalCloudConfig:
    """A local cloud with SSH and fast timings whose only site has free gateway ports."""
    site = replace(DEFAULT_SITES[0], ssh_port_formula=f"{_free_base()} + oct4")
    return LocalCloudConfig(timings=Timings.fast(), sites=(site,), ssh=True)


@pytest.fixture(scope="session")
def journey_cloud() -> Iterator[LocalCloud]:
    """A local cloud with SSH whose only site puts its gateway ports in a free range."""
    with LocalCloud(_journey_config()) as cloud:
        yield cloud


@pytest.fixture(scope="session")
def journey_clouds_yaml(
    journey_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The journey cloud's clouds.yaml (mode 0600)."""
    folder = tmp_path_factory.mktemp("journey-clouds")
    return journey_cloud.write_clouds_yaml(folder / "clouds.yaml")


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    """``{"puttygen": path, "ssh": path, "ssh-keygen": path}``; skips when one is missing."""
    found: dict[str, str] = {}
    for tool, package in _PACKAGES.items():
        path = shutil.which(tool)
        if path is None:
            pytest.skip(f"{tool} is not installed: apt-get install {package} (make system-deps)")
        found[tool] = path
    return found


@dataclass
class Denbi:
    """Runs ``denbi-jupyter`` as a process; keeps every output."""

    env: dict[str, str]
    outputs: list[str]

    def __call__(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        script = Path(sys.executable).parent / "denbi-jupyter"
        done = subprocess.run(
            [str(script), *map(str, argv)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=180,
            check=False,
        )
        self.outputs.extend([done.stdout, done.stderr])
        return done


@pytest.fixture(scope="session")
def denbi(
    tools: dict[str, str],  # skips first when a tool is missing
    journey_clouds_yaml: Path,
    prefect_harness: None,  # noqa: F811  (the fixture imported above)
    tmp_path_factory: pytest.TempPathFactory,
) -> Denbi:
    """The CLI as a user runs it: its own process, the journey's clouds.yaml and Prefect API."""
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    assert api_url, "the Prefect test harness sets PREFECT_API_URL"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env |= {
        "OS_CLIENT_CONFIG_FILE": str(journey_clouds_yaml),
        "OS_CLOUD": SITE,
        "PREFECT_API_URL": str(api_url),
        "HOME": str(tmp_path_factory.mktemp("journey-home")),
    }
    return Denbi(env=env, outputs=[])


@pytest.fixture(scope="session")
def cloud(journey_clouds_yaml: Path) -> CloudClient:
    """An in-process client of the journey site, to check and poll what the commands did."""
    from denbi_jupyter.cloud import open_site

    return open_site(SITE, config_file=journey_clouds_yaml)


@pytest.fixture
def faults(journey_cloud: LocalCloud) -> Iterator[Callable[..., None]]:
    """``faults(rule, ...)`` adds fault rules to the journey cloud; all go after the test."""
    with fault_rules(journey_cloud) as add:
        yield add


@pytest.fixture(scope="module")
def module_cloud() -> Iterator[LocalCloud]:
    """A journey cloud of the test module's own."""
    with LocalCloud(_journey_config()) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def module_clouds_yaml(module_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That cloud's clouds.yaml (mode 0600)."""
    return module_cloud.write_clouds_yaml(tmp_path_factory.mktemp("module-clouds") / "clouds.yaml")


@pytest.fixture
def module_faults(module_cloud: LocalCloud) -> Iterator[Callable[..., None]]:
    """``module_faults(rule, ...)`` adds fault rules to the module's cloud; all go after."""
    with fault_rules(module_cloud) as add:
        yield add
