"""Cold start of the local cloud to "ready", beside a bare uvicorn hello-world as baseline.

Run: ``.venv/bin/python benchmarks/localcloud_startup.py`` (about half a minute). Printed, each
the median of several runs measured in this run:

* in process: ``LocalCloud(config).start()`` on a fresh state folder (seeding both sites,
  building the app, binding, serving) until the first ``GET /bielefeld/identity/v3`` answers;
  target < 1 s; baseline: a one-route FastAPI app started the same way with uvicorn;
* from the shell: ``denbi-jupyter local-cloud --port 0`` until it prints its ready line
  (includes Python start-up and imports); baseline: ``python -c`` starting the hello-world app.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings

RUNS = 5
HELLO_SCRIPT = """
import socket, sys, threading, time, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/")
def hello(): return {"hello": "world"}
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
while not server.started: time.sleep(0.001)
print("ready", flush=True)
time.sleep(3600)
"""


def wait_ok(url: str, deadline: float) -> None:
    """Poll ``url`` until it answers below 500, or fail at ``deadline``."""
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never answered")
        time.sleep(0.002)


def local_cloud_in_process() -> float:
    with tempfile.TemporaryDirectory() as state:
        started = time.perf_counter()
        cloud = LocalCloud(LocalCloudConfig(state_dir=Path(state), timings=Timings.fast()))
        cloud.start()
        try:
            wait_ok(f"{cloud.url}/bielefeld/identity/v3", time.monotonic() + 30)
            return time.perf_counter() - started
        finally:
            cloud.stop()


def hello_in_process() -> float:
    app = FastAPI()

    @app.get("/")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    started = time.perf_counter()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_ok(f"http://127.0.0.1:{sock.getsockname()[1]}/", time.monotonic() + 30)
    elapsed = time.perf_counter() - started
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    return elapsed


def until_ready_line(command: list[str], marker: str) -> float:
    """Seconds from spawning ``command`` until it prints a line containing ``marker``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if marker in line:
                return time.perf_counter() - started
        raise RuntimeError(f"{command[:3]} ended without printing {marker!r}")
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def local_cloud_cli() -> float:
    with tempfile.TemporaryDirectory() as state:
        command = [
            sys.executable, "-m", "denbi_jupyter", "local-cloud", "--port", "0", "--fast",
            "--state", state, "--clouds-yaml", f"{state}/clouds.yaml",
        ]  # fmt: skip
        return until_ready_line(command, "ready at")


def hello_cli() -> float:
    return until_ready_line([sys.executable, "-c", HELLO_SCRIPT], "ready")


def median_ms(action: Callable[[], float], runs: int = RUNS) -> float:
    action()  # warm the file cache once
    return statistics.median(action() for _ in range(runs)) * 1000


def main() -> None:
    print(f"Local cloud cold start (median of {RUNS} runs after one warm-up)")
    cloud = median_ms(local_cloud_in_process)
    hello = median_ms(hello_in_process)
    print(f"  in process, fresh state to first answer: {cloud:7.0f} ms   (target < 1000 ms)")
    print(f"  baseline: uvicorn hello-world in process: {hello:6.0f} ms")
    cli = median_ms(local_cloud_cli)
    hello_shell = median_ms(hello_cli)
    print(f"  'denbi-jupyter local-cloud' to ready line: {cli:5.0f} ms   (incl. Python imports)")
    print(f"  baseline: 'python -c' hello-world to ready: {hello_shell:4.0f} ms")


if __name__ == "__main__":
    main()
