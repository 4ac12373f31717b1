"""Fixtures of the load tests: the shared Prefect harness and local-cloud helpers."""

from tests.flows.harness import (  # noqa: F401  (fixtures)
    local_env,
    prefect_harness,
    site_clients,
)
