"""One page of 50 snapshots out of 10,000 on the local cloud, beside the same full page out of
a small list as baseline.

Run: ``.venv/bin/python benchmarks/localcloud_paging.py`` (about ten seconds). Printed, each the
median of many requests measured in this run:

* ``GET /v2/images?image_type=snapshot&limit=50`` (default sort created_at desc), the same with
  ``sort=name:asc``, and a page deeper in the list via ``marker``: round trip over loopback with
  a kept-alive connection, and the server's SQL time alone (``glance_query.list_images``);
  target < 50 ms.
* Baseline: the same three requests on a cloud seeded with :data:`BASELINE_SNAPSHOTS`
  snapshots (a little over two pages), so every page compared holds :data:`PAGE` images in
  both runs (the script checks so); only the number of snapshots behind the page differs. The
  baseline's "deep" page is the second one (the big run's is the 42nd).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
from _common import median_ms, password_login

from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.localcloud.glance_query import Viewer, list_images, parse_image_query

SNAPSHOTS = 10_000
PAGE = 50
BASELINE_SNAPSHOTS = 2 * PAGE
REQUESTS = 40
SITE = "bielefeld"
IMAGES = f"/{SITE}/image/v2/images"


def token_for(client: httpx.Client, state_dir: Path) -> tuple[str, str]:
    response = password_login(client, state_dir, SITE)
    response.raise_for_status()
    return response.headers["X-Subject-Token"], response.json()["token"]["project"]["id"]


def measure(extra: int) -> dict[str, tuple[float, float, int]]:
    """Per query: (round-trip ms, SQL ms, images on the page)."""
    with tempfile.TemporaryDirectory() as state:
        config = LocalCloudConfig(
            state_dir=Path(state), seed_snapshots=extra, timings=Timings.fast()
        )
        with LocalCloud(config) as cloud, httpx.Client(base_url=cloud.url) as client:
            token, project = token_for(client, cloud.state_dir)
            headers = {"X-Auth-Token": token}
            first = client.get(
                IMAGES, params={"image_type": "snapshot", "limit": PAGE}, headers=headers
            ).json()
            images = first["images"]
            deep = images[-1]["id"]
            for _ in range(max(0, min(40, extra // PAGE - 2))):
                page = client.get(
                    IMAGES,
                    params={"image_type": "snapshot", "limit": PAGE, "marker": deep},
                    headers=headers,
                ).json()["images"]
                deep = page[-1]["id"]
            queries: dict[str, dict[str, Any]] = {
                "newest first": {"image_type": "snapshot", "limit": PAGE},
                "by name": {"image_type": "snapshot", "limit": PAGE, "sort": "name:asc"},
                "deep page (marker)": {"image_type": "snapshot", "limit": PAGE, "marker": deep},
            }
            assert cloud.state is not None
            site = cloud.state.sites[SITE]
            viewer = Viewer(project_id=project, is_admin=False)
            results = {}
            for label, params in queries.items():
                count = len(client.get(IMAGES, params=params, headers=headers).json()["images"])
                if count != PAGE:
                    raise RuntimeError(f"{label}: {count} images on the page, not {PAGE}")

                def roundtrip(p: dict[str, Any] = params) -> None:
                    client.get(IMAGES, params=p, headers=headers)

                def sql(p: dict[str, Any] = params) -> None:
                    query = parse_image_query([(k, str(v)) for k, v in p.items()], viewer)
                    with site.store.tx() as conn:
                        list_images(conn, query, viewer)

                results[label] = (
                    median_ms(roundtrip, REQUESTS, warm_up=True),
                    median_ms(sql, REQUESTS, warm_up=True),
                    count,
                )
            return results


def main() -> None:
    print(
        f"One page of {PAGE} snapshots (median of {REQUESTS} requests; target < 50 ms); "
        f"baseline: the same full page out of {BASELINE_SNAPSHOTS} seeded snapshots"
    )
    big = measure(SNAPSHOTS)
    small = measure(BASELINE_SNAPSHOTS)
    for label in big:
        http_ms, sql_ms, count = big[label]
        base_http, base_sql, base_count = small[label]
        print(
            f"  {label:20s} {SNAPSHOTS:,} snapshots: {http_ms:5.1f} ms round trip, "
            f"{sql_ms:5.2f} ms SQL ({count} images) | baseline {BASELINE_SNAPSHOTS}: "
            f"{base_http:5.1f} ms, {base_sql:5.2f} ms SQL ({base_count} images) | "
            f"ratio {http_ms / base_http:4.2f}x round trip, {sql_ms / base_sql:4.2f}x SQL"
        )


if __name__ == "__main__":
    main()
