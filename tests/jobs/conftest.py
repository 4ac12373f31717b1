"""Fixtures of the jobs tests: the shared Prefect harness, a FakeCloud the flows use, a VM."""

from __future__ import annotations

from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud,
    cloud_password,
    local_env,
    prefect_harness,
    site_clients,
)
from tests.support.fake_cloud import FakeCloud


def add_vm(fake: FakeCloud, name: str = "vm1") -> str:
    """The id of a new SHUTOFF VM ``name`` on ``fake``, booted from an image of its own."""
    source = fake.add_image(f"{name}-source", tags=["base_image"])
    return fake.add_server(name, status="SHUTOFF", image_id=source.id).id
