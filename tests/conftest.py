"""Session-wide fixtures: one local cloud for the whole run, reached through clouds.yaml."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings


@pytest.fixture(scope="session", autouse=True)
def isolated_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remembered key paths and boot keys go to a temporary folder, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DENBI_JUPYTER_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        yield


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    """The local cloud with fast timings, started once per test session."""
    with LocalCloud(LocalCloudConfig(timings=Timings.fast())) as cloud:
        yield cloud


@pytest.fixture(scope="session")
def clouds_yaml(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clouds.yaml (mode 0600) with one entry per local-cloud site."""
    return local_cloud.write_clouds_yaml(tmp_path_factory.mktemp("clouds") / "clouds.yaml")


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A TCP port on loopback that accepts connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]
