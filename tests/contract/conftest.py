"""Fixtures of the contract suite: one cloud, local or real, reached only through clouds.yaml.

With ``DENBI_CONTRACT_CLOUDS_YAML`` and ``DENBI_CONTRACT_CLOUD`` set (``make test-openstack``),
every scenario runs against that cloud. Without them the suite starts the local cloud and uses
its ``bielefeld`` entry. The scenarios create what they need under unique names and delete it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from ._support import (
    TINY_FLAVOR,
    ContractCloud,
    Janitor,
    Timeouts,
    create_image,
    raw_image,
    unique,
)

CLOUDS_YAML_ENV = "DENBI_CONTRACT_CLOUDS_YAML"
CLOUD_ENV = "DENBI_CONTRACT_CLOUD"
LOCAL_CLOUD_ENTRY = "bielefeld"

LOCAL_TIMEOUTS = Timeouts(boot=20, snapshot=20, change=15, cli=60, interval=0.05)
REAL_TIMEOUTS = Timeouts(boot=300, snapshot=300, change=120, cli=600, interval=0.5)


def _real_cloud_from_env() -> ContractCloud | None:
    path, name = os.environ.get(CLOUDS_YAML_ENV), os.environ.get(CLOUD_ENV)
    if not path and not name:
        return None
    if not path or not name:
        raise pytest.UsageError(f"set both {CLOUDS_YAML_ENV} and {CLOUD_ENV}, or neither")
    if not Path(path).is_file():
        raise pytest.UsageError(f"{CLOUDS_YAML_ENV}={path} is not a file")
    return ContractCloud(Path(path), name, REAL_TIMEOUTS)


def pytest_report_header() -> str:
    """Say in the report header which cloud the contract scenarios run against."""
    name = os.environ.get(CLOUD_ENV)
    if name:
        return f"contract cloud: {name} (from {os.environ.get(CLOUDS_YAML_ENV)})"
    return f"contract cloud: local cloud, entry {LOCAL_CLOUD_ENTRY}"


@pytest.fixture(scope="session")
def contract_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractCloud]:
    """The cloud under test; starts (and at the end stops) the local cloud when none is given."""
    real = _real_cloud_from_env()
    if real is not None:
        yield real
        return
    from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings

    cloud = LocalCloud(LocalCloudConfig(timings=Timings.fast())).start()
    try:
        path = cloud.write_clouds_yaml(tmp_path_factory.mktemp("contract") / "clouds.yaml")
        yield ContractCloud(path, LOCAL_CLOUD_ENTRY, LOCAL_TIMEOUTS)
    finally:
        cloud.stop()


def _connect(cloud: ContractCloud) -> Connection:
    """A fresh openstacksdk connection to the cloud's clouds.yaml entry."""
    config = OpenStackConfig(config_files=[str(cloud.clouds_yaml)], vendor_files=[])
    return Connection(config=config.get_one(cloud=cloud.name))


@pytest.fixture(scope="session")
def timeouts(contract_cloud: ContractCloud) -> Timeouts:
    """Deadlines for the cloud under test."""
    return contract_cloud.timeouts


@pytest.fixture(scope="session")
def conn(contract_cloud: ContractCloud) -> Iterator[Connection]:
    """One authenticated openstacksdk connection for the whole session."""
    connection = _connect(contract_cloud)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="session")
def run_id() -> str:
    """Short id of this run; part of every name, tag and property value the suite creates."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def project_id(conn: Connection) -> str:
    """Id of the project the connection is scoped to."""
    project = conn.current_project_id
    assert project, "the connection is not project-scoped"
    return str(project)


@pytest.fixture(scope="session")
def tiny_flavor(conn: Connection) -> Any:
    """The ``de.NBI tiny`` flavor (both clouds have it)."""
    return conn.compute.find_flavor(TINY_FLAVOR, ignore_missing=False)


def _cleaning(conn: Connection, timeouts: Timeouts, run_id: str) -> Iterator[Janitor]:
    cleaner = Janitor(conn, timeouts, run_id)
    yield cleaner
    cleaner.clean()


@pytest.fixture
def janitor(conn: Connection, timeouts: Timeouts, run_id: str) -> Iterator[Janitor]:
    """Deletes what one scenario created, when it ends."""
    yield from _cleaning(conn, timeouts, run_id)


@pytest.fixture(scope="module")
def module_janitor(conn: Connection, timeouts: Timeouts, run_id: str) -> Iterator[Janitor]:
    """Deletes what a module's fixtures created, when the module ends."""
    yield from _cleaning(conn, timeouts, run_id)


@pytest.fixture(scope="session")
def session_janitor(conn: Connection, timeouts: Timeouts, run_id: str) -> Iterator[Janitor]:
    """Deletes what session fixtures created, when the session ends."""
    yield from _cleaning(conn, timeouts, run_id)


@pytest.fixture(scope="session")
def boot_image(run_id: str, session_janitor: Janitor) -> dict[str, Any]:
    """A small active ``raw`` image of our own to boot servers from."""
    data = hashlib.sha512(run_id.encode()).digest() * 64
    return create_image(session_janitor, raw_image(unique(run_id, "boot")), data=data)
