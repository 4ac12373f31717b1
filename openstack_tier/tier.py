"""The tier's life cycle: install, start and seed everything, run a suite, stop everything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from openstack_tier import backing, fixtures, install, readiness, services
from openstack_tier.configs import TierConfig
from openstack_tier.procs import ProcessTable
from openstack_tier.settings import Ports, Secrets, TierPaths, constraints_digest

if TYPE_CHECKING:
    from openstack.connection import Connection

__all__ = ["STOP_TIMEOUTS", "Tier", "Timings"]

T = TypeVar("T")

# Seconds to wait after SIGTERM before SIGKILL (RabbitMQ's own stop can hang).
STOP_TIMEOUTS: Mapping[str, float] = {"rabbitmq": 20.0, "mariadb": 30.0}
# Stopped after the OpenStack services, which still talk to them while shutting down.
BACKING_SERVICES: tuple[str, ...] = ("rabbitmq", "epmd", "mariadb")
CONTRACT_ENV_FILE = "DENBI_CONTRACT_CLOUDS_YAML"
CONTRACT_ENV_CLOUD = "DENBI_CONTRACT_CLOUD"


def say(message: str) -> None:
    print(f"[openstack-tier] {message}", flush=True)


@dataclass
class Timings:
    """Seconds spent per phase, in the order they ran."""

    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - start

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())


class Tier:
    """One run folder's services."""

    def __init__(self, paths: TierPaths, ports: Ports | None = None) -> None:
        self.paths = paths
        self.ports = ports or Ports()
        self.table = ProcessTable(paths.pids)
        self.timings = Timings()
        self._up_started: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Tier:
        repo = Path(__file__).resolve().parent.parent
        return cls(TierPaths.from_env(repo, env))

    def config(self) -> TierConfig:
        return TierConfig(self.paths, self.ports, Secrets.load_or_create(self.paths.secrets_file))

    def _milestone(self, what: str) -> None:
        if self._up_started is not None:
            say(f"+{time.monotonic() - self._up_started:5.1f} s {what}")

    # --- install -----------------------------------------------------------------------

    def install(self) -> None:
        with self.timings.phase("install"):
            log = self.paths.logs / "install.log"
            installed = install.ensure_apt_packages(log)
            if installed:
                say(f"installed Debian packages: {' '.join(installed)}")
            if not install.venv_ready(self.paths):
                say(f"creating the tier's virtualenv in {self.paths.venv} (a minute or two)")
            if install.ensure_venv(self.paths, log):
                say("virtualenv ready")

    # --- up ----------------------------------------------------------------------------

    def up(self) -> Path:
        """Starts everything not yet running, seeds it, writes clouds.yaml; returns its path."""
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        self.install()
        config = self.config()
        with self.timings.phase("ready"):
            self._up_started = time.monotonic()
            services.write_configs(config)
            if backing.start_mysql(config, self.table):
                shutil.rmtree(self.paths.markers, ignore_errors=True)
            backing.start_rabbitmq(config, self.table)
            backing.wait_mysql(config)
            backing.create_databases(config)
            with ThreadPoolExecutor(max_workers=2) as pool:
                chains = services.setup_chains(config)
                pending = {
                    name: pool.submit(services.run_setup, config, {name: steps}, 1)
                    for name, steps in chains.items()
                }
                self._start_in_order(config, pending)
            self._once(config, "user-fixtures", fixtures.ensure_user_fixtures)
            clouds = fixtures.write_clouds_yaml(config)
        return clouds

    def _once(
        self, config: TierConfig, name: str, action: Callable[[Connection, TierConfig], None]
    ) -> None:
        """Runs an idempotent API step unless this database already had it (a marker)."""
        marker = self.paths.markers / name
        stamp = constraints_digest(self.paths.constraints)
        if marker.exists() and marker.read_text() == stamp:
            return
        with fixtures.admin_connection(config) as conn:
            action(conn, config)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(stamp)

    def _start_in_order(self, config: TierConfig, pending: Mapping[str, Future[list[str]]]) -> None:
        """Starts each service once its database is ready; nova-compute last.

        nova-compute reports to Placement at start and then only every 60 s: it starts once
        Keystone, the catalog and Placement are there, so its first report succeeds.
        """
        specs = {spec.name: spec for spec in services.service_specs(config)}

        def only(*names: str) -> list[services.ServiceSpec]:
            return [specs[name] for name in names]

        pending["keystone"].result()
        services.launch(config, self.table, only("keystone", "neutron"))
        pending["glance+placement"].result()
        services.launch(config, self.table, only("glance", "placement"))
        pending["nova"].result()
        self._milestone("databases ready")
        services.launch(config, self.table, only("nova-api"))
        # The Nova services log in to Keystone at start: the service users must exist.
        self._wait_ready(config, only("keystone"))
        self._once(config, "catalog", fixtures.ensure_catalog)
        backing.wait_rabbitmq(config)
        launched = readiness.db_now(config)
        services.launch(config, self.table, only("nova-conductor", "nova-scheduler"))
        self._wait_ready(config, only("placement"))
        self._milestone("keystone, catalog and placement ready")
        # nova-compute's first call goes to the conductor; a message sent before the
        # conductor listens is lost and costs a 10+ s RPC timeout.
        readiness.wait_service(config, "nova-conductor", launched, self._died("nova-conductor"))
        since = readiness.db_now(config)
        services.launch(config, self.table, only("nova-compute"))
        self._milestone("conductor ready, nova-compute launched")
        self._wait_ready(config, list(specs.values()))
        readiness.wait_compute(config, since, self._died("nova-compute"))
        readiness.wait_service(config, "nova-scheduler", launched, self._died("nova-scheduler"))
        self._milestone("compute host reporting and mapped")

    def _died(self, name: str) -> Callable[[], bool]:
        """A check that the named daemon has exited (to stop waiting for it at once)."""
        return lambda: not self.table.running(name)

    def _wait_ready(self, config: TierConfig, specs: Sequence[services.ServiceSpec]) -> None:
        for spec in specs:
            services.wait_ready(config, [spec], died=self._died(spec.name))

    # --- down and status ---------------------------------------------------------------

    def down(self, phase: str = "stop") -> list[str]:
        with self.timings.phase(phase):
            return self.table.stop_all(last=BACKING_SERVICES, timeouts=STOP_TIMEOUTS)

    def status(self) -> list[tuple[str, int, bool]]:
        return [(record.name, record.pid, record.alive()) for record in self.table.records()]

    def rss(self) -> tuple[int, int]:
        """(process count, summed RSS in KiB) over every recorded daemon tree."""
        pids = {pid for record in self.table.records() for pid in record.tree()}
        return len(pids), self.table.rss_kib()

    # --- tests -------------------------------------------------------------------------

    def run_suite(self, clouds_yaml: Path, extra: Sequence[str] = ()) -> int:
        """Runs the contract suite (or our smoke scenario if there is none) against the tier."""
        env = {
            **os.environ,
            CONTRACT_ENV_FILE: str(clouds_yaml),
            CONTRACT_ENV_CLOUD: "openstack-real",
        }
        contract = self.paths.repo / "tests" / "contract"
        if contract.is_dir():
            argv = [sys.executable, "-m", "pytest", "tests/contract", "-p", "no:cacheprovider"]
        else:
            say("tests/contract is missing: running the smoke scenario instead")
            argv = [sys.executable, "-m", "openstack_tier.smoke"]
        with self.timings.phase("suite"):
            suite = subprocess.Popen([*argv, *extra], cwd=self.paths.repo, env=env)
            try:
                return suite.wait()
            except BaseException:  # a signal: end the suite before the services go away
                suite.terminate()
                suite.wait(timeout=30)
                raise


def with_stop(tier: Tier, body: Callable[[], T]) -> T:
    """Runs `body`, then always stops every process of the tier, even on errors or signals."""
    try:
        return body()
    finally:
        count, kib = tier.rss()
        if count:
            say(f"services: {count} processes, {kib / 1024 / 1024:.2f} GiB RSS in all")
        stopped = tier.down()
        say(f"stopped {len(stopped)} services: {' '.join(stopped) or '-'}")
        slow = sorted(tier.table.stop_seconds.items(), key=lambda item: -item[1])[:3]
        if slow:
            say("slowest stops: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in slow))
