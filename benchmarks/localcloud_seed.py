"""Seeding a site with 10,000 extra snapshots, beside seeding the default catalog as baseline.

Run: ``.venv/bin/python benchmarks/localcloud_seed.py`` (a few seconds). Printed: the median of
three runs of ``seed.seed_site`` on a fresh, empty store (target < 10 s for 10,000 snapshots).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from denbi_jupyter.localcloud.config import DEFAULT_SITES, Timings
from denbi_jupyter.localcloud.seed import seed_site
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import SiteStore
from denbi_jupyter.localcloud.timeline import Timeline

RUNS = 3


def seed_seconds(extra: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = SiteStore(path=Path(folder) / "site.sqlite", data_dir=Path(folder) / "data")
        site = Site(DEFAULT_SITES[0], store, Timeline(store), Timings.fast())
        started = time.perf_counter()
        seed_site(site, password="benchmark-only", extra_snapshots=extra)
        elapsed = time.perf_counter() - started
        store.close()
        return elapsed


def main() -> None:
    print(f"Seeding one site (median of {RUNS} runs)")
    for extra, label in (
        (10_000, "default catalog + 10,000 snapshots"),
        (0, "baseline: default catalog"),
    ):
        seconds = statistics.median(seed_seconds(extra) for _ in range(RUNS))
        print(f"  {label:36s} {seconds * 1000:7.0f} ms" + ("   (target < 10 s)" if extra else ""))


if __name__ == "__main__":
    main()
