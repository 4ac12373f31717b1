"""Fixtures of the jobs tests: the shared Prefect harness and local-cloud helpers."""

from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
