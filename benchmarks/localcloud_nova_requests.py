"""Nova and Neutron request latency on the local cloud, empty project against a full one.

Run: ``.venv/bin/python benchmarks/localcloud_nova_requests.py`` (about fifteen seconds).
Printed, each the median of many requests over loopback with a kept-alive connection,
measured in this run:

* ``GET /servers/detail`` and ``GET /servers/{id}`` with 10 ACTIVE servers (the project's
  instance quota), beside the same list with no servers as baseline;
* ``POST /v2.0/ports`` + ``DELETE`` (IPv4 allocation over a /27 with 10 ports taken);
* ``POST /servers`` → ACTIVE and ``createImage`` → Glance ``active`` wall time with
  ``Timings.fast()`` (0.3 s boot, 0.5 s snapshot), polled back to back: the overhead above the
  configured durations is the local cloud's own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
from _common import median_ms, password_login

from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings

SITE = "bielefeld"
COMPUTE = f"/{SITE}/compute/v2.1"
ROUNDS = 200


def token_of(cloud: LocalCloud, client: httpx.Client) -> str:
    return str(password_login(client, cloud.state_dir, SITE).headers["X-Subject-Token"])


def wait(probe: Callable[[], bool]) -> float:
    started = time.perf_counter()
    while not probe():
        if time.perf_counter() - started > 30:
            raise TimeoutError("the local cloud did not reach the state within 30 s")
    return time.perf_counter() - started


def main() -> None:
    config = LocalCloudConfig(sites=DEFAULT_SITES[:1], timings=Timings.fast())
    with LocalCloud(config) as cloud, httpx.Client(base_url=cloud.url) as client:
        headers = {
            "X-Auth-Token": token_of(cloud, client),
            "OpenStack-API-Version": "compute 2.100",
        }
        image = client.get(
            f"/{SITE}/image/v2/images", params={"name": "X2Go_xfce"}, headers=headers
        )
        image_id = image.json()["images"][0]["id"]
        flavors = client.get(f"{COMPUTE}/flavors/detail", headers=headers).json()["flavors"]
        flavor_id = next(f["id"] for f in flavors if f["name"] == "de.NBI tiny")

        def detail() -> object:
            return client.get(f"{COMPUTE}/servers/detail", headers=headers)

        median_ms(detail, rounds=20)  # warm up
        empty = median_ms(detail, ROUNDS)
        ids = []
        boot_times = []
        for index in range(10):
            body = {"server": {"name": f"bench-{index}", "imageRef": image_id,
                               "flavorRef": flavor_id, "networks": "auto"}}  # fmt: skip
            server_id = client.post(f"{COMPUTE}/servers", json=body, headers=headers).json()[
                "server"
            ]["id"]
            ids.append(server_id)

            def active(sid: str = server_id) -> bool:
                server = client.get(f"{COMPUTE}/servers/{sid}", headers=headers).json()["server"]
                return bool(server["status"] == "ACTIVE")

            boot_times.append(wait(active))
        full = median_ms(detail, ROUNDS)
        show = median_ms(lambda: client.get(f"{COMPUTE}/servers/{ids[0]}", headers=headers), ROUNDS)

        networks = client.get(f"/{SITE}/network/v2.0/networks", headers=headers).json()
        own = next(n["id"] for n in networks["networks"] if not n["shared"])

        def port_round_trip() -> object:
            port = client.post(
                f"/{SITE}/network/v2.0/ports", json={"port": {"network_id": own}}, headers=headers
            ).json()["port"]
            return client.delete(f"/{SITE}/network/v2.0/ports/{port['id']}", headers=headers)

        ports = median_ms(port_round_trip, rounds=50)

        snapshot = client.post(
            f"{COMPUTE}/servers/{ids[0]}/action",
            json={"createImage": {"name": "bench-snap"}},
            headers=headers,
        ).json()["image_id"]
        snapshot_time = wait(
            lambda: (
                client.get(f"/{SITE}/image/v2/images/{snapshot}", headers=headers).json()["status"]
                == "active"
            )
        )

    print(f"GET /servers/detail, 0 servers (baseline): {empty:.1f} ms")
    print(f"GET /servers/detail, 10 servers:           {full:.1f} ms")
    print(f"GET /servers/{{id}}, ACTIVE:                {show:.1f} ms")
    print(f"POST + DELETE /v2.0/ports:                 {ports:.1f} ms")
    print(
        f"boot to ACTIVE (configured 0.30 s):        median {statistics.median(boot_times):.2f} s"
    )
    print(f"createImage to Glance active (0.43 s due): {snapshot_time:.2f} s")


if __name__ == "__main__":
    main()
