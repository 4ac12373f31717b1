"""What the local-cloud benchmarks share: the median time of a call and a Keystone login.

Imported by the benchmark scripts run as ``python benchmarks/<name>.py`` (their folder is
then first on ``sys.path``); run on its own it does nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from denbi_jupyter.localcloud.seed import PRIMARY_PROJECT
from denbi_jupyter.localcloud.server import load_credentials


def median_ms(call: Callable[[], object], rounds: int, *, warm_up: bool = False) -> float:
    """The median wall time of ``rounds`` calls in ms (after one untimed call with ``warm_up``)."""
    if warm_up:
        call()
    samples: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def password_login(client: httpx.Client, state_dir: Path, site: str) -> httpx.Response:
    """Keystone's answer to the seeded user's password login, scoped to the primary project."""
    credentials = load_credentials(state_dir)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": credentials["username"],
                        "domain": {"name": "Default"},
                        "password": credentials["password"],
                    }
                },
            },
            "scope": {"project": {"name": PRIMARY_PROJECT, "domain": {"name": "Default"}}},
        }
    }
    return client.post(f"/{site}/identity/v3/auth/tokens", json=body)
