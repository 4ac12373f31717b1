"""Copy throughput between the local cloud's two sites: the copy flow against a raw HTTP pipe.

Run: ``.venv/bin/python benchmarks/copy_throughput.py [MIB]`` (default 256 MiB; about a
minute). It starts the local cloud (both sites, no SSH), uploads a generated MiB-sized image
(pseudo-random, streamed from the generator, never whole in memory) to ``bielefeld``, then:

* ``baseline``: plain ``requests`` with a Keystone token of the same clouds.yaml entries: the
  download from ``bielefeld`` piped chunk by chunk (1 MiB) into a chunked upload to a new
  image on ``heidelberg``;
* ``copy flow``: ``flows.copy.copy_image(site=bielefeld, image_id=…, target_site=heidelberg)``
  in a child process with Prefect warm (one small copy first, untimed), twice: on Prefect's
  ephemeral API (what a command-line user without a server gets) and on a Prefect server
  (``prefect server start`` on a free port, as the lab and a team run it). Each row gives the
  whole flow (Prefect's flow-run bookkeeping, the pre-flight reads, the record, the wait for
  ``active``, the verification) and its data phase alone (first byte read to last byte sent,
  timed around the flow's own stream). The child reads its resident set when idle (after the
  warm-up), resets the peak (``/proc/self/clear_refs``), runs the copy and reads the peak
  (``VmHWM``): the memory the copy needed above idle.

It prints MiB/s of each, the ratios to the baseline (target >= 0.8) and the copy's peak memory
above idle (target < 64 MiB), and checks that every target's sha512 equals the source's.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig
from denbi_jupyter.localcloud.image_data import disk_chunks

SOURCE, TARGET = "bielefeld", "heidelberg"
MIB = 1024 * 1024
OCTETS = {"Content-Type": "application/octet-stream"}


class Glance:
    """Raw Glance calls with a token and endpoint taken from a clouds.yaml entry."""

    def __init__(self, clouds_yaml: Path, cloud: str) -> None:
        config = OpenStackConfig(config_files=[str(clouds_yaml)], vendor_files=[])
        self.conn = Connection(config=config.get_one(cloud=cloud))
        self.root = str(self.conn.endpoint_for("image")).rstrip("/")
        self.http = requests.Session()
        self.http.headers["X-Auth-Token"] = str(self.conn.auth_token)

    def create(self, name: str) -> str:
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        response = self.http.post(f"{self.root}/v2/images", json=body, timeout=60)
        response.raise_for_status()
        return str(response.json()["id"])

    def upload(self, image_id: str, chunks: Iterator[bytes]) -> None:
        url = f"{self.root}/v2/images/{image_id}/file"
        response = self.http.put(url, data=chunks, headers=OCTETS, timeout=600)
        response.raise_for_status()

    def download(self, image_id: str) -> Iterator[bytes]:
        url = f"{self.root}/v2/images/{image_id}/file"
        with self.http.get(url, stream=True, timeout=600) as response:
            response.raise_for_status()
            yield from response.iter_content(MIB)

    def delete(self, image_id: str) -> None:
        response = self.http.delete(f"{self.root}/v2/images/{image_id}", timeout=60)
        response.raise_for_status()

    def show(self, image_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.root}/v2/images/{image_id}", timeout=60)
        response.raise_for_status()
        shown: dict[str, Any] = response.json()
        return shown


def baseline(source: Glance, target: Glance, image_id: str) -> tuple[float, str]:
    """Seconds of the raw pipe and the target's sha512."""
    started = time.perf_counter()
    target_id = target.create("bench-baseline-copy")
    target.upload(target_id, source.download(image_id))
    seconds = time.perf_counter() - started
    return seconds, str(target.show(target_id)["os_hash_value"])


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _timed_pipe(spans: list[float]) -> None:
    """Time the flow's own stream: first chunk read to last chunk handed to the upload."""
    from flows import _copy_data

    original = _copy_data.HashingPipe.__iter__

    def timed(self: Any) -> Iterator[bytes]:
        started = last = time.perf_counter()
        try:
            for chunk in original(self):
                yield chunk
                last = time.perf_counter()  # the upload took it: sent, or in the socket
        finally:  # the upload may drop the iterator after its last chunk instead of ending it
            spans.append(last - started)

    _copy_data.HashingPipe.__iter__ = timed  # type: ignore[method-assign]


