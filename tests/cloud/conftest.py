"""Fixtures of the cloud-layer tests: clients on the local cloud, a request log, faults.

The session cloud (``local_cloud``, ``clouds_yaml``) comes from ``tests/conftest.py``. Paging
tests need many snapshots, so ``big_cloud`` starts a second local cloud (module scope) seeded
with :data:`BIG_SNAPSHOTS` extra snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from denbi_jupyter.cloud import OpenStackCloud, open_site
from denbi_jupyter.cloud._openstack import Gateway
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from tests.localcloud import polling
from tests.support.faults import fault_rules
from tests.support.request_log import RequestLog

BIG_SNAPSHOTS = 130
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    return polling.wait_for(probe, what="the condition", timeout=timeout, interval=interval)


def client_for(site: str, clouds: Path) -> OpenStackCloud:
    client = open_site(site, config_file=clouds)
    assert isinstance(client, OpenStackCloud)
    return client


@pytest.fixture
def bielefeld(clouds_yaml: Path) -> Iterator[OpenStackCloud]:
    """A fresh client (empty caches) for the session cloud's bielefeld entry."""
    client = client_for("bielefeld", clouds_yaml)
    yield client
    client.close()


@pytest.fixture
def heidelberg(clouds_yaml: Path) -> Iterator[OpenStackCloud]:
    """A fresh client for the session cloud's heidelberg entry."""
    client = client_for("heidelberg", clouds_yaml)
    yield client
    client.close()


@pytest.fixture(scope="module")
def big_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, Path]]:
    """A second local cloud whose bielefeld has ``BIG_SNAPSHOTS`` extra snapshots."""
    cloud = LocalCloud(LocalCloudConfig(timings=Timings.fast(), seed_snapshots=BIG_SNAPSHOTS))
    cloud.start()
    try:
        yield cloud, cloud.write_clouds_yaml(tmp_path_factory.mktemp("big") / "clouds.yaml")
    finally:
        cloud.stop()


@pytest.fixture
def big(big_cloud: tuple[LocalCloud, Path]) -> Iterator[OpenStackCloud]:
    """A fresh bielefeld client on ``big_cloud``."""
    client = client_for("bielefeld", big_cloud[1])
    yield client
    client.close()


@pytest.fixture
def record() -> Callable[[OpenStackCloud], Any]:
    """``with record(client) as log:`` records what ``client`` sends on the wire."""

    def attach(client: OpenStackCloud) -> Any:
        gateway = client.gateway
        assert isinstance(gateway, Gateway), f"not an OpenStack gateway: {gateway!r}"
        return RequestLog.attach(gateway.http_session)

    return attach


@pytest.fixture
def faults(local_cloud: LocalCloud) -> Iterator[Callable[..., None]]:
    """``faults(kind=..., ...)`` adds a local-cloud fault rule; all are removed afterwards."""
    with fault_rules(local_cloud) as add:
        yield lambda **rule: add(rule)
