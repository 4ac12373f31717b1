"""First render of ``CloudPanel`` in a fresh process, at 0, 10,000 and 50,000 snapshots.

Run: ``.venv/bin/python benchmarks/panels_first_render.py`` (several minutes: it seeds 50,000
snapshots). For each scale a local cloud is seeded, then a fresh Python process does what a
user's first cell does, ``CloudPanel(config_file=...)`` (which also starts warming Prefect up in
the background, as in a kernel), and records, from the moment the process was spawned:

* imports done (``from denbi_jupyter import CloudPanel``);
* ``CloudPanel()`` returned (the cell is no longer blocked);
* the image list shown, and the first snapshot page shown: the first render (target < 1 s
  after the ``CloudPanel()`` call, at every scale);
* every background call done, the snapshot index included (no target: it grows with N);
* HTTP requests on the wire during the render, by service (``panels_support.WireCounter``).

Baseline: the same cloud calls made one after another on the kernel thread with no widgets
(login, image catalog, flavors, key pairs, one snapshot page, servers, project name), in the
same fresh process after the render (so imports are not counted twice).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from panels_support import SCALES, WireCounter, local_cloud, run_fresh, total

TARGET_S = 1.0


def _wait_for(panel: Any, began: float, limit: float = 600.0) -> dict[str, float]:
    marks: dict[str, float] = {}
    checks = {
        "images": lambda: bool(panel.images.catalog),
        "snapshot_page": lambda: panel.snapshots.current is not None,
        "index": lambda: panel.snapshots.table.index_state in ("loaded", "failed"),
    }
    while len(marks) < len(checks):
        now = time.time()
        for name, check in checks.items():
            if name not in marks and check():
                marks[name] = now
        if now - began > limit:
            break
        time.sleep(0.01)
    return marks


def _baseline(config: Path, site: str) -> float:
    from denbi_jupyter.cloud import ImageQuery, SnapshotQuery, open_site

    began = time.perf_counter()
    client = open_site(site, config_file=config)
    client.list_images(ImageQuery())
    client.list_flavors()
    client.list_keypairs()
    client.list_snapshots(SnapshotQuery())
    client.list_servers()
    _ = client.project_name
    return time.perf_counter() - began


def child(config: str, site: str) -> None:
    """Measure in this (fresh) process and print one RESULT line."""
    import json

    counter = WireCounter().install()
    from denbi_jupyter import CloudPanel

    imported = time.time()
    panel = CloudPanel(config_file=Path(config), site=site)
    constructed = time.time()
    marks = _wait_for(panel, imported)
    assert panel.wait_idle(600)
    idle = time.time()
    requests = counter.since(Counter())
    mark = counter.snapshot()
    baseline = _baseline(Path(config), site)
    result = {
        "imported": imported,
        "called": imported,
        "constructed": constructed,
        "idle": idle,
        "requests": requests,
        "baseline_s": baseline,
        "baseline_requests": counter.since(mark),
        **{f"mark_{k}": v for k, v in marks.items()},
    }
    panel.close()
    print("RESULT " + json.dumps(result))


def _print(scale: int, r: dict[str, Any]) -> bool:
    spawned, called = r["spawned"], r["called"]
    shown = max(r.get("mark_images", r["idle"]), r.get("mark_snapshot_page", r["idle"]))
    first_render = shown - called
    print(f"--- {scale:,} snapshots (fresh process) ---")
    rows = (
        ("process start → imports done", r["imported"] - spawned),
        ("CloudPanel() call → returned (cell unblocked)", r["constructed"] - called),
        ("CloudPanel() call → image list shown", r.get("mark_images", 0) - called),
        ("CloudPanel() call → first snapshot page shown", r.get("mark_snapshot_page", 0) - called),
    )
    for label, seconds in rows:
        print(f"{label:<48}{seconds * 1000:7.0f} ms")
    print(
        f"first render (images + snapshot page)           {first_render * 1000:7.0f} ms "
        f"(target < {TARGET_S * 1000:.0f} ms); from process start {(shown - spawned) * 1000:.0f} ms"
    )
    print(f"CloudPanel() call → all done, index included    {(r['idle'] - called) * 1000:7.0f} ms")
    print(f"requests during the render: {total(r['requests'])} {r['requests']}")
    print(
        f"baseline, the same calls in a row without widgets: {r['baseline_s'] * 1000:.0f} ms, "
        f"{total(r['baseline_requests'])} requests {r['baseline_requests']}"
    )
    return first_render < TARGET_S


def main() -> int:
    scales = [int(a) for a in sys.argv[1:]] or list(SCALES)
    verdicts = []
    for scale in scales:
        with local_cloud(scale) as cloud:
            code = (
                "import panels_first_render; "
                f"panels_first_render.child({str(cloud.config)!r}, {cloud.sites[0]!r})"
            )
            result = run_fresh(code, cloud, timeout=1800)
        verdicts.append(_print(scale, result))
    ok = all(verdicts)
    print("first render:", "OK" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
