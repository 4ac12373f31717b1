"""What an injected ``latency`` fault costs on the local cloud, against no fault as baseline.

Run: ``.venv/bin/python benchmarks/localcloud_faults.py`` (about five seconds). Printed, each
the median of many ``GET /v2.1/limits`` round trips over loopback with a kept-alive
connection, measured in this run:

* baseline: no fault rule;
* a non-matching rule (a latency rule for another path): the cost of matching alone;
* a matching ``latency`` rule of :data:`DELAY` seconds: the delay plus the overhead above it
  (the tests check that the delay is applied, once per firing; only this script times it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from _common import median_ms, password_login

from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings

SITE = "bielefeld"
LIMITS = f"/{SITE}/compute/v2.1/limits"
DELAY = 0.05
ROUNDS = 40


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        config = LocalCloudConfig(
            state_dir=Path(state), sites=DEFAULT_SITES[:1], timings=Timings.fast()
        )
        with LocalCloud(config) as cloud, httpx.Client(base_url=cloud.url, timeout=30) as client:
            token = password_login(client, cloud.state_dir, SITE).headers["X-Subject-Token"]
            headers = {"X-Auth-Token": token}

            def limits() -> None:
                client.get(LIMITS, headers=headers).raise_for_status()

            def with_rule(rule: dict[str, object]) -> float:
                client.delete("/_admin/faults").raise_for_status()
                client.post("/_admin/faults", json=rule).raise_for_status()
                return median_ms(limits, ROUNDS, warm_up=True)

            client.delete("/_admin/faults").raise_for_status()
            baseline = median_ms(limits, ROUNDS, warm_up=True)
            other = with_rule({"kind": "latency", "seconds": DELAY, "path": "/flavors$"})
            delayed = with_rule({"kind": "latency", "seconds": DELAY, "path": "/limits$"})
            client.delete("/_admin/faults").raise_for_status()
    print(f"GET /v2.1/limits, median of {ROUNDS} requests")
    print(f"  baseline, no rule:           {baseline:6.2f} ms")
    print(f"  a rule for another path:     {other:6.2f} ms ({other - baseline:+.2f} ms)")
    print(
        f"  latency {DELAY * 1000:.0f} ms on this path: {delayed:6.2f} ms "
        f"({delayed - baseline - DELAY * 1000:+.2f} ms above baseline + delay)"
    )


if __name__ == "__main__":
    main()
