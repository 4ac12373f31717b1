"""The OpenStack processes: one-time database setup, command lines, start and readiness.

The new releases ship no `*-wsgi` scripts and no standalone API servers, so the four APIs run
their `*.wsgi.*:application` modules under uwsgi; nova-conductor, nova-scheduler and
nova-compute run through our launcher (`nova_launch`); Neutron is the local cloud's, reused.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from openstack_tier.configs import TierConfig
from openstack_tier.procs import ProcessTable
from openstack_tier.settings import REGION, constraints_digest
from openstack_tier.waiting import wait_for_http

__all__ = [
    "ServiceSpec",
    "SetupStep",
    "launch",
    "run_setup",
    "service_specs",
    "setup_chains",
    "uwsgi_argv",
    "wait_ready",
    "write_configs",
]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One long-running process of the tier."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


@dataclass(frozen=True, slots=True)
class SetupStep:
    """A one-time command (a db sync, a key setup); `ok_codes` lists accepted exit codes."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    ok_codes: tuple[int, ...] = (0,)
    creates: Path | None = None  # if set, the step runs only while this path is missing


def uwsgi_argv(config: TierConfig, name: str, module: str, port: int) -> tuple[str, ...]:
    """uwsgi for one API app, one process with four threads, answering `Connection: close`.

    Keep-alive through `--http-socket` gave random `ConnectionResetError(104)` to clients.
    """
    venv = config.paths.venv
    return (
        str(venv / "bin" / "uwsgi"),
        "--http-socket",
        f"{config.host}:{port}",
        "--module",
        module,
        "--home",
        str(venv),
        "--master",
        "--die-on-term",
        "--processes",
        "1",
        "--threads",
        "4",
        "--lazy-apps",
        "--need-app",
        "--buffer-size",
        "65535",
        "--add-header",
        "Connection: close",
        "--procname-prefix-spaced",
        f"denbi-tier-{name}",
        "--disable-logging",
    )


