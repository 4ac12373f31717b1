"""A team's Prefect on loopback: server, process work pool, deployments, one worker.

The module-wide fixture :func:`team_prefect` does what the README's "Run the schedules on a
team's Prefect" tells a new user to do, with the real command line: ``prefect server start``
(through :class:`~denbi_jupyter.prefect_server.PrefectServer`, on a free port), ``prefect
work-pool create denbi-process --type process``, ``prefect deploy --all`` from the project
folder with ``OS_CLOUD`` set, and ``prefect worker start --pool denbi-process`` as a
subprocess stopped by its PID at the end.

It runs its own local cloud (not the session's): the policy flow handles every opted-in VM of
the project, and other tests leave VMs with policies on the shared one, so "exactly the due
VMs" needs a project nobody else touches. The server runs without its scheduler service, so
only the runs a test triggers happen (the deployments keep their schedules).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.prefect_server import PrefectServer, prefect_command, stop_process_group
from denbi_jupyter.user_prefect import free_port

ROOT = Path(__file__).resolve().parents[2]
POOL = "denbi-process"
SITE = "bielefeld"
_CLI_TIMEOUT_S = 180


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "distributed: a Prefect server, work pool and worker on loopback (-m distributed)",
    )


@dataclass
class TeamPrefect:
    """The running pieces, and how to call the command line against them."""

    server: PrefectServer
    cloud: LocalCloud
    clouds_yaml: Path
    env: dict[str, str]
    worker_log: Path

    def prefect(self, *args: str) -> str:
        """Run ``prefect ARGS`` in the project folder; its output (fails the test on an error)."""
        done = subprocess.run(
            [str(prefect_command()), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=_CLI_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def run_deployment(self, name: str, **parameters: str) -> str:
        """``prefect deployment run NAME --param k=v ...``; the new flow run's id."""
        args = ["deployment", "run", name]
        for key, value in parameters.items():
            args += ["--param", f"{key}={value}"]
        output = self.prefect(*args)
        found = re.search(r"UUID: ([0-9a-f-]{36})", output)
        assert found, output
        return found.group(1)

    def client(self) -> CloudClient:
        """A client of the site the deployments use."""
        return open_site(SITE, config_file=self.clouds_yaml)

    def worker_output(self) -> str:
        """What the worker printed so far."""
        return self.worker_log.read_text(errors="replace")

    def admin(self, method: str, path: str, body: Any = None) -> None:
        """Call the local cloud's admin API (fault rules)."""
        import httpx

        with httpx.Client(base_url=self.cloud.url, timeout=10) as http:
            answer = http.request(method, path, json=body)
            assert answer.status_code < 300, answer.text


def _environment(server: PrefectServer, clouds_yaml: Path, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(home),
        "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
        "OS_CLOUD": SITE,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_COLORS": "false",
        "COLUMNS": "200",
    }
    env.pop("DENBI_WORK_POOL", None)
    return env


@pytest.fixture(scope="module")
def team_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamPrefect]:
    """Server, pool, deployments from prefect.yaml, and a worker; all stopped at the end."""
    base = tmp_path_factory.mktemp("team-prefect")
    cloud = LocalCloud(LocalCloudConfig(timings=Timings.fast())).start()
    with contextlib.ExitStack() as stack:
        stack.callback(cloud.stop)
        clouds_yaml = cloud.write_clouds_yaml(base / "clouds.yaml")
        server = PrefectServer(port=free_port(), home=base / "server")
        with pytest.MonkeyPatch.context() as patch:  # only the triggered runs, no schedules
            patch.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "false")
            server.start()
        stack.callback(server.stop)
        team = TeamPrefect(
            server=server,
            cloud=cloud,
            clouds_yaml=clouds_yaml,
            env=_environment(server, clouds_yaml, base / "client"),
            worker_log=base / "worker.log",
        )
        team.prefect("work-pool", "create", POOL, "--type", "process")
        team.prefect("--no-prompt", "deploy", "--all")
        with team.worker_log.open("wb") as log:
            worker = subprocess.Popen(
                [str(prefect_command()), "worker", "start", "--pool", POOL],
                env=team.env,
                cwd=base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(stop_process_group, worker.pid, process=worker)
        yield team
