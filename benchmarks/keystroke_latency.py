"""Snapshot-filter keystroke latency, idle and while 50 flows run: median, p95 and max.

Run: ``.venv/bin/python benchmarks/keystroke_latency.py [--keystrokes N]`` (a few minutes).
It starts a local cloud (fast timings) in a process of its own, as a kernel meets a cloud (an
in-process cloud would compete with the panel for this process's GIL), and a Prefect test
server, opens a real ``SnapshotPanel`` on bielefeld (ipywidgets, no browser), waits until its
snapshot index is loaded, and measures a keystroke: from setting the filter ``Text`` widget's
value to the table's ``current`` page being replaced by the new one (the table's render runs in
the same callback, before the page trait's later observers; the rows are checked after each).

* **idle** (the baseline, same run): ``N`` keystrokes with nothing else running;
* **under load**: keystrokes at 20 per second while 50 flows run (boots and snapshots over
  bielefeld and heidelberg, 26 in the kernel through a ``JobRunner``, 24 as runs of
  deployments on a work pool carried out in this process, as ``tests/load`` does), until they
  have all ended.

Prints the figures for both and whether the load's p95 and max stay under 50 ms. The panel
uses ``debounce_s=0`` (with a loaded index a keystroke is not debounced anyway).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITES = ("bielefeld", "heidelberg")
TARGET_MS = 50.0
#: Keystrokes per second while the load runs (a fast typist; a busy loop would compete with
#: the flows for the GIL and measure itself).
TYPING_PER_S = 20


class Keystrokes:
    """Types into a snapshot panel's filter box and times each keystroke until its page shows."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.arrived = threading.Event()
        self.count = 0
        # Typed in turn: the full names of the first page's snapshots, so that neighbours
        # match different snapshots and every keystroke brings a new page (an equal page
        # would not notify).
        names = dict.fromkeys(snapshot.name for snapshot in panel.table.current.items)
        self.texts = list(names)[:8]
        assert len(self.texts) >= 2, self.texts
        panel.table.observe(lambda _change: self.arrived.set(), names="current")

    def one(self) -> float:
        """One keystroke's latency in ms."""
        text = self.texts[self.count % len(self.texts)]
        self.count += 1
        self.arrived.clear()
        began = time.perf_counter()
        self.panel.table._filter.value = text
        if not self.arrived.wait(30):
            raise RuntimeError(f"no page for {text!r} within 30 s")
        elapsed = (time.perf_counter() - began) * 1000
        page = self.panel.table.current
        assert page is not None and all(text in s.name for s in page.items), text
        return elapsed


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(samples), "median": statistics.median(samples), "p95": p95,
            "max": ordered[-1]}  # fmt: skip


def _line(label: str, f: dict[str, float]) -> str:
    return (f"{label:<11} {int(f['n']):>4} keystrokes  median {f['median']:6.2f} ms  "
            f"p95 {f['p95']:6.2f} ms  max {f['max']:6.2f} ms")  # fmt: skip


#: What ``denbi-jupyter local-cloud`` prints once it serves.
READY = "local cloud ready at "


@contextlib.contextmanager
def _cloud_process(folder: Path) -> Iterator[Path]:
    """``denbi-jupyter local-cloud --fast`` as a child process; its clouds.yaml while it runs."""
    clouds_yaml, log = folder / "clouds.yaml", folder / "local-cloud.log"
    command = [sys.executable, "-m", "denbi_jupyter", "local-cloud", "--port", "0", "--fast",
               "--no-ssh", "--state", str(folder / "cloud"),
               "--clouds-yaml", str(clouds_yaml)]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline, tick = time.monotonic() + 120, threading.Event()
        while READY not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local cloud did not start: {log.read_text()[-2000:]}")
            tick.wait(0.1)
        yield clouds_yaml
    finally:
        process.send_signal(signal.SIGINT)  # its Ctrl-C: stops the cloud cleanly
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _panel(clouds_yaml: Path) -> tuple[Any, Any]:
    from denbi_jupyter.cloud import open_site
    from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel

    clients = SiteClients(lambda name: open_site(name, config_file=clouds_yaml), list(SITES))
    shared = Shared(clients, debounce_s=0.0, warm_up=False)
    panel = SnapshotPanel(shared)
    assert panel.wait_idle(120) and panel.table.index_state == "loaded", panel.error
    return panel, shared


def _under_load(typing: Keystrokes, run: str) -> tuple[list[float], dict[str, Any]]:
    from denbi_jupyter.jobs import JobRunner, WorkPool
    from tests.load._support import POOL, Load, deploy_on_pool, plan, warm_up

    deploy_on_pool()
    kernel = JobRunner()
    pool = JobRunner(work_pool=WorkPool(POOL, poll_s=0.1, outcome_wait_s=10))
    sources = warm_up(kernel, pool, run, SITES)
    threads_before = threading.active_count()
    began = time.perf_counter()
    load = Load(plan(run, sources), kernel, pool).start()
    samples, pause = [], threading.Event()
    while not all(job.done for job in load.jobs):
        samples.append(typing.one())
        pause.wait(1 / TYPING_PER_S)  # a fast typist's pace, not a busy loop
    seconds = time.perf_counter() - began
    problems = load.wait(600)
    kernel.close()
    pool.close()
    states = [str(job.state) for job in load.jobs]
    return samples, {
        "flows": len(load.jobs),
        "completed": sum(1 for job in load.jobs if job.error is None and job.done),
        "problems": problems,
        "seconds": seconds,
        "threads": (threads_before, threading.active_count()),
        "states": {state: states.count(state) for state in set(states)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keystrokes", type=int, default=80, help="idle keystrokes (baseline)")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    from flows import flow_settings
    from tests.load._support import raised_quotas, remove

    run = f"bench-{uuid.uuid4().hex[:6]}"
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        os.environ["DENBI_JUPYTER_STATE_DIR"] = str(folder / "state")
        clouds_yaml = stack.enter_context(_cloud_process(folder))
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        os.environ.pop("OS_CLOUD", None)
        stack.enter_context(flow_settings())
        stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        stack.enter_context(raised_quotas(clouds_yaml, SITES))
        stack.callback(remove, clouds_yaml, SITES, run)
        panel, shared = _panel(clouds_yaml)
        stack.callback(shared.close)
        stack.callback(panel.close)
        typing = Keystrokes(panel)
        for _ in range(5):  # warm: first renders build the row widgets
            typing.one()
        idle = [typing.one() for _ in range(args.keystrokes)]
        loaded, outcome = _under_load(typing, run)

    base, busy = _figures(idle), _figures(loaded)
    print("--- snapshot-filter keystroke → table updated (SnapshotPanel, local cloud) ---")
    print(_line("idle", base))
    print(_line("under load", busy))
    print(f"load: {outcome['flows']} flows, {outcome['completed']} completed in "
          f"{outcome['seconds']:.1f} s; states {outcome['states']}")  # fmt: skip
    before, after = outcome["threads"]
    print(f"threads before and after the 50 flows (pooled workers included): {before} → {after}")
    for problem in outcome["problems"]:
        print(f"  problem: {problem[:300]}")
    ratio = busy["median"] / base["median"] if base["median"] else float("inf")
    print(f"median under load / idle: {ratio:.1f}x")
    verdict = {key: "OK" if busy[key] < TARGET_MS else "NOT MET" for key in ("p95", "max")}
    print(f"under load p95 < {TARGET_MS:.0f} ms: {verdict['p95']}; "
          f"max < {TARGET_MS:.0f} ms: {verdict['max']}")  # fmt: skip
    ok = set(verdict.values()) == {"OK"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
