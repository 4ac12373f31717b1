"""Fixtures of the flows tests: the shared Prefect harness and local-cloud helpers."""

from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud,
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