def child(clouds_yaml: Path, image_id: str, warm_id: str) -> None:
    """Run in the child process: warm up, then the timed copy; print one JSON line."""
    from denbi_jupyter.cloud import open_site
    from flows import flow_settings, quiet_console, use_clients
    from flows.copy import copy_image

    clients = {site: open_site(site, config_file=clouds_yaml) for site in (SOURCE, TARGET)}
    quiet_console(logging.CRITICAL + 1)
    spans: list[float] = []
    _timed_pipe(spans)
    with flow_settings(), use_clients(lambda site: clients[site]):
        warm = copy_image(site=SOURCE, image_id=warm_id, target_site=TARGET)
        idle_kib = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        started = time.perf_counter()
        result = copy_image(site=SOURCE, image_id=image_id, target_site=TARGET)
        seconds = time.perf_counter() - started
        peak_kib = _status_kib("VmHWM")
    assert not result.reused, "the copy was found from an earlier run: nothing was timed"
    print(json.dumps({"seconds": seconds, "data_seconds": spans[-1], "sha512": result.sha512,
                      "idle_kib": idle_kib, "peak_kib": peak_kib,
                      "made": [warm.target_id, result.target_id]}))  # fmt: skip


def _flow_available() -> bool:
    try:
        import flows.copy  # noqa: F401
    except ImportError:
        return False
    return True


def _run_child(
    clouds_yaml: Path, image_id: str, warm_id: str, api_url: str | None
) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", str(clouds_yaml), image_id, warm_id]
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the copy child failed:\n{done.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Row = tuple[str, float, bool, str]


def _flow_rows(
    clouds_yaml: Path, image_id: str, warm_id: str, expected: str, target: Glance
) -> list[Row]:
    from denbi_jupyter.prefect_server import PrefectServer

    rows: list[Row] = []
    with PrefectServer(port=_free_port(), home=Path(tempfile.mkdtemp())) as server:
        for backend, api_url in (("ephemeral API", None), ("Prefect server", server.api_url)):
            measured = _run_child(clouds_yaml, image_id, warm_id, api_url)
            for made in measured["made"]:  # the next backend copies afresh, not reuses
                target.delete(made)
            above = (measured["peak_kib"] - measured["idle_kib"]) / 1024
            memory = f"{above:.1f} MiB above idle (idle {measured['idle_kib'] / 1024:.0f} MiB)"
            same = measured["sha512"] == expected
            rows.append((f"copy flow, {backend}", measured["seconds"], same, memory))
            rows.append(("  its data phase", measured["data_seconds"], same, ""))
    return rows


def main(size_mib: int) -> int:
    size = size_mib * MIB
    with LocalCloud(LocalCloudConfig(ssh=False)) as cloud:
        clouds_yaml = cloud.write_clouds_yaml(Path(tempfile.mkdtemp()) / "clouds.yaml")
        source, target = Glance(clouds_yaml, SOURCE), Glance(clouds_yaml, TARGET)
        print(f"uploading a generated {size_mib} MiB image to {SOURCE} …")
        image_id = source.create(f"bench-source-{size_mib}mib")
        source.upload(image_id, disk_chunks("copy benchmark", size))
        expected = str(source.show(image_id)["os_hash_value"])
        warm_id = source.create("bench-warm-up")
        source.upload(warm_id, disk_chunks("warm-up", MIB))
        raw_s, raw_hash = baseline(source, target, image_id)
        rows: list[Row] = [("baseline (requests pipe)", raw_s, raw_hash == expected, "")]
        rows += _flow_rows(clouds_yaml, image_id, warm_id, expected, target)
    print(f"\n{'what':30} {'seconds':>8} {'MiB/s':>8} {'vs raw':>7}  sha512 ok  peak memory")
    for label, seconds, same, memory in rows:
        ratio = raw_s / seconds
        print(f"{label:30} {seconds:8.2f} {size_mib / seconds:8.1f} {ratio:6.2f}x  "
              f"{same!s:9}  {memory}")  # fmt: skip
    print("\ntargets: copy >= 0.8x the raw pipe; peak memory < 64 MiB above idle")
    return 0 if all(row[2] for row in rows) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 256))
