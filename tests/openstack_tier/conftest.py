"""Fixtures of the tier's unit tests: a config over temporary folders, no services."""

from __future__ import annotations

from pathlib import Path

import pytest

from openstack_tier.configs import TierConfig
from openstack_tier.settings import Ports, Secrets, TierPaths

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def paths(tmp_path: Path) -> TierPaths:
    """Paths with the real repository (for constraints.txt) and temporary run/cache folders."""
    return TierPaths(repo=REPO, run=tmp_path / "run", cache=tmp_path / "cache")


@pytest.fixture
def secrets() -> Secrets:
    return Secrets(admin="adm-pw", service="svc-pw", database="db-pw", user="user-pw")


@pytest.fixture
def config(paths: TierPaths, secrets: Secrets) -> TierConfig:
    return TierConfig(paths, Ports(), secrets)
