"""Image catalog and filters at 0, 10,000 and 50,000 snapshots: requests and time.

Run: ``.venv/bin/python benchmarks/panels_filter.py`` (several minutes: it seeds 50,000
snapshots). For each scale, a local cloud is seeded and a fresh Python process measures, with
every HTTP request counted on the wire (``panels_support.WireCounter``):

* opening the image catalog: ``ImagePanel(...)`` with new clients (a Keystone login each time)
  until the list shows the public and shared images; requests by service (the snapshot
  index's walk, which runs beside it and brings the project's private uploads, counted
  apart as ``image-index``) and the median time of three openings (target: the same
  requests at every scale); then the time until the private uploads have joined;
* one image-filter change (search keystrokes, desktop, OS, clear): requests (target 0) and the
  median time until ``images`` is updated; baseline: what the panel used to do per change, one
  ``CloudClient.list_images`` call with that filter;
* one snapshot-filter keystroke once the index is loaded: requests (target 0) and the median
  and worst time until the table shows the new page; baseline: a plain list comprehension over
  the same snapshots in memory (the honest floor for "filter what you hold").
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from panels_support import SCALES, WireCounter, local_cloud, run_fresh, total

IMAGE_CHANGES: tuple[tuple[str, str], ...] = (
    ("search", "u"), ("search", "ub"), ("search", "ubu"), ("search", ""),
    ("desktop", "x2go"), ("desktop", "guacamole"), ("desktop", "plain"),
    ("os_family", "ubuntu"), ("os_family", ""), ("desktop", "any"),
)  # fmt: skip
KEYSTROKES = ("r", "rn", "rna", "rnas", "rnase", "rnaseq", "rnaseq-snap-0", "rnaseq-snap-004")
OPENINGS = 3


def _catalog_shown(panel: Any, timeout: float = 300.0) -> None:
    """Wait until the panel lists its public and shared images (a tick-wise poll)."""
    deadline, tick = time.monotonic() + timeout, threading.Event()
    while panel.loading or not panel.catalog:
        assert time.monotonic() < deadline and not panel.error, panel.error or "timed out"
        tick.wait(0.002)


def _open_catalog(
    counter: WireCounter, config: str, site: str
) -> tuple[float, dict[str, int], float, dict[str, int]]:
    from denbi_jupyter.cloud import open_site
    from denbi_jupyter.panels import ImagePanel, Shared, SiteClients

    mark = counter.snapshot()
    began = time.perf_counter()
    shared = Shared(SiteClients(lambda name: open_site(name, config_file=Path(config)), [site]),
                    warm_up=False, debounce_s=0.0)  # fmt: skip
    panel = ImagePanel(shared)
    _catalog_shown(panel)
    seconds = time.perf_counter() - began
    requests = {k: v for k, v in counter.since(mark).items() if k != "image-index"}
    assert panel.wait_idle(600), panel.error
    complete = time.perf_counter() - began
    walk = counter.since(mark).get("image-index", 0)
    panel.close()
    shared.close()
    return seconds, requests, complete, {"image-index": walk}


def _image_filters(counter: WireCounter, panel: Any, client: Any) -> dict[str, Any]:
    from denbi_jupyter.cloud import ImageQuery

    mark = counter.snapshot()
    times = []
    for name, value in IMAGE_CHANGES:
        began = time.perf_counter()
        setattr(panel, name, value)
        assert panel.wait_idle(60)
        times.append(time.perf_counter() - began)
    requests = total(counter.since(mark))
    mark = counter.snapshot()
    baseline = []
    for text in ("u", "ub", "ubu"):
        began = time.perf_counter()
        client.list_images(ImageQuery(text=text))
        baseline.append(time.perf_counter() - began)
    return {
        "requests_per_change": requests / len(IMAGE_CHANGES),
        "ms": statistics.median(times) * 1000,
        "baseline_ms": statistics.median(baseline) * 1000,
        "baseline_requests": total(counter.since(mark)) / len(baseline),
    }


def _snapshot_keystrokes(counter: WireCounter, shared: Any) -> dict[str, Any]:
    from denbi_jupyter.cloud import SnapshotQuery
    from denbi_jupyter.panels import SnapshotPanel

    mark = counter.snapshot()
    began = time.perf_counter()
    panel = SnapshotPanel(shared)
    assert panel.wait_idle(600) and panel.table.index_state == "loaded", panel.table.error
    index_s, index_requests = time.perf_counter() - began, counter.since(mark)
    mark = counter.snapshot()
    typed = []
    for text in KEYSTROKES:
        began = time.perf_counter()
        panel.table._filter.value = text
        assert panel.wait_idle(60) and panel.table.current is not None
        typed.append(time.perf_counter() - began)
    requests = total(counter.since(mark))
    index = shared.clients.get(shared.clients.names[0]).snapshot_index()
    held, page = [], 1
    while True:
        result = index.query(SnapshotQuery(page=page, per_page=1000))
        held.extend(result.items)
        if not result.has_next:
            break
        page += 1
    baseline = []
    for text in KEYSTROKES:
        began = time.perf_counter()
        needle = text.lower()
        [s for s in held if needle in s.name.lower() or needle in (s.project_name or "").lower()
         or s.id.startswith(needle)]  # fmt: skip
        baseline.append(time.perf_counter() - began)
    panel.close()
    return {
        "index_s": index_s,
        "index_requests": index_requests,
        "requests_per_keystroke": requests / len(KEYSTROKES),
        "ms": statistics.median(typed) * 1000,
        "worst_ms": max(typed) * 1000,
        "baseline_ms": statistics.median(baseline) * 1000,
        "held": len(held),
    }


def child(config: str, site: str) -> None:
    """Measure in this (fresh) process and print one RESULT line."""
    import json

    counter = WireCounter(split_index=True).install()
    openings = [_open_catalog(counter, config, site) for _ in range(OPENINGS)]
    from denbi_jupyter.cloud import open_site
    from denbi_jupyter.panels import ImagePanel, Shared, SiteClients

    shared = Shared(SiteClients(lambda name: open_site(name, config_file=Path(config)), [site]),
                    warm_up=False, debounce_s=0.0)  # fmt: skip
    images = ImagePanel(shared)
    assert images.wait_idle(300)
    result = {
        "catalog_ms": statistics.median(o[0] for o in openings) * 1000,
        "catalog_first_ms": openings[0][0] * 1000,
        "catalog_requests": openings[-1][1],
        "private_ms": statistics.median(o[2] for o in openings) * 1000,
        "index_walk_requests": openings[-1][3]["image-index"],
        "catalog_size": len(images.catalog),
        "images": _image_filters(counter, images, shared.clients.get(site)),
        "snapshots": _snapshot_keystrokes(counter, shared),
    }
    shared.close()
    print("RESULT " + json.dumps(result))


def _print(scale: int, r: dict[str, Any]) -> None:
    images, snaps = r["images"], r["snapshots"]
    glance = r["catalog_requests"].get("image", 0)
    print(f"--- {scale:,} snapshots ---")
    print(
        f"open image catalog ({r['catalog_size']} images): {total(r['catalog_requests'])} "
        f"requests ({glance} Glance; by service {r['catalog_requests']}), median "
        f"{r['catalog_ms']:.0f} ms (first, cold process {r['catalog_first_ms']:.0f} ms)"
    )
    print(
        f"  private uploads joined after {r['private_ms']:.0f} ms (the snapshot index's walk "
        f"beside it: {r['index_walk_requests']} Glance requests, shared with the Snapshots tab)"
    )
    print(
        f"image-filter change: {images['requests_per_change']:.1f} requests, "
        f"{images['ms']:.2f} ms (baseline, a list_images call per change: "
        f"{images['baseline_requests']:.1f} requests, {images['baseline_ms']:.0f} ms)"
    )
    print(
        f"snapshot index: {snaps['held']:,} snapshots loaded in {snaps['index_s'] * 1000:.0f} ms, "
        f"{total(snaps['index_requests'])} requests {snaps['index_requests']}"
    )
    print(
        f"snapshot-filter keystroke: {snaps['requests_per_keystroke']:.1f} requests, median "
        f"{snaps['ms']:.1f} ms, worst {snaps['worst_ms']:.1f} ms (baseline, a list "
        f"comprehension over the same snapshots: {snaps['baseline_ms']:.1f} ms)"
    )


def main() -> int:
    results: dict[int, dict[str, Any]] = {}
    scales = [int(a) for a in sys.argv[1:]] or list(SCALES)
    for scale in scales:
        with local_cloud(scale) as cloud:
            code = (
                "import panels_filter; "
                f"panels_filter.child({str(cloud.config)!r}, {cloud.sites[0]!r})"
            )
            results[scale] = run_fresh(code, cloud, timeout=1800)
        _print(scale, results[scale])
    glance = {s: r["catalog_requests"].get("image", 0) for s, r in results.items()}
    same = len(set(glance.values())) == 1
    zero_images = all(r["images"]["requests_per_change"] == 0 for r in results.values())
    zero_keys = all(r["snapshots"]["requests_per_keystroke"] == 0 for r in results.values())
    print("--- targets ---")
    print(f"catalog Glance requests by scale {glance}:", "OK (same)" if same else "GROWS WITH N")
    print("image-filter change, 0 requests:", "OK" if zero_images else "NOT MET")
    print("snapshot keystroke, 0 requests:", "OK" if zero_keys else "NOT MET")
    return 0 if same and zero_images and zero_keys else 1


if __name__ == "__main__":
    sys.exit(main())
