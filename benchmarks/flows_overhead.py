"""What the snapshot flow costs over calling openstacksdk directly, and Prefect's warm-up.

Run: ``.venv/bin/python benchmarks/flows_overhead.py`` (about a minute). It starts the local
cloud with its default timings (a snapshot takes about 3 s, as a small real one takes tens of
seconds), boots one VM, and prints, each the median of several snapshots of that VM:

* ``sdk``: ``conn.compute.create_server_image(server, name, wait=True)``, what a script would
  call (it polls Glance every 2 s);
* ``plain``: our own code without Prefect (``CloudClient.create_snapshot`` + our waiter);
* ``flow``: the ``create_snapshot`` flow with Prefect already warm (ephemeral API, heartbeats
  off), pre-flight checks, provenance, tag copy and all;

then the ratios flow/sdk (target <= 1.1) and flow/plain (what Prefect plus the flow's extra
calls for pre-flight checks and the tag copy cost), and the warm-up
time of the ephemeral Prefect API (``JobRunner.warm_up()`` until ``warm``) and of the first
flow run after it.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import openstack
import yaml

from denbi_jupyter.cloud import open_site
from denbi_jupyter.jobs import JobRunner
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig
from flows import flow_settings, quiet_console, use_clients
from flows._waiters import wait_for_snapshot
from flows.snapshot import create_snapshot

RUNS = 3
SITE = "bielefeld"


def _name(kind: str) -> str:
    return f"bench-{kind}-{uuid.uuid4().hex[:6]}"


def main() -> None:
    """Measure and print."""
    with LocalCloud(LocalCloudConfig()) as cloud:
        clouds_yaml = cloud.write_clouds_yaml(Path(tempfile.mkdtemp()) / "clouds.yaml")
        entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][SITE]
        entry.pop("denbi")
        conn = openstack.connect(**entry)
        client = open_site(SITE, config_file=clouds_yaml)
        image = conn.image.find_image("Ubuntu-22.04 de.NBI (2026-05-01)", ignore_missing=False)
        flavor = conn.compute.find_flavor("de.NBI tiny", ignore_missing=False)
        server = conn.compute.create_server(
            name=_name("vm"), image_id=image.id, flavor_id=flavor.id, networks="auto"
        )
        server = conn.compute.wait_for_server(server, interval=0.2, wait=60)

        runner = JobRunner()
        began = time.perf_counter()
        runner.warm_up()
        while not runner.warm:
            if runner.warm_up_seconds is not None:
                raise SystemExit("the Prefect backend did not start")
            time.sleep(0.05)
        warm_up = time.perf_counter() - began
        quiet_console(logging.CRITICAL + 1)  # the flow's warnings are expected here

        def sdk() -> None:
            conn.compute.create_server_image(server, _name("sdk"), wait=True, timeout=120)

        def plain() -> None:
            image_id = client.create_snapshot(server.id, name=_name("plain"), metadata={})
            wait_for_snapshot(
                client,
                server_id=server.id,
                image_id=image_id,
                timeout_s=120,
                on_progress=lambda fraction, message: None,
            )

        def run_flow() -> None:
            with flow_settings(), use_clients(lambda site: client):
                create_snapshot(site=SITE, server=server.id, name=_name("flow"))

        def timed(function: object) -> float:
            assert callable(function)
            start = time.perf_counter()
            function()
            return time.perf_counter() - start

        first_flow = timed(run_flow)
        times: dict[str, list[float]] = {"sdk": [], "plain": [], "flow": []}
        for _ in range(RUNS):
            for label, function in (("sdk", sdk), ("plain", plain), ("flow", run_flow)):
                # Nova clears its task state a moment after Glance says active: let it settle.
                while (live := client.get_server(server.id)) is not None and live.task_state:
                    time.sleep(0.05)
                times[label].append(timed(function))
        conn.close()
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"snapshot via openstacksdk (wait=True): {medians['sdk']:.2f} s")
    print(f"snapshot via our code, no Prefect:     {medians['plain']:.2f} s")
    print(f"snapshot via the flow (Prefect warm):  {medians['flow']:.2f} s")
    print(f"ratio flow / sdk:   {medians['flow'] / medians['sdk']:.2f}  (target <= 1.1)")
    print(
        f"ratio flow / plain: {medians['flow'] / medians['plain']:.2f}  (Prefect, pre-flight, tags)"
    )
    print(f"Prefect warm-up (ephemeral API, cold process): {warm_up:.1f} s")
    print(f"first flow run after warm-up: {first_flow:.2f} s")


if __name__ == "__main__":
    main()
