"""What the snapshot flow costs over calling openstacksdk directly, and Prefect's warm-up.

Run: ``.venv/bin/python benchmarks/flows_overhead.py`` (about two minutes). It starts the
local cloud with its default timings (a snapshot takes about 3 s, as a small real one takes
tens of seconds), boots one VM, and prints, each the median of several snapshots of that VM:

* ``sdk, 2 s polls``: ``conn.compute.create_server_image(server, name, wait=True)``, what a
  script would call; it polls Glance every 2 s, so it notices the end up to 2 s late (shown
  for reference only: beating it says nothing about our overhead);
* ``sdk, 0.2 s polls``: the **baseline**: createImage, then
  ``conn.image.wait_for_status(image, "active", interval=0.2)``, polling as often as our
  waiter's first polls do (ours start at 0.2 s and grow to 2 s, so the baseline is, if
  anything, the quicker to notice the end);
* ``plain``: our own code without Prefect (``CloudClient.create_snapshot`` + our waiter);
* ``flow``: the ``create_snapshot`` flow with Prefect already warm (ephemeral API, heartbeats
  off), pre-flight checks, provenance, tag copy and all;

then the ratios flow / baseline (target <= 1.1) and flow / plain (what Prefect plus the flow's
extra calls cost). Last, in a **fresh process**, as a user's new kernel: import
``denbi_jupyter.jobs``, ``JobRunner.warm_up()`` until warm (the ephemeral Prefect API), how
long ``submit`` takes to return, and the first job's submit-to-done time.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
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
POLL_S = 0.2
FRESH_KERNEL = """
import json, sys, time
began = time.perf_counter()
from denbi_jupyter.jobs import FlowRef, JobRunner
runner = JobRunner()
runner.warm_up()
assert runner.wait_warm(300), "the Prefect backend did not start"
warm = time.perf_counter() - began
clicked = time.perf_counter()
job = runner.submit("Snapshot", FlowRef.CREATE_SNAPSHOT, site=sys.argv[1], server=sys.argv[2],
                    name=sys.argv[3])
returned = time.perf_counter() - clicked
assert job.wait(300), "the job did not end"
done = time.perf_counter() - clicked
print(json.dumps({"warm_up": warm, "submit": returned, "first_job": done, "state": job.state}))
"""


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
        runner.warm_up()
        if not runner.wait_warm(300):
            raise SystemExit("the Prefect backend did not start")
        quiet_console(logging.CRITICAL + 1)  # the flow's warnings are expected here

        def sdk() -> None:
            conn.compute.create_server_image(server, _name("sdk"), wait=True, timeout=120)

        def sdk_fair() -> None:
            image = conn.compute.create_server_image(server, _name("sdk-fair"), wait=False)
            conn.image.wait_for_status(
                image, status="active", failures=["killed"], interval=POLL_S, wait=120
            )

        def plain() -> None:
            image_id = client.create_snapshot(server.id, name=_name("plain"), metadata={})
            wait_for_snapshot(
                client,
                server_id=server.id,
                image_id=image_id,
                timeout_s=120,
                on_progress=lambda _fraction, _message: None,
            )

        def run_flow() -> None:
            with flow_settings(), use_clients(lambda _site: client):
                create_snapshot(site=SITE, server=server.id, name=_name("flow"))

        def timed(function: object) -> float:
            assert callable(function)
            start = time.perf_counter()
            function()
            return time.perf_counter() - start

        run_flow()  # the first run imports the rest of Prefect
        times: dict[str, list[float]] = {"sdk": [], "fair": [], "plain": [], "flow": []}
        cases = (("sdk", sdk), ("fair", sdk_fair), ("plain", plain), ("flow", run_flow))
        for _ in range(RUNS):
            for label, function in cases:
                # Nova clears its task state a moment after Glance says active: let it settle.
                while (live := client.get_server(server.id)) is not None and live.task_state:
                    time.sleep(0.05)
                times[label].append(timed(function))
        while (live := client.get_server(server.id)) is not None and live.task_state:
            time.sleep(0.05)
        fresh = _fresh_kernel(clouds_yaml, server.id)
        conn.close()
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"snapshot via openstacksdk, 2 s polls (reference):   {medians['sdk']:.2f} s")
    print(f"snapshot via openstacksdk, {POLL_S} s polls (baseline): {medians['fair']:.2f} s")
    print(f"snapshot via our code, no Prefect:                  {medians['plain']:.2f} s")
    print(f"snapshot via the flow (Prefect warm):               {medians['flow']:.2f} s")
    print(f"ratio flow / baseline: {medians['flow'] / medians['fair']:.2f}  (target <= 1.1)")
    print(
        f"ratio flow / plain:    {medians['flow'] / medians['plain']:.2f}  (Prefect, checks, tags)"
    )
    print("fresh process (a new kernel):")
    print(f"  import + Prefect warm-up (ephemeral API): {fresh['warm_up']:.1f} s")
    print(f"  JobRunner.submit returned after:          {fresh['submit'] * 1000:.1f} ms")
    print(
        f"  first job, submit to done:                {fresh['first_job']:.2f} s ({fresh['state']})"
    )


def _fresh_kernel(clouds_yaml: Path, server_id: str) -> dict[str, float | str]:
    """Warm-up, submit latency and the first job, measured in a new Python process."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", FRESH_KERNEL, SITE, server_id, _name("fresh")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
