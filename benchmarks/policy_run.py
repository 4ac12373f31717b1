"""A policy run over 50 opted-in VMs on the local cloud, against a plain sequential loop.

Run: ``.venv/bin/python benchmarks/policy_run.py [VMS]`` (a few minutes; default 50 VMs). It
starts the local cloud with its default timings (a snapshot takes about 3 s), raises the
project's quota, boots ``VMS`` tiny VMs whose metadata carries a daily policy with keep=2, and
gives each two earlier policy snapshots (so retention has one to delete per VM). Then, with
every HTTP request counted on the wire:

* ``flow``: ``run_snapshot_policies`` (Prefect warm, ephemeral API) as the deployment would
  run it for the slot: it finds the due VMs, snapshots them ``max_parallel`` at a time (each a
  subflow with its pre-flight, provenance and tags), applies retention (one bulk delete) and
  writes the report artifact;
* ``baseline``: a sequential loop of the same cloud calls, as a cron script would do it:
  for each VM createImage, poll Glance until active (our waiter), then delete the VM's oldest
  policy snapshot.

It prints the time and requests per VM of each and the ratio; then checks that the flow made
exactly one snapshot per VM and deleted exactly one per VM.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from panels_support import WireCounter, total

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE, SLOT_KEY, slot_text
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY, schedule_mark
from denbi_jupyter.jobs import JobRunner
from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig
from denbi_jupyter.localcloud.nova_quotas import set_quota
from flows import flow_settings, quiet_console, use_clients
from flows._waiters import wait_for_snapshot
from flows.policy import run_snapshot_policies

SITE = "bielefeld"
POLICY = "daily 02:00; tz=UTC; keep=2"
PARALLEL = int(os.environ.get("POLICY_PARALLEL", "4"))


def _raise_quota(cloud: LocalCloud, client: Any, vms: int) -> None:
    assert cloud.state is not None
    site = cloud.state.sites[SITE]
    limits = {"instances": vms + 5, "cores": 4 * vms, "ram": 4096 * vms}
    project_id = client.project_id  # a Keystone call: never inside the store's transaction
    with site.store.tx() as conn:
        set_quota(conn, project_id, limits)


def _boot(client: Any, vms: int) -> list[Any]:
    image = client.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    flavor = client.find_flavor("de.NBI tiny")
    ids = [
        client.create_server(
            name=f"bench-policy-{n:03d}", image_id=image.id, flavor_id=flavor.id,
            key_name=None, metadata={POLICY_KEY: POLICY},
        ).id
        for n in range(vms)
    ]  # fmt: skip
    deadline = time.monotonic() + 600
    while True:
        servers = [s for s in client.list_servers() if s.id in set(ids)]
        if len(servers) == vms and all(s.status == "ACTIVE" for s in servers):
            return servers
        if time.monotonic() > deadline:
            raise SystemExit("the VMs did not become ACTIVE")
        time.sleep(0.5)


def _history(client: Any, servers: list[Any], slot: dt.datetime) -> None:
    """Two earlier policy snapshots per VM (the two slots before ``slot``), marked as a policy
    run marks them; the VMs in parallel (setup, not measured)."""

    def two(server: Any) -> None:
        for n in (2, 1):
            image_id = client.create_snapshot(
                server.id,
                name=f"{server.name}-history-{n}",
                metadata={
                    SCHEDULE_KEY: POLICY_SCHEDULE,
                    SOURCE_SERVER_ID: server.id,
                    SLOT_KEY: slot_text(slot - dt.timedelta(days=n)),
                },
            )
            wait_for_snapshot(client, server_id=server.id, image_id=image_id, timeout_s=300,
                              on_progress=lambda _f, _m: None)  # fmt: skip
            client.set_image_tags(image_id, [schedule_mark(POLICY_SCHEDULE, image_id)])
            _settle(client, server.id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(two, servers))


def _settle(client: Any, server_id: str) -> None:
    while (live := client.get_server(server_id)) is not None and live.task_state:
        time.sleep(0.05)


def _baseline(client: Any, servers: list[Any]) -> None:
    for server in servers:
        image_id = client.create_snapshot(server.id, name=f"{server.name}-loop", metadata={})
        wait_for_snapshot(client, server_id=server.id, image_id=image_id, timeout_s=120,
                          on_progress=lambda _f, _m: None)  # fmt: skip
        own = client.find_images_by_property(SOURCE_SERVER_ID, server.id)
        oldest = min(own, key=lambda image: image.created_at)
        client.delete_image(oldest.id)
        _settle(client, server.id)


def main() -> None:
    """Measure and print."""
    vms = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    counter = WireCounter().install()
    # A /22 instead of the seed's /24, whose seeded ports leave room for ~29 more VMs only.
    site = replace(DEFAULT_SITES[0], network_cidr="192.168.0.0/22")
    with LocalCloud(LocalCloudConfig(ssh=False, sites=(site,))) as cloud:
        clouds_yaml = cloud.write_clouds_yaml(Path(tempfile.mkdtemp()) / "clouds.yaml")
        client = open_site(SITE, config_file=clouds_yaml)
        _raise_quota(cloud, client, vms)
        print(f"booting {vms} VMs with policy {POLICY!r} and two earlier snapshots each …")
        servers = _boot(client, vms)
        slot = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        _history(client, servers, slot)
        runner = JobRunner()
        runner.warm_up()
        if not runner.wait_warm(300):
            raise SystemExit("the Prefect backend did not start")
        quiet_console(logging.CRITICAL + 1)
        mark = counter.snapshot()
        began = time.perf_counter()
        with flow_settings(), use_clients(lambda _site: client):
            report = run_snapshot_policies(
                site=SITE, at=slot + dt.timedelta(minutes=10), max_parallel=PARALLEL
            )
        flow_s = time.perf_counter() - began
        flow_requests = total(counter.since(mark))
        made = sum(item.outcome == "made" for item in report.items)
        deleted = sum(len(item.deletions) for item in report.items)
        for server in servers:
            _settle(client, server.id)
        mark = counter.snapshot()
        began = time.perf_counter()
        _baseline(client, servers)
        loop_s = time.perf_counter() - began
        loop_requests = total(counter.since(mark))
    print(f"policy run (flow, max_parallel={PARALLEL}): {flow_s:7.1f} s  {flow_s / vms:5.2f} s/VM  "
          f"{flow_requests / vms:5.1f} requests/VM")  # fmt: skip
    print(f"sequential loop (baseline):        {loop_s:7.1f} s  {loop_s / vms:5.2f} s/VM  "
          f"{loop_requests / vms:5.1f} requests/VM")  # fmt: skip
    print(f"ratio flow / baseline: time {flow_s / loop_s:.2f}, requests "
          f"{flow_requests / loop_requests:.2f}")  # fmt: skip
    ok = made == vms and deleted == vms and not report.failures
    print(f"snapshots made {made}/{vms}, deleted {deleted}/{vms}: {'OK' if ok else 'WRONG'}")


if __name__ == "__main__":
    main()
