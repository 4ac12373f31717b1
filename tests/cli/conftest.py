"""Fixtures of the cli tests: the shared Prefect harness, local-cloud helpers and the runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
from tests.support.cli import Result, cli_runner


@pytest.fixture(scope="module")
def seen() -> Iterator[list[str]]:
    """Every output of the module's commands (a module overrides this to check them)."""
    outputs: list[str] = []
    yield outputs


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], seen: list[str]) -> Callable[..., Result]:
    """Run ``denbi-jupyter`` in-process: ``cli("images", "--site", ...)`` gives a Result."""
    return cli_runner(capsys, seen)
