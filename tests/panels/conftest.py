"""Fixtures of the panel tests: a seeded FakeCloud, shared panel state, a recording probe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from denbi_jupyter.connect import ProbeResult
from denbi_jupyter.panels import Shared, SiteClients
from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
from tests.support.fake_cloud import FakeCloud


def seeded_cloud(**options: object) -> FakeCloud:
    """A FakeCloud with a small de.NBI-like catalog, snapshots and two VMs."""
    cloud = FakeCloud(other_projects={"p-other": "other-project"}, **options)  # type: ignore[arg-type]
    os_props = {"os_distro": "ubuntu", "os_version": "22.04"}
    cloud.add_image("Ubuntu-22.04 de.NBI", tags=["base_image"], properties=os_props)
    cloud.add_image(
        "Debian-12 de.NBI",
        tags=["base_image"],
        properties={"os_distro": "debian", "os_version": "12"},
    )
    cloud.add_image("X2Go_xfce", tags=["x2go"], properties=os_props)
    cloud.add_image("X2Go_mate", tags=["x2go"], properties=os_props)
    cloud.add_image("Guacamole-ubuntu22.04 de.NBI", tags=["guacamole"], properties=os_props)
    cloud.add_image("RStudio-ubuntu22.04 de.NBI", tags=["rstudio"], properties=os_props)
    cloud.add_snapshot("analysis-snap", properties={"denbi_flavor": "de.NBI small"})
    cloud.add_snapshot("assembly-snap")
    cloud.add_snapshot("golden-snap", protected=True)
    cloud.add_snapshot("theirs-snap", owner="p-other", visibility="shared")
    cloud.add_server("vm1", status="ACTIVE")
    cloud.add_server("vm2", status="SHUTOFF", private_ipv4="192.168.1.11")
    return cloud


@pytest.fixture
def fake() -> FakeCloud:
    """A seeded FakeCloud."""
    return seeded_cloud()


@dataclass
class RecordingProbe:
    """A reachability probe that answers from a table and records what it was asked."""

    reachable: bool = True
    calls: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> ProbeResult:
        self.calls.append((host, port))
        if self.reachable:
            return ProbeResult(host=host, port=port, reachable=True, latency_ms=3.0)
        return ProbeResult(host=host, port=port, reachable=False, error="connection refused")


@pytest.fixture
def probe() -> RecordingProbe:
    """A probe that never touches the network (the fake site's gateway is not ours)."""
    return RecordingProbe()


@pytest.fixture
def shared(fake: FakeCloud) -> Iterator[Shared]:
    """Panel state around ``fake``: no debounce, no Prefect warm-up."""
    state = Shared(SiteClients(fake), debounce_s=0.0, warm_up=False)
    yield state
    state.background.shutdown()


@pytest.fixture
def job_shared(fake: FakeCloud, job_runner: Any) -> Shared:
    """Panel state around ``fake`` whose actions run as jobs on the session's runner."""
    return Shared(SiteClients(fake), runner=job_runner, debounce_s=0.0, warm_up=False)


@pytest.fixture(scope="session")
def job_runner(prefect_harness: None) -> object:  # noqa: F811
    """One JobRunner for the session, on the Prefect test harness."""
    from denbi_jupyter.jobs import JobRunner

    runner = JobRunner()
    runner.warm_up()
    return runner
