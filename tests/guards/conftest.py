"""Fixtures of the guard tests: the shared Prefect harness, local-cloud helpers, the CLI runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
from tests.support.cli import Result, cli_runner


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``denbi-jupyter`` in-process: ``cli("snapshots", "delete", ...)`` gives a Result."""
    seen: list[str] = []
    return cli_runner(capsys, seen)


@pytest.fixture(scope="session")
def job_runner(prefect_harness: None) -> object:  # noqa: F811
    """One JobRunner for the guard tests' panels, on the Prefect test harness."""
    from denbi_jupyter.jobs import JobRunner

    runner = JobRunner()
    runner.warm_up()
    return runner