def _base_env(config: TierConfig) -> dict[str, str]:
    return {
        "PATH": f"{config.paths.venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _conf(config: TierConfig, service: str, filename: str) -> str:
    return str(config.paths.etc / service / filename)


def service_specs(config: TierConfig) -> list[ServiceSpec]:
    """Every OpenStack process in start order (Keystone first: the others ask it at start)."""
    etc, ports, bin_ = config.paths.etc, config.ports, config.paths.venv_bin
    base = _base_env(config)
    nova_conf = _conf(config, "nova", "nova.conf")

    def api(name: str, service: str, module: str, port: int, ready_path: str = "/") -> ServiceSpec:
        """A uwsgi API app configured from ``etc/<service>``."""
        return ServiceSpec(
            name,
            uwsgi_argv(config, name, module, port),
            {**base, f"OS_{service.upper()}_CONFIG_DIR": str(etc / service)},
            config.url(port, ready_path),
        )

    return [
        api("keystone", "keystone", "keystone.wsgi.api:application", ports.keystone, "/v3"),
        api("glance", "glance", "glance.wsgi.api:application", ports.glance),
        api("placement", "placement", "placement.wsgi.api:application", ports.placement),
        ServiceSpec(
            "neutron",
            (
                sys.executable,
                "-m",
                "openstack_tier.neutron",
                "--host",
                config.host,
                "--port",
                str(ports.neutron),
                "--state-dir",
                str(config.paths.neutron_state),
            ),
            {**os.environ, "PYTHONPATH": str(config.paths.repo)},
            config.url(ports.neutron, "/"),
        ),
        api("nova-api", "nova", "nova.wsgi.osapi_compute:application", ports.nova),
        *(
            ServiceSpec(
                f"nova-{binary}",
                (
                    str(bin_ / "python"),
                    "-m",
                    "openstack_tier.nova_launch",
                    binary,
                    "--config-file",
                    nova_conf,
                ),
                {**base, "PYTHONPATH": str(config.paths.repo)},
            )
            for binary in ("conductor", "scheduler", "compute")
        ),
    ]


def setup_chains(config: TierConfig) -> dict[str, list[SetupStep]]:
    """The one-time database and key setup, as chains that may run side by side.

    The longest chain (nova) comes first, so that two workers finish soonest.
    """
    bin_, base = config.paths.venv_bin, _base_env(config)
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name

    def manage(tool: str, service: str, filename: str, *args: str) -> tuple[str, ...]:
        return (str(bin_ / tool), "--config-file", _conf(config, service, filename), *args)

    keystone_url = config.url(config.ports.keystone, "/v3")
    owner = ("--keystone-user", user, "--keystone-group", group)
    bootstrap_env = {**base, "OS_BOOTSTRAP_PASSWORD": config.secrets.admin}
    return {
        "nova": [
            SetupStep(
                "nova-api-db", manage("nova-manage", "nova", "nova.conf", "api_db", "sync"), base
            ),
            SetupStep(
                "nova-cell0",
                manage("nova-manage", "nova", "nova.conf", "cell_v2", "map_cell0"),
                base,
            ),
            SetupStep(
                "nova-cell1",
                manage(
                    "nova-manage", "nova", "nova.conf", "cell_v2", "create_cell", "--name", "cell1"
                ),
                base,
                ok_codes=(0, 2),  # 2: that cell exists already
            ),
            SetupStep("nova-db", manage("nova-manage", "nova", "nova.conf", "db", "sync"), base),
        ],
        "keystone": [
            SetupStep(
                "keystone-db",
                manage("keystone-manage", "keystone", "keystone.conf", "db_sync"),
                base,
            ),
            SetupStep(
                "keystone-fernet",
                manage("keystone-manage", "keystone", "keystone.conf", "fernet_setup", *owner),
                base,
                creates=config.paths.keystone_keys / "fernet-keys" / "0",
            ),
            SetupStep(
                "keystone-credential",
                manage("keystone-manage", "keystone", "keystone.conf", "credential_setup", *owner),
                base,
                creates=config.paths.keystone_keys / "credential-keys" / "0",
            ),
            SetupStep(
                "keystone-bootstrap",
                manage(
                    "keystone-manage",
                    "keystone",
                    "keystone.conf",
                    "bootstrap",
                    "--bootstrap-admin-url",
                    keystone_url,
                    "--bootstrap-internal-url",
                    keystone_url,
                    "--bootstrap-public-url",
                    keystone_url,
                    "--bootstrap-region-id",
                    REGION,
                ),
                bootstrap_env,
            ),
        ],
        "glance+placement": [
            SetupStep(
                "glance-db", manage("glance-manage", "glance", "glance-api.conf", "db_sync"), base
            ),
            SetupStep(
                "placement-db",
                manage("placement-manage", "placement", "placement.conf", "db", "sync"),
                base,
            ),
        ],
    }


def _marker(config: TierConfig, step: SetupStep) -> Path:
    return config.paths.markers / step.name


def _run_chain(config: TierConfig, steps: Sequence[SetupStep]) -> list[str]:
    """Runs the steps whose marker is missing or stale; returns the names it ran."""
    digest = constraints_digest(config.paths.constraints)
    ran = []
    for step in steps:
        marker = _marker(config, step)
        if step.creates is not None:
            if step.creates.exists():
                continue
        elif marker.exists() and marker.read_text() == digest:
            continue
        log = config.paths.logs / f"setup-{step.name}.log"
        start = time.monotonic()
        with log.open("ab") as out:
            code = subprocess.run(
                list(step.argv), stdout=out, stderr=subprocess.STDOUT, env=step.env
            ).returncode
        print(f"[openstack-tier] setup {step.name}: {time.monotonic() - start:.1f} s", flush=True)
        if code not in step.ok_codes:
            raise RuntimeError(f"setup step {step.name} exited {code}; see {log}")
        marker.write_text(digest)
        ran.append(step.name)
    return ran


def run_setup(
    config: TierConfig, chains: dict[str, list[SetupStep]], workers: int = 2
) -> list[str]:
    """Runs the chains, `workers` at a time (the machine has two cores)."""
    config.paths.markers.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_chain, config, steps) for steps in chains.values()]
        return [name for future in futures for name in future.result()]


def write_configs(config: TierConfig) -> None:
    """Writes every config file (mode 0600: they hold passwords) and the paste files."""
    for path, text in config.files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
    for rabbit_file in ("rabbitmq.conf", "rabbitmq-env.conf", "enabled_plugins"):
        os.chmod(config.paths.rabbit / rabbit_file, 0o644)  # read by user rabbitmq
    venv_etc = config.paths.venv / "etc"
    shutil.copyfile(
        venv_etc / "nova" / "api-paste.ini", config.paths.etc / "nova" / "api-paste.ini"
    )
    shutil.copyfile(
        venv_etc / "glance" / "glance-api-paste.ini",
        config.paths.etc / "glance" / "glance-api-paste.ini",
    )
    for sub in ("images", "staging", "tasks", "locks"):
        (config.paths.glance_data / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("state", "instances", "locks"):
        (config.paths.nova_state / sub).mkdir(parents=True, exist_ok=True)
    config.paths.keystone_keys.mkdir(parents=True, exist_ok=True)


def launch(config: TierConfig, table: ProcessTable, specs: Sequence[ServiceSpec]) -> None:
    """Starts the specs that are not running yet (does not wait)."""
    for spec in specs:
        if not table.running(spec.name):
            table.start(
                spec.name,
                spec.argv,
                log=config.paths.logs / f"{spec.name}.log",
                env=spec.env,
                cwd=config.paths.run,
            )


def wait_ready(
    config: TierConfig,
    specs: Sequence[ServiceSpec],
    timeout: float = 120.0,
    died: Callable[[], bool] | None = None,
) -> None:
    """Waits until each spec's URL answers (specs without a URL are not waited for)."""
    for spec in specs:
        if spec.ready_url:
            log = config.paths.logs / f"{spec.name}.log"
            wait_for_http(
                spec.ready_url, timeout=timeout, what=f"{spec.name} (log: {log})", died=died
            )
