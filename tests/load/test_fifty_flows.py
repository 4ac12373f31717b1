"""Fifty flows at once: boots and snapshots over both sites, in the kernel and on a work pool.

Every flow ends with the right result (a VM ACTIVE, a snapshot active, each with its own
request id, checked through a plain openstacksdk connection: exactly as many VMs and snapshots
as asked for, no second of any), and afterwards no thread runs that did not run before (the
baseline is taken after a warm-up that went through both paths) and no child process is
left (read from ``/proc``). The keystroke latency under this load is a benchmark:
``benchmarks/keystroke_latency.py``.

It found that the JobRunner started every work-pool run at once, and the Prefect API (SQLite)
answered some of 24 simultaneous creates with 503 beyond Prefect's own retries: starts are now
bounded and a 503 is retried with an idempotency key (``jobs/_deployments.start_run``); and
that a kernel's flow whose run the busy API refused to create failed: such a start is now tried
again, since nothing ran (``jobs/_busy.py``).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from denbi_jupyter.cloud.results import BootResult, SnapshotResult
from denbi_jupyter.jobs import JobRunner, WorkPool
from flows._ids import REQUEST_ID_KEY
from tests.flows.harness import LocalEnv
from tests.load._support import (
    POOL,
    Load,
    deploy_on_pool,
    plan,
    raised_quotas,
    remove,
    sdk,
    warm_up,
)

pytestmark = [
    pytest.mark.load,
    pytest.mark.usefixtures("prefect_harness"),
    pytest.mark.timeout(1200),
]

SITES = ("bielefeld", "heidelberg")
RUN = f"load-{uuid.uuid4().hex[:6]}"
#: Seconds after which a flow still going counts as hung: 2 shared cores and one SQLite Prefect
#: database take 2-4 minutes for the fifty; this bound only tells a hang from a slow machine.
FLOWS_WITHIN = 600.0
#: Seconds threads get to end once their work is done (Prefect's own workers drain).
SETTLE_WITHIN = 60.0


@pytest.fixture
def roomy(local_env: LocalEnv) -> Iterator[LocalEnv]:
    """The local cloud with room for 60 VMs per site; everything of this run goes afterwards."""
    with raised_quotas(local_env.clouds_yaml, SITES):
        try:
            yield local_env
        finally:
            remove(local_env.clouds_yaml, SITES, RUN)


def _children() -> set[int]:
    """This process's descendants, read from ``/proc`` (each ``stat`` names its parent)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


#: Threads of pools that keep idle workers, and each pool's bound: AnyIO's worker threads
#: (the in-process local cloud's request handlers, Prefect's sync bridges; an idle one ends
#: only when its loop uses the pool again 10 s later; anyio's limiter allows 40) and an
#: asyncio loop's default executor (``asyncio_N``; idle workers stay until the loop closes;
#: at most 32). Pooled threads are counted, not leaks; every other new thread must end.
POOLED = {"AnyIO worker thread": 40, "asyncio_": 32}


def _pool_of(thread: threading.Thread) -> str | None:
    return next((prefix for prefix in POOLED if thread.name.startswith(prefix)), None)


def _new_threads(baseline: set[int]) -> tuple[list[str], dict[str, int]]:
    """``(new threads still alive, pooled ones by pool)`` once every new thread outside the
    pools has ended or ``SETTLE_WITHIN`` has passed."""
    deadline, tick = time.monotonic() + SETTLE_WITHIN, threading.Event()
    while True:
        extra = [t for t in threading.enumerate() if t.ident not in baseline and t.is_alive()]
        others = [t for t in extra if _pool_of(t) is None]
        if not others or time.monotonic() > deadline:
            pooled = {prefix: sum(_pool_of(t) == prefix for t in extra) for prefix in POOLED}
            return sorted(f"{t.name} (daemon={t.daemon})" for t in others), pooled
        tick.wait(0.1)


def _check_results(env: LocalEnv, load: Load) -> None:
    """Each finished job's result is what it asked for, and the cloud holds exactly those."""
    expected: dict[str, dict[str, str]] = {site: {} for site in SITES}  # site: name → request id
    for item, job in zip(load.planned, load.jobs, strict=True):
        if job.error is not None:
            continue  # refused before it started (see the test): nothing of it may exist
        result = job.result
        kind = BootResult if item.kind == "boot" else SnapshotResult
        assert isinstance(result, kind), f"{item.name}: {result!r}"
        assert result.name == item.name and result.site == item.site
        assert result.status.upper() == "ACTIVE" and result.request_id and not result.reused
        expected[item.site][item.name] = result.request_id
    for site in SITES:
        with sdk(env.clouds_yaml, site) as conn:
            servers = [s for s in conn.compute.servers() if s.name.startswith(f"{RUN}-boot-")]
            images = [
                i for i in conn.image.images(owner=conn.current_project_id)
                if i.name and i.name.startswith(f"{RUN}-snapshot-")
            ]  # fmt: skip
            found = {s.name: (s.status, s.metadata.get(REQUEST_ID_KEY)) for s in servers}
            found |= {i.name: (i.status.upper(), i.properties.get(REQUEST_ID_KEY)) for i in images}
            assert len(servers) + len(images) == len(found)  # no name twice: no second VM
            assert found == {name: ("ACTIVE", rid) for name, rid in expected[site].items()}


def test_fifty_flows_at_once_end_right_and_leave_no_thread_or_process(
    roomy: LocalEnv,
) -> None:
    deploy_on_pool()
    kernel = JobRunner()  # the kernel's default: 4 flows at once, the rest wait their turn
    pool = JobRunner(work_pool=WorkPool(POOL, poll_s=0.1, outcome_wait_s=10))
    try:
        sources = warm_up(kernel, pool, RUN, SITES)
        threads_before = {t.ident for t in threading.enumerate() if t.ident is not None}
        children_before = _children()

        load = Load(plan(RUN, sources), kernel, pool).start()
        assert len(load.jobs) == 50 and len(load.workers) == 24  # 26 in the kernel
        problems = load.wait(FLOWS_WITHIN)
        assert problems == [], "\n".join(problems)

        _check_results(roomy, load)
    finally:
        kernel.close()
        pool.close()
    leaked, pooled = _new_threads(threads_before)
    assert leaked == [], leaked
    assert all(count <= POOLED[prefix] for prefix, count in pooled.items()), pooled
    assert _children() - children_before == set()
