"""Snapshot listing on a local cloud with 10,000 snapshots: ours against openstacksdk's way.

Run: ``.venv/bin/python benchmarks/cloud_snapshot_listing.py`` (about a minute). Every figure is
measured in this run, each beside its baseline:

* requests and time per snapshot page (25 per page): ours = one Glance request per page plus
  one cached Keystone project lookup per client; baseline = openstacksdk's
  ``conn.image.images(image_type="snapshot")``, which drops the unknown filter, fetches every
  image 25 at a time and leaves filtering and paging to the caller;
* requests and time per name-filter keystroke once the index is loaded (target: 0 requests,
  < 50 ms); baseline = what a keystroke costs without an index (a full fetch, as above);
* loading the index of 10,000 snapshots (target: ≥ 5× faster than the baseline, the SDK's
  default fetch-all ``conn.image.images()`` with its default page of 25, same snapshots).

Requests are counted on the wire (``requests.Session.send`` under the keystoneauth session).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from denbi_jupyter.cloud import OpenStackCloud, SnapshotQuery, open_site
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig

SNAPSHOTS = 10_000
PER_PAGE = 25
PAGES = 5
KEYSTROKES = ("t", "tr", "tra", "trai", "train", "training-snap-0", "training-snap-004")
T = TypeVar("T")


@contextmanager
def counting(client: OpenStackCloud) -> Iterator[list[str]]:
    """Collect the URL of every request ``client`` sends inside the block."""
    session = client.gateway.http_session
    original = session.send
    urls: list[str] = []

    def send(request: Any, **kwargs: Any) -> Any:
        urls.append(str(request.url))
        return original(request, **kwargs)

    session.send = send  # type: ignore[method-assign]
    try:
        yield urls
    finally:
        session.send = original  # type: ignore[method-assign]


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def fresh_client(clouds: Path) -> OpenStackCloud:
    client = open_site("bielefeld", config_file=clouds)
    assert isinstance(client, OpenStackCloud)
    client.project_id  # noqa: B018 - authenticate outside the measurements
    client.gateway.image_page({"limit": 1})  # Glance version discovery, likewise
    return client


def sdk_fetch_all(client: OpenStackCloud) -> list[Any]:
    """openstacksdk's way: the filter is dropped, so fetch all (25 per page) and filter here."""
    conn = client.gateway.connection
    return [
        image
        for image in conn.image.images(image_type="snapshot")
        if (image.properties or {}).get("image_type") == "snapshot"
    ]


def main() -> int:
    print(f"starting a local cloud with {SNAPSHOTS:,} extra snapshots …", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        cloud = LocalCloud(LocalCloudConfig(seed_snapshots=SNAPSHOTS, state_dir=Path(folder)))
        with cloud:
            clouds = cloud.write_clouds_yaml(Path(folder) / "clouds.yaml")
            return report(clouds)


def report(clouds: Path) -> int:
    rows: list[tuple[str, str, str, str, bool]] = []

    # 1. pages
    ours = fresh_client(clouds)
    with counting(ours) as urls:
        times = [
            timed(partial(ours.list_snapshots, SnapshotQuery(page=n, per_page=PER_PAGE)))[1]
            for n in range(1, PAGES + 1)
        ]
    glance = sum("/v2/images" in url for url in urls)
    keystone = sum("/auth/projects" in url for url in urls)
    baseline = fresh_client(clouds)
    with counting(baseline) as base_urls:
        snapshots, base_time = timed(lambda: sdk_fetch_all(baseline))
        page = snapshots[:PER_PAGE]
    assert len(page) == PER_PAGE
    rows.append(
        (
            f"requests per page ({PAGES} pages of {PER_PAGE})",
            f"{glance / PAGES:.1f} + {keystone} project lookup",
            f"{len(base_urls)}",
            "1 + 1 per session",
            glance == PAGES and keystone == 1,
        )
    )
    rows.append(
        (
            "time per page",
            f"{statistics.median(times) * 1000:.0f} ms",
            f"{base_time:.2f} s",
            "",
            True,
        )
    )
    total = len(snapshots)

    # 2. index load
    client = fresh_client(clouds)
    index = client.snapshot_index()
    with counting(client) as load_urls:
        _, load_time = timed(index.load)
    speedup = base_time / load_time
    rows.append(
        (
            f"index load ({len(index):,} snapshots)",
            f"{load_time:.2f} s, {len(load_urls)} requests",
            f"{base_time:.2f} s, {len(base_urls)} requests",
            "≥ 5× faster",
            speedup >= 5 and len(index) == total,
        )
    )

    # 3. keystrokes on the loaded index
    with counting(client) as key_urls:
        key_times = [
            timed(partial(client.list_snapshots, SnapshotQuery(text=text, per_page=PER_PAGE)))[1]
            for text in KEYSTROKES
        ]
    worst = max(key_times)
    rows.append(
        (
            f"requests per keystroke ({len(KEYSTROKES)} keystrokes)",
            f"{len(key_urls) / len(KEYSTROKES):.0f}",
            f"{len(base_urls)} (a full fetch)",
            "0",
            not key_urls,
        )
    )
    rows.append(
        (
            "time per keystroke (median / worst)",
            f"{statistics.median(key_times) * 1000:.1f} / {worst * 1000:.1f} ms",
            f"{base_time * 1000:.0f} ms",
            "< 50 ms",
            worst < 0.05,
        )
    )
    print_table(rows, speedup)
    return 0 if all(row[4] for row in rows) else 1


def print_table(rows: list[tuple[str, str, str, str, bool]], speedup: float) -> None:
    headers = ("measure", "denbi-jupyter", "openstacksdk baseline", "target", "met")
    table = [headers, *[(a, b, c, d, "yes" if ok else "NO") for a, b, c, d, ok in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for number, row in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))
    print(f"index load speed-up over the SDK fetch-all: {speedup:.1f}×")


if __name__ == "__main__":
    sys.exit(main())
