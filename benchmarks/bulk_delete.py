"""Bulk delete of 200 snapshots: our flow against a sequential openstacksdk loop, same run.

Run: ``.venv/bin/python benchmarks/bulk_delete.py`` (about a minute, a fresh process as a
user's command or kernel would be). It starts the local cloud the way a user does, as its own
process (``denbi-jupyter local-cloud``; in-process, its server thread would share this
process's GIL with the client threads and penalise any parallel client), makes 800 snapshot
images with openstacksdk, warms Prefect up (as a kernel's ``JobRunner.warm_up()`` or the CLI
does before the first flow), and prints, for each case:

* ``loop``: the baseline, ``for id in ids: conn.image.delete_image(id)`` over 200 images
  (one DELETE each, no guards), what a script would write;
* ``flow``: the ``delete_snapshots`` flow over 200 other images (Prefect run, guards read by
  one listing per 40 ids, deletes ``max_parallel`` at a time inside one task, one result per
  item), with an already authenticated client as the loop's connection is;

(a) with the local cloud as it is (target: the flow no slower than the loop) and (b) with
100 ms of injected latency on every ``DELETE /v2/images/…`` (target: the flow >= 3x faster).
The Glance requests each side made are counted from the local cloud's fault rule hits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openstack
import yaml

from denbi_jupyter.cloud import CloudClient, open_site
from denbi_jupyter.jobs import JobRunner
from flows import flow_settings, quiet_console, use_clients
from flows.delete import delete_snapshots

SITE = "bielefeld"
COUNT = 200
LATENCY_S = 0.1
MAX_PARALLEL = 8
_NAMES = {
    (None, "/v2/images$"): "list",
    ("GET", "/v2/images/[^/]+$"): "GET",
    ("DELETE", "/v2/images/[^/]+$"): "DELETE",
}


def _make(conn: openstack.connection.Connection, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [
        str(
            conn.image.create_image(
                name=f"bench-bulk-{tag}-{i}",
                disk_format="qcow2",
                container_format="bare",
                image_type="snapshot",
            ).id
        )
        for i in range(count)
    ]


def _timed(call: Callable[[list[str]], None], ids: list[str]) -> float:
    began = time.perf_counter()
    call(ids)
    return time.perf_counter() - began


def _counting(admin: httpx.Client, rules: list[dict[str, object]]) -> None:
    admin.delete("/_admin/faults").raise_for_status()
    for rule in rules:
        admin.post("/_admin/faults", json=rule).raise_for_status()


def _fired(admin: httpx.Client) -> dict[str, int]:
    rules = admin.get("/_admin/faults").json()["rules"]
    return {_NAMES[(r.get("method"), str(r["path"]))]: int(r["fired"]) for r in rules}


@contextlib.contextmanager
def _local_cloud(state: str) -> Iterator[tuple[str, Path]]:
    """``denbi-jupyter local-cloud`` in its own process: its URL and clouds.yaml."""
    clouds_yaml = Path(state) / "clouds.yaml"
    command = [
        sys.executable, "-m", "denbi_jupyter", "local-cloud", "--port", "0",
        "--state", state, "--clouds-yaml", str(clouds_yaml),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if " ready at " in line:
                yield line.split(" ready at ", 1)[1].split()[0], clouds_yaml
                return
        raise RuntimeError("the local cloud ended without announcing its URL")
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


_COUNTERS: tuple[dict[str, object], ...] = (
    {"kind": "latency", "seconds": 0.0, "site": SITE, "path": "/v2/images$"},
    {"kind": "latency", "seconds": 0.0, "site": SITE, "method": "GET", "path": "/v2/images/[^/]+$"},
    {"kind": "latency", "seconds": 0.0, "site": SITE, "method": "DELETE",
     "path": "/v2/images/[^/]+$"},
)  # fmt: skip
Row = tuple[str, float, float, dict[str, int], dict[str, int]]


def _measure(
    admin: httpx.Client,
    conn: openstack.connection.Connection,
    client: CloudClient,
    batches: list[list[str]],
) -> list[Row]:
    def loop(ids: list[str]) -> None:
        for image_id in ids:
            conn.image.delete_image(image_id)

    def flow(ids: list[str]) -> None:
        with flow_settings(), use_clients(lambda _site: client):
            report = delete_snapshots(site=SITE, image_ids=ids, max_parallel=MAX_PARALLEL)
        if report.deleted != len(ids):
            raise SystemExit(f"the flow deleted {report.deleted} of {len(ids)}")

    rows: list[Row] = []
    for label, seconds in (("(a) as is", 0.0), (f"(b) +{LATENCY_S * 1000:.0f} ms", LATENCY_S)):
        rules = [dict(rule) for rule in _COUNTERS]
        rules[2]["seconds"] = seconds
        ids_loop, ids_flow = batches.pop(), batches.pop()
        _counting(admin, rules)
        loop_s = _timed(loop, ids_loop)
        loop_requests = _fired(admin)
        _counting(admin, rules)
        flow_s = _timed(flow, ids_flow)
        rows.append((label, loop_s, flow_s, loop_requests, _fired(admin)))
    admin.delete("/_admin/faults").raise_for_status()
    return rows


def main() -> None:
    """Measure and print."""
    with (
        tempfile.TemporaryDirectory() as state,
        _local_cloud(state) as (url, clouds_yaml),
        httpx.Client(base_url=url, timeout=60) as admin,
    ):
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][SITE]
        entry.pop("denbi")
        conn = openstack.connect(**entry)
        client = open_site(SITE, config_file=clouds_yaml)
        _ = client.project_id, client.project_names()  # authenticated, as conn will be
        batches = [_make(conn, COUNT) for _ in range(4)]
        runner = JobRunner()
        runner.warm_up()
        if not runner.wait_warm(120):
            raise SystemExit("the Prefect backend did not start")
        quiet_console(logging.CRITICAL + 1)
        with flow_settings(), use_clients(lambda _site: client):  # the first run's imports
            delete_snapshots(site=SITE, image_ids=[str(uuid.uuid4())])
        rows = _measure(admin, conn, client, batches)
        conn.close()
    print(f"bulk delete of {COUNT} snapshots, local cloud, flow max_parallel={MAX_PARALLEL}")
    for label, loop_s, flow_s, loop_requests, flow_requests in rows:
        print(f"{label}:")
        print(f"  sequential openstacksdk loop: {loop_s:6.2f} s  requests {_short(loop_requests)}")
        print(f"  delete_snapshots flow:        {flow_s:6.2f} s  requests {_short(flow_requests)}")
        print(f"  loop / flow: {loop_s / flow_s:.2f}x")
    print("targets: (a) loop / flow >= 1.0, (b) loop / flow >= 3.0")


def _short(fired: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in fired.items())


if __name__ == "__main__":
    main()
