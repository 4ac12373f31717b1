"""Fifty flows at once on the local cloud's two sites: what the load test and benchmark share.

Used by ``tests/load`` and ``benchmarks/keystroke_latency.py``. :func:`raised_quotas`
gives the project room for the VMs (the seeded quota is 10 per site); :class:`Load` starts the
mix (boots and snapshots over both sites, half in the kernel through a :class:`JobRunner`,
half as runs of deployments on a work pool carried out in this process as a pool's worker
would, by Prefect's own flow engine) and waits for every job; :func:`remove` deletes what a
run made. Nothing here mocks our code: the jobs run the real flows over real HTTP.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from tests.support.sdk import sdk_connection

__all__ = [
    "FLAVOR",
    "IMAGE",
    "POOL",
    "Load",
    "Planned",
    "deploy_on_pool",
    "plan",
    "raised_quotas",
    "remove",
    "sdk",
    "warm_up",
]

POOL = "load-test-pool"
IMAGE = "Debian-12 de.NBI (2026-05-01)"
FLAVOR = "de.NBI tiny"
#: Seconds a pool thread waits for its job's run to exist: a start may wait its turn and then
#: back off for minutes while the Prefect API answers 503 (``jobs/_busy.py``).
START_WITHIN = 600.0
#: Nova limits that give 50 flows room on a site (the seed allows 10 VMs).
ROOMY = {"instances": 60, "cores": 120, "ram": 60 * 2048}


def sdk(
    clouds_yaml: Path, site: str, *, admin: bool = False
) -> contextlib.AbstractContextManager[Any]:
    """A plain openstacksdk connection (the seeded user, or the local cloud's admin)."""
    return sdk_connection(clouds_yaml, site, admin=admin)


@contextlib.contextmanager
def raised_quotas(clouds_yaml: Path, sites: Sequence[str]) -> Iterator[None]:
    """Nova quotas of the seeded project raised on ``sites``; the old ones back afterwards."""
    old: dict[str, tuple[str, dict[str, int]]] = {}
    for site in sites:
        with sdk(clouds_yaml, site) as user:
            project = str(user.current_project_id)
        with sdk(clouds_yaml, site, admin=True) as conn:
            shown = conn.compute.get(f"/os-quota-sets/{project}").json()["quota_set"]
            old[site] = (project, {key: int(shown[key]) for key in ROOMY})
            answer = conn.compute.put(f"/os-quota-sets/{project}", json={"quota_set": ROOMY})
            assert answer.status_code == 200, answer.text
    try:
        yield
    finally:
        for site, (project, values) in old.items():
            with sdk(clouds_yaml, site, admin=True) as conn:
                conn.compute.put(f"/os-quota-sets/{project}", json={"quota_set": values})


def deploy_on_pool() -> None:
    """The work pool, and the boot and snapshot deployments on it named as in ``prefect.yaml``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.boot import boot_server
    from flows.snapshot import create_snapshot

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    for flow, name in ((boot_server, "boot-server"), (create_snapshot, "create-snapshot")):
        flow.to_deployment(name=name, work_pool_name=POOL).apply()  # type: ignore[union-attr]


@dataclass(frozen=True)
class Planned:
    """One flow of the mix: what, where, how it runs, and its unique name."""

    kind: str  # "boot" or "snapshot"
    site: str
    on_pool: bool
    name: str
    server: str = ""  # the VM to snapshot


def plan(
    run: str, sources: dict[str, list[str]], *, total: int = 50, boots: int = 24
) -> list[Planned]:
    """``total`` flows: ``boots`` boots, the rest snapshots of ``sources`` (site → VM ids),
    alternating the sites and, within each kind, the kernel and the pool."""
    sites = sorted(sources)
    mix: list[Planned] = []
    for number in range(total):
        site = sites[number % len(sites)]
        kind = "boot" if number < boots else "snapshot"
        on_pool = (number // len(sites)) % 2 == 1
        name = f"{run}-{kind}-{site}-{number:02d}"
        server = "" if kind == "boot" else sources[site][number % len(sources[site])]
        mix.append(Planned(kind, site, on_pool, name, server))
    return mix


@dataclass
class Load:
    """The mix running: its jobs (in the order planned) and the threads carrying pool runs."""

    planned: list[Planned]
    kernel: Any  # JobRunner
    pool: Any  # JobRunner on POOL
    jobs: list[Any] = field(default_factory=list)
    workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        """Submit every flow at once; pool runs are carried out here as soon as they exist."""
        from denbi_jupyter.jobs import FlowRef

        for item in self.planned:
            runner = self.pool if item.on_pool else self.kernel
            if item.kind == "boot":
                job = runner.submit(
                    item.name, FlowRef.BOOT_SERVER, site=item.site, image=IMAGE, flavor=FLAVOR,
                    key_name=None, name=item.name,
                )  # fmt: skip
            else:
                job = runner.submit(
                    item.name, FlowRef.CREATE_SNAPSHOT, site=item.site, server=item.server,
                    name=item.name,
                )  # fmt: skip
            self.jobs.append(job)
        for item, job in zip(self.planned, self.jobs, strict=True):
            if item.on_pool:
                self.workers.append(_work_when_started(job, item.kind))
        return self

    def wait(self, timeout: float) -> list[str]:
        """Wait for every job and pool thread; the problems (empty when all went well)."""
        deadline = time.monotonic() + timeout
        problems = []
        for item, job in zip(self.planned, self.jobs, strict=True):
            if not job.wait(max(0.0, deadline - time.monotonic())):
                problems.append(f"{item.name}: still {job.state} after {timeout:.0f} s")
            elif job.error:
                problems.append(f"{item.name}: {job.error}")
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                problems.append(f"pool worker thread {worker.name} still running")
        return problems


def _work_when_started(job: Any, kind: str) -> threading.Thread:
    """A thread that waits for the job's flow run, then carries it out as a worker would."""
    context = contextvars.copy_context()

    def work() -> None:
        from prefect.client.orchestration import get_client
        from prefect.flow_engine import run_flow

        from flows.boot import boot_server
        from flows.snapshot import create_snapshot

        tick = threading.Event()
        deadline = time.monotonic() + START_WITHIN
        while job.flow_run_id is None and not job.done and time.monotonic() < deadline:
            tick.wait(0.02)
        if job.flow_run_id is None:
            return
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(UUID(job.flow_run_id))
        flow: Any = boot_server if kind == "boot" else create_snapshot
        run_flow(flow, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")

    thread = threading.Thread(
        target=context.run, args=(work,), name=f"load-worker-{uuid.uuid4().hex[:6]}", daemon=True
    )
    thread.start()
    return thread


def remove(clouds_yaml: Path, sites: Sequence[str], run: str, *, timeout: float = 120) -> None:
    """Delete every server and image whose name starts with ``run`` (servers once idle)."""
    for site in sites:
        with sdk(clouds_yaml, site) as conn:
            for image in list(conn.image.images(owner=conn.current_project_id)):
                if image.name and image.name.startswith(run) and not image.is_protected:
                    conn.image.delete_image(image.id, ignore_missing=True)
            deadline, tick = time.monotonic() + timeout, threading.Event()
            for server in list(conn.compute.servers()):
                if not server.name.startswith(run):
                    continue
                while (now := conn.compute.find_server(server.id)) is not None and now.task_state:
                    if time.monotonic() > deadline:
                        break
                    tick.wait(0.1)
                conn.compute.delete_server(server.id, ignore_missing=True)


def warm_up(kernel: Any, pool: Any, run: str, sites: Sequence[str]) -> dict[str, list[str]]:
    """Three source VMs per site (two booted in the kernel, one on the pool): site → VM ids.

    Goes through both paths once, so what Prefect starts for good on first use (its event
    loop and log and event workers) runs before a thread baseline is taken.
    """
    names = {site: [f"{run}-source-{site}-{n}" for n in range(3)] for site in sites}
    warm = [
        Planned("boot", site, on_pool=(n == 2), name=name)
        for site, group in names.items()
        for n, name in enumerate(group)
    ]
    load = Load(warm, kernel, pool).start()
    problems = load.wait(180)
    assert problems == [], "\n".join(problems)
    ids: dict[str, list[str]] = {site: [] for site in sites}
    for item, job in zip(warm, load.jobs, strict=True):
        ids[item.site].append(job.result.server_id)
    return ids
