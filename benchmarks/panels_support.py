"""What the panel benchmarks share (not a benchmark itself): a seeded local cloud, a request
counter on the wire, and a fresh Python process to measure in.

Requests are counted on the wire: ``requests.Session.send`` is wrapped for the whole process,
so Keystone logins, discovery and retries count too (like ``tests/support/request_log.py``,
which wraps one session). Each request is filed under its service: ``identity``, ``image``,
``compute`` or ``network``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Snapshot counts the scale benchmarks run at.
SCALES = (0, 10_000, 50_000)
_SERVICES = ("identity", "image", "compute", "network")


def service_of(url: str) -> str:
    """The service a local-cloud URL belongs to (``/<site>/<service>/...``)."""
    parts = url.split("://", 1)[-1].split("/")
    for part in parts[1:4]:
        if part in _SERVICES:
            return part
    return "other"


#: Query parameters of the snapshot index's walk (which also finds the private uploads).
_INDEX_WALK = ("visibility=private", "image_type=snapshot", "bdm_v2=")


def walks_the_index(url: str) -> bool:
    """True for a Glance listing that belongs to the snapshot index's walk."""
    return "/images?" in url and any(marker in url for marker in _INDEX_WALK)


class WireCounter:
    """Counts every HTTP request this process sends through ``requests``, by service.

    Args:
        split_index: Count the snapshot index's Glance listings as ``image-index`` apart from
            the other ``image`` requests.
    """

    def __init__(self, *, split_index: bool = False) -> None:
        self._lock = threading.Lock()
        self._split_index = split_index
        self.counts: Counter[str] = Counter()

    def install(self) -> WireCounter:
        """Wrap ``requests.Session.send`` (once per process)."""
        import requests

        original = requests.Session.send
        counter = self

        def send(session: Any, request: Any, **kwargs: Any) -> Any:
            url = str(request.url)
            service = service_of(url)
            if counter._split_index and service == "image" and walks_the_index(url):
                service = "image-index"
            with counter._lock:
                counter.counts[service] += 1
            return original(session, request, **kwargs)

        requests.Session.send = send  # type: ignore[method-assign]
        return self

    def snapshot(self) -> Counter[str]:
        """A copy of the counts so far."""
        with self._lock:
            return Counter(self.counts)

    def since(self, mark: Counter[str]) -> dict[str, int]:
        """Requests per service since ``mark`` (a :meth:`snapshot`), zeros left out."""
        now = self.snapshot()
        return {k: now[k] - mark[k] for k in now if now[k] - mark[k]}


def total(counts: dict[str, int]) -> int:
    """All requests of a ``since`` result."""
    return sum(counts.values())


@dataclass(frozen=True, slots=True)
class Cloud:
    """A running local cloud and how to reach it."""

    config: Path
    sites: list[str]
    folder: Path


@contextmanager
def local_cloud(snapshots: int, **options: Any) -> Iterator[Cloud]:
    """A local cloud whose first site holds ``snapshots`` extra snapshots."""
    from denbi_jupyter.lab import demo_cloud_config
    from denbi_jupyter.localcloud import LocalCloud

    folder = Path(tempfile.mkdtemp(prefix="denbi-bench-"))
    with LocalCloud(demo_cloud_config(seed_snapshots=snapshots, **options)) as cloud:
        config = cloud.write_clouds_yaml(folder / "clouds.yaml")
        yield Cloud(config=config, sites=[s.name for s in cloud.config.sites], folder=folder)


def run_fresh(code: str, cloud: Cloud, *, timeout: float = 600) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process; it prints one ``RESULT {json}`` line.

    The result gets ``spawned``: the wall-clock time (``time.time()``) just before the
    process was started, so the child's marks can be told from process start.
    """
    env = dict(
        os.environ,
        PREFECT_HOME=str(cloud.folder / "prefect"),
        OS_CLIENT_CONFIG_FILE=str(cloud.config),
        PYTHONPATH=os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)]),
    )
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the fresh process failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    result["spawned"] = spawned
    return result
